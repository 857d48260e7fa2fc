//! Outbound connections ("sinks"): one task per peer node.
//!
//! A peer task owns its socket. It connects, retries every `retry` after a
//! failure or a lost link (up to `max_retries` attempts in a row, as the
//! reference transport does), and while the link is down it keeps outgoing
//! frames in a queue of at most `max_len` entries, dropping the oldest first.
//! On reconnect the queue is written before anything newer, so order holds.
//! Writes are coalesced: every frame waiting in the channel goes out in one
//! write. Frames of a write that failed go back to the front of the queue.
//!
//! The lane: on a plain TCP link that is up and has nothing waiting, a small
//! send is encoded and written by the caller itself (the JS thread, or a
//! reader answering a ping) instead of waking the task: one thread hand-off
//! less on the way of every request and reply. Whatever the socket does not
//! take at once goes to the task, and from then on everything queues behind
//! it until the task has written it all, so order always holds.
//!
//! Memory toward a peer that does not read is bounded: while a write waits
//! on the socket the task keeps taking commands, encoding them into a stash
//! behind the write, and past `max_bytes` of unwritten frames (stash, queue
//! and the write in hand) it drops the oldest frames not yet begun. Under
//! the bound nothing is dropped. Crossing `high_water` is reported (BUSY),
//! and falling back to half of it (DRAIN), so an app can slow down first.
//!
//! This file is what other code holds: the options, the handle, the state
//! that can be read without a round trip to the task, the commands, and
//! `spawn`. The task's body has a file for each of its concerns: `task` (its
//! state, and its phases: dialling, a live link, waiting to retry), `write`
//! (a live link's loop: commands coalesced into writes, keep-alive pings
//! between them), `queue` (what waits unwritten: the queue while the link is
//! down, the stash while a write waits, their bounds and what is reported
//! about them), `detect` (failure detection: ticks, signs of life, nodeup
//! and nodedown) and `lane` (who writes to the socket, a caller or the task,
//! and what it wrote that the node has not acknowledged).

mod detect;
mod lane;
mod queue;
mod task;
mod write;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::link::connection;
use crate::wire::{envelope, frame};
use crate::link::sink::DownReason;
use crate::link::shared::{Config, Shared};

use detect::Detection;
use lane::Lane;
use task::{Inbox, Peer};
use write::frame_start;

/// Work for a peer task, in the order JS issued it.
#[derive(Debug)]
pub enum Command {
    /// Envelopes serialised by JS, one per line (`envelope::encode_bodies`),
    /// signed with the cookie of `cfg`: the one in force when they were sent.
    Bodies { text: String, cfg: Arc<Config> },
    /// A message whose data is a Buffer (`envelope::encode_buffer_message`).
    Buffer { head: String, bytes: Vec<u8>, cfg: Arc<Config> },
    /// Frames encoded for a direct write that the socket did not take whole:
    /// the first `written` bytes went out on link number `link`.
    Encoded { buf: String, ends: Vec<usize>, written: usize, link: u64 },
    /// A frame of any type with JSON data, from `Connection.send`.
    Raw { kind: String, json: String },
    MaxLen(usize),
    /// Close. Without force, everything already handed over is written
    /// first (connecting first if the link is down).
    Stop { force: bool },
    /// Answered (by a message, or by dropping the sender) once everything
    /// handed over before it is written, or cannot be for now because the
    /// link is down: a process about to exit waits for this.
    Flush(std::sync::mpsc::Sender<()>),
    /// The lane's outbox of that generation is ready to take (see
    /// [`PeerHandle::send_lines`]): the task's end of the channel turns it
    /// into the `Bodies` the outbox holds by then, so the task never sees it.
    Outbox { generation: u64 },
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    pub node_id: String,
    pub host: String,
    pub port: u16,
    pub retry: Duration,
    /// Failed attempts in a row before giving up; `None` retries forever.
    pub max_retries: Option<u64>,
    pub max_len: usize,
    /// Bytes of frames not yet written (queued while down, or waiting on a
    /// socket that does not drain) past which the oldest are dropped.
    pub max_bytes: usize,
    /// Unwritten bytes at which BUSY is reported; DRAIN at half of it.
    pub high_water: usize,
    /// net_ticktime: a node that holds a link to us and from which nothing
    /// arrived for this long, while our link to it is up, is declared down
    /// (the link is dropped and dialled again). It is pinged after a
    /// quarter of it in silence. `None`: never.
    pub net_tick: Option<Duration>,
    /// TLS client settings and the name the server must prove.
    pub tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
}

