"use strict";
// `npm run bench`: the original JS kernel (the seed, on node-ipc) and this
// package's native kernel side by side, driven through the same NetKernel API.
//
// Every trial is two fresh processes on loopback: a driver (driver.js) that
// runs one scenario against a responder (responder.js). Each scenario runs
// several rounds; within a round every pairing of implementations runs once,
// in an order that rotates from round to round, and the table reports the
// median over rounds. The ceiling (scenario 7) is a Rust-only client and
// server (examples/ceiling.rs) speaking the same frames without Node; the
// transport floor (row 1f) times raw 250-byte round trips from a Node client
// to a Node echo server and to a Rust one (bench/floor.js, ceiling --echo).
// Rows 9a-9d are the Rust library alone: two Rust nodes, in two processes, through its public
// API (examples/rust_bench.rs), beside the JS kernel's JS>JS figures; rows
// 9e-9f are a JS kernel driving the Rust example node (examples/node.rs).
//
//   node bench/run.js [--quick] [--json FILE] [--rounds N] [--only KEYS]
//                     [--pairs PAIRS] [--cpu-prof DIR]
//   node bench/run.js --scale [scale.js options]   the scale bench (scale.js)
//
// --quick      small counts, one round: a smoke run, not a measurement
// --json FILE  also write the table and every trial's raw figures as JSON
// --rounds N   rounds per scenario (default 5)
// --only KEYS  comma-separated plan keys (ping,floor,callSeq,callPar,castOn,
//              castBurst,castOff,stream,ceiling,rust,jsRust,limits,metrics); rows
//              of the others show as "-"
// --pairs PAIRS  comma-separated pairings to run (js>js, native>native,
//              js>native, native>js); the others' columns show as "-"
// --cpu-prof DIR  run every driver and responder under `node --cpu-prof`,
//              profiles written into DIR

const { fork, spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { freePort } = require("../__test__/helpers/ports");
const seed = require("../__test__/helpers/seed");
const { rpc } = require("../__test__/helpers/rpc");
const { HOST, jsThreadCpuNs } = require("./common");
const { measureLimits, renderLimits } = require("./limits");
const { measureScrape } = require("./metrics");

const ROOT = path.resolve(__dirname, "..");
const COOKIE = "bench-cookie";
const MiB = 1024 * 1024;
const KiB = 1024;

const REQUEST_TIMEOUT = 20000; // start, connect, stats
const TRIAL_TIMEOUT = 120000; // one scenario run in the driver
const CLOSE_TIMEOUT = 3000;
const CARGO_TIMEOUT = 600000; // the ceiling, including a first build
const OUTPUT_LIMIT = 16 * 1024;

// ---- options ----

function parseArgs(argv) {
  const opts = { quick: false, json: null, rounds: null, only: null, cpuProf: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(a + " needs a value");
      return argv[++i];
    };
    if (a === "--quick") opts.quick = true;
    else if (a === "--json") opts.json = path.resolve(value());
    else if (a === "--rounds") opts.rounds = Math.max(1, parseInt(value(), 10) || 1);
    else if (a === "--only") opts.only = new Set(value().split(",").map((s) => s.trim()));
    else if (a === "--cpu-prof") opts.cpuProf = path.resolve(value());
    else if (a === "--pairs") opts.pairs = new Set(value().split(",").map((s) => s.trim()));
    else if (a === "--help" || a === "-h") opts.help = true;
    else throw new Error("unknown argument: " + a);
  }
  return opts;
}

// ---- what runs ----

const SAME = ["js>js", "native>native"];
const ALL = ["js>js", "native>native", "js>native", "native>js"];

