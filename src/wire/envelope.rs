//! Envelopes: the `data` member of a frame, for the two frame types the
//! kernel speaks (`message` and `ping`), decoded from untrusted text and
//! encoded byte for byte as a JS kernel would.
//!
//! Inbound, everything the JS side needs is returned as slices of the frame
//! (raw JSON the JS side can `JSON.parse` in one go), so nothing is decoded
//! twice. Outbound, the text we sign is exactly the text we send, and both are
//! what `JSON.stringify` would produce, so a JS receiver re-derives the same
//! HMAC.
//!
//! This is the one place that writes an envelope. The link and node layers
//! call the writers below ([`write_message_head`], [`write_message_line`],
//! [`write_ping_line`], [`write_pong_line`], [`write_pong_line_json`],
//! [`write_keep_alive_line`]) and
//! write no envelope text of their own: the member order and the form of
//! each value are what the signature covers, so they are kept where the
//! tests hold them to the JS kernel's bytes.

use std::borrow::Cow;

use crate::wire::cookie::{digest_str, Cookie};
use crate::wire::error::Skip;
use crate::wire::json;

/// The sender of a frame, as its `from` member says.
///
/// A kernel writes `{"id":..,"host":..,"port":..}`, but the JS kernel reads
/// the member only as `Node.from(from)`: any value that is not `null` will
/// do, and what it lacks is `undefined` (clusterluck's own CLI sends `{id}`
/// alone). Each part is here when it has the type a kernel writes; the rest
/// stays in `raw` for [`from_parts`].
#[derive(Debug, Clone, PartialEq)]
pub struct FromNode<'a> {
    /// `from.id`, when a string: what links and sinks are known by.
    pub id: Option<Cow<'a, str>>,
    /// `from.host`, when a string.
    pub host: Option<Cow<'a, str>>,
    /// `from.port`, when a number.
    pub port: Option<f64>,
    /// The member's raw text: a cheap key for "the same sender again".
    pub raw: &'a str,
}

/// The raw JSON of `from.id`, `from.host` and `from.port` as JavaScript
/// reads them off the parsed member: the last member of each name of an
/// object, `None` (JS `undefined`) where there is none or `from` is not an
/// object. For a sender that is not a whole address (a string id and host
/// and a number port), so the JS layer builds the `Node` the JS kernel would.
pub fn from_parts(raw: &str) -> [Option<&str>; 3] {
    match json::object_members_trusted(raw) {
        Some(m) => [member(&m, "id"), member(&m, "host"), member(&m, "port")],
        None => [None; 3],
    }
}

/// The `data` member of an inbound message, as read from the frame (its text
/// borrowed, a Buffer's bytes decoded); the outbound one is [`OutData`].
#[derive(Debug, PartialEq)]
pub enum InData<'a> {
    /// No `data` member (JS `undefined`).
    Absent,
    /// Any JSON value, as raw text for `JSON.parse`.
    Json(&'a str),
    /// A serialized Buffer (`{"type":"Buffer","data":[...]}`) whose bytes were
    /// plain integers 0..=255: decoded here, handed to JS as a Buffer.
    Bytes(Vec<u8>),
    /// A Buffer-shaped object with unusual elements (strings, floats, ...):
    /// raw text; JS converts it with `Buffer.from` to keep its exact rules.
    BufferLike(&'a str),
}

/// A routed message: a cast, a call, a reply, or one chunk of a stream.
#[derive(Debug, PartialEq)]
pub struct Message<'a> {
    /// The event: the `id` member, raw (any JSON value: the JS kernel emits
    /// it as it is and the emitter makes a string of it), or
    /// [`UNDEFINED_EVENT`] when there is none.
    pub event_raw: &'a str,
    /// The reply tag, decoded, when a string; `None` for casts. The JS
    /// kernel reads the tag as `data.tag || null`.
    pub tag: Option<Cow<'a, str>>,
    /// A tag that is truthy but not a string (a number, `true`, an array,
    /// an object), raw: the JS kernel hands it over as it is, though no
    /// reply can be sent to it.
    pub tag_other: Option<&'a str>,
    pub from: FromNode<'a>,
    /// The `stream` member, raw (any value but `null`), for JS to parse as
    /// the seed does.
    pub stream_raw: &'a str,
    /// Whether `stream.done` is truthy.
    pub done: bool,
    pub data: InData<'a>,
}

/// The event of a message without an `id` member: the JS kernel emits
/// `undefined`, which an emitter files under the key "undefined".
pub const UNDEFINED_EVENT: &str = "\"undefined\"";

/// A ping: answered with `"pong"` on our own connection to the sender.
#[derive(Debug, PartialEq)]
pub struct Ping<'a> {
    /// The `tag` member, raw (any JSON value), `None` when absent: the pong's
    /// event, as the JS kernel answers with `data.tag` whatever it is.
    pub tag: Option<&'a str>,
    pub from: FromNode<'a>,
}

impl Ping<'_> {
    /// The tag, when it is a string (every kernel's pings).
    pub fn tag_str(&self) -> Option<Cow<'_, str>> {
        self.tag.and_then(json::as_str)
    }
}

