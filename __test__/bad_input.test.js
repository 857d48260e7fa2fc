// Bad input from the network: frames that are not JSON, have the wrong
// shape, fail the checksum, or are too large must be skipped with a typed
// `_skip` error, and every good message around them, on the same connection
// and on others, must still arrive in order.
"use strict";

const assert = require("node:assert/strict");
const { describe, it } = require("node:test");

const { NetKernel, Node, createKernel } = require("..");
const { freePort } = require("./helpers/ports");
const seed = require("./helpers/seed");
const { rawClient, recordingServer, until, DELIM } = require("./helpers/raw");

const FROM = { id: "raw", host: "127.0.0.1", port: 1 };
// Another node. Two connections of one node are a reconnect: the kernel
// delivers them one after the other (src/link/handover.rs, tests/server.rs).
const FROM2 = { id: "raw2", host: "127.0.0.1", port: 2 };

function good(cookie, i, from = FROM) {
  const data = NetKernel._encodeMsg(cookie, { id: "good", tag: null, from, stream: { done: true }, data: { i } });
  return Buffer.from(JSON.stringify({ type: "message", data }) + "\f");
}

function text(s) {
  return Buffer.from(s + "\f");
}

// A started kernel recording the `i` of each "good" message and each skip.
async function victim(id, opts) {
  const k = createKernel(id, "127.0.0.1", await freePort());
  const ready = new Promise((r) => k.once("_ready", r));
  k.start(opts);
  await ready;
  const got = [];
  const skips = [];
  k.on("good", (data) => got.push(data.i));
  k.on("_skip", (e) => skips.push(e));
  return { k, got, skips };
}

