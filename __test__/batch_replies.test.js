// A long batch from the network side is a pipeline, not a lockstep: what its
// handlers send is handed to the network side every 64 messages, so the
// first replies are on their way while the rest of the batch runs. Order and
// content stay as they were.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, after } = require("node:test");

const { linkedPair, closeAll } = require("./helpers/linked");

const CALLS = 200;

describe("replies made within one batch", () => {
  const kernels = [];
  after(() => closeAll(kernels));

  it("go out in pieces of at most 64 messages, in order", async () => {
    const [caller, answerer] = await linkedPair(kernels, "batch-caller", "batch-answerer");

    // Every hand-over of envelopes from the answerer to the caller, by size.
    const conn = answerer.connection(caller.self());
    const peer = conn._peer;
    const handed = [];
    const sendBodies = peer.sendBodies.bind(peer);
    peer.sendBodies = (text, ...rest) => {
      handed.push(text.split("\n").length - 1);
      return sendBodies(text, ...rest);
    };
    // How many requests each delivery to the answerer's JS carried: one
    // delivery is one synchronous run, so its end is the next microtask.
    let inBatch = 0;
    let largest = 0;
    answerer.on("echo", (data, stream, from) => {
      if (inBatch === 0) {
        queueMicrotask(() => {
          largest = Math.max(largest, inBatch);
          inBatch = 0;
        });
      }
      inBatch += 1;
      answerer.reply(from, data);
    });

    // All calls in one turn: one write of about 50 KB, read as one batch.
    const replies = [];
    const done = new Promise((resolve, reject) => {
      for (let i = 0; i < CALLS; i++) {
        caller.callSingleton(answerer.self(), "echo", {i, pad: "x".repeat(100)}, (err, data) => {
          if (err) return reject(err);
          replies.push(data.i);
          if (replies.length === CALLS) resolve();
        });
      }
    });
    await done;

    assert.deepEqual(replies, Array.from({length: CALLS}, (_, i) => i), "replies in call order");
    assert.equal(handed.reduce((a, b) => a + b, 0), CALLS, "every reply handed over once");
    // The split only shows where a batch was longer than 64: make sure one was.
    assert.ok(largest > 64, "the requests came in batches of " + largest + " at most");
    assert.ok(Math.max(...handed) <= 64, "hand-overs of " + handed.join(","));
  });
});
