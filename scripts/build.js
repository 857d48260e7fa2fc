"use strict";
// Builds the addon in release mode as `clusterluck-native.<triple>.node`
// beside index.js (the name lib/platform.js looks for first), with a
// record of the build beside it (`clusterluck-native.<triple>.build.json`,
// which `clusterluck-native info` shows).
//
//   node scripts/build.js [--prebuilt] [--target <rust target triple>]
//
// In a checkout (where the dev dependencies are installed) the build is
// `napi build --platform --release` of @napi-rs/cli, which names the file,
// passes the target and sets up the linker. For Linux glibc targets it adds
// `--use-napi-cross`: napi-rs's cross toolchain (gcc with a glibc 2.17
// sysroot, from the npm registry, kept in ~/.napi-rs) links the addon
// against glibc 2.17, so the one binary loads on every Linux of the last
// decade (RHEL 7, Amazon Linux 2) and not only on this machine's glibc.
// `--prebuilt` (the `prepack` script, so what `npm pack` ships) insists on
// it; a plain build falls back to the host's toolchain, saying so, when
// the cross toolchain cannot be had. CLUSTERLUCK_NATIVE_CROSS=0 turns it
// off.
//
// In an app (no @napi-rs/cli, a dev dependency) it is a plain
// `cargo build --release`, which needs only a Rust toolchain; without
// cargo it says what to install.
const { spawn, spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const platform = require("../lib/platform");

const root = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const prebuilt = args.includes("--prebuilt");
const targetAt = args.indexOf("--target");
const rustTarget = targetAt >= 0 ? args[targetAt + 1] : null;
const cargo = process.env.CARGO || "cargo";
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));

// napi-rs's name for a Rust target triple, for the targets this package builds.
function napiName(rust) {
  const [arch, , os, abi] = rust.split("-");
  const a = { x86_64: "x64", aarch64: "arm64", i686: "ia32", armv7: "arm" }[arch] || arch;
  if (rust.includes("-apple-darwin")) return "darwin-" + a;
  if (rust.includes("-windows-msvc")) return "win32-" + a + "-msvc";
  if (os === "linux") return "linux-" + a + "-" + (abi && abi.startsWith("musl") ? "musl" : "gnu");
  throw new Error("no napi-rs name known for " + rust);
}

const machine = platform.describe();
const triple = rustTarget ? napiName(rustTarget) : machine.triple;
if (triple === null) {
  console.error("clusterluck-native: napi-rs has no name for " + process.platform + "-" + process.arch +
    "; there is nothing to build for it");
  process.exit(1);
}
const fileName = platform.addonFile(triple);
const dest = path.join(root, fileName);
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, "target");

function cliPath() {
  try {
    const manifest = require.resolve("@napi-rs/cli/package.json", { paths: [root] });
    const bin = require(manifest).bin;
    return path.join(path.dirname(manifest), typeof bin === "string" ? bin : bin.napi);
  } catch (e) {
    return null;
  }
}

// Whether napi-rs's cross toolchain applies: a Linux glibc target of a
// Linux x64 or arm64 host (what `--use-napi-cross` supports).
function crossApplies() {
  const off = process.env.CLUSTERLUCK_NATIVE_CROSS;
  if (off === "0" || off === "false") return false;
  return process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64") &&
    /^linux-(x64|arm64)-gnu$/.test(triple);
}

// Runs a command with its output shown, keeping the tail of its stderr.
function run(cmd, cmdArgs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: ["inherit", "inherit", "pipe"] });
    let tail = "";
    child.stderr.on("data", (d) => {
      process.stderr.write(d);
      tail = (tail + d.toString("utf8")).slice(-8192);
    });
    child.once("error", (err) => resolve({ code: null, error: err, tail }));
    child.once("close", (code) => resolve({ code, error: null, tail }));
  });
}

// Copy then rename: a process that has the old addon mapped keeps it intact.
function place(from) {
  const tmp = dest + "." + process.pid + ".tmp";
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, dest);
}

