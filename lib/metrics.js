"use strict";
// A kernel's stats() as Prometheus metrics on a prom-client registry (the
// app's own; prom-client is an optional peer dependency). Nothing is counted
// per message here: every metric reads stats() when the registry is scraped
// (prom-client's collect callbacks), and one scrape reads it once.

// Every metric: its name, type, labels and meaning, and how it is read from
// one snapshot of stats(). `each(peers, totals, now, put)` calls
// `put(labels, value)` for every series. The README lists the same table.
const METRICS = [
  {
    name: "clusterluck_peer_up", type: "gauge", labels: ["peer"],
    help: "1 when our link to the node is up (the node showed that it runs), else 0; nodes we link to only",
    each: (peers, totals, now, put) => outbound(peers, (id, p) => put({peer: id}, p.state === "up" ? 1 : 0)),
  },
  counterOf("clusterluck_messages_sent_total", "Messages (frames, pings included) written on our link to the node", (p) => p.sent.messages),
  counterOf("clusterluck_bytes_sent_total", "Bytes written on our link to the node", (p) => p.sent.bytes),
  counterOf("clusterluck_messages_received_total", "Messages (frames) read from the node's links to us", (p) => p.received.messages),
  counterOf("clusterluck_bytes_received_total", "Bytes read from the node's links to us", (p) => p.received.bytes),
  gaugeOf("clusterluck_queued_messages", "Messages held while our link to the node is down", (p) => p.queued),
  gaugeOf("clusterluck_unwritten_bytes", "Bytes handed to our link to the node and not yet written", (p) => p.unwritten),
  counterOf("clusterluck_dropped_messages_total", "Messages to the node dropped unwritten (maxLen or maxQueueBytes)", (p) => p.dropped),
  {
    name: "clusterluck_skipped_frames_total", type: "counter", labels: ["peer", "type"],
    help: "Frames from the node skipped as bad input, by _skip type; peer=\"\" holds links that never named their node",
    each: (peers, totals, now, put) => {
      const named = {};
      for (const [id, p] of Object.entries(peers)) {
        for (const [type, n] of Object.entries(p.skips)) {
          put({peer: id, type}, n);
          named[type] = (named[type] || 0) + n;
        }
      }
      for (const [type, n] of Object.entries(totals.skips)) {
        const unnamed = n - (named[type] || 0);
        if (unnamed > 0) put({peer: "", type}, unnamed);
      }
    },
  },
  gaugeOf("clusterluck_rtt_seconds", "Round trip of the last keep-alive ping the node answered", (p) => (p.rtt === null ? null : p.rtt / 1000)),
  {
    name: "clusterluck_nodedown_total", type: "counter", labels: ["peer", "reason"],
    help: "nodedown events of the node, by reason (tick timeout, closed, stopped)",
    each: (peers, totals, now, put) => outbound(peers, (id, p) => {
      for (const [reason, n] of Object.entries(p.nodedowns)) put({peer: id, reason}, n);
    }),
  },
  // The health fields stats() has beside those.
  gaugeOf("clusterluck_inbound_links", "The node's links to us open now", (p) => p.inbound),
  gaugeOf("clusterluck_last_heard_timestamp_seconds", "When anything last arrived from the node (Unix time)",
    (p) => (p.lastHeard === null ? null : p.lastHeard / 1000)),
  gaugeOf("clusterluck_quiet_seconds", "Time since the node's last sign of life, while its link is up or down",
    (p) => (p.quiet === null ? null : p.quiet / 1000)),
  counterOf("clusterluck_keepalive_pings_total", "Keep-alive pings written on our link to the node", (p) => p.pings),
  counterOf("clusterluck_ticks_missed_total", "Pings that went a quarter of the tick time with nothing heard from the node", (p) => p.ticksMissed),
  counterOf("clusterluck_ack_saves_total", "Whole tick times of silence during which the node's system kept taking what we wrote (a nodedown avoided)",
    (p) => p.ackSaves),
];

// The nodes we have an outbound link to (stats() also lists nodes that only
// link to us, whose state is null).
function outbound(peers, fn) {
  for (const [id, p] of Object.entries(peers)) if (p.state !== null) fn(id, p);
}

function perPeer(type, name, help, value) {
  return {
    name, type, labels: ["peer"], help,
    each: (peers, totals, now, put) => {
      for (const [id, p] of Object.entries(peers)) {
        const v = value(p, now);
        if (v !== null && v !== undefined) put({peer: id}, v);
      }
    },
  };
}

function counterOf(name, help, value) {
  return perPeer("counter", name, help, value);
}

function gaugeOf(name, help, value) {
  return perPeer("gauge", name, help, value);
}

function loadClient() {
  try {
    return require("prom-client");
  } catch (err) {
    if (err && err.code === "MODULE_NOT_FOUND") {
      throw Object.assign(new Error("clusterluck-native/metrics needs prom-client: install it beside the app " +
        "(npm install prom-client), or pass it as the `client` option"), {code: "CLUSTERLUCK_NATIVE_NO_PROM_CLIENT"});
    }
    throw err;
  }
}

// The kernel registered on each registry: metric names are fixed, so one
// registry holds the metrics of one kernel.
const registered = new WeakMap();

// Registers the metrics of `kernel` on `opts.registry` (else prom-client's
// default registry). `opts.client` is the prom-client module to build them
// with (default: the one `require("prom-client")` finds). Registering the
// same kernel again returns the same handle; another kernel on the same
// registry is refused (use a registry per kernel and merge them to serve
// them together). Returns {names, unregister()}.
function register(kernel, opts = {}) {
  if (kernel === null || typeof kernel !== "object" || typeof kernel.stats !== "function") {
    throw new TypeError("register(kernel): expected a kernel (an object with stats())");
  }
  opts = opts === null || typeof opts !== "object" ? {} : opts;
  const client = opts.client || loadClient();
  const registry = opts.registry || client.register;
  const existing = registered.get(registry);
  if (existing) {
    if (existing.kernel === kernel) return existing.handle;
    throw new Error("clusterluck-native/metrics: another kernel's metrics are on this registry already");
  }
  // One stats() per scrape: the registry runs every collect callback of a
  // scrape in one synchronous stretch, so the snapshot lives until the
  // microtasks that follow it.
  let snapshot = null;
  const read = () => {
    if (snapshot === null) {
      snapshot = kernel.stats();
      queueMicrotask(() => {
        snapshot = null;
      });
    }
    return snapshot;
  };
  const metrics = METRICS.map((def) => {
    const Kind = def.type === "counter" ? client.Counter : client.Gauge;
    return new Kind({
      name: def.name,
      help: def.help,
      labelNames: def.labels,
      registers: [registry],
      collect() {
        this.reset();
        const {peers, totals} = read();
        const put = def.type === "counter" ? (labels, v) => this.inc(labels, v) : (labels, v) => this.set(labels, v);
        def.each(peers, totals, Date.now(), put);
      },
    });
  });
  const handle = {
    names: METRICS.map((def) => def.name),
    unregister() {
      if (registered.get(registry) !== entry) return;
      for (const m of metrics) registry.removeSingleMetric(m.name);
      registered.delete(registry);
    },
  };
  const entry = {kernel, handle};
  registered.set(registry, entry);
  return handle;
}

// The table of metrics (name, type, labels, help), for documentation and dashboards.
const TABLE = Object.freeze(METRICS.map(({name, type, labels, help}) => Object.freeze({name, type, labels: labels.slice(), help})));

module.exports = {register, METRICS: TABLE};
