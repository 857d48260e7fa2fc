//! The lane: whether a caller may write to the link's socket itself or
//! must hand its frames to the task (see the module docs). The callers' side
//! is `PeerHandle::send_bodies`; here are the lane's state and the task's
//! side of it: opened while the link is idle, closed when the link ends
//! (taking back what the node never acknowledged, to be written again), and
//! withdrawn however the task ends. Apart because both sides touch it,
//! under one lock.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpStream;

use crate::link::connection::LinkWriter;
use crate::link::shared::Config;
use crate::wire::envelope;
use crate::link::sink::DownReason;
use crate::link::unacked::{self, Unacked};

use super::task::Peer;
use super::Command;

/// Who may write to the link right now (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Lane {
    /// The socket of a plain TCP link that is up.
    pub(super) tcp: Option<Arc<TcpStream>>,
    /// Which link `tcp` is (the task counts its links).
    pub(super) link: u64,
    /// The task has work in hand or in its channel: new work queues behind it.
    pub(super) busy: bool,
    /// What the link wrote that its node has not acknowledged, kept when
    /// the socket can say how much that is (see `unacked.rs`). Every write
    /// to the socket is recorded here, in the order of the bytes on the
    /// wire: callers write only while the lane is open, the task only
    /// while it is closed.
    pub(super) unacked: Unacked,
    pub(super) keep: bool,
    /// Bytes on the socket that `unacked` does not hold yet: the beginning
    /// of a frame a direct write left to the task to finish.
    pub(super) partial: usize,
    /// Lines of Rust senders waiting for the task to take them as one batch
    /// (`PeerHandle::send_lines`); its marker is in the channel.
    pub(super) outbox: Option<Outbox>,
    /// The generation of the last outbox opened.
    pub(super) generation: u64,
    /// When a Rust sender last wrote from its own thread (`now_us`).
    pub(super) last_direct_us: u64,
    /// The most a piece written by callers holds, on link `link`.
    pub(super) pieces: super::write::PieceLimit,
}

/// Envelope lines appended by Rust senders until the task takes them.
#[derive(Debug)]
pub(super) struct Outbox {
    pub(super) generation: u64,
    /// The lines, separated by newlines, as `envelope::encode_bodies` reads them.
    pub(super) text: String,
    /// The settings they are signed with (a new outbox when these change).
    pub(super) cfg: Arc<Config>,
    /// Opened by a request or reply that missed the direct lane: others
    /// like it are likely on their way (see `Inbox::recv`).
    pub(super) gathers: bool,
}

impl Lane {
    /// Keeps frames written whole (moved: no copy).
    pub(super) fn wrote(&mut self, text: String, ends: Vec<usize>) {
        if self.keep {
            self.unacked.push(text, ends);
            self.trim();
        }
    }

    /// Keeps a copy of the frames of `text` from `from` to `to`, written whole.
    pub(super) fn wrote_copy(&mut self, text: &str, ends: &[usize], from: usize, to: usize) {
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

/// However the task ends (its loop returning, the runtime shutting down, or
/// a bug unwinding it), the socket is withdrawn from the lane, so no caller
/// writes to a link that nothing tends any more.
impl Drop for Peer {
    fn drop(&mut self) {
        let mut lane = self.state.lane();
        lane.tcp = None;
        lane.busy = true;
        lane.unacked.clear();
        lane.outbox = None;
        drop(lane);
        self.state.connected.store(false, Ordering::Release);
        self.state.ended.store(true, Ordering::Release);
        self.state.room_freed.notify_waiters();
    }
}

impl Peer {
    /// Opens the lane if nothing waits in the channel; otherwise returns the
    /// next command (the lane stays closed). Plain TCP links only.
    pub(super) fn idle(&mut self, wr: &LinkWriter) -> Option<Command> {
        wr.shared_tcp()?;
        let mut lane = self.state.lane();
        match self.rx.try_recv_in(&mut lane) {
            Ok(cmd) => Some(cmd),
            Err(_) => {
                lane.busy = false;
                None
            }
        }
    }

    /// Publishes the socket of a new link.
    pub(super) fn open_lane(&self, wr: &LinkWriter) {
        let mut lane = self.state.lane();
        lane.tcp = wr.shared_tcp().cloned();
        lane.link = self.links;
        lane.pieces = Default::default();
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
    pub(super) fn close_lane(&mut self, wr: &LinkWriter) -> Vec<String> {
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
}
