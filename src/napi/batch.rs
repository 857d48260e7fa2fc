//! The JS batch: how the network threads hand events to the JS thread.
//!
//! Crossing into JS is the expensive part, so events are not sent one by one.
//! Readers append each event as a JSON array (the payload of a message is
//! embedded as its raw JSON, so one `JSON.parse` on the JS side decodes the
//! whole batch) and Buffers go beside it. The JS thread is woken only when the
//! outbox goes from empty to non-empty; while it is busy, events pile up and
//! the next batch is larger. When more than `high_water` bytes are waiting,
//! readers stop reading their sockets until JS catches up (backpressure),
//! so a slow receiver bounds memory instead of growing without end.
//!
//! The [`Outbox`] is the addon's [`Sink`]. The layout of an entry is this
//! file's alone: `lib/kernel.js` reads its kinds and modes from the addon
//! ([`tables_json`]), not from a copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::link::kernel::{Kernel, DEFAULT_HIGH_WATER};
use crate::link::shared::runtime;
use crate::link::sink::{Delivered, DownReason, LinkEvent, RoomFuture, Sink};
use crate::wire::envelope::{self, FromNode, InData, Message};
use crate::wire::error::Skip;
use crate::wire::json;

/// Kinds of entries, the first element of each array in a batch.
pub mod kind {
    pub const MESSAGE: u8 = 0;
    pub const SKIP: u8 = 1;
    pub const NODE: u8 = 2;
    pub const SOCKET_OPEN: u8 = 3;
    pub const SOCKET_CLOSE: u8 = 4;
    pub const PEER_CONNECT: u8 = 5;
    pub const PEER_DISCONNECT: u8 = 6;
    pub const PEER_DRAINED: u8 = 7;
    pub const READY: u8 = 8;
    pub const LISTEN_ERROR: u8 = 9;
    pub const PEER_ERROR: u8 = 10;
    pub const PEER_CLOSED: u8 = 11;
    /// A link's unwritten bytes crossed its high-water mark.
    pub const PEER_BUSY: u8 = 12;
    /// ... and fell back to half of it.
    pub const PEER_DRAIN: u8 = 13;
    /// Frames toward a peer are being dropped (once per episode), with the
    /// name of the limit: `maxLen` or `maxQueueBytes`.
    pub const PEER_OVERFLOW: u8 = 14;
    /// A live link to a node ended, with why: "tick timeout" (nothing heard
    /// for the tick time), "closed" or "stopped".
    pub const NODE_DOWN: u8 = 15;
    /// The node of outbound link `peer` showed that it runs: something came
    /// from it since the link came up, or since it was declared down.
    pub const NODE_UP: u8 = 16;

    /// Every kind by the name `lib/kernel.js` knows it by.
    pub const ALL: [(&str, u8); 17] = [
        ("MESSAGE", MESSAGE),
        ("SKIP", SKIP),
        ("NODE", NODE),
        ("SOCKET_OPEN", SOCKET_OPEN),
        ("SOCKET_CLOSE", SOCKET_CLOSE),
        ("PEER_CONNECT", PEER_CONNECT),
        ("PEER_DISCONNECT", PEER_DISCONNECT),
        ("PEER_DRAINED", PEER_DRAINED),
        ("READY", READY),
        ("LISTEN_ERROR", LISTEN_ERROR),
        ("PEER_ERROR", PEER_ERROR),
        ("PEER_CLOSED", PEER_CLOSED),
        ("PEER_BUSY", PEER_BUSY),
        ("PEER_DRAIN", PEER_DRAIN),
        ("PEER_OVERFLOW", PEER_OVERFLOW),
        ("NODE_DOWN", NODE_DOWN),
        ("NODE_UP", NODE_UP),
    ];
}

/// Payload modes of a MESSAGE entry.
pub mod mode {
    pub const ABSENT: u8 = 0;
    pub const JSON: u8 = 1;
    pub const BUFFER: u8 = 2;
    pub const BUFFER_LIKE: u8 = 3;

    /// Every mode by the name `lib/kernel.js` knows it by.
    pub const ALL: [(&str, u8); 4] = [("ABSENT", ABSENT), ("JSON", JSON), ("BUFFER", BUFFER), ("BUFFER_LIKE", BUFFER_LIKE)];
}

