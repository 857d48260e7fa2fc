"use strict";
// What the bench's two child processes (driver.js and responder.js) share:
// loading an implementation, starting a kernel on loopback, the request
// channel to the orchestrator (run.js), and the process metrics they report.

const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const HOST = "127.0.0.1";
const START_TIMEOUT = 10000;
const CONNECT_TIMEOUT = 10000;
// node-ipc reconnects every `retry` ms; both ends are up before anyone connects.
const RETRY = 100;

// The small object of scenarios 2, 3 and 4.
const SMALL = Object.freeze({ a: 1, b: "hello", c: Object.freeze([1, 2, 3]) });

// "js" is the original JS kernel (the seed, on node-ipc), "native" this package.
function loadImpl(name) {
  if (name === "js") return require(path.join(ROOT, "__test__", "helpers", "seed")).loadSeed();
  if (name === "native") return require(ROOT);
  throw new Error("unknown implementation: " + name);
}

function withTimeout(promise, ms, what) {
  let timer = null;
  const limit = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(what + " timed out after " + ms + " ms")), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// Starts a kernel listening on HOST:port; resolves once it is ready.
function startKernel(lib, id, port, cookie) {
  const kernel = lib.createKernel(id, HOST, port, { retry: RETRY });
  const ready = new Promise((resolve) => kernel.once("_ready", resolve));
  kernel.start(cookie ? { cookie, retry: RETRY } : { retry: RETRY });
  return withTimeout(ready, START_TIMEOUT, "kernel start").then(() => kernel);
}

function connectTo(lib, kernel, node) {
  const target = new lib.Node(node.id, node.host, node.port);
  const done = new Promise((resolve) => kernel.connect(target, resolve));
  return withTimeout(done, CONNECT_TIMEOUT, "connect to " + node.id).then(() => target);
}

// On-CPU time of the JS (main) thread in ns, from the scheduler's per-thread
// accounting; null where the kernel does not offer it (non-Linux).
function jsThreadCpuNs() {
  try {
    const text = fs.readFileSync("/proc/self/task/" + process.pid + "/schedstat", "utf8");
    const ns = Number(text.split(" ")[0]);
    return Number.isFinite(ns) ? ns : null;
  } catch (err) {
    return null;
  }
}

// Peak resident set since the process started (bytes), and context switches
// so far (what waking threads and blocking in syscalls costs shows up here).
function processStats() {
  const u = process.resourceUsage();
  return {
    maxRss: u.maxRSS * 1024,
    voluntaryCtxSwitches: u.voluntaryContextSwitches,
    involuntaryCtxSwitches: u.involuntaryContextSwitches,
  };
}

// Serves {rid, cmd, args} requests from the orchestrator with `commands`;
// `exit` is built in. The process leaves when the orchestrator goes away.
function serve(commands, onExit) {
  const reply = (msg, done) => {
    if (process.connected) process.send(msg, done);
    else if (done) done();
  };
  process.on("message", async (msg) => {
    if (!msg || msg.rid === undefined) return;
    if (msg.cmd === "exit") {
      try {
        if (onExit) onExit();
      } finally {
        reply({ rid: msg.rid, ok: true, result: null }, () => process.exit(0));
      }
      return;
    }
    try {
      const fn = commands[msg.cmd];
      if (!fn) throw new Error("unknown command: " + msg.cmd);
      const result = await fn(msg.args || {});
      reply({ rid: msg.rid, ok: true, result: result === undefined ? null : result });
    } catch (err) {
      reply({ rid: msg.rid, ok: false, error: String((err && err.stack) || err) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.on("uncaughtException", (err) => {
    reply({ event: "fatal", error: String((err && err.stack) || err) }, () => process.exit(1));
  });
}

// The counting window of a scale-bench node (scale_node.js,
// scale_floor_node.js): `count()` and this process's CPU time read when
// the wall clock reaches `from` and `to` (ms). The timers of a busy event
// loop fire late, so the window is the time between the two readings as
// they happened, not the span asked for: a node's rate is its count over
// its own window.
function countWindow(from, to, count) {
  const marks = { start: null, end: null };
  const mark = () => {
    const r = process.resourceUsage();
    return { n: count(), cpuUs: r.userCPUTime + r.systemCPUTime, t: process.hrtime.bigint(), faults: r.minorPageFault,
      switches: r.voluntaryContextSwitches + r.involuntaryContextSwitches };
  };
  setTimeout(() => {
    marks.start = mark();
  }, Math.max(0, from - Date.now()));
  setTimeout(() => {
    marks.end = mark();
  }, Math.max(0, to - Date.now()));
  return {
    // {received, cpuUs, sec, faults, switches} over the window (page
    // faults, context switches); throws if it has not closed.
    result() {
      const { start, end } = marks;
      if (start === null || end === null) throw new Error("stopped before the window closed");
      return { received: end.n - start.n, cpuUs: end.cpuUs - start.cpuUs, sec: Number(end.t - start.t) / 1e9,
        faults: end.faults - start.faults, switches: end.switches - start.switches };
    },
  };
}

// The `load` and `stop` commands of a scale-bench node: under load,
// `turn(perTurn)` sends one turn's casts, once per turn of the event loop,
// until `stop`, which answers with what `count()` grew by over the window
// (countWindow). `halt()` stops the turns when the node exits.
function loadCommands(turn, count) {
  let loading = false;
  let window = null;
  return {
    load(args) {
      loading = true;
      window = countWindow(args.from, args.to, count);
      (async () => {
        while (loading) {
          turn(args.perTurn);
          await new Promise(setImmediate);
        }
      })();
      return true;
    },
    stop() {
      loading = false;
      if (window === null) throw new Error("stop before load");
      return window.result();
    },
    halt() {
      loading = false;
    },
  };
}

module.exports = {
  HOST,
  loadCommands,
  SMALL,
  loadImpl,
  withTimeout,
  startKernel,
  connectTo,
  jsThreadCpuNs,
  processStats,
  serve,
};
