// The NetKernel API, in one process: two native kernels on loopback (and the
// kernel talking to itself), each public method and each error path.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const stream = require("stream");
const crypto = require("crypto");

const { NetKernel, Node, Connection, createKernel, consts } = require("..");
const { freePort } = require("./helpers/ports");

const HOST = "127.0.0.1";

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

async function started(id, opts = {}) {
  const port = await freePort();
  const kernel = createKernel(id, HOST, port, {retry: 100});
  const ready = once(kernel, "_ready");
  kernel.start(Object.assign({cookie: "secret"}, opts));
  await ready;
  return kernel;
}

function connect(a, b) {
  return new Promise((resolve) => a.connect(b.self(), resolve));
}

function bytes(n) {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 255;
  return out;
}

function chunked(buf, size) {
  const parts = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return stream.Readable.from(parts, {objectMode: false});
}

function collect(rstream) {
  return new Promise((resolve, reject) => NetKernel._collectStream(rstream, (e, d) => (e ? reject(e) : resolve(d))));
}

describe("Node", () => {
  it("has getters, setters with type checks, equals, toJSON and from", () => {
    const n = new Node("a", "h", 1);
    assert.equal(n.id(), "a");
    assert.equal(n.id(5), "a");
    assert.equal(n.id("b"), "b");
    assert.equal(n.host(7), "h");
    assert.equal(n.port("9"), 1);
    assert.equal(n.port(9), 9);
    assert.deepEqual(n.toJSON(), {id: "b", host: "h", port: 9});
    assert.deepEqual(n.toJSON(true), {id: "b", host: "h", port: 9});
    assert.ok(n.equals(Node.from({id: "b", host: "h", port: 9})));
    assert.ok(!n.equals(new Node("b", "h", 10)));
  });
});

describe("createKernel and accessors", () => {
  it("applies clusterluck's defaults", () => {
    const k = createKernel("x");
    assert.equal(k.id(), "x");
    assert.equal(k.host(), require("os").hostname());
    assert.equal(k.port(), 7022);
    assert.equal(k.ipc().config.retry, 5000);
    assert.equal(k.ipc().config.maxRetries, Infinity);
    assert.equal(k.ipc().config.tls, null);
    const k2 = createKernel("y", "127.0.0.1", 9000, {retry: 10});
    assert.equal(k2.ipc().config.retry, 10);
    assert.equal(k2.port(), 9000);
    assert.ok(k2.self().equals(new Node("y", "127.0.0.1", 9000)));
  });

  it("getters and setters check types like the JS kernel", () => {
    const k = new NetKernel(null, "a", "localhost", 1);
    assert.equal(k.ipc(), null);
    assert.equal(k.id(3), "a");
    assert.equal(k.id("b"), "b");
    assert.equal(k.self().id(), "b");
    assert.equal(k.host(3), "localhost");
    assert.equal(k.host("127.0.0.1"), "127.0.0.1");
    assert.equal(k.port("2"), 1);
    assert.equal(k.port(2), 2);
    assert.equal(k.self().port(), 2);
    assert.equal(k.cookie(), null);
    assert.equal(k.cookie(5), null);
    assert.equal(k.cookie("c"), "c");
    const src = new Map([["s", 1]]);
    assert.equal(k.sources(), k.sources(7));
    assert.equal(k.sources(src), src);
    const sinks = new Map();
    assert.equal(k.sinks(sinks), sinks);
    const n = new Node("z", "h", 3);
    assert.equal(k.self(n), n);
    assert.equal(k.id(), "z");
    assert.equal(k.host(), "h");
    assert.equal(k.port(), 3);
    const ipc = {config: {}};
    assert.equal(k.ipc(ipc), ipc);
  });

  it("takes retry and maxRetries defaults from ipc.config and start() options", async () => {
    const ipc = {config: {retry: 123, maxRetries: 4, tls: null}};
    const port = await freePort();
    const k = new NetKernel(ipc, "cfg", HOST, port);
    const ready = once(k, "_ready");
    k.start({retry: 50});
    await ready;
    assert.equal(ipc.config.retry, 50);
    assert.equal(ipc.config.maxRetries, 4);
    assert.equal(ipc.config.id, "cfg");
    assert.equal(typeof ipc.server.emit, "function");
    const stopped = once(k, "_stop");
    k.stop();
    await stopped;
  });

  it("makes reply tags as the JS kernel does: a random base and a hex counter, renewed", async () => {
    const k = createKernel("tags", HOST, await freePort());
    const ready = once(k, "_ready");
    k.start({tokenGenInterval: 50});
    await ready;
    try {
      const [a, b] = [k._generateToken(), k._generateToken()];
      assert.match(a, /^[0-9a-f]{48}0$/);
      assert.equal(b, a.slice(0, 48) + "1");
      await new Promise((r) => setTimeout(r, 60));
      const c = k._generateToken();
      assert.match(c, /^[0-9a-f]{48}0$/);
      assert.notEqual(c.slice(0, 48), a.slice(0, 48), "a new base after tokenGenInterval");
    } finally {
      k.stop();
    }
  });

  it("rejects nodes without id(), host() and port()", () => {
    const k = createKernel("a", HOST, 1);
    assert.throws(() => k.connect({id: "b"}), /id\(\), host\(\) and port\(\)/);
    assert.throws(() => k.isConnected(null), TypeError);
    assert.throws(() => k.cast("b", "ev", 1), TypeError);
  });
});

