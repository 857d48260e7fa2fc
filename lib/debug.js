"use strict";
// Logs under DEBUG, with the names and syntax clusterluck apps already use
// for clusterluck's own (the `debug` package): `DEBUG=clusterluck:*` turns on
// this package's `clusterluck:lib:kernel` and `clusterluck:lib:conn` (the
// names of the JS kernel's modules) and the Rust side's
// `clusterluck:native:<module>`; `-name` skips one. Lines go to stderr as
// `debug` writes them when stderr is not a terminal: ISO time, name, message.
// DEBUG is read when a logger is made, i.e. when this package is loaded.

const util = require("util");

function patterns(spec) {
  const names = [];
  const skips = [];
  for (const part of String(spec || "").split(/[\s,]+/)) {
    if (!part) continue;
    const re = new RegExp("^" + part.replace(/^-/, "").split("*").map(escape).join(".*?") + "$");
    (part[0] === "-" ? skips : names).push(re);
  }
  return {names, skips};
}

function escape(s) {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

function enabled(namespace, spec = process.env.DEBUG) {
  const {names, skips} = patterns(spec);
  return !skips.some((re) => re.test(namespace)) && names.some((re) => re.test(namespace));
}

// A logger for `namespace`: a function taking util.format's arguments, a
// no-op unless DEBUG enables it; `.enabled` says which.
function createDebug(namespace) {
  const on = enabled(namespace);
  const log = on
    ? (...args) => {
      process.stderr.write(new Date().toISOString() + " " + namespace + " " + util.format(...args) + "\n");
    }
    : () => {};
  log.enabled = on;
  log.namespace = namespace;
  return log;
}

module.exports = createDebug;
module.exports.enabled = enabled;
