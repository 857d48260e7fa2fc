// clusterluck-native/metrics: a kernel's stats() on a prom-client registry,
// scraped over HTTP (a node:http server serving registry.metrics()) while
// casts flow between two native kernels: the counters move, the labels are
// the ones documented, the link's end shows as peer_up 0 and a nodedown,
// bad frames as skips, and each scrape reads stats() once.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const http = require("http");

const { createKernel } = require("..");
const metrics = require("../metrics");
const { freePort } = require("./helpers/ports");
const { rawClient } = require("./helpers/raw");

let client = null;
try {
  client = require("prom-client");
} catch (err) {
  client = null;
}

// The text format, as {name: [{labels, value}]}, and the declared types.
function parse(text) {
  const series = {};
  const types = {};
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types[type[1]] = type[2];
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, "a sample line: " + line);
    const labels = {};
    for (const [, k, v] of (m[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    (series[m[1]] = series[m[1]] || []).push({ labels, value: Number(m[3]) });
  }
  return { series, types };
}

function value(scrape, name, labels) {
  const found = (scrape.series[name] || []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, name + " " + JSON.stringify(labels) + " is one series");
  return found.length ? found[0].value : undefined;
}

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => (body += d)).on("end", () => {
        if (res.statusCode !== 200) return reject(new Error("HTTP " + res.statusCode + ": " + body));
        resolve(Object.assign(parse(body), { contentType: res.headers["content-type"] }));
      });
    }).on("error", reject);
  });
}

// Polls `fn` (async) until it gives something truthy, which it returns.
async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await fn();
    if (got) return got;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function started(id, opts) {
  const k = createKernel(id, "127.0.0.1", await freePort());
  const ready = new Promise((resolve) => k.once("_ready", resolve));
  k.start(opts);
  await ready;
  return k;
}

function connected(from, to) {
  return new Promise((resolve) => from.connect(to.self(), resolve));
}

