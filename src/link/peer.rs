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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::link::connection::{self, LinkReader, LinkWriter};
use crate::wire::envelope;
use crate::link::sink::{DownReason, Limit, LinkEvent};
use crate::link::health::{self, now_us, Heard};
use crate::link::kernel::{Config, Shared};
use crate::link::unacked::{self, RawSocket, Unacked};

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

/// Frames are coalesced into writes of about this many bytes at most. Small
/// enough that a JS (node-ipc) receiver, which only parses when a read ends
/// on a frame boundary, gets whole frames read by read; large enough to
/// amortize the system calls.
const MAX_WRITE: usize = 64 * 1024;

/// Why an attempt to connect failed.
enum ConnectError {
    Tcp(std::io::Error),
    /// The TLS handshake failed: worth telling JS, it will not fix itself.
    Tls(std::io::Error),
}

/// A link just made: its halves, and its socket's handle, through which
/// failure detection sees what the node acknowledges (TLS links too).
type Dialled = (LinkReader, LinkWriter, RawSocket);

async fn dial(opts: &PeerOptions) -> Result<Dialled, ConnectError> {
    let tcp = TcpStream::connect((opts.host.as_str(), opts.port)).await.map_err(ConnectError::Tcp)?;
    let _ = tcp.set_nodelay(true);
    let raw = unacked::raw_socket(&tcp);
    match &opts.tls {
        None => {
            let (rd, wr) = connection::share_tcp(tcp);
            Ok((rd, wr, raw))
        }
        Some((config, name)) => {
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let tls = connector.connect(name.clone(), tcp).await.map_err(ConnectError::Tls)?;
            let (rd, wr) = connection::boxed(tls);
            Ok((rd, wr, raw))
        }
    }
}

/// Whether a read error only says that the other end is gone: closed
/// without TLS's close_notify (a process that exits does that), reset or
/// aborted. Such a link reconnects quietly, as a plain TCP link that reads
/// its end does.
fn link_went_away(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe)
}

/// Who may write to the link right now (see the module docs).
#[derive(Debug, Default)]
struct Lane {
    /// The socket of a plain TCP link that is up.
    tcp: Option<Arc<TcpStream>>,
    /// Which link `tcp` is (the task counts its links).
    link: u64,
    /// The task has work in hand or in its channel: new work queues behind it.
    busy: bool,
    /// What the link wrote that its node has not acknowledged, kept when
    /// the socket can say how much that is (see `unacked.rs`). Every write
    /// to the socket is recorded here, in the order of the bytes on the
    /// wire: callers write only while the lane is open, the task only
    /// while it is closed.
    unacked: Unacked,
    keep: bool,
    /// Bytes on the socket that `unacked` does not hold yet: the beginning
    /// of a frame a direct write left to the task to finish.
    partial: usize,
}

impl Lane {
    /// Keeps frames written whole (moved: no copy).
    fn wrote(&mut self, text: String, ends: Vec<usize>) {
        if self.keep {
            self.unacked.push(text, ends);
            self.trim();
        }
    }

    /// Keeps a copy of the frames of `text` from `from` to `to`, written whole.
    fn wrote_copy(&mut self, text: &str, ends: &[usize], from: usize, to: usize) {
        if self.keep {
            self.unacked.push_copy(text, ends, from, to);
            self.trim();
        }
    }

