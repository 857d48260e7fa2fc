"use strict";
// Which prebuilt addon fits this machine, named as napi-rs names platform
// binaries: `<name>.<platform>-<arch>[-<abi>].node` in the package, or the
// package `<name>-<platform>-<arch>[-<abi>]` (the optional dependencies CI
// may publish later), e.g. clusterluck-native.linux-x64-gnu.node.

const fs = require("fs");

const NAME = "clusterluck-native";

// musl or glibc, as napi-rs tells them apart: ldd's text first, then what
// the process report says of the C library Node runs on.
function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    const ldd = fs.readFileSync("/usr/bin/ldd", "utf8");
    if (ldd.includes("musl")) return true;
    if (ldd.includes("GNU C Library") || ldd.includes("glibc")) return false;
  } catch (e) {
    // no ldd: ask the process report
  }
  try {
    const report = process.report && typeof process.report.getReport === "function" ? process.report.getReport() : null;
    const header = report && (typeof report === "string" ? JSON.parse(report).header : report.header);
    if (header && header.glibcVersionRuntime) return false;
    if (report && Array.isArray(report.sharedObjects)) {
      return report.sharedObjects.some((f) => f.includes("libc.musl-") || f.includes("ld-musl-"));
    }
  } catch (e) {
    // fall through
  }
  return false;
}

// `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ...; null where napi-rs
// has no name for the machine.
function triple(platform = process.platform, arch = process.arch, musl = isMusl()) {
  switch (platform) {
    case "linux":
      if (arch === "arm") return "linux-arm-" + (musl ? "musleabihf" : "gnueabihf");
      return "linux-" + arch + "-" + (musl ? "musl" : "gnu");
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

// The file name of the prebuilt addon for `t` inside the package.
function prebuiltFile(t = triple()) {
  return t === null ? null : NAME + "." + t + ".node";
}

module.exports = { NAME, isMusl, triple, prebuiltFile, SOURCE_BUILD: NAME + ".node" };
