"use strict";
// One node of the scale bench (scale.js): a kernel in its own process, the
// JS one (the seed) or this package's. scale.js drives it over the fork
// channel:
//   start {impl, id, port, cookie}   listen; replies once ready
//   mesh  {peers: [{id, host, port}]} connect to every peer and cast it a
//                                     `hello`; replies once a hello came from
//                                     every peer, with the ms that took
//   load  {perTurn, from, to}         cast `n` to every peer, perTurn per peer
//                                     per turn of the event loop, until `stop`;
//                                     count the casts received between the
//                                     wall-clock times `from` and `to` (ms)
//   stop                              stop casting; replies with that count,
//                                     the CPU time it used in the window and
//                                     the window's length as it happened
//   exit                              (common.serve)

const common = require("./common");

let lib = null;
let kernel = null;
let peers = [];
let myId = null;
const seen = new Set();
let meshWaiter = null;
let meshStart = 0;
let received = 0;

function checkMesh() {
  if (meshWaiter && seen.size >= peers.length) {
    const done = meshWaiter;
    meshWaiter = null;
    done(Date.now() - meshStart);
  }
}

const DATA = { a: 1, b: "hello", c: [1, 2, 3] };
const loadStop = common.loadCommands((perTurn) => {
  for (const p of peers) {
    for (let i = 0; i < perTurn; i++) kernel.cast(p, "n", DATA);
  }
}, () => received);

common.serve({
  async start(args) {
    lib = common.loadImpl(args.impl);
    myId = args.id;
    kernel = await common.startKernel(lib, args.id, args.port, args.cookie);
    kernel.on("hello", (data) => {
      seen.add(data.id);
      checkMesh();
    });
    kernel.on("n", () => {
      received += 1;
    });
    return { pid: process.pid };
  },

  mesh(args) {
    meshStart = Date.now();
    peers = args.peers.map((p) => new lib.Node(p.id, p.host, p.port));
    return new Promise((resolve) => {
      meshWaiter = resolve;
      for (const p of peers) {
        kernel.connect(p, () => kernel.cast(p, "hello", { id: myId }));
      }
      checkMesh();
    });
  },

  load: loadStop.load,
  stop: loadStop.stop,
}, () => {
  loadStop.halt();
  if (kernel) kernel.stop();
});
