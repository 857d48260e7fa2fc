// Deterministic test payloads (byte i = i % 251) and their digests, shared by peers and tests.
"use strict";

const crypto = require("crypto");
const { Readable } = require("stream");

function pattern(offset, length) {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (offset + i) % 251;
  return buf;
}

// A readable of `total` pattern bytes, `chunk` bytes at a time.
function patternStream(total, chunk) {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= total) return this.push(null);
      const n = Math.min(chunk, total - offset);
      this.push(pattern(offset, n));
      offset += n;
    }
  });
}

function sha256(buf) {
  return crypto.createHash("sha256").update(buf).digest("hex");
}

// {length, sha256} of `total` pattern bytes, as the peers report replies.
function digestOf(total) {
  return { length: total, sha256: sha256(pattern(0, total)) };
}

module.exports = { pattern, patternStream, sha256, digestOf };
