// Failure detection (net_ticktime): a node that holds a link to us and goes
// silent (stopped with SIGSTOP) is declared down after the tick time, with
// `nodedown (node, "tick timeout")`, and the calls waiting on it fail at once
// with NODE_DOWN; a node that cannot answer (no link to us) is never
// declared down for its silence; a busy link carries no keep-alive pings;
// a lost link says "closed", a disconnect "stopped". Against a native peer
// and, when the seed is present, a JS one (it answers our pings as is).
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");

const { createKernel, Node } = require("..");
const { spawnPeer, waitFor } = require("./helpers/cluster");
const { freePort } = require("./helpers/ports");
const seed = require("./helpers/seed");
const { waitStopped } = require("./helpers/stop");

const COOKIE = "tick-secret";
const TICK = 1200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function localKernel(opts = {}) {
  const k = createKernel("local-" + process.pid, "127.0.0.1", await freePort());
  const ready = new Promise((r) => k.once("_ready", r));
  k.start({ cookie: COOKIE, retry: 100, netTickTime: TICK, ...opts });
  await ready;
  const downs = [];
  const ups = [];
  k.on("nodedown", (node, reason) => downs.push({ id: node.id(), reason }));
  k.on("nodeup", (node) => ups.push(node.id()));
  k.downs = downs;
  k.downsOf = (id) => downs.filter((d) => d.id === id);
  k.ups = ups;
  return k;
}

function connect(k, node) {
  return new Promise((r) => k.connect(node, r));
}


// A callback's outcome as a promise (never rejects).
function outcome(fn) {
  return new Promise((resolve) => fn((err, value) => resolve({ err, value })));
}

const impls = ["native"];
if (seed.seedAvailable()) impls.push("seed");
else console.log(seed.skipReason() + " (the JS peer is left out)");

for (const impl of impls) {
  describe("failure detection against a " + impl + " peer", () => {
    let k;
    before(async () => {
      k = await localKernel();
    });
    after(() => k.stop());

    it("a stopped node is down after the tick time; its calls fail with NODE_DOWN", { timeout: 60000 }, async () => {
      const peer = await spawnPeer(impl, { cookie: COOKIE, netTickTime: TICK, retry: 100 });
      try {
        const node = new Node(peer.node.id, peer.node.host, peer.node.port);
        await connect(k, node);
        await peer.request("connect", { id: k.id(), host: "127.0.0.1", port: k.port() });
        await waitFor(() => k.ups.includes(node.id()), { what: "nodeup" });
        // Idle for several tick times: the keep-alive pings are answered.
        await sleep(3 * TICK);
        assert.deepEqual(k.downsOf(node.id()), [], "an idle node that answers pings stays up");
        const stats = k.stats().peers[node.id()];
        assert.ok(stats.sent.messages > 0, "keep-alive pings were sent on the idle link");
        assert.equal(typeof stats.rtt, "number", "and their round trip measured");
        assert.ok(stats.inbound >= 1 && stats.received.messages > 0, JSON.stringify(stats));
        assert.equal(stats.state, "up");

        // Calls in flight, then the node hangs.
        const single = outcome((cb) => k.callSingleton(node, "count", { i: 1 }, cb));
        const streamed = outcome((cb) => k.call(node, "count", { i: 2 }, cb));
        await sleep(100);
        process.kill(peer.child.pid, "SIGSTOP");
        // SIGSTOP takes effect as each of the peer's threads is next
        // scheduled: a ping sent before then could still be answered.
        await waitStopped(peer.child.pid);
        const pinged = outcome((cb) => k.ping(node, cb));
        const [a, b, c] = await Promise.all([single, streamed, pinged]);
        for (const { err } of [a, b, c]) {
          assert.ok(err, "the call failed");
          assert.equal(err.type, "NODE_DOWN");
        }
        assert.deepEqual(k.downsOf(node.id()), [{ id: node.id(), reason: "tick timeout" }]);
        assert.equal(k.stats().peers[node.id()].state === "up", false);

        // Resumed, it is reached again, through the same connection.
        process.kill(peer.child.pid, "SIGCONT");
        const reply = await outcome((cb) => k.callSingleton(node, "echo", { back: 1 }, cb, 20000));
        assert.ifError(reply.err);
        assert.deepEqual(reply.value, { back: 1 });
        // The reply may be the node's first sign of life: it is read on the
        // node's link to us, and `nodeup` is announced by our link to it, a
        // moment later on a loaded machine.
        await waitFor(() => k.ups.filter((id) => id === node.id()).length >= 2, { what: "nodeup again" });
      } finally {
        process.kill(peer.child.pid, "SIGCONT");
        k.disconnect(new Node(peer.node.id, peer.node.host, peer.node.port), true);
        await peer.kill();
      }
    });

    it("a silent node with no link to us is not declared down", { timeout: 60000 }, async () => {
      const peer = await spawnPeer(impl, { cookie: COOKIE, netTickTime: TICK });
      try {
        const node = new Node(peer.node.id, peer.node.host, peer.node.port);
        await connect(k, node);
        process.kill(peer.child.pid, "SIGSTOP");
        await sleep(4 * TICK);
        assert.deepEqual(k.downsOf(node.id()), [], "it cannot answer a ping: silence says nothing");
      } finally {
        process.kill(peer.child.pid, "SIGCONT");
        k.disconnect(new Node(peer.node.id, peer.node.host, peer.node.port), true);
        await peer.kill();
      }
    });

    it("links busy both ways carry no pings; a lost link is \"closed\"", { timeout: 60000 }, async () => {
      const peer = await spawnPeer(impl, { cookie: COOKIE, netTickTime: TICK });
      try {
        const node = new Node(peer.node.id, peer.node.host, peer.node.port);
        await connect(k, node);
        await peer.request("connect", { id: k.id(), host: "127.0.0.1", port: k.port() });
        // Traffic both ways, more often than a quarter of the tick time:
        // neither side pings (nor, so, answers a ping).
        const me = { id: k.id(), host: "127.0.0.1", port: k.port() };
        // Up once it answers a ping (the first goes out as the link comes up).
        await waitFor(() => k.ups.includes(node.id()), { what: "nodeup" });
        const pingsBefore = k.stats().peers[node.id()].pings;
        const sentBefore = k.stats().peers[node.id()].sent.messages;
        const deadline = Date.now() + 3 * TICK;
        let casts = 0;
        while (Date.now() < deadline) {
          k.cast(node, "busy", casts);
          casts += 1;
          await peer.request("cast", { node: me, event: "busy", data: 1 });
          await sleep(TICK / 10);
        }
        await sleep(20);
        const stats = k.stats().peers[node.id()];
        assert.equal(stats.pings, pingsBefore, "no keep-alive ping on the busy link");
        assert.equal(stats.sent.messages - sentBefore, casts, "only the casts went out: no ping, no pong");
        assert.ok(stats.received.messages >= 20, JSON.stringify(stats.received));
        assert.deepEqual(k.downsOf(node.id()), []);

        const waiting = outcome((cb) => k.callSingleton(node, "count", { i: 3 }, cb));
        await sleep(100);
        await peer.kill();
        const { err } = await waiting;
        assert.equal(err && err.type, "NODE_DOWN");
        assert.deepEqual(k.downsOf(node.id()), [{ id: node.id(), reason: "closed" }]);
      } finally {
        k.disconnect(new Node(peer.node.id, peer.node.host, peer.node.port), true);
        await peer.kill();
      }
    });
  });
}

