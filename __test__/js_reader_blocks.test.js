// What a JS (node-ipc) reader gets from a native sender that outruns it:
// node-ipc 8.10.3 parses only when a socket read ends on a frame delimiter,
// so every read must. The reader here reads as Node does (up to 64 KiB per
// read) and is slowed down until reads back up to full 64 KiB pieces; the
// sender casts in turns, as an app does. Every read must end on a delimiter,
// and every frame must be one of the casts, padding aside, in order.
"use strict";

const assert = require("node:assert/strict");
const net = require("node:net");
const { it } = require("node:test");
const { createKernel, Node } = require("..");
const { freePort } = require("./helpers/ports");
const { until } = require("./helpers/raw");

const DELIM = 0x0c;
const CASTS = 30000;
const PER_TURN = 500;

// A reader that spends `busyMs` on each read, recording how each read ends.
function slowReader(busyMs) {
  return new Promise((resolve) => {
    const reads = [];
    const frames = [];
    const sockets = [];
    let pending = Buffer.alloc(0);
    const server = net.createServer((sock) => {
      sockets.push(sock);
      sock.on("data", (chunk) => {
        reads.push({ length: chunk.length, last: chunk[chunk.length - 1] });
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        let at;
        while ((at = pending.indexOf(DELIM)) !== -1) {
          frames.push(pending.subarray(0, at).toString("utf8"));
          pending = pending.subarray(at + 1);
        }
        const until = Date.now() + busyMs;
        while (Date.now() < until);
      });
      sock.on("error", () => {});
    });
    server.listen(0, "127.0.0.1", () => resolve({
      port: server.address().port, reads, frames,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    }));
  });
}

it("every read of a lagging JS reader ends on a frame delimiter", { timeout: 120000 }, async () => {
  const reader = await slowReader(2);
  const k = createKernel("blocks-sender", "127.0.0.1", await freePort());
  const ready = new Promise((r) => k.once("_ready", r));
  k.start({ cookie: "blocks" });
  await ready;
  const target = new Node("slow-js", "127.0.0.1", reader.port);
  try {
    await new Promise((r) => k.connect(target, r));
    for (let i = 0; i < CASTS;) {
      const end = Math.min(CASTS, i + PER_TURN);
      for (; i < end; i++) k.cast(target, "seq", { i, b: "hello", c: [1, 2, 3] });
      await new Promise(setImmediate);
    }
    // Keep-alive pings come in between (the reader never answers them).
    const isPing = (text) => text.startsWith('{"type":"ping"');
    await until(() => reader.frames.filter((t) => !isPing(t)).length >= CASTS, 90000, "every cast to arrive");
    const full = reader.reads.filter((r) => r.length === 65536).length;
    assert.ok(full >= 10, "the reader lagged (full 64 KiB reads: " + full + " of " + reader.reads.length + ")");
    const off = reader.reads.filter((r) => r.last !== DELIM);
    assert.equal(off.length, 0, off.length + " of " + reader.reads.length + " reads ended inside a frame; " +
      "first sizes: " + off.slice(0, 5).map((r) => r.length).join(", "));
    const casts = reader.frames.filter((t) => !isPing(t)).map((text) => JSON.parse(text));
    casts.forEach((frame, n) => {
      assert.equal(frame.type, "message");
      assert.equal(frame.data.data.i, n, "frame " + n + " out of order");
    });
    assert.equal(casts.length, CASTS);
  } finally {
    k.disconnect(target, true);
    k.stop();
    reader.close();
  }
});
