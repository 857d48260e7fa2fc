#!/usr/bin/env node
"use strict";
// Runs every fuzz target of fuzz/ (cargo-fuzz, libFuzzer) for a time or a
// number of executions, whichever comes first, and prints one line of
// figures per target. Exits non-zero if a target finds a crash (its input is
// kept in fuzz/artifacts/<target>/) or cannot be run.
//
//   node scripts/fuzz.js [--seconds N] [--runs M] [--jobs J] [--json FILE] [target ...]
//
// --seconds 0 means no time limit, --runs 0 no execution limit (not both).
// The seed corpus is generated here, at run time, into fuzz/corpus/<target>/
// (not committed): the frames captured from JS kernels in
// tests/fixtures/wire/ and a few hand-written texts. What the fuzzer adds to
// it is kept there for the next run.
//
// Builds with the stable toolchain: no sanitizer (`-s none`), since the
// sanitizers need the nightly-only -Z flags. FUZZ_SANITIZER=address (with a
// nightly toolchain, or RUSTC_BOOTSTRAP=1) picks one. See FUZZING.md.

const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const FUZZ_DIR = path.join(ROOT, "fuzz");
const TARGETS = ["frame", "envelope", "envelope_cookie", "json", "digits"];
const cargo = process.env.CARGO || "cargo";
const sanitizer = process.env.FUZZ_SANITIZER || "none";

function parseArgs(argv) {
  const opts = { seconds: 10, runs: 0, jobs: 1, json: null, targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(a + " needs a value");
      return argv[++i];
    };
    if (a === "--seconds") opts.seconds = Number(value());
    else if (a === "--runs") opts.runs = Number(value());
    else if (a === "--jobs") opts.jobs = Number(value());
    else if (a === "--json") opts.json = value();
    else if (TARGETS.includes(a)) opts.targets.push(a);
    else throw new Error("unknown argument " + a + " (targets: " + TARGETS.join(", ") + ")");
  }
  for (const k of ["seconds", "runs", "jobs"]) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) throw new Error("--" + k + " takes a whole number");
  }
  if (opts.seconds === 0 && opts.runs === 0) throw new Error("give --seconds or --runs a limit");
  if (opts.targets.length === 0) opts.targets = TARGETS.slice();
  return opts;
}

// Whether `cargo fuzz` can be run here; the reason when not.
function fuzzerMissing() {
  const res = spawnSync(cargo, ["fuzz", "--version"], { encoding: "utf8" });
  if (res.error) return "cargo not found (" + res.error.message + ")";
  if (res.status !== 0) return "cargo-fuzz is not installed (cargo install cargo-fuzz --locked)";
  return null;
}

// The frames of a capture file (form-feed delimited).
function capturedFrames() {
  const dir = path.join(ROOT, "tests", "fixtures", "wire");
  const out = [];
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
    const bytes = fs.readFileSync(path.join(dir, name));
    out.push({ name, bytes });
  }
  return out;
}

function splitFrames(bytes) {
  const frames = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0c) {
      frames.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  return frames;
}

// The seed inputs of each target, as Buffers.
function seeds(target) {
  const captures = capturedFrames();
  const frames = captures.flatMap((c) => splitFrames(c.bytes));
  const texts = ['{"a":[1,2.5,-0,1e21,"\\u00e9\\n"],"10":null,"b":{"c":true}}', "[]", '"x"', "0"];
  switch (target) {
    case "frame":
      // Limit (two bytes), read-size seed (one byte), then the stream.
      return captures.map((c, i) => Buffer.concat([Buffer.from([0x40 + i, 0x01, 7 * i + 1]), c.bytes]));
    case "envelope":
      return frames;
    case "envelope_cookie": {
      // Frames as they are, and envelope bodies ('m'/'p' then the object,
      // without its checkSum) to be signed.
      const bodies = [];
      for (const f of frames) {
        try {
          const parsed = JSON.parse(f.toString("utf8"));
          const data = Object.assign({}, parsed.data);
          delete data.checkSum;
          const kind = parsed.type === "ping" ? "p" : "m";
          bodies.push(Buffer.from(kind + JSON.stringify(data)));
        } catch (err) {
          // Not an envelope: kept only as a frame.
        }
      }
      return frames.concat(bodies);
    }
    case "json":
      return frames.concat(texts.map((t) => Buffer.from(t)));
    case "digits":
      return ["1,2,255", "0", "255,0,17,9,100", Array.from({ length: 80 }, (_, i) => (i * 37) % 256).join(",")]
        .map((t) => Buffer.from(t));
    default:
      throw new Error("no seeds for " + target);
  }
}

