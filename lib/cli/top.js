"use strict";
// `clusterluck-native top`: a live view of every node and link of a running
// cluster, from any machine that can reach it and has its cookie.
//
//   top --node ID@HOST:PORT [--cookie C] [--interval MS] [--once] [--json]
//
// The observer (lib/top/observer.js) asks the given node, then every node
// it links to; the model (lib/top/model.js) turns the answers into rows and
// rates; render.js lays them out; screen.js draws them.

const { Observer, isLoopback } = require("../top/observer");
const { Model, snapshot, SORTS, SORT_ORDER } = require("../top/model");
const { render } = require("../top/render");
const { Screen } = require("../top/screen");

const USAGE = `usage: clusterluck-native top --node ID@HOST:PORT [--cookie C] [--interval MS] [--once] [--json]
                            [--tls-key FILE --tls-cert FILE [--tls-ca FILE]]

  --node ID@HOST:PORT  a native or Rust node of the cluster to start from
  --cookie C           the cluster's cookie (default: $CLUSTERLUCK_COOKIE, else none)
  --interval MS        refresh every MS milliseconds (default 1000, at least 100)
  --tls-key FILE --tls-cert FILE --tls-ca FILE
                       for a cluster that speaks TLS: this observer's key and certificate
                       (for the nodes' addresses it dials back to it) and the CA to trust
  --once               print one snapshot and exit
  --json               with --once: the snapshot as JSON

Keys: ${SORT_ORDER.map((k) => `${k} sort by ${SORTS[k].name}`).join(", ")}, s the next sort, q quit.
`;

class UsageError extends Error {}

function parseNode(text) {
  const m = /^(.+)@([^@:]+|\[[^\]]+\]):(\d{1,5})$/.exec(text || "");
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`--node wants ID@HOST:PORT, not ${JSON.stringify(text || "")}`);
  return { id: m[1], host: m[2].replace(/^\[(.*)\]$/, "$1"), port };
}

function parseArgs(args) {
  const opts = { node: null, cookie: process.env.CLUSTERLUCK_COOKIE || null, interval: 1000, once: false, json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === "--help" || arg === "-h") opts.help = true;
    else if (arg === "--node") opts.node = parseNode(value());
    else if (arg === "--cookie") opts.cookie = value();
    else if (arg === "--tls-key") opts.tlsKey = value();
    else if (arg === "--tls-cert") opts.tlsCert = value();
    else if (arg === "--tls-ca") opts.tlsCa = value();
    else if (arg === "--interval") {
      const v = value();
      opts.interval = Number(v);
      if (!/^\d+$/.test(v) || opts.interval < 100) throw new UsageError(`--interval wants milliseconds (100 or more), not ${JSON.stringify(v)}`);
    } else if (arg === "--once") opts.once = true;
    else if (arg === "--json") opts.json = true;
    else throw new UsageError(`unknown option ${JSON.stringify(arg)}`);
  }
  if (opts.help) return opts;
  if (opts.node === null) throw new UsageError("--node ID@HOST:PORT is required");
  if (opts.json && !opts.once) throw new UsageError("--json goes with --once");
  opts.tls = null;
  if (opts.tlsKey || opts.tlsCert || opts.tlsCa) {
    if (!opts.tlsKey || !opts.tlsCert) throw new UsageError("--tls-key and --tls-cert go together");
    // node-ipc's option shape, as a kernel's start() takes it.
    opts.tls = { private: opts.tlsKey, public: opts.tlsCert, rejectUnauthorized: true };
    if (opts.tlsCa) opts.tls.trustedConnections = opts.tlsCa;
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`clusterluck-native top: ${message}\n`);
}

// A first walk that must reach the given node: a one-line error otherwise.
async function firstWalk(observer, start) {
  const walk = await observer.walk([start]);
  const first = walk.nodes.get(start.id);
  if (!first.answered) {
    const where = `${start.id}@${start.host}:${start.port}`;
    if (!first.silent) throw new Error(`${where}: ${first.why}`);
    // Reachable and silent. A native or Rust node answers nothing signed
    // with a cookie other than its own; a JS kernel answers nothing at all.
    const cookie = observer.cookie === null ? "no --cookie was given (the node may have one)" : "the --cookie is not the node's";
    throw new Error(`${where}: no answer in ${observer.timeout} ms: ${cookie}, or it is a JS kernel (which cannot answer) or not a clusterluck kernel`);
  }
  return walk;
}

