//! Streams of byte chunks, both ways.
//!
//! A stream on the wire is a run of messages sharing a stream id, each with
//! `done: false` and a chunk (a Buffer), then one with `done: true` (and no
//! data, or the error the stream failed with). [`Chunks`] reads such a run
//! (a streamed request a handler receives, or the reply to a call);
//! [`StreamWriter`] writes one (a streamed request, or a streamed reply).

use std::sync::Weak;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::delivery::{InMessage, Ticket};
use crate::message::{error_json, Data, Payload, StreamOut};
use crate::node::{Inner, Node};
use crate::node_error::NodeError;

/// One message of a stream, with its claim on the node's inbound room.
pub(crate) type Chunk = (InMessage, Ticket);

/// Forgets a pending call's tag when its reader goes away, so a reply that
/// never comes does not keep an entry.
#[derive(Debug)]
pub(crate) struct PendingGuard {
    pub(crate) inner: Weak<Inner>,
    pub(crate) tag: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.forget_pending(&self.tag);
        }
    }
}

/// An inbound stream of chunks: read them with [`Chunks::next`].
///
/// Empty chunks (no data, or `null`) are skipped, as the JS kernel skips
/// them. A stream that ends with an error yields [`NodeError::Remote`]; a
/// call's stream that is not finished by its deadline yields
/// [`NodeError::Timeout`]. While chunks wait here unread they count against
/// the node's inbound memory limit, so a reader that stops reading pauses
/// the node's inbound links rather than growing without bound.
#[derive(Debug)]
pub struct Chunks {
    rx: mpsc::UnboundedReceiver<Chunk>,
    deadline: Option<Instant>,
    ended: bool,
    _guard: Option<PendingGuard>,
}

impl Chunks {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Chunk>, deadline: Option<Instant>, guard: Option<PendingGuard>) -> Chunks {
        Chunks { rx, deadline, ended: false, _guard: guard }
    }

    /// The next chunk; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<Payload, NodeError>> {
        loop {
            if self.ended {
                return None;
            }
            let got = match self.deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(got) => got,
                    Err(_) => {
                        self.ended = true;
                        return Some(Err(NodeError::Timeout));
                    }
                },
                None => self.rx.recv().await,
            };
            let Some((m, _ticket)) = got else {
                self.ended = true;
                return Some(Err(NodeError::Closed));
            };
            if m.stream.done {
                self.ended = true;
            }
            if let Some(e) = m.stream.remote_error() {
                self.ended = true;
                return Some(Err(NodeError::Remote(e)));
            }
            if !m.data.is_empty() {
                return Some(Ok(m.data));
            }
        }
    }

    /// Reads the whole stream into one byte vector: Buffers as their bytes,
    /// a JSON string as its UTF-8 text, any other JSON value as its text.
    pub async fn collect_bytes(mut self) -> Result<Vec<u8>, NodeError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            match chunk? {
                Payload::Bytes(b) if out.is_empty() => out = b,
                Payload::Bytes(b) => out.extend_from_slice(&b),
                Payload::Json(t) => match crate::json::as_str(&t) {
                    Some(s) => out.extend_from_slice(s.as_bytes()),
                    None => out.extend_from_slice(t.as_bytes()),
                },
                Payload::Absent => {}
            }
        }
        Ok(out)
    }
}

/// An outbound stream: chunks go out as they are sent, in order.
///
/// End it with [`StreamWriter::end`] or [`StreamWriter::fail`]; one dropped
/// before either fails with "stream dropped", so the receiver never waits
/// for an end that will not come.
#[derive(Debug)]
pub struct StreamWriter {
    node: Node,
    peer: String,
    event: String,
    tag: Option<String>,
    id: String,
    finished: bool,
}

impl StreamWriter {
    pub(crate) fn new(node: Node, peer: String, event: String, tag: Option<String>) -> StreamWriter {
        StreamWriter { node, peer, event, tag, id: crate::message::random_id(), finished: false }
    }

    /// The stream's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a chunk of bytes (as a Buffer).
    pub fn send(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), NodeError> {
        self.send_data(Data::Bytes(chunk.into()))
    }

    /// Sends a chunk of any data.
    pub fn send_data(&mut self, data: Data) -> Result<(), NodeError> {
        if self.finished {
            return Err(NodeError::Closed);
        }
        let stream = StreamOut { done: false, id: Some(&self.id), error: None };
        self.node.send_message(&self.peer, &self.event, self.tag.as_deref(), stream, data)
    }

    /// Ends the stream.
    pub fn end(mut self) -> Result<(), NodeError> {
        self.finish(None)
    }

    /// Ends the stream with an error; a JS receiver gets an Error with this
    /// message.
    pub fn fail(mut self, message: &str) -> Result<(), NodeError> {
        self.finish(Some(error_json(message)))
    }

    fn finish(&mut self, error: Option<String>) -> Result<(), NodeError> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        let stream = StreamOut { done: true, id: Some(&self.id), error: error.as_deref() };
        self.node.send_message(&self.peer, &self.event, self.tag.as_deref(), stream, Data::null())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(Some(error_json("stream dropped")));
        }
    }
}
