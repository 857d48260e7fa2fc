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
            NodeError::InvalidArgument(why) => f.write_str(why),
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
