"use strict";
// NetKernel: clusterluck's message router with the network in Rust.
//
// The public surface (methods, events, errors, static helpers) is the JS
// kernel's. Sockets, framing, HMAC, envelopes, reconnects and queues run on
// the addon's own threads; this file turns its event batches into the same
// `kernel.emit(id, data, stream, from)` calls, and hands outgoing messages to
// the Rust peer tasks. Messages to our own node never touch the network.

const EventEmitter = require("events").EventEmitter;
const stream = require("stream");
const crypto = require("crypto");
const util = require("util");

const native = require("./native");
const Node = require("./node");
const Connection = require("./connection");
const consts = require("./consts");

const RAND_BYTE_LEN = 24;
// Within a batch from the network side, sends made by its handlers are handed
// over after every 64 messages (see _onNative).
const FLUSH_MASK = 63;

// Kernels with messages of the current turn not yet handed to Rust. A process
// that exits in the middle of a turn (`cast(); process.exit()`) still writes
// them, from this thread, where the link is idle; then it waits a little for
// the network threads to write what they were handed (Buffers, bursts), as a
// JS kernel's socket writes would have reached the OS by then.
const unflushed = new Set();
const withPeers = new Set(); // WeakRefs of kernels that opened a connection
const EXIT_DRAIN_MS = 500;
process.on("exit", () => {
  for (const kernel of unflushed) kernel._flushPending(true);
  const deadline = Date.now() + EXIT_DRAIN_MS;
  for (const ref of withPeers) {
    const kernel = ref.deref();
    if (kernel) kernel._native.drain(Math.max(0, deadline - Date.now()));
  }
});
const nodeDebug = util.debuglog("clusterluck-native");
// DEBUG=clusterluck:lib:kernel, as for the JS kernel (see debug.js).
const log = require("./debug")("clusterluck:lib:kernel");
function debug(...args) {
  nodeDebug(...args);
  log(...args);
}

// node-ipc's TLS option names that the Rust side uses; `dhparam` and the rest
// of Node's tls options have no rustls counterpart and are ignored.
const TLS_KEYS = ["private", "public", "trustedConnections", "rejectUnauthorized", "requestCert"];

// Normalises node-ipc's TLS options (or null for plain TCP) for the addon.
function tlsInput(tls) {
  if (!isObject(tls)) return null;
  const out = {};
  for (const key of Object.keys(tls)) {
    if (!TLS_KEYS.includes(key)) {
      if (!["key", "cert", "ca"].includes(key)) debug("ignoring TLS option %s", key);
      continue;
    }
    const value = tls[key];
    if (value === undefined || value === null) continue;
    if (key === "trustedConnections") out[key] = [].concat(value).map(String);
    else if (key === "private" || key === "public") out[key] = String(value);
    else out[key] = Boolean(value);
  }
  return out;
}

// How a batch of events from the addon is read, as the addon writes it
// (src/napi/batch.rs): entry kinds and payload modes by name.
const TABLES = JSON.parse(native.batchTables());
const EV = Object.freeze(TABLES.kinds);
const MODE = Object.freeze(TABLES.modes);

function isObject(v) {
  return v !== null && (typeof v === "object" || typeof v === "function");
}

// Where a node is only looked up by id, as in the JS kernel, an object with
// an id() method will do (apps pass such stand-ins); connect needs an address.
function checkNode(node) {
  if (!isObject(node) || typeof node.id !== "function") {
    throw new TypeError("Invalid node: expected an object with an id() method.");
  }
}

function checkAddress(node) {
  if (!isObject(node) || typeof node.id !== "function" ||
      typeof node.host !== "function" || typeof node.port !== "function") {
    throw new TypeError("Invalid node: expected an object with id(), host() and port() methods.");
  }
}

// The Error of a listen that failed, shaped as Node's servers shape theirs
// (`listen EADDRINUSE: address already in use 127.0.0.1:7022`, with code,
// errno, syscall, address and port); `detail` is the network thread's text,
// the message where the system has no description for the code.
function listenError(code, detail, host, port) {
  let errno;
  let description;
  if (typeof util.getSystemErrorMap === "function") {
    for (const [n, [name, desc]] of util.getSystemErrorMap()) {
      if (name === code) {
        errno = n;
        description = desc;
        break;
      }
    }
  }
  const message = description ? "listen " + code + ": " + description + " " + host + ":" + port : detail;
  return Object.assign(new Error(message), {code, errno, syscall: "listen", address: host, port: Number(port)});
}