describe("two native kernels", { timeout: 60000 }, () => {
  let a;
  let b;

  before(async () => {
    a = await started("alpha");
    b = await started("beta");
    await connect(a, b);
    await connect(b, a);
  });

  after(() => {
    for (const k of [a, b]) {
      for (const node of [a.self(), b.self()]) k.disconnect(node, true);
      k.stop();
    }
  });

  it("tracks connections", () => {
    assert.ok(a.isConnected(b.self()));
    assert.ok(a.isConnected(a.self()));
    assert.ok(!a.isConnected(new Node("nobody", HOST, 1)));
    const conn = a.connection(b.self());
    assert.ok(conn instanceof Connection);
    assert.equal(a.connection(a.self()), null);
    assert.equal(a.connection(new Node("nobody", HOST, 1)), null);
    assert.equal(a.sinks().get("beta"), conn);
    assert.ok(conn.active());
    assert.ok(!conn.connecting());
    assert.ok(conn.idle());
    assert.equal(conn.queue().size(), 0);
    assert.equal(conn.maxLen(), 1024);
    assert.equal(conn.node().id(), "beta");
    assert.ok(b.sources().size >= 1);
  });

  it("connect to a known node calls back at once", async () => {
    let called = false;
    a.connect(b.self(), () => { called = true; });
    assert.ok(called);
    called = false;
    a.connect(a.self(), () => { called = true; });
    assert.ok(called);
  });

  it("pings", async () => {
    const res = await new Promise((resolve, reject) => a.ping(b.self(), (e, d) => (e ? reject(e) : resolve(d))));
    assert.equal(res, "pong");
    const self = await new Promise((resolve) => a.ping(a.self(), (e, d) => resolve([e, d])));
    assert.deepEqual(self, [null, "pong"]);
    const unknown = await new Promise((resolve) => a.ping(new Node("nobody", HOST, 1), (e) => resolve(e)));
    assert.equal(unknown.message, "Unknown node nobody");
  });

  it("casts every kind of data and emits (data, st, from)", async () => {
    const values = [{x: 1, s: "é\u0001\"", big: 1e21, neg: -0, arr: [1, "2", null]}, "text", 42, true, null, [1, 2], Buffer.from([0, 1, 255])];
    const got = [];
    const handler = (data, st, from) => got.push({data, stream: st, from});
    b.on("cast-kinds", handler);
    for (const v of values) a.cast(b.self(), "cast-kinds", v);
    a.cast(b.self(), "cast-kinds");
    while (got.length < values.length + 1) await new Promise((r) => setTimeout(r, 10));
    b.removeListener("cast-kinds", handler);
    assert.deepEqual(got[0].data, {x: 1, s: "é\u0001\"", big: 1e21, neg: 0, arr: [1, "2", null]});
    assert.equal(got[1].data, "text");
    assert.equal(got[2].data, 42);
    assert.equal(got[3].data, true);
    assert.equal(got[4].data, null);
    assert.deepEqual(got[5].data, [1, 2]);
    assert.ok(Buffer.isBuffer(got[6].data));
    assert.deepEqual([...got[6].data], [0, 1, 255]);
    assert.equal(got[7].data, undefined);
    for (const g of got) {
      assert.deepEqual(g.stream, {done: true});
      assert.equal(g.from.tag, null);
      assert.ok(g.from.node instanceof Node);
      assert.ok(g.from.node.equals(a.self()));
      assert.ok(g.from.socket);
      assert.equal(b.sources().get(g.from.socket.id), g.from.socket);
    }
    assert.equal(got[0].from.socket, got[7].from.socket, "socket object is stable per connection");
  });

  it("callSingleton round trip, with reply()", async () => {
    b.on("double", (data, st, from) => b.reply(from, {n: data.n * 2, tag: typeof from.tag}));
    const res = await new Promise((resolve, reject) =>
      a.callSingleton(b.self(), "double", {n: 21}, (e, d) => (e ? reject(e) : resolve(d))));
    assert.deepEqual(res, {n: 42, tag: "string"});
  });

  it("data that cannot be encoded throws from cast and calls back from callSingleton and call", async () => {
    const circular = {};
    circular.self = circular;
    assert.throws(() => a.cast(b.self(), "x", circular), TypeError);
    const e1 = await new Promise((resolve) => a.callSingleton(b.self(), "x", {n: 1n}, (e) => resolve(e)));
    assert.ok(e1 instanceof TypeError);
    assert.match(e1.message, /BigInt/);
    const e2 = await new Promise((resolve) => a.call(b.self(), "x", circular, (e) => resolve(e)));
    assert.ok(e2 instanceof TypeError);
    assert.match(e2.message, /circular/i);
  });

  it("delivers a payload nested as deep as JSON.stringify can write", async () => {
    const nest = (n) => {
      let v = "core";
      for (let i = 0; i < n; i++) v = i % 2 ? {k: v} : [v];
      return v;
    };
    // The deepest value this process can serialise (the JS kernel's limit too).
    let lo = 100;
    let hi = 9000;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      try {
        JSON.stringify(nest(mid));
        lo = mid;
      } catch (e) {
        hi = mid - 1;
      }
    }
    // Less a margin: the kernel serialises it a few calls deeper in the stack.
    const depth = Math.floor(lo * 0.8);
    assert.ok(depth > 1000, "JSON.stringify reached " + lo + " levels");
    const deep = nest(depth);
    const got = once(b, "deep");
    a.cast(b.self(), "deep", deep);
    const [data] = await got;
    assert.equal(JSON.stringify(data), JSON.stringify(deep));
  });

  it("reply without a tag throws", () => {
    assert.throws(() => a.reply({tag: null, node: b.self()}, 1), /Cannot reply to message with no callback tag\./);
  });

  it("callSingleton times out and reports unknown nodes", async () => {
    const t = await new Promise((resolve) => a.callSingleton(b.self(), "nobody-listens", 1, (e) => resolve(e), 50));
    assert.equal(t.message, "Timeout.");
    const u = await new Promise((resolve) => a.callSingleton(new Node("ghost", HOST, 1), "x", 1, (e) => resolve(e)));
    assert.equal(u.message, "Unknown node ghost");
  });

  it("call streams several MB both ways", async () => {
    b.on("sum", (data, st, from) => {
      if (!b._acc) b._acc = {};
      const key = from.tag;
      if (data) b._acc[key] = Buffer.concat([b._acc[key] || Buffer.alloc(0), data]);
      if (st.done) {
        const all = b._acc[key] || Buffer.alloc(0);
        delete b._acc[key];
        // Answer with a stream: the digest as one chunk, then the bytes back.
        const reply = chunked(Buffer.concat([crypto.createHash("sha256").update(all).digest(), all]), 65536);
        b.reply(from, reply);
      }
    });
    const payload = bytes(3 * 1024 * 1024 + 17);
    const res = await new Promise((resolve, reject) =>
      a.call(b.self(), "sum", chunked(payload, 65536), (e, d) => (e ? reject(e) : resolve(d))));
    assert.ok(Buffer.isBuffer(res));
    assert.equal(res.length, 32 + payload.length);
    assert.deepEqual(res.subarray(0, 32), crypto.createHash("sha256").update(payload).digest());
    assert.ok(res.subarray(32).equals(payload));
  });

  it("call without cb returns the reply stream; errors travel as flattened errors", async () => {
    b.on("fail-stream", (data, st, from) => {
      if (!st.done) return;
      const r = new (stream.PassThrough)();
      b.reply(from, r);
      r.write(Buffer.from("partial"));
      setTimeout(() => r.emit("error", Object.assign(new Error("bad thing"), {code: 7})), 20);
    });
    const src = new (stream.PassThrough)();
    const rstream = a.call(b.self(), "fail-stream", src);
    src.end(Buffer.from("go"));
    const chunks = [];
    const err = await new Promise((resolve) => {
      rstream.on("data", (d) => chunks.push(d));
      rstream.on("error", resolve);
    });
    assert.equal(err.message, "bad thing");
    assert.equal(err.code, 7);
    assert.equal(err._error, true);
    assert.ok(!(err instanceof Error), "the flattened object, as the JS kernel emits it");
    assert.equal(Buffer.concat(chunks).toString(), "partial");
  });

  it("a sender stream error reaches the receiver as stream.error", async () => {
    const seen = [];
    b.on("upload-err", (data, st) => seen.push({data, stream: st}));
    const src = new (stream.PassThrough)();
    a.cast(b.self(), "upload-err", src);
    src.write(Buffer.from("ab"));
    setTimeout(() => src.emit("error", Object.assign(new Error("boom"), {code: 9})), 20);
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen[0].stream.done, false);
    assert.equal(seen[0].stream.stream.length, 48);
    assert.equal(seen[1].stream.done, true);
    assert.equal(seen[1].stream.stream, seen[0].stream.stream);
    assert.equal(seen[1].stream.error.message, "boom");
    assert.equal(seen[1].stream.error.code, 9);
    assert.equal(seen[1].data, null);
  });

  it("call with cb fails past the Buffer limit", async () => {
    b.on("huge", (data, st, from) => {
      if (st.done) b.reply(from, chunked(Buffer.alloc(10000001 + 65536), 1 << 20));
    });
    const err = await new Promise((resolve) => a.call(b.self(), "huge", "x", (e) => resolve(e)));
    assert.equal(err.message, "Buffer limit exceeded.");
  });

  it("call times out and reports unknown nodes", async () => {
    const t = await new Promise((resolve) => a.call(b.self(), "nobody-listens", "x", (e) => resolve(e), 50));
    assert.equal(t.message, "Timeout.");
    const u = await new Promise((resolve) => a.call(new Node("ghost", HOST, 1), "x", "y", (e) => resolve(e)));
    assert.equal(u.message, "Unknown node ghost");
  });

  it("multicall and multicallSingleton gather in order", async () => {
    const echo = (k) => (data, st, from) => {
      if (st.done) k.reply(from, {who: k.id(), data});
    };
    a.on("who", echo(a));
    b.on("who", echo(b));
    const single = await new Promise((resolve, reject) =>
      a.multicallSingleton([b.self(), a.self()], "who", "hi", (e, d) => (e ? reject(e) : resolve(d))));
    assert.deepEqual(single, [{who: "beta", data: "hi"}, {who: "alpha", data: "hi"}]);
    b.on("who-buf", (data, st, from) => {
      if (st.done) b.reply(from, Buffer.from("from-beta"));
    });
    a.on("who-buf", (data, st, from) => {
      if (st.done) a.reply(from, Buffer.from("from-alpha"));
    });
    const multi = await new Promise((resolve, reject) =>
      a.multicall([b.self(), a.self()], "who-buf", "hi", (e, d) => (e ? reject(e) : resolve(d))));
    assert.deepEqual(multi.map(String), ["from-beta", "from-alpha"]);
    const streams = a.multicall([b.self()], "who-buf", "hi");
    assert.equal(streams.length, 1);
    assert.equal(String(await collect(streams[0])), "from-beta");
    const failed = await new Promise((resolve) =>
      a.multicallSingleton([b.self(), new Node("ghost", HOST, 1)], "who", 1, (e) => resolve(e)));
    assert.equal(failed.message, "Unknown node ghost");
  });

  it("abcast reaches every node, including itself", async () => {
    const got = [];
    a.on("ab", (d) => got.push("a:" + d));
    b.on("ab", (d) => got.push("b:" + d));
    a.abcast([a.self(), b.self(), new Node("ghost", HOST, 1)], "ab", 5);
    while (got.length < 2) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got.sort(), ["a:5", "b:5"]);
  });

  it("a reply from the wrong node is INVALID_REPLY", async () => {
    // Forge a reply: beta answers alpha's call to itself under the tag.
    const err = await new Promise((resolve) => {
      a.on("forge", (data, st, from) => b.cast(a.self(), from.tag, "forged"));
      a.callSingleton(a.self(), "forge", 1, (e) => resolve(e));
    });
    assert.equal(err.type, "INVALID_REPLY");
    assert.equal(err.actual, "beta");
    assert.equal(err.expected, "alpha");
  });

  it("Connection.send returns an Error when inactive, and stop() waits for streams", async () => {
    const conn = new Connection(null, b.self(), undefined);
    assert.equal(conn.send("message", {}).message, "Cannot write to inactive connection.");
    assert.equal(conn.maxLen(-1), 1024);
    assert.equal(conn.maxLen(5), 5);
  });
});

