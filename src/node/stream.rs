//! Streams of byte chunks, both ways.
//!
//! A stream on the wire is a run of messages sharing a stream id, each with
//! `done: false` and a chunk (a Buffer), then one with `done: true` (and no
//! data, or the error the stream failed with). [`Chunks`] reads such a run
//! (a streamed request a handler receives, or the reply to a call);
//! [`StreamWriter`] writes one (a streamed request, or a streamed reply).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::node::delivery::InMessage;
use crate::node::message::{error_json, Data, Payload};
use crate::node::outbound::{Flow, Outbound, Write};
use crate::node::node_error::NodeError;
use crate::wire::envelope::StreamOut;

/// One message of a stream, with the bytes it counts against the stream's
/// bound; or why the stream cannot go on (the node called went down, the
/// stream's bound was passed).
pub(crate) type Chunk = Result<(InMessage, usize), NodeError>;

/// The event under which a node tells a stream's writer that its reader
/// has gone away: `{"stream": id}` or, for a reply stream, `{"reply": tag}`.
/// A JS kernel has no such message: it emits it as an event nobody listens
/// to, and goes on writing (the chunks are dropped here as they come).
pub(crate) const STREAM_STOP_EVENT: &str = "clusterluck:stream-stop";

/// Default of [`Builder::stream_buffer`](crate::node::Builder::stream_buffer).
pub const DEFAULT_STREAM_BUFFER: usize = 8 * 1024 * 1024;

/// The dispatcher's end of an inbound stream: chunks go to the reader
/// through it, and what the reader has not taken yet is kept within the
/// stream's bound.
#[derive(Debug)]
pub(crate) struct Feed {
    tx: mpsc::UnboundedSender<Chunk>,
    held: Arc<AtomicUsize>,
    limit: usize,
    /// Failed for its bound: what still comes of it is dropped.
    failed: bool,
}

/// What became of a chunk handed to a [`Feed`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fed {
    /// Given to the reader.
    Taken,
    /// Dropped: the reader has gone away (or the stream failed before).
    Gone,
    /// The reader fell more than the bound behind: the stream has failed
    /// with [`NodeError::StreamOverflow`], and this chunk is dropped.
    Overflowed,
}

impl Feed {
    /// A feed and the reader's end, bounded to `limit` bytes unread.
    pub(crate) fn new(limit: usize, deadline: Option<Instant>, guard: Option<Guard>) -> (Feed, Chunks) {
        let (tx, rx) = mpsc::unbounded_channel();
        let held = Arc::new(AtomicUsize::new(0));
        let chunks = Chunks::new(rx, held.clone(), deadline, guard);
        (Feed { tx, held, limit, failed: false }, chunks)
    }

    /// Hands a chunk to the reader.
    pub(crate) fn push(&mut self, m: InMessage) -> Fed {
        if self.failed || self.tx.is_closed() {
            return Fed::Gone;
        }
        let bytes = m.data_len();
        let held = self.held.load(Ordering::Acquire);
        // A stream's first chunk always goes, whatever its size.
        if held > 0 && held + bytes > self.limit {
            self.failed = true;
            let _ = self.tx.send(Err(NodeError::StreamOverflow { limit: self.limit }));
            return Fed::Overflowed;
        }
        self.held.fetch_add(bytes, Ordering::AcqRel);
        if self.tx.send(Ok((m, bytes))).is_err() {
            return Fed::Gone;
        }
        Fed::Taken
    }

    /// Fails the stream with `e` (its node went down).
    pub(crate) fn fail(&self, e: NodeError) {
        let _ = self.tx.send(Err(e));
    }

    /// Whether the reader has gone away.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Run when a reader goes away before its stream ended: tells the writer.
pub(crate) type OnAbandon = Box<dyn FnOnce() + Send + Sync>;

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
/// the stream's bound ([`Builder::stream_buffer`](crate::node::Builder::stream_buffer),
/// 8 MiB by default): a reader that falls further behind gets
/// [`NodeError::StreamOverflow`] and the rest of the stream is dropped, while
/// the link it came on goes on carrying everything else. Dropping a
/// `Chunks` before its end tells a Rust writer to stop
/// ([`NodeError::StreamStopped`] from its next send); a JS writer is not
/// told, and what it still sends is dropped as it arrives.
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
pub struct Chunks {
    rx: mpsc::UnboundedReceiver<Chunk>,
    /// Bytes handed to this reader and not taken yet (the stream's bound).
    held: Arc<AtomicUsize>,
    /// The call's deadline, armed once (a timer kept across polls).
    deadline: Option<Pin<Box<Sleep>>>,
    ended: bool,
    on_abandon: Option<OnAbandon>,
    _guard: Option<Guard>,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunks").field("ended", &self.ended).field("held", &self.held.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        if let Some(tell) = self.on_abandon.take().filter(|_| !self.ended) {
            tell();
        }
    }
}