// Counts are chosen so a full run stays within about three minutes on two
// cores; `quick` is a smoke run only.
const PLANS = [
  { key: "ping", title: "1/6 ping", scenario: "ping", cookie: COOKIE, combos: ALL,
    full: { n: 2000, warm: 300 }, quick: { n: 100, warm: 20 } },
  { key: "callSeq", title: "2 callSingleton sequential", scenario: "callSeq", cookie: COOKIE, combos: SAME,
    full: { n: 2000, warm: 300 }, quick: { n: 100, warm: 20 } },
  { key: "callPar", title: "3/6 callSingleton 200 in flight", scenario: "callPar", cookie: COOKIE, combos: ALL,
    full: { n: 20000, warm: 2000, inflight: 200 }, quick: { n: 1000, warm: 200, inflight: 200 } },
  // Sustained: long enough that a receiver's backlog, buffers and garbage
  // collection show; the burst row keeps the short run of earlier versions.
  { key: "castOn", title: "4/6/8 cast, cookie on", scenario: "cast", cookie: COOKIE, combos: ALL,
    full: { n: 200000, warm: 20000 }, quick: { n: 1000, warm: 100 } },
  { key: "castBurst", title: "4 cast burst, cookie on", scenario: "cast", cookie: COOKIE, combos: SAME,
    full: { n: 20000, warm: 2000 }, quick: { n: 1000, warm: 100 } },
  { key: "castOff", title: "4/8 cast, cookie off", scenario: "cast", cookie: null, combos: SAME,
    full: { n: 200000, warm: 20000 }, quick: { n: 1000, warm: 100 } },
  { key: "stream", title: "5/8 8 MiB stream call", scenario: "stream", cookie: COOKIE, combos: SAME,
    full: { bytes: 8 * MiB, chunk: 64 * KiB, calls: 3, warmBytes: 8 * MiB },
    quick: { bytes: 1 * MiB, chunk: 64 * KiB, calls: 1, warmBytes: 256 * KiB } },
];

const ROUNDS = 5;
const CEILING = { full: { count: 200000, rounds: 5 }, quick: { count: 20000, rounds: 1 } };
const FLOOR = { full: { n: 2000, warm: 300 }, quick: { n: 100, warm: 20 } };
// JS driver -> Rust example node: the scenarios its handlers answer.
const JS_RUST = ["ping", "callPar"];

// ---- child processes ----

const live = new Set();

function killAll() {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch (err) {
      // already gone
    }
  }
}
process.on("exit", killAll);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]]) {
  process.once(signal, () => {
    killAll();
    process.exit(code);
  });
}

const unclean = [];

// Forks bench/<script>.js in a private working directory (node-ipc unlinks a
// file named like the host in the current directory before listening).
function spawnChild(script, label, execArgv) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "clbench-"));
  const child = fork(path.join(__dirname, script + ".js"), [], {
    cwd,
    execArgv,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  live.add(child);
  let output = "";
  let fatal = null;
  let exitInfo = null;
  const channel = rpc(child, { label, timeout: REQUEST_TIMEOUT, toError: (error) => new Error(label + ": " + error) });
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding("utf8");
    s.on("data", (text) => {
      output = (output + text).slice(-OUTPUT_LIMIT);
    });
  }
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
      channel.close(label + " exited (" + (signal || "code " + code) + ")" + (fatal ? ": " + fatal : ""), tail(output));
      fs.rm(cwd, { recursive: true, force: true }, () => resolve(exitInfo));
    });
  });
  child.on("message", (msg) => {
    if (msg && msg.event === "fatal") fatal = msg.error;
    channel.settle(msg);
  });

  function request(cmd, args = {}, timeout = REQUEST_TIMEOUT) {
    return channel.request(cmd, args, timeout);
  }


  // Asks the child to exit; kills it when it does not within CLOSE_TIMEOUT.
  async function close() {
    if (!exitInfo) {
      await request("exit", {}, CLOSE_TIMEOUT).catch(() => {});
      let timer = null;
      const slow = new Promise((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT, "slow");
      });
      if ((await Promise.race([exited, slow])) === "slow") child.kill("SIGKILL");
      clearTimeout(timer);
    }
    const info = await exited;
    if (info.code !== 0) unclean.push(label + " (" + (info.signal || "code " + info.code) + ")");
    return info;
  }

  return { request, close, output: () => output };
}

function tail(text) {
  const lines = text.trim().split("\n").slice(-8).join("\n");
  return lines ? "\n" + lines : "";
}

let trialCount = 0;

