//! What waits unwritten, and its bounds: the queue of frames while the link
//! is down (where commands taken offline go), the stash of commands that
//! arrive while a write waits on the socket, frames put back after a failed
//! write or for replay; `max_len` and `max_bytes` kept by dropping the
//! oldest (OVERFLOW), and BUSY and DRAIN around the high-water mark. Apart:
//! the memory bound toward a peer is kept in one place.

use std::sync::atomic::Ordering;

use crate::link::sink::{Limit, LinkEvent};

use super::task::Peer;
use super::write::{frame_start, WriteBatch};
use super::Command;

/// About how many bytes a frame adds to its envelope line: the frame's
/// type and wrapper, the signature field, the separator.
const FRAME_OVERHEAD: usize = 112;

/// Once a backlog of the high-water mark or more is written out, the
/// memory its frames took goes back to the system. glibc's allocator keeps
/// what threads free in their own arenas, and frames are made on the JS
/// thread and freed on a network thread: a flood sender whose link was
/// down now and then grew by tens of MiB at every outage without this, up
/// to more than twice its bound, though it held nothing. Elsewhere the
/// allocator gives memory back by itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_memory() {
    // SAFETY: malloc_trim takes no pointers and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_memory() {}

/// Bytes of an `Encoded` command not yet on the wire.
fn encoded_bytes(cmd: &Command) -> usize {
    match cmd {
        Command::Encoded { buf, written, .. } => buf.len().saturating_sub(*written),
        _ => 0,
    }
}

impl Peer {
    pub(super) fn set_queued(&mut self) {
        self.state.queued.store(self.queue.len(), Ordering::Release);
        self.account();
    }

    /// Frames not yet written: queued, stashed, and the write in hand.
    pub(super) fn unwritten(&self) -> usize {
        self.queue_bytes + self.stash_bytes + self.inflight
    }

    /// Publishes the unwritten bytes and reports crossing the high-water
    /// mark (BUSY) and falling back to half of it (DRAIN). An overflow
    /// episode ends there too, on a live link.
    pub(super) fn account(&mut self) {
        let unwritten = self.unwritten();
        self.state.unwritten.store(unwritten, Ordering::Relaxed);
        // What waits in the channel counts toward busy, not toward the bound.
        let held = unwritten + self.state.handed.load(Ordering::Relaxed);
        let high = self.opts.high_water;
        let low = high.min(self.opts.max_bytes) / 2;
        if !self.busy && high > 0 && held >= high {
            self.busy = true;
            self.backlog_freed = false;
            self.emit(LinkEvent::PeerBusy { peer: self.id });
        } else if held == 0 && !self.backlog_freed {
            self.backlog_freed = true;
            give_back_memory();
        }
        if held < high || high == 0 {
            self.state.wake_senders();
        }
        if held <= low {
            if self.busy {
                self.busy = false;
                self.emit(LinkEvent::PeerDrain { peer: self.id });
            }
            if self.overflowing && self.state.connected.load(Ordering::Relaxed) {
                self.overflowing = false;
            }
        }
    }

    /// Counts `n` frames dropped unwritten, reporting the first of an
    /// episode (an OVERFLOW event naming the limit, and a debug log).
    fn dropped(&mut self, n: u64, limit: Limit) {
        if n == 0 {
            return;
        }
        self.state.dropped.fetch_add(n, Ordering::Relaxed);
        if !self.overflowing {
            self.overflowing = true;
            tracing::debug!(peer = self.id, "dropping the oldest unwritten frames to {}: over {limit}", self.opts.node_id);
            self.emit(LinkEvent::PeerOverflow { peer: self.id, limit });
        }
    }

    /// Drops the oldest queued frames past `max_len` or `max_bytes`.
    fn trim_queue(&mut self) {
        let (mut by_len, mut by_bytes) = (0, 0);
        while let Some(front) = self.queue.front() {
            if self.queue.len() > self.opts.max_len {
                by_len += 1;
            } else if self.unwritten() > self.opts.max_bytes {
                by_bytes += 1;
            } else {
                break;
            }
            self.queue_bytes -= front.len();
            self.queue.pop_front();
        }
        self.dropped(by_len, Limit::MaxLen);
        self.dropped(by_bytes, Limit::MaxQueueBytes);
    }

