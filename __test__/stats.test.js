// The shape of kernel.stats() and what only the JS side knows in it: the
// messages a Connection holds while its link is down (queued, unwritten,
// dropped, and the totals), a connection stopped but still among the sinks
// ("closed"), and a link being disconnected gracefully, which has already
// left the sinks: only what came in from its node is listed, with no state.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, afterEach } = require("node:test");

const { createKernel, Node } = require("..");
const { freePort } = require("./helpers/ports");

const HOST = "127.0.0.1";
const ENTRY_KEYS = ["state", "sent", "received", "queued", "unwritten", "dropped", "skips", "inbound",
  "lastHeard", "rtt", "quiet", "pings", "ticksMissed", "ackSaves", "nodedowns"];
const SKIP_KINDS = ["INVALID_JSON", "INVALID_CHECKSUM", "INVALID_MESSAGE", "FRAME_TOO_LARGE", "TLS_HANDSHAKE",
  "INBOUND_BUDGET"];
const DOWN_REASONS = ["tick timeout", "closed", "stopped"];

async function started(id) {
  const kernel = createKernel(id, HOST, await freePort(), { retry: 50 });
  await new Promise((resolve) => {
    kernel.once("_ready", resolve);
    kernel.start({ cookie: "stats" });
  });
  return kernel;
}

describe("kernel.stats()", () => {
  const kernels = [];
  const conns = [];
  afterEach(() => {
    for (const conn of conns.splice(0)) conn.stop(true);
    for (const k of kernels.splice(0)) {
      for (const conn of k.sinks().values()) conn.stop(true);
      k.stop();
    }
  });

  it("counts what a link that is down holds on the JS side, in its entry and in the totals", async () => {
    const a = await started("stats-a");
    kernels.push(a);
    // Nothing listens at either: both links stay down, their casts held.
    const down = new Node("stats-down", HOST, await freePort());
    const other = new Node("stats-other", HOST, await freePort());
    a.connect(down, undefined, { maxLen: 3 });
    a.connect(other);
    for (let i = 0; i < 5; i++) a.cast(down, "job", { i });
    a.cast(other, "job", { i: 0 });
    assert.equal(a.connection(down).queue().size(), 3, "maxLen 3 kept the newest three");

    const { peers, totals } = a.stats();
    assert.deepEqual(Object.keys(peers).sort(), ["stats-down", "stats-other"]);
    const d = peers["stats-down"];
    assert.deepEqual(Object.keys(d), ENTRY_KEYS);
    assert.deepEqual(Object.keys(d.skips), SKIP_KINDS);
    assert.deepEqual(Object.keys(d.nodedowns), DOWN_REASONS);
    assert.deepEqual(Object.keys(totals), ["sent", "received", "queued", "unwritten", "dropped", "skips"]);
    assert.deepEqual(Object.keys(totals.skips), SKIP_KINDS);
    assert.equal(d.state, "connecting");
    assert.equal(d.queued, 3);
    assert.equal(d.dropped, 2, "the two oldest, dropped at maxLen");
    assert.ok(d.unwritten > 3 * '{"i":0}'.length, `the held envelopes' bytes: ${d.unwritten}`);
    assert.equal(peers["stats-other"].queued, 1);
    assert.ok(peers["stats-other"].unwritten > 0);
    for (const field of ["queued", "unwritten", "dropped"]) {
      assert.equal(totals[field], d[field] + peers["stats-other"][field], `totals.${field}`);
    }
    assert.deepEqual(d.sent, { messages: 0, bytes: 0 });
    assert.equal(d.inbound, 0);
    for (const field of ["lastHeard", "rtt", "quiet"]) assert.equal(d[field], null, field);
    for (const field of ["pings", "ticksMissed", "ackSaves"]) assert.equal(d[field], 0, field);
  });

  it("says closed for a connection stopped among the sinks, and no state for one being disconnected", async () => {
    const a = await started("stats-b");
    kernels.push(a);
    const stopped = new Node("stats-stopped", HOST, await freePort());
    const leaving = new Node("stats-leaving", HOST, await freePort());
    a.connect(stopped);
    a.connect(leaving);
    a.connection(stopped).stop(true);
    // A graceful disconnect of a link holding a message waits for it to be
    // written; the connection has left the sinks meanwhile.
    a.cast(leaving, "job", { i: 0 });
    conns.push(a.connection(leaving));
    a.disconnect(leaving);
    assert.equal(a.isConnected(leaving), false);

    const { peers, totals } = a.stats();
    assert.deepEqual(Object.keys(peers).sort(), ["stats-leaving", "stats-stopped"]);
    assert.equal(peers["stats-stopped"].state, "closed");
    assert.equal(peers["stats-stopped"].queued, 0);
    assert.equal(peers["stats-leaving"].state, null);
    assert.equal(peers["stats-leaving"].queued, 0);
    assert.deepEqual(peers["stats-leaving"].sent, { messages: 0, bytes: 0 });
    assert.equal(totals.queued, 0, "what the leaving link holds is no longer counted");
    assert.equal(totals.unwritten, 0);
  });
});
