// Request/response over a forked child's IPC channel, shared by the test
// peers and the bench: numbered requests {rid, cmd, args}, a timeout on each,
// replies {rid, ok, result | error} matched by number, and everything still
// pending failed when the child exits.
"use strict";

// `label` names the child in errors; `toError(error)` turns a reply's error
// into the Error a request rejects with.
function rpc(child, { label, timeout, toError }) {
  const pending = new Map();
  let seq = 0;
  let closed = null;

  function request(cmd, args = {}, ms = timeout) {
    if (closed) return Promise.reject(new Error(closed));
    const rid = ++seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(rid);
        reject(new Error(label + ": " + cmd + " timed out after " + ms + " ms"));
      }, ms);
      pending.set(rid, { resolve, reject, timer, cmd });
      child.send({ rid, cmd, args }, (err) => {
        if (!err || !pending.has(rid)) return;
        pending.delete(rid);
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  // Settles the request a reply answers; false for messages that are not replies.
  function settle(msg) {
    if (!msg || msg.rid === undefined) return false;
    const req = pending.get(msg.rid);
    if (!req) return true;
    pending.delete(msg.rid);
    clearTimeout(req.timer);
    if (msg.ok) req.resolve(msg.result);
    else req.reject(toError(msg.error));
    return true;
  }

  // The child is gone: fail what is pending (`why` + " during CMD" + suffix)
  // and every later request.
  function close(why, suffix = "") {
    closed = why;
    for (const [rid, req] of pending) {
      clearTimeout(req.timer);
      pending.delete(rid);
      req.reject(new Error(why + " during " + req.cmd + suffix));
    }
  }

  return { request, settle, close };
}

module.exports = { rpc };