    /// Keeps a command that arrived while a write waits on the socket,
    /// its frames encoded now, so the channel never holds more than the
    /// task has seen; past `max_bytes` the oldest stashed frames go.
    pub(super) fn hold(&mut self, cmd: Command) {
        let cmd = match cmd {
            // Only the queue of a link that is down obeys it: apply it now.
            Command::MaxLen(n) => {
                self.opts.max_len = n;
                self.state.max_len.store(n, Ordering::Relaxed);
                return;
            }
            c @ (Command::Stop { .. } | Command::Flush(_) | Command::Encoded { .. }) => c,
            other => {
                // A buffer of a command written out before, if one is kept:
                // a fresh one per command of a flood (about 130 KiB for a
                // turn of 500 casts) was mapped, faulted in and unmapped
                // again every time, a fifth of the sending thread's time.
                let (buf, ends) = self.spare_held.take();
                let mut batch = WriteBatch { buf, ends };
                // Room for the frames at once (their signatures and type
                // added to the envelopes), rather than grown by doubling
                // and copying as they are written.
                if let Command::Bodies { text, .. } = &other {
                    batch.buf.reserve(text.len() + super::lines_in(text) * FRAME_OVERHEAD);
                }
                self.encode(other, &mut batch);
                if batch.buf.is_empty() {
                    self.spare_held.give(batch.buf, batch.ends);
                    return;
                }
                // Held for a while, and counted by its length: no slack.
                // (Shrinking keeps the buffer where it is; what churned was
                // freeing it, which the spare buffers now spare.)
                batch.buf.shrink_to_fit();
                Command::Encoded { buf: batch.buf, ends: batch.ends, written: 0, link: 0 }
            }
        };
        self.stash_bytes += encoded_bytes(&cmd);
        self.stash.push_back(cmd);
        let mut dropped = 0;
        while self.unwritten() > self.opts.max_bytes && self.drop_stashed() {
            dropped += 1;
        }
        self.dropped(dropped, Limit::MaxQueueBytes);
        self.account();
    }

    /// Drops the oldest whole stashed frame; false when there is none.
    fn drop_stashed(&mut self) -> bool {
        let links = self.links;
        let Some(at) = self.stash.iter().position(|c| {
            // The rest of a frame this link carries part of must go out.
            matches!(c, Command::Encoded { link, buf, written, .. } if *link != links && *written < buf.len())
        }) else {
            return false;
        };
        if let Some(Command::Encoded { buf, ends, written, .. }) = self.stash.get_mut(at) {
            let (i, _) = frame_start(ends, *written);
            let next = ends.get(i).copied().unwrap_or(buf.len());
            self.stash_bytes -= next - *written;
            *written = next;
            if next >= buf.len() {
                self.stash.remove(at);
            }
        }
        true
    }

    /// The oldest stashed command.
    pub(super) fn next_held(&mut self) -> Option<Command> {
        let cmd = self.stash.pop_front()?;
        self.stash_bytes -= encoded_bytes(&cmd);
        Some(cmd)
    }

    /// Keeps a frame for later, dropping the oldest past `max_len` or
    /// `max_bytes`.
    fn enqueue(&mut self, frame: String) {
        if frame.is_empty() {
            return;
        }
        self.queue_bytes += frame.len();
        self.queue.push_back(frame);
        self.trim_queue();
        self.set_queued();
    }

    /// Handles a command taken from the channel while there is no link
    /// ([`Peer::offline`]), then takes its messages out of
    /// [`PeerState::handed_msgs`](super::PeerState::handed_msgs): they are
    /// in the queue by then.
    pub(super) fn take_offline(&mut self, cmd: Command) -> bool {
        let n = super::handed_msgs(&cmd);
        let go_on = self.offline(cmd);
        self.state.handed_msgs.fetch_sub(n, Ordering::Relaxed);
        go_on
    }

    /// Handles a command while there is no link. Returns false to exit.
    pub(super) fn offline(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::MaxLen(n) => {
                self.opts.max_len = n;
                self.state.max_len.store(n, Ordering::Relaxed);
                self.trim_queue();
                self.set_queued();
            }
            Command::Stop { force: true } => return false,
            // Nothing can be written while the link is down: dropping the
            // sender tells the waiter so.
            Command::Flush(_) => {}
            // Nothing waits for the link: close now rather than dial a node
            // that may never come back just to hang up on it.
            Command::Stop { force: false } if self.queue.is_empty() => return false,
            Command::Stop { force: false } => self.stopping = true,
            Command::Encoded { buf, ends, written, .. } => {
                for frame in Self::frames_from(&buf, &ends, written) {
                    self.enqueue(frame);
                }
            }
            other => {
                let mut batch = WriteBatch::default();
                self.encode(other, &mut batch);
                for frame in Self::frames_from(&batch.buf, &batch.ends, 0) {
                    self.enqueue(frame);
                }
            }
        }
        true
    }

    /// Puts `frames` back at the front of the queue, in their order, dropping
    /// the oldest past `max_len`.
    pub(super) fn requeue(&mut self, frames: Vec<String>) {
        for f in frames.into_iter().rev() {
            self.queue_bytes += f.len();
            self.queue.push_front(f);
        }
        self.trim_queue();
        self.set_queued();
    }
}
