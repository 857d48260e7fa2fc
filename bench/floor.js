"use strict";
// The transport floor of the ping row: a Node client timing sequential round
// trips of a 250-byte message over plain loopback TCP, against an echo server
// (a Node one here, or the Rust one in examples/ceiling.rs --echo). No
// protocol, no framing, no HMAC: what any kernel's ping costs at the least.
//
//   node bench/floor.js server          prints {"port":N}, echoes one client
//   node bench/floor.js client PORT N W prints {"medianUs":..,"minUs":..}

const net = require("net");
const { HOST } = require("./common");

const SIZE = 250;

function server() {
  const srv = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on("data", (chunk) => sock.write(chunk));
    sock.on("error", () => {});
    sock.on("close", () => srv.close());
  });
  srv.listen(0, HOST, () => console.log(JSON.stringify({ port: srv.address().port })));
}

function client(port, n, warm) {
  const sock = net.connect(port, HOST, async () => {
    sock.setNoDelay(true);
    const msg = Buffer.alloc(SIZE, 0x61);
    let got = 0;
    let wake = null;
    sock.on("data", (chunk) => {
      got += chunk.length;
      if (got >= SIZE) {
        got -= SIZE;
        wake();
      }
    });
    const once = () => new Promise((resolve) => {
      wake = resolve;
      sock.write(msg);
    });
    for (let i = 0; i < warm; i++) await once();
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await once();
      times[i] = Number(process.hrtime.bigint() - t0) / 1000;
    }
    times.sort();
    const medianUs = n % 2 ? times[n >> 1] : (times[n / 2 - 1] + times[n / 2]) / 2;
    console.log(JSON.stringify({ medianUs, minUs: times[0] }));
    sock.end();
  });
  sock.on("error", (err) => {
    console.error(err.message);
    process.exit(1);
  });
}

const [role, port, n, warm] = process.argv.slice(2);
if (role === "server") server();
else if (role === "client") client(Number(port), Number(n) || 2000, Number(warm) || 300);
else {
  console.error("usage: floor.js server | client PORT [N] [WARM]");
  process.exit(2);
}