impl PeerState {
    /// Why the node is down now, between a `nodedown` and the next `nodeup`.
    pub fn down_reason(&self) -> Option<DownReason> {
        match self.down.load(Ordering::Relaxed) {
            0 => None,
            n => DownReason::ALL.get(n as usize - 1).copied(),
        }
    }
}

/// Default of [`PeerOptions::max_bytes`].
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Default of [`PeerOptions::net_tick`], Erlang's.
pub const DEFAULT_NET_TICK: Duration = Duration::from_secs(60);

/// Default of [`PeerOptions::high_water`].
pub const DEFAULT_HIGH_WATER: usize = 16 * 1024 * 1024;

impl Default for PeerOptions {
    /// Options to reach nothing yet: set at least the node and its address.
    fn default() -> Self {
        PeerOptions {
            node_id: String::new(),
            host: "127.0.0.1".into(),
            port: 0,
            retry: Duration::from_millis(500),
            max_retries: None,
            max_len: 1024,
            max_bytes: DEFAULT_MAX_BYTES,
            high_water: DEFAULT_HIGH_WATER,
            net_tick: Some(DEFAULT_NET_TICK),
            tls: None,
        }
    }
}

/// State JS can read without a round trip to the task.
#[derive(Debug, Default)]
pub struct PeerState {
    pub queued: AtomicUsize,
    pub connected: AtomicBool,
    /// Sends written whole on the caller's thread.
    pub direct: AtomicU64,
    /// Direct writes the socket did not take whole, finished by the task.
    pub handoffs: AtomicU64,
    /// Bytes of frames handed to the task and not yet written.
    pub unwritten: AtomicUsize,
    /// Bytes of what was handed to the task that it has not taken from its
    /// channel yet (a Buffer by the most its JSON digits can take). Counted toward
    /// `busy`, so a sender pacing itself by busy/drain sees a backlog the
    /// task has not even encoded yet.
    pub handed: AtomicUsize,
    /// Frames dropped unwritten (the queue's `max_len`, or `max_bytes`).
    pub dropped: AtomicU64,
    /// Frames and bytes written to the socket.
    pub sent_frames: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// What the link knows of its node's life: [`Life`] as a number (0: no
    /// link now).
    pub life: AtomicU8,
    /// [`now_us`](crate::link::health::now_us) of the node's last sign of
    /// life: something came from it, or it acknowledged what we wrote while
    /// it had something to (0: none).
    pub alive_at: AtomicU64,
    /// Keep-alive pings written.
    pub pings: AtomicU64,
    /// Pings that went a tick (a quarter of the tick time) with nothing
    /// heard from the node and nothing acknowledged since.
    pub ticks_missed: AtomicU64,
    /// Silences of a whole tick time that the node's acknowledgements showed
    /// to be a node busy reading, not a dead one: nodedowns avoided.
    pub ack_saves: AtomicU64,
    /// `nodedown`s by reason: [tick timeout, closed, stopped].
    pub downs: [AtomicU64; DownReason::ALL.len()],
    /// Until this [`now_us`](crate::link::health::now_us), every write is
    /// laid out in blocks, however small (see [`PeerState::in_blocks`]).
    blocks_until: AtomicU64,
    /// Between a `nodedown` and the next `nodeup`: 1 + the index in
    /// `downs` of the reason (0: not down). A call with no timeout fails
    /// at once meanwhile.
    pub down: AtomicU8,
    /// Messages handed to the task and not yet taken from its channel
    /// (counted toward `queued` while the link is down).
    pub handed_msgs: AtomicUsize,
    /// The link's bounds, for senders that wait for room
    /// ([`PeerState::room`]): its high-water mark, `max_bytes` and `max_len`.
    pub high_water: AtomicUsize,
    pub max_bytes: AtomicUsize,
    pub max_len: AtomicUsize,
    /// Senders waiting for room, and how they are woken: whenever the
    /// task accounts for what it holds (after every write), and when it ends.
    pub room_waiters: AtomicUsize,
    pub room_freed: tokio::sync::Notify,
    /// The task has ended: nothing will make room any more.
    pub ended: AtomicBool,
    lane: Mutex<Lane>,
    /// The text of the last outbox the task encoded, emptied, for the
    /// next outbox to grow into: a batch of thousands of lines would
    /// otherwise be allocated and grown anew (and its pages faulted in)
    /// each time.
    spare_text: Mutex<Option<String>>,
}

