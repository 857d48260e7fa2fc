//! The Rust node's [`Sink`]: what the network reports, as owned events on a
//! channel to the node's dispatcher.
//!
//! Memory stays bounded as the addon's JS batch bounds it: every event
//! carries a [`Ticket`] for its size, the bytes of tickets alive count
//! against a high-water mark, and readers pause while it is exceeded. A
//! ticket is given back when the event (or the chunk taken from it) is
//! dropped, so data a handler still holds keeps counting.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};

use crate::link::observe::NodeKind;
use crate::link::sink::{Delivered, LinkEvent, RoomFuture, Sink};
use crate::node::message::{Payload, Sender, StreamInfo};
use crate::wire::envelope::{self, Message};
use crate::wire::error::Skip;
use crate::wire::json;

/// A port as a JS sender wrote it (a number): out of range or not whole is 0,
/// which no node listens on.
fn js_port(port: f64) -> u16 {
    if port.fract() == 0.0 && (0.0..=65535.0).contains(&port) {
        port as u16
    } else {
        0
    }
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
    pub data: Payload,
}

/// One event of the network side, typed.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// A message, owned (one sent to the own id).
    Message(Box<InMessage>),
    /// A message from a peer, its text in its batch's text.
    Raw(RawMessage),
    /// A frame dropped as bad input, on inbound socket `socket`.
    Skip { socket: u64, skip: Skip },
    /// Anything else the network reports.
    Link(LinkEvent),
}

impl InMessage {
    /// About how many bytes its data holds.
    pub(crate) fn data_len(&self) -> usize {
        match &self.data {
            Payload::Absent => 0,
            Payload::Json(s) => s.len(),
            Payload::Bytes(b) => b.len(),
        }
    }
}

/// Where a piece of a batch's text is. Offsets of 32 bits keep an event
/// small (it is moved into the batch and out again); a message that would
/// take the text past them is kept owned instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// `piece`, appended to `text` (whose length stays within `u32`, as
    /// [`RawMessage::fits`] checked).
    fn keep(text: &mut String, piece: &str) -> Span {
        let start = text.len() as u32;
        text.push_str(piece);
        Span { start, end: text.len() as u32 }
    }

    fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    fn of(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize).unwrap_or_default()
    }
}

/// The data of a [`RawMessage`].
#[derive(Debug, PartialEq)]
enum RawData {
    Absent,
    Json(Span),
    Bytes(Vec<u8>),
    BufferLike(Span),
}

/// A routed message as it came off the wire, its pieces of text copied
/// into the text of its batch (one buffer for the whole read) rather than
/// each into a string of its own: the owned form, [`InMessage`], is made
/// on the dispatcher, where its strings are handed to a handler that drops
/// them, so they are allocated and freed on one thread while warm.
#[derive(Debug, PartialEq)]
pub struct RawMessage {
    socket: u64,
    event_raw: Span,
    tag: Option<Span>,
    tag_other: Option<Span>,
    id: Option<Span>,
    host: Option<Span>,
    port: Option<f64>,
    stream_raw: Span,
    done: bool,
    data: RawData,
}

impl RawMessage {
    /// Whether `m`'s text can be kept at the end of `text`, within the
    /// offsets a [`Span`] holds.
    fn fits(text: &str, m: &Message<'_>) -> bool {
        let data = match &m.data {
            envelope::InData::Json(raw) | envelope::InData::BufferLike(raw) => raw.len(),
            envelope::InData::Absent | envelope::InData::Bytes(_) => 0,
        };
        let len = |s: Option<&str>| s.map_or(0, str::len);
        let total = text.len()
            + m.event_raw.len()
            + len(m.tag.as_deref())
            + len(m.tag_other)
            + len(m.from.id.as_deref())
            + len(m.from.host.as_deref())
            + m.stream_raw.len()
            + data;
        total <= u32::MAX as usize
    }