#[derive(Debug, PartialEq)]
pub enum Inbound<'a> {
    Message(Message<'a>),
    Ping(Ping<'a>),
    /// A well-formed frame of another type: a JS kernel has no handler for it.
    Other(Cow<'a, str>),
}

fn invalid(why: &str) -> Skip {
    Skip::InvalidMessage(why.to_string())
}

/// The value of the last member named `name`: JSON.parse keeps the last one.
fn member<'a>(members: &[(Cow<'a, str>, &'a str)], name: &str) -> Option<&'a str> {
    members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// Offset of `inner` (a slice of `outer`) within `outer`.
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Checks the HMAC of `data` (the raw `data` object of a frame) the way the JS
/// kernel does: drop `checkSum`, `JSON.stringify` the rest, HMAC it, compare.
///
/// Fast path: a JS sender signs exactly the text it sends after `checkSum`, so
/// that text is hashed as it stands, with no re-serialization. Only when that
/// does not match is the canonical form computed (a sender that wrote spaces,
/// escapes or reordered keys). The one difference from a JS receiver: text a
/// cookie holder signed as is, though not canonical, is accepted too.
fn verify(cookie: &Cookie, data_raw: &str, members: &[(Cow<'_, str>, &str)]) -> Result<(), Skip> {
    let sums = members.iter().filter(|(k, _)| k == "checkSum").count();
    let sent = member(members, "checkSum");
    let sent_str = sent.and_then(json::as_str);
    // The text after checkSum, when it is the first member (always, from a JS sender).
    let tail = match members.first() {
        Some((k, v)) if k == "checkSum" && sums == 1 => {
            let after = &data_raw[offset_in(data_raw, v) + v.len()..];
            let after = after.trim_start_matches([' ', '\t', '\n', '\r']);
            Some(after.strip_prefix(',').unwrap_or("}"))
        }
        _ => None,
    };
    // Compared in constant time, by the MAC itself (see `Cookie::verify`).
    if let Some(tail) = tail {
        if cookie.verify_parts(&[b"{", tail.as_bytes()], sent_str.as_deref()).is_ok() {
            return Ok(());
        }
    }
    let mut s = String::with_capacity(data_raw.len());
    s.push('{');
    let mut first = true;
    for (k, v) in members.iter().filter(|(k, _)| k != "checkSum") {
        if !first {
            s.push(',');
        }
        first = false;
        json::write_string(&mut s, k);
        s.push(':');
        s.push_str(v);
    }
    s.push('}');
    let canonical = json::canonicalize(&s).map_err(Skip::InvalidJson)?;
    cookie.verify(&canonical, sent_str.as_deref()).map_err(|calculated| Skip::InvalidChecksum {
        sent: sent.map(str::to_string),
        calculated: digest_str(&calculated).to_string(),
    })
}

/// Where the id and the host of a `from` member are in its text (both
/// without escapes), and its port.
#[derive(Debug)]
struct FromSpans {
    raw: String,
    id: std::ops::Range<usize>,
    host: std::ops::Range<usize>,
    port: f64,
}

impl FromSpans {
    /// The sender read off `raw`, the same text as `self.raw`.
    fn node<'a>(&self, raw: &'a str) -> Option<FromNode<'a>> {
        let id = Some(Cow::Borrowed(raw.get(self.id.clone())?));
        let host = Some(Cow::Borrowed(raw.get(self.host.clone())?));
        Some(FromNode { id, host, port: Some(self.port), raw })
    }
}

/// How many senders a thread keeps the `from` members of, for
/// [`decode`]. It and the two readers that keep senders by thread serve
/// the callers outside the links (tests and fuzz targets, through the
/// crate's internals): the links read with [`decode_with`].
#[cfg(any(test, feature = "internals"))]
const THREAD_SENDERS: usize = 8;

/// The `from` members last read by one reader, the newest replacing the
/// oldest: a sender writes the same one on every frame, so it is read in
/// full once, and its next frames are read by their shape
/// ([`decode_with`]). A link's reader keeps its own: a network thread
/// reads the links of many senders by turns (31 of them in a mesh of 32
/// nodes), more than a list it would have to search could hold.
#[derive(Debug)]
pub struct KnownSenders {
    spans: Vec<FromSpans>,
    next: usize,
    most: usize,
}

impl KnownSenders {
    /// Knows `most` senders at most (at least one).
    pub const fn new(most: usize) -> KnownSenders {
        KnownSenders { spans: Vec::new(), next: 0, most: if most == 0 { 1 } else { most } }
    }

    /// The sender whose member `text` starts with (`whole`: is exactly).
    fn find(&self, text: &str, whole: bool) -> Option<&FromSpans> {
        self.spans.iter().find(|s| {
            let n = s.raw.len();
            (!whole || text.len() == n) && text.as_bytes().get(..n) == Some(s.raw.as_bytes())
        })
    }

    fn add(&mut self, spans: FromSpans) {
        if self.spans.len() < self.most {
            self.spans.push(spans);
        } else {
            self.spans[self.next] = spans;
            self.next = (self.next + 1) % self.most;
        }
    }
}

#[cfg(any(test, feature = "internals"))]
thread_local! {
    static KNOWN_FROM: std::cell::RefCell<KnownSenders> = const { std::cell::RefCell::new(KnownSenders::new(THREAD_SENDERS)) };
}

/// Reads a `from` member that is not `null` (checked by the caller). Never
/// fails: the JS kernel takes any value, and what it lacks stays unset.
fn parse_from<'a>(raw: &'a str, known: &mut KnownSenders) -> FromNode<'a> {
    if let Some(from) = known.find(raw, true).and_then(|s| s.node(raw)) {
        return from;
    }
    let Some(m) = json::object_members_trusted(raw) else {
        return FromNode { id: None, host: None, port: None, raw };
    };
    let id = member(&m, "id").and_then(json::as_str);
    let host = member(&m, "host").and_then(json::as_str);
    let port = member(&m, "port").and_then(json::as_f64);
    if let (Some(Cow::Borrowed(i)), Some(Cow::Borrowed(h)), Some(port)) = (&id, &host, port) {
        // Only text that is a piece of `raw` can be found again by position.
        let span = |s: &str| {
            let at = offset_in(raw, s);
            (raw.get(at..at + s.len()).map(str::as_ptr) == Some(s.as_ptr())).then_some(at..at + s.len())
        };
        if let (Some(id), Some(host)) = (span(i), span(h)) {
            let spans = FromSpans { raw: raw.to_string(), id, host, port };
            known.add(spans);
        }
    }
    FromNode { id, host, port, raw }
}

/// JavaScript's truthiness of a JSON value: `null`, `false`, `0` (in any
/// spelling) and `""` are falsy.
fn truthy(raw: &str) -> bool {
    !(json::is_null(raw) || json::as_bool(raw) == Some(false) || json::as_f64(raw) == Some(0.0) || raw == "\"\"")
}

/// Validates one value of `frame`, reporting the error at its frame offset.
fn check(frame: &str, value: &str) -> Result<(), Skip> {
    json::validate(value).map_err(|mut e| {
        e.offset += offset_in(frame, value);
        Skip::InvalidJson(e)
    })
}

/// The members of an object of `frame`, every value validated in the same
/// pass except the last member named in `later`: the one JSON.parse keeps,
/// which the caller validates itself (or reads with a stricter reader).
/// Earlier duplicates, which JSON.parse drops, are validated too, so nothing
/// goes unchecked.
fn members_checked<'a>(
    frame: &'a str,
    raw: &'a str,
    later: &[&str],
) -> Result<Option<json::Members<'a>>, Skip> {
    json::object_members_checked(raw, later).map_err(|mut e| {
        e.offset += offset_in(frame, raw);
        Skip::InvalidJson(e)
    })
}

/// Whether `text` could hold an object whose `type` is "Buffer": it names it,
/// or has an escape that could spell it.
fn may_hold_buffer(text: &str) -> bool {
    static BUFFER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("Buffer"));
    let bytes = text.as_bytes();
    // "Buffer" first: a Buffer payload names it near the start of its
    // envelope, so the scan for a backslash over its whole text is skipped.
    BUFFER.find(bytes).is_some() || memchr::memchr(b'\\', bytes).is_some()
}

/// The payload, validated: a Buffer-shaped object's byte array is validated
/// by decoding it, anything else by the JSON validator, each byte once.
fn parse_payload<'a>(frame: &'a str, raw: Option<&'a str>) -> Result<InData<'a>, Skip> {
    let Some(raw) = raw else { return Ok(InData::Absent) };
    let object = if raw.starts_with('{') { members_checked(frame, raw, &["data"])? } else { None };
    let Some(m) = object else {
        check(frame, raw)?;
        return Ok(InData::Json(raw));
    };
    // Every member but "data" is validated already.
    let Some(arr) = member(&m, "data") else { return Ok(InData::Json(raw)) };
    let buffer_like = arr.starts_with('[') && member(&m, "type").and_then(json::as_str).is_some_and(|t| t == "Buffer");
    if buffer_like {
        if let Some(bytes) = json::byte_array(arr) {
            return Ok(InData::Bytes(bytes));
        }
    }
    check(frame, arr)?;
    Ok(if buffer_like { InData::BufferLike(raw) } else { InData::Json(raw) })
}

