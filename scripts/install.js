"use strict";
// Runs on `npm install`. An app's install uses the prebuilt addon shipped
// for its platform when it loads there; otherwise (another platform, a
// prebuilt that does not load, CLUSTERLUCK_NATIVE_BUILD=1, or a checkout of
// the repository, which has sources to build) it builds from source, which
// needs cargo.
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const platform = require("../lib/platform");

const root = path.resolve(__dirname, "..");

function forced() {
  const v = process.env.CLUSTERLUCK_NATIVE_BUILD;
  return v !== undefined && v !== "" && v !== "0" && v !== "false";
}

// Whether the prebuilt loads, tried in a child so a crash cannot take the install down.
function prebuiltLoads(file) {
  const res = spawnSync(process.execPath, ["-e", "require(process.argv[1])", file], { encoding: "utf8" });
  return res.status === 0 ? null : (res.stderr || "").trim().split("\n").slice(-1)[0] || "exit " + res.status;
}

function main() {
  const checkout = fs.existsSync(path.join(root, ".git"));
  const name = platform.prebuiltFile();
  if (!forced() && !checkout) {
    if (name !== null && fs.existsSync(path.join(root, name))) {
      const failure = prebuiltLoads(path.join(root, name));
      if (failure === null) {
        console.log("clusterluck-native: using the prebuilt addon " + name);
        return 0;
      }
      console.log("clusterluck-native: the prebuilt addon " + name + " does not load here (" + failure +
        "); building from source");
    } else {
      console.log("clusterluck-native: no prebuilt addon for " + process.platform + "-" + process.arch +
        (name ? " (" + name + ")" : "") + "; building from source");
    }
  }
  const res = spawnSync(process.execPath, [path.join(__dirname, "build.js")], { cwd: root, stdio: "inherit" });
  return res.status === null ? 1 : res.status;
}

process.exit(main());
