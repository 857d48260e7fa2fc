// Node: the (id, host, port) identity of a cluster member, as the seed kernel expects it.
"use strict";

class Node {
  constructor(id, host, port) {
    this._id = id;
    this._host = host;
    this._port = port;
  }

  id(id) {
    if (typeof id === "string") this._id = id;
    return this._id;
  }

  host(host) {
    if (typeof host === "string") this._host = host;
    return this._host;
  }

  port(port) {
    if (typeof port === "number") this._port = port;
    return this._port;
  }

  equals(node) {
    return this._id === node.id() && this._host === node.host() && this._port === node.port();
  }

  // Member order (id, host, port) matters: it is part of what the cookie HMAC signs.
  toJSON(fast) {
    const out = { id: this._id, host: this._host, port: this._port };
    if (fast === true) return out;
    return Object.assign({}, out);
  }

  static from(obj) {
    return new Node(obj.id, obj.host, obj.port);
  }
}

module.exports = Node;
