#!/usr/bin/env node
"use strict";
// The chaos test, long form: the harness of __test__/chaos.test.js run for
// as long as asked (an hour by default), then checked the same way.
//
//   node scripts/chaos.js [--minutes N] [--heavy] [--json FILE] [--report FILE]
//
// --heavy adds a sustained flood (8 MiB/s of 64 KiB casts, paced by
// busy/drain) on two links, native to native and native to seed, beside
// the light load.
//
// --json keeps the summary printed, --report the whole record (every cast
// seq received, every call, every node event) for a closer look.
//
// Needs root (network namespaces) and iproute2; half the nodes are seed JS
// kernels when the seed is beside the project (../shared/seeds, or
// $CLUSTERLUCK_SEEDS). Prints the figures and every violated expectation,
// and exits 1 if there is one. RELIABILITY.md records the latest result.

const fs = require("fs");
const path = require("path");
const { runChaos, check, namespaceProblem } = require(path.join(__dirname, "..", "__test__", "helpers", "chaos"));

function parseArgs(argv) {
  const opts = { minutes: 60, heavy: false, json: null, report: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--minutes") opts.minutes = Number(argv[++i]);
    else if (argv[i] === "--heavy") opts.heavy = true;
    else if (argv[i] === "--json") opts.json = argv[++i];
    else if (argv[i] === "--report") opts.report = argv[++i];
    else throw new Error("unknown argument " + argv[i]);
  }
  if (!(opts.minutes > 0)) throw new Error("--minutes takes a positive number");
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const problem = namespaceProblem();
  if (problem) {
    console.error("chaos: " + problem);
    process.exit(3);
  }
  const started = new Date();
  const report = await runChaos({
    durationMs: opts.minutes * 60000,
    heavy: opts.heavy,
    log: (line) => console.log(new Date().toISOString() + " " + line),
  });
  if (opts.report) fs.writeFileSync(opts.report, JSON.stringify(report));
  // A flood sender may hold up to maxQueueBytes (64 MiB) toward a node
  // that does not read: its memory bound is that much higher.
  const { problems, figures } = check(report, opts.heavy ? { rssSlackBytes: (48 + 64) * 1024 * 1024 } : {});
  const kinds = {};
  for (const d of report.disruptions) {
    const key = d.kind + " " + d.impl;
    kinds[key] = (kinds[key] || 0) + 1;
  }
  const summary = {
    started: started.toISOString(),
    minutes: opts.minutes,
    heavy: opts.heavy,
    nodes: report.impls,
    disruptions: kinds,
    nodeEvents: report.nodeEvents.length,
    figures,
    problems,
  };
  console.log(JSON.stringify(summary, null, 2));
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(summary, null, 2) + "\n");
  process.exit(problems.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err && err.stack || err);
  process.exit(1);
});
