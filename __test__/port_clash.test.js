// Two kernels on one port: the second one's listen fails as a Node server's
// does, with an `error` the app can catch (code EADDRINUSE and the port),
// and, when nothing listens for it, an uncaught exception that ends the
// process naming both, rather than a kernel that never becomes ready. A
// clusterluck ClusterNode started on a taken port ends the same way instead
// of waiting forever (skipped, with the reason, without clusterluck).
"use strict";

const assert = require("node:assert/strict");
const { describe, it } = require("node:test");
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const { createKernel } = require("..");
const { freePort } = require("./helpers/ports");
const clusterluck = require("./helpers/clusterluck");

const ROOT = path.resolve(__dirname, "..");

function started(k) {
  return new Promise((resolve) => k.once("_ready", resolve));
}

describe("a kernel on a port that is taken", { timeout: 120000 }, () => {
  it("emits an error shaped as a Node server's, and never _ready", async () => {
    const port = await freePort();
    const first = createKernel("clash-a", "127.0.0.1", port);
    const ready = started(first);
    first.start();
    await ready;
    const second = createKernel("clash-b", "127.0.0.1", port);
    let readied = false;
    second.on("_ready", () => (readied = true));
    const err = await new Promise((resolve) => {
      second.once("error", resolve);
      second.start();
    });
    assert.ok(err instanceof Error);
    assert.equal(err.code, "EADDRINUSE");
    assert.equal(err.syscall, "listen");
    assert.equal(err.address, "127.0.0.1");
    assert.equal(err.port, port);
    assert.equal(typeof err.errno, "number");
    assert.equal(err.message, "listen EADDRINUSE: address already in use 127.0.0.1:" + port);
    // The first one still serves: what the second sends it arrives.
    const got = await new Promise((resolve) => {
      first.once("hello", resolve);
      second.connect(first.self(), () => second.cast(first.self(), "hello", { from: "b" }));
    });
    assert.deepEqual(got, { from: "b" });
    assert.equal(readied, false);
    second.disconnect(first.self(), true);
    second.stop();
    first.stop();
  });

  it("with no error listener, ends the process with the error, as a Node server does", async () => {
    const port = await freePort();
    const script = `
      const net = require("net");
      const { createKernel } = require(${JSON.stringify(ROOT)});
      const held = net.createServer().listen(${port}, "127.0.0.1", () => {
        createKernel("clash", "127.0.0.1", ${port}).on("_ready", () => console.log("READY")).start();
      });
      setTimeout(() => { console.log("STILL RUNNING"); process.exit(0); }, 20000).unref();
      held.ref();`;
    const res = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30000 });
    assert.notEqual(res.status, 0, res.stdout + res.stderr);
    assert.doesNotMatch(res.stdout, /READY|STILL RUNNING/);
    assert.match(res.stderr, new RegExp("Error: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:" + port));
    assert.match(res.stderr, /code: 'EADDRINUSE'/);
  });

  const reason = clusterluck.available() ? null : clusterluck.skipReason();
  it("a clusterluck ClusterNode on a taken port ends with the error instead of waiting", { skip: reason || false }, async () => {
    const dir = clusterluck.app();
    const port = await freePort();
    const app = path.join(dir, "port_clash_app.js");
    fs.writeFileSync(app, `"use strict";
require("clusterluck-native").useWith(require("clusterluck"));
const cl = require("clusterluck");
const net = require("net");
net.createServer().listen(${port}, "127.0.0.1", () => {
  const node = cl.createCluster("clash-cl", "127.0.0.1", ${port});
  if (process.argv[2] === "catch") {
    node.kernel().on("error", (err) => {
      console.log(JSON.stringify({ caught: err.code, port: err.port }));
      process.exit(3);
    });
  }
  node.load(() => node.start("cookie", "ring", () => console.log("STARTED")));
});
setTimeout(() => { console.log("STILL WAITING"); process.exit(0); }, 20000).unref();
`);
    const run = (args) => spawnSync(process.execPath, [app].concat(args), { cwd: dir, env: clusterluck.cleanEnv(), encoding: "utf8", timeout: 30000 });
    const uncaught = run([]);
    assert.notEqual(uncaught.status, 0, uncaught.stdout + uncaught.stderr);
    assert.doesNotMatch(uncaught.stdout, /STARTED|STILL WAITING/);
    assert.match(uncaught.stderr, new RegExp("listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:" + port));
    const caught = run(["catch"]);
    assert.equal(caught.status, 3, caught.stdout + caught.stderr);
    assert.deepEqual(JSON.parse(caught.stdout.trim().split("\n").pop()), { caught: "EADDRINUSE", port });
  });
});
