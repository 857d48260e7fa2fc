"use strict";
// An outbound connection to one node (a "sink"), with clusterluck's
// Connection API. The socket, the reconnect loop and the queue of messages
// held while the link is down all live in the Rust peer task; this class keeps
// the state JS code reads synchronously (active, connecting, open streams) and
// turns the task's reports into the usual events.

const EventEmitter = require("events").EventEmitter;
const consts = require("./consts");
const Queue = require("./queue");
// DEBUG=clusterluck:lib:conn, as for the JS Connection (see debug.js).
const debug = require("./debug")("clusterluck:lib:conn");

const INACTIVE = "Cannot write to inactive connection.";

// What one turn of the event loop may send on a link and still have it
// signed and written from the JS thread when the link is idle: a few small
// envelopes (a request, a reply). More, or larger, go through the network
// thread, so the JS thread never hashes megabytes.
const DIRECT_MAX = 4;
const DIRECT_BYTES = 16 * 1024;

// How a message held while the link is down is handed to Rust once it is up,
// and what it weighs (symbol keys: the entries themselves are the JS
// Connection's `{event, data}`).
const OUT = Symbol("clusterluck-native.out");
const WEIGHT = Symbol("clusterluck-native.weight");

// The bytes a message held while the link is down counts for: its envelope
// as it will be written; a Buffer's bytes at four each, about what their
// JSON digits take, as the network thread weighs a Buffer it was handed.
function weight(out) {
  if (typeof out === "string") return out.length;
  if (out.buffer !== undefined) return out.head.length + out.buffer.length * 4;
  return out.kind.length + out.json.length;
}

// The queue as clusterluck exposes it: the sends made while the link was down
// (as the JS Connection keeps them), plus the frames the network thread
// holds, which were sent before this thread learnt that the link was down, or
// written on a link that broke. `size()` counts both; peek, dequeue and flush
// reach the first kind only.
class QueueView extends Queue {
  constructor(conn) {
    super();
    this._conn = conn;
  }

  size() {
    const conn = this._conn;
    const held = super.size();
    if (!conn._peer) return held;
    conn._flush();
    // Frames the network thread took before this thread heard of the
    // outage are those a JS Connection would have written to the dead
    // socket: counted, but the total stays within maxLen as in the JS Queue.
    const rust = conn._peer.queueSize();
    return held + Math.min(rust, Math.max(0, conn._maxLen - held));
  }

  // What the JS side holds, without asking the network thread.
  held() {
    return super.size();
  }

  // Taking entries out (the app, maxLen, a forced stop, the hand-over once
  // the link is up) takes their bytes out of what the connection holds.
  dequeue() {
    const entry = super.dequeue();
    if (entry !== undefined) this._conn._unhold(entry[WEIGHT]);
    return entry;
  }

  flush() {
    const all = super.flush();
    if (all.length > 0) this._conn._unhold(this._conn._heldBytes);
    return all;
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
    // What the queue holds while the link is down: bytes, and the bounds
    // they keep to (the link's maxQueueBytes and high-water mark, set when
    // it opens); drops past them, and whether this side or the network
    // thread has said `busy` (one `busy`, one `drain`, whichever says it).
    this._heldBytes = 0;
    this._heldMax = Infinity;
    this._heldHigh = 0;
    this._heldDropped = 0;
    this._heldOverflow = false;
    this._heldBusy = false;
    this._linkBusy = false;
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
    debug("Stopping connection to node " + this._node.id() + (force ? " forcefully" : " gracefully"));
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
    this._queue.flush(); // a forced stop drops what the link never carried
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
      while (this._queue.held() > len) this._queue.dequeue();
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
    const out = {kind: String(event), json: json === undefined ? "null" : json};
    if (this._connecting === true) {
      this._hold(event, data, out);
    } else {
      this._handOver(out);
      this.emit("send", event, data);
    }
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
    let out;
    if (Buffer.isBuffer(data)) {
      out = {head: this._head(event, tag, done, streamId, errorJson), buffer: data};
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
      out = json === undefined ? head + "}\n" : head + ',"data":' + json + "}\n";
    }
    // While the link is down the message waits here, as in the JS
    // Connection, and its `send` event is emitted when it is handed over.
    if (this._connecting === true) {
      this._hold("message", this._sentMessage(event, tag, done, streamId, error, data), out);
    } else {
      if (typeof out === "string") this._push(out);
      else this._handOver(out);
      if (this.listenerCount("send") > 0) {
        this.emit("send", "message", this._sentMessage(event, tag, done, streamId, error, data));
      }
    }
    if (streamId !== null) this._updateStream({done, stream: streamId});
    return null;
  }

