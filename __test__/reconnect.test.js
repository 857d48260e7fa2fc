// Link lifecycle of the native kernel, each node in its own process, cookie on:
// reconnect after a receiver is killed mid-burst (native and mixed with the JS
// kernel), queue overflow, connect before the node is up, graceful and forced
// disconnect during a stream, kernel stop/start, the sources map, and the
// command-server reply path to a node-ipc client that is not a cluster member.
"use strict";

const assert = require("node:assert/strict");
const net = require("net");
const { describe, it, after } = require("node:test");
const { spawnPeer } = require("./helpers/cluster");
const { freePort } = require("./helpers/ports");
const { digestOf } = require("./helpers/bytes");
const seed = require("./helpers/seed");
const { NetKernel } = require("..");

const COOKIE = "reconnect-secret";
const RETRY = 100;
const HOST = "127.0.0.1";
const MAX_LEN_DEFAULT = 1024;
const T = { timeout: 15000 };

const spawned = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function spawn(impl, opts) {
  const peer = await spawnPeer(impl, Object.assign({ cookie: COOKIE, retry: RETRY }, opts));
  spawned.push(peer);
  return peer;
}

async function closeAll(peers) {
  await Promise.all(peers.filter(Boolean).map((p) => p.close()));
}

// Polls fn() until ok(value) or the timeout; returns the last value either way, so
// the assertion that follows shows what was there instead of a bare timeout.
async function settle(fn, ok, timeout = 5000, interval = 25) {
  const deadline = Date.now() + timeout;
  let value = await fn();
  while (!ok(value) && Date.now() < deadline) {
    await sleep(interval);
    value = await fn();
  }
  return value;
}

const isConn = (node, type, afterSeq = 0) => (e) =>
  e.event === "conn" && e.node === node && e.type === type && e.seq > afterSeq;

function range(from, to) {
  const out = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

// ["a", "a", "b"] -> "a x2, b"
function compress(list) {
  const out = [];
  for (const item of list) {
    const last = out[out.length - 1];
    if (last && last[0] === item) last[1] += 1;
    else out.push([item, 1]);
  }
  return out.map(([item, n]) => (n > 1 ? item + " x" + n : item)).join(", ");
}

function increasing(list) {
  for (let k = 1; k < list.length; k++) if (!(list[k] > list[k - 1])) return false;
  return true;
}

// SIGKILLs a peer and waits (bounded) for its exit. The harness unrefs its children,
// so the timer also keeps this process's event loop alive while we wait.
async function killPeer(peer, timeout = 3000) {
  let timer = null;
  const limit = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error("peer " + peer.id + " did not exit after SIGKILL")), timeout);
  });
  try {
    return await Promise.race([peer.kill("SIGKILL"), limit]);
  } finally {
    clearTimeout(timer);
  }
}

// Fails when a raw TCP connect to port succeeds; resolves with the error code otherwise.
function refusedCode(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("connect attempt neither failed nor succeeded within 2 s"));
    }, 2000);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.destroy();
      reject(new Error("a new connection to the stopped kernel was accepted"));
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      resolve(err.code);
    });
  });
}

function report(t, info) {
  t.diagnostic("casts while down: " + info.queued + ", max queue().size(): " + info.maxQueue +
    ", casts from before the disconnect that reached the new receiver: " + info.earlier);
  t.diagnostic("sender's Connection events from the kill on: " + info.events);
}

after(async () => {
  await closeAll(spawned);
});