// An inbound connection, as `from.socket` and the values of sources().
class Socket {
  constructor(kernel, id, remoteAddress, remotePort) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    Object.defineProperty(this, "_kernel", {value: kernel});
  }

  // Writes a frame back on this socket, as node-ipc's server.emit(socket, ...) does.
  write(event, data) {
    const json = JSON.stringify(data);
    return this._kernel._native.writeSource(this.id, String(event), json === undefined ? "null" : json);
  }
}

// What `kernel.ipc().server` offers once started: enough of node-ipc's server
// for clusterluck's CommandServer to answer its CLI on an inbound socket.
class ServerShim extends EventEmitter {
  constructor(kernel) {
    super();
    Object.defineProperty(this, "_kernel", {value: kernel});
  }

  emit(socket, event, data) {
    if (socket instanceof Socket) return socket.write(event, data);
    return EventEmitter.prototype.emit.apply(this, arguments);
  }
}

class NetKernel extends EventEmitter {
  constructor(ipc, id, host, port) {
    super();
    this._ipc = ipc;
    this._id = id;
    this._host = host;
    this._port = port;
    this._self = new (this.constructor._Node)(id, host, port);
    this._srcs = new Map();
    this._sinks = new Map();
    this._cookie = null;
    this._ownConfig = Object.assign({}, consts.ipcDefaults);
    this._native = new native.NativeKernel(this._onNative.bind(this));
    this._peers = new Map();     // peer id -> Connection
    this._nodes = [];            // sender nodes, by the index Rust gave them
    this._sockets = new Map();   // socket id -> Socket
    this._listening = false;
    this._generation = -1;
    this._alive = false;
    this._server = null;
    this._fromJson = null;
    this._fromMember = null;
    this._tokenInterval = consts.tokenGenInterval;
    this._resetToken();
    this._toFlush = [];
    // Calls, callSingletons and pings waiting for a reply from another
    // node, by reply tag: {node: its id, fail(err)}. Failed with NODE_DOWN
    // when the node goes down.
    this._waiting = new Map();
    this._netTickTime = consts.netTickTime;
    this._flushAll = () => this._flushPending(false);
    this._configure();
  }

  start(opts) {
    opts = isObject(opts) && !Array.isArray(opts) ? opts : {};
    const config = this._config();
    config.id = this._id;
    config.retry = opts.retry || config.retry;
    config.maxRetries = opts.maxRetries || config.maxRetries;
    this._cookie = opts.cookie || null;
    config.tls = opts.tls || config.tls;
    if (opts.maxFrameLength !== undefined) this._maxFrame = opts.maxFrameLength;
    // Defaults for the connections opened from now on (connect() options win).
    if (opts.maxQueueBytes !== undefined) this._maxQueueBytes = opts.maxQueueBytes;
    if (opts.highWaterMark !== undefined) this._highWaterMark = opts.highWaterMark;
    if (typeof opts.netTickTime === "number" && opts.netTickTime >= 0) this._netTickTime = opts.netTickTime;
    if (opts.maxInboundBytes !== undefined) this._native.setInboundBudget(Number(opts.maxInboundBytes));
    this._configure();
    this._generation = this._native.listen(String(this._host), Number(this._port), tlsInput(config.tls));
    this._tokenInterval = opts.tokenGenInterval || consts.tokenGenInterval;
    this._resetToken();
    this._server = new ServerShim(this);
    if (isObject(this._ipc)) {
      try {
        this._ipc.server = this._server;
      } catch (e) {
        // A frozen ipc object keeps its own server; nothing else depends on it.
      }
    }
    this._listening = true;
    this._updateRef();
    debug("Starting network kernel on " + this._id + " (" + this._host + ":" + this._port + ")");
    return this;
  }

  stop() {
    debug("Stopping network kernel on " + this._id);
    this._native.close();
    // A READY or LISTEN_ERROR still on its way belongs to a listener that is gone.
    this._generation = -1;
    this._srcs = new Map();
    this._sockets = new Map();
    this._listening = false;
    this._updateRef();
    this.emit("_stop");
    return this;
  }

