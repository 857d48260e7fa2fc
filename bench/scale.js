"use strict";
// The scale bench: full meshes of N nodes on loopback, each node a process,
// and what they cost as N grows. Per size and kind of node:
//   mesh    ms from telling every node to connect to all the others until
//           every node has heard from every other (a `hello` cast; Rust
//           nodes: until every node holds its 2(N-1) TCP links)
//   rss     resident memory per node (median), once the mesh stands
//   cpu     idle CPU per node (median, % of a core) over --idle seconds, the
//           keep-alive ticks included
//   links   established TCP connections per node
//   tput    the cluster's total cast throughput under all-to-all load
//           (every node casting to every other; casts received within the
//           same --load seconds of wall-clock time on every node, opened
//           once the nodes can all have been told to start). Not for Rust nodes,
//           whose example does not cast on its own.
//   us/cast the CPU time of all nodes in that window over the casts received
//           (cores: that CPU time over the window)
// Kinds: addon (this package's kernel in Node), js (the seed JS kernel on
// node-ipc), rust (examples/node.rs, no Node), floor (no kernel: Node
// processes writing the frames of the same casts on raw sockets and counting
// them, scale_floor_node.js; what the processes and loopback TCP alone cost,
// and how that grows with the mesh on the same cores). The floor is in the
// table, not the plot (its throughput would flatten the kernels' curves).
// Under load every node casts --per-turn casts (default 20) to every peer
// per turn of its event loop.
//
//   node bench/scale.js [--sizes 2,4,8] [--kinds addon,js,rust,floor]
//                       [--idle S] [--load S] [--max-addon N] [--max-js N]
//                       [--per-turn N] [--json FILE] [--svg FILE]
// `npm run bench -- --scale` runs the smoke sizes (2,4,8; short windows);
// the full curves: --sizes 2,4,8,16,32,64 --idle 16 --load 15 (a mesh of 32
// takes its first seconds of load to touch its memory; see BENCHMARKS.md).

const { fork, spawn, spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { freePort } = require("../__test__/helpers/ports");
const seed = require("../__test__/helpers/seed");
const { rpc } = require("../__test__/helpers/rpc");
const { HOST } = require("./common");

const ROOT = path.resolve(__dirname, "..");
const COOKIE = "scale-cookie";
const REQUEST_TIMEOUT = 60000;
const MESH_TIMEOUT = 120000;
// From the load requests to the counting window: time for the requests to
// reach every node, so it grows with the mesh. No longer than that: a JS
// (node-ipc) receiver flooded for long before the window can spend all of a
// short window reparsing its backlog and count nothing in it.
const LOAD_LEAD_MS = (n) => 100 + 25 * n;
const WINDOW_GRACE_MS = 200; // after the window, before asking for counts

const KINDS = ["addon", "js", "rust", "floor"];

function parseArgs(argv) {
  const o = { sizes: [2, 4, 8], kinds: [...KINDS], idle: 2, load: 2, maxAddon: 16, maxJs: 16,
    perTurn: 20, json: null, svg: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(a + " needs a value");
      return argv[++i];
    };
    if (a === "--sizes") o.sizes = v().split(",").map(Number).filter((n) => n >= 2);
    else if (a === "--kinds") o.kinds = v().split(",").map((s) => s.trim());
    else if (a === "--idle") o.idle = Number(v());
    else if (a === "--load") o.load = Number(v());
    else if (a === "--max-addon") o.maxAddon = Number(v());
    else if (a === "--max-js") o.maxJs = Number(v());
    else if (a === "--per-turn") o.perTurn = Number(v());
    else if (a === "--json") o.json = path.resolve(v());
    else if (a === "--svg") o.svg = path.resolve(v());
    else if (a === "--scale") continue;
    else throw new Error("unknown argument: " + a);
  }
  const unknown = o.kinds.filter((k) => !KINDS.includes(k));
  if (unknown.length) throw new Error("unknown kind(s): " + unknown.join(",") + " (kinds: " + KINDS.join(",") + ")");
  if (!(o.perTurn >= 1)) throw new Error("--per-turn needs a count of at least 1");
  return o;
}

// ---- /proc ----

const TICK = 100; // clock ticks per second on Linux