// (1) and (7): a receiver is SIGKILLed in the middle of a burst of casts, and a new
// receiver is started on the same port with the same id. With `maxLen`, the sender's
// Connection holds at most that many casts during the outage: the newest ones.
async function reconnectScenario(senderImpl, receiverImpl, maxLen = null) {
  const port = await freePort();
  const rid = "recv-" + senderImpl + "-" + receiverImpl + (maxLen ? "-" + maxLen : "");
  const sender = await spawn(senderImpl, { id: "send-" + senderImpl + "-" + receiverImpl });
  const r1 = await spawn(receiverImpl, { id: rid, port });
  let r2 = null;
  try {
    const rnode = r1.node;
    const opts = maxLen ? { maxLen } : undefined;
    await sender.request("connectWatch", { node: rnode, opts, wait: true });
    await sender.request("burstStart", { node: rnode, event: "count", interval: 3 });
    const before1 = await settle(() => r1.request("received", { event: "count" }), (r) => r.count >= 30);
    assert.ok(before1.count >= 30, "the first receiver got the start of the burst");

    const beforeKill = await sender.request("connState", { node: rnode });
    await killPeer(r1);
    const down = await sender.waitForEvent(isConn(rid, "disconnect", beforeKill.seq), 5000);
    await sleep(300); // down for several retry periods while the burst goes on
    const during = await sender.request("connState", { node: rnode });
    assert.equal(during.connecting, true, "connecting() while the receiver is down");
    assert.ok(during.queue > 0, "queue().size() grows while down (got " + during.queue + ")");

    r2 = await spawn(receiverImpl, { id: rid, port });
    const up = await sender.waitForEvent(isConn(rid, "connect", down.seq), 5000);
    await sleep(150); // some casts on the restored link too
    const rec = await sender.request("burstStop");
    const last = rec.sent - 1;

    const afterDown = rec.records.filter((r) => r[3] > down.seq);
    const outage = afterDown.filter((r) => r[3] < up.seq);
    assert.ok(outage.length > 0, "casts were made while the link was down");
    assert.ok(outage.every((r) => r[1] === true), "every cast between disconnect and connect saw connecting()");
    const maxQueue = Math.max(...outage.map((r) => r[2]));
    assert.ok(maxQueue > 0, "queue().size() went up while down");
    const expected = afterDown.map((r) => r[0]);
    assert.deepEqual(expected, range(expected[0], last));

    const got = await settle(() => r2.request("received", { event: "count" }), (r) => r.order.includes(last));
    assert.ok(increasing(got.order), "the new receiver got its messages in order: " + JSON.stringify(got.order));
    const tail = got.order.filter((i) => i >= expected[0]);
    if (!maxLen) {
      assert.ok(outage.length <= MAX_LEN_DEFAULT, "the outage stayed within maxLen");
      assert.deepEqual(tail, expected,
        "every message cast after the disconnect was seen arrives after reconnect, in order");
    } else {
      const postUp = afterDown.filter((r) => r[3] > up.seq).length;
      assert.ok(outage.length > maxLen, "the outage outlasted maxLen (" + outage.length + " casts)");
      assert.equal(maxQueue, maxLen, "queue().size() peaks at maxLen");
      assert.deepEqual(tail, expected.slice(expected.length - tail.length),
        "what arrives is the newest casts, in order, without gaps");
      assert.ok(tail.length >= maxLen + postUp,
        "the newest maxLen casts of the outage and every later one arrive (got " + tail.length +
        ", want at least " + (maxLen + postUp) + ")");
      assert.ok(tail.length < expected.length, "the oldest casts of the outage were dropped");
    }

    const evs = sender.events
      .filter((e) => e.event === "conn" && e.node === rid && e.seq > beforeKill.seq)
      .filter((e) => e.type === "connect" || e.type === "disconnect")
      .map((e) => e.type);
    assert.equal(evs[0], "disconnect");
    assert.equal(evs[evs.length - 1], "connect");
    assert.equal(evs.filter((t) => t === "connect").length, 1, "one reconnect: " + evs.join(","));

    const finalState = await settle(() => sender.request("connState", { node: rnode }), (s) => s.queue === 0);
    assert.equal(finalState.queue, 0, "queue().size() back to 0 after reconnect");
    assert.equal(finalState.connecting, false);
    return {
      queued: outage.length,
      maxQueue,
      earlier: got.order.filter((i) => i < expected[0]).length,
      events: compress(sender.events
        .filter((e) => e.event === "conn" && e.node === rid && e.seq > beforeKill.seq)
        .map((e) => e.type))
    };
  } finally {
    await closeAll([sender, r1, r2]);
  }
}