  ipc(ipc) {
    if (ipc !== undefined) this._ipc = ipc;
    return this._ipc;
  }

  id(id) {
    if (typeof id === "string") {
      this._id = id;
      this._self.id(id);
      this._configure();
    }
    return this._id;
  }

  host(host) {
    if (typeof host === "string") {
      this._host = host;
      this._self.host(host);
      this._configure();
    }
    return this._host;
  }

  port(port) {
    if (typeof port === "number") {
      this._port = port;
      this._self.port(port);
      this._configure();
    }
    return this._port;
  }

  self(node) {
    if (typeof node === "object" && node !== null) {
      this._self = node;
      this._id = node.id();
      this._port = node.port();
      this._host = node.host();
      this._configure();
    }
    return this._self;
  }

  sources(sources) {
    if (sources instanceof Map) this._srcs = sources;
    return this._srcs;
  }

  sinks(sinks) {
    if (sinks instanceof Map) this._sinks = sinks;
    return this._sinks;
  }

  cookie(cookie) {
    if (typeof cookie === "string") {
      // What this turn already sent is signed with the cookie it was sent under.
      this._flushPending(false);
      this._cookie = cookie;
      this._configure();
    }
    return this._cookie;
  }

  connect(node, cb, opts = consts.connDefaults) {
    checkAddress(node);
    if (node.id() === this._id || this._sinks.has(node.id())) {
      if (typeof cb === "function") return cb();
      return this;
    }
    debug("Connecting to IPC server on node " + node.id());
    const conn = new Connection(this._ipc, node, opts, this);
    conn.start();
    this._sinks.set(node.id(), conn);
    if (typeof cb === "function") conn.once("connect", cb);
    return this;
  }

  disconnect(node, force = false) {
    checkNode(node);
    if (node.id() === this._id || !this._sinks.has(node.id())) return this;
    debug("Disconnecting from IPC server on node " + node.id());
    this._sinks.get(node.id()).stop(force);
    this._sinks.delete(node.id());
    return this;
  }

  isConnected(node) {
    checkNode(node);
    if (node.id() === this._id) return true;
    return this._sinks.has(node.id());
  }

  connection(node) {
    checkNode(node);
    if (node.id() === this._id) return null;
    return this._sinks.get(node.id()) || null;
  }

  ping(node, cb, timeout = Infinity) {
    checkNode(node);
    if (node.id() === this._id) return cb(null, "pong");
    if (!this._sinks.has(node.id())) return cb(new Error("Unknown node " + node.id()));
    const down = this._downError(node, timeout);
    if (down !== null) return cb(down);
    const id = this._generateToken();
    const t = this._setupSingletonReply(node, id, timeout, cb);
    const out = this.connection(node)._sendPing(id);
    if (out instanceof Error) {
      this._teardownSingletonReply(id, t);
      return cb(out);
    }
  }

  call(node, event, data, cb, timeout = Infinity) {
    checkNode(node);
    const id = this._generateToken();
    const rstream = this._rstream(node, id, timeout);
    let down;
    if (node.id() === this._id) {
      process.nextTick(() => this._streamLocal(event, id, data));
    } else if (!this._sinks.has(node.id())) {
      process.nextTick(() => rstream.emit("error", new Error("Unknown node " + node.id())));
    } else if ((down = this._downError(node, timeout)) !== null) {
      process.nextTick(() => rstream.emit("error", down));
    } else {
      let err;
      try {
        err = this._streamData(node, event, id, data);
      } catch (e) {
        err = e;
      }
      if (err !== null) process.nextTick(() => rstream.emit("error", err));
    }
    if (typeof cb === "function") NetKernel._collectStream(rstream, cb);
    return rstream;
  }

  callSingleton(node, event, data, cb, timeout = Infinity) {
    checkNode(node);
    const id = this._generateToken();
    const t = this._setupSingletonReply(node, id, timeout, cb);
    let down;
    if (node.id() === this._id) {
      this._streamLocal(event, id, data);
    } else if (!this._sinks.has(node.id())) {
      this._teardownSingletonReply(id, t);
      return cb(new Error("Unknown node " + node.id()));
    } else if ((down = this._downError(node, timeout)) !== null) {
      this._teardownSingletonReply(id, t);
      return cb(down);
    } else {
      let err;
      try {
        err = this._streamData(node, event, id, data);
      } catch (e) {
        err = e;
      }
      if (err !== null) {
        this._teardownSingletonReply(id, t);
        return cb(err);
      }
    }
  }