/// Whether a message of some size fits on a link now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// It fits: the link is under its high-water mark (and, while down,
    /// under `max_len` messages), and the message keeps it within `max_bytes`.
    Free,
    /// Not now: the link holds its high-water mark or more, or the message
    /// would take it past `max_bytes`, or it is down with `max_len` waiting.
    Full,
    /// Never: the message alone is larger than `max_bytes`.
    TooLarge,
}

/// What a link knows of its node's life. `nodeup` is the step to `Up`,
/// `nodedown` the step from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Linked, and nothing has shown yet that the node runs.
    Unproven = 1,
    /// Shown to run since the link came up or since it was declared down.
    Up = 2,
    /// Declared down for its silence; the link is kept, and what it
    /// carries arrives once the node runs again.
    Down = 3,
}

impl PeerState {
    /// Bytes the link holds unwritten, what waits in the task's channel
    /// included (as `busy` counts them).
    pub fn held(&self) -> usize {
        self.unwritten.load(Ordering::Relaxed) + self.handed.load(Ordering::Relaxed)
    }

    /// Messages waiting while the link is down, those the task has not
    /// taken from its channel yet included.
    pub fn waiting(&self) -> usize {
        let handed = if self.connected.load(Ordering::Acquire) { 0 } else { self.handed_msgs.load(Ordering::Relaxed) };
        self.queued.load(Ordering::Acquire) + handed
    }

    /// Whether a message of `size` bytes (as [`PeerHandle::send`] weighs
    /// it) fits now. The bounds are the ones the task drops by, so a
    /// sender that only sends what fits never has anything dropped.
    pub fn room(&self, size: usize) -> Room {
        let max = self.max_bytes.load(Ordering::Relaxed);
        if size > max {
            return Room::TooLarge;
        }
        let held = self.held();
        let high = self.high_water.load(Ordering::Relaxed);
        let max_len = self.max_len.load(Ordering::Relaxed);
        let over_high = high > 0 && held >= high;
        let down_full = !self.connected.load(Ordering::Acquire) && self.waiting() >= max_len;
        if over_high || held + size > max || down_full {
            Room::Full
        } else {
            Room::Free
        }
    }

