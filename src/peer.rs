//! Outbound connections ("sinks"): one task per peer node.
//!
//! A peer task owns its socket. It connects, retries every `retry` after a
//! failure or a lost link (up to `max_retries` attempts in a row, as the
//! reference transport does), and while the link is down it keeps outgoing
//! frames in a queue of at most `max_len` entries, dropping the oldest first.
//! On reconnect the queue is written before anything newer, so order holds.
//! Writes are coalesced: every frame waiting in the channel goes out in one
//! write. Frames of a write that failed go back to the front of the queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::connection::{self, Reader, Writer};
use crate::envelope::{self, OutMessage};
use crate::events::kind;
use crate::kernel::Shared;

/// Work for a peer task, in the order JS issued it.
#[derive(Debug)]
pub enum Command {
    Message(OutMessage),
    Ping(String),
    /// A frame of any type with JSON data, from `Connection.send`.
    Raw { kind: String, json: String },
    MaxLen(usize),
    /// Close. Without force, everything already handed over is written
    /// first (connecting first if the link is down).
    Stop { force: bool },
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
    /// TLS client settings and the name the server must prove.
    pub tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
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

async fn dial(opts: &PeerOptions) -> Result<(Reader, Writer), ConnectError> {
    let tcp = TcpStream::connect((opts.host.as_str(), opts.port)).await.map_err(ConnectError::Tcp)?;
    let _ = tcp.set_nodelay(true);
    match &opts.tls {
        None => Ok(connection::split_tcp(tcp)),
        Some((config, name)) => {
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let tls = connector.connect(name.clone(), tcp).await.map_err(ConnectError::Tls)?;
            Ok(connection::split(tls))
        }
    }
}

/// State JS can read without a round trip to the task.
#[derive(Debug, Default)]
pub struct PeerState {
    pub queued: AtomicUsize,
    pub connected: AtomicBool,
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
        self.tx.send(cmd).is_ok()
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
        rx,
        state,
        queue: VecDeque::new(),
        stopping: false,
    };
    shared.runtime.spawn(task.run());
    handle
}

/// How a phase of the task ended.
enum Next {
    Connected(Reader, Writer),
    Reconnect,
    Exit,
}

struct Peer {
    id: u64,
    opts: PeerOptions,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Command>,
    state: Arc<PeerState>,
    /// Encoded frames waiting for a link.
    queue: VecDeque<String>,
    /// A graceful stop was asked for while the link was down.
    stopping: bool,
}

