// The chaos test, short form (about a minute): eight nodes, half native and
// half seed JS kernels when the seed is present, in a full mesh, each in its
// own network namespace, under a steady load of casts and calls while nodes
// are killed and restarted, cut off and healed, and stopped with SIGSTOP.
// See helpers/chaos.js for what is checked; `node scripts/chaos.js` is the
// long form. Skipped, with the reason, where network namespaces cannot be made.
"use strict";

const assert = require("node:assert/strict");
const { it } = require("node:test");
const { runChaos, check, namespaceProblem } = require("./helpers/chaos");
const seed = require("./helpers/seed");

const problem = namespaceProblem();
if (problem) console.log("chaos: " + problem + "; chaos test skipped");
if (!problem && !seed.seedAvailable()) console.log("chaos: " + seed.skipReason() + "; all eight nodes are native");

it("a mesh of eight nodes survives kills, partitions and stops with nothing lost", { skip: problem || false, timeout: 5 * 60 * 1000 }, async () => {
  const report = await runChaos({ durationMs: 40000 });
  const { problems, figures } = check(report);
  console.log("chaos: " + report.disruptions.map((d) => d.kind + " " + d.node + "/" + d.impl).join(", "));
  console.log("chaos: " + JSON.stringify(figures));
  // Every kind of disruption happened, to a native node and (with the seed) a JS one.
  for (const kind of ["kill", "partition", "stop"]) {
    assert.ok(report.disruptions.some((d) => d.kind === kind && d.impl === "native"), "no " + kind + " of a native node");
    if (seed.seedAvailable()) assert.ok(report.disruptions.some((d) => d.kind === kind && d.impl === "seed"), "no " + kind + " of a seed node");
  }
  // The load ran: every node sent and received casts, and calls were answered.
  for (const r of report.reports) {
    const last = r.lives[r.lives.length - 1];
    // A cast to each node every 50 ms: more than 100 casts for a life of
    // 20 s or more; a life restarted late in the run (it may have had only a
    // few seconds of load before the load stopped) must still have sent to
    // every node.
    const lived = (last.at - Number(String(last.epoch).split("-")[0])) / 1000;
    const least = lived >= 20 ? 100 : 0;
    assert.ok(Object.values(last.sent).every((n) => n > least),
      r.id + " sent too little in a life of " + lived.toFixed(1) + " s: " + JSON.stringify(last.sent));
    assert.ok(Object.keys(last.received).length === 7, r.id + " heard from " + Object.keys(last.received).length + " nodes");
  }
  assert.ok(figures.calls["calm ok"] > 100, "too few calls answered: " + JSON.stringify(figures.calls));
  assert.deepEqual(problems, []);
});
