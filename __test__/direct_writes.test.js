// Small sends on an idle plain TCP link are written from the JS thread; what
// the socket does not take at once is finished by the network thread, and
// everything sent meanwhile queues behind it. Here the receiver stops reading
// until both socket buffers are full, so direct writes are cut short mid-frame:
// every frame must still arrive whole, signed, once, and in order.
"use strict";

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { describe, it } = require("node:test");

const { createKernel, Node } = require("..");
const { freePort } = require("./helpers/ports");
const { recordingServer, until } = require("./helpers/raw");

const COOKIE = "lane-secret";
const PAYLOAD = "x".repeat(4 * 1024);

// The message in a frame, after checking its HMAC as a JS kernel would.
function verified(text) {
  const frame = JSON.parse(text);
  assert.equal(frame.type, "message");
  const { checkSum, ...rest } = frame.data;
  const expected = crypto.createHmac("sha256", COOKIE).update(JSON.stringify(rest)).digest("hex");
  assert.equal(checkSum, expected, "checksum of frame " + text.slice(0, 80));
  return rest;
}

const tick = () => new Promise(setImmediate);

// A kernel listening with the test cookie.
async function receiver(id) {
  const k = createKernel(id, "127.0.0.1", await freePort());
  const ready = new Promise((r) => k.once("_ready", r));
  k.start({ cookie: COOKIE });
  await ready;
  return k;
}

// Runs a child process whose kernel `id` connects to `target` (a kernel of
// this process) and, 50 ms later, runs `lastTurn` (code that may use `k` and
// `target`), which ends with process.exit(0). Resolves once it has exited.
async function exitingChild(id, target, lastTurn) {
  const script = `
    const { createKernel, Node } = require(${JSON.stringify(path.resolve(__dirname, ".."))});
    const k = createKernel(${JSON.stringify(id)}, "127.0.0.1", ${await freePort()});
    k.start({ cookie: ${JSON.stringify(COOKIE)} });
    const target = new Node(${JSON.stringify(target.id())}, "127.0.0.1", ${target.port()});
    k.connect(target, () => setTimeout(() => { ${lastTurn} }, 50));
  `;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise((r) => child.once("exit", r));
  assert.equal(code, 0, err);
}

describe("direct writes from the JS thread", () => {
  it("hand a half-written frame to the network thread without tearing or reordering", async () => {
    const server = await recordingServer({ paused: true });
    const k = createKernel("lane", "127.0.0.1", await freePort());
    const ready = new Promise((r) => k.once("_ready", r));
    k.start({ cookie: COOKIE });
    await ready;
    const target = new Node("stalled", "127.0.0.1", server.port);
    await new Promise((r) => k.connect(target, r));
    await until(server.connected, 5000, "the stalled server to accept");
    const peer = k.connection(target)._peer;
    try {
      // 3 sends of 4 KiB per turn of the event loop: each turn is one direct
      // write while the link is idle. Go on until the socket buffers are
      // full and a direct write has been cut short, then 200 turns more
      // (which queue behind it); 256 MiB at most.
      let sent = 0;
      let after = 200;
      for (let turn = 0; turn < 20000 && after > 0; turn++) {
        for (let j = 0; j < 3; j++) k.cast(target, "seq", { i: sent++, pad: PAYLOAD });
        await tick();
        if (peer.laneStats()[1] > 0) after -= 1;
      }
      const [directBefore, handoffs] = peer.laneStats();
      assert.ok(directBefore > 0, "small sends were written directly");
      assert.ok(handoffs > 0, "a direct write was cut short and handed over");

      server.resume();
      await until(() => server.frames.length >= sent, 20000, "every frame");
      // The lane reopens once the backlog is written: later sends go direct.
      for (let j = 0; j < 3; j++) {
        k.cast(target, "seq", { i: sent++, pad: "" });
        await tick();
      }
      await until(() => server.frames.length >= sent, 5000, "the last frames");
      const [directAfter] = peer.laneStats();
      assert.ok(directAfter > directBefore, "direct writes resumed after the backlog");
      // A large turn is left to the network thread: the JS thread does not
      // hash it.
      k.cast(target, "seq", { i: sent++, pad: "y".repeat(64 * 1024) });
      await tick();
      await until(() => server.frames.length >= sent, 5000, "the large frame");
      assert.equal(peer.laneStats()[0], directAfter, "a large turn is not written from the JS thread");

      assert.equal(server.frames.length, sent);
      server.frames.forEach((text, i) => {
        const m = verified(text);
        assert.equal(m.id, "seq");
        assert.equal(m.data.i, i, "frame " + i + " in order");
      });
    } finally {
      k.disconnect(target, true);
      k.stop();
      server.close();
    }
  });

  it("still go out when the process exits in the turn that sent them", async () => {
    const k = await receiver("exit-receiver");
    const got = [];
    k.on("last-words", (data) => got.push(data));
    try {
      await exitingChild("exiting", k,
        'for (let i = 0; i < 3; i++) k.cast(target, "last-words", { i }); process.exit(0);');
      await until(() => got.length === 3, 5000, "the casts of the exiting process");
      assert.deepEqual(got.map((d) => d.i), [0, 1, 2]);
    } finally {
      k.stop();
    }
  });

  it("still go out when a process exits after handing a burst and a Buffer to the network thread", async () => {
    const k = await receiver("drain-receiver");
    const N = 3000;
    const BYTES = 2 * 1024 * 1024;
    try {
      for (let round = 0; round < 3; round++) {
        const got = [];
        let buffer = null;
        k.removeAllListeners("burst");
        k.removeAllListeners("blob");
        k.on("burst", (data) => got.push(data.i));
        k.on("blob", (data) => (buffer = data));
        // queue().size() hands the turn's casts to the network thread at once,
        // and a Buffer always goes there: neither is written when exit() runs.
        await exitingChild("draining-" + round, k, `
          for (let i = 0; i < ${N}; i++) k.cast(target, "burst", { i, pad: "x".repeat(200) });
          k.connection(target).queue().size();
          k.cast(target, "blob", Buffer.alloc(${BYTES}, 7));
          process.exit(0);`);
        await until(() => got.length === N && buffer !== null, 10000,
          "round " + round + ": the burst and the Buffer of the exiting process (" + got.length + " casts)");
        assert.deepEqual(got, Array.from({ length: N }, (_, i) => i), "round " + round + ": in order, none twice");
        assert.ok(Buffer.isBuffer(buffer) && buffer.length === BYTES && buffer.every((b) => b === 7));
      }
    } finally {
      k.stop();
    }
  });
});
