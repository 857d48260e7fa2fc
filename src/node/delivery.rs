//! Delivering inbound events to Rust instead of to the JS thread.
//!
//! The network tasks report everything through the [`Outbox`]'s methods
//! (`message`, `skip`, `simple`, `with_strings`, ...). An outbox made with
//! [`Outbox::rust`] does not batch those as JSON text for JS: it decodes each
//! into a typed [`Event`] and sends it down a channel to the Rust node's
//! dispatcher. The call sites stay the same for both.
//!
//! Memory stays bounded the same way as for JS: every event carries a
//! [`Ticket`] for its size, the bytes of tickets alive count against the
//! outbox's high-water mark, and readers pause while it is exceeded. A ticket
//! is given back when the event (or the chunk taken from it) is dropped, so
//! data a handler still holds keeps counting.
//!
//! [`Outbox`]: crate::link::events::Outbox
//! [`Outbox::rust`]: crate::link::events::Outbox::rust

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use crate::wire::envelope::{Message, Payload};
use crate::wire::error::Skip;
use crate::link::events::kind;
use crate::wire::json;

/// The data of an inbound message.
#[derive(Debug, Clone, PartialEq)]
pub enum InData {
    /// No `data` member (JS `undefined`).
    Absent,
    /// Any JSON value, as its text.
    Json(String),
    /// A Node Buffer (`{"type":"Buffer","data":[...]}`), decoded.
    Bytes(Vec<u8>),
}

/// The `stream` member of an inbound message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamInfo {
    /// No more messages follow for this stream (or it was not one).
    pub done: bool,
    /// The stream's id; `None` for a single message.
    pub id: Option<String>,
    /// The flattened error a failed stream ends with, as JSON text.
    pub error: Option<String>,
}

/// The sender of a message, as its `from` member says.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    /// The sender's node id.
    pub id: String,
    /// The host it listens on.
    pub host: String,
    /// The port it listens on.
    pub port: f64,
}

/// A routed message, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct InMessage {
    /// The inbound socket it came on.
    pub socket: u64,
    /// Who sent it.
    pub from: Sender,
    /// Its event id (or the reply tag it answers).
    pub event: String,
    /// The tag to reply to; `None` for a cast.
    pub tag: Option<String>,
    /// Where it stands in a stream.
    pub stream: StreamInfo,
    /// Its data.
    pub data: InData,
}

/// One event of the network side, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message from a peer.
    Message(InMessage),
    /// A frame dropped as bad input, on inbound socket `socket`.
    Skip { socket: u64, skip: Skip },
    /// An inbound connection opened.
    SocketOpen { socket: u64, port: u64, ip: String },
    /// An inbound connection closed.
    SocketClose { socket: u64 },
    /// Outbound link `peer` is up.
    PeerConnect { peer: u64 },
    /// Outbound link `peer` went down (or an attempt failed).
    PeerDisconnect { peer: u64 },
    /// Outbound link `peer` wrote what queued while it was down.
    PeerDrained { peer: u64 },
    /// Outbound link `peer` cannot come up, and why.
    PeerError { peer: u64, message: String },
    /// The task of outbound link `peer` ended.
    PeerClosed { peer: u64 },
    /// Outbound link `peer` has more unwritten bytes than its high-water mark.
    PeerBusy { peer: u64 },
    /// ... and is back under half of it.
    PeerDrain { peer: u64 },
    /// Outbound link `peer` is dropping frames over the limit named.
    PeerOverflow { peer: u64, limit: String },
    /// The live outbound link `peer` ended: "tick timeout" (its node, which
    /// holds a link to us, was silent for the tick time), "closed" or
    /// "stopped".
    NodeDown { peer: u64, reason: String },
    /// The node of outbound link `peer` showed that it runs, after the
    /// link came up or after it was declared down.
    NodeUp { peer: u64 },
    /// The listener of start number `generation` is bound to `port`.
    Ready { generation: u64, port: u64 },
    /// The listener of start number `generation` could not bind.
    ListenError { generation: u64, message: String, code: String },
    /// A kind this version does not know (or a known kind with fields
    /// missing): kept as it came rather than dropped or a panic.
    Other { kind: u8, ints: Vec<u64>, strings: Vec<String> },
}

