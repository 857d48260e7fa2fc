// What a Connection shows of the messages sent while its link is down, as the
// JS Connection (clusterluck's lib/conn.js) shows it: they wait in `queue()`
// (counted at once, `{event, data}` entries an app can peek at or drop), and
// each emits `send` when it is finally handed to the link, after "connect".
// clusterluck's gossip tests attach a `send` listener right after meet() and
// wait for it; its apps read queue().size() right after casting.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, afterEach } = require("node:test");

const { createKernel, Node } = require("..");
const { freePort } = require("./helpers/ports");

const HOST = "127.0.0.1";

async function started(id, port) {
  const kernel = createKernel(id, HOST, port, { retry: 50 });
  await new Promise((resolve) => {
    kernel.once("_ready", resolve);
    kernel.start({ cookie: "fidelity" });
  });
  return kernel;
}

function until(cond, ms, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error("timed out waiting for " + what));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe("messages sent while the link is down", () => {
  const kernels = [];
  afterEach(() => {
    for (const k of kernels.splice(0)) {
      for (const conn of k.sinks().values()) conn.stop(true);
      k.stop();
    }
  });

  it("emit `send` when they are handed to the link, after connect, not at the call", async () => {
    const port = await freePort();
    const a = await started("fid-a", await freePort());
    kernels.push(a);
    const target = new Node("fid-b", HOST, port);
    const order = [];
    a.connect(target, () => order.push("connect"));
    a.cast(target, "job", { n: 1 });
    a.cast(target, "job", Buffer.from([1, 2, 3]));
    const sends = [];
    // Attached after the casts, as clusterluck's gossip tests do after meet().
    a.connection(target).on("send", (event, data) => {
      order.push("send");
      sends.push([event, data]);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(sends, [], "no `send` while the link is down");

    const got = [];
    const b = await started("fid-b", port);
    kernels.push(b);
    b.on("job", (data) => got.push(data));
    await until(() => sends.length === 2 && got.length === 2, 5000, "the sends and the deliveries");
    assert.deepEqual(order, ["connect", "send", "send"]);
    assert.equal(sends[0][0], "message");
    assert.equal(sends[0][1].id, "job");
    assert.deepEqual(sends[0][1].data, { n: 1 });
    assert.deepEqual(sends[0][1].stream, { done: true });
    assert.equal(sends[0][1].from.id, "fid-a");
    assert.deepEqual(sends[1][1].data, { type: "Buffer", data: [1, 2, 3] });
    assert.deepEqual(got[0], { n: 1 });
    assert.ok(Buffer.isBuffer(got[1]) && got[1].equals(Buffer.from([1, 2, 3])));

    // Once up, `send` is emitted at the call again.
    let now = null;
    a.connection(target).once("send", (event, data) => (now = data.data));
    a.cast(target, "job", { n: 2 });
    assert.deepEqual(now, { n: 2 });
  });

  it("are counted by queue().size() at once, and the queue behaves as the JS Queue", async () => {
    const port = await freePort();
    const a = await started("fid-c", await freePort());
    kernels.push(a);
    const target = new Node("fid-d", HOST, port);
    a.connect(target, undefined, { maxLen: 5 });
    const conn = a.connection(target);
    for (let i = 0; i < 3; i++) a.cast(target, "job", { i });
    assert.equal(conn.queue().size(), 3, "three casts in this turn, counted at once");
    assert.equal(conn.idle(), false);
    const first = conn.queue().peek();
    assert.equal(first.event, "message");
    assert.deepEqual(first.data.data, { i: 0 });
    assert.deepEqual(Object.keys(first), ["event", "data"]);

    for (let i = 3; i < 8; i++) a.cast(target, "job", { i });
    assert.equal(conn.queue().size(), 5, "maxLen 5: the oldest dropped");
    assert.deepEqual(conn.queue().peek().data.data, { i: 3 });
    assert.equal(conn.maxLen(4), 4);
    assert.equal(conn.queue().size(), 4);
    // An app may drop the oldest itself.
    assert.deepEqual(conn.queue().dequeue().data.data, { i: 4 });
    assert.equal(conn.queue().size(), 3);

    const got = [];
    const b = await started("fid-d", port);
    kernels.push(b);
    b.on("job", (data) => got.push(data.i));
    await until(() => got.length === 3, 5000, "the held casts");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(got, [5, 6, 7], "exactly what the queue held, in order");
    assert.equal(conn.queue().size(), 0);
    assert.equal(conn.idle(), true);
  });

  it("flush() empties the queue: nothing of it is sent", async () => {
    const port = await freePort();
    const a = await started("fid-e", await freePort());
    kernels.push(a);
    const target = new Node("fid-f", HOST, port);
    a.connect(target);
    const conn = a.connection(target);
    a.cast(target, "job", { i: 0 });
    a.cast(target, "job", { i: 1 });
    const out = conn.queue().flush();
    assert.deepEqual(out.map((e) => e.data.data), [{ i: 0 }, { i: 1 }]);
    assert.equal(conn.queue().size(), 0);
    a.cast(target, "job", { i: 2 });

    const got = [];
    const b = await started("fid-f", port);
    kernels.push(b);
    b.on("job", (data) => got.push(data.i));
    await until(() => got.length >= 1, 5000, "the cast after the flush");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(got, [2]);
  });

  it("a graceful disconnect waits for them and delivers them", async () => {
    const port = await freePort();
    const a = await started("fid-g", await freePort());
    kernels.push(a);
    const target = new Node("fid-h", HOST, port);
    a.connect(target);
    a.cast(target, "job", { i: 0 });
    a.ping(target, () => {});
    a.connection(target).send("other", { i: 1 });
    assert.equal(a.connection(target).queue().size(), 3, "a cast, a ping and a raw send");
    a.cast(target, "job", { i: 1 });
    a.disconnect(target);
    const got = [];
    const b = await started("fid-h", port);
    kernels.push(b);
    b.on("job", (data) => got.push(data.i));
    await until(() => got.length === 2, 5000, "the held messages");
    assert.deepEqual(got, [0, 1]);
  });

  // A flood toward a node that is gone stays within the link's bounds while
  // they wait here, as what the link itself holds does: `busy` at the
  // high-water mark, the oldest dropped past maxQueueBytes (one `overflow`),
  // all of it in stats(), and `drain` once they are handed to the link.
  it("keep to maxQueueBytes, with busy at the high-water mark and drain once handed over", async () => {
    const port = await freePort();
    const a = await started("fid-i", await freePort());
    kernels.push(a);
    const target = new Node("fid-j", HOST, port);
    a.connect(target, undefined, { maxQueueBytes: 1024 * 1024, highWaterMark: 256 * 1024 });
    const conn = a.connection(target);
    const events = [];
    for (const ev of ["busy", "drain", "overflow"]) conn.on(ev, (limit) => events.push(ev === "overflow" ? ev + " " + limit : ev));
    const pad = "x".repeat(64 * 1024);
    let busyAt = null;
    for (let i = 0; i < 40; i++) {
      a.cast(target, "job", { i, pad });
      if (busyAt === null && events.includes("busy")) busyAt = i;
    }
    assert.equal(busyAt, 3, "busy as the fourth cast of 64 KiB reached 256 KiB");
    assert.deepEqual(events, ["busy", "overflow maxQueueBytes"]);
    const held = conn.queue().size();
    assert.equal(held, 15, "1 MiB holds 15 casts of 64 KiB and their envelopes");
    const stats = a.stats().peers["fid-j"];
    assert.equal(stats.queued, held);
    assert.ok(stats.unwritten <= 1024 * 1024 && stats.unwritten > 15 * 64 * 1024, String(stats.unwritten));
    assert.equal(stats.dropped, 40 - held);

    const got = [];
    const b = await started("fid-j", port);
    kernels.push(b);
    b.on("job", (data) => got.push(data.i));
    await until(() => got.length === held, 10000, "the held casts");
    await until(() => events[events.length - 1] === "drain", 5000, "drain");
    const expected = [];
    for (let i = 40 - held; i < 40; i++) expected.push(i);
    assert.deepEqual(got, expected, "the newest, in order");
    // busy and drain alternate (the link may say busy again for what it
    // was handed), and the episode's overflow was told once.
    const flow = events.filter((e) => e === "busy" || e === "drain");
    flow.forEach((e, j) => assert.equal(e, j % 2 === 0 ? "busy" : "drain", flow.join()));
    assert.equal(events.filter((e) => e.startsWith("overflow")).length, 1);
    assert.equal(a.stats().peers["fid-j"].unwritten, 0);
  });
});
