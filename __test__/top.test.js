// `clusterluck-native top` against a small mixed cluster in separate processes: two addon
// nodes, a seed JS kernel (when ../shared has it) and the Rust example node (when it can be
// built), with the cookie on, plus an address where nothing listens. Checked through
// `--once --json` (who answered, what each says of its peers, what the nodes say of the JS
// node), the bad inputs (exit codes, one line, in time), and the live view itself in a tmux
// window of 80x24 (rows, colours, a sort key, a resize, q).
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { execFile, execFileSync, spawn } = require("child_process");
const fs = require("fs");
const net = require("net");
const path = require("path");

const seed = require("./helpers/seed");
const { spawnPeer, waitFor } = require("./helpers/cluster");
const { freePort } = require("./helpers/ports");
const { makeCerts, tlsOpts } = require("./helpers/certs");
const { Model, snapshot } = require("../lib/top/model");
const { render } = require("../lib/top/render");
const { OBSERVE_EVENT } = require("../lib/top/observer");

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "bin", "clusterluck-native.js");
const HOST = "127.0.0.1";
const COOKIE = "top-secret";
const T = { timeout: 60000 };

// Runs the command; resolves {code, stdout, stderr, ms}.
function top(args, { timeout = 30000 } = {}) {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, "top", ...args], { timeout, cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function hasTmux() {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch (err) {
    return false;
  }
}

// The Rust example node's binary, built if needed (a no-op when fresh), or why not.
function rustNode() {
  if (!fs.existsSync(path.join(ROOT, "examples", "node.rs"))) return { skip: "the Rust example node is not in this tree" };
  try {
    execFileSync(process.env.CARGO || "cargo", ["build", "--release", "--example", "node"], {
      cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], timeout: 15 * 60 * 1000,
    });
  } catch (err) {
    return { skip: `the Rust example node could not be built (${err.message.split("\n")[0]})` };
  }
  const dir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
  return { bin: path.join(dir, "release", "examples", "node") };
}

function startRust(bin, id, port, peers) {
  const args = ["--id", id, "--port", String(port), "--host", HOST, "--cookie", COOKIE];
  for (const p of peers) args.push("--peer", `${p.id}@${p.host}:${p.port}`);
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (t) => { out += t; });
  const ready = waitFor(() => out.split("\n").includes("ready"), { timeout: 20000, what: `Rust node ${id} ready` });
  return { child, ready, node: { id, host: HOST, port } };
}

describe("the view's model and layout", () => {
  // A snapshot of two nodes: one whose link holds 90% of the busy limit, one at 60%.
  function snap(time, sent, unwrittenA, unwrittenB) {
    const entry = (unwritten) => ({
      state: "up", sent: { messages: sent, bytes: sent * 100 }, received: { messages: sent, bytes: sent * 100 },
      queued: 3, unwritten, dropped: 0, skips: { INVALID_JSON: 0 }, inbound: 1, lastHeard: time, rtt: 0.25,
      quiet: 0, pings: 1, ticksMissed: 0, ackSaves: 0, nodedowns: { "tick timeout": 1, closed: 0, stopped: 2 },
    });
    const node = (id, other, unwritten) => ({
      id, host: HOST, port: 1, answered: true,
      answer: { id, kind: "native", uptime: 3723000, peers: { [other]: entry(unwritten) }, links: [{ id: other, host: HOST, port: 1 }] },
    });
    return { time, nodes: new Map([["a", node("a", "b", unwrittenA)], ["b", node("b", "a", unwrittenB)]]) };
  }

  it("colours a row red past 85% of the busy limit, yellow past half, and fits the width", () => {
    const MIB = 1024 * 1024;
    const model = new Model();
    model.update(snapshot(snap(1000, 0, 0, 0), "obs"));
    const view = model.update(snapshot(snap(2000, 500, 14.5 * MIB, 9 * MIB), "obs"));
    assert.equal(view.head.nodes, 2);
    assert.equal(view.head.linksUp, 2);
    const [a, b] = view.rows;
    assert.equal(a.outMsgs, 500, "500 messages in one second");
    assert.equal(a.level, 2, "90% of the busy limit: red");
    assert.equal(b.level, 1, "56% of it: yellow");
    const lines = render({ model: view, sort: "u", target: "a@h:1", interval: 1000, clock: "00:00:00", color: true }, 79, 24);
    assert.equal(lines.length, 24);
    const plain = lines.map((l) => l.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, ""));
    for (const l of plain) assert.ok(l.length <= 79, `too wide: ${JSON.stringify(l)}`);
    const rowA = lines.find((l) => l.includes("\x1b[31ma "));
    assert.ok(rowA, "a's row is red:\n" + lines.join("\n"));
    assert.ok(lines.some((l) => l.startsWith("\x1b[33mb ")), "b's row is yellow");
    // Sorted by unwritten: a (the larger) first; uptime, links, rtt and nodedowns shown.
    const rows = plain.filter((l) => /^[ab] /.test(l));
    assert.deepEqual(rows.map((l) => l[0]), ["a", "b"]);
    assert.match(rows[0], /^a\s+native 1h02\s+1\/1\s+500\s+500\s+50k\s+50k\s+3\s+15M\s+0\s+0\s+0\.3 1\/0\/2$/);
  });
});

