//! The peer task: its state (`Peer`), the end of the channel it takes
//! commands from, and the phases it goes through: dialling, a live link
//! (served in `write.rs`), waiting to retry, giving up. Apart from the
//! handle that callers hold (`mod.rs`), and from the parts of a live link's
//! work, which have files of their own.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::link::connection::{self, LinkReader, LinkWriter};
use crate::link::sink::{DownReason, LinkEvent};
use crate::link::health::now_us;
use crate::link::shared::Shared;
use crate::link::unacked::{self, RawSocket};

use super::detect::{Acks, Detection};
use super::lane::Lane;
use super::{handed_bytes, handed_msgs, Command, Life, PeerOptions, PeerState};

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
pub(super) fn link_went_away(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe)
}

/// An outbox of at most this many bytes waits one yield before the task
/// takes it (see `Inbox::recv`).
const SMALL_OUTBOX: usize = 1024;

/// The task's end of its channel: what it takes leaves
/// [`PeerState::handed`].
pub(super) struct Inbox {
    pub(super) rx: mpsc::UnboundedReceiver<Command>,
    pub(super) state: Arc<PeerState>,
    /// An outbox's marker received and not yet taken: it waits out one
    /// yield (see `recv`), here rather than in the future, so that a
    /// `select!` that drops the future loses nothing.
    pub(super) held: Option<Command>,
}

impl Inbox {
    /// Cancel safe, as `mpsc::UnboundedReceiver::recv`.
    ///
    /// An outbox of a request or reply that missed the direct lane, holding
    /// a line or two, is taken one yield after its marker arrives. The
    /// tasks that woke this one (200 callers whose replies came in one
    /// read) then run first and add their lines to the same outbox, which
    /// goes out as one write; taken at once, the task would run after each
    /// of them in turn (tokio runs a task woken from the runtime next) and
    /// write each line alone. Casts never wait here: a loop of them fills
    /// its outbox by itself, and a yield per outbox cost it 5-10%.
    pub(super) async fn recv(&mut self) -> Option<Command> {
        loop {
            let cmd = match self.held.take() {
                Some(cmd) => cmd,
                None => {
                    let cmd = self.rx.recv().await?;
                    if matches!(cmd, Command::Outbox { .. }) && self.outbox_gathers() {
                        self.held = Some(cmd);
                        tokio::task::yield_now().await;
                        continue;
                    }
                    cmd
                }
            };
            if let Some(cmd) = self.resolve(cmd) {
                self.took(&cmd);
                return Some(cmd);
            }
        }
    }

    /// The outbox waiting was opened by a request or reply and holds no
    /// more than a line or two.
    fn outbox_gathers(&self) -> bool {
        self.state.lane().outbox.as_ref().is_some_and(|o| o.gathers && o.text.len() <= SMALL_OUTBOX)
    }

    /// The next command without waiting: a marker held over a yield first.
    fn next_now(&mut self) -> Result<Command, mpsc::error::TryRecvError> {
        match self.held.take() {
            Some(cmd) => Ok(cmd),
            None => self.rx.try_recv(),
        }
    }

    pub(super) fn try_recv(&mut self) -> Result<Command, mpsc::error::TryRecvError> {
        loop {
            let cmd = self.next_now()?;
            if let Some(cmd) = self.resolve(cmd) {
                self.took(&cmd);
                return Ok(cmd);
            }
        }
    }

    /// An outbox's marker becomes what the outbox holds now (and the outbox
    /// closes: later lines open the next one); `None` for the marker of an
    /// outbox already handed over whole (sealed ahead of another command).
    fn resolve(&self, cmd: Command) -> Option<Command> {
        match cmd {
            Command::Outbox { .. } => Self::resolve_in(cmd, &mut self.state.lane()),
            cmd => Some(cmd),
        }
    }

    /// [`Inbox::try_recv`] for a caller that holds the lane's lock already.
    pub(super) fn try_recv_in(&mut self, lane: &mut Lane) -> Result<Command, mpsc::error::TryRecvError> {
        loop {
            let cmd = self.next_now()?;
            if let Some(cmd) = Self::resolve_in(cmd, lane) {
                self.took(&cmd);
                return Ok(cmd);
            }
        }
    }

    fn resolve_in(cmd: Command, lane: &mut Lane) -> Option<Command> {
        let Command::Outbox { generation } = cmd else { return Some(cmd) };
        match lane.outbox.take() {
            Some(o) if o.generation == generation => Some(Command::Bodies { text: o.text, cfg: o.cfg }),
            other => {
                lane.outbox = other;
                None
            }
        }
    }

    fn took(&self, cmd: &Command) {
        self.state.handed.fetch_sub(handed_bytes(cmd), Ordering::Relaxed);
        // While the link is down, the messages leave the count only once
        // they are in the queue (`Peer::take_offline`), so the two together
        // never read short.
        if self.state.connected.load(Ordering::Relaxed) {
            self.state.handed_msgs.fetch_sub(handed_msgs(cmd), Ordering::Relaxed);
        }
    }
}

