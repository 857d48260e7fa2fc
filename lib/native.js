"use strict";
// The addon's exports, for lib/kernel.js. Where no addon loads (no prebuilt
// for this platform, no platform package, no source build), requiring this
// throws a NativeUnavailable error (`code` CLUSTERLUCK_NATIVE_UNAVAILABLE)
// that names the platform, what was tried and the fix; lib/platform.js says
// where addons are looked for.
const platform = require("./platform");

const found = platform.addon();
if (found.binding === null) throw platform.unavailable(found);

module.exports = found.binding;
