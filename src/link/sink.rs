//! How the network tasks report what happens: one typed event, through a
//! [`Sink`].
//!
//! The link layer does not know who listens. The addon (`napi/`) batches
//! what it is told as JSON text for the JS thread; the Rust API (`node/`)
//! turns it into owned events for its dispatcher. Both implement [`Sink`],
//! and neither knows of the other.
//!
//! Messages and skips are the hot path: a reader hands over all those of
//! one socket read at once ([`Sink::deliver`]), borrowed from its buffer,
//! and each sink copies out only what it keeps. Everything else is a
//! [`LinkEvent`], rare enough to own its strings.

use std::future::Future;
use std::pin::Pin;

use crate::link::observe::NodeKind;
use crate::wire::envelope::Message;
use crate::wire::error::Skip;

/// Why a live link's node was declared down (`nodedown`'s reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownReason {
    /// Nothing came from the node, and it read nothing of ours, for the
    /// tick time.
    TickTimeout,
    /// The link's socket closed or failed.
    Closed,
    /// The link was stopped from this side (disconnect, kernel stop).
    Stopped,
}

impl DownReason {
    /// Every reason, in the order of the counters of a link's stats.
    pub const ALL: [DownReason; 3] = [DownReason::TickTimeout, DownReason::Closed, DownReason::Stopped];

    /// The reason as the JS kernel's `nodedown` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            DownReason::TickTimeout => "tick timeout",
            DownReason::Closed => "closed",
            DownReason::Stopped => "stopped",
        }
    }

    /// Where this reason is in [`DownReason::ALL`].
    pub fn index(self) -> usize {
        match self {
            DownReason::TickTimeout => 0,
            DownReason::Closed => 1,
            DownReason::Stopped => 2,
        }
    }
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The limit whose overflow drops a link's oldest unwritten frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Too many frames (`maxLen`).
    MaxLen,
    /// Too many bytes (`maxQueueBytes`).
    MaxQueueBytes,
}

impl Limit {
    /// The option's name, as JS apps set it.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::MaxLen => "maxLen",
            Limit::MaxQueueBytes => "maxQueueBytes",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the network tasks report besides messages and skips.
///
/// `peer` is the id of an outbound link (as `Kernel::connect` returned
/// it), `socket` that of an inbound connection, `generation` the start
/// number of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// An inbound connection opened, from `ip`:`port`.
    SocketOpen { socket: u64, port: u16, ip: String },
    /// An inbound connection closed.
    SocketClose { socket: u64 },
    /// Outbound link `peer` is up (TCP, and TLS where asked).
    PeerConnect { peer: u64 },
    /// Outbound link `peer` went down, or an attempt to bring it up failed.
    PeerDisconnect { peer: u64 },
    /// Outbound link `peer` wrote what queued while it was down.
    PeerDrained { peer: u64 },
    /// Outbound link `peer` cannot come up, and why.
    PeerError { peer: u64, message: String },
    /// The task of outbound link `peer` ended; the id is free.
    PeerClosed { peer: u64 },
    /// Outbound link `peer` holds more unwritten bytes than its high-water
    /// mark.
    PeerBusy { peer: u64 },
    /// ... and is back under half of it.
    PeerDrain { peer: u64 },
    /// Outbound link `peer` is dropping its oldest frames over `limit`
    /// (once per episode).
    PeerOverflow { peer: u64, limit: Limit },
    /// The node of outbound link `peer` is down: it was up, and then its
    /// link ended, or it showed no sign of life for the tick time (its link
    /// kept). Also sent when a link whose node was never shown up ends, so
    /// calls waiting on it fail; whoever announces `nodedown` tells the two
    /// apart by whether it announced `nodeup`.
    NodeDown { peer: u64, reason: DownReason },
    /// The node of outbound link `peer` showed that it runs, after the
    /// link came up or after it was declared down.
    NodeUp { peer: u64 },
    /// The listener of start number `generation` is bound to `port`.
    Ready { generation: u64, port: u16 },
    /// The listener of start number `generation` could not bind.
    ListenError { generation: u64, message: String, code: String },
}

/// A future a [`Sink`] returns from [`Sink::wait_room`].
pub type RoomFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What one frame of an inbound connection hands to the sink: a routed
/// message, borrowed from the reader's buffer, or a frame dropped as bad
/// input.
#[derive(Debug)]
pub enum Delivered<'a> {
    Message(Message<'a>),
    Skip(Skip),
}

/// Where the network tasks report. One per kernel, shared by its tasks.
///
/// A sink bounds what it holds: while [`Sink::is_full`], readers stop
/// reading their sockets and wait in [`Sink::wait_room`], so a slow
/// consumer slows its peers (TCP backpressure) instead of growing memory.
pub trait Sink: Send + Sync + 'static {
    /// What inbound connection `socket` read, in order: all the frames of a
    /// socket read at once (or of a part of a long one), so a sink takes
    /// its lock, counts its bytes and queues its work once per read rather
    /// than once per message. Takes every item, leaving `items` empty for
    /// the reader's next read. The wake-up of the consumer may wait for
    /// [`Sink::wake_if_due`].
    fn deliver(&self, socket: u64, items: &mut Vec<Delivered<'_>>);

    /// One routed message from inbound connection `socket` (as
    /// [`Sink::deliver`] would take it alone).
    #[cfg(any(test, feature = "internals"))]
    fn message(&self, socket: u64, message: Message<'_>) {
        self.deliver(socket, &mut vec![Delivered::Message(message)]);
    }

    /// A frame dropped as bad input on inbound connection `socket` (as
    /// [`Sink::deliver`] would take it alone).
    fn skip(&self, socket: u64, skip: &Skip) {
        self.deliver(socket, &mut vec![Delivered::Skip(skip.clone())]);
    }

    /// Any other event; the consumer is woken at once.
    fn event(&self, event: LinkEvent);

    /// Wakes the consumer for what [`Sink::deliver`] left waiting.
    fn wake_if_due(&self) {}

    /// True while readers should pause.
    fn is_full(&self) -> bool;

    /// Resolves once the sink is no longer full.
    fn wait_room(&self) -> RoomFuture<'_>;

    /// True when what is delivered is taken by a thread of its own (the
    /// addon's JS thread), not by a task of the runtime: a reader may then
    /// hold its runtime thread for a short window of polling its socket
    /// (`server/poll.rs`) without delaying the consumer.
    fn consumer_off_runtime(&self) -> bool {
        false
    }

    /// The kind of node this sink feeds, as an observer is told: the addon
    /// unless the sink says otherwise.
    fn node_kind(&self) -> NodeKind {
        NodeKind::Native
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_their_order_and_names() {
        for (i, r) in DownReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let names: Vec<&str> = DownReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["tick timeout", "closed", "stopped"]);
        assert_eq!(Limit::MaxQueueBytes.to_string(), "maxQueueBytes");
    }
}
