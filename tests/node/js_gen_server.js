// The JavaScript side of tests/gen_server_js.rs: a seed JS kernel with clusterluck's own
// GenServer on it, for a Rust node's gen_server::call / gen_server::cast to reach.
//
//   node js_gen_server.js <js id> <cookie> <rust id> <rust host> <rust port>
//
// Starts the kernel on 127.0.0.1 (a free port), starts GenServer `js_gs`, connects to the Rust
// node (replies travel on this kernel's own link to it), then prints `ready <port>` on stdout.
// Events of js_gs:
//   echo     replies with its data, as it came
//   count    (a cast) adds one to a counter
//   counted  replies {count}
//   fail     replies with an Error "js_gs says no"
// It exits when its stdin closes, so it never outlives the test that started it.
"use strict";

const path = require("path");

const HELPERS = path.join(__dirname, "..", "..", "__test__", "helpers");
const { loadSeed } = require(path.join(HELPERS, "seed.js"));
const { loadClusterluck, clusterluckDir } = require(path.join(HELPERS, "mixed.js"));
const { failingStream } = require(path.join(HELPERS, "handlers.js"));
const { freePort } = require(path.join(HELPERS, "ports.js"));

async function main() {
  const [id, cookie, rustId, rustHost, rustPort] = process.argv.slice(2);
  const lib = loadSeed();
  const GenServer = loadClusterluck(path.join(clusterluckDir(), "lib", "gen_server.js"));
  const port = await freePort();
  const kernel = lib.createKernel(id, "127.0.0.1", port, { silent: true });
  await new Promise((resolve) => {
    kernel.once("_ready", resolve);
    kernel.start({ cookie });
  });

  let count = 0;
  const server = new GenServer(kernel);
  server.on("echo", (data, from) => server.reply(from, data));
  server.on("count", () => {
    count += 1;
  });
  server.on("counted", (data, from) => server.reply(from, { count }));
  server.on("fail", (data, from) => server.reply(from, failingStream(null, new Error("js_gs says no"))));
  server.start("js_gs");

  await new Promise((resolve) => kernel.connect(new lib.Node(rustId, rustHost, Number(rustPort)), resolve));
  process.stdout.write("ready " + port + "\n");
}

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
main().catch((err) => {
  process.stderr.write("js_gen_server: " + (err && err.stack || err) + "\n");
  process.exit(1);
});
