"use strict";
// A cluster member's address: the same class clusterluck apps use.

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

  // With fast === true the returned object is fresh anyway; there is no
  // internal object to share, so both forms return a new plain object.
  toJSON(fast) { // eslint-disable-line no-unused-vars
    return {id: this._id, host: this._host, port: this._port};
  }

  static from(data) {
    return new Node(data.id, data.host, data.port);
  }
}

module.exports = Node;