// On-CPU seconds of a process: the scheduler's per-thread accounting (ns),
// summed over its threads; /proc/PID/stat's ticks (10 ms) where that is missing.
function procCpuSec(pid) {
  try {
    let ns = 0;
    for (const t of fs.readdirSync("/proc/" + pid + "/task")) {
      ns += Number(fs.readFileSync("/proc/" + pid + "/task/" + t + "/schedstat", "utf8").split(" ")[0]);
    }
    return ns / 1e9;
  } catch (e) {
    const f = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / TICK; // utime, stime
  }
}

function procRssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync("/proc/" + pid + "/status", "utf8"));
  return m ? Number(m[1]) : null;
}

// Inodes of established TCP sockets on the machine.
function establishedInodes() {
  const set = new Set();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[3] === "01") set.add(c[9]);
    }
  }
  return set;
}

function procLinks(pid, established) {
  let n = 0;
  let fds = [];
  try {
    fds = fs.readdirSync("/proc/" + pid + "/fd");
  } catch (e) {
    return null;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync("/proc/" + pid + "/fd/" + fd));
      if (m && established.has(m[1])) n += 1;
    } catch (e) {
      // closed meanwhile
    }
  }
  return n;
}

// ---- nodes ----

const live = new Set();
process.on("exit", () => {
  for (const c of live) {
    try {
      c.kill("SIGKILL");
    } catch (e) {
      // gone
    }
  }
});