  multicall(nodes, event, data, cb, timeout = Infinity) {
    if (typeof cb !== "function") {
      return nodes.map((node) => this.call(node, event, data, null, timeout));
    }
    return mapAll(nodes, (node, done) => this.call(node, event, data, done, timeout), cb);
  }

  multicallSingleton(nodes, event, data, cb, timeout = Infinity) {
    return mapAll(nodes, (node, done) => this.callSingleton(node, event, data, done, timeout), cb);
  }

  reply(from, data) {
    if (typeof from.tag !== "string") {
      throw new Error("Cannot reply to message with no callback tag.");
    }
    return this.cast(from.node, from.tag, data);
  }

  cast(node, event, data) {
    checkNode(node);
    if (node.id() === this._id) return this._streamLocal(event, null, data);
    if (!this._sinks.has(node.id())) return;
    this._streamData(node, event, null, data);
    return this;
  }

  // Health of every link, by node id, and totals: what went out on our
  // link to it and what came in on its links to us. The addon reads them
  // from counters the network threads keep (no round trip to them), for the
  // links of our connections, in one call: cheap enough to call every second
  // under load. Added here: what a connection holds while its link is down,
  // and "closed" for a connection stopped (its link no longer tries).
  stats() {
    const links = [];
    for (const conn of this._sinks.values()) if (conn._peer) links.push(conn._peer);
    const stats = JSON.parse(this._native.stats(links));
    const {peers, totals} = stats;
    for (const [id, conn] of this._sinks) {
      const peer = conn._peer ? peers[id] : undefined;
      if (peer === undefined) continue;
      // The addon says up (shown to run), down (declared down for its
      // silence, the link kept) or connecting (no link, or a link to a node
      // not shown to run yet); a stopped connection's link tries no more.
      if (peer.state === "connecting" && !conn.active()) peer.state = "closed";
      const held = conn._queue.held();
      peer.queued += held;
      peer.unwritten += conn._heldBytes;
      peer.dropped += conn._heldDropped;
      totals.queued += held;
      totals.unwritten += conn._heldBytes;
      totals.dropped += conn._heldDropped;
    }
    return stats;
  }

  abcast(nodes, event, data) {
    nodes.forEach((node) => this.cast(node, event, data));
    return this;
  }

  // ---- local routing (no network), as the JS kernel does it ----

  _streamLocal(event, tag, data) {
    const rstream = {done: false};
    if (!(data instanceof stream.Stream)) {
      rstream.done = true;
      this._sendLocal(event, tag, rstream, data);
      return this;
    }
    rstream.stream = crypto.randomBytes(RAND_BYTE_LEN).toString("hex");
    const chunk = Object.assign({}, rstream);
    const onData = (d) => this._sendLocal(event, tag, chunk, d);
    data.on("data", onData);
    data.once("end", () => this._finishLocal(event, tag, rstream));
    data.on("error", (err) => {
      data.removeListener("data", onData);
      if (data.resume) data.resume();
      this._sendLocalError(event, tag, rstream, err);
    });
    return this;
  }

  _sendLocal(event, tag, stream, data) {
    this.emit(event, data, stream, {tag: tag, node: this._self});
    return this;
  }

  _finishLocal(event, tag, stream) {
    if (stream.done) return this;
    stream.done = true;
    return this._sendLocal(event, tag, stream, null);
  }

  _sendLocalError(event, tag, stream, err) {
    if (stream.done) return this;
    stream.done = true;
    stream.error = NetKernel._encodeError(err);
    return this._sendLocal(event, tag, stream, null);
  }

  // ---- sending over the network ----

  _streamData(node, event, tag, data) {
    const conn = this.connection(node);
    if (!(data instanceof stream.Stream)) {
      return conn._sendMessage(event, tag, true, null, null, data);
    }
    const streamId = crypto.randomBytes(RAND_BYTE_LEN).toString("hex");
    const state = {done: false, stream: streamId};
    conn.initiateStream(state);
    const onData = (chunk) => {
      const out = conn._sendMessage(event, tag, false, streamId, null, chunk);
      if (out instanceof Error) data.emit("error", out);
    };
    data.on("data", onData);
    data.once("end", () => {
      if (state.done) return;
      state.done = true;
      const out = conn._sendMessage(event, tag, true, streamId, null, null);
      if (out instanceof Error) data.emit("error", out);
    });
    data.on("error", (err) => {
      data.removeListener("data", onData);
      if (data.resume) data.resume();
      if (state.done) return;
      state.done = true;
      conn._sendMessage(event, tag, true, streamId, NetKernel._encodeError(err), null);
    });
    return null;
  }

