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
      report: { id: self.id, impl, epoch, pid: process.pid, at: Date.now(), sent, timeline, received, calls, nodeEvents, rss },
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