// One trial: fresh driver and responder, connected both ways, one scenario.
async function runTrial(plan, combo, params, opts) {
  const [driverImpl, responderImpl] = combo.split(">");
  const n = ++trialCount;
  const [dPort, rPort] = [await freePort(), await freePort()];
  const dId = "bench-driver-" + n;
  const rId = "bench-responder-" + n;
  const profile = (role) => (opts.cpuProf ? ["--cpu-prof", "--cpu-prof-dir=" + opts.cpuProf,
    "--cpu-prof-name=" + [plan.key, combo.replace(">", "-to-"), n, role].join("-") + ".cpuprofile"] : []);
  const driver = spawnChild("driver", dId + " (" + driverImpl + ")", profile("driver"));
  const responder = spawnChild("responder", rId + " (" + responderImpl + ")", profile("responder"));
  try {
    await Promise.all([
      driver.request("start", { impl: driverImpl, id: dId, port: dPort, cookie: plan.cookie }),
      responder.request("start", { impl: responderImpl, id: rId, port: rPort, cookie: plan.cookie }),
    ]);
    await Promise.all([
      driver.request("connect", { node: { id: rId, host: HOST, port: rPort } }),
      responder.request("connect", { node: { id: dId, host: HOST, port: dPort } }),
    ]);
    const result = await driver.request("run",
      { scenario: plan.scenario, params, timeout: TRIAL_TIMEOUT }, TRIAL_TIMEOUT + 5000);
    const stats = await responder.request("stats");
    return { driver: result, responder: stats };
  } finally {
    await Promise.all([driver.close(), responder.close()]);
  }
}

// The ceiling: examples/ceiling.rs through cargo; resolves with its JSON line.
function runCeiling(params) {
  const cargo = process.env.CARGO || "cargo";
  const args = ["run", "--release", "--quiet", "--example", "ceiling", "--",
    "--count", String(params.count), "--rounds", String(params.rounds), "--cookie", COOKIE, "--json"];
  return new Promise((resolve, reject) => {
    const child = spawn(cargo, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (t) => {
      out = (out + t).slice(-OUTPUT_LIMIT);
    });
    child.stderr.on("data", (t) => {
      err = (err + t).slice(-OUTPUT_LIMIT);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), CARGO_TIMEOUT);
    child.once("error", (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(new Error("could not run cargo: " + e.message));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (code !== 0) {
        reject(new Error("cargo run --example ceiling failed (" + (signal || "code " + code) + ")" + tail(err)));
        return;
      }
      const line = out.trim().split("\n").pop();
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(new Error("unexpected ceiling output: " + line));
      }
    });
  });
}

// The Rust library's own row: examples/rust_bench.rs through cargo.
function runRustBench(quick) {
  const args = ["run", "--release", "--quiet", "--example", "rust_bench", "--"].concat(quick ? ["--quick"] : []);
  const run = firstJsonLine(process.env.CARGO || "cargo", args, { cwd: ROOT });
  return run.line.then(async (result) => {
    await run.exited;
    return result;
  });
}

// One trial of a JS kernel (the seed) driving the Rust example node.
async function runJsRustTrial(plan, params) {
  const n = ++trialCount;
  const [dPort, rPort] = [await freePort(), await freePort()];
  const dId = "bench-driver-" + n;
  const rId = "bench-rust-" + n;
  const args = ["run", "--release", "--quiet", "--example", "node", "--", "--id", rId, "--port", String(rPort),
    "--peer", dId + "@" + HOST + ":" + dPort];
  if (plan.cookie) args.push("--cookie", plan.cookie);
  const rust = spawn(process.env.CARGO || "cargo", args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  live.add(rust);
  const exited = new Promise((resolve) => rust.once("close", (code, signal) => {
    live.delete(rust);
    resolve({ code, signal });
  }));
  const driver = spawnChild("driver", dId + " (js)", []);
  try {
    await new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("the Rust node printed no ready")), CARGO_TIMEOUT);
      rust.stdout.setEncoding("utf8");
      rust.stdout.on("data", (t) => {
        out += t;
        if (out.includes("ready\n")) {
          clearTimeout(timer);
          resolve();
        }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error("the Rust node ended (" + (signal || "code " + code) + ")"));
      });
    });
    await driver.request("start", { impl: "js", id: dId, port: dPort, cookie: plan.cookie });
    await driver.request("connect", { node: { id: rId, host: HOST, port: rPort } });
    const result = await driver.request("run",
      { scenario: plan.scenario, params, timeout: TRIAL_TIMEOUT }, TRIAL_TIMEOUT + 5000);
    return { driver: result, responder: {} };
  } finally {
    await driver.close();
    rust.kill("SIGTERM");
    const timer = setTimeout(() => rust.kill("SIGKILL"), CLOSE_TIMEOUT);
    await exited;
    clearTimeout(timer);
  }
}