describe("nodedown on disconnect", () => {
  it("says \"stopped\" and fails what waited on the node", { timeout: 30000 }, async () => {
    const k = await localKernel();
    const peer = await spawnPeer("native", { cookie: COOKIE });
    try {
      const node = new Node(peer.node.id, peer.node.host, peer.node.port);
      await connect(k, node);
      await peer.request("connect", { id: k.id(), host: "127.0.0.1", port: k.port() });
      await waitFor(() => k.ups.includes(node.id()), { what: "nodeup" });
      const waiting = outcome((cb) => k.callSingleton(node, "count", { i: 4 }, cb));
      await sleep(100);
      k.disconnect(node);
      const { err } = await waiting;
      assert.equal(err && err.type, "NODE_DOWN");
      assert.deepEqual(k.downsOf(node.id()), [{ id: node.id(), reason: "stopped" }]);
    } finally {
      // The peer's process is unref'd: wait for its exit while k keeps the loop alive.
      await peer.kill();
      k.stop();
    }
  });

  it("a node that never showed it runs is not announced down, but what waited on it fails", { timeout: 30000 }, async () => {
    const k = await localKernel();
    const peer = await spawnPeer("native", { cookie: COOKIE });
    try {
      // A link one way only: the node cannot answer a ping, so it is not up.
      const node = new Node(peer.node.id, peer.node.host, peer.node.port);
      await connect(k, node);
      const waiting = outcome((cb) => k.callSingleton(node, "count", { i: 5 }, cb));
      await sleep(3 * TICK);
      assert.deepEqual(k.ups, [], "no nodeup without a sign of life");
      assert.equal(k.stats().peers[node.id()].state, "connecting");
      k.disconnect(node);
      const { err } = await waiting;
      assert.equal(err && err.type, "NODE_DOWN");
      assert.deepEqual(k.downs, [], "no nodedown without a nodeup");
    } finally {
      await peer.kill();
      k.stop();
    }
  });

  it("netTickTime 0 turns detection off", { timeout: 30000 }, async () => {
    const k = await localKernel({ netTickTime: 0 });
    const peer = await spawnPeer("native", { cookie: COOKIE, netTickTime: 0 });
    try {
      const node = new Node(peer.node.id, peer.node.host, peer.node.port);
      await connect(k, node);
      await peer.request("connect", { id: k.id(), host: "127.0.0.1", port: k.port() });
      await sleep(200);
      process.kill(peer.child.pid, "SIGSTOP");
      await sleep(3 * TICK);
      assert.deepEqual(k.downsOf(node.id()), []);
      assert.equal(k.stats().peers[node.id()].sent.messages, 0, "no pings");
    } finally {
      process.kill(peer.child.pid, "SIGCONT");
      await peer.kill();
      k.disconnect(new Node(peer.node.id, peer.node.host, peer.node.port), true);
      k.stop();
    }
  });
});
