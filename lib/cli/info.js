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

const SHT_GNU_VERNEED = 0x6ffffffe;

function compare(a, b) {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * The newest GLIBC_ symbol version an ELF shared object needs (its
 * .gnu.version_r section), as "2.17", or null for a file that is not ELF
 * or needs none (musl, macOS, Windows). This is what decides the oldest
 * glibc the addon loads on, read without objdump or readelf.
 */
function glibcNeeded(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    return null;
  }
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return null;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const word = (o) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  const shoff = word(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const section = (i) => {
    const at = shoff + i * shentsize;
    return {
      type: u32(at + 4),
      offset: word(at + (is64 ? 0x18 : 0x10)),
      size: word(at + (is64 ? 0x20 : 0x14)),
      link: u32(at + (is64 ? 0x28 : 0x18)),
    };
  };
  let newest = null;
  try {
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type !== SHT_GNU_VERNEED) continue;
      const strings = section(s.link).offset;
      const name = (o) => {
        const start = strings + o;
        return buf.toString("latin1", start, buf.indexOf(0, start));
      };
      // Verneed entries, each with a chain of Vernaux (one per version).
      for (let need = s.offset; ;) {
        const count = u16(need + 2);
        for (let aux = need + u32(need + 8), k = 0; k < count; k++) {
          const version = name(u32(aux + 8));
          const m = /^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$/.exec(version);
          if (m) {
            const v = [Number(m[1]), Number(m[2]), Number(m[3] || 0)];
            if (newest === null || compare(v, newest) > 0) newest = v;
          }
          const next = u32(aux + 12);
          if (next === 0) break;
          aux += next;
        }
        const next = u32(need + 12);
        if (next === 0) break;
        need += next;
      }
    }
  } catch (e) {
    return null; // a truncated or malformed file: nothing to say
  }
  return newest === null ? null : newest.slice(0, newest[2] ? 3 : 2).join(".");
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
    report.addon = {
      path: found.file,
      from: found.source,
      version: found.version,
      build: buildRecord(found.file),
      glibcNeeded: glibcNeeded(found.file),
    };
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
    if (r.addon.glibcNeeded) lines.push(`  needs   glibc ${r.addon.glibcNeeded} or later (its newest GLIBC_ symbol version)`);
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

module.exports = { run, gather, glibcNeeded };