describe("reconnect and link lifecycle (native kernel)", { timeout: 60000 }, () => {
  it("(1) a killed receiver restarted on the same port gets every cast sent after `disconnect`, in order", T,
    async (t) => {
      const info = await reconnectScenario("native", "native");
      report(t, info);
    });

  it("(1b) the same with maxLen 20: the newest 20 casts of the outage and every later one arrive", T,
    async (t) => {
      const info = await reconnectScenario("native", "native", 20);
      report(t, info);
    });

  for (const variant of ["connect opts {maxLen: 10}", "connection(node).maxLen(10) before casting",
    "connection(node).maxLen(10) after casting"]) {
    it("(2) queue overflow drops the oldest: " + variant, T, async () => {
      const port = await freePort();
      const rid = "recv-overflow";
      const rnode = { id: rid, host: HOST, port };
      const sender = await spawn("native", { id: "send-overflow" });
      let recv = null;
      try {
        const opts = variant.startsWith("connect opts") ? { maxLen: 10 } : undefined;
        const st = await sender.request("connectWatch", { node: rnode, opts, wait: false });
        assert.equal(st.connecting, true);
        if (variant.includes("before")) {
          assert.deepEqual(await sender.request("setMaxLen", { node: rnode, maxLen: 10 }), { maxLen: 10, queue: 0 });
        }
        await sender.request("castMany", { node: rnode, event: "count", count: 25, size: 0 });
        if (variant.includes("after")) {
          const full = await settle(() => sender.request("connState", { node: rnode }), (s) => s.queue === 25);
          assert.equal(full.queue, 25, "all 25 held with the default maxLen");
          assert.equal((await sender.request("setMaxLen", { node: rnode, maxLen: 10 })).maxLen, 10);
        }
        const held = await settle(() => sender.request("connState", { node: rnode }), (s) => s.queue === 10);
        assert.equal(held.queue, 10, "queue().size() is maxLen");
        assert.equal(held.maxLen, 10);
        assert.equal(held.connecting, true);

        recv = await spawn("native", { id: rid, port });
        let got = await settle(() => recv.request("received", { event: "count" }), (r) => r.count >= 10);
        await sleep(300); // nothing more may follow
        got = await recv.request("received", { event: "count" });
        assert.deepEqual(got.order, range(15, 24), "exactly the last 10, in order");
        const done = await settle(() => sender.request("connState", { node: rnode }), (s) => s.queue === 0);
        assert.equal(done.queue, 0);
      } finally {
        await closeAll([sender, recv]);
      }
    });
  }

  it("(3) connect(node, cb) to a node that is not up yet calls back once it starts", T, async () => {
    const port = await freePort();
    const rid = "recv-late";
    const rnode = { id: rid, host: HOST, port };
    const sender = await spawn("native", { id: "send-late" });
    let recv = null;
    try {
      const st = await sender.request("connectWatch", { node: rnode, wait: false });
      assert.equal(st.cbCalls, 0);
      assert.equal(st.connecting, true);
      await sleep(4 * RETRY);
      assert.equal((await sender.request("connState", { node: rnode })).cbCalls, 0, "no callback while down");

      recv = await spawn("native", { id: rid, port });
      const up = await settle(() => sender.request("connState", { node: rnode }), (s) => s.cbCalls >= 1);
      assert.equal(up.cbCalls, 1, "called back once the node started");
      assert.equal(up.connecting, false);
      await sender.request("cast", { node: rnode, event: "count", data: { i: 7 } });
      const got = await settle(() => recv.request("received", { event: "count" }), (r) => r.count >= 1);
      assert.deepEqual(got.order, [7]);
      await sleep(300);
      assert.equal((await sender.request("connState", { node: rnode })).cbCalls, 1, "called back only once");
    } finally {
      await closeAll([sender, recv]);
    }
  });

  for (const force of [false, true]) {
    it("(4) disconnect(node" + (force ? ", true) drops the rest of an open stream" :
      ") waits for an open stream to finish"), T, async () => {
      const CHUNK = 8192;
      const TOTAL = 40 * CHUNK; // 40 chunks, one every 15 ms: ~0.6 s
      const recv = await spawn("native", { id: "recv-stream-" + force });
      const sender = await spawn("native", { id: "send-stream-" + force });
      const rnode = recv.node;
      try {
        await recv.request("tally", { event: "len" });
        await sender.request("connectWatch", { node: rnode, wait: true });
        assert.equal((await settle(() => recv.request("sources"), (s) => s.size === 1)).size, 1);
        await sender.request("streamStart", { node: rnode, event: "len", bytes: TOTAL, chunk: CHUNK, interval: 15 });
        const some = await settle(() => recv.request("tallyState", { event: "len" }), (s) => s && s.bytes >= 3 * CHUNK);
        assert.ok(some && some.bytes >= 3 * CHUNK && some.done === 0, "the stream is under way");

        const res = await sender.request("disconnect", { ...rnode, force });
        assert.deepEqual(res, { connected: false });
        const right = await sender.request("connState", { node: rnode });
        assert.equal(right.inSinks, false, "no longer in sinks()");
        const mid = await sender.request("streamState");
        assert.equal(mid.endSeq, null, "disconnect was issued while the stream was open");

        if (!force) {
          assert.equal(right.events.filter((e) => e.type === "disconnect").length, 0,
            "no disconnect while the stream is open");
          const got = await settle(() => recv.request("received", { event: "len" }), (r) => r.count >= 1, 5000);
          assert.equal(got.count, 1, "the receiver got the whole stream");
          assert.equal(got.records[0].length, TOTAL);
          assert.equal(got.records[0].sha256, digestOf(TOTAL).sha256);
          const disc = await sender.waitForEvent(isConn(rnode.id, "disconnect"), 5000);
          const end = await sender.request("streamState");
          assert.equal(end.error, null);
          assert.ok(end.endSeq !== null && disc.seq > end.endSeq, "the link closed after the stream finished");
          const srcs = await settle(() => recv.request("sources"), (s) => s.size === 0);
          assert.equal(srcs.size, 0, "the receiver saw the link close");
          const tally = await recv.request("tallyState", { event: "len" });
          assert.deepEqual([tally.bytes, tally.done, tally.errors], [TOTAL, 1, 0]);
          const fin = await sender.request("connState", { node: rnode });
          assert.equal(fin.inSinks, false);
          assert.equal(fin.active, false);
        } else {
          const srcs = await settle(() => recv.request("sources"), (s) => s.size === 0, 1000, 10);
          assert.equal(srcs.size, 0, "the link closed at once");
          const still = await sender.request("streamState");
          assert.equal(still.endSeq, null, "closed before the stream would have finished");
          const end = await settle(() => sender.request("streamState"), (s) => s.endSeq !== null, 5000);
          assert.notEqual(end.endSeq, null);
          assert.equal(end.error, "Cannot write to inactive connection.");
          await sleep(200);
          const tally = await recv.request("tallyState", { event: "len" });
          assert.ok(tally.bytes < TOTAL, "the receiver got fewer bytes (" + tally.bytes + " of " + TOTAL + ")");
          assert.equal(tally.done, 0, "no done frame");
          assert.equal((await recv.request("received", { event: "len" })).count, 0);
        }
      } finally {
        await closeAll([sender, recv]);
      }
    });
  }

  // clusterluck's Connection hears node-ipc's "disconnect" on every stop: ipc.disconnect(id)
  // destroys the socket, and the client publishes "disconnect" on close (its off("*", "*")
  // removes only handlers of the event named "*"). The JS kernel is run too, as the reference.
  for (const impl of seed.seedAvailable() ? ["native", "seed"] : ["native"]) {
    it("(4b) " + impl + ": a forced disconnect(node, true) emits `disconnect` on the Connection, as the JS kernel's does",
      T, async () => {
        const recv = await spawn("native", { id: "recv-force-ev-" + impl });
        const sender = await spawn(impl, { id: "send-force-ev-" + impl });
        const rnode = recv.node;
        try {
          const st = await sender.request("connectWatch", { node: rnode, wait: true });
          assert.deepEqual(await sender.request("disconnect", { ...rnode, force: true }), { connected: false });
          const srcs = await settle(() => recv.request("sources"), (s) => s.size === 0);
          assert.equal(srcs.size, 0, "the link closed");
          await sleep(300);
          const fin = await sender.request("connState", { node: rnode });
          const types = fin.events.filter((e) => e.seq > st.seq).map((e) => e.type);
          assert.deepEqual(types, ["disconnect"], "events after disconnect(node, true): " + JSON.stringify(types));
          assert.deepEqual([fin.active, fin.connecting, fin.inSinks], [false, false, false]);
        } finally {
          await closeAll([sender, recv]);
        }
      });
  }

  // node-ipc writes each frame to the socket as it is emitted, so what was cast before
  // ipc.disconnect(id) destroys the socket is on its way already (as long as it fits the
  // socket's buffer): a forced disconnect drops only what comes after it.
  for (const impl of seed.seedAvailable() ? ["native", "seed"] : ["native"]) {
    it("(4c) " + impl + ": casts made just before disconnect(node, true), in the same tick, are still delivered",
      T, async () => {
        const recv = await spawn("native", { id: "recv-force-casts-" + impl });
        const sender = await spawn(impl, { id: "send-force-casts-" + impl });
        const rnode = recv.node;
        try {
          await sender.request("connectWatch", { node: rnode, wait: true });
          await sender.request("castThenDisconnect", { node: rnode, event: "count", count: 50, force: true });
          let got = await settle(() => recv.request("received", { event: "count" }), (r) => r.count >= 50, 2000);
          await sleep(200);
          got = await recv.request("received", { event: "count" });
          assert.deepEqual(got.order, range(0, 49), "all 50 casts arrive, in order (got " + got.count + ")");
        } finally {
          await closeAll([sender, recv]);
        }
      });
  }

  it("(5) stop() closes the server, empties sources(), keeps sinks, emits _stop; start() works again", T,
    async () => {
      const n = await spawn("native", { id: "node-n" });
      const a = await spawn("native", { id: "node-a" });
      try {
        await a.request("connectWatch", { node: n.node, wait: true });
        await n.request("connectWatch", { node: a.node, wait: true });
        await a.request("cast", { node: n.node, event: "count", data: { i: 1 } });
        await settle(() => n.request("received", { event: "count" }), (r) => r.count >= 1);
        assert.equal((await n.request("sources")).size, 1);

        const mark = await a.request("connState", { node: n.node });
        assert.deepEqual(await n.request("stop"), { stopped: true });
        await n.waitForEvent((e) => e.event === "_stop", 2000);
        assert.equal((await n.request("sources")).size, 0, "sources() emptied");
        const down = await a.waitForEvent(isConn(n.node.id, "disconnect", mark.seq), 3000);
        await sleep(50);
        assert.equal(await refusedCode(n.node.port), "ECONNREFUSED", "new connects fail");

        // Our sinks survive: n still casts to a.
        const nside = await n.request("connState", { node: a.node });
        assert.deepEqual([nside.inSinks, nside.active, nside.connecting], [true, true, false]);
        await n.request("listen", { event: "fromN" });
        await a.request("listen", { event: "fromN" });
        await n.request("cast", { node: a.node, event: "fromN", data: { stopped: true } });
        const atA = await settle(() => a.request("received", { event: "fromN" }), (r) => r.count >= 1);
        assert.deepEqual(atA.records.map((r) => r.data), [{ stopped: true }]);

        // a's casts wait while n is down.
        await sleep(3 * RETRY);
        await a.request("cast", { node: n.node, event: "count", data: { i: 2 } });
        const waiting = await settle(() => a.request("connState", { node: n.node }), (s) => s.queue === 1);
        assert.deepEqual([waiting.connecting, waiting.queue], [true, 1]);

        assert.deepEqual(await n.request("restart"), { restarted: true });
        await a.waitForEvent(isConn(n.node.id, "connect", down.seq), 3000);
        await a.request("cast", { node: n.node, event: "count", data: { i: 3 } });
        const atN = await settle(() => n.request("received", { event: "count" }), (r) => r.count >= 3);
        assert.deepEqual(atN.order, [1, 2, 3]);
        assert.equal((await n.request("sources")).size, 1, "the reconnected peer is a source again");
      } finally {
        await closeAll([n, a]);
      }
    });

  it("(6) sources() holds inbound sockets, forgets closed ones; from.socket is stable per connection", T,
    async () => {
      const n = await spawn("native", { id: "src-n" });
      const a = await spawn("native", { id: "src-a" });
      const b = await spawn("native", { id: "src-b" });
      try {
        await n.request("socketWatch", { event: "sock" });
        await a.request("connectWatch", { node: n.node, wait: true });
        await b.request("connectWatch", { node: n.node, wait: true });
        await a.request("castMany", { node: n.node, event: "sock", count: 3, size: 10 });
        await b.request("castMany", { node: n.node, event: "sock", count: 3, size: 10 });
        const info = await settle(() => n.request("socketInfo", { event: "sock" }),
          (s) => s.bySender["src-a"] && s.bySender["src-a"].count >= 3 &&
            s.bySender["src-b"] && s.bySender["src-b"].count >= 3);
        for (const id of ["src-a", "src-b"]) {
          const g = info.bySender[id];
          assert.deepEqual([g.count, g.defined, g.same, g.inSources], [3, true, true, true],
            id + ": one socket object for every message, the one sources() holds");
        }
        assert.equal(info.distinct, true, "the two connections have different sockets");
        assert.notEqual(info.bySender["src-a"].id, info.bySender["src-b"].id);
        const srcs = await n.request("sources");
        assert.equal(srcs.size, 2);
        assert.deepEqual(srcs.ids.slice().sort(), [info.bySender["src-a"].id, info.bySender["src-b"].id].sort());

        await a.request("disconnect", { ...n.node });
        const one = await settle(() => n.request("sources"), (s) => s.size === 1);
        assert.deepEqual(one.ids, [info.bySender["src-b"].id], "a's socket forgotten once it closed");
        await killPeer(b); // an abrupt close is forgotten too
        const none = await settle(() => n.request("sources"), (s) => s.size === 0);
        assert.equal(none.size, 0, "b's socket forgotten once b died");
      } finally {
        await closeAll([n, a, b]);
      }
    });
});

