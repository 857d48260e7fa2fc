"use strict";
// Loads the addon. In order: the one built from source in this package
// (`clusterluck-native.node`, made by `npm run build`, or by the install
// when no prebuilt fits); the prebuilt for this platform shipped in the
// package (`clusterluck-native.linux-x64-gnu.node` and the like); the
// package of that platform (`clusterluck-native-linux-x64-gnu`), where one
// is installed. The first that loads is used.
const fs = require("fs");
const path = require("path");
const platform = require("./platform");

const ROOT = path.join(__dirname, "..");

function load() {
  const tried = [];
  const t = platform.triple();
  const candidates = [path.join(ROOT, platform.SOURCE_BUILD)];
  if (t !== null) candidates.push(path.join(ROOT, platform.prebuiltFile(t)), platform.NAME + "-" + t);
  for (const file of candidates) {
    if (path.isAbsolute(file) && !fs.existsSync(file)) continue;
    try {
      return require(file);
    } catch (err) {
      if (!path.isAbsolute(file) && err && err.code === "MODULE_NOT_FOUND") continue;
      tried.push(path.basename(file) + ": " + err.message);
    }
  }
  const e = new Error("clusterluck-native: no native addon loads on " + process.platform + "-" + process.arch +
    (t ? " (" + t + ")" : "") + (tried.length > 0 ? " [" + tried.join("; ") + "]" : "") +
    ". Build it from source with `npm rebuild clusterluck-native` (or `npm run build` in the package " +
    "directory); that needs a Rust toolchain (cargo, from https://rustup.rs).");
  throw e;
}

module.exports = load();
