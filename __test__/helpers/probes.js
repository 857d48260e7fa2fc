// Extra peer commands for the reconnect / lifecycle tests: watching a Connection's
// events and queue, a timed burst of numbered casts, a slow stream call, raw
// delivery tallies, the inbound sockets (sources) and the command-server reply
// path. Every record carries a number from one per-process counter (`seq`), so
// the order of events inside a peer can be compared exactly.
"use strict";

const { Readable } = require("stream");
const { pattern } = require("./bytes");

const DEFAULT_TIMEOUT = 10000;

// ctx() returns {kernel, lib, notify} of the running peer.
function createProbes(ctx) {
  let seq = 0;
  const next = () => ++seq;
  const watched = new Map(); // node id -> {conn, cbCalls, events}
  const streams = new Map(); // name -> state of a streamStart
  const tallies = new Map(); // event -> raw delivery counts
  const socketLogs = new Map(); // event -> [{from, socket}]
  let burst = null;

  const kernel = () => ctx().kernel;
  const toNode = (obj) => ctx().lib.Node.from(obj);

  function watchState(id) {
    let w = watched.get(id);
    if (!w) {
      w = { conn: null, cbCalls: 0, events: [] };
      watched.set(id, w);
    }
    return w;
  }

  function note(id, w, type) {
    const conn = w.conn;
    const entry = {
      type,
      seq: next(),
      queue: conn ? conn.queue().size() : null,
      connecting: conn ? conn.connecting() : null
    };
    w.events.push(entry);
    ctx().notify(Object.assign({ event: "conn", node: id }, entry));
  }

  function attach(id, conn) {
    const w = watchState(id);
    if (!conn || w.conn === conn) return w;
    w.conn = conn;
    for (const type of ["connect", "disconnect", "idle"]) conn.on(type, () => note(id, w, type));
    return w;
  }

  function connState(id, n) {
    const k = kernel();
    const w = watched.get(id);
    const conn = w && w.conn ? w.conn : k.connection(n);
    return {
      inSinks: k.sinks().has(id),
      isConnected: k.isConnected(n),
      exists: Boolean(conn),
      active: conn ? conn.active() : null,
      connecting: conn ? conn.connecting() : null,
      idle: conn ? conn.idle() : null,
      queue: conn ? conn.queue().size() : null,
      maxLen: conn ? conn.maxLen() : null,
      cbCalls: w ? w.cbCalls : 0,
      events: w ? w.events : [],
      seq: next()
    };
  }

  function burstRecord() {
    if (!burst) return { running: false, sent: 0, records: [] };
    return { running: burst.timer !== null, sent: burst.i, records: burst.records };
  }

  return {
    // kernel.connect(node, cb[, opts]) and a watch on the Connection's events.
    // args: node, opts (connection options; left out when absent), wait (resolve on
    // the callback instead of at once), timeout.
    connectWatch(args) {
      const k = kernel();
      const n = toNode(args.node);
      const id = n.id();
      const w = watchState(id);
      let resolveCb = null;
      const cb = () => {
        w.cbCalls += 1;
        note(id, w, "callback");
        if (resolveCb) resolveCb();
      };
      const waiting = args.wait
        ? new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("connect callback timed out")),
            typeof args.timeout === "number" ? args.timeout : DEFAULT_TIMEOUT);
          resolveCb = () => {
            clearTimeout(timer);
            resolve();
          };
        })
        : null;
      if (args.opts) k.connect(n, cb, args.opts);
      else k.connect(n, cb);
      attach(id, k.connection(n));
      if (!waiting) return connState(id, n);
      return waiting.then(() => connState(id, n));
    },

    connState(args) {
      const n = toNode(args.node);
      return connState(n.id(), n);
    },

    // connection(node).maxLen(n); returns what it returned.
    setMaxLen(args) {
      const conn = kernel().connection(toNode(args.node));
      if (!conn) throw new Error("no connection to " + args.node.id);
      return { maxLen: conn.maxLen(args.maxLen), queue: conn.queue().size() };
    },

    // Casts {i} to node every `interval` ms (one per tick, i = 0, 1, ...), recording
    // per message [i, connecting() before the cast, queue().size() before the cast, seq].
    burstStart(args) {
      if (burst && burst.timer) throw new Error("a burst is already running");
      const k = kernel();
      const n = toNode(args.node);
      const event = args.event || "count";
      const b = { i: 0, records: [], timer: null };
      b.timer = setInterval(() => {
        const conn = k.connection(n);
        const connecting = conn ? conn.connecting() : null;
        const queue = conn ? conn.queue().size() : null;
        const i = b.i;
        k.cast(n, event, { i });
        b.records.push([i, connecting, queue, next()]);
        b.i += 1;
      }, args.interval || 3);
      burst = b;
      return { started: true, seq: next() };
    },

    burstStop() {
      if (burst && burst.timer) {
        clearInterval(burst.timer);
        burst.timer = null;
      }
      return burstRecord();
    },

    burstRecord() {
      return burstRecord();
    },

    // A call whose request stream yields `chunk` pattern bytes every `interval` ms
    // until `bytes` are out; returns at once. The reply (if any) is recorded.
    streamStart(args) {
      const k = kernel();
      const n = toNode(args.node);
      const name = args.name || "s";
      const total = args.bytes;
      const chunk = args.chunk || 8192;
      const state = { total, pushed: 0, endSeq: null, error: null, errorSeq: null, reply: null, startSeq: next() };
      streams.set(name, state);
      const src = new Readable({ read() {} });
      const rstream = k.call(n, args.event, src);
      rstream.on("error", (err) => {
        state.reply = { error: err && err.message };
      });
      rstream.on("data", () => {});
      rstream.on("end", () => {
        if (!state.reply) state.reply = { ended: true };
      });
      src.on("error", (err) => {
        if (state.error === null) {
          state.error = err && err.message;
          state.errorSeq = next();
        }
      });
      // Listeners added after call(): this runs once the kernel has handed over its done frame.
      src.on("end", () => {
        state.endSeq = next();
      });
      const timer = setInterval(() => {
        if (state.pushed >= total) {
          clearInterval(timer);
          src.push(null);
          return;
        }
        const len = Math.min(chunk, total - state.pushed);
        src.push(pattern(state.pushed, len));
        state.pushed += len;
      }, args.interval || 10);
      return { started: true, seq: state.startSeq };
    },

    streamState(args) {
      const state = streams.get(args.name || "s");
      if (!state) throw new Error("no such stream");
      return Object.assign({ seq: next() }, state);
    },

    // Counts raw deliveries of `event`: messages, data bytes, done frames, errors.
    tally(args) {
      const t = { deliveries: 0, bytes: 0, done: 0, errors: 0, lastSeq: null };
      tallies.set(args.event, t);
      kernel().on(args.event, (data, stream) => {
        t.deliveries += 1;
        t.lastSeq = next();
        if (Buffer.isBuffer(data)) t.bytes += data.length;
        if (stream && stream.done) t.done += 1;
        if (stream && stream.error) t.errors += 1;
      });
      return { tallying: args.event };
    },

    tallyState(args) {
      return tallies.get(args.event) || null;
    },

    sources() {
      const srcs = kernel().sources();
      return { size: srcs.size, ids: Array.from(srcs.keys()).map(String), seq: next() };
    },

    // Logs from.socket of every message of `event`, for socketInfo.
    socketWatch(args) {
      const log = [];
      socketLogs.set(args.event, log);
      kernel().on(args.event, (data, stream, from) => {
        log.push({ from: from && from.node ? from.node.id() : null, socket: from ? from.socket : undefined });
      });
      return { watching: args.event };
    },

    // Per sender: how many messages, whether from.socket was one and the same object
    // for all of them, and whether sources() holds that very object under its id.
    socketInfo(args) {
      const log = socketLogs.get(args.event) || [];
      const srcs = kernel().sources();
      const groups = {};
      const firsts = [];
      for (const entry of log) {
        let g = groups[entry.from];
        if (!g) {
          g = { count: 0, same: true, first: entry.socket };
          groups[entry.from] = g;
          firsts.push(entry.socket);
        }
        g.count += 1;
        if (entry.socket !== g.first) g.same = false;
      }
      const out = {};
      for (const from of Object.keys(groups)) {
        const g = groups[from];
        const s = g.first;
        out[from] = {
          count: g.count,
          same: g.same,
          defined: s !== undefined && s !== null,
          id: s && s.id !== undefined ? String(s.id) : null,
          inSources: Boolean(s) && srcs.get(s.id) === s
        };
      }
      return { bySender: out, distinct: new Set(firsts).size === firsts.length, sources: srcs.size };
    },

    // `count` casts of {i} and then disconnect(node, force), all in one tick.
    castThenDisconnect(args) {
      const k = kernel();
      const n = toNode(args.node);
      for (let i = 0; i < args.count; i++) k.cast(n, args.event || "count", { i });
      k.disconnect(n, args.force === true);
      return { sent: args.count, seq: next() };
    },

    // clusterluck's CommandServer answer: on `event`, write a signed reply frame back on
    // the inbound socket the request came in on.
    cmdReply(args) {
      const k = kernel();
      const NetKernel = ctx().lib.NetKernel;
      k.on(args.event, (data, stream, from) => {
        const reply = {
          id: from.tag,
          tag: null,
          from: k.self().toJSON(true),
          stream: { done: true },
          data: { ok: true, got: data, node: k.id() }
        };
        k.ipc().server.emit(from.socket, "message", NetKernel._encodeMsg(k.cookie(), reply));
        ctx().notify({ event: "cmdReplied", tag: from.tag, socket: from.socket ? String(from.socket.id) : null });
      });
      return { installed: args.event };
    }
  };
}

module.exports = { createProbes };
