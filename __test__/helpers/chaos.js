// The chaos harness: eight nodes in a full mesh, each in its own network
// namespace with its own address on a bridge this harness makes, under a
// steady load of casts and calls, while nodes are killed and restarted,
// partitioned (their link set down) and healed, and stopped with SIGSTOP.
//
// Needs root and `ip` (iproute2). The private range 10.231.0.0/24 lives only
// inside the namespaces and on the bridge, which has no address of its own,
// so no packet of the test can leave the machine. The namespaces and the
// bridge are removed however the run ends (also on an exception or a signal).
//
// runChaos() returns a report; check() turns it into the list of violated
// expectations (empty when all hold). Used by __test__/chaos.test.js (the
// short form) and scripts/chaos.js (the long form).
"use strict";

const { spawn, spawnSync } = require("child_process");
const path = require("path");
const seed = require("./seed");

const CHILD = path.resolve(__dirname, "chaos_node.js");
const SUBNET = "10.231.0.";
const NODE_COUNT = 8;

function ip(args, { check = true } = {}) {
  const res = spawnSync("ip", args, { encoding: "utf8" });
  if (check && (res.error || res.status !== 0)) {
    throw new Error("ip " + args.join(" ") + ": " + (res.error ? res.error.message : res.stderr.trim()));
  }
  return res;
}

// Why namespaces cannot be made here, or null when they can (checked by
// making and removing one).
function namespaceProblem() {
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root: network namespaces need root";
  const probe = "clkprobe" + process.pid;
  const res = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (res.error) return "ip (iproute2) not available: " + res.error.message;
  if (res.status !== 0) return "cannot make a network namespace: " + res.stderr.trim();
  ip(["netns", "del", probe], { check: false });
  return null;
}

// The namespaces, veth pairs and bridge of one run. Names stay under the
// 15-byte limit of interface names and carry the pid, so runs never clash.
class Net {
  constructor(count) {
    const tag = String(process.pid);
    this.bridge = "clkbr" + tag;
    this.spaces = [];
    for (let k = 0; k < count; k++) {
      this.spaces.push({ ns: "clk" + tag + "n" + k, hostIf: "clk" + tag + "v" + k, addr: SUBNET + (k + 1) });
    }
    this.made = false;
  }

  up() {
    sweepStale();
    this.made = true;
    ip(["link", "add", this.bridge, "type", "bridge"]);
    ip(["link", "set", this.bridge, "up"]);
    for (const s of this.spaces) {
      ip(["netns", "add", s.ns]);
      ip(["link", "add", s.hostIf, "type", "veth", "peer", "name", "eth0", "netns", s.ns]);
      ip(["link", "set", s.hostIf, "master", this.bridge]);
      ip(["link", "set", s.hostIf, "up"]);
      ip(["-n", s.ns, "link", "set", "lo", "up"]);
      ip(["-n", s.ns, "addr", "add", s.addr + "/24", "dev", "eth0"]);
      ip(["-n", s.ns, "link", "set", "eth0", "up"]);
    }
  }

  // Cuts node k off the bridge (its side of the wire goes down) or heals it.
  link(k, up) {
    ip(["link", "set", this.spaces[k].hostIf, up ? "up" : "down"]);
  }

  // Removes everything this run made; safe to call more than once.
  down() {
    if (!this.made) return;
    this.made = false;
    for (const s of this.spaces) ip(["netns", "del", s.ns], { check: false });
    ip(["link", "del", this.bridge], { check: false });
  }
}