function writeSeeds(target) {
  const dir = path.join(FUZZ_DIR, "corpus", target);
  fs.mkdirSync(dir, { recursive: true });
  seeds(target).forEach((buf, i) => fs.writeFileSync(path.join(dir, "seed-" + i), buf));
  return dir;
}

// The figures libFuzzer prints at the end (-print_final_stats=1), and the
// coverage of its last status line.
function figures(stderr) {
  const stat = (name) => {
    const m = stderr.match(new RegExp("stat::" + name + ":\\s*(\\d+)"));
    return m ? Number(m[1]) : null;
  };
  const lines = stderr.split("\n").filter((l) => /^#\d+\s/.test(l));
  const last = lines[lines.length - 1] || "";
  const cov = last.match(/cov: (\d+)/);
  const ft = last.match(/ft: (\d+)/);
  return {
    executions: stat("number_of_executed_units"),
    execPerSec: stat("average_exec_per_sec"),
    newUnits: stat("new_units_added"),
    peakRssMb: stat("peak_rss_mb"),
    coverage: cov ? Number(cov[1]) : null,
    features: ft ? Number(ft[1]) : null,
  };
}

function build(targets) {
  const args = ["fuzz", "build", "-s", sanitizer, "--fuzz-dir", FUZZ_DIR];
  const res = spawnSync(cargo, targets.length === 1 ? args.concat(targets) : args,
    { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (res.error) throw res.error;
  return res.status === 0;
}

function run(target, opts) {
  const corpus = writeSeeds(target);
  const artifacts = path.join(FUZZ_DIR, "artifacts", target) + path.sep;
  fs.mkdirSync(artifacts, { recursive: true });
  const libfuzzer = [
    "-max_total_time=" + opts.seconds,
    "-runs=" + (opts.runs || -1),
    "-print_final_stats=1",
    "-artifact_prefix=" + artifacts,
  ];
  if (opts.jobs > 1) libfuzzer.push("-fork=" + opts.jobs);
  const args = ["fuzz", "run", "-s", sanitizer, "--fuzz-dir", FUZZ_DIR, target, corpus, "--"].concat(libfuzzer);
  const started = Date.now();
  const res = spawnSync(cargo, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  const seconds = (Date.now() - started) / 1000;
  if (res.error) throw res.error;
  // libFuzzer stopped with SIGINT prints its figures and exits 72: not a crash.
  const interrupted = /libFuzzer: run interrupted/.test(res.stderr || "");
  const crashed = res.status !== 0 && !interrupted;
  const out = Object.assign({ target, ok: !crashed, interrupted, status: res.status, seconds }, figures(res.stderr || ""));
  if (crashed) {
    // Enough of libFuzzer's report to see what failed and where the input is.
    out.report = (res.stderr || "").split("\n").slice(-60).join("\n");
  }
  return out;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error("fuzz: " + err.message);
    process.exit(2);
  }
  const missing = fuzzerMissing();
  if (missing) {
    console.error("fuzz: " + missing);
    process.exit(3);
  }
  if (!build(opts.targets)) {
    console.error("fuzz: the targets did not build");
    process.exit(1);
  }
  const results = [];
  for (const target of opts.targets) {
    const r = run(target, opts);
    results.push(r);
    console.log([
      r.ok ? (r.interrupted ? "intr " : "ok   ") : "CRASH",
      r.target.padEnd(16),
      "executions " + r.executions,
      "exec/s " + r.execPerSec,
      "cov " + r.coverage,
      "ft " + r.features,
      "rss " + r.peakRssMb + " MB",
      r.seconds.toFixed(1) + " s",
    ].join("  "));
    if (!r.ok) console.log(r.report);
  }
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify({ sanitizer, opts, results }, null, 2) + "\n");
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

if (require.main === module) main();

module.exports = { TARGETS, fuzzerMissing };
