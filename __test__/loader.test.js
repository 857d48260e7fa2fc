// Finding the addon (lib/platform.js) on every platform the release builds,
// without those machines: the platform, arch and C library are given to the
// loader, and the addons are fixture files in a fixture package tree (a
// `.node` here is a JSON text naming what it stands for, loaded by a test
// loader that parses it, or throws where the fixture says it does not load).
// Then the real thing in child processes: the coded error when nothing
// loads, the register fallback and its one warning, CLUSTERLUCK_NATIVE=
// required, and `clusterluck-native info`.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const platform = require("../lib/platform");
const info = require("../lib/cli/info");

const ROOT = path.resolve(__dirname, "..");
const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;

// Every layout: napi-rs triple -> the platform, arch and libc it is for.
const LAYOUTS = {
  "linux-x64-gnu": ["linux", "x64", "glibc"],
  "linux-x64-musl": ["linux", "x64", "musl"],
  "linux-arm64-gnu": ["linux", "arm64", "glibc"],
  "linux-arm64-musl": ["linux", "arm64", "musl"],
  "darwin-x64": ["darwin", "x64", null],
  "darwin-arm64": ["darwin", "arm64", null],
  "win32-x64-msvc": ["win32", "x64", null],
};

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

// A fixture addon: what it stands for, and whether it "loads".
function addon(file, stands, broken = null) {
  write(file, JSON.stringify({ stands, broken }));
}

// A package tree: the package itself, and platform packages beside it.
function tree(dir, { local = [], packages = {}, version = VERSION } = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  write(path.join(dir, "package.json"), JSON.stringify({ name: "clusterluck-native", version: VERSION }));
  for (const t of local) addon(path.join(dir, platform.addonFile(t)), "local " + t);
  for (const [t, opts] of Object.entries(packages)) {
    const pkgDir = path.join(dir, "node_modules", platform.packageName(t));
    write(path.join(pkgDir, "package.json"), JSON.stringify({
      name: platform.packageName(t), version: opts.version || version, main: platform.addonFile(t),
    }));
    addon(path.join(pkgDir, platform.addonFile(t)), "package " + t, opts.broken || null);
  }
  return dir;
}

// Finds an addon in `root` as the machine `t` would, recording every file loaded.
function find(root, t, extra = {}) {
  const [p, arch, libc] = LAYOUTS[t] || t;
  const loaded = [];
  const found = platform.findAddon(Object.assign({
    root, platform: p, arch, libc, env: {},
    load: (file) => {
      loaded.push(path.basename(file));
      const fixture = JSON.parse(fs.readFileSync(file, "utf8"));
      if (fixture.broken) throw new Error(fixture.broken + "\n    at a stack line");
      return fixture;
    },
  }, extra));
  return { found, loaded };
}

