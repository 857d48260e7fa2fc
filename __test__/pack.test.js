// The package as an app gets it: `npm pack` the repository (which builds the
// prebuilt addon for this platform into the tarball), install the tarball
// into a new empty app with cargo absent from the PATH, then require it there:
// two kernels ping, and (when clusterluck is beside the project) a two-node
// clusterluck cluster switched by `-r clusterluck-native/register` makes a
// GenServer call. Then CLUSTERLUCK_NATIVE_BUILD=1 forces a source build, and
// without cargo that fails saying what to install.
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
const platform = require("../lib/platform");
const clusterluck = require("./helpers/clusterluck");
const PREBUILT = platform.prebuiltFile();

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
  const addons = fs.readdirSync(where).filter((f) => f.endsWith(".node")).sort();
  console.log(JSON.stringify({ where, addons, pong }));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
`;

// A two-node clusterluck cluster in the app, run with -r clusterluck-native/register.
const CLUSTER_SCRIPT = `"use strict";
const net = require("net");
const cl = require("clusterluck");

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

async function node(id) {
  const cluster = cl.createCluster(id, "127.0.0.1", await freePort(), { kernelOpts: { retry: 100 } });
  const server = cl.createGenServer(cluster);
  server.on("hello", (data, from) => server.reply(from, { hi: data, from: id }));
  server.start("greeter");
  await new Promise((resolve) => cluster.start("pack cookie", "pack ring", resolve));
  return { cluster, server };
}