describe("clusterluck-native top", () => {
  const peers = [];
  let rust = null;
  let a = null;
  let b = null;
  let js = null;
  let ghost = null;
  let jsSkip = null;
  let rustSkip = null;

  before(async () => {
    [a, b] = await Promise.all([
      spawnPeer("native", { id: "top-a", cookie: COOKIE }),
      spawnPeer("native", { id: "top-b", cookie: COOKIE }),
    ]);
    peers.push(a, b);
    jsSkip = seed.seedAvailable() ? null : seed.skipReason();
    if (jsSkip === null) {
      js = await spawnPeer("seed", { id: "top-js", cookie: COOKIE });
      peers.push(js);
    } else {
      process.stdout.write(`# the JS node is left out: ${jsSkip}\n`);
    }
    const built = rustNode();
    if (built.skip) {
      rustSkip = built.skip;
      process.stdout.write(`# the Rust node is left out: ${rustSkip}\n`);
    } else {
      rust = startRust(built.bin, "top-rs", await freePort(), [a.node]);
      await rust.ready;
    }
    ghost = { id: "ghost", host: HOST, port: await freePort() };
    const links = [[a, b.node], [b, a.node]];
    if (js) links.push([a, js.node], [js, a.node], [js, b.node]);
    if (rust) links.push([b, rust.node]);
    await Promise.all(links.map(([from, to]) => from.request("connect", to)));
    // Handlers of the observer's event: an addon node answers it in Rust, and they never run.
    await Promise.all(peers.map((p) => p.request("listen", { event: OBSERVE_EVENT })));
    // Nothing listens there: the link keeps trying.
    await a.request("connect", { ...ghost, timeout: 100 }).catch(() => {});
    await Promise.all([a.request("castMany", { node: b.node, event: "note", count: 50 })]);
  });

  after(async () => {
    if (rust) rust.child.kill("SIGKILL");
    await Promise.all(peers.map((p) => p.close()));
  });

  it("--once --json: every node, who answered, and each node's stats of its peers", T, async () => {
    const before = await a.request("stats");
    const r = await top(["--node", `${a.id}@${HOST}:${a.node.port}`, "--cookie", COOKIE, "--once", "--json"]);
    const afterStats = await a.request("stats");
    assert.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout);
    const byId = Object.fromEntries(snap.nodes.map((n) => [n.id, n]));
    for (const n of snap.nodes) {
      for (const key of ["id", "host", "port", "kind", "answered", "peers"]) assert.ok(key in n, `${key} in ${JSON.stringify(n)}`);
      assert.ok(!n.id.startsWith("clusterluck-native-top-"), "the observer is not a node of the view");
      assert.ok(!Object.keys(n.peers).some((id) => id.startsWith("clusterluck-native-top-")));
    }
    for (const p of [a, b]) {
      assert.equal(byId[p.id].answered, true, p.id);
      assert.equal(byId[p.id].kind, "native");
      assert.equal(byId[p.id].port, p.node.port);
      assert.ok(byId[p.id].uptime >= 0);
    }
    const ab = byId[a.id].peers[b.id];
    for (const key of ["state", "rtt", "sent", "received", "queued", "unwritten", "dropped", "skips", "lastHeard", "quiet", "pings", "ticksMissed", "ackSaves", "nodedowns"]) {
      assert.ok(key in ab, `${key} in ${JSON.stringify(ab)}`);
    }
    assert.ok(ab.sent.messages >= 50, "a's casts to b are counted");
    // The answer's figures are a's own stats(): the same fields, and counters between
    // what a's kernel.stats() gave just before and just after.
    assert.deepEqual(Object.keys(ab).sort(), Object.keys(before.peers[b.id]).sort());
    for (const side of ["sent", "received"]) {
      for (const unit of ["messages", "bytes"]) {
        const v = ab[side][unit];
        assert.ok(before.peers[b.id][side][unit] <= v && v <= afterStats.peers[b.id][side][unit], `${side}.${unit}`);
      }
    }
    assert.equal(ab.state, afterStats.peers[b.id].state);
    assert.deepEqual(ab.nodedowns, afterStats.peers[b.id].nodedowns);
    assert.ok(byId[b.id].peers[a.id].received.messages >= 50, "and b received them");
    assert.equal(byId.ghost.answered, false);
    assert.match(byId.ghost.why, /cannot connect \(ECONNREFUSED\)/);
    assert.equal(byId[a.id].peers.ghost.state, "connecting");
    if (js) {
      const j = byId[js.id];
      assert.equal(j.answered, false, "a JS kernel cannot answer");
      assert.equal(j.kind, "js");
      assert.match(j.why, /no answer/);
      // Shown as the nodes linking to it see it.
      assert.ok(j.seenBy[a.id] && j.seenBy[a.id].state !== null, JSON.stringify(j.seenBy));
      assert.ok(byId[a.id].peers[js.id].received.messages >= 0);
      // The request reached the JS kernel as an event, which nothing answers.
      assert.ok((await js.request("received", { event: OBSERVE_EVENT })).count >= 1);
    }
    for (const p of [a, b]) {
      assert.equal((await p.request("received", { event: OBSERVE_EVENT })).count, 0, `${p.id}'s handler never ran`);
    }
    if (rust) {
      const n = byId[rust.node.id];
      assert.ok(n, "the Rust node, found through b's links");
      assert.equal(n.answered, true);
      assert.equal(n.kind, "rust");
      assert.ok(n.peers[a.id], "it links to a");
    }
    // No message payload in the view: the casts' pads never appear.
    assert.ok(!r.stdout.includes("xxxxxxxx"));
    const skips = [a, b].flatMap((p) => p.events.filter((e) => e.event === "_skip"));
    assert.deepEqual(skips, [], "the signed request was not skipped");
  });

  it("bad input: one line naming the cause, a non-zero exit, in time", T, async () => {
    const interval = 1000;
    const listener = net.createServer((s) => s.on("data", () => s.end("HTTP/1.1 400 Bad Request\r\n\r\n")));
    await new Promise((resolve) => listener.listen(0, HOST, resolve));
    const notKernel = listener.address().port;
    const cases = [
      [["--node", `nobody@${HOST}:${ghost.port}`], /cannot connect \(ECONNREFUSED\)/],
      [["--node", `${a.id}@${HOST}:${a.node.port}`, "--cookie", "not-the-cookie"], /no answer in \d+ ms: the --cookie is not the node's/],
      [["--node", `x@${HOST}:${notKernel}`, "--cookie", COOKIE], /closed the connection: not a clusterluck kernel/],
      [["--node", "no-address"], /--node wants ID@HOST:PORT/],
    ];
    try {
      const skipsBefore = a.events.filter((e) => e.event === "_skip").length;
      const results = await Promise.all(cases.map(([args]) => top([...args, "--interval", String(interval), "--once", "--json"])));
      results.forEach((r, i) => {
        assert.notEqual(r.code, 0, `case ${i} exits non-zero`);
        assert.equal(r.stdout, "");
        const lines = r.stderr.trim().split("\n");
        assert.match(lines[0], cases[i][1]);
        assert.ok(lines.length <= 2 && !/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
        assert.ok(r.ms < interval + 5000, `case ${i} took ${r.ms} ms`);
      });
      // The wrongly signed request was refused by the node, as a bad checksum.
      await waitFor(() => a.events.filter((e) => e.event === "_skip").length > skipsBefore, { what: "a's skip" });
    } finally {
      listener.close();
    }
  });

  it("a cluster that speaks TLS: answered over TLS with --tls-*, refused without", T, async () => {
    const certs = makeCerts();
    const tls = tlsOpts(certs.node, certs.ca, { requestCert: true });
    const [x, y] = await Promise.all([
      spawnPeer("native", { id: "tls-x", cookie: COOKIE, tls }),
      spawnPeer("native", { id: "tls-y", cookie: COOKIE, tls }),
    ]);
    try {
      await Promise.all([x.request("connect", y.node), y.request("connect", x.node)]);
      const node = `${x.id}@${HOST}:${x.node.port}`;
      const flags = ["--tls-key", certs.node.key, "--tls-cert", certs.node.cert, "--tls-ca", certs.ca];
      const [withTls, without] = await Promise.all([
        top(["--node", node, "--cookie", COOKIE, "--once", "--json", ...flags]),
        top(["--node", node, "--cookie", COOKIE, "--once", "--json"]),
      ]);
      assert.equal(withTls.code, 0, withTls.stderr);
      const nodes = JSON.parse(withTls.stdout).nodes;
      assert.deepEqual(nodes.map((n) => [n.id, n.answered, n.kind]).sort(), [[x.id, true, "native"], [y.id, true, "native"]]);
      assert.ok(nodes.find((n) => n.id === x.id).peers[y.id].sent.messages >= 0);
      assert.notEqual(without.code, 0);
      assert.match(without.stderr, /speaks TLS/);
    } finally {
      await Promise.all([x.close(), y.close()]);
      certs.cleanup();
    }
  });

  const tmuxSkip = hasTmux() ? null : "tmux is not installed; the terminal view's test skipped";
  it("the live view in an 80x24 terminal: rows, colours, a sort key, a resize, q", tmuxSkip ? { ...T, skip: tmuxSkip } : T, async () => {
    const session = "cltop-" + process.pid;
    const tmux = (...args) => execFileSync("tmux", args, { encoding: "utf8" });
    const capture = (escapes) => tmux("capture-pane", "-p", ...(escapes ? ["-e"] : []), "-t", session);
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} top --node ${a.id}@${HOST}:${a.node.port} ` +
      `--cookie ${COOKIE} --interval 300; echo TOP-EXIT=$?; sleep 60`;
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", cmd);
    try {
      let last = "";
      const screen = await waitFor(() => {
        const s = (last = capture(false));
        return /nodes \d+ \(\d+ answered\)/.test(s) && s.includes(b.id) && /msgs\/s \d/.test(s) ? s : null;
      }, { timeout: 20000, what: "the view's first frame with rates" }).catch((err) => {
        throw new Error(`${err.message}; the window shows:\n${last}`);
      });
      const lines = screen.replace(/\n$/, "").split("\n");
      assert.match(lines[0], /^clusterluck-native top {2}/);
      assert.match(lines[2], /^NODE\s+KIND\s+UPTIM\s+LINKS/);
      for (const l of lines) assert.ok(l.length <= 80, `fits 80 columns: ${JSON.stringify(l)}`);
      assert.ok(lines.length <= 24);
      assert.match(screen, new RegExp(`^${a.id}\\s+native\\s+\\S+\\s+\\d+/\\d+`, "m"));
      // The address where nothing listens: a red row.
      assert.match(capture(true), /\x1b\[31m(\x1b\[[0-9;]*m)*ghost /);
      tmux("send-keys", "-t", session, "b");
      await waitFor(() => capture(false).includes("sort: bytes/s"), { what: "the sort key taken" });
      tmux("resize-window", "-t", session, "-x", "100", "-y", "30");
      const wide = await waitFor(() => {
        const s = capture(false);
        return /^NODE {20,}KIND/m.test(s) ? s : null;
      }, { what: "a redraw at 100 columns" });
      const w = wide.replace(/\n$/, "").split("\n");
      assert.equal(w.filter((l) => l.startsWith("clusterluck-native top")).length, 1, "one header, nothing left of the old frame");
      assert.equal(w.filter((l) => l.startsWith("NODE")).length, 1);
      assert.match(w[w.length - 1] || w[w.length - 2], /^sort: bytes\/s/);
      tmux("send-keys", "-t", session, "q");
      const after = await waitFor(() => {
        const s = capture(false);
        return s.includes("TOP-EXIT=") ? s : null;
      }, { what: "top to exit" });
      assert.match(after, /TOP-EXIT=0/);
      assert.ok(!after.includes("clusterluck-native top"), "the screen as it was: the view is gone");
    } finally {
      try {
        tmux("kill-session", "-t", session);
      } catch (err) {
        // already gone
      }
    }
  });
});
