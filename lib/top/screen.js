"use strict";
// The terminal: the alternate screen, raw keys, redraws in place, and the
// terminal given back as it was however the view ends (a key, a signal, an
// error).

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[2J";
const LEAVE = "\x1b[0m\x1b[?25h\x1b[?1049l";

class Screen {
  constructor(out = process.stdout, input = process.stdin) {
    this._out = out;
    this._in = input;
    this._open = false;
    this._onKey = null;
    this._onResize = null;
    this._restore = () => this.close();
  }

  get cols() {
    return this._out.columns || 80;
  }

  get rows() {
    return this._out.rows || 24;
  }

  // onKey(key): a key pressed (a string); onResize(): the window changed size.
  open({ onKey, onResize }) {
    this._out.write(ENTER);
    this._open = true;
    this._onKey = (data) => {
      for (const key of String(data)) onKey(key);
    };
    this._onResize = () => {
      // Everything drawn at the old size goes: no line is left half over.
      this._out.write("\x1b[2J");
      onResize();
    };
    if (this._in.isTTY) this._in.setRawMode(true);
    this._in.setEncoding("utf8");
    this._in.on("data", this._onKey);
    this._in.resume();
    this._out.on("resize", this._onResize);
    process.on("exit", this._restore);
  }

  // Draws `lines` from the top left, each line's rest and the rows below
  // cleared, so nothing of the frame before stays.
  draw(lines) {
    if (!this._open) return;
    const rows = lines.slice(0, this.rows).map((l) => l + "\x1b[K");
    this._out.write("\x1b[H" + rows.join("\r\n") + "\x1b[J");
  }

  close() {
    if (!this._open) return;
    this._open = false;
    this._in.removeListener("data", this._onKey);
    this._out.removeListener("resize", this._onResize);
    process.removeListener("exit", this._restore);
    if (this._in.isTTY) this._in.setRawMode(false);
    this._in.pause();
    this._out.write(LEAVE);
  }
}

module.exports = { Screen };