/// The tables the JS layer reads a batch with, as one JSON object: entry
/// kinds and payload modes by name, and the `nodedown` reasons in the order
/// of their counters (the columns of the terminal view, `lib/top`).
pub fn tables_json() -> String {
    fn named(out: &mut String, all: &[(&str, u8)]) {
        out.push('{');
        for (i, (name, k)) in all.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_string(out, name);
            out.push(':');
            push_int(out, *k as u64);
        }
        out.push('}');
    }
    fn listed<'a>(out: &mut String, all: impl Iterator<Item = &'a str>) {
        out.push('[');
        for (i, name) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_string(out, name);
        }
        out.push(']');
    }
    let mut out = String::from("{\"kinds\":");
    named(&mut out, &kind::ALL);
    out.push_str(",\"modes\":");
    named(&mut out, &mode::ALL);
    out.push_str(",\"downReasons\":");
    listed(&mut out, DownReason::ALL.iter().map(|r| r.as_str()));
    out.push('}');
    out
}

/// A kernel on the process-wide runtime that reports into a JS batch, as
/// the addon pairs them; `wake` is called (from any thread) when a batch
/// becomes available. Fails only when the runtime cannot start.
pub fn kernel(wake: Box<dyn Fn() + Send + Sync>) -> Result<(Kernel, Arc<Outbox>), String> {
    let outbox = Arc::new(Outbox::new(DEFAULT_HIGH_WATER, wake));
    let kernel = Kernel::new(runtime()?.handle().clone(), outbox.clone());
    Ok((kernel, outbox))
}

/// One batch for the JS thread: comma-separated JSON arrays, and Buffers
/// referenced from them by index.
#[derive(Debug, Default)]
pub struct Batch {
    pub text: String,
    pub buffers: Vec<Vec<u8>>,
    pub count: usize,
    /// Entry boundaries in `text` (each the end of an entry's `]`), about
    /// every `PIECE` bytes: where the text may be cut into pieces.
    pub cuts: Vec<usize>,
}

/// About how much event text goes into one JS string. V8 puts strings over
/// about 128 KiB in a space of their own, each one freshly mapped memory that
/// the kernel must zero page by page: under load that was a tenth of the
/// receiving JS thread's time. Pieces of this size stay in the young heap.
pub const PIECE: usize = 64 * 1024;

impl Batch {
    /// The text in pieces of about `PIECE` bytes, each a whole number of
    /// entries (comma-separated, as the text is).
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.cuts
            .iter()
            .copied()
            .chain(std::iter::once(self.text.len()))
            .filter_map(move |end| {
                let piece = self.text.get(start..end)?.trim_start_matches(',');
                start = end;
                (!piece.is_empty()).then_some(piece)
            })
    }

    fn bytes(&self) -> usize {
        self.text.len() + self.buffers.iter().map(Vec::len).sum::<usize>()
    }

    /// Starts an entry of kind `k`: `[k`.
    fn open(&mut self, k: u8) {
        if self.count > 0 {
            self.text.push(',');
        }
        self.count += 1;
        self.text.push('[');
        push_int(&mut self.text, k as u64);
    }

    fn field_raw(&mut self, raw: &str) {
        self.text.push(',');
        self.text.push_str(raw);
    }

    fn field_str(&mut self, s: &str) {
        self.text.push(',');
        json::write_string(&mut self.text, s);
    }

    fn field_int(&mut self, n: u64) {
        self.text.push(',');
        push_int(&mut self.text, n);
    }

    fn close(&mut self) {
        self.text.push(']');
        if self.text.len() - self.cuts.last().copied().unwrap_or(0) >= PIECE {
            self.cuts.push(self.text.len());
        }
    }
}

