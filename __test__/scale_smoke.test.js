// Smoke test of the scale bench (`npm run bench -- --scale`): tiny meshes,
// short windows. Every mesh forms with a link to and from every other node,
// carries casts under load, and the plot is written; the floor (raw sockets,
// no kernel) carries the same frames, and the growth from the smallest mesh
// is summed up. Timings are not checked.
"use strict";

const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { it } = require("node:test");
const seed = require("./helpers/seed");

const ROOT = path.resolve(__dirname, "..");
const TIMEOUT = 3 * 60 * 1000;

it("npm run bench -- --scale measures small meshes and plots them", { timeout: TIMEOUT }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clscale-smoke-"));
  const json = path.join(dir, "scale.json");
  const svg = path.join(dir, "scale.svg");
  const plotted = seed.seedAvailable() ? ["addon", "js"] : ["addon"];
  if (plotted.length === 1) console.log("# " + seed.skipReason() + ": the JS kernel's curve is not run");
  const kinds = [...plotted, "floor"];
  try {
    const res = spawnSync(process.execPath, [path.join(ROOT, "bench", "run.js"), "--scale", "--sizes", "2,3",
      "--kinds", kinds.join(","), "--idle", "0.5", "--load", "0.5", "--json", json, "--svg", svg],
    { cwd: ROOT, encoding: "utf8", timeout: TIMEOUT - 10000 });
    assert.equal(res.error, undefined, String(res.error));
    assert.equal(res.status, 0, "scale bench exited " + res.status + "\n" + res.stdout + "\n" + res.stderr);
    const out = JSON.parse(fs.readFileSync(json, "utf8"));
    assert.deepEqual(out.failures, []);
    for (const kind of kinds) {
      for (const n of [2, 3]) {
        const r = out.results.find((x) => x.kind === kind && x.n === n);
        assert.ok(r, "no result for " + kind + " x" + n);
        assert.equal(r.links, 2 * (n - 1), kind + " x" + n + ": a link to and from every other node");
        assert.ok(r.meshMs > 0 && r.rssKiB > 0 && r.cpuPct >= 0, JSON.stringify(r));
        assert.ok(r.tput > 0, kind + " x" + n + " carried no casts");
        // The CPU the casts cost, measured over the same window.
        assert.ok(r.cpuUsPerCast > 0 && r.loadCores > 0, kind + " x" + n + ": " + JSON.stringify(r));
        assert.ok(r.faultsPer1000 >= 0 && r.switchesPer1000 >= 0, kind + " x" + n + ": " + JSON.stringify(r));
      }
    }
    const plot = fs.readFileSync(svg, "utf8");
    assert.match(plot, /^<svg /);
    assert.equal((plot.match(/<polyline /g) || []).length, 4 * plotted.length, "a curve per panel and kernel");
    assert.match(res.stdout, /casts\/s/);
    for (const kind of kinds) {
      assert.match(res.stdout, new RegExp("  " + kind + ": 3 nodes carry \\d+% of what 2 carry"));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
