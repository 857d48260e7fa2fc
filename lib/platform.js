"use strict";
// Which addon fits this machine, and finding one that loads.
//
// Addons are named as napi-rs names platform binaries: the file
// `clusterluck-native.<triple>.node` (in this package: the prebuilt that
// `npm pack` ships, or a source build) and the package
// `clusterluck-native-<triple>` (one per platform, published beside this one
// and listed in its optionalDependencies; npm installs the one whose `os`,
// `cpu` and `libc` fit). `<triple>` is `linux-x64-gnu`, `linux-x64-musl`,
// `darwin-arm64`, `win32-x64-msvc` and the like.
//
// A Linux machine runs either glibc or musl, and an addon linked against one
// does not load on the other (or worse, loads and misbehaves), so the C
// library is detected first and only the names for that one are tried.
//
// Every input (platform, arch, libc, the environment, the package root, how
// a file is loaded) can be passed in, so the tests can walk through every
// layout on any machine.

const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const NAME = "clusterluck-native";
const ROOT = path.join(__dirname, "..");
const CODE = "CLUSTERLUCK_NATIVE_UNAVAILABLE";
/** The variable napi-rs's own loaders read: a path to the one `.node` to load, and no other. */
const PATH_VARIABLE = "NAPI_RS_NATIVE_LIBRARY_PATH";

/** The targets the release builds, as napi-rs names them (package.json `napi.targets`). */
const TARGETS = ["linux-x64-gnu", "linux-x64-musl", "linux-arm64-gnu", "linux-arm64-musl", "darwin-x64",
  "darwin-arm64", "win32-x64-msvc"];

// What /usr/bin/ldd (a shell script on glibc, the musl loader itself on
// musl) says of its C library, or null when it says neither or is missing.
function libcFromLdd(readFile) {
  let text;
  try {
    text = readFile("/usr/bin/ldd");
  } catch (e) {
    return null;
  }
  if (typeof text !== "string") text = String(text);
  if (text.includes("musl")) return "musl";
  if (text.includes("GNU C Library") || text.includes("GLIBC") || text.includes("glibc")) return "glibc";
  return null;
}

// What Node's own diagnostic report says: the glibc version it runs on,
// or the musl loader among its shared objects.
function libcFromReport(getReport) {
  let report;
  try {
    report = getReport();
    if (typeof report === "string") report = JSON.parse(report);
  } catch (e) {
    return null;
  }
  if (report === null || typeof report !== "object") return null;
  const header = report.header || {};
  if (header.glibcVersionRuntime) return "glibc";
  if (Array.isArray(report.sharedObjects) &&
    report.sharedObjects.some((f) => typeof f === "string" && (f.includes("libc.musl-") || f.includes("ld-musl-")))) {
    return "musl";
  }
  return null;
}

// What `ldd --version` prints (musl's prints its name, on stderr, and fails).
function libcFromCommand(run) {
  let out;
  try {
    out = run();
  } catch (e) {
    out = String((e && (e.stderr || e.stdout)) || "");
  }
  if (typeof out !== "string") out = String(out || "");
  if (out.includes("musl")) return "musl";
  if (out.includes("GNU") || out.includes("GLIBC")) return "glibc";
  return null;
}

function defaultReport() {
  if (!process.report || typeof process.report.getReport !== "function") return null;
  // Excluding networking keeps the report from doing reverse DNS lookups;
  // the app's own setting is put back.
  const had = process.report.excludeNetwork;
  if (had !== undefined) process.report.excludeNetwork = true;
  try {
    return process.report.getReport();
  } finally {
    if (had !== undefined) process.report.excludeNetwork = had;
  }
}

/**
 * The C library of a Linux machine, "glibc" or "musl", and how it was told:
 * /usr/bin/ldd first, then Node's process report, then `ldd --version`, as
 * napi-rs's generated loaders do. With none of them conclusive it is taken
 * to be glibc (what napi-rs assumes too), and `how` says so.
 */
