// Many senders writing large frames at once to one native node. The JS
// transport shares one reassembly buffer per server and corrupts such frames;
// ours reassembles per connection, so every message must arrive intact and in
// order per sender. Two native and (when the seed is present) two JS senders.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const seed = require("./helpers/seed");
const { spawnPeer, waitFor } = require("./helpers/cluster");

const COUNT = 100;
const SIZE = 100 * 1000;

describe("concurrent large senders to one native node", { timeout: 120000 }, () => {
  const peers = [];
  let receiver;
  let senders;

  before(async () => {
    const impls = ["native", "native"];
    if (seed.seedAvailable()) impls.push("seed", "seed");
    else console.log(seed.skipReason() + " (JS senders left out)");
    receiver = await spawnPeer("native", { id: "sink", cookie: "secret" });
    peers.push(receiver);
    senders = await Promise.all(impls.map((impl, i) => spawnPeer(impl, { id: impl + "-sender-" + i, cookie: "secret" })));
    peers.push(...senders);
    await Promise.all(senders.map((s) => s.request("connect", receiver.node)));
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.close()));
  });

  it(`${COUNT} messages of ${SIZE / 1000} kB from each sender, all at once`, { timeout: 100000 }, async () => {
    await Promise.all(senders.map((s) =>
      s.request("castIntact", { node: receiver.node, count: COUNT, size: SIZE, sender: s.node.id })));
    const total = COUNT * senders.length;
    const rec = await waitFor(async () => {
      const r = await receiver.request("received", { event: "intact" });
      return r.count >= total && r;
    }, { timeout: 60000, what: total + " intact messages" });
    assert.equal(rec.count, total);
    assert.equal(rec.bad, 0, "no corrupted payloads");
    for (const s of senders) {
      assert.deepEqual(rec.bySender[s.node.id], Array.from({ length: COUNT }, (_, i) => i),
        "every message from " + s.node.id + ", in order");
    }
    assert.equal(receiver.events.filter((e) => e.event === "_skip").length, 0);
  });
});
