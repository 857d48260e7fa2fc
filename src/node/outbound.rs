//! The send half of a node: what writing a message to a peer needs, and
//! nothing of routing what arrives.
//!
//! A [`StreamWriter`](crate::node::stream::StreamWriter) keeps writing
//! chunks long after the call that made it returned; it holds this, not a
//! whole node (its handlers, its calls waiting for replies, its
//! dispatcher), so the stream module needs nothing of the node's module,
//! and what a writer keeps alive is the network side it writes to.
//!
//! Every send is weighed against the link's bounds before it is handed
//! over ([`Flow`]): a send that waits does so while the link is over its
//! high-water mark, as a bounded channel's send waits for capacity; one that
//! may not wait is refused with [`NodeError::Busy`] or
//! [`NodeError::Overflow`]. Nothing a Rust sender hands over is ever
//! dropped by the link for its bounds, so loss is never silent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::link::kernel::Kernel;
use crate::link::peer::{Command, PeerHandle, Room};
use crate::node::delivery::{Event, InMessage, RustSink};
use crate::node::message::{Data, Payload, Sender, StreamInfo};
use crate::node::node_error::NodeError;
use crate::wire::envelope::{self, StreamOut};

/// How a send meets a link that is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Waits for room (`cast`, `StreamWriter::send`).
    Wait,
    /// Refused at once with [`NodeError::Busy`] (`try_cast`, `try_send`).
    Try,
    /// Sent over the high-water mark, refused only past `max_queue_bytes`
    /// (replies, the ends of streams: small, and owed to someone waiting).
    Owed,
}

/// How a send reaches the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// With the other sends of the moment, as one batch (casts, chunks:
    /// throughput, no one waits on each).
    Batched,
    /// At once from the calling thread when the link is idle (requests,
    /// replies: someone waits on each), else batched.
    Direct,
}

