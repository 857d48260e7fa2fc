// The package as an app gets it. `npm pack` the repository once (which
// builds this platform's prebuilt into the tarball, linked against glibc
// 2.17), then, each in a new empty app with cargo absent from the PATH:
// - the tarball as npm 11 installs it, the install script not run (no
//   app allowed it): the prebuilt loads, two kernels ping, and a two-node
//   clusterluck cluster switched by `-r clusterluck-native/register` makes a
//   GenServer call;
// - the same tarball with a prebuilt that does not load, the install script
//   allowed: the install succeeds with one warning, require() throws the
//   coded error saying cargo is missing, register runs the clusterluck app
//   on its JS kernel with one warning, and CLUSTERLUCK_NATIVE=required
//   fails at once;
// - CLUSTERLUCK_NATIVE_BUILD=1: a source build with cargo, and without it a
//   failure that says what to install.
// The glibc floor is read off the prebuilt with objdump or readelf.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { spawn, spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const STEP_TIMEOUT = 240000; // ms for any one command (an install may compile)
const platform = require("../lib/platform");
const clusterluck = require("./helpers/clusterluck");
const PREBUILT = platform.addonFile(platform.describe().triple);

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
// It says which kernel each node got without requiring clusterluck-native
// (which throws where no addon loads): the native classes carry a marker.
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
  const marker = Symbol.for("clusterluck-native.original");
  const kernels = [a, b].map((n) => {
    const k = n.cluster.kernel();
    if (!k.constructor[marker]) return "js";
    return k instanceof require("clusterluck-native").NetKernel ? "native" : "native, not an instance";
  });
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

// The highest GLIBC_ symbol version an ELF file needs, by objdump -T or
// readelf -V, or null with the reason when neither tool is there.
function glibcNeeds(file) {
  for (const [tool, args] of [["objdump", ["-T", file]], ["readelf", ["-V", "-W", file]]]) {
    const res = spawnSync(tool, args, { encoding: "utf8" });
    if (res.error) continue;
    assert.equal(res.status, 0, tool + " failed: " + res.stderr);
    const versions = [...new Set(res.stdout.match(/GLIBC_[0-9.]+/g) || [])].map((v) => v.slice(6).split(".").map(Number));
    assert.ok(versions.length > 0, tool + " found no GLIBC_ versions in " + file);
    versions.sort((a, b) => a[0] - b[0] || (a[1] || 0) - (b[1] || 0) || (a[2] || 0) - (b[2] || 0));
    return { tool, highest: versions[versions.length - 1].join(".") };
  }
  return null;
}

const GLIBC_FLOOR = [2, 17];