    /// Every `TRIM_EVERY` bytes, forgets what the node has acknowledged.
    fn trim(&mut self) {
        if !self.unacked.trim_due() {
            return;
        }
        match self.tcp.as_deref().and_then(unacked::unacked_bytes) {
            Some(n) => self.unacked.trim(n),
            None => {
                self.keep = false;
                self.unacked.clear();
            }
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
    /// [`now_us`] of the node's last sign of life: something came from it,
    /// or it acknowledged what we wrote while it had something to (0: none).
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
    /// Between a `nodedown` and the next `nodeup`: 1 + the index in
    /// `downs` of the reason (0: not down). A call with no timeout fails
    /// at once meanwhile.
    pub down: AtomicU8,
    lane: Mutex<Lane>,
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
    fn lane(&self) -> std::sync::MutexGuard<'_, Lane> {
        self.lane.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The JS side's handle on a peer task.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    pub id: u64,
    pub node_id: String,
    tx: mpsc::UnboundedSender<Command>,
    pub state: Arc<PeerState>,
}

impl PeerHandle {
    /// Queues a command; false when the task has ended.
    pub fn send(&self, cmd: Command) -> bool {
        let mut lane = self.state.lane();
        lane.busy = true;
        self.hand(cmd)
    }

    fn hand(&self, cmd: Command) -> bool {
        let size = handed_bytes(&cmd);
        self.state.handed.fetch_add(size, Ordering::Relaxed);
        if self.tx.send(cmd).is_ok() {
            return true;
        }
        self.state.handed.fetch_sub(size, Ordering::Relaxed);
        false
    }

    /// Sends envelopes serialised by JS (`envelope::encode_bodies`), to be
    /// signed with the cookie of `cfg` (the sender's settings now). With
    /// `direct`, when the lane is open, they are encoded and written on the
    /// calling thread; what the socket does not take at once is handed to
    /// the task. False when the task has ended.
    pub fn send_bodies(&self, text: String, cfg: Arc<Config>, direct: bool) -> bool {
        let mut lane = self.state.lane();
        if let (true, false, Some(tcp)) = (direct, lane.busy, lane.tcp.as_ref()) {
            let mut buf = String::with_capacity(text.len() + 96);
            let mut ends = Vec::new();
            let dropped = envelope::encode_bodies(&mut buf, cfg.cookie.as_ref(), &text, &mut ends);
            if dropped > 0 {
                tracing::warn!(peer = self.id, "dropped {dropped} malformed envelope(s)");
            }
            let written = connection::write_now(tcp, buf.as_bytes());
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
        Command::MaxLen(_) | Command::Stop { .. } | Command::Flush(_) => 0,
    }
}

/// The task's end of its channel: what it takes leaves
/// [`PeerState::handed`].
struct Inbox {
    rx: mpsc::UnboundedReceiver<Command>,
    state: Arc<PeerState>,
}

impl Inbox {
    /// Cancel safe, as `mpsc::UnboundedReceiver::recv`.
    async fn recv(&mut self) -> Option<Command> {
        let cmd = self.rx.recv().await;
        if let Some(c) = &cmd {
            self.took(c);
        }
        cmd
    }

    fn try_recv(&mut self) -> Result<Command, mpsc::error::TryRecvError> {
        let cmd = self.rx.try_recv()?;
        self.took(&cmd);
        Ok(cmd)
    }

    fn took(&self, cmd: &Command) {
        self.state.handed.fetch_sub(handed_bytes(cmd), Ordering::Relaxed);
    }
}

/// Starts a peer task on the kernel's runtime.
pub fn spawn(shared: &Arc<Shared>, id: u64, opts: PeerOptions) -> PeerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(PeerState::default());
    let handle = PeerHandle { id, node_id: opts.node_id.clone(), tx, state: state.clone() };
    let task = Peer {
        id,
        opts,
        shared: shared.clone(),
        rx: Inbox { rx, state: state.clone() },
        state,
        queue: VecDeque::new(),
        queue_bytes: 0,
        stash: VecDeque::new(),
        stash_bytes: 0,
        inflight: 0,
        rx_open: true,
        busy: false,
        backlog_freed: true,
        overflowing: false,
        ticker: None,
        up_at: 0,
        last_ping: 0,
        down_reason: DownReason::Closed,
        stopping: false,
        links: 0,
        heard: shared.hearing.watch(&handle.node_id),
        life: Life::Unproven,
        proof_after: 0,
        alive_from: 0,
        ping_due: false,
        proof_gap: 0,
        ping_out: false,
        raw: None,
        acks: Acks::default(),
        partial: 0,
        warned: false,
        saved: false,
    };
    shared.runtime.spawn(task.run());
    handle
}

/// How a phase of the task ended.
enum Next {
    Connected(LinkReader, LinkWriter, RawSocket),
    Reconnect,
    Exit,
}

struct Peer {
    id: u64,
    opts: PeerOptions,
    shared: Arc<Shared>,
    rx: Inbox,
    state: Arc<PeerState>,
    /// Encoded frames waiting for a link.
    queue: VecDeque<String>,
    queue_bytes: usize,
    /// Commands that arrived while a write waited on the socket, in order,
    /// their frames already encoded (as `Encoded` from no link).
    stash: VecDeque<Command>,
    stash_bytes: usize,
    /// Bytes of the write in hand not yet on the wire.
    inflight: usize,
    /// The channel has not been closed.
    rx_open: bool,
    /// BUSY was reported and DRAIN not yet.
    busy: bool,
    /// The last backlog's memory went back to the system (see
    /// [`give_back_memory`]); false from BUSY until it is written out.
    backlog_freed: bool,
    /// Frames were dropped and this episode was reported.
    overflowing: bool,
    /// Ticks while a link is up, every quarter of `net_tick`.
    ticker: Option<tokio::time::Interval>,
    /// When the current link came up, and when it last sent a keep-alive
    /// ping (`health::now_us`).
    up_at: u64,
    last_ping: u64,
    /// Why the current link ended, for NODE_DOWN.
    down_reason: DownReason,
    /// A graceful stop was asked for while the link was down.
    stopping: bool,
    /// Links made so far: the number of the current one.
    links: u64,
    /// What we hear from the node (on its links to us).
    heard: Arc<Heard>,
    life: Life,
    /// A sign of life later than this (`now_us`) makes the node up.
    proof_after: u64,
    /// When the node was last shown up.
    alive_from: u64,
    /// A keep-alive ping is to be written at the next frame boundary.
    ping_due: bool,
    /// While waiting for a sign of life: the time between two pings (µs),
    /// doubled after each up to a quarter of `net_tick`.
    proof_gap: u64,
    /// A ping was written and nothing has come since.
    ping_out: bool,
    /// The socket of the current link, to read what the node acknowledged.
    raw: Option<RawSocket>,
    acks: Acks,
    /// Bytes of the frame being written that are on the socket and not
    /// yet in the lane's `unacked` (see `close_lane`).
    partial: usize,
    /// The early warning of this silence was given.
    warned: bool,
    /// This silence was counted as a nodedown avoided by acknowledgements.
    saved: bool,
}

/// A link has a backlog when the socket would not take all we had for it,
/// or holds at least this much unacknowledged. Only then is the node's
/// acknowledging more a sign that it reads: the system of a stopped process
/// acknowledges small writes too, until its buffer is full, and a light
/// load (a few casts a second, their acknowledgements delayed) never leaves
/// this much outstanding.
const BACKLOG: usize = 64 * 1024;

/// The first pause between pings to a node not shown up yet.
const PROOF_GAP: Duration = Duration::from_millis(100);

/// More than the receive buffer Linux gives a socket at most by default
/// (6 MiB): a node whose window's edge moved this far since it last sent
/// us anything has read, even where its system cannot say how far it will
/// take bytes (see [`unacked::Progress::edge`]) and the edge is what it
/// acknowledged.
const BUFFERS: u64 = 8 * 1024 * 1024;

/// How far the node would take bytes at the last tick, and what it had
/// acknowledged.
#[derive(Debug, Default)]
struct Acks {
    edge: u64,
    acked: u64,
    /// The last time we heard from the node, as seen by a tick, and the
    /// edge then.
    heard_at: u64,
    at_heard: u64,
    /// The link had a backlog at the last tick (see [`BACKLOG`]).
    backlog: bool,
    /// `now_us` of the last tick that saw the edge move on under a backlog
    /// the link had at the tick before.
    at: u64,
}

impl Acks {
    /// Takes in where the node stood at a tick (`heard_at` being the last
    /// time we heard from it, `backlog` whether the link has one now):
    /// true when that shows its process reads.
    fn observe(&mut self, p: &unacked::Progress, heard_at: u64, backlog: bool) -> bool {
        if heard_at > self.heard_at {
            self.heard_at = heard_at;
            self.at_heard = p.edge;
        }
        // The edge moved farther since we last heard from the node than its
        // system can hold unread: its process reads.
        let read = p.edge.saturating_sub(self.at_heard) >= BUFFERS;
        let reads = (self.backlog || read) && self.moved_on(p);
        self.backlog = backlog;
        self.edge = p.edge;
        self.acked = p.acked;
        reads
    }

    /// The edge of the node's window moved on since the last tick by more
    /// than its system lets it creep without the process reading: a
    /// stopped process's system still acknowledges what fits in its
    /// buffer, and as it does the edge moves a little (by about 1% of what
    /// arrives, as Linux revises its estimate of what the buffer holds),
    /// while a process that reads moves it by what it read, as much as was
    /// acknowledged once its buffer is full. Where the system offers no
    /// window the edge is what was acknowledged, and any of it counts.
    fn moved_on(&self, now: &unacked::Progress) -> bool {
        let moved = now.edge.saturating_sub(self.edge);
        let acked = now.acked.saturating_sub(self.acked);
        moved > 0 && moved >= acked / EDGE_SHARE
    }
}

/// A reading node moves the edge of its window by at least this share of
/// what it acknowledged in the same time (1/16), unless it reads that much
/// more slowly than the link brings it bytes and its buffer is not full
/// yet; a stopped one creeps by far less.
const EDGE_SHARE: u64 = 16;

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

/// However the task ends (its loop returning, the runtime shutting down, or
/// a bug unwinding it), the socket is withdrawn from the lane, so no caller
/// writes to a link that nothing tends any more.
impl Drop for Peer {
    fn drop(&mut self) {
        let mut lane = self.state.lane();
        lane.tcp = None;
        lane.busy = true;
        lane.unacked.clear();
        drop(lane);
        self.state.connected.store(false, Ordering::Release);
    }
}

/// Frames to write: their text and where each ends. Always whole frames:
/// the rest of a frame a direct write began is written before a batch.
#[derive(Default)]
struct Batch {
    buf: String,
    ends: Vec<usize>,
}

impl Batch {
    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Marks the end of a frame just appended.
    fn end_frame(&mut self) {
        if self.ends.last().copied().unwrap_or(0) != self.buf.len() {
            self.ends.push(self.buf.len());
        }
    }
}

/// The start of the frame that holds byte `at` (`ends` ascending).
fn frame_start(ends: &[usize], at: usize) -> (usize, usize) {
    let i = ends.partition_point(|&end| end <= at);
    (i, if i == 0 { 0 } else { ends[i - 1] })
}

/// The next tick of a live link's ticker; never, without one.
async fn next_tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(every) => {
            every.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Bytes of an `Encoded` command not yet on the wire.
fn encoded_bytes(cmd: &Command) -> usize {
    match cmd {
        Command::Encoded { buf, written, .. } => buf.len().saturating_sub(*written),
        _ => 0,
    }
}

impl Peer {
    async fn run(mut self) {
        let mut failures: u64 = 0;
        let mut gave_up = false;
        loop {
            let next = if gave_up { self.offline_forever().await } else { self.connect().await };
            match next {
                Next::Connected(rd, wr, raw) => {
                    failures = 0;
                    tracing::debug!(peer = self.id, "connected to {}:{}", self.opts.host, self.opts.port);
                    match self.connected(rd, wr, raw).await {
                        Next::Exit => break,
                        _ => {
                            tracing::debug!(peer = self.id, "link to {}:{} lost, reconnecting", self.opts.host, self.opts.port);
                            self.emit(LinkEvent::PeerDisconnect { peer: self.id });
                            if self.wait(self.opts.retry).await.is_none() {
                                break;
                            }
                        }
                    }
                }
                Next::Reconnect => {
                    failures += 1;
                    self.emit(LinkEvent::PeerDisconnect { peer: self.id });
                    if self.opts.max_retries.is_some_and(|max| failures >= max) {
                        gave_up = true;
                        let msg = format!(
                            "gave up connecting to {}:{} after {failures} attempts",
                            self.opts.host, self.opts.port
                        );
                        tracing::debug!(peer = self.id, "{msg}");
                        self.report(&msg);
                        continue;
                    }
                    if self.wait(self.opts.retry).await.is_none() {
                        break;
                    }
                }
                Next::Exit => break,
            }
        }
        self.state.connected.store(false, Ordering::Release);
        self.state.queued.store(0, Ordering::Release);
        self.state.unwritten.store(0, Ordering::Release);
        self.emit(LinkEvent::PeerClosed { peer: self.id });
    }

    fn emit(&self, event: LinkEvent) {
        self.shared.sink.event(event);
    }

    /// Tells the kernel's owner why the link cannot come up.
    fn report(&self, msg: &str) {
        self.emit(LinkEvent::PeerError { peer: self.id, message: msg.to_string() });
    }

    fn set_queued(&mut self) {
        self.state.queued.store(self.queue.len(), Ordering::Release);
        self.account();
    }

    /// Frames not yet written: queued, stashed, and the write in hand.
    fn unwritten(&self) -> usize {
        self.queue_bytes + self.stash_bytes + self.inflight
    }

    /// Publishes the unwritten bytes and reports crossing the high-water
    /// mark (BUSY) and falling back to half of it (DRAIN). An overflow
    /// episode ends there too, on a live link.
    fn account(&mut self) {
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
    fn hold(&mut self, cmd: Command) {
        let cmd = match cmd {
            // Only the queue of a link that is down obeys it: apply it now.
            Command::MaxLen(n) => {
                self.opts.max_len = n;
                return;
            }
            c @ (Command::Stop { .. } | Command::Flush(_) | Command::Encoded { .. }) => c,
            other => {
                let mut batch = Batch::default();
                self.encode(other, &mut batch);
                if batch.buf.is_empty() {
                    return;
                }
                // Held for a while, and counted by its length: no slack.
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

    /// A tick of a live link, every quarter of `net_tick`: failure
    /// detection. Signs of life are anything read from the node (on its
    /// links to us) and its system's offering to take more of what we
    /// write (the edge of its window moving on, which comes of its process
    /// reading), while the link has a backlog ([`BACKLOG`]) or once the
    /// edge moved farther since it last sent anything than its system can
    /// hold unread ([`BUFFERS`]): a node busy reading a flood answers our
    /// pings late, yet it reads. A node that is up is declared down when
    /// neither came for a whole `net_tick` (so either the edge stood still
    /// under a backlog, or the pings of a link with none went unanswered).
    /// The link is kept: what it holds arrives, once, when the node runs
    /// again (a stopped node, a partition that heals), and the node is up
    /// again with its first sign of life. A node not shown up yet (no
    /// sign of life since the link came up or since it was declared down)
    /// is pinged every tick until one comes. A node with no link to us
    /// cannot answer a ping: it is up only once it sends us something.
    fn tick(&mut self) {
        let Some(window) = self.opts.net_tick else { return };
        let window = window.as_micros() as u64;
        let now = now_us();
        let heard_at = self.heard.last_us.load(Ordering::Relaxed);
        if let Some(p) = self.raw.and_then(unacked::progress) {
            let backlog = self.unwritten() > 0 || p.outq >= BACKLOG;
            if self.acks.observe(&p, heard_at, backlog) {
                self.acks.at = now;
            }
        }
        if self.life != Life::Up {
            self.check_proof();
        }
        let heard_from = heard_at.max(self.alive_from);
        let silent = now.saturating_sub(heard_from);
        if self.life == Life::Up {
            let alive = heard_from.max(self.acks.at);
            self.state.alive_at.store(alive, Ordering::Relaxed);
            if self.ping_out {
                if alive >= self.last_ping {
                    self.ping_out = false;
                } else {
                    self.state.ticks_missed.fetch_add(1, Ordering::Relaxed);
                }
            }
            let quiet = now.saturating_sub(alive);
            if quiet < window / 2 {
                self.warned = false;
            } else if !self.warned {
                self.warned = true;
                health::warn_quiet(&self.opts.node_id, quiet / 1000, window / 1000);
            }
            if silent < window {
                self.saved = false;
            } else if quiet < window && !self.saved {
                self.saved = true;
                self.state.ack_saves.fetch_add(1, Ordering::Relaxed);
            }
            if quiet >= window && self.heard.links.load(Ordering::Relaxed) > 0 {
                tracing::debug!(peer = self.id, "nothing from {} for {} ms: down", self.opts.node_id, quiet / 1000);
                self.declare_down(now);
            }
        }
        let due = if self.life == Life::Up {
            silent >= window / 4 && now.saturating_sub(self.last_ping) >= window / 4
        } else {
            // Waiting for a sign of life: pinged soon and then less and less
            // often, so a node that links back to us a moment after our link
            // came up is up a moment after.
            let due = now.saturating_sub(self.last_ping) >= self.proof_gap;
            if due && self.last_ping != 0 {
                self.proof_gap = (self.proof_gap * 2).min(window / 4);
            }
            due
        };
        if due {
            self.last_ping = now;
            // Close the lane first: then no caller writes meanwhile, and
            // whatever one handed over (the rest of a frame it began,
            // perhaps) is in the stash, ahead of what comes later; the
            // ping itself goes out at the next frame boundary.
            self.state.lane().busy = true;
            while let Ok(cmd) = self.rx.try_recv() {
                self.hold(cmd);
            }
            self.ping_due = true;
        }
    }

    /// A new link, or a node declared down: waiting for a sign of life
    /// newer than `after`. With failure detection off there is nothing to
    /// wait for: the node is up with its link.
    fn await_life(&mut self, after: u64) {
        if self.opts.net_tick.is_none() {
            self.declare_up(after);
            return;
        }
        self.wait_for_life(Life::Unproven, after);
        // The first ping at once: a node that runs answers it within a
        // round trip.
        self.last_ping = 0;
        self.tick();
    }

    /// The node is up once something came from it since we began waiting.
    fn check_proof(&mut self) {
        if self.life == Life::Up {
            return;
        }
        if self.heard.last_us.load(Ordering::Relaxed) > self.proof_after {
            self.declare_up(now_us());
        } else {
            self.heard.watch_for_life();
        }
    }

    fn declare_up(&mut self, now: u64) {
        self.set_ticker(false);
        self.life = Life::Up;
        self.state.life.store(Life::Up as u8, Ordering::Relaxed);
        self.state.alive_at.store(now, Ordering::Relaxed);
        self.alive_from = now;
        self.ping_out = false;
        self.warned = false;
        self.saved = false;
        self.heard.watch.store(false, Ordering::Relaxed);
        self.state.down.store(0, Ordering::Relaxed);
        self.emit(LinkEvent::NodeUp { peer: self.id });
    }

    /// A node that is up went silent for a whole window: `nodedown`, with
    /// the link kept (see `tick`).
    fn declare_down(&mut self, now: u64) {
        let reason = DownReason::TickTimeout;
        self.state.downs[reason.index()].fetch_add(1, Ordering::Relaxed);
        self.state.down.store(reason.index() as u8 + 1, Ordering::Relaxed);
        self.emit(LinkEvent::NodeDown { peer: self.id, reason });
        self.wait_for_life(Life::Down, now);
    }

    /// `life` until a sign of life newer than `after`: watched for, and
    /// pinged every [`PROOF_GAP`] at first.
    fn wait_for_life(&mut self, life: Life, after: u64) {
        self.life = life;
        self.state.life.store(life as u8, Ordering::Relaxed);
        self.proof_after = after;
        self.heard.watch_for_life();
        let quarter = self.opts.net_tick.map_or(u64::MAX, |w| w.as_micros() as u64 / 4);
        self.proof_gap = (PROOF_GAP.as_micros() as u64).min(quarter);
        self.set_ticker(true);
    }

    /// Ticks every quarter of `net_tick`, or, while waiting for a sign of
    /// life, often enough to ping every [`PROOF_GAP`] at first.
    fn set_ticker(&mut self, waiting: bool) {
        self.ticker = self.opts.net_tick.map(|t| {
            let quarter = (t / 4).max(Duration::from_millis(1));
            let every = if waiting { quarter.min(PROOF_GAP) } else { quarter };
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every
        });
    }

    /// True when the stash begins with the rest of a frame the socket holds
    /// the beginning of: that goes out before anything else.
    fn rest_first(&self) -> bool {
        matches!(self.stash.front(), Some(Command::Encoded { buf, ends, written, link })
            if *link == self.links && *written < buf.len() && frame_start(ends, *written).1 < *written)
    }

    /// Writes a keep-alive ping now (at a frame boundary), stamped for its
    /// round trip. Kept like any frame, so what the socket holds maps onto
    /// what was written; it is left out when frames are written again.
    async fn write_ping(&mut self, wr: &mut LinkWriter) -> std::io::Result<()> {
        self.ping_due = false;
        let cfg = self.shared.config();
        let mut ping = Batch::default();
        let mut text = String::with_capacity(cfg.from_json.len() + 96);
        envelope::write_keep_alive_line(&mut text, &cfg.from_json, now_us());
        self.encode(Command::Bodies { text, cfg }, &mut ping);
        self.write_out(wr, ping.buf.as_bytes()).await?;
        self.partial = 0;
        self.ping_out = true;
        self.state.pings.fetch_add(1, Ordering::Relaxed);
        self.state.sent_frames.fetch_add(1, Ordering::Relaxed);
        self.state.sent_bytes.fetch_add(ping.buf.len() as u64, Ordering::Relaxed);
        self.state.lane().wrote(ping.buf, ping.ends);
        Ok(())
    }

    /// The oldest stashed command.
    fn next_held(&mut self) -> Option<Command> {
        let cmd = self.stash.pop_front()?;
        self.stash_bytes -= encoded_bytes(&cmd);
        Some(cmd)
    }

    /// Appends the frames of a command to `batch`. `Encoded` frames are
    /// handled by the caller, which knows the link.
    fn encode(&self, cmd: Command, batch: &mut Batch) {
        match cmd {
            Command::Bodies { text, cfg } => {
                let dropped = envelope::encode_bodies(&mut batch.buf, cfg.cookie.as_ref(), &text, &mut batch.ends);
                if dropped > 0 {
                    tracing::warn!(peer = self.id, "dropped {dropped} malformed envelope(s)");
                }
            }
            Command::Buffer { head, bytes, cfg } => {
                if envelope::encode_buffer_message(&mut batch.buf, cfg.cookie.as_ref(), &head, &bytes) {
                    batch.end_frame();
                } else {
                    tracing::warn!(peer = self.id, "dropped a Buffer message with a malformed envelope");
                }
            }
            Command::Raw { kind, json } => {
                let mut bytes = Vec::with_capacity(json.len() + 32);
                crate::wire::frame::encode_frame(&mut bytes, &kind, &json);
                // Built from two strings and ASCII punctuation: valid UTF-8.
                batch.buf.push_str(&String::from_utf8_lossy(&bytes));
                batch.end_frame();
            }
            Command::Encoded { .. } | Command::MaxLen(_) | Command::Stop { .. } | Command::Flush(_) => {}
        }
    }

    /// The frames of `buf` (ending at `ends`) from the one holding byte `at`
    /// on, each whole: what is not known to be on the wire once `at` bytes
    /// were written.
    fn frames_from(buf: &str, ends: &[usize], at: usize) -> Vec<String> {
        let (first, mut start) = frame_start(ends, at);
        let mut out = Vec::with_capacity(ends.len() - first);
        for &end in &ends[first..] {
            out.push(buf[start..end].to_string());
            start = end;
        }
        out
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

    /// Handles a command while there is no link. Returns false to exit.
    fn offline(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::MaxLen(n) => {
                self.opts.max_len = n;
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
                let mut batch = Batch::default();
                self.encode(other, &mut batch);
                for frame in Self::frames_from(&batch.buf, &batch.ends, 0) {
                    self.enqueue(frame);
                }
            }
        }
        true
    }

    /// Sleeps while still taking commands. `None` when told to exit.
    async fn wait(&mut self, d: Duration) -> Option<()> {
        let sleep = tokio::time::sleep(d);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Some(()),
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => if !self.offline(cmd) { return None },
                    None => return None,
                },
            }
        }
    }

    async fn offline_forever(&mut self) -> Next {
        while let Some(cmd) = self.rx.recv().await {
            if !self.offline(cmd) {
                break;
            }
        }
        Next::Exit
    }

    async fn connect(&mut self) -> Next {
        let opts = self.opts.clone();
        let connect = dial(&opts);
        tokio::pin!(connect);
        loop {
            tokio::select! {
                res = &mut connect => return match res {
                    Ok((rd, wr, raw)) => Next::Connected(rd, wr, raw),
                    Err(ConnectError::Tcp(e)) => {
                        tracing::debug!(peer = self.id, "connect to {}:{} failed: {e}", self.opts.host, self.opts.port);
                        Next::Reconnect
                    }
                    Err(ConnectError::Tls(e)) => {
                        let msg = format!("TLS handshake with {}:{} failed: {e}", self.opts.host, self.opts.port);
                        self.report(&msg);
                        Next::Reconnect
                    }
                },
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => if !self.offline(cmd) { return Next::Exit },
                    None => return Next::Exit,
                },
            }
        }
    }

    /// Opens the lane if nothing waits in the channel; otherwise returns the
    /// next command (the lane stays closed). Plain TCP links only.
    fn idle(&mut self, wr: &LinkWriter) -> Option<Command> {
        wr.shared_tcp()?;
        let mut lane = self.state.lane();
        match self.rx.try_recv() {
            Ok(cmd) => Some(cmd),
            Err(_) => {
                lane.busy = false;
                None
            }
        }
    }

    /// Publishes the socket of a new link.
    fn open_lane(&self, wr: &LinkWriter) {
        let mut lane = self.state.lane();
        lane.tcp = wr.shared_tcp().cloned();
        lane.link = self.links;
        lane.busy = true;
        lane.unacked.clear();
        lane.keep = lane.tcp.as_deref().and_then(unacked::unacked_bytes).is_some();
    }

    /// Withdraws the socket of the link that ended, and returns the frames
    /// it wrote that the node never acknowledged (keep-alive pings left
    /// out; see `unacked.rs`): written again first on the next link, they
    /// arrive once. The socket says how many bytes those are even after a
    /// reset. The frames of a write that failed are already back in the
    /// queue, so the bytes of it on the socket (`partial`) are not counted
    /// twice. One lock: no caller writes in between. Nothing is written
    /// again after a stop, which waited for its writes.
    fn close_lane(&mut self, wr: &LinkWriter) -> Vec<String> {
        let mut lane = self.state.lane();
        let mut replay = Vec::new();
        if self.down_reason != DownReason::Stopped && lane.keep {
            if let Some(n) = wr.shared_tcp().and_then(|tcp| unacked::unacked_bytes(tcp)) {
                let unrecorded = lane.partial + self.partial;
                replay = lane.unacked.take_last(n.saturating_sub(unrecorded));
                replay.retain(|f| !envelope::is_keep_alive_ping(f));
            }
        }
        lane.tcp = None;
        lane.link = self.links;
        lane.busy = true;
        lane.unacked.clear();
        lane.keep = false;
        lane.partial = 0;
        self.partial = 0;
        replay
    }

    /// Runs a live link until it breaks (`Reconnect`) or we are told to stop.
    async fn connected(&mut self, mut rd: LinkReader, mut wr: LinkWriter, raw: RawSocket) -> Next {
        self.links += 1;
        self.open_lane(&wr);
        self.raw = Some(raw);
        self.acks = Acks::default();
        self.down_reason = DownReason::Closed;
        self.up_at = now_us();
        self.set_ticker(false);
        let mut next = self.serve(&mut rd, &mut wr).await;
        self.ticker = None;
        self.raw = None;
        let replay = self.close_lane(&wr);
        if !replay.is_empty() {
            // Ahead of the frames of a write that failed (already back at
            // the front of the queue): they were written before.
            tracing::debug!(peer = self.id, "{} frame(s) not acknowledged by {}: written again on the next link", replay.len(), self.opts.node_id);
            self.requeue(replay);
        }
        self.state.connected.store(false, Ordering::Release);
        self.state.life.store(0, Ordering::Relaxed);
        self.heard.watch.store(false, Ordering::Relaxed);
        // Sent whatever the node's life: calls waiting on a link that ended
        // fail now. Only a node that was up is announced down (`nodedown`):
        // up and down come in pairs.
        if self.life == Life::Up {
            let i = self.down_reason.index();
            self.state.downs[i].fetch_add(1, Ordering::Relaxed);
            self.state.down.store(i as u8 + 1, Ordering::Relaxed);
        }
        self.emit(LinkEvent::NodeDown { peer: self.id, reason: self.down_reason });
        self.life = Life::Unproven;
        // What arrived during the last write waits for the next link, behind
        // the frames of that write (already back in the queue).
        self.inflight = 0;
        while let Some(cmd) = self.next_held() {
            if !self.offline(cmd) {
                next = Next::Exit;
                break;
            }
        }
        self.stash.clear();
        self.stash_bytes = 0;
        self.account();
        next
    }

    async fn serve(&mut self, rd: &mut LinkReader, wr: &mut LinkWriter) -> Next {
        self.state.connected.store(true, Ordering::Release);
        self.overflowing = false;
        self.emit(LinkEvent::PeerConnect { peer: self.id });
        self.await_life(self.up_at);

        let mut batch = Batch::default();
        // Flush what waited for the link, oldest first.
        if !self.queue.is_empty() {
            for f in self.queue.drain(..) {
                batch.buf.push_str(&f);
                batch.ends.push(batch.buf.len());
            }
            self.queue_bytes = 0;
            self.set_queued();
            if !self.write(wr, &batch).await {
                return Next::Reconnect;
            }
            self.emit(LinkEvent::PeerDrained { peer: self.id });
        }
        if self.stopping {
            self.down_reason = DownReason::Stopped;
            wr.shutdown().await;
            self.emit(LinkEvent::PeerDisconnect { peer: self.id });
            return Next::Exit;
        }

        let mut scratch = vec![0u8; 4096];
        loop {
            // A keep-alive ping goes out at the next frame boundary, ahead
            // of any backlog, unless the socket holds the beginning of a
            // frame whose rest waits in the stash.
            if self.ping_due && !self.rest_first() && self.write_ping(wr).await.is_err() {
                return Next::Reconnect;
            }
            let held = self.next_held();
            let first = match held.or_else(|| self.idle(wr)) {
                Some(cmd) => cmd,
                None => tokio::select! {
                    cmd = self.rx.recv() => match cmd {
                        Some(cmd) => cmd,
                        None => return Next::Exit,
                    },
                    n = rd.read(&mut scratch) => match n {
                        // The remote end closed the link.
                        Ok(0) => return Next::Reconnect,
                        Err(e) => {
                            // Under TLS 1.3 a server that rejects our certificate
                            // says so only after the handshake: tell JS why. A
                            // peer that went away (it exited: no close_notify)
                            // is an ordinary disconnect.
                            if self.opts.tls.is_some() && !link_went_away(&e) {
                                let msg = format!("TLS link to {}:{} failed: {e}", self.opts.host, self.opts.port);
                                self.report(&msg);
                            }
                            return Next::Reconnect;
                        }
                        // Nothing is expected on an outbound link; ignore it.
                        Ok(_) => continue,
                    },
                    _ = next_tick(&mut self.ticker) => {
                        self.tick();
                        continue;
                    }
                    // A sign of life from a node not shown up yet.
                    _ = self.heard.wake.notified(), if self.life != Life::Up => {
                        self.check_proof();
                        continue;
                    }
                },
            };
            batch.clear();
            let mut stop = None;
            let mut flushed = Vec::new();
            let mut next = Some(first);
            // Coalesce everything already waiting into one write.
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Stop { force } => {
                        stop = Some(force);
                        self.down_reason = DownReason::Stopped;
                        break;
                    }
                    Command::MaxLen(n) => self.opts.max_len = n,
                    Command::Flush(done) => flushed.push(done),
                    Command::Encoded { buf, ends, written, link } => {
                        let (first, start) = frame_start(&ends, written);
                        if link == self.links && start < written {
                            // The rest of a frame this link already carries
                            // the beginning of. The direct write that began
                            // it found the task idle, so this is its first
                            // command and nothing can come in between. The
                            // socket may have cut the frame inside a
                            // character: its rest is written now, as bytes.
                            debug_assert!(batch.buf.is_empty());
                            let rest_end = ends[first];
                            self.inflight = buf.len() - written;
                            if let Err(e) = self.write_out(wr, &buf.as_bytes()[written..rest_end]).await {
                                tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                                self.requeue(Self::frames_from(&buf, &ends, written));
                                return Next::Reconnect;
                            }
                            self.partial = 0;
                            let mut lane = self.state.lane();
                            lane.partial = 0;
                            lane.wrote_copy(&buf, &ends, start, rest_end);
                            drop(lane);
                            batch.buf.push_str(&buf[rest_end..]);
                            batch.ends.extend(ends[first + 1..].iter().map(|e| e - rest_end));
                        } else {
                            // Whole frames from the first one not on the wire
                            // (on another link: resent whole).
                            let base = batch.buf.len();
                            batch.buf.push_str(&buf[start..]);
                            batch.ends.extend(ends[first..].iter().map(|e| e - start + base));
                        }
                    }
                    other => self.encode(other, &mut batch),
                }
                if batch.buf.len() >= MAX_WRITE {
                    break;
                }
                // The stash is older than anything in the channel.
                next = self.next_held().or_else(|| self.rx.try_recv().ok());
            }
            // What was handed over before a stop is written even when the
            // stop is forced: node-ipc writes each frame as it is sent, so
            // `cast(); disconnect(node, true)` delivers.
            if !batch.buf.is_empty() && !self.write(wr, &batch).await {
                if stop == Some(true) {
                    self.emit(LinkEvent::PeerDisconnect { peer: self.id });
                    return Next::Exit;
                }
                // A graceful stop still delivers what was sent before it:
                // the frames went back to the queue; the next link flushes
                // them and then closes.
                if stop == Some(false) {
                    self.stopping = true;
                }
                return Next::Reconnect;
            }
            for done in flushed {
                let _ = done.send(());
            }
            if let Some(force) = stop {
                if !force {
                    wr.shutdown().await;
                }
                self.emit(LinkEvent::PeerDisconnect { peer: self.id });
                return Next::Exit;
            }
        }
    }

    /// Writes a batch, in writes of at most about `MAX_WRITE` bytes that end
    /// on frame boundaries. On failure every frame not known to be whole on
    /// the wire goes back to the front of the queue.
    async fn write(&mut self, wr: &mut LinkWriter, batch: &Batch) -> bool {
        let mut start = 0;
        let mut i = 0;
        self.inflight = batch.buf.len();
        self.account();
        while i < batch.ends.len() {
            if self.ping_due {
                if let Err(e) = self.write_ping(wr).await {
                    tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                    self.inflight = 0;
                    self.requeue(Self::frames_from(&batch.buf, &batch.ends, start));
                    return false;
                }
            }
            let first = i;
            let mut end = batch.ends[i];
            i += 1;
            while i < batch.ends.len() && batch.ends[i] - start <= MAX_WRITE {
                end = batch.ends[i];
                i += 1;
            }
            if let Err(e) = self.write_out(wr, &batch.buf.as_bytes()[start..end]).await {
                tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                self.inflight = 0;
                self.requeue(Self::frames_from(&batch.buf, &batch.ends, start));
                return false;
            }
            self.partial = 0;
            self.state.lane().wrote_copy(&batch.buf, &batch.ends, start, end);
            self.state.sent_frames.fetch_add((i - first) as u64, Ordering::Relaxed);
            self.state.sent_bytes.fetch_add((end - start) as u64, Ordering::Relaxed);
            start = end;
            self.inflight = batch.buf.len() - start;
            self.account();
        }
        true
    }

    /// Writes all of `bytes`, taking commands into the stash whenever the
    /// socket makes the write wait, so a peer that does not read holds
    /// back at most `max_bytes`, not everything JS sends it.
    /// What the socket took counts in `partial` until the caller records
    /// the frames whole. A tick that is due comes first: toward a node that
    /// reads as fast as we write, the socket is always ready, and a tick
    /// polled after it would wait for the backlog to end.
    async fn write_out(&mut self, wr: &mut LinkWriter, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            tokio::select! {
                biased;
                _ = next_tick(&mut self.ticker) => self.tick(),
                n = wr.write_some(bytes) => {
                    let n = n?;
                    self.partial += n;
                    bytes = &bytes[n..];
                }
                cmd = self.rx.recv(), if self.rx_open => match cmd {
                    Some(cmd) => self.hold(cmd),
                    None => self.rx_open = false,
                },
            }
        }
        loop {
            tokio::select! {
                biased;
                _ = next_tick(&mut self.ticker) => self.tick(),
                done = wr.flush() => return done,
                cmd = self.rx.recv(), if self.rx_open => match cmd {
                    Some(cmd) => self.hold(cmd),
                    None => self.rx_open = false,
                },
            }
        }
    }