    /// Keeps `m`'s text at the end of `text` (a Buffer's bytes are taken).
    fn keep(text: &mut String, socket: u64, m: &mut Message<'_>) -> RawMessage {
        let mut keep = |piece: &str| Span::keep(text, piece);
        RawMessage {
            socket,
            event_raw: keep(m.event_raw),
            tag: m.tag.as_deref().map(&mut keep),
            tag_other: m.tag_other.map(&mut keep),
            id: m.from.id.as_deref().map(&mut keep),
            host: m.from.host.as_deref().map(&mut keep),
            port: m.from.port,
            stream_raw: keep(m.stream_raw),
            done: m.done,
            data: match &mut m.data {
                envelope::InData::Absent => RawData::Absent,
                envelope::InData::Json(raw) => RawData::Json(keep(raw)),
                envelope::InData::Bytes(b) => RawData::Bytes(std::mem::take(b)),
                envelope::InData::BufferLike(raw) => RawData::BufferLike(keep(raw)),
            },
        }
    }

    /// The owned message, its text read from `text`, the text of its batch.
    pub fn into_owned(self, text: &str) -> InMessage {
        let piece = |s: Span| s.of(text);
        let m = Message {
            event_raw: piece(self.event_raw),
            tag: self.tag.map(|t| Cow::Borrowed(piece(t))),
            tag_other: self.tag_other.map(piece),
            from: envelope::FromNode {
                id: self.id.map(|t| Cow::Borrowed(piece(t))),
                host: self.host.map(|t| Cow::Borrowed(piece(t))),
                port: self.port,
                raw: "",
            },
            stream_raw: piece(self.stream_raw),
            done: self.done,
            data: match self.data {
                RawData::Absent => envelope::InData::Absent,
                RawData::Json(s) => envelope::InData::Json(piece(s)),
                RawData::Bytes(b) => envelope::InData::Bytes(b),
                RawData::BufferLike(s) => envelope::InData::BufferLike(piece(s)),
            },
        };
        InMessage::from_wire(self.socket, m)
    }

    /// About how many bytes it holds, as [`Event::size`] counts an owned one.
    fn size(&self) -> usize {
        let plain = self.stream_raw.len() <= "{\"done\":false}".len();
        self.event_raw.len()
            + self.id.map_or(0, Span::len)
            + if plain { 0 } else { self.stream_raw.len() }
            + match &self.data {
                RawData::Absent => 0,
                RawData::Json(s) | RawData::BufferLike(s) => s.len(),
                RawData::Bytes(b) => b.len(),
            }
    }
}

impl InMessage {
    /// An owned copy of a decoded message (a Buffer's bytes moved).
    pub fn from_wire(socket: u64, m: Message<'_>) -> InMessage {
        let event = js_key(m.event_raw);
        let mut stream = StreamInfo { done: m.done, id: None, error: None };
        // What every single message carries has nothing more to read.
        let plain = matches!(m.stream_raw, "{\"done\":true}" | "{\"done\":false}");
        if let Some(members) = (!plain).then(|| json::object_members_trusted(m.stream_raw)).flatten() {
            for (k, v) in members {
                match &*k {
                    "stream" => stream.id = json::as_str(v).map(|s| s.into_owned()),
                    "error" => stream.error = Some(v.to_string()),
                    _ => {}
                }
            }
        }
        let data = match m.data {
            envelope::InData::Absent => Payload::Absent,
            envelope::InData::Json(raw) => Payload::Json(raw.to_string()),
            envelope::InData::Bytes(b) => Payload::Bytes(b),
            // Unusual elements (strings, floats): left as the JSON it came as.
            envelope::InData::BufferLike(raw) => Payload::Json(raw.to_string()),
        };
        InMessage {
            socket,
            // A sender that is not a whole address (clusterluck's CLI sends
            // its id alone) has what it lacks empty: it cannot be dialled.
            from: Sender {
                id: m.from.id.as_deref().unwrap_or_default().to_string(),
                host: m.from.host.as_deref().unwrap_or_default().to_string(),
                port: m.from.port.map_or(0, js_port),
            },
            event,
            tag: m.tag.as_ref().map(|t| t.to_string()),
            stream,
            data,
        }
    }
}

