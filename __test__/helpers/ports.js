// Finds a TCP port on 127.0.0.1 that is free right now.
//
// The port is picked outside the range the OS draws ephemeral ports from:
// a port the OS picked (listen on port 0) can be handed out again at once as
// the local port of an outgoing connection, and then the listener that was
// meant to take it fails with EADDRINUSE. Outside that range only another
// listener can take it, and ports handed out by this process are not handed
// out twice.
"use strict";

const fs = require("fs");
const net = require("net");

const LOWEST = 10000;
const TRIES = 64;
const given = new Set();

// [low, high] of the ephemeral range; Linux's default where it cannot be read.
function ephemeralRange() {
  try {
    const text = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8");
    const [low, high] = text.trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low && high <= 65535) return [low, high];
  } catch (err) {
    // not Linux, or not readable
  }
  return [32768, 60999];
}

// Ports to choose from: below the ephemeral range if there is room, else above it.
function candidates() {
  const [low, high] = ephemeralRange();
  if (low - LOWEST >= 1000) return [LOWEST, low - 1];
  if (65535 - high >= 1000) return [high + 1, 65535];
  return null;
}

// Listens on `port` (0: one the OS picks) and closes again; resolves with
// the port, or null if it could not be listened on.
function tryListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(null));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const bound = server.address().port;
      server.close(() => resolve(bound));
    });
  });
}

async function freePort() {
  const range = candidates();
  if (range) {
    const [from, to] = range;
    for (let i = 0; i < TRIES; i++) {
      const port = from + Math.floor(Math.random() * (to - from + 1));
      if (given.has(port)) continue;
      if ((await tryListen(port)) !== null) {
        given.add(port);
        return port;
      }
    }
  }
  // Nothing free outside the OS's own range (or no such range): a port the OS picks.
  const port = await tryListen(0);
  if (port === null) throw new Error("no TCP port could be listened on");
  given.add(port);
  return port;
}

module.exports = { freePort };