if (!client) {
  const reason = "prom-client is not installed (a dev dependency: run npm install); metrics tests skipped";
  console.log(reason);
  it("metrics on a prom-client registry", { skip: reason }, () => {});
} else {
  describe("metrics scraped over HTTP under load", { timeout: 60000 }, () => {
    let a;
    let b;
    let server;
    let port;
    let registry;
    let reads = 0;
    let flowing = true;

    before(async () => {
      a = await started("metrics-a", { netTickTime: 2000 });
      b = await started("metrics-b", { netTickTime: 2000 });
      // Up once each has answered the other's first ping, a moment after
      // the links connect: the first scrape expects b up.
      const up = (k) => new Promise((resolve) => k.once("nodeup", resolve));
      const ups = Promise.all([up(a), up(b)]);
      await Promise.all([connected(a, b), connected(b, a)]);
      await ups;
      registry = new client.Registry();
      // Counts the reads of stats() the scrapes make.
      const counted = { stats: () => (reads++, a.stats()) };
      metrics.register(counted, { registry });
      server = http.createServer(async (req, res) => {
        res.setHeader("Content-Type", registry.contentType);
        res.end(await registry.metrics());
      });
      port = await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
      // Casts both ways, a batch each turn, until the test stops them.
      const pump = () => {
        if (!flowing) return;
        for (let i = 0; i < 50; i++) {
          a.cast(b.self(), "load", { i, pad: "x".repeat(100) });
          b.cast(a.self(), "load", { i });
        }
        setTimeout(pump, 5);
      };
      pump();
    });

    after(() => {
      flowing = false;
      server.close();
      for (const k of [a, b]) {
        for (const node of [a, b]) k.disconnect(node.self(), true);
        k.stop();
      }
    });

    it("counts what flows, with the documented names, types and labels", async () => {
      const first = await get(port);
      assert.match(first.contentType, /^text\/plain/);
      for (const m of metrics.METRICS) assert.equal(first.types[m.name], m.type, m.name + " is declared " + m.type);
      assert.equal(value(first, "clusterluck_peer_up", { peer: "metrics-b" }), 1);
      const moved = await until(async () => {
        const next = await get(port);
        return value(next, "clusterluck_messages_sent_total", { peer: "metrics-b" }) >
          value(first, "clusterluck_messages_sent_total", { peer: "metrics-b" }) + 500 &&
          value(next, "clusterluck_bytes_received_total", { peer: "metrics-b" }) >
          value(first, "clusterluck_bytes_received_total", { peer: "metrics-b" }) ? next : null;
      }, 20000, "the counters to move");
      // What each series counts is what stats() says.
      const s = a.stats().peers["metrics-b"];
      assert.ok(value(moved, "clusterluck_messages_sent_total", { peer: "metrics-b" }) <= s.sent.messages);
      assert.ok(value(moved, "clusterluck_bytes_sent_total", { peer: "metrics-b" }) > 100 * value(first, "clusterluck_messages_sent_total", { peer: "metrics-b" }));
      assert.ok(value(moved, "clusterluck_messages_received_total", { peer: "metrics-b" }) > 0);
      assert.equal(value(moved, "clusterluck_inbound_links", { peer: "metrics-b" }), 1);
      const heard = value(moved, "clusterluck_last_heard_timestamp_seconds", { peer: "metrics-b" });
      assert.ok(Math.abs(heard - Date.now() / 1000) < 30, "heard lately: " + heard);
      for (const name of ["clusterluck_queued_messages", "clusterluck_unwritten_bytes", "clusterluck_dropped_messages_total"]) {
        assert.ok(value(moved, name, { peer: "metrics-b" }) >= 0, name);
      }
      for (const reason of ["tick timeout", "closed", "stopped"]) {
        assert.equal(value(moved, "clusterluck_nodedown_total", { peer: "metrics-b", reason }), 0, reason);
      }
      for (const type of ["INVALID_JSON", "INVALID_CHECKSUM", "INVALID_MESSAGE", "FRAME_TOO_LARGE"]) {
        assert.equal(value(moved, "clusterluck_skipped_frames_total", { peer: "metrics-b", type }), 0, type);
      }
      // Every sample carries exactly the labels its metric declares.
      for (const m of metrics.METRICS) {
        for (const sample of moved.series[m.name] || []) assert.deepEqual(Object.keys(sample.labels).sort(), m.labels.slice().sort(), m.name);
      }
    });

    it("reads stats() once per scrape", async () => {
      const before = reads;
      await get(port);
      await get(port);
      assert.equal(reads - before, 2);
    });

    it("shows bad frames, round trips, and the end of a link", async () => {
      // Frames from a link that never named its node.
      const raw = await rawClient(a.port());
      raw.write(Buffer.from("not json\f{\"type\":\"message\",\"data\":5}\f"));
      await until(async () => {
        const s = await get(port);
        return value(s, "clusterluck_skipped_frames_total", { peer: "", type: "INVALID_JSON" }) === 1 &&
          value(s, "clusterluck_skipped_frames_total", { peer: "", type: "INVALID_MESSAGE" }) === 1;
      }, 10000, "the skips of an unnamed link");
      raw.destroy();
      // Once the casts stop, the quiet link is pinged: its round trip shows.
      flowing = false;
      const rtt = await until(async () => value(await get(port), "clusterluck_rtt_seconds", { peer: "metrics-b" }), 20000, "a round trip");
      assert.ok(rtt > 0 && rtt < 5, "rtt " + rtt);
      assert.ok(value(await get(port), "clusterluck_keepalive_pings_total", { peer: "metrics-b" }) >= 1);
      // b goes away: the link is down, and a nodedown is counted.
      b.stop();
      const down = await until(async () => {
        const s = await get(port);
        return value(s, "clusterluck_peer_up", { peer: "metrics-b" }) === 0 ? s : null;
      }, 20000, "peer_up to fall");
      const downs = ["tick timeout", "closed"].map((reason) => value(down, "clusterluck_nodedown_total", { peer: "metrics-b", reason }));
      assert.equal(downs[0] + downs[1], 1, "one nodedown: " + downs);
    });

    it("uses the default registry when none is given, one kernel per registry", async () => {
      const handle = metrics.register(a);
      try {
        assert.equal(metrics.register(a), handle, "the same kernel again: the same handle");
        assert.throws(() => metrics.register(b), /another kernel/);
        const text = await client.register.metrics();
        assert.match(text, /^clusterluck_peer_up\{peer="metrics-b"\} [01]$/m);
      } finally {
        handle.unregister();
      }
      assert.doesNotMatch(await client.register.metrics(), /clusterluck_/);
      assert.throws(() => metrics.register({}), TypeError);
    });
  });
}