impl Peer {
    async fn run(mut self) {
        let mut failures: u64 = 0;
        let mut gave_up = false;
        loop {
            let next = if gave_up { self.offline_forever().await } else { self.connect().await };
            match next {
                Next::Connected(rd, wr) => {
                    failures = 0;
                    match self.connected(rd, wr).await {
                        Next::Exit => break,
                        _ => {
                            self.emit(kind::PEER_DISCONNECT);
                            if self.wait(self.opts.retry).await.is_none() {
                                break;
                            }
                        }
                    }
                }
                Next::Reconnect => {
                    failures += 1;
                    self.emit(kind::PEER_DISCONNECT);
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
        self.shared.forget_peer(self.id, &self.opts.node_id);
        self.emit(kind::PEER_CLOSED);
    }

    fn emit(&self, k: u8) {
        self.shared.outbox.simple(k, &[self.id]);
    }

    /// Tells JS why the link cannot come up (PEER_ERROR).
    fn report(&self, msg: &str) {
        self.shared.outbox.with_strings(kind::PEER_ERROR, &[self.id], &[msg]);
    }

    fn set_queued(&self) {
        self.state.queued.store(self.queue.len(), Ordering::Release);
    }

    fn encode(&self, cmd: Command, out: &mut String) {
        let cfg = self.shared.config();
        match cmd {
            Command::Message(mut m) => {
                if let envelope::OutData::Json(text) = m.data {
                    match envelope::canonical_json(text) {
                        Ok(text) => m.data = envelope::OutData::Json(text),
                        Err(e) => {
                            tracing::warn!(peer = self.id, "dropping a message whose data is not JSON: {e}");
                            return;
                        }
                    }
                }
                envelope::encode_message(out, cfg.cookie.as_ref(), &cfg.from_json, &m)
            }
            Command::Ping(tag) => envelope::encode_ping(out, cfg.cookie.as_ref(), &cfg.from_json, &tag),
            Command::Raw { kind, json } => {
                let mut bytes = Vec::with_capacity(json.len() + 32);
                crate::frame::encode_frame(&mut bytes, &kind, &json);
                // Built from two strings and ASCII punctuation: valid UTF-8.
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
            Command::MaxLen(_) | Command::Stop { .. } => {}
        }
    }

    /// Keeps a frame for later, dropping the oldest past `max_len`.
    fn enqueue(&mut self, frame: String) {
        if frame.is_empty() {
            return;
        }
        self.queue.push_back(frame);
        while self.queue.len() > self.opts.max_len {
            self.queue.pop_front();
        }
        self.set_queued();
    }

    /// Handles a command while there is no link. Returns false to exit.
    fn offline(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::MaxLen(n) => {
                self.opts.max_len = n;
                while self.queue.len() > n {
                    self.queue.pop_front();
                }
                self.set_queued();
            }
            Command::Stop { force: true } => return false,
            // Nothing waits for the link: close now rather than dial a node
            // that may never come back just to hang up on it.
            Command::Stop { force: false } if self.queue.is_empty() => return false,
            Command::Stop { force: false } => self.stopping = true,
            other => {
                let mut frame = String::new();
                self.encode(other, &mut frame);
                self.enqueue(frame);
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
                    Ok((rd, wr)) => Next::Connected(rd, wr),
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

    /// Runs a live link until it breaks (`Reconnect`) or we are told to stop.
    async fn connected(&mut self, mut rd: Reader, mut wr: Writer) -> Next {
        self.state.connected.store(true, Ordering::Release);
        self.emit(kind::PEER_CONNECT);

        // Flush what waited for the link, oldest first.
        if !self.queue.is_empty() {
            let frames: Vec<String> = self.queue.drain(..).collect();
            self.set_queued();
            let mut buf = String::new();
            let mut ends = Vec::with_capacity(frames.len());
            for f in &frames {
                buf.push_str(f);
                ends.push(buf.len());
            }
            if !self.write(&mut wr, &buf, &ends).await {
                self.state.connected.store(false, Ordering::Release);
                return Next::Reconnect;
            }
            self.emit(kind::PEER_DRAINED);
        }
        if self.stopping {
            let _ = wr.shutdown().await;
            self.emit(kind::PEER_DISCONNECT);
            return Next::Exit;
        }

        let mut scratch = vec![0u8; 4096];
        let mut buf = String::new();
        let mut ends: Vec<usize> = Vec::new();
        let result = loop {
            tokio::select! {
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { break Next::Exit };
                    buf.clear();
                    ends.clear();
                    let mut stop = None;
                    let mut next = Some(cmd);
                    // Coalesce everything already waiting into one write.
                    while let Some(cmd) = next.take() {
                        match cmd {
                            Command::Stop { force } => { stop = Some(force); break; }
                            Command::MaxLen(n) => self.opts.max_len = n,
                            other => {
                                self.encode(other, &mut buf);
                                if ends.last().copied().unwrap_or(0) != buf.len() {
                                    ends.push(buf.len());
                                }
                            }
                        }
                        if buf.len() >= MAX_WRITE { break; }
                        next = self.rx.try_recv().ok();
                    }
                    // What was handed over before a stop is written even when
                    // the stop is forced: node-ipc writes each frame as it is
                    // sent, so `cast(); disconnect(node, true)` delivers.
                    if !buf.is_empty() && !self.write(&mut wr, &buf, &ends).await {
                        if stop.is_some() {
                            self.emit(kind::PEER_DISCONNECT);
                            break Next::Exit;
                        }
                        break Next::Reconnect;
                    }
                    if stop.is_some() {
                        if stop == Some(false) {
                            let _ = wr.shutdown().await;
                        }
                        self.emit(kind::PEER_DISCONNECT);
                        break Next::Exit;
                    }
                }
                n = rd.read(&mut scratch) => match n {
                    // The remote end closed the link.
                    Ok(0) => break Next::Reconnect,
                    Err(e) => {
                        // Under TLS 1.3 a server that rejects our certificate
                        // says so only after the handshake: tell JS why.
                        if self.opts.tls.is_some() {
                            let msg = format!("TLS link to {}:{} failed: {e}", self.opts.host, self.opts.port);
                            self.report(&msg);
                        }
                        break Next::Reconnect;
                    }
                    // Nothing is expected on an outbound link; ignore it.
                    Ok(_) => {}
                },
            }
        };
        self.state.connected.store(false, Ordering::Release);
        result
    }

    /// Writes `buf`; on failure puts its frames back at the front of the queue.
    async fn write(&mut self, wr: &mut Writer, buf: &str, ends: &[usize]) -> bool {
        let res = match wr.write_all(buf.as_bytes()).await {
            Ok(()) => wr.flush().await,
            Err(e) => Err(e),
        };
        match res {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                let mut start = 0;
                let mut frames = Vec::with_capacity(ends.len());
                for &end in ends {
                    frames.push(buf[start..end].to_string());
                    start = end;
                }
                for f in frames.into_iter().rev() {
                    self.queue.push_front(f);
                }
                while self.queue.len() > self.opts.max_len {
                    self.queue.pop_front();
                }
                self.set_queued();
                false
            }
        }
    }
}
