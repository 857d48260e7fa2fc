"use strict";
// The driver of a bench trial: a kernel in its own process that runs one
// scenario against the responder and reports what it measured. run.js drives
// it over the fork channel: start, connect, run, exit.

const { Readable } = require("stream");
const common = require("./common");

const CAST_BATCH = 500; // casts issued per turn of the event loop
const DONE_TIMEOUT = 60000; // how long the responder may wait for missing casts

let kernel = null;
let lib = null;
let peer = null;

function elapsedSec(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// The q-quantile of sorted values (nearest rank).
function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function pingOnce() {
  return new Promise((resolve, reject) => {
    kernel.ping(peer, (err, reply) => {
      if (err) reject(err);
      else if (reply !== "pong") reject(new Error("unexpected ping reply " + JSON.stringify(reply)));
      else resolve();
    });
  });
}

function call(event, data) {
  return new Promise((resolve, reject) => {
    kernel.callSingleton(peer, event, data, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

function checkEcho(reply) {
  if (!reply || reply.b !== common.SMALL.b || reply.c.length !== 3) {
    throw new Error("unexpected echo reply " + JSON.stringify(reply));
  }
}

// `n` echo calls, `inflight` at a time (a new one as each reply arrives).
function callWindow(n, inflight) {
  return new Promise((resolve, reject) => {
    let issued = 0;
    let done = 0;
    let failed = false;
    const issue = () => {
      issued += 1;
      kernel.callSingleton(peer, "echo", common.SMALL, (err, reply) => {
        if (failed) return;
        try {
          if (err) throw err;
          checkEcho(reply);
        } catch (e) {
          failed = true;
          reject(e);
          return;
        }
        done += 1;
        if (done === n) resolve();
        else if (issued < n) issue();
      });
    };
    for (let i = 0; i < Math.min(inflight, n); i++) issue();
  });
}

// One turn's casts, in a function of its own: with the loop inside the async
// castRound, V8 compiled castRound with the kernel's cast inlined into it
// (19 ms on a compiler thread, measured with --trace-opt) in the middle of
// the measured burst of 20,000, and that CPU was counted against the kernel.
function castBatch(count) {
  for (let i = 0; i < count; i++) kernel.cast(peer, "cast", common.SMALL);
}

// Casts `n` small objects, then waits until the responder has counted them.
// Seconds, and this (sending) process's CPU time over the same span.
async function castRound(n) {
  await call("reset", { expected: n });
  const cpu0 = process.cpuUsage();
  const thread0 = common.jsThreadCpuNs();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += CAST_BATCH) {
    castBatch(Math.min(CAST_BATCH, n - i));
    await new Promise(setImmediate);
  }
  const reply = await call("done?", { timeout: DONE_TIMEOUT });
  const sec = elapsedSec(t0);
  const cpu = process.cpuUsage(cpu0);
  const thread = common.jsThreadCpuNs();
  if (!reply || reply.count !== n) {
    throw new Error("the responder counted " + (reply && reply.count) + " of " + n + " casts");
  }
  return {
    sec,
    cpuUs: cpu.user + cpu.system,
    jsThreadCpuUs: thread === null || thread0 === null ? null : (thread - thread0) / 1000,
  };
}

// A Buffer of `total` bytes as a stream of `chunk`-byte Buffers.
function byteStream(total, chunk) {
  const block = Buffer.alloc(chunk);
  for (let i = 0; i < chunk; i++) block[i] = (i * 151 + 17) & 255;
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, total - sent);
      sent += n;
      this.push(n === chunk ? block : block.subarray(0, n));
    },
  });
}

function callStream(bytes, chunk) {
  return new Promise((resolve, reject) => {
    kernel.call(peer, "size", byteStream(bytes, chunk), (err, reply) => {
      if (err) reject(err);
      else if (reply !== bytes) reject(new Error("the responder got " + reply + " of " + bytes + " bytes"));
      else resolve();
    });
  });
}

const scenarios = {
  // Sequential pings; the median (and mean) of the per-ping round trips.
  async ping(p) {
    for (let i = 0; i < p.warm; i++) await pingOnce();
    const times = new Float64Array(p.n);
    for (let i = 0; i < p.n; i++) {
      const t0 = process.hrtime.bigint();
      await pingOnce();
      times[i] = Number(process.hrtime.bigint() - t0) / 1000;
    }
    times.sort();
    return {
      medianUs: p.n % 2 ? times[p.n >> 1] : (times[p.n / 2 - 1] + times[p.n / 2]) / 2,
      meanUs: times.reduce((a, b) => a + b, 0) / p.n,
      minUs: times[0],
      p10Us: quantile(times, 0.1),
      p90Us: quantile(times, 0.9),
      p99Us: quantile(times, 0.99),
    };
  },

  // Sequential echo calls of the small object.
  async callSeq(p) {
    for (let i = 0; i < p.warm; i++) checkEcho(await call("echo", common.SMALL));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < p.n; i++) checkEcho(await call("echo", common.SMALL));
    return { opsPerSec: p.n / elapsedSec(t0) };
  },

  // Echo calls of the small object, `inflight` outstanding at any time.
  async callPar(p) {
    await callWindow(p.warm, p.inflight);
    const t0 = process.hrtime.bigint();
    await callWindow(p.n, p.inflight);
    return { opsPerSec: p.n / elapsedSec(t0) };
  },

  // One-way casts until the responder has counted all of them.
  async cast(p) {
    await castRound(p.warm);
    const r = await castRound(p.n);
    return {
      msgsPerSec: p.n / r.sec,
      cpuUsPerMsg: r.cpuUs / p.n,
      jsThreadCpuUsPerMsg: r.jsThreadCpuUs === null ? null : r.jsThreadCpuUs / p.n,
    };
  },

  // A Buffer sent as a stream of chunks; the responder replies with its length.
  async stream(p) {
    await callStream(p.warmBytes, p.chunk);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < p.calls; i++) await callStream(p.bytes, p.chunk);
    return { mibPerSec: (p.calls * p.bytes) / (1024 * 1024) / elapsedSec(t0) };
  },
};

common.serve({
  async start(args) {
    if (kernel) throw new Error("already started");
    lib = common.loadImpl(args.impl);
    kernel = await common.startKernel(lib, args.id, args.port, args.cookie);
    kernel.on("_skip", (err) => {
      throw new Error("the driver dropped a message: " + (err && err.message));
    });
    return { pid: process.pid };
  },

  async connect(args) {
    peer = await common.connectTo(lib, kernel, args.node);
    return true;
  },

  async run(args) {
    const fn = scenarios[args.scenario];
    if (!fn) throw new Error("unknown scenario: " + args.scenario);
    if (!peer) throw new Error("not connected");
    const result = await common.withTimeout(fn(args.params), args.timeout, "scenario " + args.scenario);
    return Object.assign(result, common.processStats());
  },
}, () => {
  if (kernel) kernel.stop();
});
