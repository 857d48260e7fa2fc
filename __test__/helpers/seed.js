// Locates the original JS kernel (the "seed") beside the project and loads it on top of
// our own support modules in ../seed, plus a clusterluck-style createKernel for it.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");

const SEED_FILE = "kernel.js";
const DEFAULT_DIR = path.resolve(__dirname, "..", "..", "..", "shared", "seeds");
const COPY_PATH = path.resolve(__dirname, "..", "seed", SEED_FILE);
const NODE_IPC_VERSION = "8.10.3";

// The directory searched: CLUSTERLUCK_SEEDS when set (it wins), else ../shared/seeds.
function seedDir() {
  const env = process.env.CLUSTERLUCK_SEEDS;
  return env ? path.resolve(env) : DEFAULT_DIR;
}

function seedPath() {
  const file = path.join(seedDir(), SEED_FILE);
  try {
    return fs.statSync(file).isFile() ? file : null;
  } catch (err) {
    return null;
  }
}

function seedAvailable() {
  return seedPath() !== null;
}

function skipReason() {
  if (process.env.CLUSTERLUCK_SEEDS) {
    return "seed kernel not found in $CLUSTERLUCK_SEEDS (" + SEED_FILE + "); interop tests skipped";
  }
  return "seed kernel not found beside the project (../shared/seeds/" + SEED_FILE + "); interop tests skipped";
}

// Copies the seed next to our modules so its relative requires resolve to them.
// Written through a temporary file and a rename: several processes may load at once.
function copySeed(src) {
  const text = fs.readFileSync(src, "utf8");
  let current = null;
  try {
    current = fs.readFileSync(COPY_PATH, "utf8");
  } catch (err) {
    current = null;
  }
  if (current === text) return;
  const tmp = COPY_PATH + "." + process.pid + ".tmp";
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, COPY_PATH);
}

function checkNodeIpc() {
  const version = require("node-ipc/package.json").version;
  if (version !== NODE_IPC_VERSION) {
    throw new Error("node-ipc " + NODE_IPC_VERSION + " is required, found " + version);
  }
  return require("node-ipc");
}

let loaded = null;

function loadSeed() {
  if (loaded) return loaded;
  const src = seedPath();
  if (src === null) throw new Error(skipReason());
  copySeed(src);
  const ipc = checkNodeIpc();
  const NetKernel = require(COPY_PATH);
  const Node = require("../seed/node");
  const Connection = require("../seed/conn");
  const consts = require("../seed/consts");

  // Same contract as clusterluck's createKernel: one node-ipc instance per kernel.
  function createKernel(id, host = os.hostname(), port = 7022, opts = {}) {
    const o = Object.assign({}, opts);
    for (const key of Object.keys(consts.kernelOpts)) {
      if (o[key] === undefined) o[key] = consts.kernelOpts[key];
    }
    const inst = new ipc.IPC();
    inst.config.networkHost = host || o.networkHost;
    inst.config.networkPort = port || o.networkPort;
    inst.config.retry = o.retry;
    inst.config.maxRetries = o.maxRetries;
    inst.config.tls = o.tls;
    inst.config.silent = o.silent;
    return new NetKernel(inst, id, inst.config.networkHost, inst.config.networkPort);
  }

  loaded = { NetKernel, Node, Connection, createKernel };
  return loaded;
}

module.exports = { seedPath, seedAvailable, skipReason, loadSeed };
