"use strict";
// clusterluck-native: a drop-in NetKernel whose network runs in Rust.
const os = require("os");

const NetKernel = require("./lib/kernel");
const Node = require("./lib/node");
const Connection = require("./lib/connection");
const consts = require("./lib/consts");

// clusterluck's createKernel, without node-ipc: the ipc object carries the
// same config fields (and, once started, a `server` with emit(socket, ...)).
function createKernel(id, host = os.hostname(), port = 7022, opts = {}) {
  opts = Object.assign({}, consts.kernelOpts,
    Connection.stripUndefined(opts !== null && typeof opts === "object" && !Array.isArray(opts) ? opts : {}));
  const ipc = {
    config: {
      id: id,
      networkHost: host || opts.networkHost,
      networkPort: port || opts.networkPort,
      retry: opts.retry,
      maxRetries: opts.maxRetries,
      tls: opts.tls,
      silent: opts.silent,
    },
    server: null,
  };
  return new NetKernel(ipc, id, ipc.config.networkHost, ipc.config.networkPort);
}

// The explicit form of `require("clusterluck-native/register")`, for one
// copy of clusterluck: `require("clusterluck-native").useWith(require("clusterluck"))`.
// Returns the clusterluck it was given, now building native kernels.
function useWith(clusterluck) {
  return require("./lib/register").useWith(clusterluck);
}

module.exports = {
  NetKernel,
  Node,
  Connection,
  createKernel,
  consts,
  useWith,
};
