// `npm run demo` (demo/run.js): three node processes, every operation checked,
// a table printed, a clean exit.
"use strict";

const assert = require("node:assert/strict");
const { it } = require("node:test");
const { spawn } = require("child_process");
const path = require("path");

const DEMO = path.resolve(__dirname, "..", "demo", "run.js");

function runDemo(timeout) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], { cwd: path.dirname(DEMO) });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

it("the demo runs a three-node cluster, prints its table and exits 0", { timeout: 90000 }, async () => {
  const res = await runDemo(60000);
  const output = res.stdout + "\n" + res.stderr;
  assert.equal(res.code, 0, "demo exit (" + (res.signal || "code " + res.code) + "):\n" + output);
  assert.match(res.stdout, /^operation +from -> to +result +count +median ms +total ms +rate$/m, "table header");
  for (const op of ["connect", "ping", "cast", "callSingleton", "call \\(stream\\)", "multicall", "shutdown"]) {
    assert.match(res.stdout, new RegExp("^" + op + " +\\S.* ok ", "m"), op + " row");
  }
  // Every ordered pair pings and casts.
  for (const a of ["alpha", "beta", "gamma"]) {
    for (const b of ["alpha", "beta", "gamma"]) {
      if (a === b) continue;
      assert.match(res.stdout, new RegExp("^ping +" + a + " -> " + b + " +ok ", "m"));
      assert.match(res.stdout, new RegExp("^cast +" + a + " -> " + b + " +ok +1000 ", "m"));
    }
  }
  assert.match(res.stdout, /^call \(stream\) +alpha -> beta +ok +4 MiB .* MiB\/s$/m);
  assert.match(res.stdout, /^multicall +alpha -> alpha,beta,gamma +ok /m);
  assert.doesNotMatch(res.stdout, /FAIL/);
  assert.match(res.stdout, /^demo: all \d+ steps ok .* in [\d.]+ s$/m, "summary line");
});