describe("cookies", () => {
  it("a wrong cookie is skipped with INVALID_CHECKSUM and nothing is delivered", async () => {
    // No keep-alive pings (a's first goes out as the link comes up, and b
    // would skip it too): only the casts reach b.
    const a = await started("c-alpha", {cookie: "right", netTickTime: 0});
    const b = await started("c-beta", {cookie: "wrong"});
    await connect(a, b);
    let delivered = 0;
    b.on("secret-ev", () => delivered++);
    const skipped = once(b, "_skip");
    a.cast(b.self(), "secret-ev", {x: 1});
    const [err] = await skipped;
    assert.equal(err.type, "INVALID_CHECKSUM");
    assert.equal(err.message, "Checksum failure.");
    assert.match(err.sent, /^[0-9a-f]{64}$/);
    assert.match(err.calculated, /^[0-9a-f]{64}$/);
    assert.notEqual(err.sent, err.calculated);
    // And a kernel without cookie skips nothing but one with a cookie rejects unsigned frames.
    b.cookie("right");
    const ok = once(b, "secret-ev");
    a.cast(b.self(), "secret-ev", {x: 2});
    assert.deepEqual((await ok)[0], {x: 2});
    assert.equal(delivered, 1);
    a.disconnect(b.self(), true);
    a.stop();
    b.stop();
  });
});