impl Event {
    /// An owned copy of a decoded message.
    #[cfg(any(test, feature = "internals"))]
    pub fn message(socket: u64, m: Message<'_>) -> Event {
        Event::Message(Box::new(InMessage::from_wire(socket, m)))
    }

    /// About how many bytes the event holds.
    fn size(&self) -> usize {
        let data = match self {
            Event::Message(m) => {
                m.event.len()
                    + m.from.id.len()
                    + m.stream.error.as_ref().map_or(0, String::len)
                    + match &m.data {
                        Payload::Absent => 0,
                        Payload::Json(s) => s.len(),
                        Payload::Bytes(b) => b.len(),
                    }
            }
            Event::Raw(m) => m.size(),
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

/// The name a JS emitter files an event id under (`String(id)`), so a Rust
/// handler is found for the messages a JS listener would be: a string as it
/// is, `null`, booleans and numbers as JavaScript prints them, an object as
/// "[object Object]". An array, which no kernel sends as an id, is left as
/// its JSON text rather than joined as JavaScript would.
fn js_key(raw: &str) -> String {
    if let Some(s) = json::as_str(raw) {
        return s.into_owned();
    }
    if raw.starts_with('{') {
        return "[object Object]".to_string();
    }
    // null, true, false and numbers: JSON.stringify prints them as String() does.
    json::canonicalize(raw).map(|c| c.into_owned()).unwrap_or_default()
}

/// Bytes of events handed to Rust and not yet dropped.
#[derive(Debug)]
pub struct Room {
    bytes: AtomicUsize,
    freed: Notify,
    high_water: usize,
    /// Emptied batches, for the next ones to fill without allocating (and
    /// growing, and faulting in) a vector and a text per socket read.
    spare: Mutex<Vec<(Vec<Event>, String)>>,
}

/// How many emptied batches are kept, and the largest kept (in events, and
/// in bytes of text: a read hands over about a mebibyte at most, but for
/// one large frame).
const SPARE_BATCHES: usize = 4;
const SPARE_EVENTS: usize = 4096;
const SPARE_TEXT: usize = 2 * 1024 * 1024;

impl Room {
    fn spare(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<Event>, String)>> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner())
    }

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

impl Ticket {
    /// Gives a batch's vector and text back, emptied, for a later batch.
    pub fn give_back(&self, mut events: Vec<Event>, mut text: String) {
        if events.capacity() <= SPARE_EVENTS && text.capacity() <= SPARE_TEXT {
            events.clear();
            text.clear();
            let mut spare = self.room.spare();
            if spare.len() < SPARE_BATCHES {
                spare.push((events, text));
            }
        }
    }
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

/// Events of one socket read (or one link event), in order, and their
/// claim on the room: one ticket for the batch, given back when the
/// dispatcher is done with it.
#[derive(Debug)]
pub struct Batch {
    /// The events.
    pub events: Vec<Event>,
    /// The text of its [`Event::Raw`] messages.
    pub text: String,
    /// Dropped when the batch's events are no longer held.
    pub ticket: Ticket,
}

/// Where the network side's events go for a Rust node: to its dispatcher,
/// in batches. The messages of one socket read come as one batch with one
/// ticket: one channel push and one wake-up of the dispatcher per read,
/// not per message, and no lock taken for each. Any other event is a
/// batch of its own, in order with the others.
#[derive(Debug)]
pub struct RustSink {
    tx: mpsc::UnboundedSender<Batch>,
    room: Arc<Room>,
}

impl RustSink {
    /// A sink with a high-water mark of `high_water` bytes, and the receiving
    /// end of its channel.
    pub fn new(high_water: usize) -> (RustSink, mpsc::UnboundedReceiver<Batch>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Room { bytes: AtomicUsize::new(0), freed: Notify::new(), high_water, spare: Mutex::new(Vec::new()) });
        (RustSink { tx, room }, rx)
    }

    /// A vector and a text for a batch, emptied, reused when given back.
    fn vector(&self) -> (Vec<Event>, String) {
        self.room.spare().pop().unwrap_or_else(|| (Vec::with_capacity(64), String::new()))
    }

    /// Sends `events` (`bytes` of them) as one batch; its room counts at
    /// once, so a long read is paused by [`Sink::is_full`] before the batch
    /// is delivered. Dropped (and its room given back) if nothing listens.
    fn send_batch(&self, events: Vec<Event>, text: String, bytes: usize) {
        self.room.bytes.fetch_add(bytes, Ordering::AcqRel);
        let _ = self.tx.send(Batch { events, text, ticket: Ticket { room: self.room.clone(), bytes } });
    }

    /// The room its events count against.
    #[cfg(test)]
    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }

    /// Sends an event now, after what was sent before.
    pub fn send(&self, event: Event) {
        let bytes = event.size();
        let (mut events, text) = self.vector();
        events.push(event);
        self.send_batch(events, text, bytes);
    }
}

impl Sink for RustSink {
    fn deliver(&self, socket: u64, items: &mut Vec<Delivered<'_>>) {
        if items.is_empty() {
            return;
        }
        let (mut events, mut text) = self.vector();
        events.reserve(items.len());
        let mut bytes = 0;
        for item in items.drain(..) {
            let event = match item {
                Delivered::Message(mut m) if RawMessage::fits(&text, &m) => Event::Raw(RawMessage::keep(&mut text, socket, &mut m)),
                Delivered::Message(m) => Event::Message(Box::new(InMessage::from_wire(socket, m))),
                Delivered::Skip(skip) => Event::Skip { socket, skip },
            };
            bytes += event.size();
            events.push(event);
        }
        self.send_batch(events, text, bytes);
    }

