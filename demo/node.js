"use strict";
// One member of the demo cluster, in its own process (forked by demo/run.js).
//
// The parent drives it over the fork IPC channel: it sends {rid, cmd, args}
// and gets back {rid, ok, result} or {rid, ok: false, error}. Each command
// below runs one kind of operation against the other members, using only the
// package's public API, and reports what happened and how long it took as
// measured here, in the calling process.

const crypto = require("crypto");
const { Readable } = require("stream");
const { performance } = require("perf_hooks");

const { createKernel, Node } = require("..");

const HOST = "127.0.0.1";
const TIMEOUT = 5000; // ms: per ping, call or connect; nothing here should take that long

let kernel = null;
let stopped = false;
let skipped = 0; // inbound messages dropped by the kernel (bad checksum, bad frame...)
const castCounts = new Map(); // sender id -> casts counted on arrival
const digests = new Map(); // reply tag -> running {hash, length} of an inbound stream

// ---- helpers ----

// Turns a node-style call into a promise.
function promisify(fn) {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

function toNode(n) {
  return Node.from(n);
}

function median(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Runs `once(i)` `count` times in a row and times each run.
async function timed(count, once) {
  const times = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await once(i);
    times.push(performance.now() - t0);
  }
  return { count, median: median(times), total: performance.now() - start };
}

// A Readable over `buf`, `chunk` bytes at a time.
function chunked(buf, chunk) {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= buf.length) return this.push(null);
      this.push(buf.subarray(offset, offset + chunk));
      offset += chunk;
    },
  });
}

function sha256(buf) {
  return crypto.createHash("sha256").update(buf).digest("hex");
}

// ---- what this node answers ----

function installHandlers() {
  kernel.on("_skip", () => {
    skipped += 1;
  });

  // cast: count each arrival by sender.
  kernel.on("demo:cast", (data, stream, from) => {
    const id = from.node.id();
    castCounts.set(id, (castCounts.get(id) || 0) + 1);
  });

  // callSingleton: how many casts from the caller have arrived. It travels on
  // the same link as the casts, after them, so all of them are counted by now.
  kernel.on("demo:cast-count", (data, stream, from) => {
    kernel.reply(from, castCounts.get(from.node.id()) || 0);
  });

  // callSingleton: a small object round trip.
  kernel.on("demo:echo", (data, stream, from) => {
    kernel.reply(from, { i: data.i, word: data.word, sum: data.list.reduce((a, b) => a + b, 0), by: kernel.id() });
  });

  // call with a stream: hash the chunks as they come, answer length and sha256.
  kernel.on("demo:digest", (data, stream, from) => {
    let state = digests.get(from.tag);
    if (!state) {
      state = { hash: crypto.createHash("sha256"), length: 0 };
      digests.set(from.tag, state);
    }
    if (Buffer.isBuffer(data)) {
      state.hash.update(data);
      state.length += data.length;
    }
    if (!stream.done) return;
    digests.delete(from.tag);
    if (stream.error) kernel.reply(from, { error: stream.error.message });
    else kernel.reply(from, { length: state.length, sha256: state.hash.digest("hex") });
  });

  // multicall: say who answered.
  kernel.on("demo:whoami", (data, stream, from) => {
    if (stream.done) kernel.reply(from, { by: kernel.id(), i: data.i });
  });
}

// ---- commands from the parent ----

