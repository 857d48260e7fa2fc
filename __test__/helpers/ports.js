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

// Resolves true when `port` could be listened on (and is closed again).
function canListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

// A port the OS picks: the fallback when no range outside its own is left.
function anyPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      server.close((err) => (err ? reject(err) : resolve(port)));
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
      if (await canListen(port)) {
        given.add(port);
        return port;
      }
    }
  }
  const port = await anyPort();
  given.add(port);
  return port;
}

module.exports = { freePort };
