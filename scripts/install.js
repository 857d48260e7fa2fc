"use strict";
// The install script. Nothing depends on it: an app whose npm does not run
// dependencies' install scripts (npm 11 waits for the app to allow them)
// still finds the prebuilt or the platform package at load time, and
// `require` then says what is missing. What it adds where it runs:
// - in an app, a source build where no addon loads and cargo is on the PATH
//   (or CLUSTERLUCK_NATIVE_BUILD=1 asks for one); with no addon and no
//   cargo it warns once and succeeds, so the app's install goes on and
//   clusterluck-native/register keeps clusterluck's JS kernel;
// - in a checkout of the repository (which has no prebuilt), the build.
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const platform = require("../lib/platform");

const root = path.resolve(__dirname, "..");

function forced() {
  const v = process.env.CLUSTERLUCK_NATIVE_BUILD;
  return v !== undefined && v !== "" && v !== "0" && v !== "false";
}

// The loader's answer, asked in a child so that an addon that crashes as it
// loads cannot take the install down: {file, source} or {message}.
function probe() {
  const code = "const p = require(process.argv[1]); const f = p.findAddon();" +
    "process.stdout.write(JSON.stringify(f.binding ? { file: f.file, source: f.source } : " +
    "{ message: p.unavailable(f).message }));";
  const res = spawnSync(process.execPath, ["-e", code, path.join(root, "lib", "platform.js")], { encoding: "utf8" });
  try {
    return JSON.parse(res.stdout);
  } catch (e) {
    const last = (res.stderr || "").trim().split("\n").slice(-1)[0];
    return { message: "loading the addon failed (" + (last || "exit " + res.status) + ")" };
  }
}

function build() {
  const res = spawnSync(process.execPath, [path.join(__dirname, "build.js")], { cwd: root, stdio: "inherit" });
  return res.status === null ? 1 : res.status;
}

function main() {
  if (fs.existsSync(path.join(root, ".git"))) return build();
  if (forced()) {
    console.log("clusterluck-native: CLUSTERLUCK_NATIVE_BUILD is set; building from source");
    return build();
  }
  const found = probe();
  if (found.file) {
    console.log("clusterluck-native: using " + path.relative(root, found.file) + " (" + found.source + ")");
    return 0;
  }
  if (platform.hasCargo()) {
    console.log(found.message + "\nclusterluck-native: cargo is on the PATH; building from source");
    return build();
  }
  // One warning, and success: the app installs and runs without the addon.
  console.warn("clusterluck-native: WARNING: " + found.message);
  return 0;
}

process.exit(main());
