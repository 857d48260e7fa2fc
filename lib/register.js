"use strict";
// Makes clusterluck build native kernels, without touching the app.
//
// clusterluck keeps its kernel class in `lib/kernel.js`; its `lib/index.js`
// requires every file of `lib/` into one object (`lib.kernel` among them),
// and its `index.js` exports `NetKernel: lib.kernel` and builds every kernel
// (`createKernel`, and `createCluster` on top of it) with `new lib.kernel`.
// Replacing the exports of that one module therefore switches all of it.
//
// `install()` does that for every copy of clusterluck the process loads,
// wherever it lives (a hook on the loading of `.js` files, which only looks
// at files named `lib/kernel.js`), and for copies already loaded (through
// the module cache). `useWith(clusterluck)` does it for one copy, given its
// exports. A package that is clusterluck but whose kernel is not the one this
// package reproduces is refused with an error that names it.

const fs = require("fs");
const path = require("path");
const Module = require("module");

// clusterluck was renamed notp by its authors, with the same kernel.
const NAMES = new Set(["clusterluck", "notp"]);
// What the kernel this package reproduces has: an older clusterluck lacks
// some of it, and apps built on it expect another kernel.
const METHODS = ["start", "stop", "connect", "disconnect", "isConnected", "connection", "ping", "call",
  "callSingleton", "multicall", "multicallSingleton", "reply", "cast", "abcast", "self", "sinks", "sources"];
const STATICS = ["_encodeMsg", "_decodeMsg", "_hmacData", "_collectStream", "_coerceStream"];
const MAJORS = new Set([1, 2]);

// Marks the classes this package put in place, and the original they replaced.
const ORIGINAL = Symbol.for("clusterluck-native.original");

/** clusterluck (or a package that is not) at `root`, with why it cannot be served. */
class UnsupportedClusterluck extends Error {
  constructor(pkg, root, why) {
    super("clusterluck-native cannot replace the kernel of " + pkg.name + "@" + pkg.version + " (" + root +
      "): " + why + ". It serves clusterluck 1.x and 2.x (notp 2.x) whose NetKernel has callSingleton " +
      "and multicallSingleton; remove clusterluck-native/register (or useWith) to run this one as it is.");
    this.name = "UnsupportedClusterluck";
    this.code = "CLUSTERLUCK_NATIVE_UNSUPPORTED";
    this.package = pkg.name;
    this.version = pkg.version;
    this.path = root;
  }
}

const packages = new Map(); // package root -> its package.json (or null)

function readPackage(root) {
  if (packages.has(root)) return packages.get(root);
  let pkg = null;
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    if (pkg === null || typeof pkg !== "object") pkg = null;
  } catch (e) {
    pkg = null;
  }
  packages.set(root, pkg);
  return pkg;
}

// The root of the clusterluck whose `lib/kernel.js` is `filename`, or null.
function clusterluckRoot(filename) {
  if (typeof filename !== "string" || path.basename(filename) !== "kernel.js") return null;
  const lib = path.dirname(filename);
  if (path.basename(lib) !== "lib") return null;
  const root = path.dirname(lib);
  const pkg = readPackage(root);
  return pkg && NAMES.has(pkg.name) ? root : null;
}

// Throws UnsupportedClusterluck unless `Original` is the kernel we reproduce.
function check(root, Original) {
  const pkg = readPackage(root);
  const major = Number(String(pkg.version || "").split(".")[0]);
  if (!MAJORS.has(major)) throw new UnsupportedClusterluck(pkg, root, "version " + pkg.version + " is not known");
  if (typeof Original !== "function" || typeof Original.prototype !== "object") {
    throw new UnsupportedClusterluck(pkg, root, "its lib/kernel.js does not export a class");
  }
  const missing = METHODS.filter((m) => typeof Original.prototype[m] !== "function")
    .concat(STATICS.filter((s) => typeof Original[s] !== "function").map((s) => "NetKernel." + s));
  if (missing.length > 0) {
    throw new UnsupportedClusterluck(pkg, root, "its NetKernel has no " + missing.join(", "));
  }
}