fn push_int(s: &mut String, mut n: u64) {
    // Several per entry: decimal digits by hand, not through `fmt`.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

struct Inner {
    batch: Batch,
    /// The batch became non-empty through a deferred append: JS has not been
    /// woken for it yet.
    wake_due: bool,
    /// The sender of the last message, to skip the table lookup.
    last_sender: Option<(String, u64)>,
    /// Sender nodes seen so far, by the raw text of their `from` member:
    /// JS keeps one Node object per entry.
    nodes: HashMap<String, u64>,
    /// The text buffer of a batch JS has read, kept for the next batch so a
    /// busy outbox does not allocate (and fault in) a large buffer each time.
    spare: Option<String>,
}

/// Where events wait for the JS thread.
pub struct Outbox {
    inner: Mutex<Inner>,
    wake: Box<dyn Fn() + Send + Sync>,
    drained: Notify,
    high_water: usize,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

impl Outbox {
    /// `wake` is called (from any thread) when a batch becomes available.
    pub fn new(high_water: usize, wake: Box<dyn Fn() + Send + Sync>) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner {
                batch: Batch::default(),
                wake_due: false,
                last_sender: None,
                nodes: HashMap::new(),
                spare: None,
            }),
            wake,
            drained: Notify::new(),
            high_water,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written entry that
        // matters more than losing all events, so recover the data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends under the lock, waking JS if the batch was empty.
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        let was_empty = {
            let mut inner = self.lock();
            let was_empty = inner.batch.count == 0;
            f(&mut inner);
            was_empty && inner.batch.count > 0
        };
        if was_empty {
            (self.wake)();
        }
    }

    /// Appends without waking JS: a reader appends all the frames of one read
    /// this way, then calls [`Outbox::wake_if_due`] once. Waking costs a
    /// syscall, and under load it was paid for nearly every message.
    fn with_deferred(&self, f: impl FnOnce(&mut Inner)) {
        let mut inner = self.lock();
        let was_empty = inner.batch.count == 0;
        f(&mut inner);
        if was_empty && inner.batch.count > 0 {
            inner.wake_due = true;
        }
    }

    /// Takes everything waiting (called on the JS thread).
    pub fn take(&self) -> Batch {
        let batch = {
            let mut inner = self.lock();
            inner.wake_due = false;
            let text = inner.spare.take().unwrap_or_default();
            std::mem::replace(&mut inner.batch, Batch { text, ..Batch::default() })
        };
        self.drained.notify_waiters();
        batch
    }

    /// Gives back the text of a batch JS has read, for reuse (unless it grew
    /// past what a busy link needs: a burst should not pin its memory).
    pub fn recycle(&self, mut text: String) {
        if text.capacity() > KEEP_TEXT {
            return;
        }
        text.clear();
        let mut inner = self.lock();
        if inner.spare.as_ref().is_none_or(|s| s.capacity() < text.capacity()) {
            inner.spare = Some(text);
        }
    }

    /// An entry of kind `k`: its integer fields, then its string fields.
    fn entry(&self, k: u8, ints: &[u64], strings: &[&str]) {
        self.with(|inner| {
            let b = &mut inner.batch;
            b.open(k);
            for f in ints {
                b.field_int(*f);
            }
            for s in strings {
                b.field_str(s);
            }
            b.close();
        });
    }
}

/// Appends a MESSAGE entry.
fn append_message(inner: &mut Inner, socket: u64, m: Message<'_>) {
    let node = intern(inner, &m.from);
    let b = &mut inner.batch;
    b.open(kind::MESSAGE);
    b.field_int(socket);
    b.field_int(node);
    b.field_raw(m.event_raw);
    match (&m.tag, m.tag_other) {
        (Some(t), _) => b.field_str(t),
        (None, Some(raw)) => b.field_raw(raw),
        (None, None) => b.field_raw("null"),
    }
    // The stream of nearly every message is `{"done":true}`: JS makes
    // that object itself from a 1, cheaper than parsing it.
    b.field_raw(if m.stream_raw == "{\"done\":true}" { "1" } else { m.stream_raw });
    match m.data {
        InData::Absent => {
            b.field_int(mode::ABSENT as u64);
            b.field_raw("null");
        }
        InData::Json(raw) => {
            b.field_int(mode::JSON as u64);
            b.field_raw(raw);
        }
        InData::Bytes(bytes) => {
            b.field_int(mode::BUFFER as u64);
            let idx = b.buffers.len() as u64;
            b.buffers.push(bytes);
            b.field_int(idx);
        }
        InData::BufferLike(raw) => {
            b.field_int(mode::BUFFER_LIKE as u64);
            b.field_raw(raw);
        }
    }
    b.close();
}

