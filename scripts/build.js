"use strict";
// Builds the Rust addon in release mode and places it beside index.js as
// clusterluck-native.node (what lib/native.js loads first). With
// `--prebuilt`, it is placed under this platform's prebuilt name instead
// (clusterluck-native.linux-x64-gnu.node and the like), the file `npm pack`
// ships (see the `prepack` script).
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const platform = require("../lib/platform");

const root = path.resolve(__dirname, "..");
const prebuilt = process.argv.includes("--prebuilt");
const cargo = process.env.CARGO || "cargo";

// The bindings may sit behind a cargo feature named `napi`: ask for it only
// where Cargo.toml declares it, so this works either way.
function declaresNapiFeature() {
  const toml = fs.readFileSync(path.join(root, "Cargo.toml"), "utf8");
  const features = /^\[features\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml);
  return features !== null && /^\s*napi\s*=/m.test(features[1]);
}

const args = ["build", "--release", "--lib"];
if (declaresNapiFeature()) args.push("--features", "napi");
const res = spawnSync(cargo, args, { cwd: root, stdio: "inherit" });
if (res.error) {
  console.error("clusterluck-native: could not run cargo (" + res.error.message + "). Building this addon " +
    "from source needs a Rust toolchain: install it from https://rustup.rs (so that `cargo` is on the PATH), " +
    "then run the install again.");
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
const name = prebuilt ? platform.prebuiltFile() : platform.SOURCE_BUILD;
if (name === null) {
  console.error("clusterluck-native: no prebuilt name for " + process.platform + "-" + process.arch);
  process.exit(1);
}
const dest = path.join(root, name);
// Copy then rename: a process that has the old addon mapped keeps it intact.
const tmp = dest + "." + process.pid + ".tmp";
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, dest);
console.log("clusterluck-native: built " + path.relative(root, dest));