function record(builtWith, cross) {
  const rustc = spawnSync(process.env.RUSTC || "rustc", ["-V"], { encoding: "utf8" });
  const info = {
    name: pkg.name,
    version: pkg.version,
    target: triple,
    rustTarget: rustTarget || null,
    profile: "release",
    features: ["napi"],
    builtWith,
    linkedAgainst: triple.endsWith("-gnu") ? (cross ? "glibc 2.17 (napi-rs cross toolchain)" : "the build machine's glibc") : null,
    rustc: rustc.status === 0 ? rustc.stdout.trim() : null,
  };
  fs.writeFileSync(path.join(root, platform.NAME + "." + triple + ".build.json"), JSON.stringify(info, null, 2) + "\n");
}

async function withNapi(cli) {
  // A target directory of its own: napi build passes --target, and for the
  // host's own triple cargo builds the build scripts and proc macros with
  // the target's linker, which --use-napi-cross sets. Sharing target/ with
  // plain `cargo build --release` (the examples the tests run) would make
  // each build undo the other's and rebuild everything.
  const napiTarget = path.join(targetDir, "napi");
  const out = path.join(napiTarget, "out");
  const base = [cli, "build", "--platform", "--release", "--features", "napi", "--no-js", "--target-dir", napiTarget,
    "--output-dir", out];
  if (rustTarget) base.push("--target", rustTarget);
  let cross = crossApplies();
  if (prebuilt && triple.endsWith("-gnu") && triple.startsWith("linux-") && !cross) {
    console.error("clusterluck-native: the prebuilt for " + triple + " is linked against glibc 2.17 with napi-rs's " +
      "cross toolchain, which needs a Linux x64 or arm64 host (and CLUSTERLUCK_NATIVE_CROSS unset)");
    return 1;
  }
  let res = await run(process.execPath, cross ? base.concat("--use-napi-cross") : base);
  if (res.code !== 0 && cross && !prebuilt && /use-napi-cross/.test(res.tail)) {
    console.error("clusterluck-native: napi-rs's cross toolchain (glibc 2.17) cannot be had; building with this " +
      "machine's toolchain instead, so the addon needs this machine's glibc or newer");
    cross = false;
    res = await run(process.execPath, base);
  }
  if (res.code !== 0) return res.code || 1;
  place(path.join(out, fileName));
  record("napi build" + (cross ? " --use-napi-cross" : ""), cross);
  return 0;
}

function noCargo(why) {
  console.error("clusterluck-native: could not run cargo (" + why + "). Building this addon " +
    "from source needs a Rust toolchain: install it from https://rustup.rs (so that `cargo` is on the PATH), " +
    "then run the install again.");
  return 1;
}

async function withCargo() {
  const cargoArgs = ["build", "--release", "--lib", "--features", "napi"];
  if (rustTarget) cargoArgs.push("--target", rustTarget);
  const res = spawnSync(cargo, cargoArgs, { cwd: root, stdio: "inherit" });
  if (res.error) return noCargo(res.error.message);
  if (res.status !== 0) return res.status || 1;
  const libNames = { darwin: "libclusterluck_native.dylib", win32: "clusterluck_native.dll" };
  const os = triple.split("-")[0];
  const built = path.join(targetDir, rustTarget || "", "release", libNames[os] || "libclusterluck_native.so");
  place(built);
  record("cargo build", false);
  return 0;
}

async function main() {
  // napi build runs cargo too, and says less clearly that it is missing.
  if (!platform.hasCargo()) return noCargo("it is not on the PATH");
  const cli = cliPath();
  if (cli === null && prebuilt) {
    console.error("clusterluck-native: the prebuilt is built with @napi-rs/cli (a dev dependency): run npm install first");
    return 1;
  }
  const code = cli !== null ? await withNapi(cli) : await withCargo();
  if (code === 0) console.log("clusterluck-native: built " + fileName);
  return code;
}

main().then((code) => process.exit(code), (err) => {
  console.error("clusterluck-native: " + (err && err.stack ? err.stack : err));
  process.exit(1);
});
