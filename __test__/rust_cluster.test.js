// A mixed cluster in separate processes: a seed JS node (the original kernel on node-ipc
// 8.10.3), a node on this addon, and the Rust example node (examples/node.rs). Every pair
// exchanges ping, cast, callSingleton, a Buffer and a stream, with the cookie on, and again
// with mutual TLS; clusterluck's real GenServers and the Rust `rust_gs` call each other; the
// Rust node's --probe checks the JS and addon nodes and prints what it found.
//
// With the cookie on, anything the Rust node writes that is not exactly what JSON.stringify
// writes fails the JS receivers' HMAC check (a _skip, then a timeout), so these tests also
// check the Rust node's text byte for byte. Skipped with a printed reason when the seed,
// clusterluck or the Rust example is absent.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { execFileSync, spawn } = require("child_process");
const fs = require("fs");
const path = require("path");

const seed = require("./helpers/seed");
const { spawnPeer, waitFor } = require("./helpers/cluster");
const { genServerAvailable, clusterluckDir } = require("./helpers/mixed");
const { pattern } = require("./helpers/bytes");
const { freePort } = require("./helpers/ports");
const { makeCerts, tlsOpts } = require("./helpers/certs");

const ROOT = path.resolve(__dirname, "..");
const EXAMPLE = path.join(ROOT, "examples", "node.rs");
const HOST = "127.0.0.1";
const COOKIE = "secret";
const T = { timeout: 30000 };
const MIB = 1024 * 1024;

// The probe's callSingleton value, from the Rust node's specification.
const PROBE_VALUE = { s: "h\u00e9llo \u2028", n: [1, 2.5, 1e21, -0, 5e-324], 1: "int key", a: { b: null } };
// What a value looks like after a trip through JSON (-0 becomes 0).
const viaJson = (v) => JSON.parse(JSON.stringify(v));

function byteSum(buf) {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) sum = (sum + buf[i]) >>> 0;
  return sum;
}

// Builds the example (a no-op when it is fresh) and returns the binary's path.
function rustNodeBinary() {
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
  execFileSync(process.env.CARGO || "cargo", ["build", "--release", "--example", "node"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 15 * 60 * 1000
  });
  return path.join(targetDir, "release", "examples", process.platform === "win32" ? "node.exe" : "node");
}

// Runs the Rust example node; resolves once it prints `ready`. Its stdout lines are kept
// (JSON lines are parsed into `json`), its stderr is echoed with a prefix.
function startRustNode(bin, { id, port, cookie, peers = [], probe = false, extraArgs = [] }) {
  const args = ["--id", id, "--port", String(port), "--host", HOST];
  if (cookie) args.push("--cookie", cookie);
  for (const p of peers) args.push("--peer", `${p.id}@${p.host}:${p.port}`);
  if (probe) args.push("--probe");
  args.push(...extraArgs);
  const child = spawn(bin, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  const json = [];
  let exit = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text) => {
    buffered += text;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      if (line.startsWith("{")) {
        try {
          json.push(JSON.parse(line));
        } catch (err) {
          json.push({ unparsable: line });
        }
      }
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => process.stderr.write(text.replace(/^(?=.)/gm, "[rust " + id + "] ")));
  const node = { id, host: HOST, port };
  const ready = waitFor(() => {
    if (exit) throw new Error(`Rust node ${id} exited before ready (${JSON.stringify(exit)})`);
    return lines.includes("ready");
  }, { timeout: 20000, what: `Rust node ${id} to print ready` });
  return {
    node,
    child,
    lines,
    json,
    ready,
    exited,
    exitInfo: () => exit,
    async stop(signal = "SIGTERM", timeout = 5000) {
      if (exit) return { ...exit, forced: false };
      child.kill(signal);
      const t = new Promise((resolve) => setTimeout(resolve, timeout, "slow"));
      if ((await Promise.race([exited, t])) === "slow") {
        child.kill("SIGKILL");
        await exited;
        return { ...exit, forced: true };
      }
      return { ...exit, forced: false };
    }
  };
}

function skipReason() {
  if (!seed.seedAvailable()) return seed.skipReason();
  if (!genServerAvailable()) {
    return `clusterluck not found at ${clusterluckDir()} (gen_server.js); mixed cluster tests skipped`;
  }
  return null;
}

function rustSkipReason() {
  return fs.existsSync(EXAMPLE) ? null : "the Rust example node (examples/node.rs) is not in this tree; Rust node tests skipped";
}