  // The JS kernel's single-message send, kept for code that calls it.
  _sendData(source, conn, event, tag, stream, data) {
    const out = conn._sendMessage(event, tag, !!stream.done, stream.stream || null,
      stream.error === undefined ? null : stream.error, data === undefined ? undefined : data);
    if (out instanceof Error) {
      if (source) source.emit("error", out);
      else return out;
    }
    return null;
  }

  _addSocket(socket) {
    if (this._srcs.has(socket.id)) return this;
    this._srcs.set(socket.id, socket);
    return this;
  }

  _disconnectSocket(socket, id) {
    this._srcs.delete(id);
    return this;
  }

  _rstream(node, id, timeout = Infinity) {
    const pstream = new stream.PassThrough({objectMode: true});
    this.on(id, (data, stream, from) => this._rcvData(node, id, pstream, data, stream, from));
    // Unlike the JS kernel, a call that failed (unknown node, inactive link,
    // an error reply) stops listening for its replies at once, and does not
    // time out later with a second error (nor keep the process alive).
    pstream.once("error", () => this.removeAllListeners(id));
    if (node.id() !== this._id) {
      this._waiting.set(id, {node: node.id(), fail: (err) => pstream.emit("error", err)});
      const untrack = () => this._waiting.delete(id);
      pstream.once("finish", untrack);
      pstream.once("error", untrack);
    }
    if (timeout === Infinity || typeof timeout !== "number") return pstream;
    const t = setTimeout(() => {
      this.removeAllListeners(id);
      pstream.emit("error", new Error("Timeout."));
    }, timeout);
    pstream.once("finish", () => clearTimeout(t));
    pstream.once("error", () => clearTimeout(t));
    return pstream;
  }

  _rcvData(node, id, pstream, data, stream, from) {
    if (from.node.id() !== node.id()) {
      return this._skipMsg(Object.assign(new Error("Synchronous response node mismatch."), {
        type: "INVALID_REPLY",
        actual: from.node.id(),
        expected: node.id(),
      }));
    }
    if (stream.error) pstream.emit("error", stream.error);
    if (data) pstream.write(data);
    if (stream.done) {
      this.removeAllListeners(id);
      pstream.end();
    }
  }

  _setupSingletonReply(node, id, timeout, cb) {
    let t = null;
    if (timeout !== Infinity) {
      t = setTimeout(() => {
        this.removeAllListeners(id);
        this._waiting.delete(id);
        return cb(new Error("Timeout."));
      }, timeout);
    }
    if (node.id() !== this._id) {
      this._waiting.set(id, {node: node.id(), fail: (err) => {
        this._teardownSingletonReply(id, t);
        cb(err);
      }});
    }
    this.once(id, (data, stream, from) => {
      this._teardownSingletonReply(id, t);
      if (from.node.id() !== node.id()) {
        return cb(Object.assign(new Error("Synchronous response node mismatch."), {
          type: "INVALID_REPLY",
          actual: from.node.id(),
          expected: node.id(),
        }));
      }
      if (stream.error) return cb(stream.error);
      return cb(null, data);
    });
    return t;
  }

  _teardownSingletonReply(id, t) {
    clearTimeout(t);
    this._waiting.delete(id);
    this.removeAllListeners(id);
    return this;
  }

  // Reply tags as the JS kernel makes them: a random base and a hex counter.
  // The base is renewed every tokenGenInterval, checked here rather than by
  // an interval timer, so no timer keeps the process alive.
  _generateToken() {
    if (Date.now() - this._tokenBorn >= this._tokenInterval) this._resetToken();
    const token = this._baseToken + this._index.toString(16);
    this._index += 1;
    return token;
  }

  _resetToken() {
    this._baseToken = crypto.randomBytes(RAND_BYTE_LEN).toString("hex");
    this._index = 0;
    this._tokenBorn = Date.now();
  }

