"use strict";
// Builds the Rust addon in release mode and places it beside index.js as
// clusterluck-native.node. Runs on `npm install`, both in this repository and
// when the package is installed into an app, so the only requirement on the
// target machine is a Rust toolchain (cargo) on PATH.
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const cargo = process.env.CARGO || "cargo";
const args = ["build", "--release", "--lib", "--features", "napi"];
const res = spawnSync(cargo, args, { cwd: root, stdio: "inherit" });
if (res.error) {
  console.error("clusterluck-native: could not run cargo (" + res.error.message + "). " +
    "Install a Rust toolchain to build this addon from source.");
  process.exit(1);
}
if (res.status !== 0) process.exit(res.status || 1);

const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, "target");
const names = {
  linux: "libclusterluck_native.so",
  darwin: "libclusterluck_native.dylib",
  win32: "clusterluck_native.dll",
};
const libName = names[process.platform] || names.linux;
const built = path.join(targetDir, "release", libName);
const dest = path.join(root, "clusterluck-native.node");
// Copy then rename: a process that has the old addon mapped keeps it intact.
const tmp = dest + "." + process.pid + ".tmp";
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, dest);
console.log("clusterluck-native: built " + path.relative(root, dest));
