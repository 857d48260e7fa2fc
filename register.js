"use strict";
// `node -r clusterluck-native/register app.js`: every clusterluck the process
// loads builds native kernels (see lib/register.js).
require("./lib/register").install();
