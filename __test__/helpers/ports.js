// Finds a TCP port on 127.0.0.1 that is free right now (the OS picks it).
"use strict";

const net = require("net");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

module.exports = { freePort };
