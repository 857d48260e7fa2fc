// A short run of every fuzz target (fuzz/, cargo-fuzz): a few seconds each,
// so a decoder change that panics on some input, or breaks one of the
// targets' invariants, fails `npm test`. Skipped, with the reason, where
// cargo-fuzz is not installed. The long runs are in FUZZING.md.
"use strict";

const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { it } = require("node:test");
const { TARGETS, fuzzerMissing } = require("../scripts/fuzz");

const ROOT = path.resolve(__dirname, "..");
const SECONDS = 6;
// The run itself is about SECONDS per target; a first build of the targets
// (instrumented, a workspace of its own) takes minutes.
const TIMEOUT = 20 * 60 * 1000;

const missing = fuzzerMissing();
if (missing) console.log("fuzz: " + missing + "; short fuzz runs skipped");

it("every fuzz target runs for a few seconds without a crash", { skip: missing || false, timeout: TIMEOUT }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clfuzz-"));
  const jsonFile = path.join(dir, "fuzz.json");
  try {
    const res = spawnSync(process.execPath, [path.join(ROOT, "scripts", "fuzz.js"), "--seconds", String(SECONDS), "--json", jsonFile],
      { cwd: ROOT, encoding: "utf8", timeout: TIMEOUT - 10000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(res.error, undefined, String(res.error));
    process.stdout.write(res.stdout);
    assert.equal(res.status, 0, "fuzzing failed (" + res.status + ")\n" + res.stdout + "\n" + res.stderr.slice(-8000));
    const { results } = JSON.parse(fs.readFileSync(jsonFile, "utf8"));
    assert.deepEqual(results.map((r) => r.target), TARGETS);
    for (const r of results) {
      assert.equal(r.ok, true, r.target);
      // The target really ran: inputs executed and code covered.
      assert.ok(r.executions > 1000, r.target + " ran only " + r.executions + " inputs");
      assert.ok(r.coverage > 50, r.target + " covered only " + r.coverage + " edges");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