/// Decodes one frame's text. With a cookie, the checksum is verified first,
/// as the JS kernel does, so a bad checksum wins over a bad shape.
///
/// The frame is read with fast scans and each value validated once, which
/// accepts exactly the frames JSON.parse accepts; a Buffer payload is
/// validated by decoding its bytes, not parsed twice.
#[cfg(any(test, feature = "internals"))]
pub fn decode<'a>(frame: &'a str, cookie: Option<&Cookie>) -> Result<Inbound<'a>, Skip> {
    KNOWN_FROM.with_borrow_mut(|known| decode_with(frame, cookie, known))
}

/// [`decode`], with the senders a reader knows (a link's own).
pub fn decode_with<'a>(frame: &'a str, cookie: Option<&Cookie>, known: &mut KnownSenders) -> Result<Inbound<'a>, Skip> {
    if let Some(usual) = decode_usual(frame, cookie, known) {
        return Ok(usual);
    }
    read_any(frame, cookie, known)
}

/// The message every kernel writes, read by its shape:
/// `{"type":"message","data":{"checkSum":"<hex>","id":"<event>","tag":null,
/// "from":<a sender the reader knows>,"stream":{"done":true},"data":<payload>}}`,
/// with a tag that is a string or `null`, and strings with no escapes.
/// Each literal piece is compared, the payload validated, and the sum
/// checked; `None` for any other frame (or a bad sum), which
/// [`decode_any`] then reads in full and, where it is wrong, says why.
/// Whatever this returns, `decode_any` returns too (`tests`): it is the
/// same reading of the same text, without the parser's steps for what
/// the shape rules out. Half the time the reader spends on a small
/// message, before its sum, went to those steps.
fn decode_usual<'a>(frame: &'a str, cookie: Option<&Cookie>, known: &KnownSenders) -> Option<Inbound<'a>> {
    let text = crate::wire::frame::trim_padding(frame);
    let body = text.strip_prefix(MESSAGE_PREFIX)?.strip_suffix('}')?;
    let members = body.strip_prefix('{')?;
    // The sum, or with no cookie one that is not checked (as `decode_any`
    // ignores it). With a cookie, the sum is 64 hex digits or fails the
    // check: its text needs no reading as a string.
    let (sum, rest) = match (members.strip_prefix("\"checkSum\":"), cookie) {
        (Some(r), Some(_)) => {
            let literal = r.get(..66).filter(|l| l.starts_with('"') && l.ends_with('"'))?;
            (Some(&literal[1..65]), r[66..].strip_prefix(',')?)
        }
        (Some(r), None) => {
            let (literal, r) = plain_string(r)?;
            (Some(&literal[1..literal.len() - 1]), r.strip_prefix(',')?)
        }
        (None, Some(_)) => return None,
        (None, None) => (None, members),
    };
    let tail = rest;
    let (event_raw, r) = plain_string(rest.strip_prefix("\"id\":")?)?;
    let r = r.strip_prefix(",\"tag\":")?;
    let (tag, r) = match r.strip_prefix("null") {
        Some(r) => (None, r),
        None => {
            let (literal, r) = plain_string(r)?;
            // "" is falsy: no tag, as `truthy` has it.
            let content = &literal[1..literal.len() - 1];
            (Some(Cow::Borrowed(content)).filter(|_| !content.is_empty()), r)
        }
    };
    let r = r.strip_prefix(",\"from\":")?;
    let from = {
        let sender = known.find(r, false)?;
        sender.node(r.get(..sender.raw.len())?)?
    };
    let r = &r[from.raw.len()..];
    let (stream_raw, r) = r.strip_prefix(",\"stream\":")?.split_at_checked(DONE.len())?;
    if stream_raw != DONE {
        return None;
    }
    let data = match r.strip_prefix(",\"data\":") {
        Some(payload) => {
            let payload = payload.strip_suffix('}')?;
            let edge = |b: Option<&u8>| b.is_some_and(|b| !b" \t\n\r".contains(b));
            if !edge(payload.as_bytes().first()) || !edge(payload.as_bytes().last()) || may_hold_buffer(payload) {
                return None;
            }
            json::validate(payload).ok()?;
            InData::Json(payload)
        }
        None if r == "}" => InData::Absent,
        None => return None,
    };
    if let (Some(cookie), Some(sum)) = (cookie, sum) {
        cookie.verify_parts(&[b"{", tail.as_bytes()], Some(sum)).ok()?;
    }
    let message = Message { event_raw, tag, tag_other: None, from, stream_raw, done: true, data };
    Some(Inbound::Message(message))
}

/// The `stream` member of a whole message.
const DONE: &str = "{\"done\":true}";

/// A string literal at the start of `text` with no escape and no control
/// character in it (what JSON.parse takes as it stands), and what follows.
fn plain_string(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let end = 1 + memchr::memchr(b'"', &b[1..])?;
    if b[1..end].iter().any(|&c| c < 0x20 || c == b'\\') {
        return None;
    }
    // Both ends are quotes (ASCII): on character boundaries.
    Some((&text[..=end], &text[end + 1..]))
}

/// Reads any frame, as JSON.parse and then the JS kernel would: see
/// [`decode`], which is this with the usual shape read first. Public for
/// the tests and fuzz targets that hold the two to the same reading.
#[cfg(any(test, feature = "internals"))]
pub fn decode_any<'a>(frame: &'a str, cookie: Option<&Cookie>) -> Result<Inbound<'a>, Skip> {
    KNOWN_FROM.with_borrow_mut(|known| read_any(frame, cookie, known))
}

fn read_any<'a>(frame: &'a str, cookie: Option<&Cookie>, known: &mut KnownSenders) -> Result<Inbound<'a>, Skip> {
    // Writers pad the last frame of a block (`frame::lay_out_blocks`).
    let frame = crate::wire::frame::trim_padding(frame);
    // What every kernel writes: `{"type":"message","data":{..}}` exactly.
    // The frame's own syntax is then known, and only the envelope is read.
    for (prefix, kind) in [(MESSAGE_PREFIX, "message"), (PING_PREFIX, "ping")] {
        if let Some(raw) = frame.strip_prefix(prefix).and_then(|rest| rest.strip_suffix('}')) {
            if raw.starts_with('{') {
                // A payload can only be a serialized Buffer if the text says
                // "Buffer" (or escapes something). Usually it does neither:
                // then the payload is validated in the same pass as the rest.
                let plain = !may_hold_buffer(raw);
                let later: &[&str] = if plain { &[] } else { &["data"] };
                if let Some(members) = members_checked(frame, raw, later)? {
                    let payload = match member(&members, "data") {
                        Some(data) if plain => InData::Json(data),
                        data => parse_payload(frame, data)?,
                    };
                    return read_envelope(kind, raw, members, payload, cookie, known);
                }
                // Not one object after all (`{..},"data":{..}`): read it all.
            }
        }
    }
    let top = match members_checked(frame, frame, &["data"])? {
        Some(top) => top,
        None => {
            return Err(match json::validate(frame) {
                Ok(()) => invalid("a frame must be an object"),
                Err(e) => Skip::InvalidJson(e),
            })
        }
    };
    let data_raw = member(&top, "data");
    let members = match data_raw {
        Some(raw) => match members_checked(frame, raw, &["data"])? {
            Some(m) => Some(m),
            None => {
                check(frame, raw)?;
                None
            }
        },
        None => None,
    };
    // Validate the payload before anything is trusted.
    let payload = parse_payload(frame, members.as_ref().and_then(|m| member(m, "data")))?;
    let kind = member(&top, "type")
        .and_then(json::as_str)
        .ok_or_else(|| invalid("missing 'type'"))?;
    if kind != "message" && kind != "ping" {
        return Ok(Inbound::Other(kind));
    }
    let data_raw = data_raw.ok_or_else(|| invalid("missing 'data'"))?;
    let members = members.ok_or_else(|| invalid("'data' is not an object"))?;
    read_envelope(&kind, data_raw, members, payload, cookie, known)
}

