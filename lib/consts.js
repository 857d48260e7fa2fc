"use strict";
// Defaults shared with clusterluck.
const os = require("os");

module.exports = {
  connDefaults: Object.freeze({maxLen: 1024}),
  kernelOpts: Object.freeze({
    networkHost: os.hostname(),
    networkPort: 7022,
    retry: 5000,
    tls: null,
    maxRetries: Infinity,
    silent: true,
  }),
  // node-ipc's own defaults, used when a NetKernel is built without an ipc config.
  ipcDefaults: Object.freeze({retry: 500, maxRetries: Infinity, tls: null}),
  // How often reply-tag bases are renewed unless start() says otherwise.
  tokenGenInterval: 60 * 60 * 1000,
  // net_ticktime (ms): a node silent this long while links are up both ways
  // is declared down; 0 turns it off. Erlang's default.
  netTickTime: 60000,
  // Buffer limit of call(..., cb).
  collectLimit: 10000000,
};
