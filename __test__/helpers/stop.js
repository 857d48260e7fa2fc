// Waiting for a process stopped with SIGSTOP to be stopped whole.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves once every thread of process `pid` is stopped (Linux: state T in
// /proc; elsewhere, after a moment). SIGSTOP takes effect as each thread is
// next scheduled: a ping sent before then could still be answered.
async function waitStopped(pid) {
  const deadline = Date.now() + 10000;
  for (;;) {
    let tasks;
    try {
      tasks = fs.readdirSync("/proc/" + pid + "/task");
    } catch (err) {
      return sleep(100);
    }
    const stopped = tasks.every((t) => {
      try {
        return /^\S+ \(.*\) [tT] /s.test(fs.readFileSync("/proc/" + pid + "/task/" + t + "/stat", "utf8"));
      } catch (err) {
        return true; // the thread is gone
      }
    });
    if (stopped) return;
    assert.ok(Date.now() < deadline, "process " + pid + " did not stop");
    await sleep(5);
  }
}

module.exports = { waitStopped };