function detectLibc({
  readFile = (f) => fs.readFileSync(f, "utf8"),
  getReport = defaultReport,
  runLdd = () => execFileSync("ldd", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
} = {}) {
  let libc = libcFromLdd(readFile);
  if (libc !== null) return { libc, how: "/usr/bin/ldd" };
  libc = libcFromReport(getReport);
  if (libc !== null) return { libc, how: "the process report" };
  libc = libcFromCommand(runLdd);
  if (libc !== null) return { libc, how: "ldd --version" };
  return { libc: "glibc", how: "assumed (nothing told)" };
}

/**
 * napi-rs's name for a platform: `linux-x64-gnu`, `linux-arm64-musl`,
 * `darwin-arm64`, `win32-x64-msvc`, ...; null where it has none.
 */
function triple(platform = process.platform, arch = process.arch, libc = platform === "linux" ? detectLibc().libc : null) {
  switch (platform) {
    case "linux":
      if (arch === "arm") return "linux-arm-" + (libc === "musl" ? "musleabihf" : "gnueabihf");
      return "linux-" + arch + "-" + (libc === "musl" ? "musl" : "gnu");
    case "win32":
      return "win32-" + arch + "-msvc";
    case "darwin":
    case "freebsd":
    case "android":
      return platform + "-" + arch;
    default:
      return null;
  }
}

/** The file name of the addon for `t` inside this package. */
function addonFile(t) {
  return t === null ? null : NAME + "." + t + ".node";
}

/** The name of the platform package for `t`. */
function packageName(t) {
  return t === null ? null : NAME + "-" + t;
}

/**
 * This machine, or the one described by `opts` (platform, arch, libc):
 * {platform, arch, libc, libcFrom, triple}.
 */
function describe(opts = {}) {
  const platform = opts.platform || process.platform;
  const arch = opts.arch || process.arch;
  let libc = null;
  let libcFrom = null;
  if (platform === "linux") {
    if (opts.libc) {
      libc = opts.libc;
      libcFrom = "given";
    } else {
      const found = detectLibc(opts.detect);
      libc = found.libc;
      libcFrom = found.how;
    }
  }
  return { platform, arch, libc, libcFrom, triple: triple(platform, arch, libc) };
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

// The first line of a load error: dlopen's reason is what matters, and
// the rest of its stack says nothing about the file.
function reason(err) {
  const text = err && err.message ? err.message : String(err);
  return text.split("\n")[0];
}

/**
 * Looks for an addon that loads, and loads it. Tried in order:
 * - NAPI_RS_NATIVE_LIBRARY_PATH, when set: that file, and nothing else
 *   (a path given by hand that fails is an error, not a reason to load
 *   something else);
 * - `clusterluck-native.<triple>.node` in the package (the shipped
 *   prebuilt, or a source build);
 * - the package `clusterluck-native-<triple>`, when installed and of this
 *   package's version.
 *
 * Returns {binding, file, source, version, machine, tried}: `binding` is
 * null when none loaded, and `tried` then says, for each, why not.
 * Options (for tests): platform, arch, libc, env, root (the package
 * directory), load (file -> exports; default require), resolve (request,
 * from -> path; default require.resolve).
 */
function findAddon(opts = {}) {
  const env = opts.env || process.env;
  const root = opts.root || ROOT;
  const load = opts.load || require;
  const resolve = opts.resolve || ((request, from) => require.resolve(request, { paths: [from] }));
  const machine = describe(opts);
  const own = readJson(path.join(root, "package.json"));
  const tried = [];
  const result = (binding, file, source, version) => ({ binding, file, source, version, machine, tried });

  const given = env[PATH_VARIABLE];
  if (given) {
    const file = path.resolve(given);
    try {
      return result(load(file), file, PATH_VARIABLE, null);
    } catch (err) {
      tried.push({ what: file + " (" + PATH_VARIABLE + ")", why: reason(err) });
      return result(null, null, null, null);
    }
  }
  const t = machine.triple;
  if (t === null) return result(null, null, null, null);

  const local = path.join(root, addonFile(t));
  if (fs.existsSync(local)) {
    try {
      return result(load(local), local, "this package's own file", own.version);
    } catch (err) {
      tried.push({ what: local, why: reason(err) });
    }
  } else {
    tried.push({ what: local, why: "not there" });
  }

  const pkg = packageName(t);
  let manifest = null;
  try {
    manifest = resolve(pkg + "/package.json", root);
  } catch (err) {
    tried.push({ what: "the package " + pkg, why: "not installed" });
  }
  if (manifest !== null) {
    const dir = path.dirname(manifest);
    let meta = null;
    try {
      meta = readJson(manifest);
    } catch (err) {
      tried.push({ what: dir, why: "its package.json does not read: " + reason(err) });
    }
    if (meta !== null && meta.version !== own.version) {
      // The addon and the JS that drives it come from one build: another
      // version's addon may not have the functions this JS calls.
      tried.push({ what: dir, why: "version " + meta.version + ", not " + own.version + " as " + NAME + " is" });
    } else if (meta !== null) {
      const file = path.join(dir, meta.main || addonFile(t));
      try {
        return result(load(file), file, "platform package " + pkg, meta.version);
      } catch (err) {
        tried.push({ what: file, why: reason(err) });
      }
    }
  }
  return result(null, null, null, null);
}

// Whether a Rust toolchain is on the PATH, looked up without running it.
function hasCargo(env = process.env) {
  const cargo = env.CARGO || "cargo";
  if (path.isAbsolute(cargo)) return fs.existsSync(cargo);
  const names = process.platform === "win32" ? [cargo + ".exe", cargo] : [cargo];
  return (env.PATH || env.Path || "").split(path.delimiter).filter(Boolean)
    .some((dir) => names.some((n) => fs.existsSync(path.join(dir, n))));
}

/** The addon could not be loaded; says where, what was tried and the way out. */
class NativeUnavailable extends Error {
  constructor(found, { cargo = hasCargo(), version = null } = {}) {
    const m = found.machine;
    const where = m.triple || m.platform + "-" + m.arch;
    const libc = m.libc ? " (" + m.libc + ", from " + m.libcFrom + ")" : "";
    const tried = found.tried.map((t) => t.what + ": " + t.why);
    const pkg = packageName(m.triple);
    const fix = [];
    if (found.tried.some((t) => t.what.endsWith("(" + PATH_VARIABLE + ")"))) {
      fix.push("point " + PATH_VARIABLE + " at an addon built for " + where + ", or unset it");
    } else {
      if (pkg !== null && TARGETS.includes(m.triple)) {
        fix.push("install the platform package (npm install " + pkg + (version ? "@" + version : "") + ")");
      }
      fix.push(cargo
        ? "build it from source: cargo is on the PATH, so `npm rebuild " + NAME + "` (its install script allowed) " +
          "or `node node_modules/" + NAME + "/scripts/install.js`"
        : "install a Rust toolchain (cargo is not on the PATH; https://rustup.rs), then `npm rebuild " + NAME +
          "` (its install script allowed) or `node node_modules/" + NAME + "/scripts/install.js`");
    }
    super(NAME + ": no native addon loads on " + where + libc + ". Tried: " +
      (tried.length > 0 ? tried.join("; ") : "nothing (napi-rs has no name for this platform)") +
      ". Fix: " + fix.join("; or ") + ". Meanwhile " + NAME + "/register keeps clusterluck's own JS kernel " +
      "(with a warning; CLUSTERLUCK_NATIVE=required makes that an error).");
    this.name = "NativeUnavailable";
    this.code = CODE;
    this.platform = where;
    this.libc = m.libc;
    this.tried = tried;
    this.fix = fix;
  }
}

let cached = null;

/** The addon of this process: found once, then the same answer. */
function addon() {
  if (cached === null) cached = findAddon();
  return cached;
}

/** The error to throw when `found` (default: this process's search) has no binding. */
function unavailable(found = addon()) {
  let version = null;
  try {
    version = readJson(path.join(ROOT, "package.json")).version;
  } catch (e) {
    version = null;
  }
  return new NativeUnavailable(found, { version });
}

module.exports = {
  NAME,
  CODE,
  PATH_VARIABLE,
  TARGETS,
  detectLibc,
  triple,
  describe,
  addonFile,
  packageName,
  findAddon,
  addon,
  hasCargo,
  unavailable,
  NativeUnavailable,
};
