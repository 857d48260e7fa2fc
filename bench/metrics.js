"use strict";
// The cost of one Prometheus scrape (row 10d of `npm run bench`, or
// `node bench/metrics.js` alone): a native kernel linked both ways to 8
// others, its stats() registered on a prom-client registry by
// clusterluck-native/metrics, every peer's counters moved by casts; then
// `registry.metrics()` (what an HTTP endpoint serves) timed one scrape at a
// time, and one stats() call beside it. All nine kernels in this process.

const { createKernel } = require("..");
const { freePort } = require("../__test__/helpers/ports");

const PEERS = 8;

function median(values) {
  const s = values.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function startKernel(id) {
  const k = createKernel(id, "127.0.0.1", await freePort());
  const ready = new Promise((resolve) => k.once("_ready", resolve));
  k.start({ cookie: "bench-cookie" });
  await ready;
  return k;
}

function connect(from, to) {
  return new Promise((resolve) => from.connect(to.self(), resolve));
}

// Times `fn` (async) `n` times after `warm` untimed runs: median microseconds.
async function timeEach(fn, n, warm) {
  for (let i = 0; i < warm; i++) await fn();
  const us = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(us);
}

async function measureScrape({ scrapes = 500, casts = 2000 } = {}) {
  let client;
  try {
    client = require("prom-client");
  } catch (err) {
    throw new Error("prom-client is not installed (a dev dependency: run npm install)");
  }
  const metrics = require("../metrics");
  const hub = await startKernel("scraped");
  const peers = [];
  for (let i = 0; i < PEERS; i++) peers.push(await startKernel("peer-" + i));
  await Promise.all(peers.flatMap((p) => [connect(hub, p), connect(p, hub)]));
  // Counters that have moved: casts each way on every link, all received.
  let received = 0;
  const want = 2 * PEERS * casts;
  const all = new Promise((resolve) => {
    const count = () => {
      if (++received === want) resolve();
    };
    hub.on("load", count);
    for (const p of peers) p.on("load", count);
  });
  for (let i = 0; i < casts; i++) {
    for (const p of peers) {
      hub.cast(p.self(), "load", { i });
      p.cast(hub.self(), "load", { i });
    }
  }
  await all;
  const registry = new client.Registry();
  metrics.register(hub, { registry });
  const text = await registry.metrics();
  const series = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
  const scrapeUs = await timeEach(() => registry.metrics(), scrapes, Math.min(50, scrapes));
  const statsUs = await timeEach(async () => hub.stats(), scrapes, Math.min(50, scrapes));
  for (const k of [hub, ...peers]) {
    for (const other of [hub, ...peers]) if (other !== k) k.disconnect(other.self(), true);
    k.stop();
  }
  return [
    { id: "10d", figure: `one Prometheus scrape, ${PEERS} peers (${series} series)`, unit: "us", value: scrapeUs,
      note: `stats() alone ${statsUs.toFixed(1)} us` },
  ];
}

module.exports = { measureScrape };

if (require.main === module) {
  measureScrape().then((rows) => {
    for (const r of rows) console.log(`${r.id}  ${r.figure}: ${r.value.toFixed(1)} ${r.unit} (${r.note})`);
    process.exit(0);
  }, (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 1;
  });
}
