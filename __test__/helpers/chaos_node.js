// One node of the chaos cluster, in its own process (and network namespace).
// Started as `chaos_node.js <impl> <index> <json config>`, impl "native" or
// "seed". Talks to the parent over the IPC channel:
//
//   parent -> {cmd: "load", on: bool}         start/stop the steady load
//   parent -> {cmd: "mark", rid}              {rid, sent: {peer: seq}} now
//   parent -> {cmd: "report", rid}            {rid, report} (everything seen)
//   child  -> {event: "ready", pid, epoch}    listening and dialling the mesh
//   child  -> {event: "nodeup"|"nodedown", node, reason, at}
//
// Load: every `castEvery` ms a cast to each other node carrying
// {s: sender, e: epoch, q: seq} (seq counts per destination), and every
// `callEvery` ms a call to one other node in turn, answered with its data.
// What arrives is recorded per (sender, epoch) as the list of seqs in the
// order they came, so the parent can check order, duplicates and losses.
"use strict";

const path = require("path");

const impl = process.argv[2];
const index = Number(process.argv[3]);
const config = JSON.parse(process.argv[4]);
// A new epoch per process start: seqs restart at 0 with it.
const epoch = Date.now() + "-" + process.pid;

const lib = impl === "seed"
  ? require("./seed").loadSeed()
  : require(path.resolve(__dirname, "..", ".."));

const self = config.nodes[index];
const others = config.nodes.filter((n) => n.id !== self.id);
const kernel = lib.createKernel(self.id, self.host, self.port,
  { retry: config.retry, maxRetries: Infinity });
const nodes = new Map(others.map((n) => [n.id, new lib.Node(n.id, n.host, n.port)]));

const sent = Object.fromEntries(others.map((n) => [n.id, 0]));
// received[sender][epoch] = [seq, seq, ...] in arrival order.
const received = {};
const calls = { ok: 0, failed: 0, byType: {}, list: [] };
const nodeEvents = [];
const rss = [];
// When each cast round went out (round q sends seq q to every other node),
// so the parent can tell when a given seq was sent.
const timeline = [];
let rounds = 0;
let loadTimers = [];

kernel.on("chaos", (data) => {
  if (!data || typeof data.s !== "string") return;
  const bySender = received[data.s] || (received[data.s] = {});
  (bySender[data.e] || (bySender[data.e] = [])).push(data.q);
});

// Heavy mode: a sustained flood on some links (config.floods, [{from, to}]),
// casts of {s, e, q, pad} with a large pad, paced by the link's busy/drain
// and at most config.floodBytesPerSec. A receiver keeps a summary per
// (sender, epoch): how many came, the highest seq, how many came at or
// below the highest already seen (twice, or out of order), and the seqs
// skipped.
const floodRecv = {};
kernel.on("flood", (data) => {
  if (!data || typeof data.s !== "string") return;
  const bySender = floodRecv[data.s] || (floodRecv[data.s] = {});
  const r = bySender[data.e] || (bySender[data.e] = { count: 0, max: -1, behind: 0, skipped: 0 });
  r.count++;
  if (data.q <= r.max) r.behind++;
  else {
    // A restarted receiver's first flood cast follows what its last life
    // had: not a gap of this life.
    if (r.max >= 0) r.skipped += data.q - r.max - 1;
    r.max = data.q;
  }
});
const floodSent = {};
const floodTargets = (config.floods || []).filter((f) => f.from === self.id).map((f) => f.to);
const floodBusy = new Map();
let floodTimer = null;
function floodTurn() {
  const pad = "f".repeat(config.floodPad || 65536);
  const perTurn = Math.max(1, Math.round((config.floodBytesPerSec || 16 * 1024 * 1024) / pad.length / 100));
  for (const to of floodTargets) {
    const node = nodes.get(to);
    const conn = kernel.connection(node);
    if (!conn) continue;
    if (!floodBusy.has(conn)) {
      floodBusy.set(conn, false);
      if (typeof conn.on === "function") {
        conn.on("busy", () => floodBusy.set(conn, true));
        conn.on("drain", () => floodBusy.set(conn, false));
      }
    }
    if (floodBusy.get(conn)) continue;
    for (let j = 0; j < perTurn; j++) {
      const q = floodSent[to] = (floodSent[to] || 0) + 1;
      kernel.cast(node, "flood", { s: self.id, e: epoch, q: q - 1, pad });
    }
  }
}
function setFlood(on) {
  if (floodTimer) clearInterval(floodTimer);
  floodTimer = on && floodTargets.length ? setInterval(floodTurn, 10) : null;
}

kernel.on("echo", (data, stream, from) => {
  kernel.reply(from, data);
});

// Failure detection events (kernels that have them).
for (const name of ["nodeup", "nodedown"]) {
  kernel.on(name, (node, reason) => {
    const note = { event: name, node: node && node.id ? node.id() : String(node), reason: reason || null, at: Date.now() };
    nodeEvents.push(note);
    if (process.connected) process.send(note);
  });
}
kernel.on("_skip", () => {});

function castRound() {
  rounds++;
  timeline.push(Date.now());
  for (const [id, node] of nodes) {
    const q = sent[id]++;
    kernel.cast(node, "chaos", { s: self.id, e: epoch, q });
  }
}

let callTurn = index;
function callOne() {
  const target = others[callTurn++ % others.length];
  const started = Date.now();
  kernel.call(nodes.get(target.id), "echo", { from: self.id, at: started }, (err, reply) => {
    const ended = Date.now();
    const type = err ? (err.type || err.code || err.message || "error") : "ok";
    if (err) calls.failed++;
    else calls.ok++;
    calls.byType[type] = (calls.byType[type] || 0) + 1;
    // Kept short: where each call went, when, and how it ended.
    if (calls.list.length < 20000) calls.list.push([target.id, started, ended, type]);
  }, config.callTimeout);
}

function setLoad(on) {
  for (const t of loadTimers) clearInterval(t);
  loadTimers = [];
  setFlood(on);
  if (!on) return;
  loadTimers.push(setInterval(castRound, config.castEvery));
  loadTimers.push(setInterval(callOne, config.callEvery));
}

setInterval(() => rss.push([Date.now(), process.memoryUsage().rss]), 1000).unref();


process.on("message", (msg) => {
  if (msg.cmd === "load") {
    setLoad(msg.on);
  } else if (msg.cmd === "mark") {
    process.send({ rid: msg.rid, sent: Object.assign({}, sent), at: Date.now() });
  } else if (msg.cmd === "report") {
    process.send({
      rid: msg.rid,
      report: { id: self.id, impl, epoch, pid: process.pid, at: Date.now(), sent, timeline, received, calls, nodeEvents, rss, floodSent, floodRecv },
    });
  }
});
process.on("disconnect", () => process.exit(0));

kernel.once("_ready", () => {
  for (const node of nodes.values()) kernel.connect(node);
  process.send({ event: "ready", pid: process.pid, epoch });
  if (config.loadOnStart) setLoad(true);
});
kernel.start(Object.assign({ cookie: config.cookie }, impl === "native" ? config.nativeStart : {}));