// The given node, then every node of `snap` with an address.
function seedsOf(opts, snap) {
  return [opts.node, ...snap.nodes.filter((n) => n.host !== null && n.id !== opts.node.id)];
}

function stamp(time) {
  return new Date(time).toISOString().slice(11, 19);
}

async function live(observer, opts, walk) {
  const screen = new Screen();
  const model = new Model();
  const target = `${opts.node.id}@${opts.node.host}:${opts.node.port}`;
  let sort = "n";
  let last = null;
  let quit = null;
  const stopped = new Promise((resolve) => { quit = resolve; });
  const draw = () => {
    if (last === null) return;
    const view = { model: last.view, sort, target, interval: opts.interval, clock: stamp(last.time), color: true };
    // One column spare: a line as wide as the terminal would wrap in some.
    screen.draw(render(view, screen.cols - 1, screen.rows));
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = () => quit();
  for (const s of signals) process.on(s, onSignal);
  // Whatever goes wrong, the terminal is given back first, and the error is
  // then one line (run() prints it).
  let fatal = null;
  const onFatal = (err) => {
    fatal = err;
    quit();
  };
  process.on("uncaughtException", onFatal);
  screen.open({
    onKey: (key) => {
      if (key === "q" || key === "Q" || key === "\x03") quit();
      else if (key === "s") sort = SORT_ORDER[(SORT_ORDER.indexOf(sort) + 1) % SORT_ORDER.length];
      else if (SORTS[key]) sort = key;
      else return;
      draw();
    },
    onResize: draw,
  });
  try {
    let snap = snapshot(walk, observer.id);
    for (;;) {
      last = { view: model.update(snap), time: snap.time };
      draw();
      const wait = new Promise((resolve) => setTimeout(resolve, Math.max(0, opts.interval - (Date.now() - snap.time))));
      if ((await Promise.race([stopped.then(() => "quit"), wait])) === "quit") break;
      // Every node known so far is asked again, so one that stops answering
      // stays in view (and the mesh with it) while the others answer.
      const next = await Promise.race([stopped.then(() => null), observer.walk(seedsOf(opts, snap))]);
      if (next === null) break;
      snap = snapshot(next, observer.id);
    }
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
    process.removeListener("uncaughtException", onFatal);
    screen.close();
  }
  if (fatal !== null) throw fatal;
}

async function run(args) {
  let opts;
  try {
    opts = parseArgs(args);
  } catch (err) {
    fail(err.message);
    process.stderr.write("`clusterluck-native top --help` lists the options\n");
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!opts.once && !(process.stdout.isTTY && process.stdin.isTTY)) {
    fail("the live view needs a terminal; use --once (and --json) otherwise");
    return 2;
  }
  const timeout = Math.max(opts.once ? 2000 : 1000, Math.min(opts.interval, 5000));
  const listenHost = isLoopback(opts.node.host) ? "127.0.0.1" : "0.0.0.0";
  const observer = new Observer({ cookie: opts.cookie, timeout, listenHost, tls: opts.tls });
  try {
    await observer.start();
    const walk = await firstWalk(observer, opts.node);
    if (opts.once) {
      const snap = snapshot(walk, observer.id);
      if (opts.json) {
        process.stdout.write(JSON.stringify(snap, null, 2) + "\n");
      } else {
        // Two walks an interval apart, for the rates.
        const model = new Model();
        model.update(snap);
        await new Promise((resolve) => setTimeout(resolve, opts.interval));
        const again = snapshot(await observer.walk(seedsOf(opts, snap)), observer.id);
        const target = `${opts.node.id}@${opts.node.host}:${opts.node.port}`;
        const view = { model: model.update(again), sort: "n", target, interval: opts.interval, clock: stamp(again.time), color: false };
        const lines = render(view, (process.stdout.columns || 80) - 1, Infinity);
        process.stdout.write(lines.join("\n") + "\n");
      }
      return 0;
    }
    await live(observer, opts, walk);
    return 0;
  } catch (err) {
    fail(err && err.message ? err.message : String(err));
    return 1;
  } finally {
    observer.stop();
  }
}

module.exports = { run, parseArgs, parseNode };
