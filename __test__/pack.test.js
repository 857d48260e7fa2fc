// The package as an app gets it: `npm pack` the repository, install the tarball
// into a new empty app (which builds the addon from source with cargo), then
// require it there and ping between two kernels.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const STEP_TIMEOUT = 240000; // ms for any one command (an install may compile)

// `npm test` exports its own state as npm_* variables, npm_config_local_prefix
// among them, which would make a nested `npm install` write into this
// repository. The nested npm commands get none of them and read the npmrc
// files on their own.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  return Object.assign(env, extra);
}

// Runs a command; resolves with {code, stdout, stderr} (killed after `timeout`).
function run(cmd, args, { cwd, env = cleanEnv(), timeout = STEP_TIMEOUT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, shell: process.platform === "win32" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function assertOk(res, what) {
  assert.equal(res.code, 0, what + " failed (" + (res.signal || "code " + res.code) + "):\n" +
    res.stdout.slice(-4000) + "\n" + res.stderr.slice(-4000));
}

// The script run inside the app: only what an app would write.
const APP_SCRIPT = `"use strict";
const fs = require("fs");
const net = require("net");
const path = require("path");
const { createKernel } = require("clusterluck-native");

const where = path.dirname(require.resolve("clusterluck-native/package.json"));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      server.close(() => resolve(port));
    });
  });
}

async function started(id) {
  const kernel = createKernel(id, "127.0.0.1", await freePort(), { retry: 100 });
  await new Promise((resolve) => {
    kernel.once("_ready", resolve);
    kernel.start({ cookie: "pack-test" });
  });
  return kernel;
}

(async () => {
  // Fails the run if the kernels keep the process alive once done.
  setTimeout(() => {
    console.error("the process did not exit after stop()");
    process.exit(3);
  }, 20000).unref();
  const a = await started("pack-a");
  const b = await started("pack-b");
  // The pong travels back on b's own link to a, so connect both ways.
  await new Promise((resolve) => a.connect(b.self(), resolve));
  await new Promise((resolve) => b.connect(a.self(), resolve));
  const pong = await new Promise((resolve, reject) =>
    a.ping(b.self(), (err, res) => (err ? reject(err) : resolve(res)), 5000));
  a.disconnect(b.self(), true);
  b.disconnect(a.self(), true);
  a.stop();
  b.stop();
  console.log(JSON.stringify({ where, addon: fs.existsSync(path.join(where, "clusterluck-native.node")), pong }));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
`;

describe("npm pack, install into a new app, use it there", { timeout: 300000 }, () => {
  let tmp;
  let tarball;
  let entries;
  let app;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clusterluck-native-pack-"));
    const res = await run(NPM, ["pack", "--json", "--pack-destination", tmp], { cwd: ROOT });
    assertOk(res, "npm pack");
    const info = JSON.parse(res.stdout.slice(res.stdout.indexOf("[")));
    tarball = path.join(tmp, info[0].filename);
    assert.ok(fs.existsSync(tarball), "tarball written");
    const list = await run("tar", ["-tzf", tarball]);
    assertOk(list, "tar -tzf");
    entries = list.stdout.split(/\r?\n/).filter(Boolean).map((e) => e.replace(/^package\//, ""));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("the tarball has the sources to build from, and nothing built or test-only", () => {
    for (const file of ["package.json", "index.js", "index.d.ts", "Cargo.toml", "Cargo.lock", "build.rs", "scripts/build.js"]) {
      assert.ok(entries.includes(file), file + " is in the tarball");
    }
    for (const file of ["lib/kernel.js", "lib/connection.js", "lib/node.js", "lib/native.js", "lib/consts.js"]) {
      assert.ok(entries.includes(file), file + " is in the tarball");
    }
    assert.ok(entries.includes("src/lib.rs"), "src/lib.rs is in the tarball");
    assert.ok(entries.some((e) => e.startsWith("src/") && e.endsWith(".rs") && e !== "src/lib.rs"), "src/ has its modules");
    for (const dir of ["target/", "node_modules/", "__test__/"]) {
      assert.deepEqual(entries.filter((e) => e.startsWith(dir)), [], "nothing under " + dir);
    }
    assert.deepEqual(entries.filter((e) => e.endsWith(".node")), [], "no built addon");
  });

  it("installs into a new app, building the addon from source", async () => {
    app = path.join(tmp, "app");
    fs.mkdirSync(app);
    assertOk(await run(NPM, ["init", "-y"], { cwd: app }), "npm init");
    // The install runs the package's own `node scripts/build.js`, i.e. a real
    // `cargo build --release`. CARGO_TARGET_DIR points cargo at this
    // repository's target directory, so the dependencies compiled there are
    // reused and the install takes seconds instead of a full build.
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts", tarball], {
      cwd: app,
      env: cleanEnv({ CARGO_TARGET_DIR: path.join(ROOT, "target") }),
    });
    assertOk(res, "npm install <tarball>");
    const installed = path.join(app, "node_modules", "clusterluck-native");
    assert.ok(fs.existsSync(path.join(installed, "clusterluck-native.node")), "the install built the addon:\n" +
      res.stdout.slice(-4000) + "\n" + res.stderr.slice(-4000));
    assert.match(res.stdout + res.stderr, /clusterluck-native: built/);
  });

  it("require()s in the app, and two kernels ping", async () => {
    assert.ok(app, "installed");
    fs.writeFileSync(path.join(app, "check.js"), APP_SCRIPT);
    const res = await run(process.execPath, ["check.js"], { cwd: app, timeout: 60000 });
    assertOk(res, "the app script");
    const out = JSON.parse(res.stdout.trim().split(/\r?\n/).pop());
    assert.equal(out.pong, "pong");
    assert.equal(out.addon, true);
    assert.equal(fs.realpathSync(out.where), fs.realpathSync(path.join(app, "node_modules", "clusterluck-native")),
      "the app loaded its installed copy, not this repository");
  });
});
