"use strict";
// Loads the compiled addon (built by `npm install`, see scripts/build.js).
const path = require("path");

const file = path.join(__dirname, "..", "clusterluck-native.node");
let binding;
try {
  binding = require(file);
} catch (err) {
  const e = new Error("clusterluck-native: the native addon is not built (" + err.message +
    "). Run `npm install` (or `npm run build`) in the package directory; it needs cargo.");
  e.cause = err;
  throw e;
}

module.exports = binding;
