// The cluster scenario every pair of implementations must pass: two kernels
// ("alpha" and "beta") in separate processes, cookie "secret", exercising every
// peer command, and a third kernel ("gamma", alpha's implementation) with the
// wrong cookie. Used with seed/seed (proves the harness), native/native, and
// both mixed directions (interop).
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { spawnPeer, waitFor } = require("./cluster");
const { digestOf } = require("./bytes");

const MB3 = 3 * 1000 * 1000;
const MB2 = 2 * 1024 * 1024;
const T = { timeout: 15000 };

// `extra` (an object, or a function called in `before`) adds start options
// to every peer, e.g. TLS.
function clusterSuite(title, alphaImpl, betaImpl, extra = {}) {
const more = () => (typeof extra === "function" ? extra() : extra);
describe(title, { timeout: 90000 }, () => {
  let alpha;
  let beta;
  const extra = [];

  before(async () => {
    [alpha, beta] = await Promise.all([
      spawnPeer(alphaImpl, { id: "alpha", cookie: "secret", ...more() }),
      spawnPeer(betaImpl, { id: "beta", cookie: "secret", ...more() })
    ]);
  });

  after(async () => {
    await Promise.all([alpha, beta, ...extra].filter(Boolean).map((p) => p.close()));
  });

  it("connects both ways", T, async () => {
    assert.deepEqual(await alpha.request("connect", beta.node), { connected: true });
    assert.deepEqual(await beta.request("connect", alpha.node), { connected: true });
  });

  it("pings both ways", T, async () => {
    assert.equal(await alpha.request("ping", { node: beta.node, timeout: 5000 }), "pong");
    assert.equal(await beta.request("ping", { node: alpha.node, timeout: 5000 }), "pong");
  });

  it("casts a value and a Buffer, and records them", T, async () => {
    const value = { hello: "world", n: 1, list: [1, "two", null], s: "h\u00e9llo \u0001" };
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await beta.request("listen", { event: "note" });
    await alpha.request("cast", { node: beta.node, event: "note", data: value });
    await alpha.request("cast", { node: beta.node, event: "note", data: bytes.toString("base64"), buffer: true });
    const rec = await waitFor(async () => {
      const r = await beta.request("received", { event: "note" });
      return r.count >= 2 && r;
    }, { what: "two casts on beta" });
    assert.equal(rec.count, 2);
    assert.deepEqual(rec.records[0].data, value);
    assert.equal(rec.records[0].from, "alpha");
    assert.equal(rec.records[0].tag, null);
    assert.deepEqual(rec.records[1].data, { base64: bytes.toString("base64") });
  });

  it("delivers many casts in order", T, async () => {
    await alpha.request("castMany", { node: beta.node, event: "count", count: 300, size: 200 });
    const rec = await waitFor(async () => {
      const r = await beta.request("received", { event: "count" });
      return r.count >= 300 && r;
    }, { what: "300 casts on beta" });
    assert.equal(rec.count, 300);
    assert.deepEqual(rec.order, Array.from({ length: 300 }, (_, i) => i));
  });

  it("callSingleton round-trips an object", T, async () => {
    const data = { a: 1, nested: { b: [1, 2, 3], c: "x" }, big: 1e21, neg: -0.5, s: "\u00e9\n" };
    assert.deepEqual(await alpha.request("callSingleton", { node: beta.node, event: "echo", data }), data);
    assert.deepEqual(await beta.request("callSingleton", { node: alpha.node, event: "echo", data }), data);
  });

  for (const [from, to] of [["alpha", "beta"], ["beta", "alpha"]]) {
    it(`call streams 3 MB ${from} -> ${to} (len and echo)`, T, async () => {
      const peers = { alpha, beta };
      const expected = digestOf(MB3);
      const args = { node: peers[to].node, bytes: MB3, chunk: 64 * 1024 };
      const len = await peers[from].request("call", { ...args, event: "len" });
      assert.deepEqual(len, { type: "json", value: expected });
      const echo = await peers[from].request("call", { ...args, event: "echo" });
      assert.deepEqual(echo, { type: "buffer", ...expected });
    });
  }

  it("a failing request stream arrives as an error", T, async () => {
    await assert.rejects(alpha.request("callError", { node: beta.node, event: "echo" }), { message: "boom" });
    const rec = await beta.request("received", { event: "echo" });
    const last = rec.records[rec.records.length - 1];
    assert.equal(last.streamed, true);
    assert.equal(last.length, 1024);
    assert.equal(last.error.message, "boom");
    assert.equal(last.error.code, 7);
    assert.equal(last.error._error, true);
    assert.deepEqual(Object.keys(last.error), ["stack", "message", "code", "_error"]);
  });

  it("multicall and multicallSingleton over both nodes", T, async () => {
    const nodes = [alpha.node, beta.node];
    const data = { m: 1, s: "both" };
    assert.deepEqual(await alpha.request("multicall", { nodes, event: "echo", data }), [data, data]);
    assert.deepEqual(await beta.request("multicall", { nodes, event: "echo", data }), [data, data]);
    assert.deepEqual(await alpha.request("multicallSingleton", { nodes, event: "echo", data }), [data, data]);
    const b64 = Buffer.from("buffer reply").toString("base64");
    assert.deepEqual(
      await beta.request("multicallSingleton", { nodes, event: "echo", data: b64, buffer: true }),
      [{ base64: b64 }, { base64: b64 }]
    );
  });

  it("bigreply streams 2 MB back", T, async () => {
    const res = await alpha.request("call", { node: beta.node, event: "bigreply", data: { bytes: MB2 } });
    assert.deepEqual(res, { type: "buffer", ...digestOf(MB2) });
  });

  it("a failing reply stream arrives as an error", T, async () => {
    await assert.rejects(beta.request("call", { node: alpha.node, event: "errreply", data: {} }), {
      message: "bad thing"
    });
  });

  it("a peer with the wrong cookie is skipped with INVALID_CHECKSUM", T, async () => {
    const gamma = await spawnPeer(alphaImpl, { id: "gamma", cookie: "wrong", ...more() });
    extra.push(gamma);
    await gamma.request("connect", beta.node);
    const before = (await beta.request("received", { event: "echo" })).count;
    await gamma.request("cast", { node: beta.node, event: "echo", data: { from: "gamma" } });
    await assert.rejects(gamma.request("ping", { node: beta.node, timeout: 1000 }), { message: "Timeout." });
    await waitFor(() => beta.events.filter((e) => e.event === "_skip").length >= 2, {
      what: "two _skip events on beta"
    });
    const skips = beta.events.filter((e) => e.event === "_skip");
    for (const s of skips) {
      assert.equal(s.type, "INVALID_CHECKSUM");
      assert.equal(s.message, "Checksum failure.");
    }
    assert.equal((await beta.request("received", { event: "echo" })).count, before);
    assert.equal(alpha.events.filter((e) => e.event === "_skip").length, 0);
  });

  it("disconnect and stop", T, async () => {
    assert.deepEqual(await alpha.request("disconnect", { ...beta.node, force: true }), { connected: false });
    await assert.rejects(alpha.request("ping", { node: beta.node }), { message: "Unknown node beta" });
    assert.deepEqual(await beta.request("stop"), { stopped: true });
    await beta.waitForEvent((e) => e.event === "_stop");
  });
});
}

module.exports = { clusterSuite };
