// Smoke test of `npm run bench`: the quick run exits 0 and prints a table with
// every scenario row, each with numbers. Timings are not checked.
"use strict";

const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { it } = require("node:test");
const seed = require("./helpers/seed");

const ROOT = path.resolve(__dirname, "..");
// The quick run itself takes seconds; the ceiling may first have to be built.
const TIMEOUT = 10 * 60 * 1000;

const ROW_IDS = ["1", "1f", "2", "3", "4a", "4b", "4c", "5", "6a", "6b", "6c", "6d", "6e", "6f", "7",
  "8a", "8b", "8c", "8d", "8e", "8f", "8g", "8h", "8i", "8j", "8k", "8l", "9a", "9b", "9c", "9d", "9e", "9f"];
const MIXED = new Set(["6a", "6b", "6c", "6d", "6e", "6f", "9e", "9f"]);
const JS_THREAD = new Set(["8b", "8d", "8f"]);
const NUMBER = /^\d+(\.\d+)?$/;

it("npm run bench --quick prints every row with numbers", { timeout: TIMEOUT }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clbench-smoke-"));
  const jsonFile = path.join(dir, "bench.json");
  try {
    const res = spawnSync(process.execPath, [path.join(ROOT, "bench", "run.js"), "--quick", "--json", jsonFile],
      { cwd: ROOT, encoding: "utf8", timeout: TIMEOUT - 10000, maxBuffer: 16 * 1024 * 1024 });
    assert.equal(res.error, undefined, String(res.error));
    assert.equal(res.status, 0, "bench exited " + res.status + "\n" + res.stdout + "\n" + res.stderr);

    const json = JSON.parse(fs.readFileSync(jsonFile, "utf8"));
    const haveSeed = seed.seedAvailable();
    assert.equal(json.meta.seed, haveSeed);
    if (!haveSeed) assert.match(res.stdout, /native only/);

    const lines = res.stdout.split("\n");
    for (const id of ROW_IDS) {
      const line = lines.find((l) => l.startsWith(id + " "));
      assert.ok(line, "no table row " + id + "\n" + res.stdout);
      const [, figure, unit, js, native, ratio] = line.split(/\s{2,}/);
      assert.ok(figure && unit, "row " + id + " is missing its figure or unit: " + line);
      const threadless = JS_THREAD.has(id) && !json.meta.jsThreadCpu;
      if (threadless || (MIXED.has(id) && !haveSeed)) continue;
      assert.match(native, NUMBER, "row " + id + " has no native figure: " + line);
      if (haveSeed) {
        assert.match(js, NUMBER, "row " + id + " has no JS figure: " + line);
        assert.match(ratio, /^\d+\.\d+x (faster|less)$/, "row " + id + " has no ratio: " + line);
      }
      const row = json.rows.find((r) => r.id === id);
      assert.ok(row && typeof row.native === "number", "row " + id + " missing from the JSON");
    }
    // The cost of one Prometheus scrape (clusterluck-native/metrics).
    assert.match(res.stdout, /^ {2}10d {2}one Prometheus scrape, 8 peers .* \d+\.\d us/m);
    assert.ok(json.scrape && json.scrape[0].value > 0, "row 10d missing from the JSON");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