describe("bad input", () => {
  it("is skipped with typed errors while good messages keep flowing", async () => {
    const { k, got, skips } = await victim("victim", { cookie: "secret", maxFrameLength: 4096 });

    const a = await rawClient(k.port());
    const b = await rawClient(k.port());
    const unsigned = JSON.stringify({ type: "message", data: { id: "good", tag: null, from: FROM, stream: { done: true }, data: { i: -1 } } });
    const badUtf8 = Buffer.concat([Buffer.from('{"type":"message","data":{"id":"good","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}\f')]);
    const sequence = [
      good("secret", 0),
      text("this is not json"),
      good("secret", 1),
      text('{"type":"message","data":5}'),
      text("[1,2,3]"),
      good("secret", 2),
      text(unsigned),
      text(JSON.stringify({ type: "message", data: NetKernel._encodeMsg("wrong", { id: "good", tag: null, from: FROM, stream: { done: true }, data: { i: -2 } }) })),
      Buffer.concat([Buffer.alloc(10000, "x"), Buffer.from([DELIM])]),
      good("secret", 3),
      badUtf8,
      text('{"type":"message","data":{"id":"good","tag":null,"from":{"id":"raw"},"stream":{"done":true},"data":{"i":-3}}}'),
      good("secret", 4),
    ];
    for (const chunk of sequence) a.write(chunk);
    // Meanwhile another node's connection sends good frames, one byte at a time for one of them.
    const slow = good("secret", 100, FROM2);
    for (let i = 0; i < slow.length; i++) b.write(slow.subarray(i, i + 1));
    b.write(good("secret", 101, FROM2));

    await until(() => got.length >= 7 && skips.length >= 8, 5000, "all frames");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got.filter((i) => i < 100), [0, 1, 2, 3, 4]);
    assert.deepEqual(got.filter((i) => i >= 100), [100, 101]);
    assert.deepEqual(skips.map((e) => e.type), [
      "INVALID_JSON", "INVALID_MESSAGE", "INVALID_MESSAGE", "INVALID_CHECKSUM", "INVALID_CHECKSUM",
      "FRAME_TOO_LARGE", "INVALID_CHECKSUM", "INVALID_CHECKSUM",
    ]);
    for (const e of skips) assert.ok(e instanceof Error && e.message.length > 0);
    assert.equal(skips[3].sent, undefined);
    assert.ok("sent" in skips[3]);
    assert.match(skips[3].calculated, /^[0-9a-f]{64}$/);
    assert.equal(skips[5].limit, 4096);
    // stats(): each link is attributed to the node its first message
    // named; every whole frame read is counted, and each skip by its type.
    const { peers, totals } = k.stats();
    const raw = peers.raw;
    assert.equal(raw.state, null, "no outbound link to it");
    assert.equal(raw.inbound, 1);
    assert.equal(raw.received.messages, 12, "12 frames (the long one is not a frame)");
    assert.equal(peers.raw2.inbound, 1);
    assert.equal(peers.raw2.received.messages, 2);
    assert.deepEqual(raw.skips, {
      INVALID_JSON: 1, INVALID_CHECKSUM: 4, INVALID_MESSAGE: 2, FRAME_TOO_LARGE: 1, TLS_HANDSHAKE: 0, INBOUND_BUDGET: 0,
    });
    assert.deepEqual(totals.skips, raw.skips);
    assert.ok(Math.abs(raw.lastHeard - Date.now()) < 60000, "heard lately");
    assert.equal(raw.rtt, null, "never pinged");
    a.destroy();
    b.destroy();
    k.stop();
  });

  it("any message the JS kernel takes reaches its listeners as the JS kernel hands it over", async () => {
    const frames = [
      '{"id":5,"tag":7,"from":{"id":"cli"},"stream":{"done":true},"data":1}',
      '{"tag":0,"from":"x","stream":"s","data":2}',
      '{"id":null,"tag":{"t":1},"from":[1],"stream":5,"data":3}',
      '{"id":["a","b"],"tag":"","from":{"id":7,"host":null,"port":"p"},"stream":{"stream":1},"data":4}',
      '{"id":{"o":1},"tag":true,"from":{"id":"cli"},"stream":[],"data":5}',
    ];
    // What a started kernel emits for those frames, from a raw connection.
    async function delivered(k) {
      const seen = [];
      const record = (event) => (data, stream, from) => seen.push({ event, data, stream, tag: from.tag, node: from.node.toJSON(true) });
      for (const event of ["5", "undefined", "null", "a,b", "[object Object]"]) k.on(event, record(event));
      const skips = [];
      k.on("_skip", (e) => skips.push(e));
      const a = await rawClient(k.port());
      for (const f of frames) a.write(text('{"type":"message","data":' + f + "}"));
      await until(() => seen.length >= frames.length, 5000, "messages");
      a.destroy();
      k.stop();
      assert.equal(skips.length, 0);
      return seen;
    }
    const { k } = await victim("victim3");
    const native = await delivered(k);
    assert.deepEqual(native, [
      { event: "5", data: 1, stream: { done: true }, tag: 7, node: { id: "cli", host: undefined, port: undefined } },
      { event: "undefined", data: 2, stream: "s", tag: null, node: { id: undefined, host: undefined, port: undefined } },
      { event: "null", data: 3, stream: 5, tag: { t: 1 }, node: { id: undefined, host: undefined, port: undefined } },
      { event: "a,b", data: 4, stream: { stream: 1 }, tag: null, node: { id: 7, host: null, port: "p" } },
      { event: "[object Object]", data: 5, stream: [], tag: true, node: { id: "cli", host: undefined, port: undefined } },
    ]);
    // The JS kernel itself, when it is beside the project: the same.
    if (seed.seedAvailable()) {
      const js = seed.loadSeed().createKernel("victim3-js", "127.0.0.1", await freePort(), { silent: true });
      const ready = new Promise((resolve) => js.once("_ready", resolve));
      js.start();
      await ready;
      assert.deepEqual(await delivered(js), native);
    }
  });

  it("a ping of any tag, or none, is answered as the JS kernel answers it", async () => {
    const { k, skips } = await victim("victim4", { netTickTime: 0 });
    // The node that pings: the kernel answers on its own link to it, found by from.id.
    const rec = await recordingServer();
    const pinger = new Node("pinger", "127.0.0.1", rec.port);
    await new Promise((resolve) => k.connect(pinger, resolve));
    const a = await rawClient(k.port());
    for (const tag of ['"t1"', "5", "[1,{\"b\":2}]", null]) {
      a.write(text('{"type":"ping","data":{' + (tag === null ? "" : '"tag":' + tag + ",") + '"from":{"id":"pinger"}}}'));
    }
    await until(() => rec.frames.filter((f) => f.includes('"pong"')).length >= 4, 5000, "four pongs");
    const self = JSON.stringify(k.self().toJSON(true));
    const pong = (id) => JSON.stringify({ type: "message", data: Object.assign(id === undefined ? {} : { id }, {
      tag: null, from: JSON.parse(self), stream: { done: true }, data: "pong" }) });
    assert.deepEqual(rec.frames.filter((f) => f.includes('"pong"')), [pong("t1"), pong(5), pong([1, { b: 2 }]), pong(undefined)]);
    assert.equal(skips.length, 0);
    a.destroy();
    k.disconnect(pinger, true);
    rec.close();
    k.stop();
  });

  it("without a cookie, shape errors are still typed and good frames delivered", async () => {
    const { k, got, skips } = await victim("victim2");
    const senders = [];
    k.on("good", (data, stream, from) => senders.push(from.node));
    const a = await rawClient(k.port());
    // What the JS kernel's handler throws on: no sender, no stream.
    a.write(text('{"type":"message","data":{"id":"good","tag":null,"from":null,"stream":{"done":true},"data":{"i":-3}}}'));
    a.write(text('{"type":"message","data":{"id":"good","tag":null,"from":{"id":"raw"},"data":{"i":-4}}}'));
    a.write(good(null, 7));
    a.write(text("{"));
    // A sender naming only its id, as clusterluck's CLI does: taken, as the JS kernel takes it.
    a.write(text('{"type":"message","data":{"id":"good","tag":null,"from":{"id":"raw"},"stream":{"done":true},"data":{"i":-5}}}'));
    a.write(good(null, 8));
    await until(() => got.length >= 3 && skips.length >= 3, 5000, "frames");
    assert.deepEqual(got, [7, -5, 8]);
    assert.deepEqual(skips.map((e) => e.type), ["INVALID_MESSAGE", "INVALID_MESSAGE", "INVALID_JSON"]);
    assert.deepEqual([senders[1].id(), senders[1].host(), senders[1].port()], ["raw", undefined, undefined]);
    assert.deepEqual([senders[2].id(), senders[2].host(), senders[2].port()], ["raw", "127.0.0.1", 1]);
    a.destroy();
    k.stop();
  });
});
