"use strict";
// The native kernel's limits, measured (rows 10a-10c of `npm run bench`, or
// `node bench/limits.js` alone): 1,000,000 casts of about 100 bytes from a
// sender process to a receiver process, once to a receiver that reads and
// once to one stopped with SIGSTOP (resumed afterwards), with maxQueueBytes
// 16 MiB. Reports how much the sender's RSS grew in each case (sampled after
// a full GC) and what one stats() call cost the sender under that load.

const { scenario } = require("../__test__/helpers/stalled");

const MiB = 1024 * 1024;
const BOUND = 16 * MiB;

async function measureLimits({ total = 1000000 } = {}) {
  const live = await scenario(total, BOUND, { stop: false });
  const stopped = await scenario(total, BOUND, { stop: true });
  const grown = (r) => (r.report.peak - r.report.base) / MiB;
  return [
    { id: "10a", figure: `${total} casts to a peer that reads: sender RSS growth`, unit: "MiB",
      value: grown(live), dropped: live.final.stats.dropped },
    { id: "10b", figure: `the same to a peer stopped (SIGSTOP), 16 MiB bound`, unit: "MiB",
      value: grown(stopped), dropped: stopped.final.stats.dropped },
    { id: "10c", figure: "one stats() call under that load (sender)", unit: "us",
      value: live.report.statsUs },
  ];
}

function renderLimits(rows, title = "Limits (native only; the JS kernel has no bound to measure):") {
  const lines = [title];
  for (const r of rows) {
    const extra = r.dropped !== undefined ? `  (${r.dropped} dropped)` : r.note ? `  (${r.note})` : "";
    lines.push(`  ${r.id}  ${r.figure.padEnd(58)} ${r.value.toFixed(1).padStart(8)} ${r.unit}${extra}`);
  }
  return lines.join("\n");
}

module.exports = { measureLimits, renderLimits };

if (require.main === module) {
  measureLimits().then((rows) => console.log(renderLimits(rows)), (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 1;
  });
}