describe("npm pack, install into a new app, use it there", { timeout: 600000 }, () => {
  let tmp;
  let tarball;
  let entries;
  let clusterluckTarball = null;
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
    if (clusterluck.available()) {
      const packed = await run(NPM, ["pack", clusterluck.sourceDir(), "--json", "--pack-destination", tmp], { cwd: tmp });
      assertOk(packed, "npm pack clusterluck");
      clusterluckTarball = path.join(tmp, JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")))[0].filename);
    }
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // A new app depending on `pkg` (and clusterluck, node-ipc pinned, when it
  // is beside the project), whose install scripts run only if `allow`.
  function newApp(name, pkg, allow) {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    const manifest = { name, version: "1.0.0", private: true, dependencies: { "clusterluck-native": "file:" + pkg } };
    if (clusterluckTarball !== null) {
      manifest.dependencies.clusterluck = "file:" + clusterluckTarball;
      manifest.overrides = clusterluck.PINS.overrides;
    }
    if (allow) manifest.allowScripts = { ["file:" + pkg]: true };
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest, null, 2));
    return dir;
  }

  function lastJson(res) {
    return JSON.parse(res.stdout.trim().split(/\r?\n/).pop());
  }

  it("the tarball has the sources, this platform's prebuilt and its build record, the platform packages, nothing test-only", () => {
    for (const file of ["package.json", "index.js", "index.d.ts", "register.js", "register.d.ts", "Cargo.toml",
      "Cargo.lock", "build.rs", "scripts/build.js", "scripts/install.js", "bin/clusterluck-native.js", "lib/cli/info.js"]) {
      assert.ok(entries.includes(file), file + " is in the tarball");
    }
    for (const file of ["lib/kernel.js", "lib/connection.js", "lib/node.js", "lib/native.js", "lib/consts.js",
      "lib/platform.js", "lib/register.js", "lib/queue.js"]) {
      assert.ok(entries.includes(file), file + " is in the tarball");
    }
    assert.ok(entries.includes("src/lib.rs"), "src/lib.rs is in the tarball");
    assert.ok(entries.some((e) => e.startsWith("src/") && e.endsWith(".rs") && e !== "src/lib.rs"), "src/ has its modules");
    for (const dir of ["target/", "node_modules/", "__test__/", "npm/", ".github/"]) {
      assert.deepEqual(entries.filter((e) => e.startsWith(dir)), [], "nothing under " + dir);
    }
    assert.deepEqual(entries.filter((e) => e.endsWith(".node")), [PREBUILT], "the prebuilt addon of this platform only");
    assert.ok(entries.includes(PREBUILT.replace(/\.node$/, ".build.json")), "its build record");
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    assert.deepEqual(Object.keys(manifest.optionalDependencies).sort(),
      platform.TARGETS.map((t) => platform.packageName(t)).sort(), "a platform package per target");
    for (const t of platform.TARGETS) {
      const sub = JSON.parse(fs.readFileSync(path.join(ROOT, "npm", t, "package.json"), "utf8"));
      assert.equal(sub.name, platform.packageName(t));
      assert.equal(sub.version, manifest.version, t + " has the package's version");
      assert.equal(manifest.optionalDependencies[sub.name], manifest.version);
      assert.equal(sub.main, platform.addonFile(t));
      assert.deepEqual(sub.os, [t.split("-")[0]]);
      assert.deepEqual(sub.cpu, [t.split("-")[1]]);
      assert.deepEqual(sub.libc, t.endsWith("-gnu") ? ["glibc"] : t.endsWith("-musl") ? ["musl"] : undefined,
        t + ": libc, so npm installs gnu or musl, not both");
    }
  });

  it("the prebuilt needs no glibc newer than 2.17", async (t) => {
    if (!PREBUILT.endsWith("-gnu.node")) return t.skip("the prebuilt here is not a glibc build (" + PREBUILT + ")");
    const dir = path.join(tmp, "unpacked");
    fs.mkdirSync(dir);
    assertOk(await run("tar", ["-xzf", tarball, "-C", dir, "package/" + PREBUILT]), "tar -x");
    const needs = glibcNeeds(path.join(dir, "package", PREBUILT));
    if (needs === null) return t.skip("neither objdump nor readelf is installed (binutils)");
    const [major, minor] = needs.highest.split(".").map(Number);
    assert.ok(major < GLIBC_FLOOR[0] || (major === GLIBC_FLOOR[0] && minor <= GLIBC_FLOOR[1]),
      PREBUILT + " needs GLIBC_" + needs.highest + " (" + needs.tool + "), above 2.17");
  });

  it("installs into a new app without cargo and without running its install script", async () => {
    app = newApp("app", tarball, false);
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts", "--ignore-scripts"],
      { cwd: app, env: withoutCargo(tmp) });
    assertOk(res, "npm install <tarball> without cargo");
    assert.doesNotMatch(res.stdout + res.stderr, /clusterluck-native: /, "the install script did not run");
    const installed = path.join(app, "node_modules", "clusterluck-native");
    assert.ok(fs.existsSync(path.join(installed, PREBUILT)));
  });

  it("require()s in the app, and two kernels ping", async () => {
    assert.ok(app, "installed");
    fs.writeFileSync(path.join(app, "check.js"), APP_SCRIPT);
    const res = await run(process.execPath, ["check.js"], { cwd: app, timeout: 60000, env: withoutCargo(tmp) });
    assertOk(res, "the app script");
    const out = lastJson(res);
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
    assert.deepEqual(lastJson(res), { reply: { hi: "b", from: "cl-b" }, kernels: ["native", "native"] });
    assert.doesNotMatch(res.stderr, /CLUSTERLUCK_NATIVE_UNAVAILABLE/);
  });

  describe("a tarball whose prebuilt does not load, with no cargo", () => {
    let bad;
    let badApp;
    let env;

    before(async () => {
      // The same package, its prebuilt replaced by a file that is no addon.
      const dir = path.join(tmp, "bad");
      fs.mkdirSync(dir);
      assertOk(await run("tar", ["-xzf", tarball, "-C", dir]), "tar -x");
      fs.writeFileSync(path.join(dir, "package", PREBUILT), "not an addon\n");
      bad = path.join(tmp, "bad.tgz");
      assertOk(await run("tar", ["-czf", bad, "-C", dir, "package"]), "tar -c");
      env = withoutCargo(tmp);
    });

    it("npm install exits 0 with one warning: what is missing and the two ways out", async () => {
      badApp = newApp("bad-app", bad, true);
      const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts"], { cwd: badApp, env });
      assertOk(res, "npm install of a tarball with no loadable prebuilt, without cargo");
      const lines = (res.stdout + res.stderr).split(/\r?\n/).filter((l) => l.includes("clusterluck-native: "));
      assert.equal(lines.length, 1, "one line from the install script:\n" + lines.join("\n"));
      assert.match(lines[0], /^clusterluck-native: WARNING: clusterluck-native: no native addon loads on /);
      assert.match(lines[0], new RegExp(PREBUILT.replace(/\./g, "\\.") + ": "), "names the prebuilt it tried");
      assert.match(lines[0], /install the platform package \(npm install clusterluck-native-/);
      assert.match(lines[0], /install a Rust toolchain \(cargo is not on the PATH; https:\/\/rustup\.rs\)/);
    });

    it("require() throws the coded error, naming the platform, what was tried and the missing toolchain", async () => {
      assert.ok(badApp, "installed");
      const script = "try { require('clusterluck-native'); console.log('{}') } catch (e) {" +
        " console.log(JSON.stringify({ code: e.code, platform: e.platform, tried: e.tried, message: e.message })) }";
      const res = await run(process.execPath, ["-e", script], { cwd: badApp, env, timeout: 60000 });
      assertOk(res, "the require script");
      const out = lastJson(res);
      assert.equal(out.code, "CLUSTERLUCK_NATIVE_UNAVAILABLE");
      assert.equal(out.platform, platform.describe().triple);
      assert.equal(out.tried.length, 2, out.message);
      assert.match(out.tried[0], new RegExp(PREBUILT.replace(/\./g, "\\.") + ": "));
      assert.match(out.tried[1], /^the package clusterluck-native-.*: not installed$/);
      assert.match(out.message, /cargo is not on the PATH/);
    });

    it("register runs the clusterluck app on clusterluck's JS kernel, with one warning", { skip: clusterluck.available() ? false : clusterluck.skipReason() }, async () => {
      fs.writeFileSync(path.join(badApp, "cluster.js"), CLUSTER_SCRIPT);
      const res = await run(process.execPath, ["-r", "clusterluck-native/register", "cluster.js"], { cwd: badApp, env, timeout: 60000 });
      assertOk(res, "the clusterluck app on the JS kernel");
      assert.deepEqual(lastJson(res), { reply: { hi: "b", from: "cl-b" }, kernels: ["js", "js"] });
      const warnings = res.stderr.split(/\r?\n/).filter((l) => l.includes("CLUSTERLUCK_NATIVE_UNAVAILABLE"));
      assert.equal(warnings.length, 1, res.stderr);
      assert.match(warnings[0], /running clusterluck's own JS kernel/);
    });

    it("CLUSTERLUCK_NATIVE=required makes register fail at once", async () => {
      fs.writeFileSync(path.join(badApp, "started.js"), "console.log('the app ran');\n");
      const res = await run(process.execPath, ["-r", "clusterluck-native/register", "started.js"],
        { cwd: badApp, env: Object.assign({}, env, { CLUSTERLUCK_NATIVE: "required" }), timeout: 60000 });
      assert.notEqual(res.code, 0);
      assert.doesNotMatch(res.stdout, /the app ran/);
      assert.match(res.stderr, /code: 'CLUSTERLUCK_NATIVE_UNAVAILABLE'/);
    });
  });

  // An app's source build is a plain `cargo build --release --lib --features
  // napi` (an app has no @napi-rs/cli), which neither this repository's
  // napi-rs build (target/napi, the cross toolchain) nor the examples the
  // tests build (other features) leaves warm. It gets a target directory of
  // its own, kept between runs; cold, the build takes minutes, too long for
  // `npm test`, so the test runs once that directory is warm.
  const sourceTarget = path.join(ROOT, "node_modules", ".cache", "clusterluck-native-tests", "source-build-target");
  const warm = fs.existsSync(path.join(sourceTarget, "release", ".fingerprint")) ||
    process.env.CLUSTERLUCK_NATIVE_TEST_SOURCE_BUILD === "1";
  it("CLUSTERLUCK_NATIVE_BUILD=1 builds from source instead", { skip: warm ? false :
    "the source build's target directory is cold, and a cold build takes minutes (set " +
    "CLUSTERLUCK_NATIVE_TEST_SOURCE_BUILD=1 to run it once; later runs reuse it)" }, async () => {
    const forced = newApp("forced", tarball, true);
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts"], {
      cwd: forced,
      env: cleanEnv({ CARGO_TARGET_DIR: sourceTarget, CLUSTERLUCK_NATIVE_BUILD: "1" }),
    });
    assertOk(res, "npm install <tarball> with CLUSTERLUCK_NATIVE_BUILD=1");
    assert.match(res.stdout + res.stderr, new RegExp("clusterluck-native: built " + PREBUILT.replace(/\./g, "\\.")));
    const installed = path.join(forced, "node_modules", "clusterluck-native");
    const record = JSON.parse(fs.readFileSync(path.join(installed, PREBUILT.replace(/\.node$/, ".build.json")), "utf8"));
    assert.equal(record.builtWith, "cargo build", "the shipped prebuilt was replaced by a source build");
    fs.writeFileSync(path.join(forced, "check.js"), APP_SCRIPT);
    const ran = await run(process.execPath, ["check.js"], { cwd: forced, timeout: 60000 });
    assertOk(ran, "the app script on the source build");
    const out = lastJson(ran);
    assert.equal(out.pong, "pong");
    assert.deepEqual(out.addons, [PREBUILT]);
  });

  it("a source build without cargo fails, saying what to install", async () => {
    const bare = newApp("bare", tarball, true);
    const env = withoutCargo(tmp);
    env.CLUSTERLUCK_NATIVE_BUILD = "1";
    const res = await run(NPM, ["install", "--no-audit", "--no-fund", "--foreground-scripts"], { cwd: bare, env });
    assert.notEqual(res.code, 0, "the install fails");
    assert.match(res.stdout + res.stderr, /needs a Rust toolchain: install it from https:\/\/rustup\.rs/);
  });
});
