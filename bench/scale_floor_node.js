"use strict";
// One node of the scale bench's floor (scale.js --kinds floor): no kernel,
// a Node process moving the same bytes a node of the mesh moves. It opens a
// TCP connection to every peer and, under load, writes on each the frame of
// a signed cast (built once, so no signing, no JSON), PER_TURN of them per
// turn of the event loop, and counts the delimiters it reads. What a cast
// costs here is what the processes, their event loops and loopback TCP cost
// the cluster before any kernel does its work; how that grows from 4 nodes
// to 32 on the same cores is the part of a kernel's growth no kernel can take
// away. Driven over the fork channel with scale_node.js's commands.

const crypto = require("crypto");
const net = require("net");
const common = require("./common");

const DELIMITER = 0x0c;
// A peer that stops reading costs this much memory at most: past it, a
// turn's frames for that peer are not written (and not counted anywhere).
const MAX_BUFFERED = 1 << 20;

let server = null;
let myId = null;
let myPort = 0;
let frame = null;
let outbound = [];
const inbound = new Set();
let meshWaiter = null;
let meshStart = 0;
let peerCount = 0;
let received = 0;

// The frame a kernel writes for `cast(peer, "n", data)` with a cookie: the
// same members, in the same order, so the same length.
function castFrame(cookie) {
  const data = {
    id: "n",
    tag: null,
    from: { id: myId, host: common.HOST, port: myPort },
    stream: { done: true },
    data: { a: 1, b: "hello", c: [1, 2, 3] },
  };
  const sum = crypto.createHmac("sha256", cookie).update(JSON.stringify(data)).digest("hex");
  return JSON.stringify({ type: "message", data: Object.assign({ checkSum: sum }, data) }) + "\f";
}

function countFrames(chunk) {
  let n = 0;
  let at = chunk.indexOf(DELIMITER);
  while (at !== -1) {
    n += 1;
    at = chunk.indexOf(DELIMITER, at + 1);
  }
  received += n;
}

function checkMesh() {
  if (meshWaiter && inbound.size >= peerCount && outbound.length >= peerCount &&
      outbound.every((s) => s.readyState === "open")) {
    const done = meshWaiter;
    meshWaiter = null;
    done(Date.now() - meshStart);
  }
}

let batch = null; // a turn's frames for one peer, built once
const loadStop = common.loadCommands((perTurn) => {
  if (batch === null) batch = frame.repeat(perTurn);
  for (const s of outbound) {
    if (s.writableLength < MAX_BUFFERED) s.write(batch);
  }
}, () => received);

common.serve({
  start(args) {
    myId = args.id;
    myPort = args.port;
    frame = castFrame(args.cookie);
    return new Promise((resolve, reject) => {
      server = net.createServer((socket) => {
        socket.setNoDelay(true);
        inbound.add(socket);
        socket.on("data", countFrames);
        socket.on("error", () => {});
        socket.on("close", () => inbound.delete(socket));
        checkMesh();
      });
      server.once("error", reject);
      server.listen(args.port, common.HOST, () => resolve({ pid: process.pid }));
    });
  },

  mesh(args) {
    meshStart = Date.now();
    peerCount = args.peers.length;
    return new Promise((resolve) => {
      meshWaiter = resolve;
      outbound = args.peers.map((p) => {
        const s = net.connect(p.port, p.host, checkMesh);
        s.setNoDelay(true);
        s.on("error", () => {});
        return s;
      });
      checkMesh();
    });
  },

  load: loadStop.load,
  stop: loadStop.stop,
}, () => {
  loadStop.halt();
  for (const s of outbound) s.destroy();
  for (const s of inbound) s.destroy();
  if (server) server.close();
});
