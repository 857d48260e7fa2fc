// Test certificates, made fresh by the project's own generator
// (examples/gencerts.rs, built by `cargo test`/`cargo build --example`).
"use strict";

const { execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");

function generator() {
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
  const bin = path.join(targetDir, "release", "examples", process.platform === "win32" ? "gencerts.exe" : "gencerts");
  if (!fs.existsSync(bin)) {
    execFileSync(process.env.CARGO || "cargo", ["build", "--release", "--example", "gencerts"], { cwd: ROOT, stdio: "inherit" });
  }
  return bin;
}

// Returns the paths of a fresh set: ca, node, expired, otherCa, rogue.
function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clcerts-"));
  execFileSync(generator(), [dir], { stdio: "ignore" });
  const p = (f) => path.join(dir, f);
  return {
    dir,
    ca: p("ca.pem"),
    node: { key: p("node.key"), cert: p("node.pem") },
    expired: { key: p("expired.key"), cert: p("expired.pem") },
    otherCa: p("other-ca.pem"),
    rogue: { key: p("rogue.key"), cert: p("rogue.pem") },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

// node-ipc's TLS option shape for a node using `pair`, trusting `ca`.
function tlsOpts(pair, ca, extra = {}) {
  const out = { trustedConnections: ca, rejectUnauthorized: true };
  if (pair) Object.assign(out, { private: pair.key, public: pair.cert });
  return Object.assign(out, extra);
}

module.exports = { makeCerts, tlsOpts };