  // The message as the `send` event (and the queue) shows it.
  _sentMessage(event, tag, done, streamId, error, data) {
    const stream = {done};
    if (streamId !== null) stream.stream = streamId;
    if (error !== null) stream.error = error;
    return {
      id: event,
      tag,
      from: this._kernel.self().toJSON(true),
      stream,
      data: Buffer.isBuffer(data) ? data.toJSON() : data,
    };
  }

  // Keeps a send made while the link is down, dropping the oldest at maxLen
  // as the JS Connection does, and past maxQueueBytes, as the link does with
  // what it holds: a flood toward a node that is gone stays within the
  // bound, and `busy` at the high-water mark tells the app to wait.
  _hold(event, data, out) {
    const w = weight(out);
    let limit = null;
    if (this._queue.held() >= this._maxLen) {
      this._queue.dequeue();
      this._heldDropped += 1;
      limit = "maxLen";
    }
    while (this._queue.held() > 0 && this._heldBytes + w > this._heldMax) {
      this._queue.dequeue();
      this._heldDropped += 1;
      limit = "maxQueueBytes";
    }
    if (limit !== null && !this._heldOverflow) {
      this._heldOverflow = true;
      debug("dropping the oldest messages held for " + this._node.id() + ": over " + limit);
      this.emit("overflow", limit);
    }
    const entry = {event, data};
    entry[OUT] = out;
    entry[WEIGHT] = w;
    this._queue.enqueue(entry);
    this._heldBytes += w;
    if (!this._heldBusy && this._heldHigh > 0 && this._heldBytes >= this._heldHigh) {
      this._heldBusy = true;
      if (!this._linkBusy) this.emit("busy");
    }
  }

  // Held entries of `bytes` left the queue.
  _unhold(bytes) {
    this._heldBytes -= bytes;
    if (this._heldBytes <= 0) {
      this._heldBytes = 0;
      this._heldOverflow = false;
    }
    if (this._heldBusy && this._heldBytes < this._heldHigh / 2) {
      this._heldBusy = false;
      if (!this._linkBusy) this.emit("drain");
    }
  }

  // The bounds of the link (see NetKernel#_openPeer).
  _heldLimits(maxBytes, highWater) {
    this._heldMax = maxBytes;
    this._heldHigh = highWater;
  }

  // The network thread's `busy` (true) or `drain` (false).
  _handleBusy(busy) {
    if (busy === this._linkBusy) return;
    this._linkBusy = busy;
    if (!this._heldBusy) this.emit(busy ? "busy" : "drain");
  }

  // Gives a message to Rust: an envelope line (kept for the end of the
  // turn), a Buffer message or a raw frame (both after what waits).
  _handOver(out) {
    if (typeof out === "string") return this._push(out);
    this._flush();
    if (out.buffer !== undefined) this._peer.sendBuffer(out.head, out.buffer);
    else this._peer.sendRaw(out.kind, out.json);
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
    const line = 'p{"tag":' + JSON.stringify(tag) + this._kernel._fromMember + '{"done":true}}\n';
    if (this._connecting === true) {
      this._hold("ping", {tag, from: this._kernel.self().toJSON(true), stream: {done: true}}, line);
    } else {
      this._push(line);
    }
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
    // A lone request (the only reply awaited): the reply is likely soon,
    // and the network side may poll for it rather than sleep.
    this._peer.sendBodies(text, direct, direct && this._kernel._waiting.size === 1);
  }

  // The kernel's identity changed: envelopes made from now on say so.
  _forgetHeads() {
    this._castEvent = null;
    this._castHead = null;
  }

  // What was held while the link was down is handed over first, in order;
  // then, as the JS Connection does, "connect" is emitted and each held
  // message emits its `send`.
  _handleConnect() {
    debug("Connected to TCP connection to node " + this._node.id());
    this._lastError = null;
    this._connecting = false;
    const held = this._queue.flush();
    for (let i = 0; i < held.length; i++) this._handOver(held[i][OUT]);
    this.emit("connect");
    if (held.length > 0 && this.listenerCount("send") > 0) {
      for (let i = 0; i < held.length; i++) this.emit("send", held[i].event, held[i].data);
    }
    // A graceful stop waiting for them may go on (it writes them first).
    if (held.length > 0 && this._streams.size === 0) this.emit("idle");
  }

  _handleDisconnect() {
    debug("Disconnected from TCP connection to node " + this._node.id());
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