    /// Waits until a message of `size` bytes fits ([`Room::Free`]), as a
    /// bounded channel's send waits for capacity; [`Room::TooLarge`] at
    /// once when it never will. Also returns (`Free`) once the task has
    /// ended, so the send that follows finds the link gone.
    pub async fn wait_room(&self, size: usize) -> Room {
        loop {
            let freed = self.room_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let room = self.room(size);
            if room != Room::Full || self.ended.load(Ordering::Acquire) {
                return room;
            }
            self.room_waiters.fetch_add(1, Ordering::AcqRel);
            // Checked again now that the task will wake us.
            if self.room(size) == Room::Full && !self.ended.load(Ordering::Acquire) {
                freed.await;
            }
            self.room_waiters.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Wakes the senders waiting for room, if any.
    pub(crate) fn wake_senders(&self) {
        if self.room_waiters.load(Ordering::Acquire) > 0 {
            self.room_freed.notify_waiters();
        }
    }

    /// Keeps the buffer of an outbox encoded (see `spare_text`), if it is
    /// not too large to hold on to.
    pub(super) fn give_back(&self, mut text: String) {
        if text.capacity() <= SPARE_TEXT {
            text.clear();
            *self.spare_text.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
        }
    }

    fn lane(&self) -> std::sync::MutexGuard<'_, Lane> {
        self.lane.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a write of `len` bytes of frames is laid out in blocks
    /// (`frame::lay_out_blocks`). Blocks keep a lagging JS reader's reads on
    /// frame boundaries, but only while every write keeps to them: a write
    /// off the grid shifts every block after it against the reads of a
    /// reader still working through earlier ones. So once a write needs
    /// blocks, all writes keep to them for `BLOCKS_HOLD` after it (time
    /// enough for a JS reader to work through what loopback buffers hold).
    /// A small write on a link quiet for longer goes out as it is: its
    /// reader has caught up and reads it whole, and a ping does not carry
    /// a block of spaces both ways.
    fn in_blocks(&self, len: usize) -> bool {
        let now = crate::link::health::now_us();
        if len < SMALL_WRITE && now >= self.blocks_until.load(Ordering::Relaxed) {
            return false;
        }
        self.blocks_until.store(now + BLOCKS_HOLD_US, Ordering::Relaxed);
        true
    }
}

/// A Rust request or reply is written from the caller's thread only when the
/// last one so written is at least this old (see `send_lines`): a round trip
/// takes longer, so a lone call keeps the direct lane, and a burst batches.
const DIRECT_GAP_US: u64 = 20;

/// A write of fewer bytes is not laid out in blocks on a quiet link.
const SMALL_WRITE: usize = frame::BLOCK / 4;

/// How long after a write in blocks every write keeps to them.
const BLOCKS_HOLD_US: u64 = 1_000_000;

/// The most an outbox holds before it is handed to the task as it stands
/// (see [`PeerHandle::send_lines`]): about one write of the task's.
const OUTBOX_LIMIT: usize = 64 * 1024;

/// The JS side's handle on a peer task.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    pub id: u64,
    /// Shared, not copied: a handle is cloned for every send.
    pub node_id: Arc<str>,
    /// Where the link dials, as `connect` was given it: an observer walks
    /// the mesh by it.
    pub host: Arc<str>,
    pub port: u16,
    tx: mpsc::UnboundedSender<Command>,
    pub state: Arc<PeerState>,
}

impl PeerHandle {
    /// Queues a command; false when the task has ended.
    pub fn send(&self, cmd: Command) -> bool {
        let mut lane = self.state.lane();
        lane.busy = true;
        self.seal(&mut lane);
        self.hand(cmd)
    }

    fn hand(&self, cmd: Command) -> bool {
        let size = handed_bytes(&cmd);
        let msgs = handed_msgs(&cmd);
        self.state.handed.fetch_add(size, Ordering::Relaxed);
        self.state.handed_msgs.fetch_add(msgs, Ordering::Relaxed);
        if self.tx.send(cmd).is_ok() {
            return true;
        }
        self.state.handed.fetch_sub(size, Ordering::Relaxed);
        self.state.handed_msgs.fetch_sub(msgs, Ordering::Relaxed);
        false
    }

