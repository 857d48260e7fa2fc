// Peer commands for mixed Rust/JS clusters (__test__/rust_cluster.test.js): the Rust example
// node's handlers (sum, count, counted) served by a JS kernel, so the Rust node's --probe can
// check it, and clusterluck's real GenServer (loaded from clusterluck's own lib directory) to
// serve and call GenServers across the cluster.
"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");
const { createRequire } = require("module");
const { encodeValue } = require("./handlers");

const ROOT = path.resolve(__dirname, "..", "..");

// clusterluck itself: $CLUSTERLUCK_DIR, else ../shared/clusterluck beside the project.
function clusterluckDir() {
  const env = process.env.CLUSTERLUCK_DIR;
  return env ? path.resolve(env) : path.resolve(ROOT, "..", "shared", "clusterluck");
}

function genServerPath() {
  return path.join(clusterluckDir(), "lib", "gen_server.js");
}

function genServerAvailable() {
  return fs.existsSync(genServerPath());
}

// Loads a file of clusterluck's lib as it is, with its relative requires read from the same
// directory and its package requires (lodash, shortid, debug) from this project's dev
// dependencies, since clusterluck's own node_modules are not installed.
function loadClusterluck(file) {
  const projectRequire = createRequire(path.join(ROOT, "package.json"));
  const cache = new Map();
  function load(filename) {
    const cached = cache.get(filename);
    if (cached) return cached.exports;
    const mod = { exports: {} };
    cache.set(filename, mod);
    const dir = path.dirname(filename);
    const localRequire = (name) => {
      if (!name.startsWith(".")) return projectRequire(name);
      const target = path.resolve(dir, name);
      return load(target.endsWith(".js") ? target : target + ".js");
    };
    const fn = vm.compileFunction(fs.readFileSync(filename, "utf8"),
      ["exports", "require", "module", "__filename", "__dirname"], { filename });
    fn.call(mod.exports, mod.exports, localRequire, mod, filename, dir);
    return mod.exports;
  }
  return load(file);
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data === null || data === undefined) return Buffer.alloc(0);
  if (typeof data === "string") return Buffer.from(data);
  return Buffer.from(JSON.stringify(data));
}

function argData(args) {
  return args.buffer === true ? Buffer.from(args.data, "base64") : args.data;
}

function createMixedCommands(ctx) {
  let counted = 0;
  let serving = false;
  let GenServer = null;
  const servers = new Map();
  let client = null;

  function genServerClass() {
    if (!GenServer) GenServer = loadClusterluck(genServerPath());
    return GenServer;
  }

  return {
    // The Rust node's kernel handlers on this JS kernel: `sum` of a Buffer or a stream of
    // Buffers replies {len, sum} (byte sum mod 2^32), `count` casts are counted, `counted`
    // replies {counted: n}. `echo` is the peer's built-in one.
    serveRust() {
      const { kernel } = ctx();
      if (serving) return { serving: true };
      serving = true;
      const partial = new Map();
      kernel.on("sum", (data, stream, from) => {
        stream = stream || { done: true };
        const key = stream.stream || null;
        const acc = partial.get(key) || { len: 0, sum: 0 };
        const buf = toBuffer(data);
        for (let i = 0; i < buf.length; i++) acc.sum = (acc.sum + buf[i]) >>> 0;
        acc.len += buf.length;
        if (!stream.done) {
          partial.set(key, acc);
          return;
        }
        partial.delete(key);
        if (from && typeof from.tag === "string") kernel.reply(from, { len: acc.len, sum: acc.sum });
      });
      kernel.on("count", () => {
        counted += 1;
      });
      kernel.on("counted", (data, stream, from) => {
        if (from && typeof from.tag === "string") kernel.reply(from, { counted });
      });
      return { serving: true };
    },

    counted() {
      return { counted };
    },

    // Starts a clusterluck GenServer named `name` whose `echo` event replies with its data.
    genServerStart(args) {
      const { kernel } = ctx();
      const Server = genServerClass();
      const server = new Server(kernel);
      server.on("echo", (data, from) => server.reply(from, data));
      server.start(args.name);
      servers.set(args.name, server);
      return { started: server.id() };
    },

    // GenServer#call({node, id}, event, data, cb, timeout) from a client GenServer here.
    genServerCall(args) {
      const { kernel, lib } = ctx();
      const Server = genServerClass();
      if (!client) client = new Server(kernel);
      const to = { node: lib.Node.from(args.node), id: args.id };
      return new Promise((resolve, reject) => {
        client.call(to, args.event, argData(args), (err, reply) => {
          if (err) reject(err instanceof Error ? err : Object.assign(new Error(err.message), err));
          else resolve(encodeValue(reply));
        }, typeof args.timeout === "number" ? args.timeout : 10000);
      });
    },

    // A GenServer call streamed as the kernel carries it: {event, data} as JSON text, sent as
    // a stream of `chunk`-byte Buffers with the call's message id set to the server's name.
    genServerStreamCall(args) {
      const { kernel, lib } = ctx();
      const { Readable } = require("stream");
      const body = Buffer.from(JSON.stringify({ event: args.event, data: argData(args) }));
      const chunk = args.chunk || 16;
      let offset = 0;
      const source = new Readable({
        read() {
          if (offset >= body.length) return this.push(null);
          this.push(body.subarray(offset, offset + chunk));
          offset += chunk;
        }
      });
      return new Promise((resolve, reject) => {
        kernel.call(lib.Node.from(args.node), args.id, source, (err, reply) => {
          if (err) reject(err instanceof Error ? err : Object.assign(new Error(err.message), err));
          else resolve(encodeValue(reply));
        }, 10000);
      });
    }
  };
}

module.exports = { createMixedCommands, genServerAvailable, clusterluckDir, loadClusterluck };