// One mixed cluster: seed JS node `js`, addon node `addon`, Rust node `rust`. `tls` gives the
// options of each side (null: plain TCP).
function mixedSuite(title, { tls = null } = {}) {
  describe(title, { timeout: 240000 }, () => {
    const rustSkip = rustSkipReason();
    const RT = rustSkip ? { ...T, skip: rustSkip } : T;
    let js;
    let addon;
    let rust = null;
    let certs = null;

    before(async () => {
      let jsOpts = {};
      let rustArgs = [];
      if (tls) {
        certs = makeCerts();
        jsOpts = { tls: tlsOpts(certs.node, certs.ca, { requestCert: true }) };
        rustArgs = tls.rustArgs(certs);
      }
      const bin = rustSkip ? null : rustNodeBinary();
      [js, addon] = await Promise.all([
        spawnPeer("seed", { id: "js", cookie: COOKIE, retry: 200, ...jsOpts }),
        spawnPeer("native", { id: "addon", cookie: COOKIE, retry: 200, ...jsOpts })
      ]);
      for (const p of [js, addon]) {
        await p.request("serveRust");
        await p.request("genServerStart", { name: "js_gs" });
      }
      await js.request("connect", addon.node);
      await addon.request("connect", js.node);
      if (bin) {
        const port = await freePort();
        rust = startRustNode(bin, {
          id: "rust",
          port,
          cookie: COOKIE,
          peers: [js.node, addon.node],
          probe: true,
          extraArgs: rustArgs
        });
        await rust.ready;
        await js.request("connect", rust.node);
        await addon.request("connect", rust.node);
      }
    });

    after(async () => {
      if (rust) await rust.stop("SIGKILL");
      await Promise.all([js, addon].filter(Boolean).map((p) => p.close()));
      if (certs) certs.cleanup();
    });

    it("JS and addon nodes: ping, cast, callSingleton, a Buffer and a stream, both ways", T, async () => {
      for (const [a, b] of [[js, addon], [addon, js]]) {
        assert.equal(await a.request("ping", { node: b.node, timeout: 5000 }), "pong");
        await b.request("listen", { event: "note" });
        const before = (await b.request("received", { event: "note" })).count;
        await a.request("cast", { node: b.node, event: "note", data: { from: a.id } });
        await waitFor(async () => (await b.request("received", { event: "note" })).count > before, {
          what: `a cast ${a.id} -> ${b.id}`
        });
        const value = viaJson(PROBE_VALUE);
        assert.deepEqual(await a.request("callSingleton", { node: b.node, event: "echo", data: value }), value);
        const bytes = pattern(7, 100000);
        const b64 = bytes.toString("base64");
        assert.deepEqual(
          await a.request("callSingleton", { node: b.node, event: "echo", data: b64, buffer: true }),
          { base64: b64 }
        );
        const streamed = pattern(0, MIB);
        assert.deepEqual(
          await a.request("call", { node: b.node, event: "sum", bytes: MIB, chunk: 64 * 1024 }),
          { type: "json", value: { len: MIB, sum: byteSum(streamed) } }
        );
      }
    });

    it("clusterluck GenServers on the JS and addon nodes call each other", T, async () => {
      const value = viaJson(PROBE_VALUE);
      for (const [a, b] of [[js, addon], [addon, js]]) {
        assert.deepEqual(
          await a.request("genServerCall", { node: b.node, id: "js_gs", event: "echo", data: value }),
          value
        );
        const b64 = Buffer.from("a Buffer through a GenServer").toString("base64");
        assert.deepEqual(
          await a.request("genServerCall", { node: b.node, id: "js_gs", event: "echo", data: b64, buffer: true }),
          { base64: b64 }
        );
      }
    });

    for (const from of ["js", "addon"]) {
      const peerOf = () => (from === "js" ? js : addon);

      it(`${from} -> rust: ping, callSingleton echo, a Buffer`, RT, async () => {
        const p = peerOf();
        assert.equal(await p.request("ping", { node: rust.node, timeout: 5000 }), "pong");
        const value = viaJson(PROBE_VALUE);
        assert.deepEqual(await p.request("callSingleton", { node: rust.node, event: "echo", data: value }), value);
        assert.deepEqual(await p.request("callSingleton", { node: rust.node, event: "echo", data: null }), null);
        for (const size of [0, 5, 2 * MIB]) {
          const b64 = pattern(size, size).toString("base64");
          assert.deepEqual(
            await p.request("callSingleton", { node: rust.node, event: "echo", data: b64, buffer: true }),
            { base64: b64 },
            `echo of a ${size}-byte Buffer`
          );
        }
        const small = pattern(3, 1000);
        assert.deepEqual(
          await p.request("callSingleton", { node: rust.node, event: "sum", data: small.toString("base64"), buffer: true }),
          { len: 1000, sum: byteSum(small) }
        );
      });

      it(`${from} -> rust: a 4 MiB stream of 64 KiB Buffers to sum`, RT, async () => {
        const p = peerOf();
        const size = 4 * MIB;
        assert.deepEqual(
          await p.request("call", { node: rust.node, event: "sum", bytes: size, chunk: 64 * 1024 }),
          { type: "json", value: { len: size, sum: byteSum(pattern(0, size)) } }
        );
      });

      it(`${from} -> rust: 1000 casts are counted`, RT, async () => {
        const p = peerOf();
        const before = (await p.request("callSingleton", { node: rust.node, event: "counted", data: null })).counted;
        assert.equal(typeof before, "number");
        await p.request("castMany", { node: rust.node, event: "count", count: 1000, size: 10 });
        const after = await waitFor(async () => {
          const n = (await p.request("callSingleton", { node: rust.node, event: "counted", data: null })).counted;
          return n >= before + 1000 && n;
        }, { what: "1000 casts counted by the Rust node" });
        assert.equal(after, before + 1000);
      });

      it(`${from} -> rust: GenServer#call reaches rust_gs, singleton and streamed`, RT, async () => {
        const p = peerOf();
        const value = viaJson(PROBE_VALUE);
        assert.deepEqual(
          await p.request("genServerCall", { node: rust.node, id: "rust_gs", event: "echo", data: value }),
          value
        );
        const b64 = pattern(1, 3000).toString("base64");
        assert.deepEqual(
          await p.request("genServerCall", { node: rust.node, id: "rust_gs", event: "echo", data: b64, buffer: true }),
          { base64: b64 }
        );
        assert.deepEqual(
          await p.request("genServerStreamCall", { node: rust.node, id: "rust_gs", event: "echo", data: value, chunk: 7 }),
          value
        );
      });
    }

    it("rust --probe: one JSON line per peer, every check passed", { ...RT, timeout: 90000 }, async () => {
      const lines = await waitFor(() => {
        const got = rust.json.filter((l) => l.peer === "js" || l.peer === "addon");
        return got.length >= 2 && got;
      }, { timeout: 80000, what: "probe lines for js and addon" });
      for (const line of lines) {
        assert.equal(typeof line.ping_us, "number", JSON.stringify(line));
        assert.ok(line.ping_us >= 0, JSON.stringify(line));
        assert.equal(line.echo, true, JSON.stringify(line));
        assert.equal(line.buffer_echo, true, JSON.stringify(line));
        assert.equal(line.stream_sum, true, JSON.stringify(line));
        assert.equal(line.counted, 1000, JSON.stringify(line));
      }
      assert.deepEqual(lines.map((l) => l.peer).sort(), ["addon", "js"]);
    });

    it("no node skipped a message from another (every signature verified)", RT, async () => {
      for (const p of [js, addon]) {
        const skips = p.events.filter((e) => e.event === "_skip");
        assert.deepEqual(skips, [], `${p.id} skipped messages`);
      }
    });

    it("the Rust node stops cleanly on SIGTERM", RT, async () => {
      const result = await rust.stop("SIGTERM", 5000);
      assert.equal(result.forced, false, "exited by itself within 5 s");
      assert.equal(result.code, 0, JSON.stringify(result));
    });
  });
}

const reason = skipReason();
if (reason) {
  console.log(reason);
  it("mixed Rust/JS cluster", { skip: reason }, () => {});
} else {
  if (rustSkipReason()) console.log(rustSkipReason());
  mixedSuite("mixed cluster (cookie): JS, addon and Rust nodes");
  mixedSuite("mixed cluster (cookie, mutual TLS): JS, addon and Rust nodes", {
    tls: {
      // The Rust node's TLS flags, node-ipc's option shape on the command line.
      rustArgs: (certs) => ["--tls-key", certs.node.key, "--tls-cert", certs.node.cert, "--tls-ca", certs.ca]
    }
  });
}