  _skipMsg(data) {
    if (log.enabled) log("Skipping message", data);
    this.emit("_skip", data);
    return this;
  }

  // ---- the bridge to the addon ----

  _config() {
    if (isObject(this._ipc) && isObject(this._ipc.config)) return this._ipc.config;
    return this._ownConfig;
  }

  _configure() {
    const max = this._maxFrame === undefined ? undefined : Number(this._maxFrame);
    this._native.configure(String(this._id), String(this._host), Number(this._port),
      typeof this._cookie === "string" && this._cookie !== "" ? this._cookie : null, max);
    this._fromJson = this._native.senderJson();
    this._fromMember = ',"from":' + this._fromJson + ',"stream":';
    for (const conn of this._peers.values()) conn._forgetHeads();
  }

  // Connections with envelopes waiting are flushed once this turn's
  // synchronous work (and its process.nextTick callbacks) is done.
  _flushLater(conn) {
    this._toFlush.push(conn);
    if (this._toFlush.length === 1) {
      queueMicrotask(this._flushAll);
      unflushed.add(this);
    }
  }

  // `exiting`: the process is exiting, so the turn will not end; write what
  // can be written from this thread now.
  _flushPending(exiting = false) {
    unflushed.delete(this);
    const conns = this._toFlush;
    this._toFlush = [];
    for (let i = 0; i < conns.length; i++) conns[i]._flush(exiting);
  }

  // Starts the Rust side of a Connection (called by Connection#start).
  _openPeer(conn) {
    if (!this._exitRef) {
      this._exitRef = new WeakRef(this);
      withPeers.add(this._exitRef);
    }
    const node = conn.node();
    const config = this._config();
    const retry = typeof config.retry === "number" ? config.retry : consts.ipcDefaults.retry;
    const maxRetries = typeof config.maxRetries === "number" ? config.maxRetries : Infinity;
    const maxLen = typeof conn._maxLen === "number" ? conn._maxLen : consts.connDefaults.maxLen;
    const bytesOpt = (v) => (typeof v === "number" && v >= 0 ? v : undefined);
    const maxBytes = bytesOpt(conn._maxQueueBytes) ?? bytesOpt(this._maxQueueBytes);
    const highWater = bytesOpt(conn._highWaterMark) ?? bytesOpt(this._highWaterMark);
    const [defaultMax, defaultHigh] = native.linkDefaults();
    conn._heldLimits(maxBytes ?? defaultMax, highWater ?? defaultHigh);
    const peer = this._native.connect(String(node.id()), String(node.host()), Number(node.port()),
      retry, maxRetries, maxLen, tlsInput(config.tls), maxBytes, highWater, this._netTickTime);
    this._peers.set(peer.id, conn);
    this._updateRef();
    return peer;
  }

  // The process stays up while we listen or hold a connection, as with sockets.
  _updateRef() {
    const alive = this._listening || this._peers.size > 0;
    if (alive !== this._alive) {
      this._alive = alive;
      this._native.setRef(alive);
    }
  }

  _onNative(texts, buffers) {
    for (let t = 0; t < texts.length; t++) {
      const batch = JSON.parse("[" + texts[t] + "]");
      for (let i = 0; i < batch.length; i++) {
        // What handlers sent so far goes to the network side while the rest
        // of a long batch runs: the peer starts on the first replies at once
        // instead of after the whole batch (a pipeline, not a lockstep).
        if ((i & FLUSH_MASK) === FLUSH_MASK && this._toFlush.length > 0) this._flushPending();
        try {
          this._dispatch(batch[i], buffers);
        } catch (err) {
          // A throwing handler must not cost the rest of the batch: deliver
          // the others, then surface the error as the JS kernel would (uncaught).
          process.nextTick(() => {
            throw err;
          });
        }
      }
    }
  }