// Runs `cmd args` and resolves with the first JSON line it prints; the
// process is returned too, so the caller can wait for or end it.
function firstJsonLine(cmd, args, opts) {
  const child = spawn(cmd, args, Object.assign({ stdio: ["ignore", "pipe", "pipe"] }, opts));
  live.add(child);
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (t) => {
    err = (err + t).slice(-OUTPUT_LIMIT);
  });
  const exited = new Promise((resolve) => child.once("close", (code, signal) => {
    live.delete(child);
    resolve({ code, signal });
  }));
  const line = new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), CARGO_TIMEOUT);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (t) => {
      out += t;
      const nl = out.indexOf("\n");
      if (nl === -1) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)));
      } catch (e) {
        reject(new Error("unexpected output of " + cmd + ": " + out.slice(0, nl)));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(cmd + " " + args.join(" ") + " ended (" + (signal || "code " + code) + ")" + tail(err)));
    });
  });
  return { child, line, exited };
}

// One transport-floor trial against a Node ("js") or Rust ("native") echo
// server: the client's median round trip, in the shape of a driver result.
async function runFloor(server, params) {
  const echo = server === "js"
    ? firstJsonLine(process.execPath, [path.join(__dirname, "floor.js"), "server"], {})
    : firstJsonLine(process.env.CARGO || "cargo",
      ["run", "--release", "--quiet", "--example", "ceiling", "--", "--echo"], { cwd: ROOT });
  try {
    const { port } = await echo.line;
    const client = firstJsonLine(process.execPath,
      [path.join(__dirname, "floor.js"), "client", String(port), String(params.n), String(params.warm)], {});
    const result = await client.line;
    await client.exited;
    return { driver: result, responder: {} };
  } finally {
    echo.child.kill("SIGKILL");
    await echo.exited;
  }
}

// ---- figures ----

