"use strict";
// `npm run demo`: a three-node clusterluck-native cluster on loopback.
//
// Forks demo/node.js three times (one kernel per process, cookie on, free
// ports), connects every node to every other one, then runs between them:
//   ping           every ordered pair
//   cast           every ordered pair, counted on arrival by the receiver
//   callSingleton  a small object round trip, around the ring
//   call (stream)  4 MiB in 64 KiB chunks; the reply (length, sha256) is checked
//   multicall      to all three nodes, the caller included
// It prints a table of what happened and how fast (times are measured in the
// calling process), a one-line summary, shuts every process down and exits 0,
// or 1 if any check failed.

const { fork } = require("child_process");
const crypto = require("crypto");
const net = require("net");
const path = require("path");
const { performance } = require("perf_hooks");

const NODE_SCRIPT = path.join(__dirname, "node.js");
const HOST = "127.0.0.1";
const NAMES = ["alpha", "beta", "gamma"];

const PINGS = 20; // per pair
const CASTS = 1000; // per pair
const CALLS = 200; // per ring step
const STREAM_BYTES = 4 * 1024 * 1024;
const STREAM_CHUNK = 64 * 1024;
const MULTICALLS = 50;

const REQUEST_TIMEOUT = 15000; // ms, for any one command sent to a node
const EXIT_TIMEOUT = 5000; // ms a node gets to exit on its own at shutdown
const DEADLINE = 40000; // ms for the whole demo before it gives up

const MiB = 1024 * 1024;

// ---- the member processes ----

// Ports the OS hands out right now, all distinct (held open together, then freed).
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, HOST, resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
  }
}

// One forked node: request(cmd, args) resolves with its result.
class Member {
  constructor(name, port) {
    this.name = name;
    this.port = port;
    this.node = { id: name, host: HOST, port };
    this.pending = new Map();
    this.seq = 0;
    this.child = fork(NODE_SCRIPT, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitCode = code;
        for (const { reject, timer } of this.pending.values()) {
          clearTimeout(timer);
          reject(new Error(name + " exited (" + (signal || "code " + code) + ")"));
        }
        this.pending.clear();
        resolve({ code, signal });
      });
    });
    this.child.on("message", (msg) => {
      const req = this.pending.get(msg && msg.rid);
      if (!req) return;
      this.pending.delete(msg.rid);
      clearTimeout(req.timer);
      if (msg.ok) req.resolve(msg.result);
      else req.reject(Object.assign(new Error(msg.error.message), msg.error));
    });
  }

  request(cmd, args = {}) {
    if (this.exitCode !== undefined) return Promise.reject(new Error(this.name + " has exited"));
    const rid = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(this.name + ": " + cmd + " timed out"));
      }, REQUEST_TIMEOUT);
      this.pending.set(rid, { resolve, reject, timer });
      this.child.send({ rid, cmd, args });
    });
  }

  // Lets go of the IPC channel and waits for the process to exit by itself;
  // resolves with true on a clean exit (code 0), false otherwise (then killed).
  async shutdown() {
    if (this.child.connected) this.child.disconnect();
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, EXIT_TIMEOUT, "late");
    });
    const res = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (res === "late") {
      this.kill();
      return false;
    }
    return res.code === 0;
  }

  kill() {
    if (this.exitCode === undefined) this.child.kill("SIGKILL");
  }
}

// ---- the report ----

const rows = [];

// Runs one step and records a row: what it did, whether its checks passed,
// and the numbers the member reported ({count, median?, total}). `show`
// formats the rate column and, optionally, the count.
async function step(op, route, fn, show = {}) {
  const row = { op, route, ok: false, count: "", median: "", total: "", rate: "" };
  rows.push(row);
  try {
    const res = await fn();
    row.ok = true;
    row.count = show.count ? show.count(res) : res.count;
    if (typeof res.median === "number") row.median = res.median.toFixed(3);
    if (typeof res.total === "number") row.total = res.total.toFixed(2);
    if (show.rate) row.rate = show.rate(res);
    return res;
  } catch (err) {
    row.error = err.message;
    return null;
  }
}

// Rate column formatters: operations per second, or MiB per second.
const perSecond = (unit) => ({
  rate: (res) => Math.round(res.count / (res.total / 1000)).toLocaleString("en-US") + " " + unit,
});
const mibPerSecond = {
  count: (res) => res.count / MiB + " MiB",
  rate: (res) => (res.count / MiB / (res.total / 1000)).toFixed(1) + " MiB/s",
};