impl Event {
    /// Decodes an event of integer and string fields, as the network tasks
    /// report them through `Outbox::simple` and `Outbox::with_strings`.
    pub fn decode(k: u8, ints: &[u64], strings: &[&str]) -> Event {
        let int = |i: usize| ints.get(i).copied();
        let string = |i: usize| strings.get(i).map(|s| s.to_string());
        let typed = match k {
            kind::SOCKET_OPEN => int(0).zip(int(1)).zip(string(0)).map(|((socket, port), ip)| Event::SocketOpen { socket, port, ip }),
            kind::SOCKET_CLOSE => int(0).map(|socket| Event::SocketClose { socket }),
            kind::PEER_CONNECT => int(0).map(|peer| Event::PeerConnect { peer }),
            kind::PEER_DISCONNECT => int(0).map(|peer| Event::PeerDisconnect { peer }),
            kind::PEER_DRAINED => int(0).map(|peer| Event::PeerDrained { peer }),
            kind::PEER_CLOSED => int(0).map(|peer| Event::PeerClosed { peer }),
            kind::PEER_BUSY => int(0).map(|peer| Event::PeerBusy { peer }),
            kind::PEER_DRAIN => int(0).map(|peer| Event::PeerDrain { peer }),
            kind::PEER_OVERFLOW => int(0).zip(string(0)).map(|(peer, limit)| Event::PeerOverflow { peer, limit }),
            kind::NODE_DOWN => int(0).zip(string(0)).map(|(peer, reason)| Event::NodeDown { peer, reason }),
            kind::NODE_UP => int(0).map(|peer| Event::NodeUp { peer }),
            kind::PEER_ERROR => int(0).zip(string(0)).map(|(peer, message)| Event::PeerError { peer, message }),
            kind::READY => int(0).zip(int(1)).map(|(generation, port)| Event::Ready { generation, port }),
            kind::LISTEN_ERROR => int(0)
                .zip(string(0))
                .map(|(generation, message)| Event::ListenError { generation, message, code: string(1).unwrap_or_default() }),
            _ => None,
        };
        typed.unwrap_or_else(|| Event::Other {
            kind: k,
            ints: ints.to_vec(),
            strings: strings.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// An owned copy of a decoded message.
    pub fn message(socket: u64, m: &Message<'_>) -> Event {
        let event = json::as_str(m.event_raw).map(|s| s.into_owned()).unwrap_or_default();
        let mut stream = StreamInfo { done: m.done, id: None, error: None };
        if let Some(members) = json::object_members_trusted(m.stream_raw) {
            for (k, v) in members {
                match &*k {
                    "stream" => stream.id = json::as_str(v).map(|s| s.into_owned()),
                    "error" => stream.error = Some(v.to_string()),
                    _ => {}
                }
            }
        }
        let data = match &m.data {
            Payload::Absent => InData::Absent,
            Payload::Json(raw) => InData::Json(raw.to_string()),
            Payload::Bytes(b) => InData::Bytes(b.clone()),
            // Unusual elements (strings, floats): left as the JSON it came as.
            Payload::BufferLike(raw) => InData::Json(raw.to_string()),
        };
        Event::Message(InMessage {
            socket,
            from: Sender { id: m.from.id.to_string(), host: m.from.host.to_string(), port: m.from.port },
            event,
            tag: m.tag.as_ref().map(|t| t.to_string()),
            stream,
            data,
        })
    }

    /// About how many bytes the event holds.
    fn size(&self) -> usize {
        let data = match self {
            Event::Message(m) => {
                m.event.len()
                    + m.from.id.len()
                    + m.stream.error.as_ref().map_or(0, String::len)
                    + match &m.data {
                        InData::Absent => 0,
                        InData::Json(s) => s.len(),
                        InData::Bytes(b) => b.len(),
                    }
            }
            Event::Skip { skip, .. } => match skip {
                Skip::InvalidChecksum { sent, calculated } => sent.as_ref().map_or(0, String::len) + calculated.len(),
                Skip::InvalidMessage(s) | Skip::Tls(s) => s.len(),
                _ => 0,
            },
            _ => 0,
        };
        data + 128
    }
}

/// Bytes of events handed to Rust and not yet dropped.
#[derive(Debug)]
pub struct Room {
    bytes: AtomicUsize,
    freed: Notify,
    high_water: usize,
}

impl Room {
    /// True while more than the high-water mark is held.
    pub fn is_full(&self) -> bool {
        self.bytes.load(Ordering::Acquire) > self.high_water
    }

    /// Waits until no more than the high-water mark is held.
    pub async fn wait(&self) {
        loop {
            let freed = self.freed.notified();
            if !self.is_full() {
                return;
            }
            freed.await;
        }
    }
}

/// A claim on the room for one event's bytes, given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    room: Arc<Room>,
    bytes: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let before = self.room.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        // Only a drop that makes room is worth waking readers for.
        if before > self.room.high_water && before - self.bytes <= self.room.high_water {
            self.room.freed.notify_waiters();
        }
    }
}

/// An event and its claim on the room.
#[derive(Debug)]
pub struct Delivery {
    /// The event.
    pub event: Event,
    /// Dropped when the event's data is no longer held.
    pub ticket: Ticket,
}

/// Where a Rust outbox sends its events.
#[derive(Debug)]
pub struct RustSink {
    tx: mpsc::UnboundedSender<Delivery>,
    room: Arc<Room>,
}

impl RustSink {
    /// A sink with a high-water mark of `high_water` bytes, and the receiving
    /// end of its channel.
    pub fn new(high_water: usize) -> (RustSink, mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Room { bytes: AtomicUsize::new(0), freed: Notify::new(), high_water });
        (RustSink { tx, room }, rx)
    }

