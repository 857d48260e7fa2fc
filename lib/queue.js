"use strict";
// The queue of a Connection as clusterluck's own (lib/queue.js) behaves: a
// FIFO of `{event, data}` entries with enqueue, dequeue, peek, flush and size.
// It holds what the app sends while the link is down, as the JS Connection
// does, so `queue().size()` counts those sends at once and an app can look
// at (or drop) them the same way.

class Queue {
  constructor() {
    this._items = [];
    this._head = 0; // entries before it were dequeued
  }

  enqueue(val) {
    this._items.push(val);
    return this;
  }

  // The oldest entry, removed; undefined when empty.
  dequeue() {
    if (this._head >= this._items.length) return undefined;
    const val = this._items[this._head];
    this._items[this._head] = undefined;
    this._head += 1;
    // Reclaim the dequeued slots once they are the larger part.
    if (this._head >= 1024 && this._head * 2 >= this._items.length) {
      this._items = this._items.slice(this._head);
      this._head = 0;
    }
    return val;
  }

  // Every entry, oldest first; the queue is left empty.
  flush() {
    const out = this._head === 0 ? this._items : this._items.slice(this._head);
    this._items = [];
    this._head = 0;
    return out;
  }

  size() {
    return this._items.length - this._head;
  }

  // The oldest entry, left in place.
  peek() {
    return this._items[this._head];
  }
}

module.exports = Queue;