/// Appends a SKIP entry.
fn append_skip(b: &mut Batch, socket: u64, skip: &Skip) {
    b.open(kind::SKIP);
    b.field_int(socket);
    b.field_str(skip.kind());
    b.field_str(&skip.to_string());
    b.text.push_str(",{");
    match skip {
        Skip::InvalidChecksum { sent, calculated } => {
            if let Some(sent) = sent {
                b.text.push_str("\"sent\":");
                b.text.push_str(sent);
                b.text.push(',');
            }
            b.text.push_str("\"calculated\":");
            json::write_string(&mut b.text, calculated);
        }
        Skip::FrameTooLarge { limit } | Skip::InboundBudget { limit } => {
            b.text.push_str("\"limit\":");
            push_int(&mut b.text, *limit as u64);
        }
        Skip::InvalidJson(e) => {
            b.text.push_str("\"offset\":");
            push_int(&mut b.text, e.offset as u64);
        }
        Skip::InvalidMessage(_) | Skip::Tls(_) => {}
    }
    b.text.push('}');
    b.close();
}

impl Sink for Outbox {
    /// The messages and skips of a read, appended under one lock (deferred:
    /// see [`Sink::wake_if_due`]).
    fn deliver(&self, socket: u64, items: &mut Vec<Delivered<'_>>) {
        if items.is_empty() {
            return;
        }
        self.with_deferred(|inner| {
            for item in items.drain(..) {
                match item {
                    Delivered::Message(m) => append_message(inner, socket, m),
                    Delivered::Skip(skip) => append_skip(&mut inner.batch, socket, &skip),
                }
            }
        });
    }

    /// Anything else, as an entry of its kind with its integer fields, then
    /// its string fields.
    fn event(&self, event: LinkEvent) {
        match event {
            LinkEvent::SocketOpen { socket, port, ip } => self.entry(kind::SOCKET_OPEN, &[socket, port as u64], &[&ip]),
            LinkEvent::SocketClose { socket } => self.entry(kind::SOCKET_CLOSE, &[socket], &[]),
            LinkEvent::PeerConnect { peer } => self.entry(kind::PEER_CONNECT, &[peer], &[]),
            LinkEvent::PeerDisconnect { peer } => self.entry(kind::PEER_DISCONNECT, &[peer], &[]),
            LinkEvent::PeerDrained { peer } => self.entry(kind::PEER_DRAINED, &[peer], &[]),
            LinkEvent::PeerError { peer, message } => self.entry(kind::PEER_ERROR, &[peer], &[&message]),
            LinkEvent::PeerClosed { peer } => self.entry(kind::PEER_CLOSED, &[peer], &[]),
            LinkEvent::PeerBusy { peer } => self.entry(kind::PEER_BUSY, &[peer], &[]),
            LinkEvent::PeerDrain { peer } => self.entry(kind::PEER_DRAIN, &[peer], &[]),
            LinkEvent::PeerOverflow { peer, limit } => self.entry(kind::PEER_OVERFLOW, &[peer], &[limit.as_str()]),
            LinkEvent::NodeDown { peer, reason } => self.entry(kind::NODE_DOWN, &[peer], &[reason.as_str()]),
            LinkEvent::NodeUp { peer } => self.entry(kind::NODE_UP, &[peer], &[]),
            LinkEvent::Ready { generation, port } => self.entry(kind::READY, &[generation, port as u64], &[]),
            LinkEvent::ListenError { generation, message, code } => {
                self.entry(kind::LISTEN_ERROR, &[generation], &[&message, &code])
            }
        }
    }

    /// Wakes JS for what deferred appends left waiting.
    fn wake_if_due(&self) {
        let due = std::mem::take(&mut self.lock().wake_due);
        if due {
            (self.wake)();
        }
    }

    /// The JS thread takes what is delivered: a reader may hold its runtime
    /// thread to poll its socket a little (`link/server/poll.rs`).
    fn consumer_off_runtime(&self) -> bool {
        true
    }

