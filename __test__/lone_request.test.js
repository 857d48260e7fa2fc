// Polling in a conversation (link/server/poll.rs): the JS side tells the
// network side which hand-overs are a lone request, the only reply awaited,
// so that readers poll for that reply instead of sleeping. Many calls in
// flight, casts and replies are not lone: nothing polls for them.
"use strict";

const assert = require("node:assert/strict");
const { describe, it, after } = require("node:test");

const { linkedPair, closeAll } = require("./helpers/linked");

// Records the `lone` flag of every hand-over on `kernel`'s link to `to`.
function watch(kernel, to) {
  const peer = kernel.connection(to.self())._peer;
  const seen = [];
  const sendBodies = peer.sendBodies.bind(peer);
  peer.sendBodies = (text, direct, lone) => {
    seen.push({lines: text.split("\n").length - 1, direct, lone: lone === true});
    return sendBodies(text, direct, lone);
  };
  return seen;
}

const call = (k, to, data) => new Promise((resolve, reject) =>
  k.callSingleton(to.self(), "echo", data, (err, reply) => (err ? reject(err) : resolve(reply))));

describe("a lone request", () => {
  const kernels = [];
  after(() => closeAll(kernels));

  it("is told apart from calls in flight, casts and replies", async () => {
    const [asker, answerer] = await linkedPair(kernels, "lone-asker", "lone-answerer");
    answerer.on("echo", (data, stream, from) => answerer.reply(from, data));
    const asked = watch(asker, answerer);
    const answered = watch(answerer, asker);

    // A ping, then a call, each the only reply awaited: lone.
    await new Promise((resolve, reject) => asker.ping(answerer.self(), (err) => (err ? reject(err) : resolve())));
    assert.deepEqual(await call(asker, answerer, {n: 1}), {n: 1});
    assert.deepEqual(asked.map((h) => h.lone), [true, true], "a ping and a call alone");
    // Their replies are not requests.
    assert.ok(answered.length >= 1 && answered.every((h) => !h.lone), "replies are never lone");

    // Three calls in flight: not lone, though few enough for the lane.
    asked.length = 0;
    const replies = await Promise.all([1, 2, 3].map((n) => call(asker, answerer, {n})));
    assert.deepEqual(replies, [{n: 1}, {n: 2}, {n: 3}]);
    assert.equal(asked.length, 1, "the three went over in one hand-over");
    assert.deepEqual(asked[0], {lines: 3, direct: true, lone: false});

    // A cast: not a request.
    asked.length = 0;
    asker.cast(answerer.self(), "echo-cast", {n: 4});
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(asked, [{lines: 1, direct: true, lone: false}]);
  });
});
