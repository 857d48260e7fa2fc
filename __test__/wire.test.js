// Golden frames at the JS level: captured JS frames delivered through a native
// kernel, and every frame a native kernel emits accepted by the JS kernel's
// own checks (its _decodeMsg, and JSON.stringify(JSON.parse(x)) === x).
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const fs = require("fs");
const path = require("path");
const stream = require("stream");

const { NetKernel, Node, createKernel } = require("..");
const seed = require("./helpers/seed");
const { freePort } = require("./helpers/ports");
const { rawClient, recordingServer, until, DELIM } = require("./helpers/raw");

const WIRE = path.join(__dirname, "..", "tests", "fixtures", "wire");

function capture(name) {
  const bytes = fs.readFileSync(path.join(WIRE, name));
  const frames = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === DELIM) {
      frames.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  return frames;
}

async function startedKernel(id, cookie) {
  const k = createKernel(id, "127.0.0.1", await freePort(), { retry: 50 });
  const ready = new Promise((r) => k.once("_ready", r));
  k.start({ cookie });
  await ready;
  return k;
}

describe("captured JS frames into a native kernel", () => {
  for (const [file, cookie] of [["js-sender.cookie-secret.frames", "secret"], ["js-sender.no-cookie.frames", null]]) {
    it(file + " is delivered as the JS kernel delivers it", async () => {
      const k = await startedKernel("beta", cookie);
      const got = [];
      const skips = [];
      for (const ev of ["jobs", "buf", "bulk"]) k.on(ev, (data, st, from) => got.push({ ev, data, st, from }));
      k.on("_skip", (e) => skips.push(e));
      const sock = await rawClient(k.port());
      for (const f of capture(file)) sock.write(f);
      await until(() => got.length >= 8, 5000, "8 messages");
      sock.destroy();
      k.stop();
      assert.equal(skips.length, 0);
      assert.deepEqual(got[0].data, { event: "hello", data: { n: 1, s: "é\u0001\"", f: 0.1, big: 1e21, neg: 0 } });
      assert.equal(got[0].from.tag, null);
      assert.ok(got[0].from.node.equals(new Node("alpha", "127.0.0.1", 17301)));
      assert.equal(got[1].data, "text");
      assert.match(got[1].from.tag, /^[0-9a-f]{49}$/);
      assert.ok(Buffer.isBuffer(got[2].data));
      assert.deepEqual([...got[2].data], [0, 1, 255]);
      assert.deepEqual(got.slice(3).map((g) => g.ev), ["bulk", "bulk", "bulk", "bulk", "bulk"]);
      const err = got.find((g) => g.st.error);
      assert.deepEqual(err.st.error, { stack: "Error: boom\n    at sender", message: "boom", code: 7, _error: true });
      assert.equal(err.data, null);
    });
  }

  it("the wrong cookie skips every captured frame", async () => {
    const k = await startedKernel("beta", "other");
    const skips = [];
    let delivered = 0;
    for (const ev of ["jobs", "buf", "bulk"]) k.on(ev, () => delivered++);
    k.on("_skip", (e) => skips.push(e));
    const sock = await rawClient(k.port());
    const frames = capture("js-sender.cookie-secret.frames");
    for (const f of frames) sock.write(f);
    await until(() => skips.length >= frames.length, 5000, "skips");
    sock.destroy();
    k.stop();
    assert.equal(delivered, 0);
    assert.ok(skips.every((e) => e.type === "INVALID_CHECKSUM" && e.message === "Checksum failure."));
  });
});

describe("frames a native kernel emits", () => {
  let server;
  let k;
  const decodeMsg = seed.seedAvailable() ? seed.loadSeed().NetKernel._decodeMsg : NetKernel._decodeMsg;

  before(async () => {
    if (!seed.seedAvailable()) console.log(seed.skipReason() + " (checking with our own _decodeMsg)");
    server = await recordingServer();
    k = await startedKernel("alpha", "secret");
    await new Promise((r) => k.connect(new Node("peer", "127.0.0.1", server.port), r));
  });

  after(() => {
    k.disconnect(new Node("peer", "127.0.0.1", server.port), true);
    k.stop();
    server.close();
  });

  it("are canonical JSON that the JS kernel verifies", async () => {
    const peer = new Node("peer", "127.0.0.1", server.port);
    const values = [
      { b: 1, 2: "two", 1: "one", a: [1e21, 1e-7, -0, 0.1, 123456789012345680000, 5e-324] },
      "lone \ud800 surrogate and \u2028 and \u0000 and \"quotes\" and é",
      { nested: { "10": 1, "9": 2, x: { "4294967295": 1, "4294967294": 2 } } },
      Buffer.from([0, 1, 2, 255]),
      [null, true, false, { "": "" }],
      12.5,
      undefined,
    ];
    for (const v of values) k.cast(peer, "ev\u00e9\u0001", v);
    k.callSingleton(peer, "call", { q: 1 }, () => {}, 10);
    k.ping(peer, () => {}, 10);
    const s = new stream.PassThrough();
    k.cast(peer, "streamed", s);
    s.write(Buffer.from("chunk"));
    s.emit("error", Object.assign(new Error("boom"), { code: 7, detail: { "2": 1, "1": 2 } }));
    k.reply({ tag: "some-tag", node: peer }, { ok: true });
    const expected = values.length + 1 + 1 + 2 + 1;
    await until(() => server.frames.length >= expected, 5000, expected + " frames");
    assert.equal(server.frames.length, expected);
    for (const text of server.frames) {
      const parsed = JSON.parse(text);
      // The last frame of a 4 KiB block carries spaces before its delimiter
      // (README: frames go out in blocks); the JSON before them is canonical.
      const json = text.replace(/ +$/, "");
      assert.equal(JSON.stringify(parsed), json, "canonical: " + text.slice(0, 80));
      const data = decodeMsg("secret", parsed.data);
      assert.ok(!(data instanceof Error), "checksum verifies: " + text.slice(0, 120));
      assert.deepEqual(Object.keys(parsed.data)[0], "checkSum");
    }
    const msgs = server.frames.map((t) => JSON.parse(t).data);
    assert.deepEqual(msgs[0].data, { 1: "one", 2: "two", b: 1, a: [1e21, 1e-7, 0, 0.1, 123456789012345680000, 5e-324] });
    assert.equal(msgs[1].data, values[1]);
    assert.deepEqual(msgs[3].data, { type: "Buffer", data: [0, 1, 2, 255] });
    assert.ok(!("data" in msgs[6]), "undefined data is left out, as JSON.stringify does");
    assert.equal(msgs[0].id, "ev\u00e9\u0001");
    assert.deepEqual(msgs[0].from, { id: "alpha", host: "127.0.0.1", port: k.port() });
    assert.match(msgs[7].tag, /^[0-9a-f]{49,}$/);
    assert.deepEqual(Object.keys(msgs[8]), ["checkSum", "tag", "from", "stream"]);
    const err = msgs[10].stream;
    assert.equal(err.done, true);
    assert.equal(err.error.message, "boom");
    assert.deepEqual(err.error.detail, { 1: 2, 2: 1 });
    assert.equal(msgs[11].id, "some-tag");
    assert.equal(msgs[11].tag, null);
  });
});