    /// The room its events count against.
    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }

    /// Sends an event; dropped (and its room given back) if nothing listens.
    pub fn send(&self, event: Event) {
        let bytes = event.size();
        self.room.bytes.fetch_add(bytes, Ordering::AcqRel);
        let ticket = Ticket { room: self.room.clone(), bytes };
        let _ = self.tx.send(Delivery { event, ticket });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::envelope::FromNode;
    use std::borrow::Cow;

    #[test]
    fn kinds_decode_to_typed_events_and_unknown_ones_are_kept() {
        assert_eq!(Event::decode(kind::READY, &[3, 7022], &[]), Event::Ready { generation: 3, port: 7022 });
        assert_eq!(
            Event::decode(kind::PEER_ERROR, &[4], &["boom"]),
            Event::PeerError { peer: 4, message: "boom".into() }
        );
        assert_eq!(
            Event::decode(kind::SOCKET_OPEN, &[9, 5000], &["127.0.0.1"]),
            Event::SocketOpen { socket: 9, port: 5000, ip: "127.0.0.1".into() }
        );
        // A kind added later, and a known kind short of fields: no panic.
        assert_eq!(Event::decode(200, &[1, 2], &["x"]), Event::Other { kind: 200, ints: vec![1, 2], strings: vec!["x".into()] });
        assert!(matches!(Event::decode(kind::READY, &[], &[]), Event::Other { .. }));
    }

    #[test]
    fn messages_are_owned_with_their_stream_read() {
        let from = FromNode { id: Cow::Borrowed("a"), host: Cow::Borrowed("h"), port: 1.0, raw: "{}" };
        let m = Message {
            event_raw: "\"e\\u0076\"",
            tag: Some(Cow::Borrowed("t")),
            from,
            stream_raw: "{\"done\":true,\"stream\":\"s1\",\"error\":{\"message\":\"x\"}}",
            done: true,
            data: Payload::Bytes(vec![1, 2]),
        };
        let Event::Message(got) = Event::message(5, &m) else { panic!("not a message") };
        assert_eq!(got.event, "ev");
        assert_eq!(got.tag.as_deref(), Some("t"));
        assert_eq!(got.stream, StreamInfo { done: true, id: Some("s1".into()), error: Some("{\"message\":\"x\"}".into()) });
        assert_eq!(got.data, InData::Bytes(vec![1, 2]));
    }

    #[test]
    fn room_is_held_until_the_event_is_dropped() {
        let (sink, mut rx) = RustSink::new(1000);
        for _ in 0..10 {
            sink.send(Event::Other { kind: 99, ints: vec![], strings: vec![] });
        }
        assert!(sink.room().is_full());
        let mut held = Vec::new();
        while let Ok(d) = rx.try_recv() {
            held.push(d);
        }
        assert!(sink.room().is_full(), "taken but still held");
        held.clear();
        assert!(!sink.room().is_full());
        assert_eq!(sink.room().bytes.load(Ordering::Acquire), 0);
    }
}
