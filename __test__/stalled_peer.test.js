// Memory toward a peer that does not read. A receiver process is stopped
// with SIGSTOP while a sender process casts to it: the sender's unwritten
// frames are bounded by maxQueueBytes (the oldest dropped past it, counted
// in stats() and reported once by an "overflow" event), its RSS grows by no
// more than the bound plus a small constant, and a receiver resumed before
// the bound is reached loses nothing. Counts and bounds only, no speeds.
"use strict";

const assert = require("node:assert/strict");
const { describe, it } = require("node:test");

const { scenario, SLACK } = require("./helpers/stalled");

describe("a peer that does not read", () => {
  it("1,000,000 casts to a stopped peer hold at most the bound", { timeout: 300000 }, async (t) => {
    const bound = 16 * 1024 * 1024;
    const total = 1000000;
    const { report, counts, final } = await scenario(total, bound);
    const grown = report.peak - report.base;
    t.diagnostic(`RSS grew by ${(grown / 1048576).toFixed(1)} MiB; ${final.stats.dropped} casts dropped`);
    assert.ok(grown <= bound + SLACK,
      `RSS grew by ${(grown / 1048576).toFixed(1)} MiB, over the bound of 16 MiB + ${SLACK / 1048576} MiB`);
    const dropped = final.stats.dropped;
    assert.ok(dropped > 0, "a stopped peer overflows a 16 MiB bound with 1,000,000 casts");
    assert.equal(counts.frames + dropped, total, "each cast arrived or was counted dropped");
    assert.equal(counts.disorder, 0, "in order, none twice");
    assert.equal(final.stats.sent.messages, counts.frames);
    assert.deepEqual(final.events.filter((e) => e === "overflow"), ["overflow"], "reported once");
    assert.ok(final.events.indexOf("busy") < final.events.lastIndexOf("drain"), final.events.join());
  });

  it("a peer resumed before the bound loses nothing", { timeout: 300000 }, async () => {
    const total = 100000; // about 20 MiB of frames, under a 64 MiB bound
    const { counts, final } = await scenario(total, 64 * 1024 * 1024);
    assert.equal(counts.frames, total);
    assert.equal(counts.disorder, 0);
    assert.equal(final.stats.dropped, 0);
    assert.ok(!final.events.includes("overflow"));
  });
});