// Removes the namespaces and bridges of earlier runs whose process is gone
// (killed before it could clean up).
function sweepStale() {
  const alive = (tag) => {
    try {
      process.kill(Number(tag), 0);
      return true;
    } catch (err) {
      return err.code === "EPERM";
    }
  };
  const spaces = ip(["netns", "list"], { check: false }).stdout || "";
  for (const m of spaces.matchAll(/^clk(\d+)n\d+\b/gm)) {
    if (!alive(m[1])) ip(["netns", "del", m[0]], { check: false });
  }
  const links = ip(["-o", "link", "show", "type", "bridge"], { check: false }).stdout || "";
  for (const m of links.matchAll(/^\d+: clkbr(\d+)[:@]/gm)) {
    if (!alive(m[1])) ip(["link", "del", "clkbr" + m[1]], { check: false });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One node's process: started in its namespace, restartable.
class Member {
  constructor(harness, k, impl) {
    this.h = harness;
    this.k = k;
    this.impl = impl;
    this.id = "n" + k;
    this.child = null;
    this.requests = new Map();
    this.rid = 0;
    this.reports = []; // reports of earlier lives, collected just before a kill
    this.unexpectedExits = [];
    this.expectingExit = false;
    this.stopped = false;
    this.output = "";
  }

  start() {
    const net = this.h.net.spaces[this.k];
    const args = ["netns", "exec", net.ns, process.execPath, CHILD, this.impl, String(this.k), JSON.stringify(this.h.childConfig)];
    const child = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    this.child = child;
    this.expectingExit = false;
    const keep = (d) => {
      this.output = (this.output + d.toString()).slice(-16384);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(this.id + " did not become ready\n" + this.output)), 60000);
      child.on("message", (msg) => {
        if (msg.event === "ready") {
          clearTimeout(timer);
          this.pid = msg.pid;
          resolve();
        } else if (msg.event === "nodeup" || msg.event === "nodedown") {
          this.h.nodeEvents.push(Object.assign({ observer: this.id }, msg));
        } else if (msg.rid !== undefined && this.requests.has(msg.rid)) {
          this.requests.get(msg.rid)(msg);
          this.requests.delete(msg.rid);
        }
      });
    });
    child.on("exit", (code, signal) => {
      if (this.child === child) this.child = null;
      if (!this.expectingExit && !this.h.finished) {
        this.unexpectedExits.push({ code, signal, output: this.output });
      }
    });
    return ready;
  }

  send(msg) {
    if (this.child && this.child.connected) this.child.send(msg);
  }

  request(cmd, timeout = 10000) {
    return new Promise((resolve, reject) => {
      if (!this.child || !this.child.connected) return reject(new Error(this.id + " is not running"));
      const rid = ++this.rid;
      const timer = setTimeout(() => {
        this.requests.delete(rid);
        reject(new Error(this.id + ": no answer to " + cmd));
      }, timeout);
      this.requests.set(rid, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      this.child.send({ cmd, rid });
    });
  }

  // Kills the process (SIGKILL), keeping what it had reported just before.
  async kill() {
    try {
      this.reports.push((await this.request("report", 3000)).report);
    } catch (err) {
      // A node that cannot answer loses its record; counted as unknown.
    }
    this.expectingExit = true;
    const child = this.child;
    if (!child) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    // `ip netns exec` execs node, so the pid is node's own.
    await gone;
  }

  signal(sig) {
    if (this.child) this.child.kill(sig);
  }
}

// The settings of a run; `durationMs` is the time under disruption.
function defaults(opts) {
  return Object.assign({
    durationMs: 60000,
    warmupMs: 4000,
    // Long enough past the tick time for a cut-off or stopped node to be declared down.
    disruptMs: 4000, // how long a node stays dead, cut off or stopped
    recoverMs: 2500, // calm after each disruption
    settleMs: 6000, // after the load stops, for queues to drain
    castEvery: 50,
    callEvery: 200,
    callTimeout: 5000,
    retry: 250,
    cookie: "chaos",
    // Failure detection on the native nodes: quiet links pinged after 500 ms,
    // a node silent for 2 s declared down.
    nativeStart: { netTickTime: 2000 },
    seedNodes: seed.seedAvailable(),
    // Heavy mode: a sustained flood on HEAVY_FLOODS beside the light load.
    heavy: false,
    floodBytesPerSec: 8 * 1024 * 1024,
    log: () => {},
  }, opts);
}

// The flooded links of heavy mode: native senders, toward a native and a
// seed receiver (or a native one, without the seed).
const HEAVY_FLOODS = [{ from: "n0", to: "n2" }, { from: "n4", to: "n5" }];