const MESSAGE_PREFIX: &str = "{\"type\":\"message\",\"data\":";
const PING_PREFIX: &str = "{\"type\":\"ping\",\"data\":";

/// Checks the cookie and reads the members of a validated envelope.
fn read_envelope<'a>(
    kind: &str,
    data_raw: &'a str,
    members: json::Members<'a>,
    payload: InData<'a>,
    cookie: Option<&Cookie>,
    known: &mut KnownSenders,
) -> Result<Inbound<'a>, Skip> {
    if let Some(cookie) = cookie {
        verify(cookie, data_raw, &members)?;
    }
    // The JS kernel reads `from.id` and `stream.stream` of every message
    // (`from.id` of a ping too): a member that is missing or `null` throws
    // there, and is skipped here. Any other value is taken.
    let present = |name: &str| member(&members, name).filter(|raw| !json::is_null(raw));
    let from = parse_from(present("from").ok_or_else(|| invalid("'from' is missing or null"))?, known);
    if kind == "ping" {
        return Ok(Inbound::Ping(Ping { tag: member(&members, "tag"), from }));
    }
    let stream_raw = present("stream").ok_or_else(|| invalid("'stream' is missing or null"))?;
    let event_raw = member(&members, "id").unwrap_or(UNDEFINED_EVENT);
    let (tag, tag_other) = match member(&members, "tag").filter(|raw| truthy(raw)) {
        None => (None, None),
        Some(raw) => match json::as_str(raw) {
            Some(t) => (Some(t), None),
            None => (None, Some(raw)),
        },
    };
    let done = json::object_members_trusted(stream_raw)
        .and_then(|sm| member(&sm, "done").map(truthy))
        .unwrap_or(false);
    Ok(Inbound::Message(Message { event_raw, tag, tag_other, from, stream_raw, done, data: payload }))
}

/// The `data` of an outbound message.
#[derive(Debug, Clone, PartialEq)]
#[cfg(any(test, feature = "internals"))]
pub enum OutData {
    /// Leave `data` out (JS `undefined`).
    Absent,
    /// JSON text (from `JSON.stringify`, or `null`).
    Json(String),
    /// A Buffer, written as `{"type":"Buffer","data":[...]}`.
    Bytes(Vec<u8>),
}

/// One outbound message.
#[derive(Debug, Clone, PartialEq)]
#[cfg(any(test, feature = "internals"))]
pub struct OutMessage {
    pub event: String,
    pub tag: Option<String>,
    pub done: bool,
    pub stream_id: Option<String>,
    /// A flattened error (JSON object text), for a stream that failed.
    pub error_json: Option<String>,
    pub data: OutData,
}

/// The `stream` member of an outbound message, borrowed from the sender:
/// written as `{"done":..,"stream":..,"error":..}`, the last two left out
/// when `None`, as the JS kernel leaves out what is `undefined`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOut<'a> {
    pub done: bool,
    /// The id of the stream a chunk belongs to.
    pub id: Option<&'a str>,
    /// A flattened error, as JSON text, for a stream that failed.
    pub error: Option<&'a str>,
}

/// Appends the start of a frame, `{"type":"KIND","data":`. `kind` is one of
/// ours ("message", "ping"), which needs no escape.
fn write_frame_start(out: &mut String, kind: &str) {
    out.push_str("{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"data\":");
}

/// Writes the frame prefix, then the envelope produced by `body` (which must
/// write an object without its opening brace), then signs it when there is a
/// cookie and closes the frame.
fn write_signed(out: &mut String, kind: &str, cookie: Option<&Cookie>, body: impl FnOnce(&mut String)) {
    write_frame_start(out, kind);
    let sum_at = cookie.map(|_| {
        out.push_str("{\"checkSum\":\"");
        let at = out.len();
        out.push_str(&"0".repeat(64));
        out.push_str("\",");
        at
    });
    if cookie.is_none() {
        out.push('{');
    }
    let body_start = out.len();
    body(out);
    if let (Some(cookie), Some(at)) = (cookie, sum_at) {
        let digest = cookie.sign_parts(&[b"{", &out.as_bytes()[body_start..]]);
        out.replace_range(at..at + 64, digest_str(&digest));
    }
    out.push('}');
    out.push('\u{c}');
}

/// Appends a message envelope without its `data` member and closing brace:
/// `{"id":EVENT,"tag":TAG,"from":FROM,"stream":{..}`.
///
/// The members come in the order of the JS kernel's object literal (`id,
/// tag, from, stream`, then `data`; `stream` as `done, stream, error`), and
/// a cast's tag is `null` as the JS kernel writes it: that order is what
/// `JSON.stringify` writes and a JS receiver signs again. A Buffer message
/// stops here and [`encode_buffer_message`] writes its bytes on the
/// network's thread; every other message goes on in [`write_message_line`].
pub fn write_message_head(out: &mut String, from_json: &str, event: &str, tag: Option<&str>, stream: StreamOut<'_>) {
    out.push_str("{\"id\":");
    json::write_string(out, event);
    out.push_str(",\"tag\":");
    match tag {
        Some(t) => json::write_string(out, t),
        None => out.push_str("null"),
    }
    out.push_str(",\"from\":");
    out.push_str(from_json);
    out.push_str(",\"stream\":{\"done\":");
    out.push_str(if stream.done { "true" } else { "false" });
    if let Some(id) = stream.id {
        out.push_str(",\"stream\":");
        json::write_string(out, id);
    }
    if let Some(e) = stream.error {
        out.push_str(",\"error\":");
        out.push_str(e);
    }
    out.push('}');
}

/// Appends what follows a message's head: its `data` member, left out when
/// there is none (JS `undefined`, which `JSON.stringify` drops), and the
/// closing brace.
fn write_message_tail(out: &mut String, data: Option<&str>) {
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    out.push('}');
}

/// Appends one message as a line of a batch of bodies (see
/// [`encode_bodies`]): [`BODY_MESSAGE`], then the envelope, with `data` as
/// JSON text in the form `JSON.stringify` writes, or `None` for no data.
///
/// The line is what the JS layer hands the addon for the same message, so a
/// Rust node's sends and the addon's are signed and written by one path. No
/// newline is written: a line alone needs none, and a caller that batches
/// lines separates them.
pub fn write_message_line(out: &mut String, from_json: &str, event: &str, tag: Option<&str>, stream: StreamOut<'_>, data: Option<&str>) {
    out.push(BODY_MESSAGE as char);
    write_message_head(out, from_json, event, tag, stream);
    write_message_tail(out, data);
}

