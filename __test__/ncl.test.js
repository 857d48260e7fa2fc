// clusterluck's own CLI (`ncl`, bin/cli.js of clusterluck, with vorpal and
// yargs from this package's dev dependencies) against a clusterluck
// ClusterNode on this package's kernel and one on clusterluck's own: every
// command gets the same answer from both. The CLI names itself by its id
// alone (`from: {id}`), which the JS kernel takes, so the native one must.
// Skipped, with the reason, when clusterluck is not beside the project.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const clusterluck = require("./helpers/clusterluck");
const { freePort } = require("./helpers/ports");
const { untilOk } = require("./helpers/raw");

const COOKIE = "ncl cookie";
const HOST = "127.0.0.1";

function cliPath() {
  return path.join(clusterluck.sourceDir(), "bin", "cli.js");
}

// Why the test cannot run here, or null.
function skipReason() {
  if (!clusterluck.available()) return clusterluck.skipReason();
  if (!fs.existsSync(cliPath())) return "clusterluck's bin/cli.js not found; ncl tests skipped";
  for (const dep of ["vorpal", "yargs"]) {
    try {
      require.resolve(dep);
    } catch (err) {
      return dep + " is not installed (a dev dependency: run npm install); ncl tests skipped";
    }
  }
  return null;
}

// A ClusterNode in a process of its own, in the scratch clusterluck app.
function startNode(dir, id, port, mode) {
  const child = spawn(process.execPath, ["ncl_node.js"], {
    cwd: dir,
    env: clusterluck.cleanEnv({ NCL_NODE_ID: id, NCL_NODE_PORT: String(port), NCL_NODE_MODE: mode, NCL_NODE_COOKIE: COOKIE }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const node = { id, port, mode, child, stderr: () => stderr };
  node.exited = new Promise((resolve) => child.once("exit", resolve));
  node.ready = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(id + " did not start: " + stderr)), 30000);
    child.once("exit", (code) => reject(new Error(id + " exited (" + code + "): " + stderr)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.ready) {
          clearTimeout(t);
          resolve(msg);
        }
      } catch (e) {
        // not ours
      }
    });
  });
  return node;
}

// One run of the CLI, as a user runs it: `ncl -I id -H host -p port -a cookie "<command>"`.
// Its dependencies are this package's dev dependencies (clusterluck's own are not installed).
function ncl(node, command) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), "-I", node.id, "-H", HOST, "-p", String(node.port), "-a", COOKIE, command], {
      env: Object.assign(clusterluck.cleanEnv(), { NODE_PATH: path.join(clusterluck.ROOT, "node_modules") }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
    // The CLI hangs on an unanswered request: that is the failure to report.
    const t = setTimeout(() => child.kill("SIGKILL"), 15000);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      if (code !== 0) {
        return reject(new Error("ncl " + command + " against " + node.mode + " node: " +
          (signal ? "no answer (killed)" : "exit " + code) + "\nstdout: " + out + "\nstderr: " + err + "\nnode stderr: " + node.stderr()));
      }
      resolve(answer(out, node));
    });
  });
}

// What the CLI printed after "Connected to ...", on one line, with the
// node's id and port made generic and stack frames (paths) left out.
function answer(out, node) {
  const lines = out.split("\n");
  const at = lines.findIndex((l) => l.startsWith("Connected to "));
  return lines.slice(at + 1)
    .filter((l) => !/^\s+'?\s*at /.test(l) && l.trim() !== "")
    .join(" ")
    // util.inspect wraps by length, and the ids differ in length.
    .replace(/\s+/g, " ")
    // Ring positions are hashes of the node's id.
    .replace(/key: '[A-Za-z0-9+\/=]+'/g, "key: <KEY>")
    .split(node.id).join("<ID>")
    .split(String(node.port)).join("<PORT>");
}


const reason = skipReason();
if (reason) {
  console.log(reason);
  it("ncl against native and JS nodes", { skip: reason }, () => {});
} else {
  describe("clusterluck's ncl against a native node and a JS node", { timeout: 240000 }, () => {
    let native;
    let js;

    before(async () => {
      const dir = clusterluck.app();
      fs.copyFileSync(path.join(__dirname, "helpers", "ncl_node.js"), path.join(dir, "ncl_node.js"));
      native = startNode(dir, "ncl-native", await freePort(), "native");
      js = startNode(dir, "ncl-js", await freePort(), "js");
      const [n, j] = await Promise.all([native.ready, js.ready]);
      assert.equal(n.native, true, "the native node runs on this package's kernel");
      assert.equal(j.native, false, "the JS node runs on clusterluck's own kernel");
    });

    after(async () => {
      for (const node of [native, js]) {
        if (!node || node.child.exitCode !== null) continue;
        node.child.stdin.end();
        const t = setTimeout(() => node.child.kill("SIGKILL"), 3000);
        await node.exited;
        clearTimeout(t);
      }
    });

    // Both nodes at once: the same command, the same answer (ids and ports aside).
    async function both(command) {
      const [n, j] = await Promise.all([ncl(native, command), ncl(js, command)]);
      assert.equal(n, j, "ncl " + command + ": the native node answers as the JS node does");
      return n;
    }

    it("ping, has, get", async () => {
      assert.equal(await both("ping"), "{ ok: true, data: 'pong' }");
      assert.equal(await both("has ncl-x"), "{ ok: true, data: false }");
      // Each node is asked about itself.
      const [hasN, hasJ] = await Promise.all([ncl(native, "has ncl-native"), ncl(js, "has ncl-js")]);
      assert.equal(hasN, "{ ok: true, data: true }");
      assert.equal(hasJ, hasN);
      const [getN, getJ] = await Promise.all([ncl(native, "get ncl-native"), ncl(js, "get ncl-js")]);
      assert.equal(getN, "{ ok: true, data: { id: '<ID>', host: '127.0.0.1', port: <PORT> } }");
      assert.equal(getJ, getN);
      const missing = await both("get ncl-x");
      assert.match(missing, /ok: false/);
      assert.match(missing, /'ncl-x' is not defined in this ring\./);
    });

    it("nodes, inspect, join", async () => {
      assert.equal(await both("nodes"), "{ ok: true, data: [ { id: '<ID>', host: '127.0.0.1', port: <PORT> } ] }");
      const ring = await both("inspect");
      assert.match(ring, /rfactor: 3/);
      assert.equal(ring.split("value: { id: '<ID>', host: '127.0.0.1', port: <PORT> }").length - 1, 3, ring);
      const joined = await both("join another-ring");
      assert.match(joined, /ok: false/);
      assert.match(joined, /Node already belongs to ring 'ncl-ring'/);
    });

    it("meet makes one ring of both; leave takes the node out", async () => {
      // The native node meets the JS node: both come to see both.
      assert.equal(await ncl(native, "meet ncl-js " + HOST + " " + js.port), "{ ok: true }");
      const sawBoth = (node) => untilOk(async () => {
        const out = await ncl(node, "nodes");
        const other = node === native ? "ncl-js" : "ncl-native";
        return { ok: out.includes("id: '<ID>'") && out.includes("id: '" + other + "'"), value: out };
      }, 30000, node.mode + " node's ring to hold both");
      await Promise.all([sawBoth(native), sawBoth(js)]);
      assert.equal(await ncl(native, "leave"), "{ ok: true }");
      await untilOk(async () => {
        const out = await ncl(js, "nodes");
        return { ok: !out.includes("ncl-native"), value: out };
      }, 30000, "the JS node's ring to drop the native node");
      assert.equal(await ncl(native, "ping"), "{ ok: true, data: 'pong' }", "the native node still answers");
    });
  });
}
