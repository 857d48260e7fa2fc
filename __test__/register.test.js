// clusterluck-native/register and useWith on stand-ins of clusterluck laid
// out as it is (index.js, lib/index.js requiring every file of lib/,
// lib/kernel.js, lib/node.js): what gets replaced, copies at several paths,
// copies loaded before the hook, and the error for one it cannot serve.
// Each case runs in its own process, as an app would.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, before, after } = require("node:test");
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");

// A clusterluck whose kernel has the methods named (all of the real one's by default).
function fakeClusterluck(dir, { name = "clusterluck", version = "1.2.3", methods } = {}) {
  const all = ["start", "stop", "connect", "disconnect", "isConnected", "connection", "ping", "call",
    "callSingleton", "multicall", "multicallSingleton", "reply", "cast", "abcast", "self", "sinks", "sources"];
  const body = (methods || all).map((m) => "  " + m + "() { return \"js\"; }").join("\n");
  fs.mkdirSync(path.join(dir, "lib"), { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version, main: "index.js" }));
  fs.writeFileSync(path.join(dir, "lib", "kernel.js"), `"use strict";
class NetKernel {
  constructor(ipc, id, host, port) { this.js = true; }
${body}
  static _encodeMsg() {} static _decodeMsg() {} static _hmacData() {}
  static _collectStream() {} static _coerceStream() {}
}
module.exports = NetKernel;
`);
  fs.writeFileSync(path.join(dir, "lib", "node.js"), `"use strict";
class Node {
  constructor(id, host, port) { this._id = id; this._host = host; this._port = port; }
  id() { return this._id; } host() { return this._host; } port() { return this._port; }
  toJSON() { return {id: this._id, host: this._host, port: this._port}; }
}
module.exports = Node;
`);
  fs.writeFileSync(path.join(dir, "lib", "index.js"), `"use strict";
const fs = require("fs"), path = require("path");
const lib = {};
for (const f of fs.readdirSync(__dirname)) if (f !== "index.js") lib[path.basename(f, ".js")] = require(path.join(__dirname, f));
module.exports = lib;
`);
  fs.writeFileSync(path.join(dir, "index.js"), `"use strict";
const lib = require("./lib");
function createKernel(id, host, port) { return new lib.kernel({config: {}}, id, host, port); }
module.exports = { NetKernel: lib.kernel, Node: lib.node, createKernel };
`);
}

function runScript(cwd, script, args = []) {
  const res = spawnSync(process.execPath, args.concat(["-e", script]), { cwd, encoding: "utf8", timeout: 30000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

function lastJson(res) {
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout.trim().split("\n").pop());
}

describe("register and useWith", () => {
  let tmp;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "clusterluck-native-register-"));
    fakeClusterluck(path.join(tmp, "node_modules", "clusterluck"));
    fakeClusterluck(path.join(tmp, "vendor", "copy", "node_modules", "clusterluck"), { version: "2.0.1" });
    fakeClusterluck(path.join(tmp, "vendor", "renamed", "node_modules", "notp"), { name: "notp", version: "2.0.1" });
    fakeClusterluck(path.join(tmp, "vendor", "old", "node_modules", "clusterluck"),
      { version: "1.0.0", methods: ["start", "stop", "connect", "call", "cast"] });
    fakeClusterluck(path.join(tmp, "vendor", "future", "node_modules", "clusterluck"), { version: "3.0.0" });
    fs.mkdirSync(path.join(tmp, "node_modules", "clusterluck-native"), { recursive: true });
    fs.rmSync(path.join(tmp, "node_modules", "clusterluck-native"), { recursive: true });
    fs.symlinkSync(ROOT, path.join(tmp, "node_modules", "clusterluck-native"), "dir");
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const REPORT = `
    const Native = require("clusterluck-native").NetKernel;
    const report = (cl, libIndex) => {
      const k = cl.createKernel("a", "127.0.0.1", 0);
      return {
        native: k instanceof Native, exportNative: cl.NetKernel.prototype instanceof Native || cl.NetKernel === Native,
        libNative: libIndex.kernel === cl.NetKernel, instance: k instanceof cl.NetKernel,
        node: k.self() instanceof cl.Node, name: cl.NetKernel.name,
      };
    };
  `;

  it("-r clusterluck-native/register: every copy, at any path, builds native kernels", () => {
    const out = lastJson(runScript(tmp, REPORT + `
      const a = require("clusterluck");
      const b = require("./vendor/copy/node_modules/clusterluck");
      const c = require("./vendor/renamed/node_modules/notp");
      console.log(JSON.stringify([
        report(a, require("clusterluck/lib")),
        report(b, require("./vendor/copy/node_modules/clusterluck/lib")),
        report(c, require("./vendor/renamed/node_modules/notp/lib")),
        require("clusterluck/lib/kernel") === a.NetKernel,
      ]));`, ["-r", "clusterluck-native/register"]));
    const want = { native: true, exportNative: true, libNative: true, instance: true, node: true, name: "NetKernel" };
    assert.deepEqual(out, [want, want, want, true]);
  });

  it("registering after clusterluck was loaded still switches it", () => {
    const out = lastJson(runScript(tmp, REPORT + `
      const a = require("clusterluck");
      const before = a.createKernel("x", "127.0.0.1", 0).js === true;
      require("clusterluck-native/register");
      console.log(JSON.stringify([before, report(a, require("clusterluck/lib"))]));`));
    assert.equal(out[0], true, "a JS kernel before");
    assert.equal(out[1].native, true);
    assert.equal(out[1].libNative, true);
    assert.equal(out[1].node, true);
  });

  it("useWith(require(\"clusterluck\")) switches that copy only, and returns it", () => {
    const out = lastJson(runScript(tmp, REPORT + `
      const a = require("clusterluck");
      const b = require("./vendor/copy/node_modules/clusterluck");
      const same = require("clusterluck-native").useWith(a) === a;
      console.log(JSON.stringify([same, report(a, require("clusterluck/lib")).native,
        b.createKernel("y", "127.0.0.1", 0).js === true]));`));
    assert.deepEqual(out, [true, true, true]);
  });

  it("useWith refuses what is not a loaded clusterluck", () => {
    const out = lastJson(runScript(tmp, `
      const n = require("clusterluck-native");
      const errs = [];
      for (const v of [undefined, {}, require("path")]) {
        try { n.useWith(v); errs.push(null); } catch (e) { errs.push(e.name + ": " + e.message); }
      }
      console.log(JSON.stringify(errs));`));
    assert.equal(out.length, 3);
    for (const e of out) assert.match(String(e), /^TypeError: useWith expects the exports of clusterluck/);
  });

  for (const [which, why] of [["old", /clusterluck@1\.0\.0 .*its NetKernel has no .*callSingleton/],
    ["future", /clusterluck@3\.0\.0 .*version 3\.0\.0 is not known/]]) {
    it("a clusterluck it cannot serve is refused, by name, version and path (" + which + ")", () => {
      const dir = path.join(tmp, "vendor", which, "node_modules", "clusterluck");
      const res = runScript(tmp, `
        try {
          require("./vendor/${which}/node_modules/clusterluck");
          console.log(JSON.stringify({loaded: true}));
        } catch (e) {
          console.log(JSON.stringify({code: e.code, message: e.message}));
        }`, ["-r", "clusterluck-native/register"]);
      const out = lastJson(res);
      assert.equal(out.code, "CLUSTERLUCK_NATIVE_UNSUPPORTED");
      assert.match(out.message, why);
      assert.ok(out.message.includes(dir), "the message names where it is: " + out.message);
    });
  }
});
