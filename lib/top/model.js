"use strict";
// What the view shows, from the answers of one walk of the mesh: the JSON
// snapshot (`--once --json`), and one row per node with rates against the
// walk before. A node that answered is shown by its own figures; one that
// did not (a JS kernel cannot) by what the nodes that answered say of their
// links to it.

const { isObserver } = require("./observer");
const native = require("../native");

// The high-water mark of a link (`busy`) unless a node says otherwise: the
// default of `highWaterMark`.
const BUSY_BYTES = 16 * 1024 * 1024;
// observer_cli colours a queue red past 85% of its busy limit.
const RED_FRACTION = 0.85;
const YELLOW_FRACTION = 0.5;
// The nodedown reasons a node counts, in the order of its counters.
const DOWN_REASONS = Object.freeze(JSON.parse(native.batchTables()).downReasons);

function withoutObservers(peers) {
  const out = {};
  for (const [id, entry] of Object.entries(peers || {})) {
    if (!isObserver(id)) out[id] = entry;
  }
  return out;
}

function skipsOf(entry) {
  return Object.values(entry.skips || {}).reduce((a, b) => a + b, 0);
}

// The JSON snapshot: `nodes` in the order they were found, then nodes that
// only link to the cluster (no answer lists a link to them).
function snapshot(walk, observerId) {
  const nodes = [];
  const seenBy = new Map();
  // When each view of a node was taken: the rates of a node that did not
  // answer are over those times.
  const seenAt = new Map();
  for (const n of walk.nodes.values()) {
    if (!n.answered) continue;
    for (const [peer, entry] of Object.entries(withoutObservers(n.answer.peers))) {
      if (!seenBy.has(peer)) {
        seenBy.set(peer, {});
        seenAt.set(peer, []);
      }
      seenBy.get(peer)[n.id] = entry;
      seenAt.get(peer).push(n.at);
    }
  }
  const meanAt = (id) => {
    const at = (seenAt.get(id) || []).filter((t) => typeof t === "number");
    return at.length > 0 ? at.reduce((a, b) => a + b, 0) / at.length : walk.time;
  };
  for (const n of walk.nodes.values()) {
    const out = { id: n.id, host: n.host, port: n.port, kind: kindOf(n), answered: n.answered };
    if (n.answered) {
      out.at = n.at;
      out.uptime = n.answer.uptime;
      out.peers = withoutObservers(n.answer.peers);
      out.totals = n.answer.totals;
      out.links = (n.answer.links || []).filter((l) => !isObserver(l.id));
    } else {
      out.why = n.why;
      out.at = meanAt(n.id);
      out.peers = {};
    }
    out.seenBy = seenBy.get(n.id) || {};
    nodes.push(out);
  }
  for (const [id, by] of seenBy) {
    if (walk.nodes.has(id)) continue;
    nodes.push({
      id, host: null, port: null, kind: "unknown", answered: false,
      why: "it links to the cluster, and no node links to it: its address is unknown",
      at: meanAt(id), peers: {}, seenBy: by,
    });
  }
  return { time: walk.time, observer: observerId, nodes };
}

function kindOf(n) {
  if (n.answered) return n.answer.kind;
  if (n.unreachable || /not a clusterluck kernel: it closed/.test(n.why || "")) return "unknown";
  return "js";
}

// Counters of one node: its own figures when it answered, else the sum of
// what the nodes that answered say of their links to it (its in is what
// they sent it, its out what they received from it).
function figures(node) {
  const own = node.answered;
  const entries = own ? Object.values(node.peers) : Object.values(node.seenBy);
  const f = {
    inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0, queued: 0, unwritten: 0, maxUnwritten: 0,
    dropped: 0, skips: 0, rtt: null, downs: [0, 0, 0], expected: 0, up: 0, down: 0,
  };
  for (const e of entries) {
    const inSide = own ? e.received : e.sent;
    const outSide = own ? e.sent : e.received;
    f.inMsgs += inSide.messages;
    f.inBytes += inSide.bytes;
    f.outMsgs += outSide.messages;
    f.outBytes += outSide.bytes;
    f.queued += e.queued;
    f.unwritten += e.unwritten;
    f.maxUnwritten = Math.max(f.maxUnwritten, e.unwritten);
    f.dropped += e.dropped;
    f.skips += skipsOf(e);
    if (typeof e.rtt === "number") f.rtt = f.rtt === null ? e.rtt : Math.max(f.rtt, e.rtt);
    DOWN_REASONS.forEach((r, i) => { f.downs[i] += (e.nodedowns && e.nodedowns[r]) || 0; });
    if (e.state !== null && e.state !== undefined) {
      f.expected += 1;
      if (e.state === "up") f.up += 1;
      if (e.state === "down") f.down += 1;
    }
  }
  return f;
}