    /// Puts `frames` back at the front of the queue, in their order, dropping
    /// the oldest past `max_len`.
    fn requeue(&mut self, frames: Vec<String>) {
        for f in frames.into_iter().rev() {
            self.queue_bytes += f.len();
            self.queue.push_front(f);
        }
        self.trim_queue();
        self.set_queued();
    }
}

#[cfg(test)]
mod tests {
    use super::frame_start;

    #[test]
    fn a_peer_that_went_away_is_not_a_tls_failure() {
        use std::io::{Error, ErrorKind};
        assert!(super::link_went_away(&Error::new(ErrorKind::UnexpectedEof, "no close_notify")));
        assert!(super::link_went_away(&Error::from(ErrorKind::ConnectionReset)));
        assert!(!super::link_went_away(&Error::new(ErrorKind::InvalidData, "received fatal alert: BadCertificate")));
    }

    #[test]
    fn frame_start_finds_the_frame_holding_a_byte() {
        let ends = [10, 25, 40];
        assert_eq!(frame_start(&ends, 0), (0, 0));
        assert_eq!(frame_start(&ends, 9), (0, 0));
        assert_eq!(frame_start(&ends, 10), (1, 10));
        assert_eq!(frame_start(&ends, 30), (2, 25));
        assert_eq!(frame_start(&ends, 40), (3, 40));
        assert_eq!(frame_start(&[], 0), (0, 0));
    }

