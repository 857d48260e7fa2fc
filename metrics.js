"use strict";
// `require("clusterluck-native/metrics").register(kernel, { registry })`: the
// kernel's stats() as Prometheus metrics on a prom-client registry, read when
// it is scraped (see lib/metrics.js).
module.exports = require("./lib/metrics");