(async () => {
  setTimeout(() => {
    console.error("the process did not exit after stop()");
    process.exit(3);
  }, 20000).unref();
  const a = await node("cl-a");
  const b = await node("cl-b");
  // The reply travels on b's own link to a, so the nodes meet by gossip.
  a.cluster.gossip().meet(b.cluster.kernel().self());
  await new Promise((resolve) => {
    const check = () => (b.cluster.kernel().isConnected(a.cluster.kernel().self()) ? resolve() : setTimeout(check, 20));
    check();
  });
  const reply = await new Promise((resolve, reject) =>
    a.server.call({ node: b.cluster.kernel().self(), id: "greeter" }, "hello", "b",
      (err, res) => (err ? reject(err) : resolve(res)), 5000));
  const native = require("clusterluck-native").NetKernel;
  const kernels = [a, b].map((n) => n.cluster.kernel() instanceof native);
  a.cluster.stop(true);
  b.cluster.stop(true);
  console.log(JSON.stringify({ reply, kernels }));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
`;

// The environment with no cargo (nor rustc) on the PATH. Where node itself
// shares a directory with cargo, node and npm are linked from a directory
// of their own.
function withoutCargo(tmp) {
  const has = (dir, exe) => fs.existsSync(path.join(dir, exe));
  const dirs = (process.env.PATH || "").split(path.delimiter).filter(Boolean);
  const keep = dirs.filter((d) => !has(d, "cargo") && !has(d, "rustc"));
  const nodeDir = path.dirname(process.execPath);
  if (!keep.includes(nodeDir) || has(nodeDir, "cargo")) {
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.symlinkSync(process.execPath, path.join(bin, "node"));
    const npmCli = path.join(path.dirname(require.resolve("npm/package.json", { paths: [nodeDir, path.join(nodeDir, "..", "lib")] })), "bin", "npm-cli.js");
    fs.symlinkSync(npmCli, path.join(bin, "npm"));
    keep.unshift(bin);
  }
  const env = cleanEnv({ PATH: keep.join(path.delimiter) });
  delete env.CARGO;
  delete env.RUSTC;
  return env;
}

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

  it("the tarball has the sources to build from, this platform's prebuilt addon, and nothing test-only", () => {
    for (const file of ["package.json", "index.js", "index.d.ts", "register.js", "register.d.ts", "Cargo.toml",
      "Cargo.lock", "build.rs", "scripts/build.js", "scripts/install.js"]) {
      assert.ok(entries.includes(file), file + " is in the tarball");
    }
    for (const file of ["lib/kernel.js", "lib/connection.js", "lib/node.js", "lib/native.js", "lib/consts.js",
      "lib/platform.js", "lib/register.js", "lib/queue.js"]) {
      assert.ok(entries.includes(file), file + " is in the tarball");
    }
    assert.ok(entries.includes("src/lib.rs"), "src/lib.rs is in the tarball");
    assert.ok(entries.some((e) => e.startsWith("src/") && e.endsWith(".rs") && e !== "src/lib.rs"), "src/ has its modules");
    for (const dir of ["target/", "node_modules/", "__test__/"]) {
      assert.deepEqual(entries.filter((e) => e.startsWith(dir)), [], "nothing under " + dir);
    }
    assert.deepEqual(entries.filter((e) => e.endsWith(".node")), [PREBUILT],
      "the prebuilt addon of this platform, and no source build");
  });

  it("installs into a new app without cargo, using the prebuilt addon", async () => {
    app = path.join(tmp, "app");
    fs.mkdirSync(app);
    const env = withoutCargo(tmp);
    assertOk(await run(NPM, ["init", "-y"], { cwd: app, env }), "npm init");
    const pkgs = [tarball];
    if (clusterluck.available()) {
      // clusterluck from its packed sources, node-ipc and its dependencies pinned.
      const packed = await run(NPM, ["pack", clusterluck.sourceDir(), "--json", "--pack-destination", tmp], { cwd: tmp, env });
      assertOk(packed, "npm pack clusterluck");
      pkgs.push(path.join(tmp, JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")))[0].filename));
      const manifest = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8"));
      manifest.overrides = clusterluck.PINS.overrides;
      fs.writeFileSync(path.join(app, "package.json"), JSON.stringify(manifest, null, 2));
    }
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts"].concat(pkgs), { cwd: app, env });
    assertOk(res, "npm install <tarball> without cargo");
    const installed = path.join(app, "node_modules", "clusterluck-native");
    assert.match(res.stdout + res.stderr, new RegExp("clusterluck-native: using the prebuilt addon " + PREBUILT.replace(/\./g, "\\.")));
    assert.ok(fs.existsSync(path.join(installed, PREBUILT)));
    assert.ok(!fs.existsSync(path.join(installed, "clusterluck-native.node")), "nothing was built");
  });

  it("require()s in the app, and two kernels ping", async () => {
    assert.ok(app, "installed");
    fs.writeFileSync(path.join(app, "check.js"), APP_SCRIPT);
    const res = await run(process.execPath, ["check.js"], { cwd: app, timeout: 60000 });
    assertOk(res, "the app script");
    const out = JSON.parse(res.stdout.trim().split(/\r?\n/).pop());
    assert.equal(out.pong, "pong");
    assert.deepEqual(out.addons, [PREBUILT]);
    assert.equal(fs.realpathSync(out.where), fs.realpathSync(path.join(app, "node_modules", "clusterluck-native")),
      "the app loaded its installed copy, not this repository");
  });

  it("runs a two-node clusterluck cluster with -r clusterluck-native/register", { skip: clusterluck.available() ? false : clusterluck.skipReason() }, async () => {
    assert.ok(app, "installed");
    fs.writeFileSync(path.join(app, "cluster.js"), CLUSTER_SCRIPT);
    const res = await run(process.execPath, ["-r", "clusterluck-native/register", "cluster.js"],
      { cwd: app, timeout: 60000, env: withoutCargo(tmp) });
    assertOk(res, "the clusterluck app");
    const out = JSON.parse(res.stdout.trim().split(/\r?\n/).pop());
    assert.deepEqual(out, { reply: { hi: "b", from: "cl-b" }, kernels: [true, true] });
  });

  it("CLUSTERLUCK_NATIVE_BUILD=1 builds from source instead", async () => {
    const forced = path.join(tmp, "forced");
    fs.mkdirSync(forced);
    assertOk(await run(NPM, ["init", "-y"], { cwd: forced }), "npm init");
    // CARGO_TARGET_DIR: reuse this repository's compiled dependencies.
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts", tarball], {
      cwd: forced,
      env: cleanEnv({ CARGO_TARGET_DIR: path.join(ROOT, "target"), CLUSTERLUCK_NATIVE_BUILD: "1" }),
    });
    assertOk(res, "npm install <tarball> with CLUSTERLUCK_NATIVE_BUILD=1");
    assert.match(res.stdout + res.stderr, /clusterluck-native: built clusterluck-native\.node/);
    const installed = path.join(forced, "node_modules", "clusterluck-native");
    assert.ok(fs.existsSync(path.join(installed, "clusterluck-native.node")), "built from source");
    fs.writeFileSync(path.join(forced, "check.js"), APP_SCRIPT);
    const ran = await run(process.execPath, ["check.js"], { cwd: forced, timeout: 60000 });
    assertOk(ran, "the app script on the source build");
    const out = JSON.parse(ran.stdout.trim().split(/\r?\n/).pop());
    assert.equal(out.pong, "pong");
    assert.deepEqual(out.addons, [PREBUILT, "clusterluck-native.node"].sort());
  });

  it("a source build without cargo fails, saying what to install", async () => {
    const bare = path.join(tmp, "bare");
    fs.mkdirSync(bare);
    const env = withoutCargo(tmp);
    assertOk(await run(NPM, ["init", "-y"], { cwd: bare, env }), "npm init");
    env.CLUSTERLUCK_NATIVE_BUILD = "1";
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts", tarball], { cwd: bare, env });
    assert.notEqual(res.code, 0, "the install fails");
    assert.match(res.stdout + res.stderr, /needs a Rust toolchain: install it from https:\/\/rustup\.rs/);
  });
});
