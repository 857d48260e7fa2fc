// A clusterluck ClusterNode and nothing else, as `ncl` (clusterluck's CLI)
// expects to find one: createCluster, load, start with a cookie. On this
// package's kernel when NCL_NODE_MODE is "native", else on clusterluck's
// own. Copied into the scratch app directory, so `require("clusterluck")`
// finds the app's copy. Prints {"ready":true} once started; stops when its
// stdin closes.
"use strict";

if (process.env.NCL_NODE_MODE === "native") require("clusterluck-native").useWith(require("clusterluck"));
const cl = require("clusterluck");

const id = process.env.NCL_NODE_ID;
const port = Number(process.env.NCL_NODE_PORT);
const node = cl.createCluster(id, "127.0.0.1", port, {
  kernelOpts: { retry: 100 },
  gossipOpts: { interval: 100, flushInterval: 1000 },
});
node.kernel().on("_skip", (err) => process.stderr.write("skip " + err.type + ": " + err.message + "\n"));
node.load(() => {
  node.start(process.env.NCL_NODE_COOKIE, "ncl-ring", () => {
    const native = typeof node.kernel()._native === "object";
    process.stdout.write(JSON.stringify({ ready: true, native }) + "\n");
  });
});
process.stdin.on("data", () => {});
process.stdin.on("end", () => {
  node.stop(true);
  setTimeout(() => process.exit(0), 100);
});