/// The links of a node, to write to. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbound {
    /// The network side, and its registry of links by node id.
    pub(crate) kernel: Arc<Kernel>,
    /// Set when the node shuts down: nothing more is sent.
    pub(crate) stopped: Arc<AtomicBool>,
    /// This node as its messages name it, once it listens: what is sent to
    /// its own id is delivered here, as the JS kernel delivers it.
    pub(crate) me: Arc<OnceLock<Sender>>,
    /// Where messages to the own id are delivered.
    pub(crate) local: Arc<RustSink>,
    /// The streams this node is writing, by the key their reader names them
    /// with when it goes away: set, their writers stop with
    /// [`NodeError::StreamStopped`].
    pub(crate) writing: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("stopped", &self.stopped.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

/// About what a message weighs in the link's accounting before it is
/// encoded: its JSON, or a Buffer at four bytes of digits per byte (as the
/// link counts what it has not encoded yet), and the envelope around it.
fn weight(from_json: &str, event: &str, data: &Data) -> usize {
    let envelope = from_json.len() + event.len() + 160;
    envelope
        + match data {
            Data::Bytes(b) => 4 * b.len(),
            Data::Json(j) => j.len(),
            Data::Absent => 0,
        }
}

impl Outbound {
    pub(crate) fn new(kernel: Kernel, local: Arc<RustSink>) -> Outbound {
        Outbound {
            kernel: Arc::new(kernel),
            stopped: Arc::new(AtomicBool::new(false)),
            me: Arc::new(OnceLock::new()),
            local,
            writing: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// `Closed` once the node shuts down.
    pub(crate) fn check_open(&self) -> Result<(), NodeError> {
        if self.stopped.load(Ordering::Acquire) {
            Err(NodeError::Closed)
        } else {
            Ok(())
        }
    }

    /// Whether `id` is this node's own id.
    pub(crate) fn is_me(&self, id: &str) -> bool {
        self.me.get().is_some_and(|me| me.id == id)
    }

    /// The link to node `id`.
    pub(crate) fn peer(&self, id: &str) -> Result<PeerHandle, NodeError> {
        self.check_open()?;
        self.kernel.peer(id).ok_or_else(|| NodeError::UnknownNode(id.to_string()))
    }

    fn writing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AtomicBool>>> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a writer's stop flag under its keys.
    pub(crate) fn watch_streams(&self, keys: &[String], stop: &Arc<AtomicBool>) {
        let mut writing = self.writing();
        for k in keys {
            writing.insert(k.clone(), stop.clone());
        }
    }

    /// Forgets a writer that is gone (its keys, if still its own).
    pub(crate) fn unwatch_streams(&self, keys: &[String], stop: &Arc<AtomicBool>) {
        let mut writing = self.writing();
        for k in keys {
            if writing.get(k).is_some_and(|s| Arc::ptr_eq(s, stop)) {
                writing.remove(k);
            }
        }
    }

    /// A reader has gone away: the writer of the stream it names stops.
    /// Unknown keys (a stream already ended) are ignored.
    pub(crate) fn stop_stream(&self, key: &str) {
        match self.writing().get(key) {
            Some(stop) => stop.store(true, Ordering::Release),
            None => tracing::debug!("a stop for stream {key}, which is not being written"),
        }
    }

    /// Writes one message envelope to node `id`'s link, waiting for room
    /// or not as `flow` says.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_message(&self, id: &str, event: &str, tag: Option<&str>, stream: StreamOut<'_>, data: Data, flow: Flow, write: Write) -> Result<(), NodeError> {
        if flow == Flow::Wait {
            // A send that finds room completes at once, so a loop of them
            // would never yield: counted against the task's budget, as
            // tokio's own channel sends are, it gives the runtime back now
            // and then, and on a runtime of one thread the node's dispatcher
            // still runs (to read the stop of a stream being written, say).
            tokio::task::consume_budget().await;
        }
        if flow != Flow::Wait || self.is_me(id) {
            if flow == Flow::Wait {
                // Delivered here: bounded by what the handlers hold, as what
                // arrives from the network is.
                crate::link::sink::Sink::wait_room(&*self.local).await;
            }
            return self.send_now(id, event, tag, stream, data, flow, write);
        }
        // One look-up of the link and the settings for the whole send.
        let handle = self.peer(id)?;
        let cfg = self.kernel.shared().config();
        let size = weight(&cfg.from_json, event, &data);
        if handle.state.room(size) != Room::Free && handle.state.wait_room(size).await == Room::TooLarge {
            return Err(self.overflow(id, &handle, size));
        }
        self.send_via(&handle, cfg, size, id, event, tag, stream, data, Flow::Owed, write)
    }

    fn overflow(&self, id: &str, handle: &PeerHandle, size: usize) -> NodeError {
        NodeError::Overflow { node: id.to_string(), bytes: size, limit: handle.state.max_bytes.load(Ordering::Relaxed) }
    }

    /// Writes one message envelope to node `id`'s link without waiting:
    /// refused with `Busy` (only for [`Flow::Try`]) or `Overflow` when it
    /// does not fit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_now(&self, id: &str, event: &str, tag: Option<&str>, stream: StreamOut<'_>, data: Data, flow: Flow, write: Write) -> Result<(), NodeError> {
        if self.is_me(id) {
            self.check_open()?;
            if flow == Flow::Try && crate::link::sink::Sink::is_full(&*self.local) {
                return Err(NodeError::Busy { node: id.to_string() });
            }
            return self.deliver_here(event, tag, stream, data);
        }
        let handle = self.peer(id)?;
        let cfg = self.kernel.shared().config();
        let size = weight(&cfg.from_json, event, &data);
        self.send_via(&handle, cfg, size, id, event, tag, stream, data, flow, write)
    }

    /// Weighs a message of `size` against `handle`'s link as `flow` says,
    /// then writes it.
    #[allow(clippy::too_many_arguments)]
    fn send_via(&self, handle: &PeerHandle, cfg: Arc<crate::link::shared::Config>, size: usize, id: &str, event: &str, tag: Option<&str>, stream: StreamOut<'_>, data: Data, flow: Flow, write: Write) -> Result<(), NodeError> {
        match handle.state.room(size) {
            Room::TooLarge => return Err(self.overflow(id, handle, size)),
            Room::Full if flow == Flow::Try => return Err(NodeError::Busy { node: id.to_string() }),
            Room::Full if flow == Flow::Owed => {
                let state = &handle.state;
                if state.held() + size > state.max_bytes.load(Ordering::Relaxed) {
                    return Err(self.overflow(id, handle, size));
                }
            }
            _ => {}
        }
        let mut text = String::with_capacity(cfg.from_json.len() + event.len() + 128);
        let sent = match data {
            Data::Bytes(bytes) => {
                envelope::write_message_head(&mut text, &cfg.from_json, event, tag, stream);
                handle.send(Command::Buffer { head: text, bytes, cfg })
            }
            Data::Json(json) => {
                envelope::write_message_line(&mut text, &cfg.from_json, event, tag, stream, Some(json.as_str()));
                handle.send_lines(text, cfg, write == Write::Direct)
            }
            Data::Absent => {
                envelope::write_message_line(&mut text, &cfg.from_json, event, tag, stream, None);
                handle.send_lines(text, cfg, write == Write::Direct)
            }
        };
        if sent {
            Ok(())
        } else {
            Err(NodeError::Closed)
        }
    }

    /// A message to the own id: handed to this node's dispatcher as if it
    /// had come from the network (the JS kernel emits it locally).
    fn deliver_here(&self, event: &str, tag: Option<&str>, stream: StreamOut<'_>, data: Data) -> Result<(), NodeError> {
        let me = self.me.get().ok_or_else(|| NodeError::UnknownNode(String::new()))?.clone();
        let data = match data {
            Data::Absent => Payload::Absent,
            Data::Json(j) => Payload::Json(j),
            Data::Bytes(b) => Payload::Bytes(b),
        };
        let stream = StreamInfo { done: stream.done, id: stream.id.map(str::to_string), error: stream.error.map(str::to_string) };
        self.local.send(Event::Message(Box::new(InMessage { socket: 0, from: me, event: event.to_string(), tag: tag.map(str::to_string), stream, data })));
        Ok(())
    }
}