describe("reconnect with the JS kernel (seed)", { timeout: 30000 }, () => {
  if (!seed.seedAvailable()) {
    const reason = seed.skipReason();
    console.log(reason);
    it("(7) native sender -> seed receiver", { skip: reason }, () => {});
    it("(7) seed sender -> native receiver", { skip: reason }, () => {});
    return;
  }
  it("(7) native sender, JS receiver killed and restarted", T, async (t) => {
    const info = await reconnectScenario("native", "seed");
    report(t, info);
  });
  it("(7) JS sender, native receiver killed and restarted", T, async (t) => {
    const info = await reconnectScenario("seed", "native");
    report(t, info);
  });
});

// (8) clusterluck's CommandServer answers its CLI on the inbound socket:
// kernel.ipc().server.emit(from.socket, "message", NetKernel._encodeMsg(cookie, msg)).
function cliRequest(port, msg, timeout = 5000) {
  const { IPC } = require("node-ipc");
  const ipc = new IPC();
  ipc.config.silent = true;
  ipc.config.retry = RETRY;
  ipc.config.maxRetries = 0;
  return new Promise((resolve, reject) => {
    const frames = [];
    const timer = setTimeout(() => finish(new Error("no reply frame within " + timeout + " ms")), timeout);
    function finish(err) {
      clearTimeout(timer);
      ipc.disconnect("x");
      if (err) reject(err);
      else resolve(frames);
    }
    ipc.connectToNet("x", HOST, port, () => {
      ipc.of.x.on("connect", () => ipc.of.x.emit("message", msg));
      ipc.of.x.on("message", (data) => {
        frames.push(data);
        // Give a second frame a moment to show up, then hand over what came.
        if (frames.length === 1) setTimeout(() => finish(null), 150);
      });
    });
  });
}