describe("static helpers", () => {
  it("_encodeMsg/_decodeMsg/_hmacData match the JS kernel", () => {
    const data = {id: "e", tag: null, from: {id: "a", host: "h", port: 1}, stream: {done: true}, data: 1};
    const enc = NetKernel._encodeMsg("secret", data);
    assert.deepEqual(Object.keys(enc), ["checkSum", "id", "tag", "from", "stream", "data"]);
    assert.equal(enc.checkSum, crypto.createHmac("sha256", "secret").update(JSON.stringify(data)).digest("hex"));
    assert.equal(NetKernel._hmacData("k", "d"), crypto.createHmac("sha256", "k").update("d").digest("hex"));
    assert.deepEqual(NetKernel._decodeMsg("secret", enc), data);
    assert.equal(NetKernel._encodeMsg(null, data), data);
    assert.equal(NetKernel._decodeMsg(null, enc), enc);
    const bad = NetKernel._decodeMsg("other", enc);
    assert.ok(bad instanceof Error);
    assert.equal(bad.type, "INVALID_CHECKSUM");
    assert.equal(bad.sent, enc.checkSum);
  });

  it("_encodeBuffer/_decodeBuffer", () => {
    assert.equal(NetKernel._encodeBuffer(null), null);
    assert.equal(NetKernel._encodeBuffer("x"), "x");
    assert.deepEqual(NetKernel._encodeBuffer(Buffer.from([1, 2])), {type: "Buffer", data: [1, 2]});
    assert.ok(NetKernel._decodeBuffer({type: "Buffer", data: [1, 2]}).equals(Buffer.from([1, 2])));
    assert.deepEqual(NetKernel._decodeBuffer({type: "Buffer", data: "x"}), {type: "Buffer", data: "x"});
    assert.equal(NetKernel._decodeBuffer(3), 3);
  });

  it("_coerceStream and _collectStream", async () => {
    assert.equal(String(await collect(NetKernel._coerceStream("abc"))), "abc");
    assert.equal(String(await collect(NetKernel._coerceStream(Buffer.from("xy")))), "xy");
    const s = new stream.PassThrough();
    assert.equal(NetKernel._coerceStream(s), s);
    assert.throws(() => NetKernel._coerceStream(5), /Input data could not be coerced into a stream\./);
    const big = new stream.PassThrough();
    const p = new Promise((resolve) => NetKernel._collectStream(big, (e) => resolve(e), 4));
    big.end(Buffer.from("12345"));
    assert.equal((await p).message, "Buffer limit exceeded.");
  });

  it("_encodeError flattens errors like clusterluck's errorToObject", () => {
    const e = Object.assign(new Error("m"), {code: 3});
    const out = NetKernel._encodeError(e);
    assert.deepEqual(Object.keys(out), ["stack", "message", "code", "_error"]);
    assert.equal(out.message, "m");
    assert.equal(NetKernel._encodeError(null), null);
    assert.equal(NetKernel._encodeError("plain"), "plain");
  });
});