    use super::{Acks, BUFFERS};
    use crate::link::unacked::Progress;

    const MIB: u64 = 1024 * 1024;

    /// A flood at 2 MiB a tick toward a node whose process stopped: its
    /// system acknowledges it into a 16 MiB buffer, the edge creeping by
    /// 1% of that, and nothing of it is a sign of life, backlog or none,
    /// however far the acknowledgements go past `BUFFERS`.
    #[test]
    fn a_stopped_process_filling_its_buffer_shows_no_life() {
        let mut acks = Acks::default();
        let (mut acked, mut edge) = (100 * MIB, 116 * MIB);
        acks.observe(&Progress { acked, edge, outq: 0 }, 1, true);
        for _ in 0..8 {
            acked += 2 * MIB;
            edge += 2 * MIB / 100;
            assert!(!acks.observe(&Progress { acked, edge, outq: 4 * MIB as usize }, 1, true));
        }
        assert!(acked - 100 * MIB > BUFFERS);
    }

    /// A process that reads, its buffer full (the edge moves with what is
    /// acknowledged) or filling while it reads at an eighth of the pace of
    /// the flood, shows life under a backlog; without one, only once the
    /// edge moved past `BUFFERS` since we last heard from it.
    #[test]
    fn a_reading_process_shows_life_under_a_backlog() {
        let mut acks = Acks::default();
        let (mut acked, mut edge) = (0, 6 * MIB);
        acks.observe(&Progress { acked, edge, outq: 0 }, 1, true);
        acked += 256 * 1024;
        edge += 256 * 1024;
        assert!(acks.observe(&Progress { acked, edge, outq: 0 }, 1, true));
        acked += 2 * MIB;
        edge += MIB / 4;
        assert!(acks.observe(&Progress { acked, edge, outq: 0 }, 1, false));
        // No backlog at the tick before: a light load's acknowledgements
        // say nothing, until the edge went farther than any buffer holds.
        let mut shown = 0;
        for _ in 0..8 {
            acked += 2 * MIB;
            edge += 2 * MIB;
            shown += acks.observe(&Progress { acked, edge, outq: 0 }, 1, false) as usize;
        }
        // From 6.5 MiB past the edge we last heard at, 2 MiB a tick: three
        // ticks short of BUFFERS show nothing, the five after it do.
        assert_eq!(shown, 5);
        // Hearing from the node starts the count again.
        acked += MIB;
        edge += MIB;
        assert!(!acks.observe(&Progress { acked, edge, outq: 0 }, 2, false));
    }

    /// Where the system does not say what window the node offers, the edge
    /// is what it acknowledged, and any of a backlog's acknowledgements
    /// counts, as before the edge was known.
    #[test]
    fn without_a_window_acknowledgements_count() {
        let mut acks = Acks::default();
        acks.observe(&Progress { acked: 0, edge: 0, outq: 0 }, 1, true);
        assert!(acks.observe(&Progress { acked: 1000, edge: 1000, outq: 0 }, 1, true));
        assert!(!acks.observe(&Progress { acked: 1000, edge: 1000, outq: 0 }, 1, true));
    }
}