    /// Sends one envelope line written in Rust (`envelope::write_message_line`)
    /// for a Rust sender, batched by readiness: it is appended to the lane's
    /// outbox, and only the first line of an outbox wakes the task; the task
    /// takes everything appended by the time it gets to it, and signs and
    /// writes it as one batch. A loop of casts so costs one hand-off and one
    /// write per batch, not a channel push and a `sendto` per cast. With
    /// `direct`, a line sent while the link is idle (no outbox open, nothing
    /// in hand) is written at once on the calling thread instead, as
    /// [`PeerHandle::send_bodies`] does: a lone request waits for no task.
    /// False when the task has ended.
    pub fn send_lines(&self, line: String, cfg: Arc<Config>, direct: bool) -> bool {
        let mut lane = self.state.lane();
        if direct && !lane.busy && lane.outbox.is_none() && lane.tcp.is_some() {
            // A request or reply alone goes out from the caller's thread.
            // Sends that follow each other closely (200 calls in flight,
            // the replies to a batch of requests) go to the task instead,
            // which writes them together: one system call each had halved
            // the calls a Rust node made per second.
            let now = crate::link::health::now_us();
            if now.saturating_sub(lane.last_direct_us) >= DIRECT_GAP_US {
                lane.last_direct_us = now;
                drop(lane);
                return self.send_bodies(line, cfg, true);
            }
        }
        if self.tx.is_closed() {
            return false;
        }
        // What the outbox's text grows by: the line, and the newline before
        // it unless it is the first (`handed` falls by the text's length).
        let mut bytes = line.len();
        if let Some(o) = lane.outbox.as_mut().filter(|o| Arc::ptr_eq(&o.cfg, &cfg)) {
            o.text.push('\n');
            o.text.push_str(&line);
            bytes += 1;
            // A full outbox goes to the task as it stands and the next line
            // opens another: every copy of it the task makes (signed, laid
            // out in blocks, kept until acknowledged) then stays about the
            // size of one write, reused while warm, rather than growing to
            // the high-water mark in buffers touched for the first time.
            if o.text.len() >= OUTBOX_LIMIT {
                self.seal(&mut lane);
            }
        } else {
            self.seal(&mut lane);
            lane.generation += 1;
            let generation = lane.generation;
            let spare = self.state.spare_text.lock().unwrap_or_else(|p| p.into_inner()).take();
            let text = match spare {
                Some(mut text) => {
                    text.push_str(&line);
                    text
                }
                None => line,
            };
            lane.outbox = Some(lane::Outbox { generation, text, cfg, gathers: direct });
            lane.busy = true;
            if self.tx.send(Command::Outbox { generation }).is_err() {
                lane.outbox = None;
                return false;
            }
        }
        self.state.handed.fetch_add(bytes, Ordering::Relaxed);
        self.state.handed_msgs.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Hands over what the lane's outbox holds, as it stands, ahead of
    /// whatever comes next: its marker in the channel then finds it gone.
    fn seal(&self, lane: &mut Lane) {
        if let Some(o) = lane.outbox.take() {
            // Counted in `handed` as it was appended.
            let _ = self.tx.send(Command::Bodies { text: o.text, cfg: o.cfg });
        }
    }

    /// Sends envelopes serialised by JS (`envelope::encode_bodies`), to be
    /// signed with the cookie of `cfg` (the sender's settings now). With
    /// `direct`, when the lane is open, they are encoded and written on the
    /// calling thread; what the socket does not take at once is handed to
    /// the task. False when the task has ended.
    pub fn send_bodies(&self, text: String, cfg: Arc<Config>, direct: bool) -> bool {
        let mut lane = self.state.lane();
        self.seal(&mut lane);
        // Its fields borrowed apart: the socket, and the limit of a piece.
        let open: &mut Lane = &mut lane;
        if let (true, false, Some(tcp)) = (direct, open.busy, open.tcp.as_ref()) {
            let mut frames = String::with_capacity(text.len() + 96);
            let mut frame_ends = Vec::new();
            let dropped = envelope::encode_bodies(&mut frames, cfg.cookie.as_ref(), &text, &mut frame_ends);
            if dropped > 0 {
                tracing::warn!(peer = self.id, "dropped {dropped} malformed envelope(s)");
            }
            let (buf, ends) = if self.state.in_blocks(frames.len()) {
                let mut buf = String::with_capacity(frames.len() + frame::BLOCK);
                let mut ends = Vec::with_capacity(frame_ends.len());
                frame::lay_out_blocks(&frames, &frame_ends, 0, &mut buf, &mut ends);
                (buf, ends)
            } else {
                (frames, frame_ends)
            };
            // In pieces, as the task writes (see `write::MAX_WRITE`).
            let limit = if buf.len() > frame::BLOCK { open.pieces.get(Some(tcp)) } else { write::MAX_WRITE };
            let mut written = 0;
            let mut i = 0;
            while i < ends.len() {
                let (next, end) = write::next_piece(&ends, i, written, 0, limit);
                written += connection::write_now(tcp, &buf.as_bytes()[written..end]);
                if written < end {
                    break;
                }
                i = next;
            }
            if written == buf.len() {
                self.state.direct.fetch_add(1, Ordering::Relaxed);
                self.state.sent_frames.fetch_add(ends.len() as u64, Ordering::Relaxed);
                self.state.sent_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                lane.wrote(buf, ends);
                return true;
            }
            let (whole, start) = frame_start(&ends, written);
            // The frames before the one the socket cut; the task finishes
            // that one and keeps it.
            lane.wrote_copy(&buf, &ends, 0, start);
            lane.partial = written - start;
            self.state.sent_frames.fetch_add(whole as u64, Ordering::Relaxed);
            self.state.sent_bytes.fetch_add(written as u64, Ordering::Relaxed);
            self.state.handoffs.fetch_add(1, Ordering::Relaxed);
            let link = lane.link;
            lane.busy = true;
            return self.hand(Command::Encoded { buf, ends, written, link });
        }
        lane.busy = true;
        self.hand(Command::Bodies { text, cfg })
    }
}

/// What a command weighs in [`PeerState::handed`].
fn handed_bytes(cmd: &Command) -> usize {
    match cmd {
        Command::Bodies { text, .. } => text.len(),
        // Written as JSON digits: at most four bytes per byte.
        Command::Buffer { head, bytes, .. } => head.len() + 4 * bytes.len(),
        Command::Encoded { buf, written, .. } => buf.len().saturating_sub(*written),
        Command::Raw { json, .. } => json.len(),
        Command::MaxLen(_) | Command::Stop { .. } | Command::Flush(_) | Command::Outbox { .. } => 0,
    }
}

/// How many messages a command carries, in [`PeerState::handed_msgs`].
fn handed_msgs(cmd: &Command) -> usize {
    match cmd {
        Command::Bodies { text, .. } => lines_in(text),
        Command::Buffer { .. } | Command::Raw { .. } => 1,
        Command::Encoded { ends, .. } => ends.len(),
        Command::MaxLen(_) | Command::Stop { .. } | Command::Flush(_) | Command::Outbox { .. } => 0,
    }
}

/// The largest outbox buffer kept for the next outbox.
const SPARE_TEXT: usize = 1024 * 1024;

/// The lines of `text` that are not empty, counted with a vectorised
/// search for newlines: this runs for every batch a Rust sender hands over.
fn lines_in(text: &str) -> usize {
    let mut start = 0;
    let mut n = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len())) {
        n += usize::from(end > start);
        start = end + 1;
    }
    n
}

