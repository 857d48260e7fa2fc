// The peer's built-in kernel event handlers (echo, len, count, bigreply, errreply) and
// the record of what arrived, which the parent reads back with the `received` command.
"use strict";

const fs = require("fs");
const { Readable } = require("stream");
const { pattern, patternStream, sha256 } = require("./bytes");

const CHUNK = 64 * 1024;
const KEEP_RECORDS = 20;
const KEEP_DATA_BYTES = 64 * 1024;

// A readable that yields one chunk (none when chunk is null), then fails with `err`.
function failingStream(chunk, err) {
  let sent = chunk === null;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(chunk);
        return;
      }
      setImmediate(() => this.destroy(err));
    }
  });
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === "string") return Buffer.from(data);
  return Buffer.from(JSON.stringify(data));
}

// Buffers cannot cross the fork channel as such: they travel as {base64}.
function encodeValue(value) {
  if (Buffer.isBuffer(value)) return { base64: value.toString("base64") };
  if (Array.isArray(value)) return value.map(encodeValue);
  return value;
}

// Rebuilds an Error from a flattened wire error, keeping its extra properties.
function rebuildError(flat) {
  const err = new Error(flat && flat.message);
  for (const key of Object.keys(flat || {})) {
    if (key !== "stack" && key !== "message" && key !== "_error") err[key] = flat[key];
  }
  return err;
}

function canReply(msg) {
  return Boolean(msg.from) && typeof msg.from.tag === "string";
}

// Deterministic filler for castIntact: depends on the sender and the index, so a
// frame spliced from two messages cannot pass the check.
function intactPad(sender, i, size) {
  const unit = sender + ":" + i + ";";
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

// Creates the handler set for one kernel; `notify(note)` pushes to the parent.
function createHandlers(kernel, notify) {
  let recordFile = null;
  const partial = new Map(); // stream id -> Buffer[] still arriving
  const received = new Map(); // event -> {count, records, order}

  function recordFor(event) {
    let rec = received.get(event);
    if (!rec) {
      rec = { count: 0, records: [], order: [] };
      received.set(event, rec);
    }
    return rec;
  }

  function record(event, msg) {
    const rec = recordFor(event);
    rec.count += 1;
    if (rec.records.length >= KEEP_RECORDS) return;
    const entry = {
      from: msg.from && msg.from.node ? msg.from.node.id() : null,
      tag: msg.from ? msg.from.tag : null,
      streamed: msg.streamed
    };
    if (msg.streamed || Buffer.isBuffer(msg.data)) {
      entry.length = msg.data.length;
      entry.sha256 = sha256(msg.data);
      if (msg.data.length <= KEEP_DATA_BYTES) entry.data = encodeValue(msg.data);
    } else {
      entry.data = msg.data;
    }
    if (msg.error) entry.error = msg.error;
    rec.records.push(entry);
  }

  // Turns kernel deliveries into whole messages: a single message as is, a stream once
  // its final part arrives (chunks concatenated into one Buffer).
  function wholeMessages(complete) {
    return (data, stream, from) => {
      stream = stream || { done: true };
      if (!stream.stream) {
        complete({ data, error: stream.error || null, from, streamed: false });
        return;
      }
      let chunks = partial.get(stream.stream);
      if (!chunks) {
        chunks = [];
        partial.set(stream.stream, chunks);
      }
      if (data !== null && data !== undefined) chunks.push(toBuffer(data));
      if (!stream.done) return;
      partial.delete(stream.stream);
      complete({ data: Buffer.concat(chunks), error: stream.error || null, from, streamed: true });
    };
  }

  function handler(event, fn) {
    return wholeMessages((msg) => {
      try {
        record(event, msg);
        fn(msg);
      } catch (err) {
        notify({ event: "handlerError", on: event, message: err.message, stack: err.stack });
      }
    });
  }

  const builtins = {
    echo(msg) {
      if (!canReply(msg)) return;
      if (msg.error) kernel.reply(msg.from, failingStream(null, rebuildError(msg.error)));
      else kernel.reply(msg.from, msg.data);
    },
    len(msg) {
      if (!canReply(msg)) return;
      const buf = toBuffer(msg.data === null || msg.data === undefined ? "" : msg.data);
      kernel.reply(msg.from, { length: buf.length, sha256: sha256(buf) });
    },
    count(msg) {
      const data = msg.data;
      if (data && typeof data === "object" && typeof data.i === "number") {
        recordFor("count").order.push(data.i);
      }
    },
    // Casts from castIntact: checks every payload byte and records, per sender,
    // the order of arrival, so interleaving senders can be told apart.
    intact(msg) {
      const rec = recordFor("intact");
      rec.bySender = rec.bySender || {};
      rec.bad = rec.bad || 0;
      const d = msg.data;
      const ok = d && typeof d === "object" && typeof d.s === "string" && typeof d.pad === "string" &&
        d.pad === intactPad(d.s, d.i, d.pad.length);
      if (!ok) {
        rec.bad += 1;
        return;
      }
      (rec.bySender[d.s] = rec.bySender[d.s] || []).push(d.i);
    },
    // Numbered casts (a Buffer whose first 4 bytes are the number, or
    // {i}): the numbers in the order they arrived, and, when `record(file)`
    // named a file, each appended to it at once, so what a process killed
    // outright had taken in is known.
    numbered(msg) {
      const d = msg.data;
      const i = Buffer.isBuffer(d) && d.length >= 4 ? d.readUInt32BE(0) : d && typeof d === "object" ? d.i : undefined;
      if (typeof i !== "number") return;
      recordFor("numbered").order.push(i);
      if (recordFile !== null) fs.appendFileSync(recordFile, i + "\n");
    },
    bigreply(msg) {
      if (!canReply(msg)) return;
      kernel.reply(msg.from, patternStream(msg.data.bytes, CHUNK));
    },
    errreply(msg) {
      if (!canReply(msg)) return;
      kernel.reply(msg.from, failingStream(pattern(0, 1024), new Error("bad thing")));
    }
  };

  return {
    install() {
      for (const event of Object.keys(builtins)) kernel.on(event, handler(event, builtins[event]));
      kernel.on("_skip", (err) => notify({ event: "_skip", message: err && err.message, type: err && err.type }));
      kernel.on("_stop", () => notify({ event: "_stop" }));
    },
    // Records an event that has no built-in handler (nothing is replied).
    listen(event) {
      kernel.on(event, handler(event, () => {}));
    },
    received(event) {
      return received.get(event) || { count: 0, records: [], order: [] };
    },
    recordTo(file) {
      recordFile = file;
    }
  };
}

module.exports = { createHandlers, failingStream, encodeValue, intactPad, CHUNK };
