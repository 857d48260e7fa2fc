"use strict";
// The responder of a bench trial: a kernel in its own process that answers the
// driver. Events it handles:
//   echo   (callSingleton) replies with the data it got;
//   reset  (callSingleton) {expected}: zeroes the cast counter and snapshots
//          CPU time and event-loop utilization;
//   cast   (cast) counts; the expected-th one closes the receive measurement;
//   done?  (callSingleton) replies {count} once `expected` casts were counted
//          (or, after `timeout` ms, with whatever was counted);
//   size   (call, streamed) replies with the number of payload bytes received.
// run.js drives it over the fork channel: start, connect, stats, exit.

const { performance } = require("perf_hooks");
const common = require("./common");

let kernel = null;
let lib = null;
let skips = 0;

// The receive measurement of scenario 4.
const recv = {
  expected: 0,
  count: 0,
  mark: null,
  result: null,
  waiter: null,
  timer: null,
};

function snapshot() {
  return {
    t: process.hrtime.bigint(),
    cpu: process.cpuUsage(),
    thread: common.jsThreadCpuNs(),
    elu: performance.eventLoopUtilization(),
  };
}

function measureSince(mark, count) {
  const cpu = process.cpuUsage(mark.cpu);
  const thread = common.jsThreadCpuNs();
  return {
    count,
    ms: Number(process.hrtime.bigint() - mark.t) / 1e6,
    cpuUs: cpu.user + cpu.system,
    jsThreadCpuUs: thread === null || mark.thread === null ? null : (thread - mark.thread) / 1000,
    elu: performance.eventLoopUtilization(mark.elu).utilization,
  };
}

function answerWaiter() {
  if (!recv.waiter) return;
  clearTimeout(recv.timer);
  const from = recv.waiter;
  recv.waiter = null;
  recv.timer = null;
  kernel.reply(from, { count: recv.count });
}

function install() {
  kernel.on("_skip", () => {
    skips += 1;
  });

  kernel.on("echo", (data, stream, from) => kernel.reply(from, data));

  kernel.on("reset", (data, stream, from) => {
    clearTimeout(recv.timer);
    recv.waiter = null;
    recv.timer = null;
    recv.expected = data.expected;
    recv.count = 0;
    recv.result = null;
    recv.mark = snapshot();
    kernel.reply(from, true);
  });

  kernel.on("cast", () => {
    recv.count += 1;
    if (recv.count === recv.expected) {
      recv.result = measureSince(recv.mark, recv.count);
      answerWaiter();
    }
  });

  kernel.on("done?", (data, stream, from) => {
    if (recv.count >= recv.expected) {
      kernel.reply(from, { count: recv.count });
      return;
    }
    clearTimeout(recv.timer);
    recv.waiter = from;
    recv.timer = setTimeout(answerWaiter, data.timeout);
  });

  const sizes = new Map(); // stream id -> bytes so far
  kernel.on("size", (data, stream, from) => {
    const sid = stream.stream || "";
    const n = (sizes.get(sid) || 0) + (data ? data.length : 0);
    if (!stream.done) {
      sizes.set(sid, n);
      return;
    }
    sizes.delete(sid);
    kernel.reply(from, stream.error ? -1 : n);
  });
}

common.serve({
  async start(args) {
    if (kernel) throw new Error("already started");
    lib = common.loadImpl(args.impl);
    kernel = await common.startKernel(lib, args.id, args.port, args.cookie);
    install();
    return { pid: process.pid };
  },

  async connect(args) {
    await common.connectTo(lib, kernel, args.node);
    return true;
  },

  stats() {
    return Object.assign({ recv: recv.result, skips }, common.processStats());
  },
}, () => {
  if (kernel) kernel.stop();
});