function printTable() {
  const header = ["operation", "from -> to", "result", "count", "median ms", "total ms", "rate"];
  const cells = rows.map((r) => [r.op, r.route, r.ok ? "ok" : "FAIL", String(r.count), r.median, r.total, r.rate]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const numeric = [false, false, false, true, true, true, true];
  const line = (c) => c.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
  for (const r of rows) {
    if (r.error) console.log("  FAIL " + r.op + " " + r.route + ": " + r.error);
  }
}

// ---- the run ----

async function main() {
  const t0 = performance.now();
  const cookie = crypto.randomBytes(16).toString("hex");
  const ports = await freePorts(NAMES.length);
  const members = NAMES.map((name, i) => new Member(name, ports[i]));
  const watchdog = setTimeout(() => {
    console.error("demo: gave up after " + DEADLINE / 1000 + " s");
    members.forEach((m) => m.kill());
    process.exit(1);
  }, DEADLINE);
  watchdog.unref();

  console.log("clusterluck-native demo: " + NAMES.length + " nodes on " + HOST + " (ports " + ports.join(", ") +
    "), one process each, cookie on\n");

  try {
    await Promise.all(members.map((m) => m.request("start", { id: m.name, port: m.port, cookie })));
  } catch (err) {
    console.error("demo: could not start the cluster: " + err.message);
    members.forEach((m) => m.kill());
    process.exitCode = 1;
    return;
  }

  // Every node connects to both others: replies (and pongs) travel on the
  // replier's own outbound link.
  for (const m of members) {
    const others = members.filter((o) => o !== m);
    await step("connect", m.name + " -> " + others.map((o) => o.name).join(","),
      () => m.request("connect", { nodes: others.map((o) => o.node) }));
  }

  const pairs = [];
  for (const a of members) for (const b of members) if (a !== b) pairs.push([a, b]);
  const ring = members.map((m, i) => [m, members[(i + 1) % members.length]]);

  for (const [a, b] of pairs) {
    await step("ping", a.name + " -> " + b.name, () => a.request("ping", { to: b.node, count: PINGS }),
      perSecond("pings/s"));
  }
  for (const [a, b] of pairs) {
    await step("cast", a.name + " -> " + b.name, () => a.request("cast", { to: b.node, count: CASTS }),
      perSecond("msg/s"));
  }
  for (const [a, b] of ring) {
    await step("callSingleton", a.name + " -> " + b.name,
      () => a.request("callSingleton", { to: b.node, count: CALLS }), perSecond("calls/s"));
  }
  const [first, second] = members;
  await step("call (stream)", first.name + " -> " + second.name,
    () => first.request("stream", { to: second.node, bytes: STREAM_BYTES, chunk: STREAM_CHUNK }), mibPerSecond);
  await step("multicall", first.name + " -> " + NAMES.join(","),
    () => first.request("multicall", { to: members.map((m) => m.node), count: MULTICALLS }), perSecond("calls/s"));

  // Shutdown: close every link first (so no node sees a peer vanish and
  // starts reconnecting), then stop every server, then let each process exit
  // on its own.
  let skipped = 0;
  await step("shutdown", "all nodes", async () => {
    const s0 = performance.now();
    await Promise.all(members.map((m) => m.request("disconnect")));
    const stops = await Promise.all(members.map((m) => m.request("stop")));
    skipped = stops.reduce((n, s) => n + s.skipped, 0);
    const clean = await Promise.all(members.map((m) => m.shutdown()));
    const bad = members.filter((m, i) => !clean[i]).map((m) => m.name);
    if (bad.length > 0) throw new Error("did not exit cleanly: " + bad.join(", "));
    if (skipped > 0) throw new Error(skipped + " inbound messages were skipped");
    return { count: members.length + " exited", total: performance.now() - s0 };
  });
  members.forEach((m) => m.kill()); // only matters if a step above failed

  printTable();
  const failed = rows.filter((r) => !r.ok);
  const seconds = ((performance.now() - t0) / 1000).toFixed(2);
  console.log("");
  if (failed.length === 0) {
    console.log("demo: all " + rows.length + " steps ok (" + NAMES.length + " nodes, cookie on, " + skipped +
      " messages skipped) in " + seconds + " s");
  } else {
    const names = failed.slice(0, 3).map((r) => r.op + " " + r.route).join("; ") + (failed.length > 3 ? "; ..." : "");
    console.log("demo: FAILED " + failed.length + " of " + rows.length + " steps (" + names + ") in " + seconds + " s");
  }
  process.exitCode = failed.length === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error("demo: " + (err && err.stack ? err.stack : err));
  process.exitCode = 1;
});