impl Chunks {
    fn new(rx: mpsc::UnboundedReceiver<Chunk>, held: Arc<AtomicUsize>, deadline: Option<Instant>, guard: Option<Guard>) -> Chunks {
        let deadline = deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
        Chunks { rx, held, deadline, ended: false, on_abandon: None, _guard: guard }
    }

    /// What to do if this reader goes away before the stream's end.
    pub(crate) fn on_abandon(&mut self, tell: OnAbandon) {
        self.on_abandon = Some(tell);
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
            let m = match got {
                Some(Ok((m, bytes))) => {
                    self.held.fetch_sub(bytes, Ordering::AcqRel);
                    m
                }
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
                return Poll::Ready(Some(Err(NodeError::from_remote(e))));
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
///
/// [`StreamWriter::send`] waits while the link is over its high-water mark
/// (as a bounded channel's send waits for capacity), so a writer never
/// holds more than that in memory however fast it produces;
/// [`StreamWriter::try_send`] returns [`NodeError::Busy`] instead.
#[derive(Debug)]
pub struct StreamWriter {
    out: Outbound,
    peer: String,
    event: String,
    tag: Option<String>,
    id: String,
    finished: bool,
    /// Set when the reader tells us it has gone away.
    stop: Arc<AtomicBool>,
    /// The keys `stop` is registered under with the node.
    keys: Vec<String>,
}

impl StreamWriter {
    pub(crate) fn new(out: Outbound, peer: String, event: String, tag: Option<String>) -> StreamWriter {
        let id = crate::node::message::random_id();
        let stop = Arc::new(AtomicBool::new(false));
        // A call's request stream is stopped by its id, a reply stream by
        // the tag it replies to (the caller knows nothing else of it).
        let keys = match &tag {
            Some(_) => vec![id.clone()],
            None => vec![id.clone(), event.clone()],
        };
        out.watch_streams(&keys, &stop);
        StreamWriter { out, peer, event, tag, id, finished: false, stop, keys }
    }

    /// The stream's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a chunk of bytes (as a Buffer), waiting while the link is over
    /// its high-water mark. [`NodeError::StreamStopped`] once the reader has
    /// gone away; [`NodeError::Overflow`] for a chunk that alone is larger
    /// than the link's `max_queue_bytes`.
    pub async fn send(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), NodeError> {
        self.send_data(Data::Bytes(chunk.into())).await
    }

    /// Sends a chunk of bytes at once, or [`NodeError::Busy`] while the link
    /// is over its high-water mark (the chunk is not sent: try again later).
    pub fn try_send(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), NodeError> {
        self.check()?;
        let stream = StreamOut { done: false, id: Some(&self.id), error: None };
        self.out.send_now(&self.peer, &self.event, self.tag.as_deref(), stream, Data::Bytes(chunk.into()), Flow::Try, Write::Batched)
    }

    /// Sends a chunk of any data, waiting as [`StreamWriter::send`] does.
    pub async fn send_data(&mut self, data: Data) -> Result<(), NodeError> {
        self.check()?;
        let stream = StreamOut { done: false, id: Some(&self.id), error: None };
        self.out.send_message(&self.peer, &self.event, self.tag.as_deref(), stream, data, Flow::Wait, Write::Batched).await
    }

    fn check(&self) -> Result<(), NodeError> {
        if self.finished {
            return Err(NodeError::Closed);
        }
        if self.stop.load(Ordering::Acquire) {
            return Err(NodeError::StreamStopped);
        }
        Ok(())
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
        self.out.send_now(&self.peer, &self.event, self.tag.as_deref(), stream, Data::null(), Flow::Owed, Write::Batched)
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(Some(error_json("stream dropped")));
        }
        self.out.unwatch_streams(&self.keys, &self.stop);
    }
}