async function runChaos(options) {
  const opts = defaults(options);
  const net = new Net(NODE_COUNT);
  const h = { net, nodeEvents: [], finished: false };
  const impls = [];
  for (let k = 0; k < NODE_COUNT; k++) impls.push(opts.seedNodes && k % 2 === 1 ? "seed" : "native");
  h.childConfig = {
    nodes: net.spaces.map((s, k) => ({ id: "n" + k, host: s.addr, port: 7022 })),
    retry: opts.retry,
    cookie: opts.cookie,
    castEvery: opts.castEvery,
    callEvery: opts.callEvery,
    callTimeout: opts.callTimeout,
    nativeStart: opts.nativeStart,
    loadOnStart: false,
    floods: opts.heavy ? HEAVY_FLOODS : [],
    floodBytesPerSec: opts.floodBytesPerSec,
  };
  const members = impls.map((impl, k) => new Member(h, k, impl));
  const disruptions = [];
  const cleanup = () => {
    h.finished = true;
    for (const m of members) {
      if (m.child) {
        m.child.kill("SIGCONT");
        m.child.kill("SIGKILL");
      }
    }
    net.down();
  };
  process.once("exit", cleanup);
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    net.up();
    await Promise.all(members.map((m) => m.start()));
    members.forEach((m) => m.send({ cmd: "load", on: true }));
    // Later starts (restarts) put load on at once.
    h.childConfig = Object.assign({}, h.childConfig, { loadOnStart: true });
    opts.log("8 nodes up (" + impls.join(",") + "), load on");
    await sleep(opts.warmupMs);
    const rssStart = {};
    for (const m of members) {
      const r = (await m.request("report")).report;
      rssStart[m.id] = r.rss.length ? r.rss[r.rss.length - 1][1] : null;
    }

    const kinds = ["kill", "partition", "stop"];
    const end = Date.now() + opts.durationMs;
    for (let round = 0; Date.now() < end; round++) {
      const kind = kinds[round % kinds.length];
      // Victims rotate so that every node, native and seed, is hit in turn.
      const m = members[(round * 3 + 1) % NODE_COUNT];
      const d = { kind, node: m.id, impl: m.impl, start: Date.now(), end: null };
      disruptions.push(d);
      opts.log("round " + round + ": " + kind + " " + m.id + " (" + m.impl + ")");
      if (kind === "kill") {
        await m.kill();
        d.down = Date.now();
        await sleep(opts.disruptMs);
        d.restart = Date.now();
        await m.start();
      } else if (kind === "partition") {
        net.link(m.k, false);
        d.down = Date.now();
        await sleep(opts.disruptMs);
        net.link(m.k, true);
      } else {
        m.signal("SIGSTOP");
        m.stopped = true;
        d.down = Date.now();
        await sleep(opts.disruptMs);
        m.signal("SIGCONT");
        m.stopped = false;
      }
      d.end = Date.now();
      await sleep(opts.recoverMs);
    }

    members.forEach((m) => m.send({ cmd: "load", on: false }));
    const stoppedAt = Date.now();
    opts.log("load off; settling");
    await sleep(opts.settleMs);
    const reports = [];
    for (const m of members) {
      const last = (await m.request("report")).report;
      reports.push({ id: m.id, impl: m.impl, lives: m.reports.concat([last]), unexpectedExits: m.unexpectedExits });
    }
    return {
      opts: Object.assign({}, opts, { log: undefined }),
      impls,
      rssStart,
      disruptions,
      nodeEvents: h.nodeEvents,
      stoppedAt,
      reports,
    };
  } finally {
    cleanup();
    process.removeListener("exit", cleanup);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

module.exports = { runChaos, namespaceProblem, NODE_COUNT };

// ---------------------------------------------------------------------------
// Checking a report
// ---------------------------------------------------------------------------

// How long after a kill its peers may still write into the dead link (the
// frames in flight, and those written before the peer saw the close).
const IN_FLIGHT_MS = 300;
// A life shorter than this is not judged for memory; a later life's
// baseline is taken this long after it started.
const RSS_MIN_LIFE_MS = 20000;
const RSS_BASE_MS = 5000;
// How long links take to come back after a disruption ends.
const RECOVERY_MS = 4000;

function byImpl(report, id) {
  const r = report.reports.find((x) => x.id === id);
  return r && r.impl;
}

// Why a cast from `sender` to `to` sent at t may be missing, or null when it
// must not be: native senders lose nothing but what was in flight to a node
// killed, or what a killed sender had not written; a seed sender (node-ipc)
// is only counted, it is the reference, not under test.
function excuse(report, sender, to, t) {
  for (const d of report.disruptions) {
    if (d.node !== sender.id && d.node !== to) continue;
    if (t < d.start - 1000 || t > d.end + RECOVERY_MS) continue;
    const phase = t < d.down ? "before" : t <= d.end ? "during" : "after";
    const what = d.kind + " of " + (d.node === to ? "receiver" : "sender") + ", sent " + phase + ", " + sender.impl + " sender";
    if (sender.impl !== "native") return what;
    if (byImpl(report, to) !== "native") return what + ", seed receiver";
    if (d.kind === "kill" && d.node === sender.id) return what;
    if (d.kind === "kill" && t <= d.down + IN_FLIGHT_MS) return what;
    // Nothing else is excused between native nodes: a link declared down
    // (tick timeout) writes again, on the next link, what its node had not
    // acknowledged, and what is sent after that is queued.
  }
  // node-ipc reassembles the frames of all of a server's connections in one
  // buffer, so a seed receiver can lose one to a concurrent sender.
  if (byImpl(report, to) !== "native") return "no disruption, seed receiver";
  return null;
}

// A nodedown between a and b (seen by either) after `from` and before `to`.
function nodedownBetween(report, a, b, from, to) {
  return report.nodeEvents.find((e) => e.event === "nodedown" &&
    ((e.observer === a && e.node === b) || (e.observer === b && e.node === a)) && e.at > from && e.at < to);
}

// With failure detection on (netTickTime): every native node that lived
// through a disruption of another node saw `nodedown` for it within the tick
// window (at once for a kill) and `nodeup` once it was back; no node was
// declared down that was not disrupted; calls waiting on a node when it was
// declared down failed at once with NODE_DOWN.
function checkNodeEvents(report, problems, figures) {
  const tick = report.opts.nativeStart && report.opts.nativeStart.netTickTime;
  if (!tick) return;
  const f = figures.nodeEvents = { nodedown: 0, nodeup: 0, late: 0, missing: 0, spurious: 0, callsFailedNodeDown: 0 };
  const events = report.nodeEvents;
  for (const e of events) f[e.event] = (f[e.event] || 0) + 1;
  const natives = report.reports.filter((r) => r.impl === "native");
  const disturbed = (id, from, to) => report.disruptions.some((d) => d.node === id && d.start <= to && d.end + RECOVERY_MS >= from);
  for (const d of report.disruptions) {
    const detectable = d.kind === "kill" || d.end - d.down > tick * 1.5;
    if (!detectable) continue;
    const limit = d.kind === "kill" ? 2000 : tick * 1.5 + 1500;
    for (const o of natives) {
      if (o.id === d.node || disturbed(o.id, d.start - 1000, d.end + RECOVERY_MS)) continue;
      const down = events.find((e) => e.observer === o.id && e.event === "nodedown" && e.node === d.node && e.at >= d.down - 100 && e.at <= d.end + 1000);
      if (!down) {
        f.missing++;
        problems.push(o.id + " saw no nodedown for " + d.node + " (" + d.kind + " at +" + (d.down - report.disruptions[0].start) + " ms)");
      } else if (down.at - d.down > limit) {
        f.late++;
        problems.push(o.id + " saw nodedown for " + d.node + " " + (down.at - d.down) + " ms after its " + d.kind + " (limit " + limit + ")");
      }
      const up = events.find((e) => e.observer === o.id && e.event === "nodeup" && e.node === d.node && e.at >= (down ? down.at : d.down) && e.at <= d.end + RECOVERY_MS + 4000);
      if (down && !up) {
        f.missing++;
        problems.push(o.id + " saw no nodeup for " + d.node + " after its " + d.kind);
      }
    }
  }
  for (const e of events) {
    if (e.event !== "nodedown") continue;
    if (!disturbed(e.node, e.at - 1000 - tick * 2, e.at) && !disturbed(e.observer, e.at - 1000 - tick * 2, e.at)) {
      f.spurious++;
      problems.push(e.observer + " declared " + e.node + " down (" + e.reason + ") with no disruption of either");
    }
  }
  // Calls pending when their target was declared down.
  for (const caller of natives) {
    for (const life of caller.lives) {
      for (const [target, started, ended, type] of life.calls.list) {
        // The calls fail first, then the event is emitted: a call failed by
        // it ended a little before `at`; one still pending ended after it.
        const down = events.find((e) => e.observer === caller.id && e.event === "nodedown" && e.node === target && e.at > started &&
          (type === "NODE_DOWN" ? e.at >= ended && e.at - ended < 100 : e.at < ended));
        if (!down) continue;
        if (type === "NODE_DOWN") f.callsFailedNodeDown++;
        else problems.push("call " + caller.id + " -> " + target + " pending at nodedown ended with " + type + " " + (ended - down.at) + " ms later");
      }
    }
  }
}

// Checks a report. Returns { problems: [...], figures: {...} }: an empty
// problems list means every expectation held.
function check(report, { rssSlackBytes = 48 * 1024 * 1024 } = {}) {
  const problems = [];
  const figures = { casts: { sent: 0, received: 0, duplicates: 0, reorderedAtSeedReceiver: 0, excused: {}, lost: 0 }, calls: {}, rss: {} };
  const byId = new Map(report.reports.map((r) => [r.id, r]));

  for (const r of report.reports) {
    for (const e of r.unexpectedExits) {
      problems.push(r.id + " (" + r.impl + ") exited on its own: code " + e.code + ", signal " + e.signal + "\n" + e.output.slice(-2000));
    }
  }

  // Casts: at least once, in order per link, none lost outside a disruption
  // of either end.
  for (const sender of report.reports) {
    for (const life of sender.lives) {
      for (const [to, count] of Object.entries(life.sent)) {
        const receiver = byId.get(to);
        const got = new Set();
        for (const rl of receiver.lives) {
          const seqs = ((rl.received[sender.id] || {})[life.epoch]) || [];
          let max = -1;
          for (const q of seqs) {
            if (got.has(q)) {
              // A native sender writes again after a lost link only what
              // its node never acknowledged, and keeps the link of a node
              // declared down: on plain TCP nothing arrives twice.
              figures.casts.duplicates++;
              if (sender.impl === "native" && figures.casts.duplicates <= 10) {
                problems.push("twice: " + sender.id + " -> " + to + " (" + receiver.impl + ") seq " + q);
              }
              continue;
            }
            if (q < max) {
              // A native receiver delivers a node's links one after the
              // other (a newer link waits for the older one to finish, or
              // closes it once it has gone silent): out of order is a fault.
              // A seed receiver reads its connections side by side, so the
              // frames a sender's old socket still held (sent before the
              // link was declared down) can arrive after newer ones, on the
              // link that replaced it: counted, so it is seen.
              if (receiver.impl !== "native" && nodedownBetween(report, sender.id, to, life.timeline[q], Infinity)) {
                figures.casts.reorderedAtSeedReceiver++;
              } else {
                problems.push("out of order: " + sender.id + " -> " + to + " seq " + q + " after " + max);
              }
            }
            max = Math.max(max, q);
            got.add(q);
          }
        }
        figures.casts.sent += count;
        figures.casts.received += got.size;
        // What the sender sent after its last record is not counted: a
        // killed life's count is from just before the kill.
        for (let q = 0; q < count; q++) {
          if (got.has(q)) continue;
          const t = life.timeline[q];
          const key = excuse(report, sender, to, t);
          if (key) {
            figures.casts.excused[key] = (figures.casts.excused[key] || 0) + 1;
          } else {
            figures.casts.lost++;
            if (figures.casts.lost <= 10) {
              problems.push("cast lost: " + sender.id + " (" + sender.impl + ") -> " + to + " seq " + q + " sent at +" + (t - report.disruptions[0].start) + " ms");
            }
          }
        }
      }
    }
  }
  if (figures.casts.lost > 10) problems.push("... " + figures.casts.lost + " casts lost in all");

  // Heavy mode's floods: on plain TCP a native sender's flood arrives in
  // order and none twice; what did not arrive is counted.
  const flood = figures.flood = { sent: 0, received: 0, behind: 0, skipped: 0, unarrived: 0 };
  for (const sender of report.reports) {
    for (const life of sender.lives) {
      for (const [to, count] of Object.entries(life.floodSent || {})) {
        flood.sent += count;
        let got = 0;
        for (const rl of byId.get(to).lives) {
          const r = ((rl.floodRecv || {})[sender.id] || {})[life.epoch];
          if (!r) continue;
          got += r.count;
          flood.behind += r.behind;
          flood.skipped += r.skipped;
          if (r.behind > 0 && sender.impl === "native") {
            problems.push("flood " + sender.id + " -> " + to + ": " + r.behind + " casts twice or out of order");
          }
        }
        flood.received += got;
        flood.unarrived += Math.max(0, count - got);
      }
    }
  }

  // Calls between two nodes neither of which was disrupted around the call succeed.
  for (const caller of report.reports) {
    for (const life of caller.lives) {
      for (const [target, started, ended, type] of life.calls.list) {
        const ws = report.disruptions.filter((d) => (d.node === caller.id || d.node === target) &&
          ended >= d.start - 1000 && started <= d.end + RECOVERY_MS);
        // A seed node is the reference, not under test: its failures are
        // counted (node-ipc shares one reassembly buffer among all the
        // connections of a server, so concurrent senders can corrupt its frames).
        const seedInvolved = caller.impl !== "native" || byId.get(target).impl !== "native";
        const key = (ws.length ? "disrupted " : "calm ") + type + (seedInvolved && type !== "ok" ? " (seed involved)" : "");
        figures.calls[key] = (figures.calls[key] || 0) + 1;
        if (!ws.length && type !== "ok" && !seedInvolved) {
          problems.push("call " + caller.id + " -> " + target + " failed (" + type + ") with no disruption near it");
        }
      }
    }
  }

  checkNodeEvents(report, problems, figures);

  // Memory: each life of a native node that lasted RSS_MIN_LIFE_MS ends
  // near where it stood RSS_BASE_MS into it (the first life: after warm-up).
  for (const r of report.reports) {
    if (r.impl !== "native") continue;
    r.lives.forEach((life, i) => {
      const samples = life.rss;
      if (!samples.length || samples[samples.length - 1][0] - samples[0][0] < RSS_MIN_LIFE_MS) return;
      const base = i === 0 ? report.rssStart[r.id] : (samples.find((x) => x[0] - samples[0][0] >= RSS_BASE_MS) || samples[0])[1];
      const end = samples[samples.length - 1][1];
      const peak = samples.reduce((m, x) => Math.max(m, x[1]), 0);
      const key = r.id + (r.lives.length > 1 ? "#" + (i + 1) : "");
      figures.rss[key] = { startMb: mb(base), endMb: mb(end), peakMb: mb(peak), minutes: Math.round((samples[samples.length - 1][0] - samples[0][0]) / 6000) / 10 };
      if (base && end > base + Math.max(rssSlackBytes, base / 2)) {
        problems.push(key + " RSS grew from " + mb(base) + " MB to " + mb(end) + " MB");
      }
    });
  }
  return { problems, figures };
}

function mb(n) {
  return n === null || n === undefined ? null : Math.round(n / 1048576);
}

module.exports.check = check;