    fn event(&self, event: LinkEvent) {
        self.send(Event::Link(event));
    }

    fn is_full(&self) -> bool {
        self.room.is_full()
    }

    fn wait_room(&self) -> RoomFuture<'_> {
        Box::pin(self.room.wait())
    }

    fn node_kind(&self) -> NodeKind {
        NodeKind::Rust
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::envelope::FromNode;
    use std::borrow::Cow;

    #[test]
    fn messages_are_owned_with_their_stream_read() {
        let from = FromNode { id: Some(Cow::Borrowed("a")), host: Some(Cow::Borrowed("h")), port: Some(1.0), raw: "{}" };
        let m = Message {
            event_raw: "\"e\\u0076\"",
            tag: Some(Cow::Borrowed("t")),
            tag_other: None,
            from,
            stream_raw: "{\"done\":true,\"stream\":\"s1\",\"error\":{\"message\":\"x\"}}",
            done: true,
            data: envelope::InData::Bytes(vec![1, 2]),
        };
        let Event::Message(got) = Event::message(5, m) else { panic!("not a message") };
        assert_eq!(got.event, "ev");
        assert_eq!(got.tag.as_deref(), Some("t"));
        assert_eq!(got.stream, StreamInfo { done: true, id: Some("s1".into()), error: Some("{\"message\":\"x\"}".into()) });
        assert_eq!(got.data, Payload::Bytes(vec![1, 2]));
    }

    #[test]
    fn a_message_clusterluck_cli_sends_is_delivered_with_what_it_names() {
        // Its `from` is `{id}` alone; events are named as a JS emitter names them.
        for (id, key) in [("\"cmd\"", "cmd"), ("5", "5"), ("1e21", "1e+21"), ("null", "null"), ("true", "true"), ("{\"a\":1}", "[object Object]")] {
            let frame = format!("{{\"type\":\"message\",\"data\":{{\"id\":{id},\"tag\":\"t\",\"from\":{{\"id\":\"cli_7\"}},\"stream\":{{\"stream\":\"s\",\"done\":true}},\"data\":1}}}}");
            let Ok(envelope::Inbound::Message(m)) = envelope::decode(&frame, None) else { panic!("{frame}") };
            let Event::Message(got) = Event::message(1, m) else { panic!("not a message") };
            assert_eq!(got.event, key);
            assert_eq!(got.from, Sender { id: "cli_7".into(), host: String::new(), port: 0 });
            assert_eq!((got.tag.as_deref(), got.stream.done, got.stream.id.as_deref()), (Some("t"), true, Some("s")));
        }
    }

    #[test]
    fn a_message_kept_in_its_batch_text_is_the_owned_one() {
        let frames = [
            // A cast, a call whose tag and sender have escapes, a stream chunk with a Buffer.
            "{\"type\":\"message\",\"data\":{\"id\":\"cast\",\"tag\":null,\"from\":{\"id\":\"a\",\"host\":\"h\",\"port\":7},\"stream\":{\"done\":true},\"data\":{\"a\":1}}}",
            "{\"type\":\"message\",\"data\":{\"id\":5,\"tag\":\"t\\u0031\",\"from\":{\"id\":\"n\\u00e9\",\"host\":\"h\",\"port\":7.5},\"stream\":{\"done\":false,\"stream\":\"s\"},\"data\":\"x\"}}",
            "{\"type\":\"message\",\"data\":{\"id\":\"e\",\"tag\":3,\"from\":{\"id\":\"cli\"},\"stream\":{\"stream\":\"s\",\"done\":true,\"error\":{\"message\":\"m\"}},\"data\":{\"type\":\"Buffer\",\"data\":[1,2,255]}}}",
            "{\"type\":\"message\",\"data\":{\"tag\":\"t\",\"from\":{\"id\":\"a\",\"host\":\"h\",\"port\":7},\"stream\":{\"done\":true}}}",
        ];
        let (sink, mut rx) = RustSink::new(1 << 20);
        let mut items = Vec::new();
        let mut owned = Vec::new();
        for frame in frames {
            let Ok(envelope::Inbound::Message(m)) = envelope::decode(frame, None) else { panic!("{frame}") };
            let Ok(envelope::Inbound::Message(copy)) = envelope::decode(frame, None) else { panic!("{frame}") };
            owned.push(InMessage::from_wire(9, copy));
            items.push(Delivered::Message(m));
        }
        sink.deliver(9, &mut items);
        assert!(items.is_empty());
        let Ok(Batch { events, text, .. }) = rx.try_recv() else { panic!("no batch") };
        let got: Vec<InMessage> = events
            .into_iter()
            .map(|e| match e {
                Event::Raw(m) => m.into_owned(&text),
                other => panic!("not a raw message: {other:?}"),
            })
            .collect();
        assert_eq!(got, owned);
        assert_eq!(got[1].tag.as_deref(), Some("t1"));
        assert_eq!(got[1].from, Sender { id: "n\u{e9}".into(), host: "h".into(), port: 0 });
        assert_eq!(got[2].data, Payload::Bytes(vec![1, 2, 255]));
        assert_eq!(got[3].data, Payload::Absent);
        assert!(rx.try_recv().is_err(), "one batch for the whole read");
    }

    #[test]
    fn room_is_held_until_the_event_is_dropped() {
        let (sink, mut rx) = RustSink::new(1000);
        for _ in 0..10 {
            sink.event(LinkEvent::PeerBusy { peer: 1 });
        }
        assert!(sink.room().is_full());
        let mut held = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            held.push(batch);
        }
        assert_eq!(held.iter().map(|b| b.events.len()).sum::<usize>(), 10);
        assert!(sink.room().is_full(), "taken but still held");
        held.clear();
        assert!(!sink.room().is_full());
        assert_eq!(sink.room().bytes.load(Ordering::Acquire), 0);
    }
}