    /// True when readers should pause until JS drains the outbox.
    fn is_full(&self) -> bool {
        self.lock().batch.bytes() > self.high_water
    }

    /// Waits until the JS thread has taken a batch, if the outbox is full.
    fn wait_room(&self) -> RoomFuture<'_> {
        Box::pin(async move {
            loop {
                let notified = self.drained.notified();
                if !self.is_full() {
                    return;
                }
                notified.await;
            }
        })
    }
}

/// Makes `raw` the last sender, reusing the buffer of the previous one.
fn remember(inner: &mut Inner, raw: &str, idx: u64) {
    match &mut inner.last_sender {
        Some((last, last_idx)) => {
            last.clear();
            last.push_str(raw);
            *last_idx = idx;
        }
        None => inner.last_sender = Some((raw.to_string(), idx)),
    }
}

/// How many distinct senders are remembered at most.
const MAX_NODES: usize = 4096;

/// Largest batch text kept for reuse.
const KEEP_TEXT: usize = 4 * 1024 * 1024;

/// Longest `from` text kept as a key of the sender table. A longer one (a
/// sender padding its `from` member) is announced again before each of its
/// messages under the reserved index `MAX_NODES`, so the table stays small.
const MAX_KEY: usize = 1024;

/// The index of a sender node, announcing it first when new.
fn intern(inner: &mut Inner, from: &FromNode<'_>) -> u64 {
    if from.raw.len() > MAX_KEY {
        announce(inner, MAX_NODES as u64, from);
        return MAX_NODES as u64;
    }
    if let Some((raw, idx)) = &inner.last_sender {
        if raw == from.raw {
            return *idx;
        }
    }
    if let Some(&idx) = inner.nodes.get(from.raw) {
        remember(inner, from.raw, idx);
        return idx;
    }
    // Bounded: past MAX_NODES distinct senders, start over. Indices are
    // reused, but each is announced again before its next use, so JS always
    // maps an index to the sender of the message that follows.
    if inner.nodes.len() >= MAX_NODES {
        inner.nodes.clear();
    }
    let idx = inner.nodes.len() as u64;
    inner.nodes.insert(from.raw.to_string(), idx);
    remember(inner, from.raw, idx);
    announce(inner, idx, from);
    idx
}

