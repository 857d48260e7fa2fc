// Connection: one outbound node-ipc link from the seed kernel to a peer, with a
// bounded send queue while the link is (re)connecting and per-stream idle tracking.
"use strict";

const EventEmitter = require("events").EventEmitter;
const Queue = require("./queue");
const consts = require("./consts");

function withDefaults(opts, defaults) {
  const out = Object.assign({}, opts);
  for (const key of Object.keys(defaults)) {
    if (out[key] === undefined) out[key] = defaults[key];
  }
  return out;
}

class Connection extends EventEmitter {
  constructor(ipc, node, opts = consts.connDefaults) {
    super();
    opts = withDefaults(opts, consts.connDefaults);
    this._ipc = ipc;
    this._node = node;
    this._queue = new Queue();
    this._connecting = false;
    this._active = false;
    this._streams = new Map();
    this._maxLen = opts.maxLen;
  }

  start() {
    const id = this._node.id();
    this._active = true;
    this._connecting = true;
    this._ipc.connectToNet(id, this._node.host(), this._node.port());
    this._ipc.of[id].on("connect", this._handleConnect.bind(this));
    this._ipc.of[id].on("disconnect", this._handleDisconnect.bind(this));
    return this;
  }

  // Waits for in-flight streams and queued messages (and a pending connect) unless forced.
  stop(force = false) {
    if (!this.idle() && !force) {
      this.once("idle", () => this.stop());
      return this;
    }
    if (this._connecting && !force) {
      this.once("connect", () => this.stop());
      return this;
    }
    this._connecting = false;
    this._active = false;
    this._queue.flush();
    this._streams = new Map();
    this._ipc.disconnect(this._node.id());
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
      while (this._queue.size() > this._maxLen) this._queue.dequeue();
    }
    return this._maxLen;
  }

  send(event, data) {
    if (!this._active) return new Error("Cannot write to inactive connection.");
    if (this._connecting) {
      if (this._queue.size() >= this._maxLen) this._queue.dequeue();
      this._queue.enqueue({ event, data });
      return this;
    }
    this._ipc.of[this._node.id()].emit(event, data);
    this.emit("send", event, data);
    this._updateStream(data.stream);
    return this;
  }

  initiateStream(stream) {
    this._streams.set(stream.stream, true);
    return this;
  }

  _handleConnect() {
    this._connecting = false;
    this.emit("connect");
    for (const msg of this._queue.flush()) {
      this.send(msg.event, msg.data);
    }
  }

  _handleDisconnect() {
    this._connecting = this._active;
    this.emit("disconnect");
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

module.exports = Connection;
