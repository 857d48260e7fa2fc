#!/usr/bin/env node
"use strict";
// The package's one command. Each subcommand lives in lib/cli/<name>.js and
// exports `run(args)`, which resolves to the process's exit code; keeping the
// dispatch this small lets each command be required and tested on its own.

const COMMANDS = {
  info: "which addon loads here (path, platform, version, features), or why none does",
  top: "a live view of every node and link of a running cluster",
};

function usage(out) {
  out.write("usage: clusterluck-native <command> [options]\n\n");
  for (const [name, what] of Object.entries(COMMANDS)) {
    out.write(`  ${name.padEnd(6)} ${what}\n`);
  }
  out.write("\n`clusterluck-native <command> --help` describes a command's options.\n");
}

async function main(argv) {
  const [name, ...args] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    usage(process.stdout);
    return name ? 0 : 2;
  }
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, name)) {
    process.stderr.write(`clusterluck-native: unknown command '${name}'\n`);
    usage(process.stderr);
    return 2;
  }
  return require(`../lib/cli/${name}.js`).run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // A command reports its own failures; anything reaching here is a bug,
    // still shown as one line rather than a stack trace.
    process.stderr.write(`clusterluck-native: ${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  },
);
