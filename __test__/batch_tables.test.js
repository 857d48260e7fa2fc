// The JS layer reads the addon's event batches with tables it takes from the
// addon (batchTables), not from a copy of its own: every kind and mode that
// lib/kernel.js handles must be one the addon names, each with its own number.
"use strict";

const assert = require("node:assert/strict");
const { it } = require("node:test");
const fs = require("fs");
const path = require("path");
const native = require("../lib/native");

const tables = JSON.parse(native.batchTables());
const source = fs.readFileSync(path.join(__dirname, "..", "lib", "kernel.js"), "utf8");

function used(prefix) {
  const names = new Set();
  for (const m of source.matchAll(new RegExp("\\b" + prefix + "\\.([A-Z_]+)\\b", "g"))) names.add(m[1]);
  return [...names];
}

it("every entry kind and payload mode lib/kernel.js reads is one the addon names", () => {
  const kinds = used("EV");
  const modes = used("MODE");
  assert.ok(kinds.length >= 15, "kinds read: " + kinds);
  assert.ok(modes.length >= 3, "modes read: " + modes);
  for (const k of kinds) assert.equal(typeof tables.kinds[k], "number", "kind " + k);
  for (const m of modes) assert.equal(typeof tables.modes[m], "number", "mode " + m);
  const numbers = Object.values(tables.kinds);
  assert.equal(new Set(numbers).size, numbers.length, "each kind its own number");
});

it("nodedown reasons come in the order of their counters, and the terminal view reads them there", () => {
  assert.deepEqual(tables.downReasons, ["tick timeout", "closed", "stopped"]);
  assert.deepEqual(require("../lib/top/model").DOWN_REASONS, tables.downReasons);
});