/// Tells JS which sender index `idx` stands for from here on:
/// `[NODE, idx, id, host, port]`. A sender that is not a whole address (a
/// string id and host and a number port) has each part as JS reads it off the member,
/// any JSON value, and a sixth element: a mask of the parts that are
/// `undefined` (1 the id, 2 the host, 4 the port), written as `null`.
fn announce(inner: &mut Inner, idx: u64, from: &FromNode<'_>) {
    let b = &mut inner.batch;
    b.open(kind::NODE);
    b.field_int(idx);
    if let (Some(id), Some(host), Some(port)) = (&from.id, &from.host, from.port) {
        b.field_str(id);
        b.field_str(host);
        b.text.push(',');
        json::write_number(&mut b.text, port);
    } else {
        let mut missing = 0;
        for (i, part) in envelope::from_parts(from.raw).into_iter().enumerate() {
            b.field_raw(part.unwrap_or("null"));
            if part.is_none() {
                missing |= 1 << i;
            }
        }
        b.field_int(missing);
    }
    b.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn message<'a>(from: &'a FromNode<'a>) -> Message<'a> {
        Message {
            event_raw: "\"ev\"",
            tag: None,
            tag_other: None,
            from: from.clone(),
            stream_raw: "{\"done\":true}",
            done: true,
            data: InData::Json("{\"a\":1}"),
        }
    }

    #[test]
    fn the_tables_name_every_kind_once_and_entries_use_them() {
        let tables = tables_json();
        let top = json::object_members(&tables).expect("the tables are JSON");
        let get = |name: &str| top.iter().find(|(k, _)| k == name).map(|(_, v)| *v).expect(name);
        let kinds = json::object_members(get("kinds")).expect("kinds");
        assert_eq!(kinds.len(), kind::ALL.len());
        let mut seen = std::collections::HashSet::new();
        for (name, v) in &kinds {
            let n = json::as_f64(v).expect("a number") as u8;
            assert!(seen.insert(n), "{name}: kind {n} twice");
        }
        assert_eq!(get("downReasons"), "[\"tick timeout\",\"closed\",\"stopped\"]");
        assert_eq!(get("modes"), "{\"ABSENT\":0,\"JSON\":1,\"BUFFER\":2,\"BUFFER_LIKE\":3}");
        // A typed event is written as the entry of its kind, with its fields.
        let outbox = Outbox::new(usize::MAX, Box::new(|| {}));
        outbox.event(LinkEvent::NodeDown { peer: 4, reason: DownReason::TickTimeout });
        outbox.event(LinkEvent::PeerOverflow { peer: 4, limit: crate::link::sink::Limit::MaxLen });
        outbox.event(LinkEvent::SocketOpen { socket: 9, port: 5000, ip: "127.0.0.1".into() });
        outbox.event(LinkEvent::ListenError { generation: 2, message: "m".into(), code: "EADDRINUSE".into() });
        assert_eq!(
            outbox.take().text,
            format!(
                "[{},4,\"tick timeout\"],[{},4,\"maxLen\"],[{},9,5000,\"127.0.0.1\"],[{},2,\"m\",\"EADDRINUSE\"]",
                kind::NODE_DOWN,
                kind::PEER_OVERFLOW,
                kind::SOCKET_OPEN,
                kind::LISTEN_ERROR
            )
        );
    }

    #[test]
    fn large_batches_are_cut_into_pieces_of_whole_entries() {
        let outbox = Outbox::new(1 << 30, Box::new(|| {}));
        let from = FromNode { id: Some(Cow::Borrowed("a")), host: Some(Cow::Borrowed("h")), port: Some(1.0), raw: "{\"id\":\"a\"}" };
        let big = format!("\"{}\"", "x".repeat(1000));
        for _ in 0..300 {
            let mut m = message(&from);
            m.data = InData::Json(&big);
            outbox.message(1, m);
        }
        let batch = outbox.take();
        let pieces: Vec<&str> = batch.pieces().collect();
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        assert!(pieces.iter().all(|p| p.len() < PIECE + 2048 && p.starts_with('[') && p.ends_with(']')));
        assert_eq!(pieces.join(","), batch.text);
        let entries: usize = pieces.iter().map(|p| json::object_members_trusted(&format!("{{\"a\":[{p}]}}")).map_or(0, |_| 1)).sum();
        assert_eq!(entries, pieces.len(), "every piece is a valid list of entries");
        // The text buffer comes back: the batch after the next one is built in it.
        let cap = batch.text.capacity();
        outbox.recycle(batch.text);
        outbox.message(1, message(&from));
        outbox.take();
        outbox.message(1, message(&from));
        assert!(outbox.take().text.capacity() >= cap);
    }

    #[test]
    fn wakes_once_per_batch_and_announces_senders_once() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let outbox = Outbox::new(1 << 20, Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        let from = FromNode { id: Some(Cow::Borrowed("a")), host: Some(Cow::Borrowed("h")), port: Some(1.0), raw: "{\"id\":\"a\"}" };
        outbox.message(7, message(&from));
        outbox.message(7, message(&from));
        assert_eq!(wakes.load(Ordering::SeqCst), 0, "messages wait for wake_if_due");
        outbox.wake_if_due();
        outbox.wake_if_due();
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        let batch = outbox.take();
        assert_eq!(batch.count, 3);
        assert_eq!(
            batch.text,
            "[2,0,\"a\",\"h\",1],[0,7,0,\"ev\",null,1,1,{\"a\":1}],[0,7,0,\"ev\",null,1,1,{\"a\":1}]"
        );
        outbox.event(LinkEvent::Ready { generation: 1, port: 7022 });
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        // Any other stream member goes to JS as it came; numbers as decimals.
        outbox.take();
        let mut chunk = message(&from);
        chunk.stream_raw = "{\"done\":false,\"stream\":\"s\"}";
        chunk.done = false;
        outbox.message(1_234_567_890_123, chunk);
        assert_eq!(outbox.take().text, "[0,1234567890123,0,\"ev\",null,{\"done\":false,\"stream\":\"s\"},1,{\"a\":1}]");
    }

    #[test]
    fn a_partial_sender_and_an_odd_tag_go_to_js_as_the_js_kernel_reads_them() {
        let outbox = Outbox::new(usize::MAX, Box::new(|| {}));
        // clusterluck's CLI: `from` is `{id}` alone; host and port are undefined.
        for (raw, want) in [
            ("{\"id\":\"cli_1\"}", "[2,0,\"cli_1\",null,null,6]"),
            ("{\"port\":7,\"id\":5,\"host\":[1]}", "[2,1,5,[1],7,0]"),
            ("\"x\"", "[2,2,null,null,null,7]"),
        ] {
            let frame = format!("{{\"type\":\"message\",\"data\":{{\"id\":\"ev\",\"tag\":3,\"from\":{raw},\"stream\":{{\"done\":true}}}}}}");
            let m = envelope::decode(&frame, None);
            let Ok(envelope::Inbound::Message(m)) = m else { panic!("{m:?}") };
            outbox.message(1, m);
            let text = outbox.take().text;
            assert!(text.starts_with(want), "{text}");
            assert!(text.ends_with(",\"ev\",3,1,0,null]"), "{text}");
        }
    }

    #[test]
    fn the_sender_table_is_bounded() {
        let outbox = Outbox::new(usize::MAX, Box::new(|| {}));
        let raws: Vec<String> = (0..MAX_NODES + 3).map(|i| format!("{{\"id\":\"n{i}\"}}")).collect();
        for raw in &raws {
            let from = FromNode { id: Some(Cow::Borrowed("x")), host: Some(Cow::Borrowed("h")), port: Some(1.0), raw };
            outbox.message(1, message(&from));
        }
        assert!(outbox.lock().nodes.len() <= MAX_NODES);
        let text = outbox.take().text;
        // Index 0 was announced for the first sender and again after the reset.
        assert_eq!(text.matches("[2,0,").count(), 2);
    }

    #[test]
    fn long_sender_texts_are_not_kept() {
        let outbox = Outbox::new(usize::MAX, Box::new(|| {}));
        let pads: Vec<String> = (0..50).map(|i| format!("{{\"id\":\"p\",\"pad\":\"{}{i}\"}}", "x".repeat(MAX_KEY))).collect();
        for raw in pads.iter().chain(pads.iter()) {
            let from = FromNode { id: Some(Cow::Borrowed("p")), host: Some(Cow::Borrowed("h")), port: Some(2.0), raw };
            outbox.message(1, message(&from));
        }
        let short = FromNode { id: Some(Cow::Borrowed("s")), host: Some(Cow::Borrowed("h")), port: Some(3.0), raw: "{\"id\":\"s\"}" };
        outbox.message(1, message(&short));
        assert_eq!(outbox.lock().nodes.len(), 1, "only the short sender is in the table");
        let text = outbox.take().text;
        // Each long one announced before its message under the reserved index.
        let reserved = format!("[2,{MAX_NODES},\"p\",\"h\",2],[0,1,{MAX_NODES},");
        assert_eq!(text.matches(&reserved).count(), 100);
        assert!(text.ends_with("[2,0,\"s\",\"h\",3],[0,1,0,\"ev\",null,1,1,{\"a\":1}]"));
    }

    #[test]
    fn a_huge_batch_text_is_not_kept_for_reuse() {
        let outbox = Outbox::new(usize::MAX, Box::new(|| {}));
        let from = FromNode { id: Some(Cow::Borrowed("a")), host: Some(Cow::Borrowed("h")), port: Some(1.0), raw: "{\"id\":\"a\"}" };
        let big = format!("\"{}\"", "x".repeat(KEEP_TEXT));
        let mut m = message(&from);
        m.data = InData::Json(&big);
        outbox.message(1, m);
        let batch = outbox.take();
        assert!(batch.text.capacity() > KEEP_TEXT);
        outbox.recycle(batch.text);
        assert!(outbox.lock().spare.is_none());
    }
}
