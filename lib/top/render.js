"use strict";
// The view as lines of text, each at most `cols` characters wide (colour
// escapes aside): a header, one row per node, and a footer. Pure: the same
// model and size give the same lines, so the terminal code only draws them.

const { sortRows, SORTS, SORT_ORDER } = require("./model");

const RED = "\x1b[31m";
const YELLOW = "\x1b[33m";
const INVERSE = "\x1b[7m";
const RESET = "\x1b[0m";

// The columns after the node's id: title, width, cell.
const COLUMNS = [
  ["KIND", 6, (r) => (r.kind === "unknown" ? "?" : r.kind)],
  ["UPTIM", 5, (r) => duration(r.uptime)],
  ["LINKS", 5, (r) => (r.expected === 0 && !r.answered ? "-" : `${r.up}/${r.expected}`)],
  ["Mi/s", 4, (r) => count(r.inMsgs)],
  ["Mo/s", 4, (r) => count(r.outMsgs)],
  ["Bi/s", 4, (r) => count(r.inBytes)],
  ["Bo/s", 4, (r) => count(r.outBytes)],
  ["QUEU", 4, (r) => count(r.queued)],
  ["UNWR", 5, (r) => count(r.unwritten) + (r.busy ? "*" : "")],
  ["DROP", 4, (r) => count(r.dropped)],
  ["SKIP", 4, (r) => count(r.skips)],
  ["RTT", 4, (r) => ms(r.rtt)],
  ["DOWNS", 5, (r) => r.downs.join("/")],
];
const FIXED = COLUMNS.reduce((a, [, w]) => a + w + 1, 0);

// 1234 -> "1.2k": a figure in at most four characters.
function count(n) {
  if (n === null || n === undefined) return "-";
  if (n < 1000) return String(Math.round(n));
  for (const [div, unit] of [[1e3, "k"], [1e6, "M"], [1e9, "G"], [1e12, "T"]]) {
    const v = n / div;
    if (v < 9.95) return v.toFixed(1) + unit;
    if (v < 999.5) return Math.round(v) + unit;
  }
  return "huge";
}

function ms(v) {
  if (v === null || v === undefined) return "-";
  if (v < 10) return v.toFixed(1);
  if (v < 1000) return String(Math.round(v));
  return (v / 1000).toFixed(v < 9950 ? 1 : 0) + "s";
}

function duration(v) {
  if (v === null || v === undefined) return "-";
  const s = Math.floor(v / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0");
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s / 60) % 60).padStart(2, "0");
  return Math.floor(s / 86400) + "d" + String(Math.floor(s / 3600) % 24).padStart(2, "0");
}

// A cell of `width` characters; a longer text keeps its start and its end
// (ids of one cluster often differ only at the end: node-1, node-2).
function fit(text, width, right) {
  const t = String(text);
  if (t.length > width) {
    if (width < 4) return t.slice(0, width);
    const head = Math.floor((width - 1) / 3);
    return t.slice(0, head) + "~" + t.slice(t.length - (width - 1 - head));
  }
  return right ? t.padStart(width) : t.padEnd(width);
}

// The width of the node's id column at `cols`.
function idWidth(cols) {
  return Math.max(6, Math.min(32, cols - FIXED));
}

function rowText(cells, cols) {
  const w = idWidth(cols);
  const parts = [fit(cells[0], w, false)];
  COLUMNS.forEach(([, width], i) => parts.push(fit(cells[i + 1], width, i > 1)));
  return parts.join(" ").slice(0, cols);
}

function header(view, cols) {
  const { head } = view.model;
  const rate = (v, f) => (head.rated ? f(v) : "-");
  const line1 = `clusterluck-native top  ${view.target}  every ${view.interval} ms  ${view.clock}`;
  const line2 = `nodes ${head.nodes} (${head.answered} answered)  links ${head.linksUp} up ${head.linksDown} down  ` +
    `msgs/s ${rate(head.msgs, count)}  MiB/s ${rate(head.bytes, (b) => (b / 1048576).toFixed(2))}`;
  return [line1.slice(0, cols), line2.slice(0, cols)];
}

function footer(view, rows, cols) {
  const lines = [];
  const silent = rows.filter((r) => !r.answered && r.why);
  if (silent.length > 0) {
    const r = silent[0];
    const more = silent.length > 1 ? ` (+${silent.length - 1} more)` : "";
    lines.push(`${r.id}: ${r.why}${more}`.slice(0, cols));
  }
  lines.push(`sort: ${SORTS[view.sort].name}  keys: s next sort, ${SORT_ORDER.join("/")} sort by, q quit`.slice(0, cols));
  return lines;
}

// The lines of the view at `cols` x `rows` terminal cells. `view`: model
// ({head, rows}), sort key, target, interval, clock, color.
function render(view, cols, rowsAvail) {
  const paint = (level, text) => {
    if (!view.color || level === 0) return text;
    return (level === 2 ? RED : YELLOW) + text + RESET;
  };
  const sorted = sortRows(view.model.rows, view.sort);
  const top = header(view, cols);
  const titles = rowText(["NODE", ...COLUMNS.map(([t]) => t)], cols);
  top.push(view.color ? INVERSE + titles.padEnd(cols) + RESET : titles);
  const bottom = footer(view, sorted, cols);
  const room = Math.max(0, rowsAvail - top.length - bottom.length);
  const shown = sorted.length > room ? sorted.slice(0, Math.max(0, room - 1)) : sorted;
  const body = shown.map((r) => paint(r.level, rowText([r.id, ...COLUMNS.map(([, , cell]) => cell(r))], cols)));
  if (shown.length < sorted.length) body.push(`... ${sorted.length - shown.length} more node(s)`.slice(0, cols));
  // Blank rows to the footer, so the footer keeps its place (a printed
  // snapshot, of no fixed height, has none).
  if (Number.isFinite(room)) while (body.length < room) body.push("");
  return [...top, ...body, ...bottom];
}

module.exports = { render, count, ms, duration };
