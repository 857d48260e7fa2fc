//! The errors of the Rust API, as one type callers can match on.

use std::fmt;

use crate::node::serde_js::{PayloadError, RemoteError};
use crate::link::tls::TlsError;

/// Why an operation of a [`Node`](crate::node::Node) failed.
#[derive(Debug)]
pub enum NodeError {
    /// The listener could not bind. `code` is Node's name for it
    /// (`EADDRINUSE`, ...).
    Listen {
        /// What went wrong, with the address.
        message: String,
        /// The errno-style code.
        code: String,
    },
    /// The TLS options cannot be used (a file missing, bad PEM, ...).
    Tls(TlsError),
    /// A value could not be turned into JSON, or the JSON that came into the
    /// type asked for.
    Payload(PayloadError),
    /// No connection to a node of this id (the JS kernel's
    /// `Unknown node <id>`).
    UnknownNode(String),
    /// No reply came in time (the JS kernel's `Timeout.`).
    Timeout,
    /// The node called went down while the call waited (the JS kernel's
    /// `NODE_DOWN`): its link closed, or it was silent for the tick time.
    /// The call fails at once rather than at its timeout.
    NodeDown {
        /// The node's id.
        node: String,
        /// Why: "closed", "tick timeout" or "stopped".
        reason: String,
    },
    /// The other side replied with an error.
    Remote(RemoteError),
    /// A reply to a message that was a cast: it has no tag to reply to.
    NoReplyTag,
    /// A reply came from another node than the one called.
    ReplyMismatch {
        /// The node called.
        expected: String,
        /// The node the reply came from.
        actual: String,
    },
    /// The node has shut down, or the link to the peer has ended.
    Closed,
    /// The link to `node` holds its high-water mark or more unwritten (or,
    /// while down, `max_len` messages): a `try_` send that would wait. The
    /// message was not sent.
    Busy {
        /// The node sent to.
        node: String,
    },
    /// The message does not fit the link's `max_queue_bytes`: alone it is
    /// larger (it can never be sent), or a send that may not wait would take
    /// the link past it. The message was not sent.
    Overflow {
        /// The node sent to.
        node: String,
        /// What the message weighs (a Buffer at four bytes per byte, as
        /// the JSON digits it is written as can take).
        bytes: usize,
        /// The link's `max_queue_bytes`.
        limit: usize,
    },
    /// The reader of an inbound stream fell more than the stream's bound
    /// behind; the rest of the stream is dropped (the link goes on).
    StreamOverflow {
        /// The bound, in bytes ([`Builder::stream_buffer`](crate::node::Builder::stream_buffer)).
        limit: usize,
    },
    /// The reader of this stream has gone away; nothing more is sent.
    StreamStopped,
    /// The node called has no handler for the event (a Rust node replies so
    /// at once; a JS kernel says nothing, and the call times out).
    NoHandler {
        /// The event called.
        event: String,
    },
    /// The handler of the event called panicked before replying (a Rust
    /// node replies so at once).
    HandlerPanicked {
        /// The event called.
        event: String,
    },
    /// An argument that cannot be used.
    InvalidArgument(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Listen { message, .. } => f.write_str(message),
            NodeError::Tls(e) => write!(f, "{e}"),
            NodeError::Payload(e) => write!(f, "{e}"),
            NodeError::UnknownNode(id) => write!(f, "Unknown node {id}"),
            NodeError::Timeout => f.write_str("Timeout."),
            NodeError::NodeDown { node, reason } => write!(f, "Node {node} is down ({reason})."),
            NodeError::Remote(e) => write!(f, "remote error: {}", e.message),
            NodeError::NoReplyTag => f.write_str("Cannot reply to message with no callback tag."),
            NodeError::ReplyMismatch { expected, actual } => {
                write!(f, "Synchronous response node mismatch: expected {expected}, got {actual}")
            }
            NodeError::Closed => f.write_str("the node or the link is closed"),
            NodeError::Busy { node } => write!(f, "the link to {node} is busy (over its high-water mark)"),
            NodeError::Overflow { node, bytes, limit } => write!(f, "a message of {bytes} bytes does not fit the link to {node} (maxQueueBytes {limit})"),
            NodeError::StreamOverflow { limit } => write!(f, "the stream's reader fell more than {limit} bytes behind"),
            NodeError::StreamStopped => f.write_str("the stream's reader has gone away"),
            NodeError::NoHandler { event } => write!(f, "No handler for event {event}"),
            NodeError::HandlerPanicked { event } => write!(f, "The handler of event {event} panicked"),
            NodeError::InvalidArgument(why) => f.write_str(why),
        }
    }
}

/// The `code` a Rust node's error reply carries when the event has no
/// handler, and when its handler panicked (a JS caller sees it on its Error).
pub(crate) const NO_HANDLER: &str = "NO_HANDLER";
pub(crate) const HANDLER_PANICKED: &str = "HANDLER_PANICKED";

impl NodeError {
    /// An error reply, typed when it is one a Rust node sends of itself.
    pub(crate) fn from_remote(e: RemoteError) -> NodeError {
        let code = e.fields.get("code").and_then(|c| c.as_str());
        let event = || e.fields.get("event").and_then(|c| c.as_str()).unwrap_or_default().to_string();
        match code {
            Some(NO_HANDLER) => NodeError::NoHandler { event: event() },
            Some(HANDLER_PANICKED) => NodeError::HandlerPanicked { event: event() },
            _ => NodeError::Remote(e),
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NodeError::Tls(e) => Some(e),
            NodeError::Payload(e) => Some(e),
            NodeError::Remote(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PayloadError> for NodeError {
    fn from(e: PayloadError) -> Self {
        NodeError::Payload(e)
    }
}

impl From<TlsError> for NodeError {
    fn from(e: TlsError) -> Self {
        NodeError::Tls(e)
    }
}
