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

// Listens on a free port; `frames` collects each received frame as a string.
// With `paused`, nothing is read until `resume()`: the sender's writes back
// up into the socket buffers.
function recordingServer({ paused = false } = {}) {
  return new Promise((resolve) => {
    const frames = [];
    const sockets = [];
    const server = net.createServer((sock) => {
      sockets.push(sock);
      if (paused) sock.pause();
      let pending = Buffer.alloc(0);
      sock.on("data", (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        let at;
        while ((at = pending.indexOf(DELIM)) !== -1) {
          frames.push(pending.subarray(0, at).toString("utf8"));
          pending = pending.subarray(at + 1);
        }
      });
      sock.on("error", () => {});
    });
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: server.address().port,
        frames,
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

module.exports = { frame, rawClient, recordingServer, until, DELIM };