function rate(now, before, dt) {
  if (before === undefined || dt <= 0 || now < before) return null;
  return (now - before) / dt;
}

// Keeps the walk before, for rates.
class Model {
  constructor() {
    this._last = new Map();
  }

  // Rows and header figures of a snapshot.
  update(snap) {
    const rows = [];
    const next = new Map();
    const head = { nodes: snap.nodes.length, answered: 0, linksUp: 0, linksDown: 0, msgs: 0, bytes: 0, rated: false };
    for (const node of snap.nodes) {
      const f = figures(node);
      f.at = typeof node.at === "number" ? node.at : snap.time;
      const before = this._last.get(node.id);
      const dt = before === undefined ? 0 : (f.at - before.at) / 1000;
      next.set(node.id, f);
      const r = (k) => rate(f[k], before && before[k], dt);
      const row = {
        id: node.id, kind: node.kind, answered: node.answered, why: node.why || null,
        uptime: node.answered ? node.uptime : null,
        up: f.up, expected: f.expected, down: f.down,
        inMsgs: r("inMsgs"), outMsgs: r("outMsgs"), inBytes: r("inBytes"), outBytes: r("outBytes"),
        queued: f.queued, unwritten: f.unwritten, busy: f.maxUnwritten >= BUSY_BYTES,
        fill: f.maxUnwritten / BUSY_BYTES, dropped: f.dropped,
        droppedNow: before !== undefined && f.dropped > before.dropped,
        skips: f.skips, rtt: f.rtt, downs: f.downs,
      };
      row.level = level(row);
      rows.push(row);
      if (node.answered) {
        head.answered += 1;
        head.linksUp += f.up;
        head.linksDown += f.expected - f.up;
      }
      // Each message once: at its sender, or, for a sender that did not
      // answer, where it was received.
      const out = [row.outMsgs, row.outBytes];
      if (out[0] !== null) {
        head.msgs += out[0];
        head.bytes += out[1];
        head.rated = true;
      }
    }
    this._last = next;
    return { head, rows };
  }
}

// 2: red, 1: yellow, 0: plain.
function level(row) {
  if (row.fill > RED_FRACTION || row.down > 0 || row.droppedNow) return 2;
  if (!row.answered && row.kind === "unknown") return 2;
  if (row.fill > YELLOW_FRACTION || row.up < row.expected) return 1;
  return 0;
}

const SORTS = {
  n: { name: "node", key: (r) => r.id, asc: true },
  m: { name: "msgs/s", key: (r) => (r.inMsgs || 0) + (r.outMsgs || 0) },
  b: { name: "bytes/s", key: (r) => (r.inBytes || 0) + (r.outBytes || 0) },
  u: { name: "unwritten", key: (r) => r.unwritten },
  r: { name: "rtt", key: (r) => (r.rtt === null ? -1 : r.rtt) },
  d: { name: "dropped", key: (r) => r.dropped },
};
const SORT_ORDER = Object.keys(SORTS);

function sortRows(rows, sortKey) {
  const s = SORTS[sortKey] || SORTS.n;
  return rows.slice().sort((a, b) => {
    const ka = s.key(a);
    const kb = s.key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : 0;
    if (c !== 0) return s.asc ? c : -c;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

module.exports = { Model, snapshot, sortRows, SORTS, SORT_ORDER, BUSY_BYTES, DOWN_REASONS };
