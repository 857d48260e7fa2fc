// A small FIFO used by the seed Connection to hold messages while a link is down.
"use strict";

class Queue {
  constructor() {
    this._items = [];
    this._head = 0;
  }

  enqueue(item) {
    this._items.push(item);
    return this;
  }

  // Removes and returns the oldest item (undefined when empty).
  dequeue() {
    if (this._head >= this._items.length) return undefined;
    const item = this._items[this._head];
    this._items[this._head] = undefined;
    this._head += 1;
    // Compact once the consumed prefix dominates, so memory does not grow forever.
    if (this._head > 64 && this._head * 2 > this._items.length) {
      this._items = this._items.slice(this._head);
      this._head = 0;
    }
    return item;
  }

  size() {
    return this._items.length - this._head;
  }

  // Returns every queued item, oldest first, and leaves the queue empty.
  flush() {
    const out = this._items.slice(this._head);
    this._items = [];
    this._head = 0;
    return out;
  }
}

module.exports = Queue;
