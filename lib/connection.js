"use strict";
// An outbound connection to one node (a "sink"), with clusterluck's
// Connection API. The socket, the reconnect loop and the queue of messages
// held while the link is down all live in the Rust peer task; this class keeps
// the state JS code reads synchronously (active, connecting, open streams) and
// turns the task's reports into the usual events.

const EventEmitter = require("events").EventEmitter;
const consts = require("./consts");

const INACTIVE = "Cannot write to inactive connection.";

// What one turn of the event loop may send on a link and still have it
// signed and written from the JS thread when the link is idle: a few small
// envelopes (a request, a reply). More, or larger, go through the network
// thread, so the JS thread never hashes megabytes.
const DIRECT_MAX = 4;
const DIRECT_BYTES = 16 * 1024;

// The queue as clusterluck exposes it: its length is what apps look at.
class QueueView {
  constructor(conn) {
    this._conn = conn;
  }

  size() {
    const conn = this._conn;
    if (!conn._peer) return 0;
    conn._flush();
    return conn._peer.queueSize();
  }
}

class Connection extends EventEmitter {
  // `kernel` is the NetKernel that owns the connection (set by
  // NetKernel#connect); the first three arguments are clusterluck's.
  constructor(ipc, node, opts, kernel) {
    super();
    opts = Object.assign({}, consts.connDefaults, stripUndefined(opts));
    this._ipc = ipc;
    this._node = node;
    this._kernel = kernel || null;
    this._queue = new QueueView(this);
    this._connecting = false;
    this._active = false;
    this._streams = new Map();
    this._maxLen = opts.maxLen;
    // Bounds on unwritten bytes (undefined: the kernel's start() options).
    this._maxQueueBytes = opts.maxQueueBytes;
    this._highWaterMark = opts.highWaterMark;
    this._peer = null;
    this._pending = "";     // envelopes of this turn, not yet handed to Rust
    this._count = 0;
    this._castEvent = null; // the last cast's event, and its envelope head
    this._castHead = null;
  }

  start() {
    if (!this._kernel) throw new Error("A Connection must be started through NetKernel#connect.");
    this._active = true;
    this._connecting = true;
    this._peer = this._kernel._openPeer(this);
    return this;
  }

  stop(force = false) {
    if (!this.idle() && force !== true) {
      this.once("idle", this.stop.bind(this));
      return this;
    }
    // The JS kernel waits for the link to come back even when nothing is
    // waiting to be sent; an idle connection closes at once instead, so a
    // graceful stop never hangs on a node that is gone. Unless someone waits
    // for it to connect (`connect(node, cb); disconnect(node)`): as with the
    // JS kernel, it connects, calls them, then closes.
    if (this._connecting === true && force !== true &&
        (this._queue.size() > 0 || this.listenerCount("connect") > 0)) {
      this.once("connect", this.stop.bind(this));
      return this;
    }
    this._connecting = false;
    this._active = false;
    this._streams = new Map();
    if (this._peer) {
      this._flush();
      this._peer.stop(force === true);
    }
    return this;
  }

  node() {
    return this._node;
  }

  queue() {
    return this._queue;
  }

  active() {
    return this._active;
  }

  connecting() {
    return this._connecting;
  }

  idle() {
    return this._streams.size === 0 && this._queue.size() === 0;
  }

  maxLen(len) {
    if (typeof len === "number" && len >= 0) {
      this._maxLen = len;
      if (this._peer) {
        this._flush();
        this._peer.setMaxLen(len);
      }
    }
    return this._maxLen;
  }

  // Sends any event with JSON data on this link, as node-ipc's emit does.
  send(event, data) {
    if (this._active === false) return new Error(INACTIVE);
    const json = JSON.stringify(data);
    this._flush();
    this._peer.sendRaw(String(event), json === undefined ? "null" : json);
    this.emit("send", event, data);
    if (data && typeof data === "object" && data.stream) this._updateStream(data.stream);
    return this;
  }

  initiateStream(stream) {
    this._streams.set(stream.stream, true);
    return this;
  }

