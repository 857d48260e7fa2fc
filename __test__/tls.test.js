// TLS with node-ipc's option shape: native <-> native, native <-> JS (seed on
// node-ipc 8.10.3) in both directions with mutual TLS, and the failures that
// must be reported clearly: wrong CA, missing client certificate, expired
// certificate, unreadable or bad PEM files.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const fs = require("fs");
const path = require("path");

const { createKernel, Node } = require("..");
const seed = require("./helpers/seed");
const { spawnPeer } = require("./helpers/cluster");
const { clusterSuite } = require("./helpers/suite");
const { makeCerts, tlsOpts } = require("./helpers/certs");
const { freePort } = require("./helpers/ports");

const certs = makeCerts();
process.on("exit", () => certs.cleanup());
const mutual = () => ({ tls: tlsOpts(certs.node, certs.ca, { requestCert: true }) });

async function kernel(id, tls, cookie = "secret") {
  const k = createKernel(id, "127.0.0.1", await freePort(), { retry: 100 });
  const ready = new Promise((r) => k.once("_ready", r));
  k.start({ cookie, tls });
  await ready;
  return k;
}

function firstEvent(emitter, event, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no " + event + " within " + timeout + " ms")), timeout);
    emitter.once(event, (v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

// A client kernel with `clientTls` dialing a server kernel with `serverTls`:
// resolves with the client's connection error and the server's _skip (if any).
async function failedLink(clientTls, serverTls, { wantSkip = true } = {}) {
  const server = await kernel("srv", serverTls);
  // The client only dials out: it is not started (it may have no key to serve with).
  const client = createKernel("cli", "127.0.0.1", await freePort(), { retry: 100, tls: clientTls });
  const skip = wantSkip ? firstEvent(server, "_skip") : Promise.resolve(null);
  let connected = false;
  const errored = new Promise((resolve, reject) => {
    client.connect(server.self(), () => { connected = true; });
    const conn = client.connection(server.self());
    const t = setTimeout(() => reject(new Error("no connection error within 5 s")), 5000);
    conn.once("error", (e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
  try {
    const [err, skipped] = await Promise.all([errored, skip]);
    return { err, skipped, connected };
  } finally {
    client.disconnect(server.self(), true);
    client.stop();
    server.stop();
  }
}

describe("TLS between native kernels", () => {
  let a;
  let b;

  before(async () => {
    a = await kernel("alpha", mutual().tls);
    b = await kernel("beta", mutual().tls);
    await new Promise((r) => a.connect(b.self(), r));
    await new Promise((r) => b.connect(a.self(), r));
  });

  after(() => {
    a.disconnect(b.self(), true);
    b.disconnect(a.self(), true);
    a.stop();
    b.stop();
  });

  it("pings, calls and streams over mutual TLS", async () => {
    assert.equal(await new Promise((r) => a.ping(b.self(), (e, d) => r(e || d))), "pong");
    b.on("len", (data, st, from) => {
      b._got = (b._got || 0) + (data ? data.length : 0);
      if (st.done) b.reply(from, { n: b._got });
    });
    const src = require("stream").Readable.from([Buffer.alloc(300000, 1), Buffer.alloc(700000, 2)]);
    const res = await new Promise((r) => a.call(b.self(), "len", src, (e, d) => r(e || d)));
    assert.deepEqual(res, { n: 1000000 });
  });
});

describe("TLS failures", () => {
  it("a server certificate from an untrusted CA (wrong CA)", async () => {
    const { err, skipped, connected } = await failedLink(tlsOpts(null, certs.otherCa), tlsOpts(certs.node, certs.ca));
    assert.match(err.message, /TLS handshake with 127\.0\.0\.1:\d+ failed: .*(UnknownIssuer|unknown issuer|invalid peer certificate)/i);
    assert.equal(skipped.type, "TLS_HANDSHAKE");
    assert.equal(connected, false);
  });

  it("a client with no certificate where one is required", async () => {
    const { err, skipped } = await failedLink(tlsOpts(null, certs.ca), mutual().tls);
    assert.match(err.message, /TLS (handshake|link) .*(certificate|Certificate)/);
    assert.equal(skipped.type, "TLS_HANDSHAKE");
    assert.match(skipped.message, /certificate/i);
  });

  it("a client certificate from an untrusted CA", async () => {
    const { skipped } = await failedLink(tlsOpts(certs.rogue, certs.ca), mutual().tls);
    assert.equal(skipped.type, "TLS_HANDSHAKE");
    assert.match(skipped.message, /(UnknownIssuer|unknown issuer|invalid peer certificate)/i);
  });

  it("an expired server certificate", async () => {
    const { err, connected } = await failedLink(tlsOpts(null, certs.ca), tlsOpts(certs.expired, certs.ca));
    assert.match(err.message, /expired/i);
    assert.equal(connected, false);
  });

  it("unreadable files and bad PEM throw at start() and connect(), naming the problem", async () => {
    const k = createKernel("cfg", "127.0.0.1", await freePort());
    const missing = path.join(certs.dir, "missing.key");
    assert.throws(() => k.start({ tls: { private: missing, public: certs.node.cert } }), (e) => {
      assert.match(e.message, /TLS option 'private': cannot read .*missing\.key/);
      return true;
    });
    const junk = path.join(certs.dir, "junk.pem");
    fs.writeFileSync(junk, "this is not PEM\n");
    assert.throws(() => k.start({ tls: { private: certs.node.key, public: junk } }), /TLS option 'public': .*junk\.pem is not usable PEM/);
    assert.throws(() => k.start({ tls: { public: certs.node.cert } }), /TLS option 'private' is required/);
    const c = createKernel("cfg2", "127.0.0.1", await freePort(), { tls: { trustedConnections: [junk] } });
    assert.throws(() => c.connect(new Node("x", "127.0.0.1", 1)), /TLS option 'trustedConnections'/);
    // Unknown options are ignored, not errors.
    const ok = await kernel("ok", Object.assign(tlsOpts(certs.node, certs.ca), { dhparam: "x", ciphers: "y" }));
    ok.stop();
  });
});

if (!seed.seedAvailable()) {
  const reason = seed.skipReason();
  console.log(reason);
  it("TLS interop with the JS kernel", { skip: reason }, () => {});
} else {
  clusterSuite("TLS interop: JS alpha calls native beta (mutual TLS)", "seed", "native", mutual);
  clusterSuite("TLS interop: native alpha calls JS beta (mutual TLS)", "native", "seed", mutual);

  describe("TLS failures against the JS kernel", () => {
    it("a JS client with an untrusted certificate is refused by a native server", async () => {
      const server = await kernel("nsrv", mutual().tls);
      const skip = firstEvent(server, "_skip");
      const js = await spawnPeer("seed", { id: "jcli", cookie: "secret", tls: tlsOpts(certs.rogue, certs.ca), requestTimeout: 1500 });
      try {
        // node-ipc reports "connect" on the TCP connect, before the handshake
        // fails, so its callback may fire; the server is what must refuse.
        js.request("connect", { id: "nsrv", host: "127.0.0.1", port: server.port() }).catch(() => {});
        const s = await skip;
        assert.equal(s.type, "TLS_HANDSHAKE");
      } finally {
        await js.close();
        server.stop();
      }
    });

    it("a native client refuses a JS server whose certificate has expired", async () => {
      const js = await spawnPeer("seed", { id: "jsrv", cookie: "secret", tls: tlsOpts(certs.expired, certs.ca) });
      const client = await kernel("ncli", tlsOpts(certs.node, certs.ca));
      try {
        const node = new Node("jsrv", "127.0.0.1", js.node.port);
        client.connect(node);
        const err = await firstEvent(client.connection(node), "error");
        assert.match(err.message, /expired/i);
      } finally {
        client.disconnect(new Node("jsrv", "127.0.0.1", js.node.port), true);
        client.stop();
        await js.close();
      }
    });
  });
}

// A TLS peer that exits closes its sockets without TLS's close_notify. That is
// an ordinary disconnect, then a reconnect once it is back: not an "error" on
// the Connection, nor a process warning carrying a TLS library's message.
describe("TLS peer that exits", () => {
  const { spawn } = require("child_process");
  const SERVER = `
    const { createKernel, Node } = require(${JSON.stringify(path.resolve(__dirname, ".."))});
    const k = createKernel(process.argv[1], "127.0.0.1", Number(process.argv[2]), { retry: 100 });
    // Replies travel on this node's own link to the client.
    k.once("_ready", () => k.connect(new Node(process.argv[4], "127.0.0.1", Number(process.argv[5])),
      () => process.stdout.write("ready\\n")));
    k.on("ping-me", (data, stream, from) => k.reply(from, "here"));
    k.start({ cookie: "secret", tls: JSON.parse(process.argv[3]) });
    process.stdin.on("data", () => process.exit(0));
  `;

  function server(id, port, client) {
    const child = spawn(process.execPath, ["-e", SERVER, id, String(port), JSON.stringify(mutual().tls),
      client.id(), String(client.port())],
      { stdio: ["pipe", "pipe", "inherit"] });
    const ready = new Promise((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (d) => { if (d.includes("ready")) resolve(); });
      child.once("exit", (code) => reject(new Error("server exited (" + code + ")")));
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    return { child, ready, exited };
  }

  it("is a plain disconnect and reconnect, with no error or warning", async () => {
    const port = await freePort();
    const client = await kernel("tls-cli", mutual().tls);
    const node = new Node("tls-srv", "127.0.0.1", port);
    const warnings = [];
    const onWarning = (w) => warnings.push(w.message);
    process.on("warning", onWarning);
    let srv = server("tls-srv", port, client);
    try {
      await srv.ready;
      await new Promise((resolve) => client.connect(node, resolve));
      const conn = client.connection(node);
      const errors = [];
      conn.on("error", (e) => errors.push(e.message));
      const events = [];
      conn.on("disconnect", () => events.push("disconnect"));
      conn.on("connect", () => events.push("connect"));
      for (let round = 0; round < 2; round++) {
        const down = firstEvent(conn, "disconnect");
        srv.child.stdin.write("exit\n");
        await srv.exited;
        await down;
        // Listened for before the server starts: the link, retrying every
        // 100 ms, can be up before the server says it is ready.
        const up = firstEvent(conn, "connect", 20000);
        srv = server("tls-srv", port, client);
        await srv.ready;
        await up;
        const reply = await new Promise((resolve, reject) =>
          client.callSingleton(node, "ping-me", {}, (e, d) => (e ? reject(e) : resolve(d)), 5000));
        assert.equal(reply, "here");
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(errors, [], "no error on the Connection");
      assert.deepEqual(warnings, [], "no process warning");
      assert.equal(events.filter((e) => e === "disconnect").length >= 2, true);
    } finally {
      process.removeListener("warning", onWarning);
      client.disconnect(node, true);
      client.stop();
      srv.child.kill();
    }
  });
});
