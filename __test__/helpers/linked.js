// Two kernels of this package in the test's own process, started on free
// loopback ports with a cookie and linked both ways; `closeAll` disconnects
// and stops every kernel a test made, so a failing test ends instead of
// keeping the process alive.
"use strict";

const { createKernel } = require("../..");
const { freePort } = require("./ports");

const HOST = "127.0.0.1";

async function started(id) {
  const kernel = createKernel(id, HOST, await freePort(), {retry: 100});
  const ready = new Promise((r) => kernel.once("_ready", r));
  kernel.start({cookie: "secret"});
  await ready;
  return kernel;
}

const connect = (a, b) => new Promise((resolve) => a.connect(b.self(), resolve));

// Starts kernels `idA` and `idB`, links each to the other, and remembers
// them in `kernels` for `closeAll`.
async function linkedPair(kernels, idA, idB) {
  const a = await started(idA);
  const b = await started(idB);
  kernels.push(a, b);
  await connect(a, b);
  await connect(b, a);
  return [a, b];
}

function closeAll(kernels) {
  for (const k of kernels) {
    for (const other of kernels) k.disconnect(other.self(), true);
    k.stop();
  }
}

module.exports = { linkedPair, closeAll };