  _dispatch(e, buffers) {
    switch (e[0]) {
      case EV.MESSAGE: {
        let data;
        switch (e[6]) {
          case MODE.JSON: data = e[7]; break;
          case MODE.BUFFER: data = buffers[e[7]]; break;
          case MODE.BUFFER_LIKE: data = NetKernel._decodeBuffer(e[7]); break;
          default: data = undefined;
        }
        const stream = e[5] === 1 ? {done: true} : e[5];
        this.emit(e[3], data, stream, {tag: e[4], socket: this._sockets.get(e[1]), node: this._nodes[e[2]]});
        return;
      }
      case EV.SKIP: {
        const err = new Error(e[3]);
        err.type = e[2];
        if (e[2] === "INVALID_CHECKSUM") err.sent = e[4].sent;
        Object.assign(err, e[4]);
        this._skipMsg(err);
        return;
      }
      case EV.NODE: {
        // A sender that is not a whole address (clusterluck's CLI names only
        // its id) comes with a mask of the parts that are undefined.
        const gone = e[5] || 0;
        this._nodes[e[1]] = new (this.constructor._Node)(gone & 1 ? undefined : e[2],
          gone & 2 ? undefined : e[3], gone & 4 ? undefined : e[4]);
        return;
      }
      case EV.SOCKET_OPEN: {
        const socket = new Socket(this, e[1], e[3], e[2]);
        this._sockets.set(e[1], socket);
        this._addSocket(socket);
        return;
      }
      case EV.SOCKET_CLOSE:
        this._sockets.delete(e[1]);
        this._disconnectSocket(null, e[1]);
        return;
      case EV.PEER_CONNECT: return this._withPeer(e[1], (c) => c._handleConnect());
      // The node showed that it runs (not merely that its system accepts
      // connections): after the link came up, or after a nodedown.
      case EV.NODE_UP:
        return this._withPeer(e[1], (c) => {
          if (c._up) return;
          c._up = true;
          c._downReason = null;
          this.emit("nodeup", c.node());
        });
      // A node that was up is down, or a link ended (then what waited on
      // it fails, but a node never shown up is not announced down).
      case EV.NODE_DOWN:
        return this._withPeer(e[1], (c) => {
          const announce = c._up === true;
          c._up = false;
          if (announce) c._downReason = e[2];
          this._nodeDown(c, e[2], announce);
        });
      case EV.PEER_DISCONNECT: return this._withPeer(e[1], (c) => c._handleDisconnect());
      case EV.PEER_DRAINED: return this._withPeer(e[1], (c) => c._handleDrained());
      case EV.PEER_ERROR: return this._withPeer(e[1], (c) => c._handleError(new Error(e[2])));
      case EV.PEER_BUSY: return this._withPeer(e[1], (c) => c._handleBusy(true));
      case EV.PEER_DRAIN: return this._withPeer(e[1], (c) => c._handleBusy(false));
      case EV.PEER_OVERFLOW:
        return this._withPeer(e[1], (c) => {
          debug("dropping the oldest unwritten messages to %s: over %s", c.node().id(), e[2]);
          c.emit("overflow", e[2]);
        });
      case EV.PEER_CLOSED:
        this._peers.delete(e[1]);
        this._updateRef();
        return;
      case EV.READY:
        if (e[1] !== this._generation) return;
        // Asked for port 0: take the port the system chose, so peers can dial back.
        if (Number(this._port) === 0 && e[2]) this.port(e[2]);
        this.emit("_ready");
        return;
      case EV.LISTEN_ERROR: {
        if (e[1] !== this._generation) return;
        this._listening = false;
        this._updateRef();
        // As a Node server's listen failure: an `error` the app can catch,
        // and, with no listener, thrown (an uncaught exception that ends
        // the process, naming the code and the address).
        this.emit("error", listenError(e[3], e[2], this._host, this._port));
        return;
      }
      default:
        return;
    }
  }

  // Between a node's nodedown and its next nodeup, a call or ping with no
  // timeout would wait forever: it fails at once with NODE_DOWN, as in
  // Erlang. One with a timeout is sent, and waits for the node up to it.
  _downError(node, timeout) {
    if (typeof timeout === "number" && timeout !== Infinity) return null;
    const conn = this._sinks.get(node.id());
    if (!conn || typeof conn._downReason !== "string") return null;
    return this._nodeDownError(node.id(), conn._downReason);
  }

  _nodeDownError(id, reason) {
    return Object.assign(new Error("Node " + id + " is down (" + reason + ")."), {type: "NODE_DOWN", node: id, reason});
  }

