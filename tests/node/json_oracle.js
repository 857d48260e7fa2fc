// The JavaScript side of tests/js_json.rs: node itself is the reference for what JSON.stringify
// writes. Reads one JSON request on stdin, {seed, count, texts}, and writes one JSON answer on
// stdout, {a, b, c}:
//   a[i] = JSON.stringify(JSON.parse(texts[i]))       (texts a Rust node wrote with serde_json)
//   b[i] = [JSON.stringify(v), lone]                  (count values generated here from seed;
//                                                      lone: v holds a lone UTF-16 surrogate)
//   c[i] = JSON.stringify(errorToObject(e))           (Errors generated here, flattened as the
//                                                      seed kernel flattens them for the wire)
"use strict";

const path = require("path");
const { errorToObject } = require(path.join(__dirname, "..", "..", "__test__", "seed", "utils.js"));

// mulberry32: a small seeded generator, so a failing seed replays the same values.
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0);
  };
  const r = {
    u32: next,
    below: (n) => next() % n,
    chance: (p) => next() / 4294967296 < p,
    pick: (list) => list[next() % list.length],
  };
  return r;
}

const view = new DataView(new ArrayBuffer(8));
function fromBits(hi, lo) {
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

const EDGE_NUMBERS = [
  0, -0, 1, -1, 0.1, 0.5, 1e21, 1e20, 999999999999999900000, 1e-7, 1e-6, 1.5e-7, 123e-20,
  5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE,
  Number.MIN_VALUE, Number.EPSILON, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
  2 ** 53, 2 ** 53 + 2, 2 ** 64, 2 ** 64 - 2048, -(2 ** 63), 2 ** 32, 2 ** 32 - 1, 2 ** 31,
  4294967294, 4294967295, NaN, Infinity, -Infinity, 1 / 3, 2 / 3, 100, 1e100, 1.7976931348623157e308,
];

function number(r) {
  switch (r.below(9)) {
    case 0: return r.pick(EDGE_NUMBERS);
    case 1: return fromBits(r.u32(), r.u32()); // any double, NaN and infinities included
    case 2: return fromBits(r.u32() & 0x800fffff, r.u32()); // subnormals
    case 3: return (2 ** 53 + r.below(41) - 20) * (r.chance(0.5) ? 1 : -1);
    case 4: return 2 ** 64 + (r.below(41) - 20) * 2048;
    case 5: return Number(`${r.u32()}${r.u32()}e${r.below(700) - 350}`);
    case 6: return Number(`${r.u32() % 1000}.${r.u32()}e${r.below(60) - 30}`);
    case 7: return r.u32() - 2147483648;
    default: return r.below(1000) / (1 + r.below(100));
  }
}

const SPECIAL = [
  0x0, 0x1, 0x7, 0x8, 0x9, 0xa, 0xb, 0xc, 0xd, 0x1b, 0x1f, 0x20, 0x22, 0x2f, 0x5c, 0x7f, 0x80,
  0x9f, 0xa0, 0xad, 0x2028, 0x2029, 0xfeff, 0xfffe, 0xffff, 0xe9, 0x3c0, 0x4e2d,
];
const ASTRAL = [0x1f600, 0x1f4a9, 0x1f468, 0x10000, 0x10ffff, 0x1d11e, 0x20000];

// Strings with control characters, quotes, backslashes, U+2028/2029, astral characters and
// emoji; with `loneAllowed`, sometimes a lone surrogate too.
function string(r, loneAllowed) {
  const n = r.below(12);
  let s = "";
  for (let i = 0; i < n; i++) {
    switch (r.below(8)) {
      case 0: s += String.fromCharCode(r.pick(SPECIAL)); break;
      case 1: s += String.fromCodePoint(r.pick(ASTRAL)); break;
      case 2: s += String.fromCodePoint(0x10000 + r.below(0x100000)); break;
      case 3: s += String.fromCharCode(r.below(0xd800)); break;
      case 4: s += "\u{1f469}\u200d\u{1f4bb}e\u0301"; break;
      case 5:
        s += loneAllowed && r.chance(0.05) ? String.fromCharCode(0xd800 + r.below(0x800)) : "\\\"";
        break;
      default: s += String.fromCharCode(0x20 + r.below(0x5f));
    }
  }
  // Dropping the last code unit may split a surrogate pair.
  if (loneAllowed && r.chance(0.02)) s = s.slice(0, -1);
  return s;
}

const KEYS = [
  "0", "1", "2", "10", "01", "00", "-1", "1.0", "1e3", " 1", "4294967294", "4294967295",
  "4294967296", "9007199254740993", "a", "A", "b", "_error", "type", "data", "", "\u2028",
  "\u00e9", "\u{1f600}", "__proto__x", "length",
];

function key(r) {
  switch (r.below(4)) {
    case 0: return r.pick(KEYS);
    case 1: return String(r.u32());
    case 2: return String(r.below(20));
    default: return string(r, false);
  }
}

function value(r, depth) {
  switch (depth > 5 ? r.below(5) : r.below(8)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: case 3: return number(r);
    case 4: return string(r, true);
    case 5: {
      const out = [];
      for (let n = r.below(7), i = 0; i < n; i++) {
        out.push(r.chance(0.03) ? undefined : value(r, depth + 1)); // undefined: written as null
      }
      return out;
    }
    case 6: {
      // Keys in random order, integer-like ones among them (JSON.stringify writes those first);
      // a key set twice keeps its first place; an undefined member is left out.
      const out = {};
      for (let n = r.below(9), i = 0; i < n; i++) {
        out[key(r)] = r.chance(0.03) ? undefined : value(r, depth + 1);
      }
      return out;
    }
    default: {
      const bytes = Buffer.alloc(r.below(40));
      for (let i = 0; i < bytes.length; i++) bytes[i] = r.below(256);
      return bytes;
    }
  }
}

// JSON.stringify writes a \u escape only for control characters and lone surrogates; escapes
// are read left to right so an escaped backslash before "ud800" is not mistaken for one.
function hasLoneSurrogate(text) {
  for (const m of text.matchAll(/\\(u[0-9a-f]{4}|.)/g)) {
    if (/^ud[89a-f]/.test(m[1])) return true;
  }
  return false;
}

const ERROR_CLASSES = [Error, TypeError, RangeError, SyntaxError];

// An Error with a random message and own properties (never message, stack or _error, which
// errorToObject itself writes, nor lone surrogates), flattened with or without its stack as NODE_ENV decides.
function error(r) {
  const Class = r.pick(ERROR_CLASSES);
  const err = new Class(string(r, false));
  for (let n = r.below(5), i = 0; i < n; i++) {
    const k = key(r);
    const v = value(r, 4);
    if (k === "message" || k === "stack" || k === "_error") continue;
    // Lone surrogates are checked with the values above; here every error must be readable.
    if (hasLoneSurrogate(JSON.stringify(v) || "")) continue;
    err[k] = v;
  }
  const env = process.env.NODE_ENV;
  if (r.chance(0.3)) process.env.NODE_ENV = "production";
  else delete process.env.NODE_ENV;
  const flat = errorToObject(err);
  if (env === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = env;
  return JSON.stringify(flat);
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const request = JSON.parse(input);
  const a = request.texts.map((text) => JSON.stringify(JSON.parse(text)));
  const r = rng(request.seed);
  const b = [];
  for (let i = 0; i < request.count; i++) {
    const text = JSON.stringify(value(r, 0));
    b.push([text, hasLoneSurrogate(text)]);
  }
  const c = [];
  for (let i = 0; i < request.errors; i++) c.push(error(r));
  process.stdout.write(JSON.stringify({ a, b, c }));
});
