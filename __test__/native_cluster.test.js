// The cluster scenario with native kernels only, in separate processes.
"use strict";

const { clusterSuite } = require("./helpers/suite");

clusterSuite("native cluster (native <-> native)", "native", "native");
