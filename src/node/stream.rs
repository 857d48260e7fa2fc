//! Streams of byte chunks, both ways.
//!
//! A stream on the wire is a run of messages sharing a stream id, each with
//! `done: false` and a chunk (a Buffer), then one with `done: true` (and no
//! data, or the error the stream failed with). [`Chunks`] reads such a run
//! (a streamed request a handler receives, or the reply to a call);
//! [`StreamWriter`] writes one (a streamed request, or a streamed reply).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::node::delivery::{InMessage, Ticket};
use crate::node::message::{error_json, Data, Payload};
use crate::node::outbound::Outbound;
use crate::node::node_error::NodeError;
use crate::wire::envelope::StreamOut;

/// One message of a stream, with its claim on the node's inbound room; or
/// why the stream cannot go on (the node called went down).
pub(crate) type Chunk = Result<(InMessage, Ticket), NodeError>;

/// What a stream keeps until it is dropped: a call's reply stream holds
/// the guard that forgets the call's tag, so a reply that never comes does
/// not keep an entry.
pub(crate) type Guard = Box<dyn std::fmt::Debug + Send + Sync>;

/// An inbound stream of chunks: read them with [`Chunks::next`], or as a
/// [`Stream`] (the standard trait, so `StreamExt` combinators of any crate
/// apply).
///
/// Empty chunks (no data, or `null`) are skipped, as the JS kernel skips
/// them. A stream that ends with an error yields [`NodeError::Remote`]; a
/// call's stream that is not finished by its deadline yields
/// [`NodeError::Timeout`], and one whose node goes down first
/// [`NodeError::NodeDown`]. While chunks wait here unread they count against
/// the node's inbound memory limit, so a reader that stops reading pauses
/// the node's inbound links rather than growing without bound.
///
/// ```no_run
/// use std::future::poll_fn;
/// use std::pin::Pin;
/// use futures_core::Stream;
/// # async fn run(node: clusterluck_native::Node) -> Result<(), clusterluck_native::NodeError> {
/// let mut reply = node.call("b", "echo", clusterluck_native::Data::bytes(b"hi".to_vec()), None).await?;
/// // Any `Stream` consumer works; here the trait is polled by hand.
/// while let Some(chunk) = poll_fn(|cx| Pin::new(&mut reply).poll_next(cx)).await {
///     println!("{:?}", chunk?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Chunks {
    rx: mpsc::UnboundedReceiver<Chunk>,
    /// The call's deadline, armed once (a timer kept across polls).
    deadline: Option<Pin<Box<Sleep>>>,
    ended: bool,
    _guard: Option<Guard>,
}

impl Chunks {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Chunk>, deadline: Option<Instant>, guard: Option<Guard>) -> Chunks {
        let deadline = deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
        Chunks { rx, deadline, ended: false, _guard: guard }
    }

    /// The next chunk; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<Payload, NodeError>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Both [`Chunks::next`] and the [`Stream`] impl read through this.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Payload, NodeError>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            let got = match self.rx.poll_recv(cx) {
                Poll::Ready(got) => got,
                Poll::Pending => {
                    if let Some(deadline) = self.deadline.as_mut() {
                        if deadline.as_mut().poll(cx).is_ready() {
                            self.ended = true;
                            return Poll::Ready(Some(Err(NodeError::Timeout)));
                        }
                    }
                    return Poll::Pending;
                }
            };
            let (m, _ticket) = match got {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(NodeError::Closed)));
                }
            };
            if m.stream.done {
                self.ended = true;
            }
            if let Some(e) = m.stream.remote_error() {
                self.ended = true;
                return Poll::Ready(Some(Err(NodeError::Remote(e))));
            }
            if !m.data.is_empty() {
                return Poll::Ready(Some(Ok(m.data)));
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
                Payload::Json(t) => match crate::wire::json::as_str(&t) {
                    Some(s) => out.extend_from_slice(s.as_bytes()),
                    None => out.extend_from_slice(t.as_bytes()),
                },
                Payload::Absent => {}
            }
        }
        Ok(out)
    }
}

impl Stream for Chunks {
    type Item = Result<Payload, NodeError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            (0, Some(0))
        } else {
            (0, None)
        }
    }
}

/// An outbound stream: chunks go out as they are sent, in order.
///
/// End it with [`StreamWriter::end`] or [`StreamWriter::fail`]; one dropped
/// before either fails with "stream dropped", so the receiver never waits
/// for an end that will not come.
#[derive(Debug)]
pub struct StreamWriter {
    out: Outbound,
    peer: String,
    event: String,
    tag: Option<String>,
    id: String,
    finished: bool,
}

impl StreamWriter {
    pub(crate) fn new(out: Outbound, peer: String, event: String, tag: Option<String>) -> StreamWriter {
        StreamWriter { out, peer, event, tag, id: crate::node::message::random_id(), finished: false }
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
        self.out.send_message(&self.peer, &self.event, self.tag.as_deref(), stream, data)
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
        self.out.send_message(&self.peer, &self.event, self.tag.as_deref(), stream, Data::null())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(Some(error_json("stream dropped")));
        }
    }
}