  // The kernel's send path. The envelope is serialised here, exactly as
  // the JS kernel's JSON.stringify would write it, and kept until the end
  // of the current turn of the event loop; then the turn's envelopes cross
  // to Rust together, which signs and frames them. Buffers go at once (after
  // what waits), their bytes encoded in Rust.
  // Returns an Error on an inactive connection, null otherwise.
  _sendMessage(event, tag, done, streamId, error, data) {
    if (this._active === false) return new Error(INACTIVE);
    const errorJson = error === null ? undefined : JSON.stringify(error);
    if (Buffer.isBuffer(data)) {
      this._flush();
      this._peer.sendBuffer(this._head(event, tag, done, streamId, errorJson), data);
    } else {
      const json = data === null ? "null" : JSON.stringify(data);
      let head;
      if (typeof event === "string" && tag === null && done && streamId === null && errorJson === undefined) {
        // A cast: the envelope up to its data depends on the event alone.
        if (event !== this._castEvent) {
          this._castEvent = event;
          this._castHead = ['m{"id":', JSON.stringify(event), ',"tag":null', this._kernel._fromMember,
            '{"done":true}'].join("");
        }
        head = this._castHead;
      } else if (typeof event === "string" && (tag === null || typeof tag === "string")) {
        head = 'm{"id":' + JSON.stringify(event) + ',"tag":' + (tag === null ? "null" : JSON.stringify(tag)) +
          this._kernel._fromMember + streamJson(done, streamId, errorJson);
      } else {
        head = "m" + this._head(event, tag, done, streamId, errorJson);
      }
      this._push(json === undefined ? head + "}\n" : head + ',"data":' + json + "}\n");
    }
    if (this.listenerCount("send") > 0) {
      const stream = {done};
      if (streamId !== null) stream.stream = streamId;
      if (error !== null) stream.error = error;
      this.emit("send", "message", {
        id: event,
        tag,
        from: this._kernel.self().toJSON(true),
        stream,
        data: Buffer.isBuffer(data) ? data.toJSON() : data,
      });
    }
    if (streamId !== null) this._updateStream({done, stream: streamId});
    return null;
  }

  // `{"id":..,"tag":..,"from":..,"stream":{..}` of a message, as
  // JSON.stringify writes it (members of undefined value left out).
  _head(event, tag, done, streamId, errorJson) {
    const parts = [];
    const id = JSON.stringify(event);
    if (id !== undefined) parts.push('"id":' + id);
    const t = JSON.stringify(tag);
    if (t !== undefined) parts.push('"tag":' + t);
    parts.push('"from":' + this._kernel._fromJson, '"stream":' + streamJson(done, streamId, errorJson));
    return "{" + parts.join(",");
  }

  _sendPing(tag) {
    if (this._active === false) return new Error(INACTIVE);
    this._push('p{"tag":' + JSON.stringify(tag) + this._kernel._fromMember + '{"done":true}}\n');
    return null;
  }

  // Keeps an envelope for the end of this turn of the event loop. The turn's
  // envelopes build one string, a rope of a few pieces per message that V8
  // flattens once when it crosses to Rust.
  _push(line) {
    if (this._count === 0) this._kernel._flushLater(this);
    this._pending += line;
    this._count += 1;
  }

  // Hands what this turn sent to Rust. A few envelopes (a request, a reply)
  // are written from this thread when the link is idle, sparing a thread
  // hand-off; a burst goes to the network thread, which signs it there.
  _flush(exiting = false) {
    if (this._count === 0) return;
    const text = this._pending;
    const direct = exiting || (this._count <= DIRECT_MAX && text.length <= DIRECT_BYTES);
    this._pending = "";
    this._count = 0;
    this._peer.sendBodies(text, direct);
  }

  // The kernel's identity changed: envelopes made from now on say so.
  _forgetHeads() {
    this._castEvent = null;
    this._castHead = null;
  }

  _handleConnect() {
    this._lastError = null;
    this._connecting = false;
    this.emit("connect");
  }

  _handleDisconnect() {
    this._connecting = this._active;
    this.emit("disconnect");
  }

  // The link cannot come up for a reason worth telling (TLS handshake
  // failed, retries exhausted). An "error" event where someone listens for
  // it (the connection, else the kernel), a process warning otherwise:
  // never an unhandled "error" that would crash the app.
  _handleError(err) {
    // Every retry fails the same way: report each distinct failure once
    // until the link comes up again.
    if (this._lastError && this._lastError.message === err.message) return;
    this._lastError = err;
    if (this.listenerCount("error") > 0) this.emit("error", err);
    else if (this._kernel && this._kernel.listenerCount("error") > 0) this._kernel.emit("error", err);
    else process.emitWarning(err.message, {code: "CLUSTERLUCK_CONNECTION"});
  }

  // Messages held during an outage were written after a reconnect.
  _handleDrained() {
    if (this._streams.size === 0) this.emit("idle");
  }

  _updateStream(stream) {
    if (stream.done && stream.stream) {
      this._streams.delete(stream.stream);
      if (this._streams.size === 0) this.emit("idle");
    } else if (stream.stream) {
      this._streams.set(stream.stream, true);
    }
  }
}

// The `stream` member of an envelope, as JSON.stringify writes it.
function streamJson(done, streamId, errorJson) {
  if (streamId === null && errorJson === undefined) return done ? '{"done":true}' : '{"done":false}';
  let out = '{"done":' + (done ? "true" : "false");
  if (streamId !== null) out += ',"stream":' + JSON.stringify(streamId);
  if (errorJson !== undefined) out += ',"error":' + errorJson;
  return out + "}";
}

function stripUndefined(opts) {
  const out = {};
  if (opts !== null && typeof opts === "object") {
    for (const k of Object.keys(opts)) if (opts[k] !== undefined) out[k] = opts[k];
  }
  return out;
}

Connection.stripUndefined = stripUndefined;
module.exports = Connection;
