// A sender process casting to a receiver process that may be stopped with
// SIGSTOP: the memory a sender holds toward a peer that does not read. Used
// by __test__/stalled_peer.test.js and the bench (bench/limits.js).
"use strict";

const assert = require("node:assert/strict");
const path = require("node:path");
const { spawn } = require("node:child_process");

const { freePort } = require("./ports");

const ROOT = JSON.stringify(path.resolve(__dirname, "..", ".."));

// What the sender's RSS may grow by beyond the bound (sampled after a full
// GC, so it is memory held, not V8's garbage). The same 1,000,000 casts to a
// peer that reads grow it by about 28 MiB (V8's heap, the network threads'
// buffers); held back for a stopped peer, past those, is the bound plus
// the write in hand (one turn's casts, about 3 MiB here): 52 MiB measured.
const SLACK = 48 * 1024 * 1024;

// Counts the frames it reads and checks each carries the next number.
const RECEIVER = `
  const net = require("net");
  let frames = 0, last = -1, disorder = 0, pending = "";
  const server = net.createServer((sock) => {
    sock.setEncoding("utf8");
    sock.on("data", (chunk) => {
      pending += chunk;
      let at;
      let start = 0;
      while ((at = pending.indexOf("\\f", start)) !== -1) {
        const m = /"n":(\\d+)/.exec(pending.slice(start, at));
        const n = m ? Number(m[1]) : -1;
        if (n <= last) disorder += 1;
        last = n;
        frames += 1;
        start = at + 1;
      }
      pending = pending.slice(start);
    });
    sock.on("error", () => {});
  });
  server.listen(Number(process.argv[1]), "127.0.0.1", () => process.send({ready: true}));
  process.on("message", () => process.send({frames, last, disorder}));
`;

// Casts {n, pad} (about 100 bytes of data) to the receiver in turns of
// 10,000, sampling its RSS after each turn; reports the samples, its
// events and stats() once everything was handed over.
const SENDER = `
  const { createKernel, Node } = require(${ROOT});
  const [port, rport, total, bound] = process.argv.slice(1).map(Number);
  const k = createKernel("sender", "127.0.0.1", port);
  // No keep-alive pings: the receiver counts every frame as a cast.
  k.start({ cookie: "stall", maxQueueBytes: bound, highWaterMark: bound / 4, netTickTime: 0 });
  const target = new Node("receiver", "127.0.0.1", rport);
  const events = [];
  k.connect(target, () => {
    const conn = k.connection(target);
    for (const ev of ["busy", "drain", "overflow"]) conn.on(ev, () => events.push(ev));
    process.send({connected: true});
  });
  const pad = "p".repeat(80);
  process.on("message", (msg) => {
    if (msg.stats) return process.send({stats: k.stats().peers.receiver, events});
    global.gc();
    const base = process.memoryUsage().rss;
    let peak = base, n = 0, statsNs = 0n, statsCalls = 0;
    const turn = () => {
      for (let i = 0; i < 10000 && n < total; i++, n++) k.cast(target, "ev", {n, pad});
      // What stats() costs under this load (once a turn).
      const t0 = process.hrtime.bigint();
      k.stats();
      statsNs += process.hrtime.bigint() - t0;
      statsCalls += 1;
      // What is held, not V8's garbage: collected before each sample.
      global.gc();
      peak = Math.max(peak, process.memoryUsage().rss);
      if (n < total) return setImmediate(turn);
      // Let the network thread take in the last turns, sampling meanwhile.
      let waits = 0;
      const settle = setInterval(() => {
        global.gc();
        peak = Math.max(peak, process.memoryUsage().rss);
        if (++waits === 10) {
          clearInterval(settle);
          process.send({base, peak, stats: k.stats().peers.receiver, events,
            statsUs: Number(statsNs / BigInt(statsCalls)) / 1000});
        }
      }, 50);
    };
    turn();
  });
`;

function child(script, args) {
  const proc = spawn(process.execPath, ["--expose-gc", "-e", script, ...args.map(String)],
    { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  proc.stderrText = () => err;
  return proc;
}

function next(proc, pred = () => true) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (!pred(m)) return;
      proc.off("message", onMsg);
      proc.off("exit", onExit);
      resolve(m);
    };
    const onExit = (code) => reject(new Error("child exited " + code + ": " + proc.stderrText()));
    proc.on("message", onMsg);
    proc.once("exit", onExit);
  });
}

// Asks the receiver for its counts until `ok` holds of them.
async function receiverUntil(receiver, ok, what) {
  const deadline = Date.now() + 120000;
  for (;;) {
    const reply = next(receiver, (m) => m.frames !== undefined);
    receiver.send({});
    const counts = await reply;
    if (ok(counts)) return counts;
    assert.ok(Date.now() < deadline, what + ": " + JSON.stringify(counts));
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Runs the sender against the receiver, stopped with SIGSTOP during the
// flood when `stop`, resumed after it; resolves once every cast arrived or
// was counted dropped, with the sender's report, the receiver's counts and
// the sender's final stats.
async function scenario(total, bound, { stop = true } = {}) {
  const rport = await freePort();
  const receiver = child(RECEIVER, [rport]);
  const sender = child(SENDER, [await freePort(), rport, total, bound]);
  try {
    await next(receiver, (m) => m.ready);
    await next(sender, (m) => m.connected);
    if (stop) process.kill(receiver.pid, "SIGSTOP");
    const flooded = next(sender, (m) => m.base !== undefined);
    sender.send({go: true});
    const report = await flooded;
    process.kill(receiver.pid, "SIGCONT");
    const counts = await receiverUntil(receiver, (c) => c.last === total - 1, "the last cast arrives");
    // Everything handed over is either written or counted dropped.
    let final;
    const deadline = Date.now() + 60000;
    do {
      const reply = next(sender, (m) => m.stats && m.base === undefined);
      sender.send({stats: true});
      final = await reply;
      assert.ok(Date.now() < deadline, "the sender writes everything");
    } while (final.stats.unwritten > 0);
    return {report, counts, final};
  } finally {
    receiver.kill("SIGKILL");
    sender.kill("SIGKILL");
  }
}

module.exports = { scenario, SLACK };