function forkNode(label, floor = false) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "clscale-"));
  const child = fork(path.join(__dirname, floor ? "scale_floor_node.js" : "scale_node.js"), [], { cwd, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  live.add(child);
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (t) => {
    err = (err + t).slice(-4000);
  });
  const channel = rpc(child, { label, timeout: REQUEST_TIMEOUT, toError: (e) => new Error(label + ": " + e) });
  child.on("message", (m) => channel.settle(m));
  const exited = new Promise((resolve) => child.once("exit", () => {
    live.delete(child);
    channel.close(label + " exited" + (err ? ": " + err.trim().split("\n").pop() : ""), "");
    fs.rm(cwd, { recursive: true, force: true }, resolve);
  }));
  return {
    pid: child.pid,
    request: (cmd, args, ms) => channel.request(cmd, args, ms),
    close: async () => {
      await channel.request("exit", {}, 3000).catch(() => {});
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

function rustBinary() {
  const res = spawnSync(process.env.CARGO || "cargo", ["build", "--release", "--quiet", "--example", "node"],
    { cwd: ROOT, stdio: "inherit" });
  if (res.status !== 0) throw new Error("cargo build --example node failed");
  const dir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
  return path.join(dir, "release", "examples", "node");
}

function spawnRust(bin, id, port, peers) {
  const args = ["--id", id, "--port", String(port), "--cookie", COOKIE];
  for (const p of peers) args.push("--peer", p.id + "@" + p.host + ":" + p.port);
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "ignore"] });
  live.add(child);
  const exited = new Promise((resolve) => child.once("exit", () => {
    live.delete(child);
    resolve();
  }));
  const ready = new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (t) => {
      out += t;
      if (out.includes("ready\n")) resolve();
    });
    exited.then(() => reject(new Error("Rust node " + id + " ended")));
  });
  return {
    pid: child.pid,
    ready,
    close: async () => {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(values) {
  const v = values.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

// Idle CPU (% of a core) and RSS per node, links per node.
async function measureIdle(pids, idleSec) {
  const cpu0 = pids.map(procCpuSec);
  const t0 = Date.now();
  await sleep(idleSec * 1000);
  const sec = (Date.now() - t0) / 1000;
  const cpu = pids.map((p, i) => (100 * (procCpuSec(p) - cpu0[i])) / sec);
  const est = establishedInodes();
  return {
    rssKiB: median(pids.map(procRssKiB)),
    cpuPct: median(cpu),
    links: median(pids.map((p) => procLinks(p, est))),
  };
}

async function runKernels(impl, n, o) {
  const ids = Array.from({ length: n }, (_, i) => "scale-" + impl + "-" + n + "-" + i);
  const ports = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  const nodes = ids.map((id) => forkNode(id + " (" + impl + ")", impl === "floor"));
  try {
    await Promise.all(nodes.map((nd, i) => nd.request("start", { impl, id: ids[i], port: ports[i], cookie: COOKIE })));
    const all = ids.map((id, i) => ({ id, host: HOST, port: ports[i] }));
    const t0 = Date.now();
    await Promise.all(nodes.map((nd, i) => nd.request("mesh", { peers: all.filter((_, j) => j !== i) }, MESH_TIMEOUT)));
    const meshMs = Date.now() - t0;
    const idle = await measureIdle(nodes.map((nd) => nd.pid), o.idle);
    // The window opens once every node can have been told to cast (the
    // requests take a while to reach 32 busy processes: LOAD_LEAD_MS) and
    // is the same span of wall-clock time on every node.
    const from = Date.now() + LOAD_LEAD_MS(n);
    const to = from + o.load * 1000;
    await Promise.all(nodes.map((nd) => nd.request("load", { perTurn: o.perTurn, from, to })));
    await sleep(Math.max(0, to - Date.now()) + WINDOW_GRACE_MS);
    const got = await Promise.all(nodes.map((nd) => nd.request("stop")));
    // Each node's rate over its own window: a busy event loop reads its
    // marks late (a JS kernel's by up to a second), and the span asked for
    // would credit it with what it received after the window.
    const tput = got.reduce((a, r) => a + r.received / r.sec, 0);
    const total = got.reduce((a, r) => a + r.received, 0);
    // What a cast costs the whole cluster, both ends and every thread: with
    // every core busy, throughput is the cores over this.
    const cpuUs = got.reduce((a, r) => a + r.cpuUs, 0);
    const loadCores = got.reduce((a, r) => a + r.cpuUs / 1e6 / r.sec, 0);
    const late = Math.max(...got.map((r) => r.sec)) - (to - from) / 1000;
    // Page faults and context switches of all nodes per 1,000 casts (in
    // the JSON): memory a mesh touches for the first time, or gives back and
    // touches again, shows here.
    const per1000 = (key) => (total > 0 ? (1000 * got.reduce((a, r) => a + r[key], 0)) / total : null);
    return Object.assign({ kind: impl === "native" ? "addon" : impl, n, meshMs, tput,
      cpuUsPerCast: total > 0 ? cpuUs / total : null, loadCores, windowLateSec: late,
      faultsPer1000: per1000("faults"), switchesPer1000: per1000("switches") }, idle);
  } finally {
    await Promise.all(nodes.map((nd) => nd.close()));
  }
}

async function runRust(bin, n, o) {
  const ids = Array.from({ length: n }, (_, i) => "scale-rust-" + n + "-" + i);
  const ports = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  const all = ids.map((id, i) => ({ id, host: HOST, port: ports[i] }));
  const t0 = Date.now();
  const nodes = ids.map((id, i) => spawnRust(bin, id, ports[i], all.filter((_, j) => j !== i)));
  try {
    await Promise.all(nodes.map((nd) => nd.ready));
    // Every node holds a link to and from every other.
    const want = 2 * (n - 1);
    for (;;) {
      const est = establishedInodes();
      if (nodes.every((nd) => procLinks(nd.pid, est) >= want)) break;
      if (Date.now() - t0 > MESH_TIMEOUT) throw new Error("the Rust mesh of " + n + " did not form");
      await sleep(10);
    }
    const meshMs = Date.now() - t0;
    const idle = await measureIdle(nodes.map((nd) => nd.pid), o.idle);
    return Object.assign({ kind: "rust", n, meshMs, tput: null, cpuUsPerCast: null, loadCores: null }, idle);
  } finally {
    await Promise.all(nodes.map((nd) => nd.close()));
  }
}

// ---- plot ----

const COLORS = { addon: "#1f77b4", js: "#d62728", rust: "#2ca02c" };

function svgPlot(results) {
  const panels = [
    { key: "meshMs", title: "time to full mesh (ms)" },
    { key: "rssKiB", title: "RSS per node (MiB)", scale: 1 / 1024 },
    { key: "cpuPct", title: "idle CPU per node (% of a core)" },
    { key: "tput", title: "total cast throughput (msgs/s)" },
  ];
  const W = 360;
  const H = 240;
  const M = { l: 60, r: 10, t: 28, b: 36 };
  const sizes = [...new Set(results.map((r) => r.n))].sort((a, b) => a - b);
  const lx = (n) => Math.log2(n);
  const x0 = lx(sizes[0]);
  const x1 = Math.max(lx(sizes[sizes.length - 1]), x0 + 1);
  const parts = [];
  panels.forEach((p, k) => {
    const ox = (k % 2) * W;
    const oy = Math.floor(k / 2) * H;
    const pts = results.filter((r) => typeof r[p.key] === "number").map((r) => ({ kind: r.kind, n: r.n,
      v: r[p.key] * (p.scale || 1) }));
    const ymax = Math.max(1e-9, ...pts.map((q) => q.v)) * 1.1;
    const X = (n) => ox + M.l + ((lx(n) - x0) / (x1 - x0)) * (W - M.l - M.r);
    const Y = (v) => oy + H - M.b - (v / ymax) * (H - M.t - M.b);
    parts.push(`<text x="${ox + W / 2}" y="${oy + 16}" text-anchor="middle" font-size="13">${p.title}</text>`);
    parts.push(`<line x1="${ox + M.l}" y1="${oy + H - M.b}" x2="${ox + W - M.r}" y2="${oy + H - M.b}" stroke="#444"/>`);
    parts.push(`<line x1="${ox + M.l}" y1="${oy + M.t}" x2="${ox + M.l}" y2="${oy + H - M.b}" stroke="#444"/>`);
    for (const n of sizes) {
      parts.push(`<text x="${X(n)}" y="${oy + H - M.b + 14}" text-anchor="middle" font-size="10">${n}</text>`);
    }
    parts.push(`<text x="${ox + W / 2}" y="${oy + H - 6}" text-anchor="middle" font-size="10">nodes</text>`);
    for (let t = 0; t <= 4; t++) {
      const v = (ymax / 1.1) * t / 4;
      const label = v >= 1000 ? Math.round(v).toString() : v.toPrecision(3);
      parts.push(`<text x="${ox + M.l - 4}" y="${Y(v) + 3}" text-anchor="end" font-size="10">${label}</text>`);
      parts.push(`<line x1="${ox + M.l}" y1="${Y(v)}" x2="${ox + W - M.r}" y2="${Y(v)}" stroke="#ddd"/>`);
    }
    for (const kind of Object.keys(COLORS)) {
      const line = pts.filter((q) => q.kind === kind).sort((a, b) => a.n - b.n);
      if (!line.length) continue;
      parts.push(`<polyline fill="none" stroke="${COLORS[kind]}" stroke-width="2" points="${
        line.map((q) => X(q.n).toFixed(1) + "," + Y(q.v).toFixed(1)).join(" ")}"/>`);
      for (const q of line) parts.push(`<circle cx="${X(q.n).toFixed(1)}" cy="${Y(q.v).toFixed(1)}" r="3" fill="${COLORS[kind]}"/>`);
    }
  });
  let lx0 = 10;
  for (const [kind, color] of Object.entries(COLORS)) {
    parts.push(`<rect x="${lx0}" y="${2 * H + 6}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${lx0 + 16}" y="${2 * H + 16}" font-size="12">${kind}</text>`);
    lx0 += 80;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${2 * H + 24}" ` +
    `font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

function fmt(v, d = 0) {
  return v === null || v === undefined ? "-" : v.toFixed(d);
}

function renderTable(results) {
  const head = ["kind", "nodes", "mesh ms", "RSS MiB", "idle CPU %", "links", "KiB/link", "CPU %/link", "casts/s",
    "us/cast", "cores"];
  const rows = results.map((r) => {
    const base = results.find((b) => b.kind === r.kind && b.n === Math.min(...results.filter((x) => x.kind === r.kind).map((x) => x.n)));
    const dLinks = r.links - base.links;
    const perLink = dLinks > 0 ? (r.rssKiB - base.rssKiB) / dLinks : null;
    return [r.kind, String(r.n), fmt(r.meshMs), fmt(r.rssKiB / 1024, 1), fmt(r.cpuPct, 4), fmt(r.links),
      fmt(perLink, 1), r.links ? fmt(r.cpuPct / r.links, 5) : "-", fmt(r.tput), fmt(r.cpuUsPerCast, 2),
      fmt(r.loadCores, 2)];
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c) => c.map((x, i) => (i < 1 ? x.padEnd(w[i]) : x.padStart(w[i]))).join("  ");
  return [line(head), w.map((x) => "-".repeat(x)).join("  "), ...rows.map(line)].join("\n");
}

// What a growing mesh costs: the throughput of the largest mesh of a kind
// against that of 4 nodes (the goal's measure; the smallest mesh run where 4
// was not), on the same cores, and what a cast costs at each. The floor's
// line is what the processes and loopback alone lose as the mesh grows.
function renderGrowth(results) {
  const lines = [];
  for (const kind of KINDS) {
    const mine = results.filter((r) => r.kind === kind && typeof r.tput === "number" && r.tput > 0);
    if (mine.length < 2) continue;
    const four = mine.find((r) => r.n === 4) || mine.reduce((a, r) => (r.n < a.n ? r : a));
    const top = mine.reduce((a, r) => (r.n > a.n ? r : a));
    if (top.n <= four.n) continue;
    lines.push("  " + kind + ": " + top.n + " nodes carry " + ((100 * top.tput) / four.tput).toFixed(0) +
      "% of what " + four.n + " carry; a cast costs " + fmt(four.cpuUsPerCast, 2) + " us of CPU at " + four.n + ", " +
      fmt(top.cpuUsPerCast, 2) + " us at " + top.n + " (" +
      (top.cpuUsPerCast / four.cpuUsPerCast >= 1 ? "+" : "") +
      ((100 * top.cpuUsPerCast) / four.cpuUsPerCast - 100).toFixed(0) + "%)");
  }
  return lines.length ? "Throughput of the largest mesh against 4 nodes (or the smallest):\n" + lines.join("\n") : "";
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const haveSeed = seed.seedAvailable();
  const started = Date.now();
  console.log("clusterluck-native scale bench: sizes " + o.sizes.join(",") + ", idle window " + o.idle +
    " s, load window " + o.load + " s; " + os.cpus().length + " cores, load average " +
    os.loadavg().map((v) => v.toFixed(2)).join(" "));
  const results = [];
  const failures = [];
  let bin = null;
  for (const kind of o.kinds) {
    if (kind === "js" && !haveSeed) {
      console.log("NOTE: " + seed.skipReason() + ": no JS kernel curve");
      continue;
    }
    for (const n of o.sizes) {
      if (((kind === "addon" || kind === "floor") && n > o.maxAddon) || (kind === "js" && n > o.maxJs)) continue;
      try {
        let r;
        if (kind === "rust") {
          bin = bin || rustBinary();
          r = await runRust(bin, n, o);
        } else {
          r = await runKernels(kind === "addon" ? "native" : kind, n, o);
        }
        results.push(r);
        process.stderr.write("[scale] " + kind + " x" + n + ": " + JSON.stringify(r) + "\n");
      } catch (err) {
        failures.push(kind + " x" + n + ": " + err.message);
        process.stderr.write("[scale] " + kind + " x" + n + ": FAILED: " + err.message + "\n");
      }
    }
  }
  console.log("");
  console.log(renderTable(results));
  console.log("");
  const growth = renderGrowth(results);
  if (growth) console.log(growth);
  console.log("Medians over the nodes of a mesh. KiB/link: the RSS a node grows by per link it holds more than " +
    "in the smallest mesh of its kind; CPU %/link: idle CPU over links. us/cast: CPU time of all nodes in " +
    "the load window over the casts received in it; cores: that CPU time over the window. Rust nodes: mesh = " +
    "every TCP link established (the example does not cast), no throughput. Floor: no kernel, the same frames " +
    "written and counted on raw sockets by Node processes.");
  console.log("Total time " + ((Date.now() - started) / 1000).toFixed(0) + " s, load average now " +
    os.loadavg().map((v) => v.toFixed(2)).join(" "));
  if (failures.length) {
    console.log("FAILURES:");
    for (const f of failures) console.log("  " + f);
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ options: o, results, failures }, null, 2) + "\n");
  if (o.svg) fs.writeFileSync(o.svg, svgPlot(results));
  return failures.length ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  }, (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 1;
  });
}

module.exports = { main, svgPlot };
