// Default settings the seed kernel and its connections read (clusterluck's values).
"use strict";

const os = require("os");

const connDefaults = Object.freeze({
  maxLen: 1024
});

const kernelOpts = Object.freeze({
  networkHost: os.hostname(),
  networkPort: 7022,
  retry: 5000,
  tls: null,
  maxRetries: Infinity,
  silent: true
});

module.exports = { connDefaults, kernelOpts };
