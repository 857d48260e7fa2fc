"use strict";
// `clusterluck-native info`: which addon this package loads here (its path,
// where it came from, its version and how it was built), or why none
// loads and what to do. The first thing to ask when an install misbehaves.
//
//   clusterluck-native info [--json]
//
// Exits 0 when an addon loads, 1 when none does.

const fs = require("fs");
const path = require("path");
const platform = require("../platform");
const register = require("../register");

const ROOT = path.join(__dirname, "..", "..");

const HELP = `usage: clusterluck-native info [--json]

Says which native addon loads on this machine (path, platform, version,
build), or why none does and how to fix it. --json prints the same as one
JSON object. Exits 0 when an addon loads, 1 otherwise.
`;

// The build record written beside an addon by scripts/build.js, if any.
function buildRecord(file) {
  const recordFile = file.replace(/\.node$/, ".build.json");
  try {
    return JSON.parse(fs.readFileSync(recordFile, "utf8"));
  } catch (e) {
    return null;
  }
}

/** What `info` reports, as data (the text and --json forms are made from it). */
function gather(found = platform.addon(), env = process.env) {
  const own = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const m = found.machine;
  const report = {
    package: { name: own.name, version: own.version, path: ROOT },
    node: { version: process.version, napi: process.versions.napi || null },
    platform: { os: m.platform, arch: m.arch, libc: m.libc, libcFrom: m.libcFrom, triple: m.triple },
    addon: null,
    unavailable: null,
    kernel: null,
  };
  if (found.binding !== null) {
    report.addon = { path: found.file, from: found.source, version: found.version, build: buildRecord(found.file) };
    report.kernel = "native";
  } else {
    const err = platform.unavailable(found);
    report.unavailable = { code: err.code, tried: err.tried, fix: err.fix, message: err.message };
    report.kernel = register.required(env) ? "error (CLUSTERLUCK_NATIVE=required)" : "clusterluck's JS kernel, with a warning";
  }
  return report;
}

function text(r) {
  const lines = [];
  lines.push(`${r.package.name} ${r.package.version} (${r.package.path})`);
  const libc = r.platform.libc ? `, ${r.platform.libc} (from ${r.platform.libcFrom})` : "";
  lines.push(`node      ${r.node.version}${r.node.napi ? ", Node-API " + r.node.napi : ""}`);
  lines.push(`platform  ${r.platform.os} ${r.platform.arch}${libc}: ${r.platform.triple || "no napi-rs name"}`);
  if (r.addon) {
    lines.push(`addon     ${r.addon.path}`);
    lines.push(`  from    ${r.addon.from}`);
    lines.push(`  version ${r.addon.version || "unknown (given by path)"}`);
    const b = r.addon.build;
    if (b) {
      lines.push(`  build   ${b.profile}, features ${b.features.join(", ")}, ${b.builtWith}` +
        (b.rustTarget ? `, target ${b.rustTarget}` : ""));
      if (b.linkedAgainst) lines.push(`  libc    linked against ${b.linkedAgainst}`);
      if (b.rustc) lines.push(`  rustc   ${b.rustc}`);
    } else {
      lines.push("  build   no build record beside it");
    }
  } else {
    lines.push("addon     none loads");
    for (const t of r.unavailable.tried) lines.push(`  tried   ${t}`);
    for (const f of r.unavailable.fix) lines.push(`  fix     ${f}`);
  }
  lines.push(`register  ${r.kernel === "native" ? "native kernels" : r.kernel}`);
  return lines.join("\n") + "\n";
}

async function run(args = [], { out = process.stdout, found, env } = {}) {
  if (args.includes("--help") || args.includes("-h")) {
    out.write(HELP);
    return 0;
  }
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length > 0) {
    process.stderr.write(`clusterluck-native info: unknown option ${unknown[0]}\n` + HELP);
    return 2;
  }
  const r = gather(found, env);
  out.write(args.includes("--json") ? JSON.stringify(r, null, 2) + "\n" : text(r));
  return r.addon ? 0 : 1;
}

module.exports = { run, gather };