/// How a phase of the task ended.
pub(super) enum Next {
    Connected(LinkReader, LinkWriter, RawSocket),
    Reconnect,
    Exit,
}

pub(super) struct Peer {
    pub(super) id: u64,
    pub(super) opts: PeerOptions,
    pub(super) shared: Arc<Shared>,
    pub(super) rx: Inbox,
    pub(super) state: Arc<PeerState>,
    /// Encoded frames waiting for a link.
    pub(super) queue: VecDeque<String>,
    pub(super) queue_bytes: usize,
    /// Commands that arrived while a write waited on the socket, in order,
    /// their frames already encoded (as `Encoded` from no link).
    pub(super) stash: VecDeque<Command>,
    pub(super) stash_bytes: usize,
    /// Buffers of stashed commands already written out, emptied, for the
    /// next commands stashed (see `hold` in `queue.rs`).
    pub(super) spare_held: crate::link::spare::SpareFrames,
    /// Bytes of the write in hand not yet on the wire.
    pub(super) inflight: usize,
    /// The channel has not been closed.
    pub(super) rx_open: bool,
    /// BUSY was reported and DRAIN not yet.
    pub(super) busy: bool,
    /// The last backlog's memory went back to the system (see
    /// `give_back_memory` in `queue.rs`); false from BUSY until it is
    /// written out.
    pub(super) backlog_freed: bool,
    /// Frames were dropped and this episode was reported.
    pub(super) overflowing: bool,
    /// Why the current link ended, for NODE_DOWN.
    pub(super) down_reason: DownReason,
    /// A graceful stop was asked for while the link was down.
    pub(super) stopping: bool,
    /// Links made so far: the number of the current one.
    pub(super) links: u64,
    /// Bytes of the frame being written that are on the socket and not
    /// yet in the lane's `unacked` (see `close_lane`).
    pub(super) partial: usize,
    /// Failure detection's own state (see `detect.rs`).
    pub(super) detect: Detection,
    /// The most a piece the task writes holds, on the current link.
    pub(super) pieces: super::write::PieceLimit,
}

impl Peer {
    pub(super) async fn run(mut self) {
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

    pub(super) fn emit(&self, event: LinkEvent) {
        self.shared.sink.event(event);
    }

    /// Tells the kernel's owner why the link cannot come up.
    pub(super) fn report(&self, msg: &str) {
        self.emit(LinkEvent::PeerError { peer: self.id, message: msg.to_string() });
    }

    /// Sleeps while still taking commands. `None` when told to exit.
    async fn wait(&mut self, d: Duration) -> Option<()> {
        let sleep = tokio::time::sleep(d);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Some(()),
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => if !self.take_offline(cmd) { return None },
                    None => return None,
                },
            }
        }
    }

    async fn offline_forever(&mut self) -> Next {
        while let Some(cmd) = self.rx.recv().await {
            if !self.take_offline(cmd) {
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
                    Some(cmd) => if !self.take_offline(cmd) { return Next::Exit },
                    None => return Next::Exit,
                },
            }
        }
    }

    /// Runs a live link until it breaks (`Reconnect`) or we are told to stop.
    async fn connected(&mut self, mut rd: LinkReader, mut wr: LinkWriter, raw: RawSocket) -> Next {
        self.links += 1;
        self.open_lane(&wr);
        self.detect.raw = Some(raw);
        self.detect.acks = Acks::default();
        self.down_reason = DownReason::Closed;
        self.detect.up_at = now_us();
        self.pieces = Default::default();
        self.set_ticker(false);
        let mut next = self.serve(&mut rd, &mut wr).await;
        self.detect.ticker = None;
        self.detect.raw = None;
        let replay = self.close_lane(&wr);
        if !replay.is_empty() {
            // Ahead of the frames of a write that failed (already back at
            // the front of the queue): they were written before.
            tracing::debug!(peer = self.id, "{} frame(s) not acknowledged by {}: written again on the next link", replay.len(), self.opts.node_id);
            self.requeue(replay);
        }
        self.state.connected.store(false, Ordering::Release);
        self.state.life.store(0, Ordering::Relaxed);
        self.detect.heard.watch.store(false, Ordering::Relaxed);
        // Sent whatever the node's life: calls waiting on a link that ended
        // fail now. Only a node that was up is announced down (`nodedown`):
        // up and down come in pairs.
        if self.detect.life == Life::Up {
            let i = self.down_reason.index();
            self.state.downs[i].fetch_add(1, Ordering::Relaxed);
            self.state.down.store(i as u8 + 1, Ordering::Relaxed);
        }
        self.emit(LinkEvent::NodeDown { peer: self.id, reason: self.down_reason });
        self.detect.life = Life::Unproven;
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
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_peer_that_went_away_is_not_a_tls_failure() {
        use std::io::{Error, ErrorKind};
        assert!(super::link_went_away(&Error::new(ErrorKind::UnexpectedEof, "no close_notify")));
        assert!(super::link_went_away(&Error::from(ErrorKind::ConnectionReset)));
        assert!(!super::link_went_away(&Error::new(ErrorKind::InvalidData, "received fatal alert: BadCertificate")));
    }
}