// The native class standing in for the kernel of the clusterluck at `root`:
// a subclass per copy, so that the nodes it makes (`self()`, `from.node`)
// are that copy's Node class and pass the app's `instanceof` checks.
const replacements = new Map(); // root -> class
function replacementFor(root, Original) {
  if (Original && Original[ORIGINAL]) return Original; // already ours
  check(root, Original);
  if (replacements.has(root)) return replacements.get(root);
  const Base = require("./kernel");
  let ClNode = null;
  try {
    ClNode = require(path.join(root, "lib", "node.js"));
  } catch (e) {
    ClNode = null;
  }
  const Native = class NetKernel extends Base {};
  if (typeof ClNode === "function") Native._Node = ClNode;
  Object.defineProperty(Native, ORIGINAL, {value: Original});
  replacements.set(root, Native);
  return Native;
}

// Replaces the kernel in a module cache entry of `lib/kernel.js`, and in the
// `lib` object and `index.js` exports of the same copy if they are loaded.
function patchLoaded(root) {
  const kernelFile = path.join(root, "lib", "kernel.js");
  const entry = require.cache[kernelFile];
  if (!entry) return null;
  const Native = replacementFor(root, entry.exports);
  entry.exports = Native;
  const libIndex = require.cache[path.join(root, "lib", "index.js")];
  if (libIndex && libIndex.exports && typeof libIndex.exports === "object") libIndex.exports.kernel = Native;
  const main = require.cache[path.join(root, "index.js")];
  if (main && main.exports && typeof main.exports === "object" && "NetKernel" in main.exports) {
    main.exports.NetKernel = Native;
  }
  return Native;
}

let installed = false;
let warned = false;

// What CLUSTERLUCK_NATIVE asks for: "required" makes an addon that cannot
// load an error; anything else (or nothing) leaves clusterluck's own JS
// kernel in place, with a warning.
function required(env = process.env) {
  return String(env.CLUSTERLUCK_NATIVE || "").trim().toLowerCase() === "required";
}

/**
 * Every clusterluck loaded in this process, now or later, builds native
 * kernels. Where no addon loads here, clusterluck keeps its own JS kernel
 * and one warning says why (the app runs as it did without this package),
 * unless CLUSTERLUCK_NATIVE=required, which throws the loader's error
 * instead: in production a JS kernel where a native one was meant would go
 * unnoticed. Returns whether native kernels are in place.
 */
function install() {
  if (installed) return true;
  try {
    require("./native");
  } catch (err) {
    if (!err || err.code !== "CLUSTERLUCK_NATIVE_UNAVAILABLE" || required()) throw err;
    if (!warned) {
      warned = true;
      process.emitWarning("running clusterluck's own JS kernel. " + err.message, {
        code: err.code,
        detail: "Set CLUSTERLUCK_NATIVE=required to make this an error.",
      });
    }
    return false;
  }
  installed = true;
  const load = Module._extensions[".js"];
  Module._extensions[".js"] = function (module, filename) {
    const out = load.apply(this, arguments);
    const root = clusterluckRoot(filename);
    if (root !== null) module.exports = replacementFor(root, module.exports);
    return out;
  };
  // Copies loaded before the hook.
  for (const filename of Object.keys(require.cache)) {
    const root = clusterluckRoot(filename);
    if (root !== null) patchLoaded(root);
  }
  return true;
}

/** The copy of clusterluck whose exports are `clusterluck` builds native kernels. */
function useWith(clusterluck) {
  if (clusterluck === null || typeof clusterluck !== "object") {
    throw new TypeError("useWith expects the exports of clusterluck, i.e. useWith(require(\"clusterluck\"))");
  }
  for (const filename of Object.keys(require.cache)) {
    if (require.cache[filename].exports !== clusterluck) continue;
    const root = path.dirname(filename);
    if (path.basename(filename) === "index.js" && clusterluckRoot(path.join(root, "lib", "kernel.js")) !== null) {
      if (patchLoaded(root) !== null) return clusterluck;
    }
  }
  throw new TypeError("useWith expects the exports of clusterluck (its index.js), as require(\"clusterluck\") " +
    "returns them; what it was given is not a loaded clusterluck");
}

module.exports = {install, useWith, required, UnsupportedClusterluck, ORIGINAL};