function median(values) {
  const s = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const perMsg = (field) => (t) => t.responder.recv && t.responder.recv[field] !== null
  ? t.responder.recv[field] / t.responder.recv.count : null;
const elu = (t) => (t.responder.recv ? 100 * t.responder.recv.elu : null);
const mib = (bytes) => bytes / MiB;

// Each row: which plan and pairings feed the JS and native columns, and how a
// trial becomes a number. `better` orients the ratio so that > 1 favours native.
const ROWS = [
  { id: "1", figure: "ping round trip, sequential", unit: "us/ping", plan: "ping", better: "lower",
    get: (t) => t.driver.medianUs },
  { id: "1f", figure: "floor: raw 250 B TCP echo, Node client", unit: "us/ping", plan: "floor",
    better: "lower", get: (t) => t.driver.medianUs },
  { id: "2", figure: "callSingleton small object, sequential", unit: "ops/s", plan: "callSeq", better: "higher",
    get: (t) => t.driver.opsPerSec },
  { id: "3", figure: "callSingleton small object, 200 in flight", unit: "ops/s", plan: "callPar", better: "higher",
    get: (t) => t.driver.opsPerSec },
  { id: "4a", figure: "cast small object x200k, cookie on", unit: "msgs/s", plan: "castOn", better: "higher",
    get: (t) => t.driver.msgsPerSec },
  { id: "4b", figure: "cast small object x200k, cookie off", unit: "msgs/s", plan: "castOff", better: "higher",
    get: (t) => t.driver.msgsPerSec },
  { id: "4c", figure: "cast small object x20k burst, cookie on", unit: "msgs/s", plan: "castBurst",
    better: "higher", get: (t) => t.driver.msgsPerSec },
  { id: "5", figure: "call 8 MiB Buffer as 64 KiB stream chunks", unit: "MiB/s", plan: "stream", better: "higher",
    get: (t) => t.driver.mibPerSec },
  { id: "6a", figure: "mixed ping: JS driver -> native responder", unit: "us/ping", plan: "ping", better: "lower",
    native: "js>native", get: (t) => t.driver.medianUs },
  { id: "6b", figure: "mixed ping: native driver -> JS responder", unit: "us/ping", plan: "ping", better: "lower",
    native: "native>js", get: (t) => t.driver.medianUs },
  { id: "6c", figure: "mixed 200 in flight: JS driver -> native resp.", unit: "ops/s", plan: "callPar",
    better: "higher", native: "js>native", get: (t) => t.driver.opsPerSec },
  { id: "6d", figure: "mixed 200 in flight: native driver -> JS resp.", unit: "ops/s", plan: "callPar",
    better: "higher", native: "native>js", get: (t) => t.driver.opsPerSec },
  { id: "6e", figure: "mixed cast: JS driver -> native responder", unit: "msgs/s", plan: "castOn",
    better: "higher", native: "js>native", get: (t) => t.driver.msgsPerSec },
  { id: "6f", figure: "mixed cast: native driver -> JS responder", unit: "msgs/s", plan: "castOn",
    better: "higher", native: "native>js", get: (t) => t.driver.msgsPerSec },
  { id: "7", figure: "ceiling: Rust-only cast + HMAC (no Node)", unit: "msgs/s", plan: "castOn", better: "higher",
    ceiling: true, get: (t) => t.driver.msgsPerSec },
  { id: "9a", figure: "Rust library: ping, Rust node -> Rust node", unit: "us/ping", plan: "ping",
    better: "lower", rust: "pingUs" },
  { id: "9b", figure: "Rust library: callSingleton 200 in flight", unit: "ops/s", plan: "callPar",
    better: "higher", rust: "callParOpsPerSec" },
  { id: "9c", figure: "Rust library: cast small object x200k", unit: "msgs/s", plan: "castOn",
    better: "higher", rust: "castMsgsPerSec" },
  { id: "9d", figure: "Rust library: call 8 MiB as 64 KiB stream chunks", unit: "MiB/s", plan: "stream",
    better: "higher", rust: "streamMibPerSec" },
  { id: "9e", figure: "ping: JS driver -> Rust node", unit: "us/ping", plan: "ping", better: "lower",
    native: "js>rust", get: (t) => t.driver.medianUs },
  { id: "9f", figure: "200 in flight: JS driver -> Rust node", unit: "ops/s", plan: "callPar",
    better: "higher", native: "js>rust", get: (t) => t.driver.opsPerSec },
  { id: "8a", figure: "receiver CPU per cast, process, cookie on", unit: "us/msg", plan: "castOn", better: "lower",
    get: perMsg("cpuUs") },
  { id: "8b", figure: "receiver CPU per cast, JS thread, cookie on", unit: "us/msg", plan: "castOn",
    better: "lower", get: perMsg("jsThreadCpuUs") },
  { id: "8c", figure: "receiver CPU per cast, process, cookie off", unit: "us/msg", plan: "castOff",
    better: "lower", get: perMsg("cpuUs") },
  { id: "8d", figure: "receiver CPU per cast, JS thread, cookie off", unit: "us/msg", plan: "castOff",
    better: "lower", get: perMsg("jsThreadCpuUs") },
  { id: "8e", figure: "sender CPU per cast, process, cookie on", unit: "us/msg", plan: "castOn", better: "lower",
    get: (t) => t.driver.cpuUsPerMsg },
  { id: "8f", figure: "sender CPU per cast, JS thread, cookie on", unit: "us/msg", plan: "castOn",
    better: "lower", get: (t) => t.driver.jsThreadCpuUsPerMsg },
  { id: "8g", figure: "receiver event-loop utilization, cookie on", unit: "%", plan: "castOn", better: "lower",
    get: elu },
  { id: "8h", figure: "receiver event-loop utilization, cookie off", unit: "%", plan: "castOff", better: "lower",
    get: elu },
  { id: "8i", figure: "peak RSS responder, cast cookie on (4)", unit: "MiB", plan: "castOn", better: "lower",
    get: (t) => mib(t.responder.maxRss) },
  { id: "8j", figure: "peak RSS driver, cast cookie on (4)", unit: "MiB", plan: "castOn", better: "lower",
    get: (t) => mib(t.driver.maxRss) },
  { id: "8k", figure: "peak RSS responder, 8 MiB stream (5)", unit: "MiB", plan: "stream", better: "lower",
    get: (t) => mib(t.responder.maxRss) },
  { id: "8l", figure: "peak RSS driver, 8 MiB stream (5)", unit: "MiB", plan: "stream", better: "lower",
    get: (t) => mib(t.driver.maxRss) },
];

function buildRows(trials, ceiling, quick, rustRuns = []) {
  return ROWS.map((row) => {
    const byCombo = trials[row.plan] || {};
    const jsGet = row.get || ROWS.find((r) => r.plan === row.plan && r.get && !r.native && !r.ceiling).get;
    const col = (combo, get = row.get) => median((byCombo[combo] || []).map(get));
    const js = col("js>js", jsGet);
    const native = row.ceiling ? (ceiling ? ceiling.median : null)
      : row.rust ? median(rustRuns.map((r) => r[row.rust]).filter((v) => typeof v === "number"))
        : col(row.native || "native>native");
    let ratio = null;
    if (js !== null && native !== null && js > 0 && native > 0) {
      ratio = row.better === "higher" ? native / js : js / native;
    }
    const figure = quick ? row.figure.replace("8 MiB", "1 MiB") : row.figure;
    return { id: row.id, figure, unit: row.unit, better: row.better, js, native, ratio };
  });
}

function fmt(v, unit) {
  if (v === null || v === undefined) return "-";
  if (unit === "ops/s" || unit === "msgs/s") return String(Math.round(v));
  if (unit === "us/msg") return v.toFixed(2);
  return v.toFixed(1);
}

function renderTable(rows) {
  const head = ["#", "figure", "unit", "JS", "native", "native vs JS"];
  const body = rows.map((r) => [r.id, r.figure, r.unit, fmt(r.js, r.unit), fmt(r.native, r.unit),
    r.ratio === null ? "-" : r.ratio.toFixed(2) + "x " + (r.better === "higher" || r.unit.startsWith("us/p")
      ? "faster" : "less")]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const right = [false, false, false, true, true, true];
  const line = (cells) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
    .join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

// ---- main ----

function loadAverage() {
  return os.loadavg().map((v) => v.toFixed(2)).join(" ");
}

function log(text) {
  process.stderr.write(text + "\n");
}

function describeResult(t) {
  const d = t.driver;
  if (d.medianUs !== undefined) return d.medianUs.toFixed(1) + " us/ping";
  if (d.opsPerSec !== undefined) return Math.round(d.opsPerSec) + " ops/s";
  if (d.msgsPerSec !== undefined) return Math.round(d.msgsPerSec) + " msgs/s";
  if (d.mibPerSec !== undefined) return d.mibPerSec.toFixed(1) + " MiB/s";
  return JSON.stringify(d);
}

async function main() {
  // `npm run bench -- --scale`: the scale bench (bench/scale.js), smoke-sized
  // unless sizes are given.
  if (process.argv.includes("--scale")) return require("./scale").main();
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    const lines = fs.readFileSync(__filename, "utf8").split("\n").slice(1);
    const header = lines.slice(0, lines.findIndex((l) => !l.startsWith("//")));
    console.log(header.map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
    return 0;
  }
  if (opts.cpuProf) fs.mkdirSync(opts.cpuProf, { recursive: true });
  const mode = opts.quick ? "quick" : "full";
  const haveSeed = seed.seedAvailable();
  const cpus = os.cpus();
  const started = Date.now();

  console.log("clusterluck-native bench (" + mode + (opts.quick ? ": smoke run, figures are not measurements" : "") + ")");
  console.log("machine: " + cpus.length + " x " + (cpus[0] ? cpus[0].model.trim() : "?") + ", " +
    os.platform() + " " + os.release() + ", Node " + process.version +
    ", load average " + loadAverage() + " (other work on the machine skews every figure)");
  if (haveSeed) {
    console.log("JS column: the original JS kernel (seed) on node-ipc; native column: this package");
  } else {
    console.log("NOTE: " + seed.skipReason().replace(/; interop tests skipped$/, "") +
      ": native only, the JS column and the mixed rows are left empty");
  }

  const trials = {};
  const failures = [];
  for (const plan of PLANS) {
    if (opts.only && !opts.only.has(plan.key)) continue;
    const combos = plan.combos.filter((c) => (haveSeed || !c.includes("js")) && (!opts.pairs || opts.pairs.has(c)));
    const rounds = opts.quick ? 1 : opts.rounds || ROUNDS;
    const params = plan[mode];
    trials[plan.key] = {};
    for (let r = 0; r < rounds; r++) {
      // Rotate the order of pairings each round so no implementation always goes first.
      const order = combos.map((_, i) => combos[(i + r) % combos.length]);
      for (const combo of order) {
        const what = "[" + plan.title + "] round " + (r + 1) + "/" + rounds + " " + combo;
        try {
          const t = await runTrial(plan, combo, params, opts);
          (trials[plan.key][combo] = trials[plan.key][combo] || []).push(t);
          log(what + ": " + describeResult(t));
        } catch (err) {
          failures.push(what + ": " + err.message);
          log(what + ": FAILED: " + err.message);
        }
      }
    }
  }

  if (!opts.only || opts.only.has("floor")) {
    const rounds = opts.quick ? 1 : opts.rounds || ROUNDS;
    trials.floor = {};
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ["native", "js"] : ["js", "native"];
      for (const server of order) {
        const combo = server + ">" + server;
        const what = "[1f floor] round " + (r + 1) + "/" + rounds + " " + (server === "js" ? "Node" : "Rust") + " echo";
        try {
          const t = await runFloor(server, FLOOR[mode]);
          (trials.floor[combo] = trials.floor[combo] || []).push(t);
          log(what + ": " + describeResult(t));
        } catch (err) {
          failures.push(what + ": " + err.message);
          log(what + ": FAILED: " + err.message);
        }
      }
    }
  }

  let ceiling = null;
  if (!opts.only || opts.only.has("ceiling")) {
    try {
      log("[7 ceiling] cargo run --release --example ceiling ...");
      ceiling = await runCeiling(CEILING[mode]);
      log("[7 ceiling] " + ceiling.rounds.map((v) => Math.round(v)).join(", ") + " msgs/s");
    } catch (err) {
      failures.push("[7 ceiling]: " + err.message);
      log("[7 ceiling] FAILED: " + err.message);
    }
  }

  let limits = null;
  if (!opts.only || opts.only.has("limits")) {
    try {
      log("[10 limits] a stopped peer and stats() ...");
      limits = await measureLimits({ total: opts.quick ? 100000 : 1000000 });
    } catch (err) {
      failures.push("[10 limits]: " + err.message);
      log("[10 limits] FAILED: " + err.message);
    }
  }

  // Row 10d: one scrape of clusterluck-native/metrics, a kernel with 8 peers.
  let scrape = null;
  if (!opts.only || opts.only.has("metrics")) {
    try {
      log("[10d metrics] one Prometheus scrape, 8 peers ...");
      scrape = await measureScrape({ scrapes: opts.quick ? 50 : 500, casts: opts.quick ? 200 : 2000 });
    } catch (err) {
      failures.push("[10d metrics]: " + err.message);
      log("[10d metrics] FAILED: " + err.message);
    }
  }

  const rustRuns = [];
  if (!opts.only || opts.only.has("rust")) {
    const rounds = opts.quick ? 1 : opts.rounds || ROUNDS;
    for (let r = 0; r < rounds; r++) {
      const what = "[9a-9d Rust library] round " + (r + 1) + "/" + rounds;
      try {
        const result = await runRustBench(opts.quick);
        rustRuns.push(result);
        log(what + ": " + JSON.stringify(result));
      } catch (err) {
        failures.push(what + ": " + err.message);
        log(what + ": FAILED: " + err.message);
      }
    }
  }

  if (haveSeed && (!opts.only || opts.only.has("jsRust"))) {
    const rounds = opts.quick ? 1 : opts.rounds || ROUNDS;
    for (const key of JS_RUST) {
      const plan = PLANS.find((p) => p.key === key);
      trials[key] = trials[key] || {};
      for (let r = 0; r < rounds; r++) {
        const what = "[" + plan.title + "] round " + (r + 1) + "/" + rounds + " js>rust";
        try {
          const t = await runJsRustTrial(plan, plan[mode]);
          (trials[key]["js>rust"] = trials[key]["js>rust"] || []).push(t);
          log(what + ": " + describeResult(t));
        } catch (err) {
          failures.push(what + ": " + err.message);
          log(what + ": FAILED: " + err.message);
        }
      }
    }
  }

  const rows = buildRows(trials, ceiling, opts.quick, rustRuns);
  console.log("");
  console.log(renderTable(rows));
  if (limits) {
    console.log("");
    console.log(renderLimits(limits));
  }
  if (scrape) {
    console.log("");
    console.log(renderLimits(scrape, "Metrics (native only; the JS kernel has no stats()), median of single scrapes:"));
  }
  console.log("");
  console.log("Medians over rounds. \"native vs JS\" > 1 favours native: faster, or less CPU/memory.");
  console.log("Rows 6x: the JS column is all-JS, the native column the mixed pair (one side upgraded).");
  console.log("Row 1f: no kernel at all, a Node client and an echo server in Node (JS column) or Rust (native).");
  console.log("Row 7: the native column is a Rust-only client and server (no Node); the ratio is against JS.");
  console.log("Rows 9a-9d: the native column is two Rust nodes on this crate's Rust API (no Node), beside the JS");
  console.log("  kernel's own figures; rows 9e-9f: the seed JS kernel driving the Rust example node.");
  const addonCast = rows.find((r) => r.id === "4a").native;
  if (ceiling && addonCast) {
    console.log("The addon's cast (4a, native) reaches " + (100 * addonCast / ceiling.median).toFixed(1) +
      "% of the ceiling.");
  }
  const rustCast = rows.find((r) => r.id === "9c").native;
  if (ceiling && rustCast) {
    console.log("The Rust library's cast (9c, native) reaches " + (100 * rustCast / ceiling.median).toFixed(1) +
      "% of the ceiling.");
  }
  const rustPar = rows.find((r) => r.id === "9b").native;
  const addonPar = rows.find((r) => r.id === "3").native;
  if (rustPar && addonPar) {
    console.log("The Rust library's 200 calls in flight (9b) run at " + (rustPar / addonPar).toFixed(2) +
      "x the addon's (3, native).");
  }
  console.log("Total time: " + ((Date.now() - started) / 1000).toFixed(0) + " s, load average now " +
    loadAverage());
  if (unclean.length) console.log("UNCLEAN EXITS: " + unclean.join(", "));
  if (failures.length) {
    console.log("FAILURES:");
    for (const f of failures) console.log("  " + f);
  }

  if (opts.json) {
    const out = {
      meta: {
        date: new Date().toISOString(), mode, node: process.version, platform: os.platform(),
        loadAverageAtEnd: os.loadavg(),
        cpus: cpus.length, cpuModel: cpus[0] ? cpus[0].model.trim() : null, seed: haveSeed,
        jsThreadCpu: jsThreadCpuNs() !== null,
        params: Object.fromEntries(PLANS.map((p) => [p.key, p[mode]])), ceiling: CEILING[mode],
        floor: FLOOR[mode],
      },
      rows, limits, scrape, failures, unclean, ceiling, trials,
    };
    fs.writeFileSync(opts.json, JSON.stringify(out, null, 2) + "\n");
  }
  return failures.length || unclean.length ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
}, (err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exitCode = 1;
});
