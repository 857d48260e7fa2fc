// A cluster member in its own process, driven by the parent over the fork IPC channel.
// Started as `fork(peer.js, [impl])`, impl = "seed" (the original JS kernel) or "native"
// (this package). Requests {rid, cmd, args} get {rid, ok, result | error}; the peer also
// pushes {event, ...} notifications (e.g. "_skip"). Buffers in results travel as {base64}.
"use strict";

const path = require("path");
const { pattern, patternStream, sha256 } = require("./bytes");
const { createHandlers, failingStream, encodeValue, intactPad, CHUNK } = require("./handlers");
const { createProbes } = require("./probes");
const { createMixedCommands } = require("./mixed");

const DEFAULT_TIMEOUT = 10000;
const impl = process.argv[2];

let lib = null;
let kernel = null;
let handlers = null;
let startOpts = null;

function loadImpl(name) {
  if (name === "seed") return require("./seed").loadSeed();
  if (name === "native") return require(path.resolve(__dirname, "..", ".."));
  throw new Error("unknown peer implementation: " + name);
}

function notify(note, done) {
  if (process.connected) process.send(note, done);
  else if (done) done();
}

function errorInfo(err) {
  if (err === null || typeof err !== "object") return { message: String(err) };
  const out = { message: err.message };
  for (const key of ["type", "code", "name"]) {
    if (err[key] !== undefined) out[key] = err[key];
  }
  return out;
}

function node(obj) {
  return lib.Node.from(obj);
}

function argData(args) {
  return args.buffer === true ? Buffer.from(args.data, "base64") : args.data;
}

function timeoutOf(args) {
  return typeof args.timeout === "number" ? args.timeout : DEFAULT_TIMEOUT;
}

// Runs fn(cb) and settles with the callback's outcome. Kernel errors may be plain
// objects (a flattened stream error), so they are passed on as they are.
function viaCallback(fn) {
  return new Promise((resolve, reject) => {
    fn((err, result) => (err ? reject(err) : resolve(result)));
  });
}

function describeReply(reply) {
  if (Buffer.isBuffer(reply)) return { type: "buffer", length: reply.length, sha256: sha256(reply) };
  if (reply === undefined || reply === null) return { type: "empty", length: 0, sha256: sha256(Buffer.alloc(0)) };
  return { type: "json", value: reply };
}

const commands = {
  start(args) {
    if (kernel) throw new Error("already started");
    const opts = Object.assign({}, args.opts);
    startOpts = opts;
    kernel = lib.createKernel(args.id, args.host, args.port, opts);
    handlers = createHandlers(kernel, notify);
    handlers.install();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("kernel did not become ready")), timeoutOf(args));
      kernel.once("_ready", () => {
        clearTimeout(timer);
        resolve({ id: kernel.id(), host: kernel.host(), port: kernel.port() });
      });
      kernel.start(opts);
      // The seed's node-ipc server reports listen failures only as a pubsub event.
      const server = kernel._ipc && kernel._ipc.server;
      if (server && typeof server.on === "function") {
        server.on("error", (err) => notify({ event: "serverError", message: err && err.message }));
      }
    });
  },

  connect(args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("connect timed out")), timeoutOf(args));
      kernel.connect(node(args), () => {
        clearTimeout(timer);
        resolve({ connected: true });
      });
    });
  },

  disconnect(args) {
    kernel.disconnect(node(args), args.force === true);
    return { connected: kernel.isConnected(node(args)) };
  },

  ping(args) {
    return viaCallback((cb) => kernel.ping(node(args.node), cb, timeoutOf(args)));
  },

  cast(args) {
    kernel.cast(node(args.node), args.event, argData(args));
    return { sent: 1 };
  },

  castMany(args) {
    const to = node(args.node);
    const pad = "x".repeat(args.size || 0);
    for (let i = 0; i < args.count; i++) kernel.cast(to, args.event, { i, pad });
    return { sent: args.count };
  },

  // count casts of {s: sender, i, pad} with a pad the receiver can verify.
  castIntact(args) {
    const to = node(args.node);
    for (let i = 0; i < args.count; i++) {
      kernel.cast(to, "intact", { s: args.sender, i, pad: intactPad(args.sender, i, args.size) });
    }
    return { sent: args.count };
  },

  async callSingleton(args) {
    const reply = await viaCallback((cb) =>
      kernel.callSingleton(node(args.node), args.event, argData(args), cb, timeoutOf(args)));
    return encodeValue(reply);
  },

  // Sends `bytes` pattern bytes as a stream (chunk bytes each), or `data` as one message.
  async call(args) {
    const data = args.bytes !== undefined ? patternStream(args.bytes, args.chunk || CHUNK) : argData(args);
    const reply = await viaCallback((cb) => kernel.call(node(args.node), args.event, data, cb, timeoutOf(args)));
    return describeReply(reply);
  },

  async callError(args) {
    const data = failingStream(pattern(0, 1024), Object.assign(new Error("boom"), { code: 7 }));
    const reply = await viaCallback((cb) => kernel.call(node(args.node), args.event, data, cb, timeoutOf(args)));
    return describeReply(reply);
  },

  async multicall(args) {
    const replies = await viaCallback((cb) =>
      kernel.multicall(args.nodes.map(node), args.event, argData(args), cb, timeoutOf(args)));
    return encodeValue(replies);
  },

  async multicallSingleton(args) {
    const replies = await viaCallback((cb) =>
      kernel.multicallSingleton(args.nodes.map(node), args.event, argData(args), cb, timeoutOf(args)));
    return encodeValue(replies);
  },

  received(args) {
    return handlers.received(args.event);
  },

  // Numbered casts are appended to this file as they arrive.
  record(args) {
    handlers.recordTo(args.file);
    return { recording: args.file };
  },

  // Its own stats(), for the parent.
  stats() {
    return typeof kernel.stats === "function" ? kernel.stats() : null;
  },

  listen(args) {
    handlers.listen(args.event);
    return { listening: args.event };
  },

  stop() {
    kernel.stop();
    return { stopped: true };
  },

  // kernel.start() again with the options of the first start, after a stop.
  restart(args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("kernel did not become ready again")), timeoutOf(args));
      kernel.once("_ready", () => {
        clearTimeout(timer);
        resolve({ restarted: true });
      });
      kernel.start(startOpts);
    });
  },

  exit() {
    return { exiting: true };
  }
};

Object.assign(commands, createProbes(() => ({ kernel, lib, notify })));
Object.assign(commands, createMixedCommands(() => ({ kernel, lib, notify })));

async function handle(msg) {
  const { rid, cmd } = msg;
  const args = msg.args || {};
  try {
    const fn = commands[cmd];
    if (!fn) throw new Error("unknown command: " + cmd);
    if (cmd !== "start" && cmd !== "exit" && !kernel) throw new Error("kernel not started");
    const result = await fn(args);
    const done = cmd === "exit" ? () => process.exit(0) : undefined;
    notify({ rid, ok: true, result: result === undefined ? null : result }, done);
  } catch (err) {
    notify({ rid, ok: false, error: errorInfo(err) });
  }
}

process.on("message", (msg) => {
  if (msg && msg.rid !== undefined) handle(msg);
});
// When the parent goes away (even killed), so do we.
process.on("disconnect", () => process.exit(0));
process.on("uncaughtException", (err) => {
  notify({ event: "uncaught", message: err.message, stack: err.stack }, () => process.exit(1));
});

try {
  lib = loadImpl(impl);
  notify({ event: "loaded", impl });
} catch (err) {
  notify({ event: "loadError", impl, message: err.message, stack: err.stack }, () => process.exit(2));
}
