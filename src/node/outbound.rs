//! The send half of a node: what writing a message to a peer needs, and
//! nothing of routing what arrives.
//!
//! A [`StreamWriter`](crate::node::stream::StreamWriter) keeps writing
//! chunks long after the call that made it returned; it holds this, not a
//! whole node (its handlers, its calls waiting for replies, its
//! dispatcher), so the stream module needs nothing of the node's module,
//! and what a writer keeps alive is the network side it writes to.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::link::kernel::Kernel;
use crate::link::peer::{Command, PeerHandle};
use crate::node::message::Data;
use crate::node::node_error::NodeError;
use crate::wire::envelope::{self, StreamOut};

/// The links of a node, to write to. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbound {
    /// The network side, and its registry of links by node id.
    pub(crate) kernel: Arc<Kernel>,
    /// Set when the node shuts down: nothing more is sent.
    pub(crate) stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("stopped", &self.stopped.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

impl Outbound {
    pub(crate) fn new(kernel: Kernel) -> Outbound {
        Outbound { kernel: Arc::new(kernel), stopped: Arc::new(AtomicBool::new(false)) }
    }

    /// `Closed` once the node shuts down.
    pub(crate) fn check_open(&self) -> Result<(), NodeError> {
        if self.stopped.load(Ordering::Acquire) {
            Err(NodeError::Closed)
        } else {
            Ok(())
        }
    }

    /// The link to node `id`.
    pub(crate) fn peer(&self, id: &str) -> Result<PeerHandle, NodeError> {
        self.check_open()?;
        self.kernel.peer(id).ok_or_else(|| NodeError::UnknownNode(id.to_string()))
    }

    /// Writes one message envelope to node `id`'s link.
    pub(crate) fn send_message(&self, id: &str, event: &str, tag: Option<&str>, stream: StreamOut<'_>, data: Data) -> Result<(), NodeError> {
        let handle = self.peer(id)?;
        let cfg = self.kernel.shared().config();
        let mut text = String::with_capacity(cfg.from_json.len() + event.len() + 128);
        let sent = match data {
            Data::Bytes(bytes) => {
                envelope::write_message_head(&mut text, &cfg.from_json, event, tag, stream);
                handle.send(Command::Buffer { head: text, bytes, cfg })
            }
            Data::Json(json) => {
                envelope::write_message_line(&mut text, &cfg.from_json, event, tag, stream, Some(json.as_str()));
                handle.send_bodies(text, cfg, true)
            }
            Data::Absent => {
                envelope::write_message_line(&mut text, &cfg.from_json, event, tag, stream, None);
                handle.send_bodies(text, cfg, true)
            }
        };
        if sent {
            Ok(())
        } else {
            Err(NodeError::Closed)
        }
    }
}
