//! Errors as types.
//!
//! A [`Skip`] is bad input from the network: the kernel drops that one frame,
//! tells JS through the `_skip` event (a Rust node through
//! `Node::on_skip`), and carries on with every other message. Local failures
//! are the Rust API's `NodeError`.

use std::fmt;

pub use crate::wire::json::{JsonError, JsonErrorKind};

/// Why an inbound frame was dropped. Each variant maps to the `type` property of
/// the Error object emitted with `_skip`, so JS code can tell them apart.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// The frame is not JSON. A JS node would raise a node-ipc `error` and drop it.
    InvalidJson(JsonError),
    /// The HMAC did not match (or was missing). Same fields as the JS kernel:
    /// what the peer sent (raw JSON, `None` when absent) and what we computed.
    InvalidChecksum {
        /// The `hmac` member as the peer sent it (raw JSON), `None` when absent.
        sent: Option<String>,
        /// The HMAC we computed, in hex.
        calculated: String,
    },
    /// Valid JSON, but not a message the kernel can route (wrong shape or types).
    InvalidMessage(String),
    /// More bytes than `maxFrameLength` arrived without a delimiter. The bytes up
    /// to the next delimiter were discarded; the connection stays open.
    FrameTooLarge {
        /// The `maxFrameLength` in force, in bytes.
        limit: usize,
    },
    /// The partial frames of all inbound connections together reached the
    /// budget (`maxInboundBytes`): the connection whose read went over it is
    /// closed, and its partial frame with it, so many connections each
    /// sending just under `maxFrameLength` cannot multiply memory.
    InboundBudget {
        /// The budget in force (`maxInboundBytes`), in bytes.
        limit: usize,
    },
    /// A client failed the TLS handshake (untrusted or missing certificate,
    /// not speaking TLS, ...). Its socket is closed.
    Tls(String),
}

impl Skip {
    /// The `type` of every kind, in the order of their counters
    /// ([`Skip::index`]). The one table of them: the JS layer reads it from
    /// the addon.
    pub const KINDS: [&'static str; 6] =
        ["INVALID_JSON", "INVALID_CHECKSUM", "INVALID_MESSAGE", "FRAME_TOO_LARGE", "TLS_HANDSHAKE", "INBOUND_BUDGET"];

    /// The `type` property of the JS Error.
    pub fn kind(&self) -> &'static str {
        Self::KINDS[self.index()]
    }

    /// Where this kind is in [`Skip::KINDS`], for counters.
    pub fn index(&self) -> usize {
        match self {
            Skip::InvalidJson(_) => 0,
            Skip::InvalidChecksum { .. } => 1,
            Skip::InvalidMessage(_) => 2,
            Skip::FrameTooLarge { .. } => 3,
            Skip::Tls(_) => 4,
            Skip::InboundBudget { .. } => 5,
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::InvalidJson(e) => write!(f, "Invalid JSON frame: {e}."),
            // The exact message of the JS kernel, so existing handlers match it.
            Skip::InvalidChecksum { .. } => f.write_str("Checksum failure."),
            Skip::InvalidMessage(why) => write!(f, "Invalid message: {why}."),
            Skip::FrameTooLarge { limit } => {
                write!(f, "Frame larger than the limit of {limit} bytes was discarded.")
            }
            Skip::Tls(why) => write!(f, "{why}."),
            Skip::InboundBudget { limit } => write!(
                f,
                "Partial frames of all inbound connections over the budget of {limit} bytes: connection closed."
            ),
        }
    }
}

impl std::error::Error for Skip {}