/// Appends the answer to a ping tagged `ping_tag`, as a line of a batch of
/// bodies: what a JS kernel sends, a cast of the string "pong" whose event is
/// the ping's tag (the pinging kernel waits for that event), with no tag of
/// its own.
pub fn write_pong_line(out: &mut String, from_json: &str, ping_tag: &str) {
    let stream = StreamOut { done: true, ..StreamOut::default() };
    write_message_line(out, from_json, ping_tag, None, stream, Some("\"pong\""));
}

/// Appends the answer to a ping whose tag is any JSON value, as a JS kernel
/// answers it (its event is the tag, whatever it is): `tag_json` in the form
/// `JSON.stringify` writes, or `None` for a ping without a tag, whose pong
/// then has no `id` member (`JSON.stringify` drops `undefined`).
pub fn write_pong_line_json(out: &mut String, from_json: &str, tag_json: Option<&str>) {
    out.push(BODY_MESSAGE as char);
    out.push('{');
    if let Some(tag) = tag_json {
        out.push_str("\"id\":");
        out.push_str(tag);
        out.push(',');
    }
    out.push_str("\"tag\":null,\"from\":");
    out.push_str(from_json);
    out.push_str(",\"stream\":{\"done\":true},\"data\":\"pong\"}");
}

/// Appends a ping envelope, `{"tag":..,"from":..,"stream":{"done":true}}`,
/// in the order of the JS kernel's literal; `write_tag` writes the tag as a
/// JSON string.
fn write_ping(out: &mut String, from_json: &str, write_tag: impl FnOnce(&mut String)) {
    out.push_str("{\"tag\":");
    write_tag(out);
    out.push_str(",\"from\":");
    out.push_str(from_json);
    out.push_str(",\"stream\":{\"done\":true}}");
}

/// Appends a ping as a line of a batch of bodies: [`BODY_PING`], then the
/// envelope a JS kernel's `ping` sends. The node pinged answers on its own
/// link to us with a pong whose event is `tag` (see [`write_pong_line`]).
pub fn write_ping_line(out: &mut String, from_json: &str, tag: &str) {
    out.push(BODY_PING as char);
    write_ping(out, from_json, |out| json::write_string(out, tag));
}

/// The tag of our keep-alive pings starts with this; a JS kernel's reply
/// is a message whose event is that tag. Not a tag a kernel makes for a
/// call (those are hex), so no app listens for it.
pub const TICK_PREFIX: &str = "__clusterluck_native_tick:";

/// Appends a keep-alive ping as a line of a batch of bodies: a ping like
/// any other (a JS kernel answers it as it answers its own), tagged
/// [`TICK_PREFIX`] then `stamp`, the time it was sent, so its pong gives the
/// round trip without a table of pings in flight. The prefix and the digits
/// need no escape, so the tag is written as it stands, which is the text
/// `JSON.stringify` writes, with nothing allocated.
pub fn write_keep_alive_line(out: &mut String, from_json: &str, stamp: u64) {
    use std::fmt::Write;
    out.push(BODY_PING as char);
    write_ping(out, from_json, |out| {
        out.push('"');
        out.push_str(TICK_PREFIX);
        // Writing into a String cannot fail.
        let _ = write!(out, "{stamp}");
        out.push('"');
    });
}

/// Whether a frame we wrote (with its delimiter or without) is a keep-alive
/// ping (see [`write_keep_alive_line`]): those are never written again on a
/// new link, since a ping that old measures nothing.
pub fn is_keep_alive_ping(frame: &str) -> bool {
    frame.starts_with(PING_PREFIX) && frame.contains(TICK_PREFIX)
}

/// Appends the frame of a message built from its parts, written and signed
/// as a Rust node sends it: by [`write_message_head`] and either
/// [`encode_buffer_message`] (a Buffer) or [`encode_body`], the signer of
/// each line of [`encode_bodies`]. The tests hold it to frames captured from
/// JS kernels and to envelopes the JS layer serialises.
#[cfg(any(test, feature = "internals"))]
pub fn encode_message(out: &mut String, cookie: Option<&Cookie>, from_json: &str, m: &OutMessage) {
    let stream = StreamOut { done: m.done, id: m.stream_id.as_deref(), error: m.error_json.as_deref() };
    let mut envelope = String::new();
    write_message_head(&mut envelope, from_json, &m.event, m.tag.as_deref(), stream);
    match &m.data {
        OutData::Bytes(bytes) => {
            encode_buffer_message(out, cookie, &envelope, bytes);
        }
        OutData::Json(text) => {
            write_message_tail(&mut envelope, Some(text));
            encode_body(out, "message", cookie, &envelope);
        }
        OutData::Absent => {
            write_message_tail(&mut envelope, None);
            encode_body(out, "message", cookie, &envelope);
        }
    }
}

/// Appends the frame of a ping, written by the writer of [`write_ping_line`]
/// and signed by [`encode_body`], as a Rust node sends it.
#[cfg(any(test, feature = "internals"))]
pub fn encode_ping(out: &mut String, cookie: Option<&Cookie>, from_json: &str, tag: &str) {
    let mut envelope = String::new();
    write_ping(&mut envelope, from_json, |out| json::write_string(out, tag));
    encode_body(out, "ping", cookie, &envelope);
}

/// The `from` object of our own node, as JSON text.
pub fn from_json(id: &str, host: &str, port: f64) -> String {
    let mut s = String::with_capacity(id.len() + host.len() + 32);
    s.push_str("{\"id\":");
    json::write_string(&mut s, id);
    s.push_str(",\"host\":");
    json::write_string(&mut s, host);
    s.push_str(",\"port\":");
    json::write_number(&mut s, port);
    s.push('}');
    s
}

/// The frame type of each line of a batch of bodies: the line's first byte.
pub const BODY_MESSAGE: u8 = b'm';
pub const BODY_PING: u8 = b'p';

/// Appends one frame around `body`, an envelope object as JSON text, signed
/// as it stands. The caller vouches that `body` is what `JSON.stringify`
/// makes of the envelope (canonical), or a JS receiver would disagree.
pub fn encode_body(out: &mut String, kind: &str, cookie: Option<&Cookie>, body: &str) {
    write_frame_start(out, kind);
    match cookie {
        None => out.push_str(body),
        Some(cookie) => {
            let digest = cookie.sign(body);
            out.push_str("{\"checkSum\":\"");
            out.push_str(digest_str(&digest));
            out.push('"');
            if body.len() > 2 {
                out.push(',');
            }
            out.push_str(&body[1..]);
        }
    }
    out.push('}');
    out.push('\u{c}');
}