  // A live link ended (e[2] says why): calls waiting on its node fail now
  // instead of at their timeout, unless a newer link to it took over.
  _nodeDown(conn, reason, announce) {
    const node = conn.node();
    const id = node.id();
    const current = this._sinks.get(id);
    if (current === undefined || current === conn) {
      for (const [tag, w] of this._waiting) {
        if (w.node !== id) continue;
        this._waiting.delete(tag);
        w.fail(this._nodeDownError(id, reason));
      }
    }
    if (announce) this.emit("nodedown", node, reason);
  }

  _withPeer(id, fn) {
    const conn = this._peers.get(id);
    if (conn) fn(conn);
  }

  // ---- static helpers other clusterluck modules call ----

  static _coerceStream(data) {
    if (data instanceof stream.Stream) return data;
    if (data instanceof Buffer || typeof data === "string") {
      const nstream = new stream.PassThrough();
      process.nextTick(() => {
        nstream.write(typeof data === "string" ? Buffer.from(data) : data);
        nstream.end();
      });
      return nstream;
    }
    throw new Error("Input data could not be coerced into a stream.");
  }

  static _collectStream(rstream, cb, limit = consts.collectLimit) {
    let acc;
    let called = false;
    const onData = (data) => {
      acc = acc ? Buffer.concat([acc, data], acc.length + data.length) : data;
      if (Buffer.isBuffer(acc) && acc.length > limit) rstream.emit("error", new Error("Buffer limit exceeded."));
    };
    rstream.on("data", onData);
    rstream.once("end", () => {
      if (called) return;
      called = true;
      return cb(null, acc);
    });
    rstream.on("error", (err) => {
      if (called) return;
      rstream.removeListener("data", onData);
      if (rstream.resume) rstream.resume();
      called = true;
      return cb(err);
    });
  }

  static _encodeBuffer(buf) {
    if (buf === null) return null;
    if (!Buffer.isBuffer(buf)) return buf;
    return buf.toJSON();
  }

  static _decodeBuffer(data) {
    if (isObject(data) && data.type === "Buffer" && Array.isArray(data.data)) return Buffer.from(data);
    return data;
  }

  static _encodeError(error) {
    if (error === null) return null;
    return errorToObject(error);
  }

  static _encodeMsg(key, data) {
    if (key === null) return data;
    const checkSum = NetKernel._hmacData(key, JSON.stringify(data));
    const out = {checkSum};
    for (const k in data) {
      if (out[k] === undefined) out[k] = data[k];
    }
    return out;
  }

  static _decodeMsg(key, data) {
    if (key === null) return data;
    const checkSum = data.checkSum;
    const rest = {};
    for (const k in data) {
      if (k !== "checkSum") rest[k] = data[k];
    }
    const calculated = NetKernel._hmacData(key, JSON.stringify(rest));
    if (checkSum !== calculated) {
      return Object.assign(new Error("Checksum failure."), {
        type: "INVALID_CHECKSUM",
        sent: checkSum,
        calculated: calculated,
      });
    }
    return rest;
  }

  static _hmacData(key, data) {
    return crypto.createHmac("sha256", key).update(data).digest("hex");
  }
}

// An Error flattened for the wire: stack (outside production), message, then
// its own enumerable properties, with `_error: true`.
function errorToObject(err) {
  if (isObject(err)) err._error = err._error ? err._error : true;
  if (err instanceof Error) {
    const out = process.env.NODE_ENV === "production" ? {} : {stack: err.stack};
    out.message = err.message;
    for (const k of Object.keys(err)) out[k] = err[k];
    return out;
  }
  return err;
}

// async.map's contract: results in order, the callback once, on the first
// error (with the results so far) or when all are done.
function mapAll(items, fn, cb) {
  const results = new Array(items.length);
  let pending = items.length;
  let finished = false;
  if (pending === 0) return cb(null, results);
  items.forEach((item, i) => {
    fn(item, (err, value) => {
      if (finished) return;
      results[i] = value;
      if (err) {
        finished = true;
        return cb(err, results);
      }
      pending -= 1;
      if (pending === 0) {
        finished = true;
        cb(null, results);
      }
    });
  });
}

NetKernel.Socket = Socket;
// The class of the nodes a kernel makes (`self()`, `from.node`): a kernel
// standing in for clusterluck's makes clusterluck's own (see register.js).
NetKernel._Node = Node;
NetKernel._errorToObject = errorToObject;
module.exports = NetKernel;
