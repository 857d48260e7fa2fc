// DEBUG=clusterluck:* turns on this package's logs, the Rust side's tracing
// included, under the namespaces clusterluck apps use (clusterluck:lib:kernel,
// clusterluck:lib:conn) and clusterluck:native:<module>, with the `debug`
// package's syntax (wildcards, `-name` to skip). Each case is a process of its own.
"use strict";

const assert = require("node:assert/strict");
const { describe, it } = require("node:test");
const { spawnSync } = require("child_process");
const path = require("path");
const { freePort } = require("./helpers/ports");

// Two kernels; one dials a port where nothing listens (a failed connect, in
// Rust), then the other, and sends a message; then everything stops.
const SCRIPT = `
const { createKernel, Node } = require(${JSON.stringify(path.resolve(__dirname, ".."))});
const [pa, pb, pdead] = process.argv.slice(1).map(Number);
const a = createKernel("dbg-a", "127.0.0.1", pa, { retry: 50 });
const b = createKernel("dbg-b", "127.0.0.1", pb, { retry: 50 });
let ready = 0;
const go = () => {
  if (++ready < 2) return;
  a.connect(new Node("dbg-dead", "127.0.0.1", pdead));
  a.connect(b.self(), () => a.cast(b.self(), "hi", {}));
};
b.on("hi", () => setTimeout(() => {
  a.disconnect(new Node("dbg-dead", "127.0.0.1", pdead), true);
  a.disconnect(b.self(), true);
  a.stop();
  b.stop();
}, 200));
a.once("_ready", go);
b.once("_ready", go);
a.start({ cookie: "c" });
b.start({ cookie: "c" });
`;

async function runWith(debug) {
  const ports = [await freePort(), await freePort(), await freePort()];
  const env = Object.assign({}, process.env);
  delete env.DEBUG;
  if (debug !== undefined) env.DEBUG = debug;
  const res = spawnSync(process.execPath, ["-e", SCRIPT].concat(ports.map(String)),
    { env, encoding: "utf8", timeout: 30000 });
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stderr.split("\n").filter(Boolean);
  const names = new Set();
  for (const line of lines) {
    const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) /.exec(line);
    if (m) names.add(m[1]);
  }
  return { lines, names, text: res.stderr };
}

// A kernel linked to a node that sends one message once the link is up,
// then falls silent (a raw socket that reads and answers nothing): the early
// warning at half the tick time, then the nodedown.
const SILENT = `
const net = require("net");
const { createKernel, Node } = require(${JSON.stringify(path.resolve(__dirname, ".."))});
const [pa] = process.argv.slice(1).map(Number);
const held = [];
const raw = net.createServer((s) => { held.push(s); s.resume(); });
raw.listen(0, "127.0.0.1", () => {
  const port = raw.address().port;
  const a = createKernel("dbg-a", "127.0.0.1", pa);
  a.on("nodedown", (node, reason) => {
    process.stderr.write("NODEDOWN " + node.id() + " " + reason + "\\n");
    a.stop();
    raw.close();
    held.forEach((s) => s.destroy());
    process.exit(0);
  });
  a.once("_ready", () => a.connect(new Node("dbg-silent", "127.0.0.1", port), () => {
    const c = net.connect(pa, "127.0.0.1", () => {
      held.push(c);
      const data = {id: "hello", tag: null, from: {id: "dbg-silent", host: "127.0.0.1", port}, stream: {done: true}, data: 1};
      c.write(JSON.stringify({type: "message", data}) + "\\f");
    });
  }));
  a.start({ netTickTime: 1000 });
});
setTimeout(() => process.exit(3), 20000);
`;

describe("DEBUG", () => {
  it("clusterluck:native:health warns of a silent node at half its tick time, before its nodedown", async () => {
    const env = Object.assign({}, process.env, { DEBUG: "clusterluck:native:health" });
    const res = spawnSync(process.execPath, ["-e", SILENT, String(await freePort())], { env, encoding: "utf8", timeout: 30000 });
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stderr.split("\n").filter(Boolean);
    const warn = lines.findIndex((l) => /^\d{4}-\d\d-\d\dT\S+Z clusterluck:native:health nothing from dbg-silent for \d+ ms/.test(l));
    const down = lines.indexOf("NODEDOWN dbg-silent tick timeout");
    assert.ok(warn >= 0, "the early warning:\n" + res.stderr);
    assert.ok(down > warn, "the warning came before the nodedown:\n" + res.stderr);
    const ms = Number(/for (\d+) ms/.exec(lines[warn])[1]);
    assert.ok(ms >= 500 && ms < 1000, "at half the tick time: " + lines[warn]);
  });

  it("clusterluck:* logs the JS layer and the Rust side's tracing", async () => {
    const { names, text } = await runWith("clusterluck:*");
    for (const ns of ["clusterluck:lib:kernel", "clusterluck:lib:conn", "clusterluck:native:peer", "clusterluck:native:server"]) {
      assert.ok(names.has(ns), ns + " logged:\n" + text);
    }
    assert.match(text, /clusterluck:lib:conn Connected to TCP connection to node dbg-b/);
    assert.match(text, /clusterluck:native:peer connect to 127\.0\.0\.1:\d+ failed: .* peer=\d+/);
    assert.match(text, /clusterluck:native:server accepted a connection from 127\.0\.0\.1:\d+/);
  });

  it("names, wildcards and skips select what is logged", async () => {
    const natives = await runWith("clusterluck:native:*");
    assert.deepEqual([...natives.names].filter((n) => !n.startsWith("clusterluck:native:")), []);
    assert.ok(natives.names.has("clusterluck:native:peer"));
    const noNative = await runWith("clusterluck:*,-clusterluck:native:*");
    assert.deepEqual([...noNative.names].sort(), ["clusterluck:lib:conn", "clusterluck:lib:kernel"]);
    const one = await runWith("clusterluck:lib:kernel");
    assert.deepEqual([...one.names], ["clusterluck:lib:kernel"]);
  });

  it("nothing without DEBUG, or with other names", async () => {
    assert.equal((await runWith(undefined)).text, "");
    assert.equal((await runWith("express:*")).text, "");
  });
});
