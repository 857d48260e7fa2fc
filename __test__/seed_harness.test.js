// Proves the interop harness itself: the cluster scenario with two (then three)
// SEED kernels in separate processes. Skipped when the seed is not present.
"use strict";

const { it } = require("node:test");
const seed = require("./helpers/seed");
const { clusterSuite } = require("./helpers/suite");

if (!seed.seedAvailable()) {
  const reason = seed.skipReason();
  console.log(reason);
  it("seed harness", { skip: reason }, () => {});
} else {
  clusterSuite("seed harness (seed <-> seed)", "seed", "seed");
}
