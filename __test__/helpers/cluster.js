// Parent side of the peer harness: forks peer.js processes, starts a kernel in each and
// exposes a promise-based request(cmd, args) with a timeout on every call. Children are
// killed when this process exits, and they exit by themselves if it dies.
"use strict";

const { fork } = require("child_process");
const EventEmitter = require("events");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { freePort } = require("./ports");
const { rpc } = require("./rpc");

const PEER = path.resolve(__dirname, "peer.js");
const HOST = "127.0.0.1";
const REQUEST_TIMEOUT = 20000;
const CLOSE_TIMEOUT = 3000;
const OUTPUT_LIMIT = 64 * 1024;

const live = new Set();
let cleanupHooked = false;
let counter = 0;

function killAll() {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch (err) {
      // already gone
    }
  }
  live.clear();
}

function hookCleanup() {
  if (cleanupHooked) return;
  cleanupHooked = true;
  process.on("exit", killAll);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]]) {
    process.once(signal, () => {
      killAll();
      process.exit(code);
    });
  }
}

function peerError(info) {
  const err = new Error(info && info.message);
  for (const key of Object.keys(info || {})) {
    if (key !== "message") err[key] = info[key];
  }
  err.fromPeer = true;
  return err;
}

// Resolves once fn() returns a truthy value (polled), rejects after `timeout` ms.
async function waitFor(fn, { timeout = 10000, interval = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// Forks a peer running `impl` ("seed" | "native") and starts its kernel.
// opts: id, port (default: a free one), cookie, requestTimeout, netns and host (run
// in that network namespace, listening on that address), and any other kernel
// start options (retry, maxRetries, tokenGenInterval, ...), passed through.
async function spawnPeer(impl, opts = {}) {
  hookCleanup();
  const { id: givenId, port: givenPort, requestTimeout = REQUEST_TIMEOUT, netns, host: givenHost, ...startOpts } = opts;
  const host = givenHost || HOST;
  const id = givenId || impl + "-" + process.pid + "-" + ++counter;
  const port = givenPort || (await freePort());

  // A private working directory: node-ipc's server unlinks a file named like the host
  // ("127.0.0.1") in the current directory before listening.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "clpeer-"));
  const forkOpts = { cwd, stdio: ["ignore", "pipe", "pipe", "ipc"] };
  if (netns) {
    // `ip netns exec` execs node in the namespace: same process, same channel.
    forkOpts.execPath = "ip";
    forkOpts.execArgv = ["netns", "exec", netns, process.execPath];
  }
  const child = fork(PEER, [impl], forkOpts);
  live.add(child);
  child.unref();
  if (child.channel) child.channel.unref();

  const notes = new EventEmitter();
  const channel = rpc(child, { label: "peer " + id, timeout: requestTimeout, toError: peerError });
  const events = [];
  let output = "";
  let fatal = null;
  let exitInfo = null;

  const capture = (stream, echo) => {
    stream.setEncoding("utf8");
    stream.on("data", (text) => {
      output = (output + text).slice(-OUTPUT_LIMIT);
      if (echo) process.stderr.write(text.replace(/^(?=.)/gm, "[" + id + "] "));
    });
    stream.unref && stream.unref();
  };
  capture(child.stdout, false);
  capture(child.stderr, true);

  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = signal ? "signal " + signal : "code " + code;
      live.delete(child);
      channel.close("peer " + id + " exited (" + exitInfo + ")" + (fatal ? ": " + fatal : ""));
      fs.rm(cwd, { recursive: true, force: true }, () => resolve(exitInfo));
    });
  });

  child.on("message", (msg) => {
    if (channel.settle(msg)) return;
    if (msg && msg.event) {
      if (msg.event === "loadError" || msg.event === "uncaught") fatal = msg.message;
      events.push(msg);
      notes.emit("note", msg);
    }
  });

  function request(cmd, args = {}, { timeout = requestTimeout } = {}) {
    return channel.request(cmd, args, timeout);
  }


  // Resolves with the first pushed notification (past or future) matching `pred`.
  function waitForEvent(pred, timeout = 10000) {
    const seen = events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onNote = (msg) => {
        if (!pred(msg)) return;
        clearTimeout(timer);
        notes.removeListener("note", onNote);
        resolve(msg);
      };
      const timer = setTimeout(() => {
        notes.removeListener("note", onNote);
        reject(new Error("peer " + id + ": no matching event within " + timeout + " ms"));
      }, timeout);
      notes.on("note", onNote);
    });
  }

  function kill(signal = "SIGKILL") {
    if (!exitInfo) child.kill(signal);
    return exited;
  }

  // Asks the peer to exit; kills it if it does not within a few seconds.
  async function close() {
    if (exitInfo) return exited;
    await request("exit", {}, { timeout: CLOSE_TIMEOUT }).catch(() => {});
    let timer = null;
    const slow = new Promise((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT, "slow");
    });
    if ((await Promise.race([exited, slow])) === "slow") child.kill("SIGKILL");
    clearTimeout(timer);
    return exited;
  }

  const peer = {
    impl,
    id,
    node: { id, host, port },
    child,
    events,
    request,
    waitForEvent,
    kill,
    close,
    output: () => output
  };

  try {
    await request("start", { id, host, port, opts: startOpts });
  } catch (err) {
    await kill();
    const tail = output.trim() ? "\n" + output.trim().split("\n").slice(-10).join("\n") : "";
    throw new Error("could not start " + impl + " peer " + id + ": " + err.message + tail);
  }
  return peer;
}

module.exports = { spawnPeer, waitFor };
