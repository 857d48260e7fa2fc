// clusterluck itself (../shared/clusterluck beside the project, or the
// directory named by CLUSTERLUCK_SOURCE), installed once into a scratch app
// under node_modules/.cache, so tests can run real clusterluck apps on it.
//
// The install packs that directory and installs the tarball with its
// dependencies from the registry, node-ipc pinned to 8.10.3 (and its
// dependencies to the versions the project pins), microtime 3 (its 2.x does
// not build on current Node). It is reused while clusterluck's package.json
// and the pins are unchanged. The app also links this package as
// node_modules/clusterluck-native, so `-r clusterluck-native/register` works.
"use strict";

const { spawnSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");
const DEFAULT_DIR = path.resolve(ROOT, "..", "shared", "clusterluck");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

const PINS = {
  overrides: {
    "node-ipc": "8.10.3",
    colors: "1.4.0",
    "js-message": "1.0.7",
    "js-queue": "2.0.2",
    "event-pubsub": "4.2.3",
    microtime: "3.1.1",
  },
};

function sourceDir() {
  return process.env.CLUSTERLUCK_SOURCE ? path.resolve(process.env.CLUSTERLUCK_SOURCE) : DEFAULT_DIR;
}

function available() {
  return fs.existsSync(path.join(sourceDir(), "package.json")) &&
    fs.existsSync(path.join(sourceDir(), "lib", "kernel.js"));
}

function skipReason() {
  return "clusterluck not found (" + (process.env.CLUSTERLUCK_SOURCE ? "$CLUSTERLUCK_SOURCE" :
    "../shared/clusterluck beside the project") + "); clusterluck app tests skipped";
}

// npm's own state variables (npm_config_local_prefix among them) would make
// a nested npm write into this repository: the nested npm gets none of them.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  return Object.assign(env, extra);
}

function run(cmd, args, cwd) {
  const res = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: "utf8", timeout: 300000 });
  if (res.error || res.status !== 0) {
    throw new Error(cmd + " " + args.join(" ") + " failed in " + cwd + ": " +
      (res.error ? res.error.message : "code " + res.status) + "\n" +
      String(res.stdout).slice(-3000) + "\n" + String(res.stderr).slice(-3000));
  }
  return res.stdout;
}

// The app directory, installed on first use: node_modules/clusterluck and
// node_modules/clusterluck-native (a link to this repository).
function app() {
  const src = sourceDir();
  const manifest = fs.readFileSync(path.join(src, "package.json"), "utf8");
  const key = crypto.createHash("sha256").update(manifest).update(JSON.stringify(PINS)).digest("hex").slice(0, 12);
  const dir = path.join(ROOT, "node_modules", ".cache", "clusterluck-native-tests", "clusterluck-app-" + key);
  const done = path.join(dir, ".installed");
  if (!fs.existsSync(done)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const packed = JSON.parse(run(NPM, ["pack", src, "--json", "--pack-destination", dir], dir));
    const tarball = "file:./" + packed[0].filename;
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(Object.assign({
      name: "clusterluck-app",
      version: "1.0.0",
      private: true,
      dependencies: { clusterluck: tarball },
    }, PINS), null, 2));
    run(NPM, ["install", "--no-audit", "--no-fund", "--no-package-lock"], dir);
    fs.writeFileSync(done, new Date().toISOString() + "\n");
  }
  const link = path.join(dir, "node_modules", "clusterluck-native");
  let target = null;
  try {
    target = fs.readlinkSync(link);
  } catch (err) {
    target = null;
  }
  if (target !== ROOT) {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(ROOT, link, "dir");
  }
  return dir;
}

module.exports = { available, skipReason, app, cleanEnv, sourceDir, PINS, ROOT };
