//! Handlers, and what they receive: an [`Incoming`] message.

use std::sync::Arc;

use serde::Serialize;

use crate::node::message::{Data, Payload, ReplyTo, StreamInfo};
use crate::node::Node;
use crate::node::node_error::NodeError;
use crate::node::stream::{Chunks, StreamWriter};

/// What runs for each message of an event id. It is called on the node's
/// dispatcher, in the order messages arrive, so it should be quick: hand
/// long work to a task (see [`Node::on_async`]).
pub type Handler = Arc<dyn Fn(Incoming) + Send + Sync>;

/// A message for a handler: the JS kernel's `(data, stream, from)`.
#[derive(Debug)]
pub struct Incoming {
    /// The event id it was sent under.
    pub event: String,
    /// Its data. For a streamed message this is [`Payload::Absent`]: the
    /// chunks are read from [`Incoming::take_chunks`].
    pub data: Payload,
    /// Its stream state (`done`, the stream id, an error).
    pub stream: StreamInfo,
    /// Who sent it, and the tag to reply to.
    pub from: ReplyTo,
    pub(crate) chunks: Option<Chunks>,
    pub(crate) node: Node,
}

impl Incoming {
    /// The node that received it.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Whether it is a stream (its chunks come through [`Incoming::take_chunks`]).
    pub fn is_stream(&self) -> bool {
        self.stream.id.is_some()
    }

    /// The chunks of a streamed message, first one included; `None` for a
    /// single message, or once taken.
    pub fn take_chunks(&mut self) -> Option<Chunks> {
        self.chunks.take()
    }

    /// Replies with `data` (for a `call` or `callSingleton`).
    pub fn reply(&self, data: Data) -> Result<(), NodeError> {
        self.node.reply(&self.from, data)
    }

    /// Replies with any serde value.
    pub fn reply_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), NodeError> {
        self.node.reply(&self.from, Data::json(value)?)
    }

    /// Replies with an error: a JS caller gets an Error with `message`.
    pub fn reply_error(&self, message: &str) -> Result<(), NodeError> {
        self.node.reply_error(&self.from, message)
    }

    /// Replies with a stream of chunks.
    pub fn reply_stream(&self) -> Result<StreamWriter, NodeError> {
        self.node.reply_stream(&self.from)
    }
}