/// Appends the frames of a batch of envelopes serialised by JS, or written
/// by the `write_*_line` functions above: one per line, each line its frame
/// type (`BODY_MESSAGE` or `BODY_PING`) then the object.
/// `JSON.stringify` never writes a raw newline, so lines cannot run together.
/// The end of each frame in `out` is pushed onto `ends`. A line of another
/// shape is not ours to guess at: it is dropped, and counted in the result.
pub fn encode_bodies(out: &mut String, cookie: Option<&Cookie>, text: &str, ends: &mut Vec<usize>) -> usize {
    let mut dropped = 0;
    for line in text.split('\n') {
        let kind = match line.as_bytes().first() {
            None => continue,
            Some(&BODY_MESSAGE) => "message",
            Some(&BODY_PING) => "ping",
            Some(_) => "",
        };
        // Empty when the line starts with a character of more than one byte.
        let body = line.get(1..).unwrap_or("");
        if kind.is_empty() || body.len() < 2 || !body.starts_with('{') || !body.ends_with('}') {
            dropped += 1;
            continue;
        }
        encode_body(out, kind, cookie, body);
        ends.push(out.len());
    }
    dropped
}

/// Appends a message whose data is a Buffer. `head` is the envelope without
/// its `data` member and closing brace (`{"id":..,"tag":..,"from":..,"stream":{..}`),
/// as JS serialises it or [`write_message_head`] writes it; the bytes are
/// written here as `{"type":"Buffer","data":[...]}`. False when `head` is
/// not an object.
pub fn encode_buffer_message(out: &mut String, cookie: Option<&Cookie>, head: &str, bytes: &[u8]) -> bool {
    if head.len() < 2 || !head.starts_with('{') {
        return false;
    }
    write_signed(out, "message", cookie, |out| {
        out.push_str(&head[1..]);
        out.push_str(",\"data\":{\"type\":\"Buffer\",\"data\":");
        json::write_byte_array(out, bytes);
        out.push_str("}}");
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decode_usual` with the senders this thread knows (as `decode` has it).
    fn usual<'a>(frame: &'a str, cookie: Option<&Cookie>) -> Option<Inbound<'a>> {
        KNOWN_FROM.with_borrow(|known| decode_usual(frame, cookie, known))
    }

    const FROM: &str = r#"{"id":"a","host":"127.0.0.1","port":7022}"#;

    fn message(data: OutData) -> OutMessage {
        OutMessage {
            event: "ev\"\n".to_string(),
            tag: Some("t1".to_string()),
            done: false,
            stream_id: Some("s".to_string()),
            error_json: Some(r#"{"message":"boom","_error":true}"#.to_string()),
            data,
        }
    }

    /// The envelope as the JS layer serialises it.
    fn js_head() -> String {
        format!(r#"{{"id":"ev\"\n","tag":"t1","from":{FROM},"stream":{{"done":false,"stream":"s","error":{{"message":"boom","_error":true}}}}"#)
    }

    #[test]
    fn bodies_from_js_frame_as_rust_encodes_messages() {
        for cookie in [None, Some(Cookie::new("secret"))] {
            let mut want = String::new();
            encode_message(&mut want, cookie.as_ref(), FROM, &message(OutData::Json("[1,{\"a\":null}]".into())));
            encode_message(&mut want, cookie.as_ref(), FROM, &message(OutData::Absent));
            encode_ping(&mut want, cookie.as_ref(), FROM, "tag");

            let lines = format!(
                "m{head},\"data\":[1,{{\"a\":null}}]}}\nm{head}}}\np{{\"tag\":\"tag\",\"from\":{FROM},\"stream\":{{\"done\":true}}}}\n",
                head = js_head()
            );
            let (mut got, mut ends) = (String::new(), Vec::new());
            assert_eq!(encode_bodies(&mut got, cookie.as_ref(), &lines, &mut ends), 0);
            assert_eq!(got, want);
            assert_eq!(ends.len(), 3);
            assert_eq!(*ends.last().unwrap(), got.len());
            assert!(ends.iter().all(|&e| got.as_bytes()[e - 1] == crate::wire::frame::DELIMITER));
        }
    }

    #[test]
    fn buffer_messages_from_js_heads_frame_as_rust_encodes_them() {
        let bytes: Vec<u8> = (0..=255).collect();
        for cookie in [None, Some(Cookie::new("secret"))] {
            let mut want = String::new();
            encode_message(&mut want, cookie.as_ref(), FROM, &message(OutData::Bytes(bytes.clone())));
            let mut got = String::new();
            assert!(encode_buffer_message(&mut got, cookie.as_ref(), &js_head(), &bytes));
            assert_eq!(got, want);
        }
        assert!(!encode_buffer_message(&mut String::new(), None, "", &bytes));
    }

    /// Each writer appends: what `out` held before is kept.
    fn written(write: impl FnOnce(&mut String)) -> String {
        let mut out = String::from("<");
        write(&mut out);
        out.strip_prefix('<').expect("the writer appends").to_string()
    }

    #[test]
    fn a_message_head_is_the_js_literal_without_data_and_closing_brace() {
        let stream = StreamOut { done: false, id: Some("s"), error: Some(r#"{"message":"boom","_error":true}"#) };
        assert_eq!(
            written(|out| write_message_head(out, FROM, "ev\"\n", Some("t1"), stream)),
            r#"{"id":"ev\"\n","tag":"t1","from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":false,"stream":"s","error":{"message":"boom","_error":true}}"#
        );
        // A cast: the tag is null; no stream id and no error, no members.
        let cast = StreamOut { done: true, ..StreamOut::default() };
        assert_eq!(
            written(|out| write_message_head(out, FROM, "job", None, cast)),
            r#"{"id":"job","tag":null,"from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true}"#
        );
        assert_eq!(js_head(), written(|out| write_message_head(out, FROM, "ev\"\n", Some("t1"), stream)));
    }

    #[test]
    fn a_message_line_is_its_type_then_the_js_literal() {
        let cast = StreamOut { done: true, ..StreamOut::default() };
        assert_eq!(
            written(|out| write_message_line(out, FROM, "job", None, cast, Some(r#"[1,{"a":null}]"#))),
            r#"m{"id":"job","tag":null,"from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true},"data":[1,{"a":null}]}"#
        );
        // No data: the member is left out, as JSON.stringify leaves out undefined.
        let chunk = StreamOut { done: false, id: Some("s1"), error: None };
        assert_eq!(
            written(|out| write_message_line(out, FROM, "t9", None, chunk, None)),
            r#"m{"id":"t9","tag":null,"from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":false,"stream":"s1"}}"#
        );
    }

    #[test]
    fn a_pong_is_a_cast_of_pong_to_the_pings_tag() {
        assert_eq!(
            written(|out| write_pong_line(out, FROM, "t\"1")),
            r#"m{"id":"t\"1","tag":null,"from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true},"data":"pong"}"#
        );
        // Signed and framed, the whole frame; the digest was computed apart
        // from this crate (HMAC-SHA256 of the envelope, key "secret").
        let mut out = String::new();
        assert_eq!(encode_bodies(&mut out, Some(&Cookie::new("secret")), &written(|out| write_pong_line(out, FROM, "t\"1")), &mut Vec::new()), 0);
        assert_eq!(
            out,
            "{\"type\":\"message\",\"data\":{\"checkSum\":\"e4c1accda06afc32f58ae27c2b4a7b603da9c277a3fb361b3a8ec6f5f393d94e\",\
             \"id\":\"t\\\"1\",\"tag\":null,\"from\":{\"id\":\"a\",\"host\":\"127.0.0.1\",\"port\":7022},\
             \"stream\":{\"done\":true},\"data\":\"pong\"}}\u{c}"
        );
        let Ok(Inbound::Message(m)) = decode(out.trim_end_matches('\u{c}'), Some(&Cookie::new("secret"))) else { panic!("{out}") };
        assert_eq!((m.event_raw, m.tag, m.done, m.data), ("\"t\\\"1\"", None, true, InData::Json("\"pong\"")));
    }

    #[test]
    fn a_pong_to_a_tag_of_any_type_echoes_it_as_the_js_kernel_does() {
        // The JS kernel's literal {id: tag, tag: null, from, stream, data},
        // with `id` left out by JSON.stringify when the ping had no tag.
        assert_eq!(
            written(|out| write_pong_line_json(out, FROM, Some("[1,\"a\"]"))),
            r#"m{"id":[1,"a"],"tag":null,"from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true},"data":"pong"}"#
        );
        assert_eq!(
            written(|out| write_pong_line_json(out, FROM, None)),
            r#"m{"tag":null,"from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true},"data":"pong"}"#
        );
        // A string tag written this way is what write_pong_line writes.
        assert_eq!(
            written(|out| write_pong_line_json(out, FROM, Some("\"t\\\"1\""))),
            written(|out| write_pong_line(out, FROM, "t\"1"))
        );
        // Signed and framed, each is a message a kernel reads back.
        for (tag, event) in [(Some("7"), "7"), (None, UNDEFINED_EVENT)] {
            let mut out = String::new();
            encode_bodies(&mut out, Some(&Cookie::new("k")), &written(|out| write_pong_line_json(out, FROM, tag)), &mut Vec::new());
            let Ok(Inbound::Message(m)) = decode(out.trim_end_matches('\u{c}'), Some(&Cookie::new("k"))) else { panic!("{out}") };
            assert_eq!((m.event_raw, m.data), (event, InData::Json("\"pong\"")));
        }
    }

    #[test]
    fn a_ping_is_its_type_then_the_js_literal() {
        assert_eq!(
            written(|out| write_ping_line(out, FROM, "t\"1")),
            r#"p{"tag":"t\"1","from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true}}"#
        );
        // The frame of a line is the frame encode_ping writes.
        for cookie in [None, Some(Cookie::new("secret"))] {
            let (mut line, mut frame) = (String::new(), String::new());
            encode_bodies(&mut line, cookie.as_ref(), &written(|out| write_ping_line(out, FROM, "t\"1")), &mut Vec::new());
            encode_ping(&mut frame, cookie.as_ref(), FROM, "t\"1");
            assert_eq!(line, frame);
        }
    }

    #[test]
    fn a_keep_alive_ping_is_a_ping_tagged_with_its_stamp() {
        assert_eq!(
            written(|out| write_keep_alive_line(out, FROM, 12345)),
            r#"p{"tag":"__clusterluck_native_tick:12345","from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true}}"#
        );
        assert_eq!(
            written(|out| write_keep_alive_line(out, FROM, u64::MAX)),
            r#"p{"tag":"__clusterluck_native_tick:18446744073709551615","from":{"id":"a","host":"127.0.0.1","port":7022},"stream":{"done":true}}"#
        );
        // Its tag as any ping's: the text JSON.stringify writes for it.
        assert_eq!(
            written(|out| write_keep_alive_line(out, FROM, 12345)),
            written(|out| write_ping_line(out, FROM, &format!("{TICK_PREFIX}12345")))
        );
        let mut out = String::new();
        encode_bodies(&mut out, Some(&Cookie::new("secret")), &written(|out| write_keep_alive_line(out, FROM, 12345)), &mut Vec::new());
        assert_eq!(
            out,
            "{\"type\":\"ping\",\"data\":{\"checkSum\":\"5c7baf80574aea8be808a12385662ef5173f76577c4eff9e135eef03af3d1c8e\",\
             \"tag\":\"__clusterluck_native_tick:12345\",\"from\":{\"id\":\"a\",\"host\":\"127.0.0.1\",\"port\":7022},\
             \"stream\":{\"done\":true}}}\u{c}"
        );
        assert!(is_keep_alive_ping(&out) && is_keep_alive_ping(out.trim_end_matches('\u{c}')));
        // Not an app's ping, nor the pong that answers a keep-alive ping.
        let mut other = String::new();
        encode_ping(&mut other, None, FROM, "t1");
        assert!(!is_keep_alive_ping(&other));
        let mut pong = String::new();
        encode_bodies(&mut pong, None, &written(|out| write_pong_line(out, FROM, &format!("{TICK_PREFIX}12345"))), &mut Vec::new());
        assert!(!is_keep_alive_ping(&pong));
    }

    #[test]
    fn malformed_lines_are_dropped_and_counted() {
        // Lines that start with a character of more than one byte too.
        let lines = "m{\"id\":\"a\"}\nx{\"id\":\"b\"}\nm\nmnot json\n\u{e9}{}\n\u{1F600}\n\np{}\nm{\"id\":\"c\"}";
        let (mut out, mut ends) = (String::new(), Vec::new());
        assert_eq!(encode_bodies(&mut out, Some(&Cookie::new("k")), lines, &mut ends), 5);
        assert_eq!(ends.len(), 3);
        let frames: Vec<&str> = out.split('\u{c}').filter(|f| !f.is_empty()).collect();
        assert!(frames[0].contains("\"id\":\"a\"") && frames[2].contains("\"id\":\"c\""));
        // An empty object still gets a well-formed checksum member.
        assert!(frames[1].starts_with("{\"type\":\"ping\",\"data\":{\"checkSum\":\"") && frames[1].ends_with("\"}}"));
        for f in frames {
            json::validate(f).unwrap();
        }
    }

    /// Messages as kernels write them, with and without a sum: casts, a
    /// call, a reply, payloads of every kind of value.
    fn usual_frames(cookie: Option<&Cookie>) -> Vec<String> {
        let mut frames = Vec::new();
        let payloads = ["{\"a\":1,\"b\":\"hello\",\"c\":[1,2,3]}", "\"pong\"", "null", "[]", "{}", "-1.5e3", "true", "\"é 😀\""];
        for (i, data) in payloads.iter().enumerate() {
            for tag in [None, Some("t-7")] {
                let m = OutMessage {
                    event: ["cast", "é", "x y"][i % 3].to_string(),
                    tag: tag.map(str::to_string),
                    done: true,
                    stream_id: None,
                    error_json: None,
                    data: OutData::Json(data.to_string()),
                };
                let mut f = String::new();
                encode_message(&mut f, cookie, FROM, &m);
                frames.push(f.trim_end_matches('\u{c}').to_string());
            }
        }
        let mut absent = String::new();
        let m = OutMessage { event: "e".into(), tag: None, done: true, stream_id: None, error_json: None, data: OutData::Absent };
        encode_message(&mut absent, cookie, FROM, &m);
        frames.push(absent.trim_end_matches('\u{c}').to_string());
        frames
    }

    /// `decode_usual` either declines or reads a frame exactly as
    /// `decode_any` does, with the same sender known to both.
    fn same_reading(frame: &str, cookie: Option<&Cookie>) -> bool {
        // The sender, as a reader knows it from its first frame.
        let known = format!("{MESSAGE_PREFIX}{{\"id\":\"k\",\"tag\":null,\"from\":{FROM},\"stream\":{{\"done\":true}}}}}}");
        assert!(decode_any(&known, None).is_ok());
        let usual = usual(frame, cookie);
        let hit = usual.is_some();
        if let Some(usual) = usual {
            assert_eq!(Ok(usual), decode_any(frame, cookie), "{frame}");
        }
        hit
    }

    #[test]
    fn the_usual_shape_is_read_as_any_frame_is() {
        let cookie = Cookie::new("k");
        for c in [None, Some(&cookie)] {
            for f in usual_frames(c) {
                assert!(same_reading(&f, c), "the usual shape, not read by it: {f}");
                // And through `decode`, as the reader calls it.
                assert_eq!(decode(&f, c), decode_any(&f, c));
            }
        }
        // Signed frames read without a cookie: the sum is not checked.
        for f in usual_frames(Some(&cookie)) {
            assert!(same_reading(&f, None), "{f}");
        }
        // Read the long way: a wrong sum (which `decode_any` reports), a
        // frame with no sum when one is wanted, escapes, a Buffer, a
        // stream chunk, an unknown sender, space around the payload.
        let signed = &usual_frames(Some(&cookie))[0];
        let plain = &usual_frames(None)[0];
        let declined = [
            (signed.replacen("\"checkSum\":\"", "\"checkSum\":\"0", 1).replacen("\",\"id\"", "\"x,\"id\"", 1), Some(&cookie)),
            (signed.clone(), Some(&Cookie::new("other"))),
            (plain.clone(), Some(&cookie)),
            (plain.replacen("\"id\":\"cast\"", "\"id\":\"c\\u0061st\"", 1), None),
            (plain.replacen("\"tag\":null", "\"tag\":\"a\\\"b\"", 1), None),
            (plain.replacen("\"tag\":null", "\"tag\":1", 1), None),
            (plain.replacen("\"data\":{\"a\"", "\"data\":{\"type\":\"Buffer\",\"data\":[1,2],\"a\"", 1), None),
            (plain.replacen("\"done\":true", "\"done\":false,\"stream\":\"s\"", 1), None),
            (plain.replacen("\"id\":\"a\"", "\"id\":\"b\"", 1), None),
            (plain.replacen("\"data\":{", "\"data\": {", 1), None),
            (plain.replacen("]}}}", "]} }}", 1), None),
        ];
        for (f, c) in &declined {
            assert!(!same_reading(f, *c), "read by its shape: {f}");
            assert_eq!(decode(f, *c), decode_any(f, *c), "{f}");
        }
        // An empty tag is no tag, both ways.
        assert!(same_reading(&plain.replacen("\"tag\":null", "\"tag\":\"\"", 1), None));
        // A wrong sum is still reported as one.
        let (bad_sum, c) = &declined[1];
        assert!(matches!(decode(bad_sum, *c), Err(Skip::InvalidChecksum { .. })));
    }

    #[test]
    fn every_byte_of_the_usual_shape_changed_reads_as_any_frame_does() {
        // Each byte of a signed and a plain frame replaced by bytes that
        // matter to JSON: whatever the shape reader still takes, the full
        // reader takes the same way.
        let cookie = Cookie::new("k");
        let mut hits = 0;
        for c in [None, Some(&cookie)] {
            let frame = usual_frames(c)[1].clone();
            for at in 0..frame.len() {
                for by in ["\"", "\\", "}", "{", ",", ":", "0", " ", "x", "\u{1}", "[", "é", ""] {
                    let mut f = frame.as_bytes().to_vec();
                    f.splice(at..at + 1, by.bytes());
                    let Ok(f) = String::from_utf8(f) else { continue };
                    for reader in [None, Some(&cookie)] {
                        hits += usize::from(same_reading(&f, reader));
                    }
                }
            }
        }
        // Changes inside the payload's strings and the event keep the shape.
        assert!(hits > 100, "{hits}");
    }

    #[test]
    fn a_thread_knows_eight_senders_by_turns() {
        let cookie = Cookie::new("k");
        let frame_from = |i: usize| {
            let from = from_json(&format!("n{i}"), "127.0.0.1", 7000.0 + i as f64);
            let m = OutMessage { event: "e".into(), tag: None, done: true, stream_id: None, error_json: None, data: OutData::Json("1".into()) };
            let mut f = String::new();
            encode_message(&mut f, Some(&cookie), &from, &m);
            f.trim_end_matches('\u{c}').to_string()
        };
        let frames: Vec<String> = (0..9).map(frame_from).collect();
        for f in &frames[..8] {
            assert!(usual(f, Some(&cookie)).is_none(), "not known before its first frame");
            assert!(decode_any(f, Some(&cookie)).is_ok());
        }
        // Eight links read by turns: each read by its shape.
        for _ in 0..2 {
            for f in &frames[..8] {
                assert_eq!(Some(decode_any(f, Some(&cookie)).unwrap()), usual(f, Some(&cookie)));
            }
        }
        // A ninth takes the place of the first known.
        assert!(decode_any(&frames[8], Some(&cookie)).is_ok());
        assert!(usual(&frames[8], Some(&cookie)).is_some());
        assert!(usual(&frames[0], Some(&cookie)).is_none());
        assert!(usual(&frames[1], Some(&cookie)).is_some());
    }

    #[test]
    fn the_deepest_payloads_are_read_on_a_runtime_worker() {
        // A network thread is a runtime worker with 2 MiB of stack, in any
        // build: nesting up to the bound is read there, past it refused,
        // whichever way the frame is read (a sum over other text than the
        // one sent makes the reader canonicalise it); never a crash.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let cookie = Cookie::new("k");
        let max = json::MAX_DEPTH;
        let frame = |depth: usize, object: bool, spaced: bool| {
            let payload = if object {
                format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
            } else {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            };
            let m = OutMessage { event: "e".into(), tag: None, done: true, stream_id: None, error_json: None, data: OutData::Json(payload) };
            let mut f = String::new();
            encode_message(&mut f, Some(&cookie), FROM, &m);
            let f = f.trim_end_matches('\u{c}').to_string();
            if spaced { f.replacen("\"tag\":null", "\"tag\": null", 1) } else { f }
        };
        for object in [false, true] {
            for spaced in [false, true] {
                let (ok, deep) = (frame(max, object, spaced), frame(max + 1, object, spaced));
                let c = cookie.clone();
                let (ok, deep) = rt
                    .block_on(async move {
                        tokio::spawn(async move { (decode(&ok, Some(&c)).map(|_| ()), decode(&deep, Some(&c)).map(|_| ())) }).await
                    })
                    .unwrap();
                if !spaced {
                    assert_eq!(ok, Ok(()), "object {object}");
                }
                assert!(matches!(deep, Err(Skip::InvalidJson(_))), "object {object}, spaced {spaced}: {deep:?}");
            }
        }
    }
}