/// Starts a peer task on the kernel's runtime.
pub fn spawn(shared: &Arc<Shared>, id: u64, opts: PeerOptions) -> PeerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(PeerState::default());
    state.high_water.store(opts.high_water, Ordering::Relaxed);
    state.max_bytes.store(opts.max_bytes, Ordering::Relaxed);
    state.max_len.store(opts.max_len, Ordering::Relaxed);
    let handle = PeerHandle {
        id,
        node_id: Arc::from(opts.node_id.as_str()),
        host: Arc::from(opts.host.as_str()),
        port: opts.port,
        tx,
        state: state.clone(),
    };
    let task = Peer {
        id,
        opts,
        shared: shared.clone(),
        rx: Inbox { rx, state: state.clone(), held: None },
        state,
        queue: VecDeque::new(),
        queue_bytes: 0,
        stash: VecDeque::new(),
        stash_bytes: 0,
        spare_held: Default::default(),
        inflight: 0,
        rx_open: true,
        busy: false,
        backlog_freed: true,
        overflowing: false,
        down_reason: DownReason::Closed,
        stopping: false,
        links: 0,
        partial: 0,
        detect: Detection::new(shared.hearing.watch(&handle.node_id)),
        pieces: Default::default(),
    };
    shared.runtime.spawn(task.run());
    handle
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_counted_as_the_split_counted_them() {
        for text in ["", "\n", "a", "a\nb", "a\n\nb\n", "\n\nab\ncd"] {
            assert_eq!(super::lines_in(text), text.split('\n').filter(|l| !l.is_empty()).count(), "{text:?}");
        }
    }
}