describe("local routing", () => {
  it("messages to our own node never touch the network", async () => {
    const k = createKernel("solo", HOST, 1); // never started
    const got = [];
    k.on("loc", (data, st, from) => got.push({data, stream: st, from}));
    k.cast(k.self(), "loc", {a: 1});
    assert.deepEqual(got[0].data, {a: 1});
    assert.deepEqual(got[0].stream, {done: true});
    assert.equal(got[0].from.tag, null);
    assert.equal(got[0].from.node, k.self());
    k.on("loc-call", (data, st, from) => k.reply(from, data + 1));
    const r = await new Promise((resolve) => k.callSingleton(k.self(), "loc-call", 1, (e, d) => resolve(d)));
    assert.equal(r, 2);
    k.on("loc-stream", (data, st, from) => {
      if (st.done) k.reply(from, Buffer.from("done"));
    });
    const src = new stream.PassThrough();
    const p = new Promise((resolve) => k.call(k.self(), "loc-stream", src, (e, d) => resolve(d)));
    src.end(Buffer.from("zz"));
    assert.equal(String(await p), "done");
  });
});

describe("consts", () => {
  it("exports clusterluck's connection defaults", () => {
    assert.deepEqual(consts.connDefaults, {maxLen: 1024});
  });
});

describe("lifecycle details", { timeout: 30000 }, () => {
  it("port 0 listens on a port the system picks and reports it", async () => {
    const k = new NetKernel(null, "zero", HOST, 0);
    const ready = once(k, "_ready");
    k.start();
    await ready;
    assert.ok(k.port() > 0);
    assert.equal(k.self().port(), k.port());
    const other = await started("zero-peer", {cookie: undefined});
    await connect(other, k);
    await connect(k, other); // pongs travel on the answering node's own link
    const pong = await new Promise((resolve) => other.ping(k.self(), (e, d) => resolve(e || d), 2000));
    assert.equal(pong, "pong");
    other.disconnect(k.self(), true);
    k.disconnect(other.self(), true);
    other.stop();
    k.stop();
  });

  it("a call that fails early does not time out later with a second error", async () => {
    const k = createKernel("early", HOST, 1);
    const rstream = k.call(new Node("ghost", HOST, 1), "x", "y", undefined, 30);
    const errors = [];
    rstream.on("error", (e) => errors.push(e.message));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(errors, ["Unknown node ghost"]);
  });

  it("a failed call stops listening for its replies", async () => {
    const k = createKernel("leaky", HOST, 1);
    const before = k.eventNames().length;
    const errors = [];
    await new Promise((resolve) => k.call(new Node("ghost", HOST, 1), "x", "y", (e) => resolve(errors.push(e)), 100));
    await new Promise((resolve) => k.call(new Node("ghost", HOST, 1), "x", "y", (e) => resolve(errors.push(e))));
    assert.deepEqual(errors.map((e) => e.message), ["Unknown node ghost", "Unknown node ghost"]);
    assert.equal(k.eventNames().length, before, "no reply listener left behind");
  });

  it("nodes looked up by id need only id(), as in the JS kernel", async () => {
    const k = createKernel("lookup", HOST, 1);
    const stub = {id: () => "stub"};
    assert.equal(k.isConnected(stub), false);
    assert.equal(k.connection(stub), null);
    assert.equal(k.disconnect(stub), k);
    assert.equal(k.cast(stub, "ev", 1), undefined);
    const err = await new Promise((resolve) => k.ping(stub, (e) => resolve(e)));
    assert.equal(err.message, "Unknown node stub");
    assert.throws(() => k.connect(stub), /id\(\), host\(\) and port\(\)/);
  });

  it("stop() right after start() emits no _ready afterwards", async () => {
    const k = createKernel("brief", HOST, await freePort());
    const events = [];
    k.on("_ready", () => events.push("_ready"));
    k.on("_stop", () => events.push("_stop"));
    k.start();
    k.stop();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(events, ["_stop"]);
  });

  it("connect then a graceful disconnect before the link is up still connects, calls back, then closes", async () => {
    const a = await started("eager");
    const port = await freePort();
    const later = new Node("later", HOST, port);
    let b = null;
    try {
      let calledBack = false;
      const connected = new Promise((resolve) => a.connect(later, () => resolve((calledBack = true))));
      const conn = a.connection(later);
      a.disconnect(later);
      assert.equal(a.isConnected(later), false);
      // The node comes up only now; the JS kernel's connection waits for it.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(calledBack, false);
      b = createKernel("later", HOST, port);
      const ready = once(b, "_ready");
      b.start({cookie: "secret"});
      await ready;
      await Promise.race([connected, new Promise((_, reject) => setTimeout(() => reject(new Error("no connect callback")), 5000))]);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(conn.active(), false);
    } finally {
      a.stop();
      if (b) b.stop();
    }
  });

  it("messages sent before a cookie change in the same turn are signed with the cookie they were sent under", async () => {
    const a = await started("rotating", {cookie: "old"});
    const b = await started("checking", {cookie: "old"});
    try {
      // Linked both ways and up, so that a's link carries no keep-alive
      // pings (signed with the cookie of the moment) meanwhile: only casts.
      const up = once(a, "nodeup");
      await connect(a, b);
      await connect(b, a);
      await up;
      const skips = [];
      b.on("_skip", (e) => skips.push(e.type));
      const got = [];
      b.on("rot", (d) => got.push(d));
      // Ten casts (more than are written from this thread), then a new cookie, in one turn.
      for (let i = 0; i < 10; i++) a.cast(b.self(), "rot", i);
      a.cookie("new");
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(skips, []);
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // Sent after the change: signed with the new cookie, which b does not hold.
      const skipped = once(b, "_skip");
      a.cast(b.self(), "rot", 11);
      assert.equal((await skipped)[0].type, "INVALID_CHECKSUM");
      assert.equal(got.length, 10);
    } finally {
      a.disconnect(b.self(), true);
      b.disconnect(a.self(), true);
      a.stop();
      b.stop();
    }
  });

  it("a graceful disconnect from a node that is down closes at once and lets the process exit", async () => {
    const { spawnSync } = require("child_process");
    const port = await freePort();
    const script = `
      const { createKernel, Node } = require(${JSON.stringify(require("path").resolve(__dirname, ".."))});
      const k = createKernel("lonely", "127.0.0.1", 1, { retry: 50 });
      const n = new Node("gone", "127.0.0.1", ${port});
      k.connect(n);
      setTimeout(() => k.disconnect(n), 200);
    `;
    const t0 = Date.now();
    const res = spawnSync(process.execPath, ["-e", script], { timeout: 10000 });
    assert.equal(res.status, 0, String(res.stderr));
    assert.ok(Date.now() - t0 < 5000, "exited by itself");
  });
});
