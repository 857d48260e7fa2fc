// Mixed clusters: the original JS kernel (seed, on node-ipc 8.10.3) and the
// native kernel in separate processes, in both directions, cookie on.
// Skipped with a printed reason when the seed is not present.
"use strict";

const { it } = require("node:test");
const seed = require("./helpers/seed");
const { clusterSuite } = require("./helpers/suite");

if (!seed.seedAvailable()) {
  const reason = seed.skipReason();
  console.log(reason);
  it("interop with the JS kernel", { skip: reason }, () => {});
} else {
  clusterSuite("interop: JS alpha calls native beta", "seed", "native");
  clusterSuite("interop: native alpha calls JS beta", "native", "seed");
}
