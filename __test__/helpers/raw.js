// Raw TCP helpers for tests that speak the wire protocol by hand: a client
// that writes frames, a server that records the frames a kernel sends it.
"use strict";

const net = require("net");

const DELIM = 0x0c;

function frame(type, data) {
  return Buffer.concat([Buffer.from(JSON.stringify({ type, data })), Buffer.from([DELIM])]);
}

function rawClient(port, host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host, () => resolve(sock));
    sock.once("error", reject);
  });
}

// The kernel's own keep-alive pings (see failure detection in the README):
// pings whose tag carries this prefix. They go out whenever a link has been
// quiet or not yet shown up, so how many a test sees depends on its timing.
const TICK_TAG = '"__clusterluck_native_tick:';

function isTick(text) {
  return text.startsWith('{"type":"ping"') && text.includes(TICK_TAG);
}

// Listens on a free port; `frames` collects each received frame as a string,
// and `ticks` the kernel's keep-alive pings, kept apart so that a test counts
// exactly the frames its app sent.
// With `paused`, nothing is read until `resume()`: the sender's writes back
// up into the socket buffers.
function recordingServer({ paused = false } = {}) {
  return new Promise((resolve) => {
    const frames = [];
    const ticks = [];
    const sockets = [];
    const server = net.createServer((sock) => {
      sockets.push(sock);
      if (paused) sock.pause();
      let pending = Buffer.alloc(0);
      sock.on("data", (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        let at;
        while ((at = pending.indexOf(DELIM)) !== -1) {
          const text = pending.subarray(0, at).toString("utf8");
          (isTick(text) ? ticks : frames).push(text);
          pending = pending.subarray(at + 1);
        }
      });
      sock.on("error", () => {});
    });
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: server.address().port,
        frames,
        ticks,
        connected: () => sockets.length > 0,
        resume: () => sockets.forEach((s) => s.resume()),
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    });
  });
}

async function until(fn, timeout = 10000, what = "condition") {
  const deadline = Date.now() + timeout;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Polls `fn` (which may be async and resolves to {ok, value}) every `every`
// ms until it is ok, resolving to its value; on timeout the error shows the
// last value seen, which is what a failing test most needs to say.
async function untilOk(fn, ms, what, every = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    const last = await fn();
    if (last.ok) return last.value;
    if (Date.now() > deadline) {
      const seen = typeof last.value === "string" ? last.value : JSON.stringify(last.value);
      throw new Error("timed out waiting for " + what + " (last: " + seen + ")");
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

module.exports = { frame, rawClient, recordingServer, until, untilOk, DELIM };