describe("command-server reply to a non-member node-ipc client", { timeout: 20000 }, () => {
  const impls = ["native"];
  if (seed.seedAvailable()) impls.push("seed");
  for (const impl of impls) {
    it("(8) " + impl + " kernel answers on from.socket with a signed frame", T, async () => {
      const k = await spawn(impl, { id: "cmd-" + impl });
      try {
        await k.request("cmdReply", { event: "cmd-event" });
        const request = {
          id: "cmd-event",
          tag: "cli-tag",
          from: { id: "cli", host: "127.0.0.1", port: 0 },
          stream: { done: true },
          data: { command: "nodes", args: [1, "two"] }
        };
        const frames = await cliRequest(k.node.port, NetKernel._encodeMsg(COOKIE, request));
        assert.equal(frames.length, 1, "one reply frame");
        const reply = frames[0];
        assert.equal(typeof reply.checkSum, "string");
        const expected = {
          id: "cli-tag",
          tag: null,
          from: { id: "cmd-" + impl, host: HOST, port: k.node.port },
          stream: { done: true },
          data: { ok: true, got: request.data, node: "cmd-" + impl }
        };
        const ours = NetKernel._decodeMsg(COOKIE, reply);
        assert.ok(!(ours instanceof Error), "checksum verifies with our _decodeMsg");
        assert.deepEqual(ours, expected);
        if (seed.seedAvailable()) {
          const seedKernel = seed.loadSeed().NetKernel;
          const theirs = seedKernel._decodeMsg(COOKIE, reply);
          assert.ok(!(theirs instanceof Error), "checksum verifies with the seed's _decodeMsg");
          assert.deepEqual(theirs, expected);
        }
        assert.equal(k.events.filter((e) => e.event === "_skip").length, 0);
      } finally {
        await closeAll([k]);
      }
    });
  }
});