function node(args, env = {}, cwd = ROOT) {
  const res = spawnSync(process.execPath, args, { cwd, env: Object.assign({}, process.env, env), encoding: "utf8", timeout: 60000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe("the loader on every platform layout (fixtures)", () => {
  let tmp;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clusterluck-native-loader-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("names each platform as napi-rs does, and the targets the release builds are exactly those", () => {
    for (const [t, [p, arch, libc]] of Object.entries(LAYOUTS)) assert.equal(platform.triple(p, arch, libc), t);
    assert.equal(platform.triple("linux", "arm", "glibc"), "linux-arm-gnueabihf");
    assert.equal(platform.triple("linux", "arm", "musl"), "linux-arm-musleabihf");
    assert.equal(platform.triple("aix", "ppc64", null), null);
    assert.deepEqual(platform.TARGETS.slice().sort(), Object.keys(LAYOUTS).sort());
  });

  it("with every platform package installed, each machine loads its own and no other", () => {
    const all = Object.fromEntries(Object.keys(LAYOUTS).map((t) => [t, {}]));
    const root = tree(path.join(tmp, "all"), { packages: all });
    for (const t of Object.keys(LAYOUTS)) {
      const { found, loaded } = find(root, t);
      assert.equal(found.binding && found.binding.stands, "package " + t, t);
      assert.equal(found.source, "platform package clusterluck-native-" + t);
      assert.equal(found.version, VERSION);
      assert.deepEqual(loaded, [platform.addonFile(t)], t + " loaded only its own file");
      assert.equal(found.machine.triple, t);
    }
  });

  it("the package's own file comes before the platform package", () => {
    const root = tree(path.join(tmp, "own"), { local: ["linux-x64-gnu"], packages: { "linux-x64-gnu": {} } });
    const { found, loaded } = find(root, "linux-x64-gnu");
    assert.equal(found.binding.stands, "local linux-x64-gnu");
    assert.equal(found.file, path.join(root, "clusterluck-native.linux-x64-gnu.node"));
    assert.deepEqual(loaded, ["clusterluck-native.linux-x64-gnu.node"]);
  });

  it("a musl machine never loads a glibc binary, even with nothing else there", () => {
    const root = tree(path.join(tmp, "gnu-only"), {
      local: ["linux-x64-gnu", "linux-arm64-gnu"], packages: { "linux-x64-gnu": {}, "linux-arm64-gnu": {} },
    });
    const { found, loaded } = find(root, "linux-x64-musl");
    assert.equal(found.binding, null);
    assert.deepEqual(loaded, [], "nothing was loaded");
    assert.deepEqual(found.tried.map((t) => t.why), ["not there", "not installed"]);
    assert.match(found.tried[0].what, /clusterluck-native\.linux-x64-musl\.node$/);
    assert.equal(found.tried[1].what, "the package clusterluck-native-linux-x64-musl");
    // ... and the other way round.
    const muslRoot = tree(path.join(tmp, "musl-only"), { local: ["linux-x64-musl"], packages: { "linux-x64-musl": {} } });
    const gnu = find(muslRoot, "linux-x64-gnu");
    assert.equal(gnu.found.binding, null);
    assert.deepEqual(gnu.loaded, []);
  });

  it("a file that does not load is passed over for the platform package, and its reason kept", () => {
    const root = tree(path.join(tmp, "broken"), { packages: { "darwin-arm64": {} } });
    addon(path.join(root, "clusterluck-native.darwin-arm64.node"), "local", "dlopen: mach-o, but wrong architecture");
    const { found, loaded } = find(root, "darwin-arm64");
    assert.equal(found.binding.stands, "package darwin-arm64");
    assert.deepEqual(loaded, ["clusterluck-native.darwin-arm64.node", "clusterluck-native.darwin-arm64.node"]);
    assert.deepEqual(found.tried, [{ what: path.join(root, "clusterluck-native.darwin-arm64.node"),
      why: "dlopen: mach-o, but wrong architecture" }]);
  });

  it("a platform package of another version is not loaded", () => {
    const root = tree(path.join(tmp, "mismatch"), { packages: { "win32-x64-msvc": { version: "0.0.9" } } });
    const { found, loaded } = find(root, "win32-x64-msvc");
    assert.equal(found.binding, null);
    assert.deepEqual(loaded, []);
    assert.match(found.tried[1].why, new RegExp("^version 0\\.0\\.9, not " + VERSION.replace(/\./g, "\\.")));
  });

  it("NAPI_RS_NATIVE_LIBRARY_PATH loads that file and nothing else, even when it fails", () => {
    const root = tree(path.join(tmp, "env"), { local: ["linux-arm64-gnu"], packages: { "linux-arm64-gnu": {} } });
    const given = path.join(tmp, "elsewhere", "custom.node");
    addon(given, "given");
    let r = find(root, "linux-arm64-gnu", { env: { NAPI_RS_NATIVE_LIBRARY_PATH: given } });
    assert.equal(r.found.binding.stands, "given");
    assert.equal(r.found.source, "NAPI_RS_NATIVE_LIBRARY_PATH");
    assert.deepEqual(r.loaded, ["custom.node"]);
    addon(given, "given", "invalid ELF header");
    r = find(root, "linux-arm64-gnu", { env: { NAPI_RS_NATIVE_LIBRARY_PATH: given } });
    assert.equal(r.found.binding, null, "no fallback past a path given by hand");
    assert.deepEqual(r.loaded, ["custom.node"]);
    const err = platform.unavailable(r.found);
    assert.match(err.message, /NAPI_RS_NATIVE_LIBRARY_PATH\): invalid ELF header/);
    assert.match(err.fix[0], /point NAPI_RS_NATIVE_LIBRARY_PATH at an addon built for linux-arm64-gnu/);
  });

  it("the error names the platform, what was tried and the fix, by whether cargo is there", () => {
    const root = tree(path.join(tmp, "none"));
    const { found } = find(root, "linux-arm64-musl");
    const without = new platform.NativeUnavailable(found, { cargo: false, version: VERSION });
    assert.equal(without.code, "CLUSTERLUCK_NATIVE_UNAVAILABLE");
    assert.equal(without.platform, "linux-arm64-musl");
    assert.equal(without.libc, "musl");
    assert.equal(without.tried.length, 2);
    assert.match(without.message, /no native addon loads on linux-arm64-musl \(musl, from given\)/);
    assert.match(without.message, /npm install clusterluck-native-linux-arm64-musl@/);
    assert.match(without.message, /install a Rust toolchain \(cargo is not on the PATH; https:\/\/rustup\.rs\)/);
    assert.match(without.message, /CLUSTERLUCK_NATIVE=required/);
    const withCargo = new platform.NativeUnavailable(found, { cargo: true });
    assert.match(withCargo.message, /cargo is on the PATH, so `npm rebuild clusterluck-native`/);
    // Whether cargo is there is a look along the PATH (or at $CARGO), nothing run.
    const bin = path.join(tmp, "bin");
    write(path.join(bin, process.platform === "win32" ? "cargo.exe" : "cargo"), "");
    assert.equal(platform.hasCargo({ PATH: [path.join(tmp, "nothing"), bin].join(path.delimiter) }), true);
    assert.equal(platform.hasCargo({ PATH: path.join(tmp, "nothing") }), false);
    assert.equal(platform.hasCargo({ PATH: bin, CARGO: path.join(tmp, "nothing", "cargo") }), false);
    const aix = platform.findAddon({ root, platform: "aix", arch: "ppc64", env: {} });
    const unnamed = new platform.NativeUnavailable(aix, { cargo: false });
    assert.equal(unnamed.platform, "aix-ppc64");
    assert.match(unnamed.message, /Tried: nothing \(napi-rs has no name for this platform\)/);
    assert.doesNotMatch(unnamed.message, /npm install clusterluck-native-/, "no package to suggest");
  });
});

describe("telling glibc from musl", () => {
  const never = () => {
    throw new Error("not asked");
  };
  const missing = () => {
    throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
  };

  it("reads /usr/bin/ldd first", () => {
    assert.deepEqual(platform.detectLibc({ readFile: () => "#! /bin/bash\n# This file is part of the GNU C Library.\n",
      getReport: never, runLdd: never }), { libc: "glibc", how: "/usr/bin/ldd" });
    assert.deepEqual(platform.detectLibc({ readFile: () => "\u007fELF...musl libc (x86_64)...", getReport: never,
      runLdd: never }), { libc: "musl", how: "/usr/bin/ldd" });
  });

  it("then the process report: glibc's runtime version, or the musl loader among the shared objects", () => {
    assert.deepEqual(platform.detectLibc({ readFile: missing, getReport: () => ({ header: { glibcVersionRuntime: "2.17" } }),
      runLdd: never }), { libc: "glibc", how: "the process report" });
    assert.deepEqual(platform.detectLibc({ readFile: missing, runLdd: never,
      getReport: () => JSON.stringify({ header: {}, sharedObjects: ["/lib/ld-musl-aarch64.so.1", "/usr/lib/libstdc++.so.6"] }) }),
    { libc: "musl", how: "the process report" });
  });

  it("then `ldd --version`, whose musl form fails and prints on stderr; else glibc is assumed", () => {
    const muslLdd = () => {
      throw Object.assign(new Error("exit 1"), { stderr: "musl libc (x86_64)\nVersion 1.2.4\n" });
    };
    assert.deepEqual(platform.detectLibc({ readFile: missing, getReport: () => ({ header: {} }), runLdd: muslLdd }),
      { libc: "musl", how: "ldd --version" });
    assert.deepEqual(platform.detectLibc({ readFile: missing, getReport: () => null, runLdd: missing }),
      { libc: "glibc", how: "assumed (nothing told)" });
  });

  it("this machine's answer agrees with the process report", () => {
    if (process.platform !== "linux") return;
    const report = process.report.getReport();
    const header = typeof report === "string" ? JSON.parse(report).header : report.header;
    assert.equal(platform.detectLibc().libc, header.glibcVersionRuntime ? "glibc" : "musl");
  });
});

describe("where nothing loads: the coded error, register's fallback, required mode, info", () => {
  // No addon loads where NAPI_RS_NATIVE_LIBRARY_PATH names a file that is not there.
  const NONE = { NAPI_RS_NATIVE_LIBRARY_PATH: path.join(os.tmpdir(), "clusterluck-native-missing", "x.node"), CLUSTERLUCK_NATIVE: "" };

  it("require() throws an Error with code CLUSTERLUCK_NATIVE_UNAVAILABLE", () => {
    const res = node(["-e", "try { require('./'); console.log('loaded') } catch (e) { console.log(JSON.stringify({ code: e.code, platform: e.platform, tried: e.tried, message: e.message })) }"], NONE);
    const out = JSON.parse(res.stdout);
    assert.equal(out.code, "CLUSTERLUCK_NATIVE_UNAVAILABLE");
    assert.equal(out.platform, platform.describe().triple);
    assert.match(out.tried[0], /x\.node \(NAPI_RS_NATIVE_LIBRARY_PATH\)/);
  });

  it("register keeps the JS kernel and warns once; CLUSTERLUCK_NATIVE=required throws instead", () => {
    const script = "require('./register'); require('./register');" +
      "const r = require('./lib/register'); console.log(JSON.stringify([r.install(), r.install()]));";
    const res = node(["-e", script], NONE);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), [false, false]);
    const warnings = res.stderr.split("\n").filter((l) => l.includes("CLUSTERLUCK_NATIVE_UNAVAILABLE"));
    assert.equal(warnings.length, 1, res.stderr);
    assert.match(warnings[0], /running clusterluck's own JS kernel/);
    const strict = node(["-r", "./register", "-e", "console.log('ran')"], Object.assign({}, NONE, { CLUSTERLUCK_NATIVE: "required" }));
    assert.notEqual(strict.code, 0);
    assert.doesNotMatch(strict.stdout, /ran/);
    assert.match(strict.stderr, /code: 'CLUSTERLUCK_NATIVE_UNAVAILABLE'/);
  });

  it("with an addon, register puts native kernels in place and says nothing", { skip: platform.addon().binding ? false : "no addon built here (npm run build)" }, () => {
    const res = node(["-e", "console.log(require('./lib/register').install())"], { CLUSTERLUCK_NATIVE: "required" });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), "true");
    assert.equal(res.stderr, "");
  });

  it("info says which addon loads, or why none does (text and --json, exit codes)", { skip: platform.addon().binding ? false : "no addon built here (npm run build)" }, () => {
    const bin = path.join(ROOT, "bin", "clusterluck-native.js");
    let res = node([bin, "info", "--json"]);
    assert.equal(res.code, 0, res.stderr);
    let r = JSON.parse(res.stdout);
    assert.equal(r.addon.path, path.join(ROOT, platform.addonFile(platform.describe().triple)));
    assert.equal(r.addon.from, "this package's own file");
    assert.equal(r.addon.version, VERSION);
    assert.equal(r.platform.triple, platform.describe().triple);
    assert.equal(r.kernel, "native");
    res = node([bin, "info"]);
    assert.equal(res.code, 0);
    assert.match(res.stdout, new RegExp("^addon +" + r.addon.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$", "m"));
    res = node([bin, "info", "--json"], NONE);
    assert.equal(res.code, 1);
    r = JSON.parse(res.stdout);
    assert.equal(r.addon, null);
    assert.equal(r.unavailable.code, "CLUSTERLUCK_NATIVE_UNAVAILABLE");
    assert.equal(r.kernel, "clusterluck's JS kernel, with a warning");
    res = node([bin, "info"], Object.assign({}, NONE, { CLUSTERLUCK_NATIVE: "required" }));
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^addon +none loads$/m);
    assert.match(res.stdout, /^ +tried +.*x\.node \(NAPI_RS_NATIVE_LIBRARY_PATH\)/m);
    assert.match(res.stdout, /^register +error \(CLUSTERLUCK_NATIVE=required\)$/m);
    assert.equal(node([bin, "info", "--bogus"]).code, 2);
  });

  it("info's glibc reading agrees with objdump, on this addon and on node itself", (t) => {
    const objdump = spawnSync("objdump", ["--version"], { encoding: "utf8" });
    if (objdump.error) return t.skip("objdump is not installed (binutils)");
    const files = [process.execPath];
    const own = platform.addon().file;
    if (own) files.push(own);
    for (const file of files) {
      const res = spawnSync("objdump", ["-T", file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      if (res.status !== 0) return t.skip("objdump cannot read " + file + " (not ELF here)");
      const versions = [...new Set(res.stdout.match(/GLIBC_[0-9.]+/g) || [])].map((v) => v.slice(6));
      versions.sort((a, b) => {
        const [x, y] = [a, b].map((v) => v.split(".").map(Number));
        return x[0] - y[0] || x[1] - y[1] || (x[2] || 0) - (y[2] || 0);
      });
      assert.equal(info.glibcNeeded(file), versions.length ? versions[versions.length - 1] : null, file);
    }
    assert.equal(info.glibcNeeded(path.join(ROOT, "package.json")), null, "not ELF");
  });

  it("info reports a platform package's addon and its build record", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clusterluck-native-info-"));
    try {
      const root = tree(tmp, { packages: { "linux-arm64-musl": {} } });
      const record = { profile: "release", features: ["napi"], builtWith: "napi build", linkedAgainst: null, rustc: "rustc 9.9.9" };
      write(path.join(root, "node_modules", "clusterluck-native-linux-arm64-musl", "clusterluck-native.linux-arm64-musl.build.json"),
        JSON.stringify(record));
      const { found } = find(root, "linux-arm64-musl");
      let text = "";
      const code = await info.run([], { out: { write: (s) => (text += s) }, found, env: {} });
      assert.equal(code, 0);
      assert.match(text, /^platform +linux arm64, musl \(from given\): linux-arm64-musl$/m);
      assert.match(text, /^ +from +platform package clusterluck-native-linux-arm64-musl$/m);
      assert.match(text, /^ +build +release, features napi, napi build$/m);
      assert.match(text, /^ +rustc +rustc 9\.9\.9$/m);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