const commands = {
  // Starts the kernel with the cluster cookie; resolves once it listens.
  start({ id, port, cookie }) {
    kernel = createKernel(id, HOST, port, { retry: 100 });
    installHandlers();
    return new Promise((resolve, reject) => {
      kernel.once("error", reject); // the listen failed (e.g. port taken)
      kernel.once("_ready", () => resolve({ id, port }));
      kernel.start({ cookie });
    });
  },

  // Opens outbound links to `nodes`; replies travel on them, so every node
  // connects to every other one.
  async connect({ nodes }) {
    const t0 = performance.now();
    await Promise.all(nodes.map(toNode).map((node) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("connect to " + node.id() + " timed out")), TIMEOUT);
      kernel.connect(node, () => {
        clearTimeout(timer);
        resolve();
      });
    })));
    return { count: nodes.length, total: performance.now() - t0 };
  },

  // `count` pings in a row; each must answer "pong".
  async ping({ to, count }) {
    const node = toNode(to);
    return timed(count, async () => {
      const res = await promisify((cb) => kernel.ping(node, cb, TIMEOUT));
      if (res !== "pong") throw new Error("ping answered " + JSON.stringify(res));
    });
  },

  // `count` casts, then asks the receiver how many it counted.
  async cast({ to, count }) {
    const node = toNode(to);
    const before = await promisify((cb) => kernel.callSingleton(node, "demo:cast-count", null, cb, TIMEOUT));
    const t0 = performance.now();
    for (let i = 0; i < count; i++) kernel.cast(node, "demo:cast", { i, note: "hello from " + kernel.id() });
    const after = await promisify((cb) => kernel.callSingleton(node, "demo:cast-count", null, cb, TIMEOUT));
    const total = performance.now() - t0;
    const counted = after - before;
    if (counted !== count) throw new Error("sent " + count + " casts, " + counted + " counted on arrival");
    return { count: counted, total };
  },

  // `count` small-object round trips; each answer is checked.
  async callSingleton({ to, count }) {
    const node = toNode(to);
    return timed(count, async (i) => {
      const res = await promisify((cb) =>
        kernel.callSingleton(node, "demo:echo", { i, word: "hello", list: [1, 2, 3, i] }, cb, TIMEOUT));
      if (!res || res.i !== i || res.word !== "hello" || res.sum !== 6 + i || res.by !== node.id()) {
        throw new Error("unexpected answer " + JSON.stringify(res));
      }
    });
  },

  // Streams `bytes` random bytes in `chunk`-byte chunks; the receiver must
  // answer with the same length and sha256.
  async stream({ to, bytes, chunk }) {
    const node = toNode(to);
    const payload = crypto.randomBytes(bytes);
    const expected = sha256(payload);
    const t0 = performance.now();
    const res = await promisify((cb) => kernel.call(node, "demo:digest", chunked(payload, chunk), cb, TIMEOUT * 2));
    const total = performance.now() - t0;
    if (!res || res.length !== bytes || res.sha256 !== expected) {
      throw new Error("unexpected answer " + JSON.stringify(res));
    }
    return { count: bytes, total, chunks: Math.ceil(bytes / chunk), sha256: expected };
  },

  // `count` multicalls to `to` (this node among them): the answers must come
  // back in the order of `to`, one from each node.
  async multicall({ to, count }) {
    const nodes = to.map(toNode);
    return timed(count, async (i) => {
      const res = await promisify((cb) => kernel.multicall(nodes, "demo:whoami", { i }, cb, TIMEOUT));
      const who = res.map((r) => r && r.by);
      if (who.join() !== nodes.map((n) => n.id()).join() || !res.every((r) => r.i === i)) {
        throw new Error("unexpected answers " + JSON.stringify(res));
      }
    });
  },

  // Closes every outbound link once what is queued on it is sent, and waits
  // until each one reports that it is down. (The parent stops the servers
  // only after that: a link whose far end vanishes first would start
  // reconnecting instead of closing.)
  async disconnect() {
    const conns = [...kernel.sinks().values()];
    await Promise.all(conns.map((conn) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("link to " + conn.node().id() + " did not close")), TIMEOUT);
      conn.once("disconnect", () => {
        clearTimeout(timer);
        resolve();
      });
      kernel.disconnect(conn.node());
    })));
    return { count: conns.length, skipped };
  },

  // Stops listening. With no link and no server left, the process exits by
  // itself once the parent lets go of the IPC channel.
  stop() {
    stopped = true;
    kernel.stop();
    return { skipped };
  },
};

// Errors cross the IPC channel as plain data.
function describeError(err) {
  if (err && typeof err === "object") return { message: String(err.message), type: err.type };
  return { message: String(err) };
}

process.on("message", async (msg) => {
  if (!msg || msg.rid === undefined) return;
  const fn = commands[msg.cmd];
  try {
    if (!fn) throw new Error("unknown command " + msg.cmd);
    const result = await fn(msg.args || {});
    process.send({ rid: msg.rid, ok: true, result });
  } catch (err) {
    process.send({ rid: msg.rid, ok: false, error: describeError(err) });
  }
});

// When the parent lets go of the channel (after `stop`, or because it died),
// drop whatever is left so that nothing keeps this process alive.
process.on("disconnect", () => {
  if (!kernel) return;
  for (const conn of [...kernel.sinks().values()]) kernel.disconnect(conn.node(), true);
  if (!stopped) commands.stop();
});
