// An unmodified clusterluck app switched with one line: two processes run it
// with `node -r clusterluck-native/register` and with
// `require("clusterluck-native").useWith(require("clusterluck"))`, a third
// runs it as it is (JS kernel, node-ipc 8.10.3). They form one cluster by
// gossip, then call and cast through GenServers, take a DLM write lock and
// post to a DSem semaphore across the mix.
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

class App {
  constructor(dir, id, port, mode) {
    this.id = id;
    this.port = port;
    this.mode = mode;
    this.seq = 0;
    this.waiting = new Map();
    this.stderr = "";
    const args = mode === "register" ? ["-r", "clusterluck-native/register", "cl_app.js"] : ["cl_app.js"];
    this.child = spawn(process.execPath, args, {
      cwd: dir,
      env: clusterluck.cleanEnv({ CL_APP_ID: id, CL_APP_PORT: String(port), CL_APP_MODE: mode }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr.setEncoding("utf8").on("data", (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.once("exit", (code) => {
      for (const { reject } of this.waiting.values()) reject(new Error(id + " exited (" + code + "): " + this.stderr));
      this.waiting.clear();
    });
    readline.createInterface({ input: this.child.stdout }).on("line", (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch (e) {
        return;
      }
      const w = this.waiting.get(msg.seq);
      if (!w) return;
      this.waiting.delete(msg.seq);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(Object.assign(new Error(msg.error), { remote: true }));
    });
    this.ready = this.expect(0, 20000);
  }

  expect(seq, timeout) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(this.id + ": no answer to #" + seq + "; stderr: " + this.stderr));
      }, timeout);
      this.waiting.set(seq, {
        resolve: (v) => { clearTimeout(t); resolve(v); },
        reject: (e) => { clearTimeout(t); reject(e); },
      });
    });
  }

  request(cmd, args, timeout = 15000) {
    const seq = ++this.seq;
    const p = this.expect(seq, timeout);
    this.child.stdin.write(JSON.stringify({ seq, cmd, args }) + "\n");
    return p;
  }

  get node() {
    return { id: this.id, port: this.port };
  }

  async close() {
    if (this.child.exitCode !== null) return;
    this.request("stop").catch(() => {});
    const t = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await this.exited;
    clearTimeout(t);
  }
}


if (!clusterluck.available()) {
  const reason = clusterluck.skipReason();
  console.log(reason);
  it("clusterluck app on native kernels", { skip: reason }, () => {});
} else {
  describe("a clusterluck app, switched with one line, in a cluster with a JS node", { timeout: 400000 }, () => {
    let apps = [];
    let reg;
    let use;
    let js;

    before(async () => {
      const dir = clusterluck.app();
      fs.copyFileSync(path.join(__dirname, "helpers", "cl_app.js"), path.join(dir, "cl_app.js"));
      reg = new App(dir, "cl-register", await freePort(), "register");
      use = new App(dir, "cl-usewith", await freePort(), "useWith");
      js = new App(dir, "cl-js", await freePort(), "js");
      apps = [reg, use, js];
      await Promise.all(apps.map((a) => a.ready));
    });

    after(async () => {
      await Promise.all(apps.map((a) => a.close()));
    });

    it("builds native kernels where switched, JS ones where not", async () => {
      const [r, u, j] = await Promise.all(apps.map((a) => a.request("info")));
      for (const info of [r, u]) {
        assert.deepEqual(info, { native: true, addon: true, sameClass: true, instanceOfExport: true, selfIsClNode: true });
      }
      assert.deepEqual(j, { native: false, addon: false, sameClass: true, instanceOfExport: true, selfIsClNode: true });
    });

    it("forms one ring by gossip", async () => {
      const ringOf = async (a, ids) => untilOk(async () => {
        const ring = await a.request("ring");
        return { ok: JSON.stringify(ring) === JSON.stringify(ids), value: ring };
      }, 20000, a.id + "'s ring to hold " + ids.join(", "));
      // A native node meets a native one, then the JS node meets a native one.
      await reg.request("meet", use.node);
      const two = [reg.id, use.id].sort();
      for (const a of [reg, use]) await ringOf(a, two);
      await js.request("meet", reg.node);
      const all = apps.map((a) => a.id).sort();
      for (const a of apps) await ringOf(a, all);
    });

    it("calls and casts between GenServers, every way", async () => {
      for (const from of apps) {
        for (const to of apps) {
          if (from === to) continue;
          const res = await from.request("call", { to: to.node, data: { from: from.id, n: 1 } });
          assert.deepEqual(res, { echo: { from: from.id, n: 1 }, by: to.id });
          await from.request("cast", { to: to.node, data: { from: from.id } });
        }
      }
      for (const to of apps) {
        const want = apps.filter((a) => a !== to).map((a) => a.id).sort();
        await untilOk(async () => {
          const notes = (await to.request("notes")).map((n) => n.from).sort();
          return { ok: JSON.stringify(notes) === JSON.stringify(want), value: notes };
        }, 10000, to.id + "'s casts");
      }
    });

    it("takes a DLM write lock that the others then cannot take", async () => {
      const lock = "lock-" + Date.now();
      const nodes = await reg.request("wlock", { lock, holder: "h-register", retries: 3 });
      assert.ok(Array.isArray(nodes) && nodes.length > 0, "the lock reports the nodes that granted it");
      for (const other of [use, js]) {
        await assert.rejects(other.request("wlock", { lock, holder: "h-" + other.id, retries: 0 }),
          /Failed to acquire wlock/);
      }
      await reg.request("wunlock", { lock, holder: "h-register" });
      const again = await js.request("wlock", { lock, holder: "h-js", retries: 10 });
      assert.ok(Array.isArray(again) && again.length > 0);
    });

    it("posts to a DSem semaphore up to its limit", async () => {
      const sem = "sem-" + Date.now();
      await use.request("create", { sem, n: 2 });
      assert.deepEqual(await js.request("post", { sem, holder: "p1" }), { ok: true });
      assert.deepEqual(await reg.request("post", { sem, holder: "p2" }), { ok: true });
      assert.deepEqual(await use.request("post", { sem, holder: "p3" }), { ok: false }, "the limit is 2");
      const state = await reg.request("read", { sem });
      assert.equal(state.ok, true);
      assert.equal(state.data.n, 2);
      assert.equal(state.data.active, 2);
    });
  });
}
