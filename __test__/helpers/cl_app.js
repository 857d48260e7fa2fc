// A clusterluck app, written as any app on clusterluck is: createCluster, a
// GenServer, a DLM and a DSem server. It knows nothing of this package; the
// test runs it with `-r clusterluck-native/register`, with the explicit
// useWith form (CL_APP_MODE=useWith), or as it is (plain JS kernels).
//
// It is copied into the scratch app directory (so `require("clusterluck")`
// finds the app's copy) and driven by JSON lines on stdin:
// {seq, cmd, args} in, {seq, ok, result | error} out.
"use strict";

if (process.env.CL_APP_MODE === "useWith") require("clusterluck-native").useWith(require("clusterluck"));
const cl = require("clusterluck");
const readline = require("readline");

const id = process.env.CL_APP_ID;
const port = Number(process.env.CL_APP_PORT);
const HOST = "127.0.0.1";

const cluster = cl.createCluster(id, HOST, port, {
  kernelOpts: { retry: 100 },
  gossipOpts: { interval: 100, flushInterval: 1000 },
});
const server = cl.createGenServer(cluster);
const dlm = cl.createDLM(cluster);
const dsm = cl.createDSM(cluster);
const notes = [];
server.on("echo", (data, from) => server.reply(from, { echo: data, by: id }));
server.on("note", (data) => notes.push(data));

function node(n) {
  return new cl.Node(n.id, HOST, n.port);
}

function kernelInfo() {
  const kernel = cluster.kernel();
  // Loading the package does not switch anything by itself: only register or useWith do.
  const NativeKernel = require("clusterluck-native").NetKernel;
  return {
    native: kernel instanceof NativeKernel,
    addon: typeof kernel._native === "object" && kernel._native !== null,
    sameClass: kernel.constructor === cl.NetKernel && cl.NetKernel === require("clusterluck/lib/kernel"),
    instanceOfExport: kernel instanceof cl.NetKernel,
    selfIsClNode: kernel.self() instanceof cl.Node,
  };
}

function cb(resolve, reject) {
  return (err, data) => (err ? reject(err) : resolve(data === undefined ? null : data));
}

const commands = {
  info: () => kernelInfo(),
  meet: (n) => {
    cluster.gossip().meet(node(n));
    return null;
  },
  ring: () => cluster.gossip().ring().nodes().map((n) => n.id()).sort(),
  call: ({ to, data }) => new Promise((resolve, reject) =>
    server.call({ node: node(to), id: server.id() }, "echo", data, cb(resolve, reject), 5000)),
  cast: ({ to, data }) => {
    server.cast({ node: node(to), id: server.id() }, "note", data);
    return null;
  },
  notes: () => notes.slice(),
  wlock: ({ lock, holder, retries }) => new Promise((resolve, reject) =>
    dlm.wlock(lock, holder, 10000, cb(resolve, reject), 5000, retries)),
  wunlock: ({ lock, holder }) => new Promise((resolve, reject) =>
    dlm.wunlock(lock, holder, cb(resolve, reject), 5000)),
  create: ({ sem, n }) => new Promise((resolve, reject) => dsm.create(sem, n, cb(resolve, reject), 5000)),
  // DSMServer#post and #read of this clusterluck run JSON.parse on the reply
  // object (fixed in later clusterluck), so they fail on any kernel: the app
  // sends the same requests to the semaphore's owner as they do.
  post: ({ sem, holder }) => new Promise((resolve, reject) =>
    dsm.call({ node: cluster.gossip().find(sem)[0], id: dsm.id() }, "post",
      { id: sem, holder, timeout: 10000 }, cb(resolve, reject), 5000)),
  read: ({ sem }) => new Promise((resolve, reject) =>
    dsm.call({ node: cluster.gossip().find(sem)[0], id: dsm.id() }, "read", { id: sem }, cb(resolve, reject), 5000)),
  stop: () => {
    cluster.stop(true);
    setTimeout(() => process.exit(0), 100);
    return null;
  },
};

function reply(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

server.start("app_server");
dlm.start("app_dlm");
dsm.start("app_dsm");
cluster.start("app cookie", "app_ring", () => {
  reply({ seq: 0, ok: true, result: "ready" });
  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const { seq, cmd, args } = JSON.parse(line);
    Promise.resolve()
      .then(() => commands[cmd](args || {}))
      .then((result) => reply({ seq, ok: true, result }),
        (err) => reply({ seq, ok: false, error: String(err && err.message ? err.message : err) }));
  });
});
