"use strict";
// The observer: a kernel of its own that links to nodes at the kernel level
// only (it joins no gossip ring and registers nothing), asks each node for
// its view, and walks the mesh through the links each answer lists.
//
// The request is a call whose event is the addon's reserved observe event,
// signed with the cookie as every message is. A native or Rust node answers
// it on its network thread, on a connection it opens back to the address the
// request came from, so this kernel listens, on an ephemeral port. A JS
// kernel cannot answer: such a node is shown by what the nodes linking to it
// say of it.

const net = require("net");
const os = require("os");

const NetKernel = require("../kernel");
const Node = require("../node");
const native = require("../native");

const OBSERVE_EVENT = native.observeEvent();
// Ids of observers start with this; views leave them out (an observer's
// request link shows in the stats of every node it asks).
const OBSERVER_PREFIX = "clusterluck-native-top-";
// How long a probe of a node that did not answer may take to connect.
const PROBE_TIMEOUT = 3000;
// How long a node may take to answer before it is probed.
const PROBE_AFTER = 200;

function isObserver(id) {
  return typeof id === "string" && id.startsWith(OBSERVER_PREFIX);
}

// Whether `host` is only reachable from this machine.
function isLoopback(host) {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

// Opens a plain TCP connection to see whether anything listens, and closes it
// at once without writing: a kernel sees a link that carried nothing.
function probe(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ reachable: false, code: "ETIMEDOUT" }), PROBE_TIMEOUT);
    socket.once("connect", () => done({ reachable: true }));
    socket.once("error", (err) => done({ reachable: false, code: err.code || err.message }));
  });
}

class Observer {
  // opts: cookie (or null), timeout (ms an answer may take), listenHost,
  // tls (node-ipc's option shape, or null: plain TCP).
  constructor({ cookie = null, timeout = 2000, listenHost = "127.0.0.1", tls = null } = {}) {
    this._cookie = cookie;
    this._tls = tls;
    this._timeout = timeout;
    this._id = OBSERVER_PREFIX + os.hostname() + "-" + process.pid;
    this._kernel = new NetKernel({ config: { retry: 1000 } }, this._id, listenHost, 0);
    // Links that went down after coming up, per node: a port that is not a
    // kernel closes the connection it was sent a frame on.
    this._closed = new Map();
    // The last error of the link to each node (a failed TLS handshake).
    this._errors = new Map();
    this._kernel.on("error", () => {});
    this._kernel.on("_skip", () => {});
  }

  get id() {
    return this._id;
  }

  get cookie() {
    return this._cookie;
  }

  get timeout() {
    return this._timeout;
  }

  start() {
    return new Promise((resolve, reject) => {
      const onError = (err) => reject(new Error("the observer cannot listen: " + (err && err.message)));
      this._kernel.once("error", onError);
      this._kernel.once("_ready", () => {
        this._kernel.removeListener("error", onError);
        resolve();
      });
      // No keep-alive pings: the nodes asked have no link back to answer
      // them on, and a link not proven up would be pinged every 100 ms.
      const opts = { netTickTime: 0 };
      if (this._cookie !== null) opts.cookie = this._cookie;
      // Links dial with it, and the nodes' answers come in over it.
      if (this._tls !== null) opts.tls = this._tls;
      this._kernel.start(opts);
    });
  }

  // Closes every link at once (nothing waits to be written but requests)
  // and the listener.
  stop() {
    // Calls still waiting end now: their timers would hold the process.
    for (const w of [...this._kernel._waiting.values()]) w.fail(new Error("the observer stopped"));
    for (const conn of [...this._kernel.sinks().values()]) this._kernel.disconnect(conn.node(), true);
    this._kernel.stop();
  }

  _link(addr) {
    const node = new Node(addr.id, addr.host, addr.port);
    const known = this._kernel.connection(node);
    if (known && known.node().host() === addr.host && known.node().port() === addr.port) return node;
    if (known) this._kernel.disconnect(node, true);
    this._kernel.connect(node);
    const conn = this._kernel.connection(node);
    let up = false;
    conn.on("connect", () => { up = true; });
    conn.on("disconnect", () => {
      if (up) this._closed.set(addr.id, (this._closed.get(addr.id) || 0) + 1);
      up = false;
    });
    conn.on("error", (err) => this._errors.set(addr.id, (err && err.message) || String(err)));
    return node;
  }

  // Asks node `addr` ({id, host, port}); resolves {answered: true, answer}
  // or {answered: false, why}: as soon as it answers, the call fails (its
  // link ended), or nothing listens at its address.
  async ask(addr) {
    const node = this._link(addr);
    const closedBefore = this._closed.get(addr.id) || 0;
    this._errors.delete(addr.id);
    const asked = new Promise((resolve) => {
      this._kernel.callSingleton(node, OBSERVE_EVENT, null, (err, answer) => {
        resolve(err ? { err } : { answer });
      }, this._timeout);
    });
    // Whether anything listens there is asked only of a node slow to
    // answer: a node that answers is not dialled twice.
    let timer = null;
    const probed = new Promise((resolve) => {
      timer = setTimeout(() => resolve(probe(addr.host, addr.port)), PROBE_AFTER);
    });
    const refused = probed.then((r) => (r.reachable ? new Promise(() => {}) : { refused: r }));
    const got = await Promise.race([asked, refused]);
    clearTimeout(timer);
    if (got.answer && typeof got.answer === "object" && got.answer.id === addr.id) {
      return { answered: true, answer: got.answer };
    }
    if (got.answer) {
      return { answered: false, why: `it answered as ${JSON.stringify(got.answer.id)}` };
    }
    if (got.err && got.err.type === "INVALID_REPLY") {
      return { answered: false, why: `the node there is ${JSON.stringify(got.err.actual)}` };
    }
    const reach = got.refused || (await probe(addr.host, addr.port));
    if (!reach.reachable) return { answered: false, unreachable: true, why: `cannot connect (${reach.code})` };
    if (this._errors.has(addr.id)) return { answered: false, why: this._errors.get(addr.id) };
    if ((this._closed.get(addr.id) || 0) > closedBefore) {
      const tls = this._tls === null ? " (or one that speaks TLS: --tls-key, --tls-cert)" : "";
      return { answered: false, why: `it closed the connection: not a clusterluck kernel${tls}` };
    }
    return { answered: false, silent: true, why: `no answer in ${this._timeout} ms (a JS kernel, another cookie, or not a kernel)` };
  }

  // Asks the nodes of `seeds` ({id, host, port} each), and every node an
  // answer links to as soon as that answer arrives (a node that does not
  // answer holds up no other). Resolves {time, nodes: Map id -> {id, host,
  // port, answered, why, answer, at}} once every node asked has answered or
  // failed, in the order the nodes were found; `at` is when its answer came.
  walk(seeds) {
    const nodes = new Map();
    return new Promise((resolve) => {
      let pending = 0;
      const visit = (addr) => {
        if (isObserver(addr.id) || nodes.has(addr.id)) return;
        const entry = { id: addr.id, host: addr.host, port: addr.port, answered: false, why: "not asked" };
        nodes.set(addr.id, entry);
        pending += 1;
        this.ask(entry).then((result) => {
          Object.assign(entry, result, { at: Date.now() });
          if (result.answered) for (const link of result.answer.links || []) visit(link);
          pending -= 1;
          if (pending === 0) resolve({ time: Date.now(), nodes });
        });
      };
      for (const s of seeds) visit(s);
      if (pending === 0) resolve({ time: Date.now(), nodes });
    });
  }
}

module.exports = { Observer, OBSERVE_EVENT, OBSERVER_PREFIX, isObserver, isLoopback };
