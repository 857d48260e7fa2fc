//! What a node tells an observer (`clusterluck-native top`), answered here,
//! on the network thread that read the request: it never reaches JS, a
//! clusterluck app, or a Rust node's handlers.
//!
//! The request is an ordinary `message` frame whose event is
//! [`OBSERVE_EVENT`], with a reply tag, signed with the cookie as every
//! frame is; a node with a cookie has already dropped (as a skip) a request
//! that is unsigned or wrongly signed before it gets here. The answer is a
//! reply to that tag, as a JS kernel replies: a `message` frame whose event
//! is the tag, signed with the cookie. It travels on a connection opened for
//! it alone, to the port the request's `from` names at the address the
//! request came from (never to a host the request names: a node cannot be
//! made to dial a third party), over TLS when the node speaks TLS, and
//! closed once written. It carries no
//! message payloads: the node's id, address, kind and uptime, the figures
//! of [`stats`] per peer, and the links it holds (each with its address, so
//! the observer can walk the mesh).
//!
//! The same figures are the Rust node's `Node::stats()`: both read the
//! atomics the network tasks keep, with no round trip to them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use tokio::io::AsyncWriteExt;

use crate::link::health::now_us;
use crate::link::peer::{Life, PeerHandle};
use crate::link::shared::{lock, Config, Shared};
use crate::link::sink::DownReason;
use crate::link::tls;
use crate::wire::envelope::{self, Message, StreamOut};
use crate::wire::error::Skip;
use crate::wire::json;

/// The event of an observer's request. Reserved: it starts with two
/// underscores and names this package, as the keep-alive ping's tag does,
/// and clusterluck's own events (GenServer names, `ping`, its command
/// server's commands) never do.
pub const OBSERVE_EVENT: &str = "__clusterluck_native_observe";

/// The request's event as it stands in a frame: a JSON string with nothing
/// to escape.
const OBSERVE_RAW: &str = "\"__clusterluck_native_observe\"";

/// Version of the answer's shape, for observers of later versions.
pub const OBSERVE_VERSION: u32 = 1;

/// Answers being written at once, at most; a request past it is ignored
/// (its observer times out), so requests cannot pile up connections.
const MAX_ANSWERS: usize = 16;

/// How long an answer may take to connect and be written.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What kind of node answers: an addon node, or a Rust library node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// The Node.js addon (a native `NetKernel`).
    Native,
    /// A node of the Rust library.
    Rust,
}

/// The state of our link to a node, as the JS layer's `stats()` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Shown to run since the link came up.
    Up,
    /// Declared down for its silence; the link is kept.
    Down,
    /// No link now, or a link to a node not shown to run yet.
    Connecting,
}

/// Messages and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Frames.
    pub messages: u64,
    /// Bytes of frames, delimiters included.
    pub bytes: u64,
}

/// One node's entry, as the addon's `kernel.stats()` gives it: what went out
/// on our link to it, and what came in on its links to us.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStats {
    /// Our link to the node; `None` when we hold none.
    pub state: Option<LinkState>,
    /// Written on our link to it.
    pub sent: Counts,
    /// Read on its links to us.
    pub received: Counts,
    /// Frames waiting for our link to it (down, or behind a write).
    pub queued: u64,
    /// Bytes of frames handed to our link and not yet written.
    pub unwritten: u64,
    /// Frames dropped unwritten past `maxLen` or `maxQueueBytes`.
    pub dropped: u64,
    /// Frames of its skipped as bad input, by kind (`Skip::KINDS`).
    #[serde(serialize_with = "skips_in_kind_order")]
    pub skips: BTreeMap<String, u64>,
    /// Its links to us open now.
    pub inbound: u64,
    /// When we last read anything from it, in ms since the epoch.
    pub last_heard: Option<u64>,
    /// Round trip of the last keep-alive ping answered, in ms.
    pub rtt: Option<f64>,
    /// Ms since its last sign of life, while our link to it is up or down.
    pub quiet: Option<u64>,
    /// Keep-alive pings written.
    pub pings: u64,
    /// Pings that went a quarter tick with nothing heard.
    pub ticks_missed: u64,
    /// Whole-tick silences its acknowledgements showed to be a busy node.
    pub ack_saves: u64,
    /// `nodedown`s by reason ("tick timeout", "closed", "stopped").
    #[serde(serialize_with = "downs_in_reason_order")]
    pub nodedowns: BTreeMap<String, u64>,
}

/// The sums over every node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Written on all our links.
    pub sent: Counts,
    /// Read on all links to us.
    pub received: Counts,
    /// Frames waiting on all our links.
    pub queued: u64,
    /// Bytes handed to our links and not yet written.
    pub unwritten: u64,
    /// Frames dropped unwritten.
    pub dropped: u64,
    /// Skipped frames by kind, those of links that never named their node
    /// included.
    #[serde(serialize_with = "skips_in_kind_order")]
    pub skips: BTreeMap<String, u64>,
}

/// Every node's entry and the totals: the addon's `stats()`, from Rust.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// By node id.
    pub peers: BTreeMap<String, PeerStats>,
    /// Sums over `peers`.
    pub totals: Totals,
}

/// One of our outbound links, where it dials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkTo {
    /// The node's id.
    pub id: String,
    /// Its host, as it was given to `connect`.
    pub host: String,
    /// Its port.
    pub port: u16,
}

/// What an observer is told: no message payloads, only figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer<'a> {
    /// [`OBSERVE_VERSION`].
    pub version: u32,
    /// This node's id.
    pub id: &'a str,
    /// Its host.
    pub host: &'a str,
    /// Its port.
    pub port: f64,
    /// An addon node or a Rust node.
    pub kind: NodeKind,
    /// Ms since it last started listening.
    pub uptime: Option<u64>,
    /// Its `stats()`.
    #[serde(flatten)]
    pub stats: Stats,
    /// The nodes it links to.
    pub links: Vec<LinkTo>,
}

/// Counters by name, written with the names of `order` first, in its order,
/// and any other after them: the JSON of [`Stats`] lists skip kinds and
/// `nodedown` reasons in the order of [`Skip::KINDS`] and `DownReason::ALL`,
/// as the addon's `kernel.stats()` objects always have.
fn in_order<S: Serializer>(map: &BTreeMap<String, u64>, order: &[&str], s: S) -> Result<S::Ok, S::Error> {
    let known = order.iter().filter_map(|k| map.get_key_value(*k));
    let rest = map.iter().filter(|(k, _)| !order.contains(&k.as_str()));
    s.collect_map(known.chain(rest))
}

fn skips_in_kind_order<S: Serializer>(map: &BTreeMap<String, u64>, s: S) -> Result<S::Ok, S::Error> {
    in_order(map, &Skip::KINDS, s)
}

fn downs_in_reason_order<S: Serializer>(map: &BTreeMap<String, u64>, s: S) -> Result<S::Ok, S::Error> {
    in_order(map, &down_names(), s)
}

fn zeroed(names: &[&str]) -> BTreeMap<String, u64> {
    names.iter().map(|n| (n.to_string(), 0)).collect()
}

fn down_names() -> [&'static str; DownReason::ALL.len()] {
    DownReason::ALL.map(DownReason::as_str)
}

fn empty_entry() -> PeerStats {
    PeerStats { skips: zeroed(&Skip::KINDS), nodedowns: zeroed(&down_names()), ..PeerStats::default() }
}

/// The figures of outbound link `p`.
fn outbound_entry(p: &PeerHandle, now: u64) -> PeerStats {
    let s = &p.state;
    let life = s.life.load(Relaxed);
    let alive = s.alive_at.load(Relaxed);
    let mut e = empty_entry();
    e.state = Some(if life == Life::Up as u8 {
        LinkState::Up
    } else if life == Life::Down as u8 {
        LinkState::Down
    } else {
        LinkState::Connecting
    });
    if life >= Life::Up as u8 && alive > 0 {
        e.quiet = Some(round_ms(now.saturating_sub(alive)));
    }
    e.sent = Counts { messages: s.sent_frames.load(Relaxed), bytes: s.sent_bytes.load(Relaxed) };
    e.queued = s.queued.load(Acquire) as u64;
    e.unwritten = s.unwritten.load(Relaxed) as u64;
    e.dropped = s.dropped.load(Relaxed);
    e.pings = s.pings.load(Relaxed);
    e.ticks_missed = s.ticks_missed.load(Relaxed);
    e.ack_saves = s.ack_saves.load(Relaxed);
    for (r, n) in DownReason::ALL.iter().zip(&s.downs) {
        e.nodedowns.insert(r.as_str().to_string(), n.load(Relaxed));
    }
    e
}

/// Ms since the epoch now, whole ones, as JS's `Date.now()` gives them.
fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// Microseconds to the nearest ms, halves up, as JS's `Math.round` of the
/// ms: the figures the addon's `kernel.stats()` gave before it read them here.
fn round_ms(us: u64) -> u64 {
    us.saturating_add(500) / 1000
}

/// Every node's figures: our link to it and its links to us.
pub fn stats(shared: &Shared) -> Stats {
    let peers: Vec<PeerHandle> = lock(&shared.peers_by_node).values().cloned().collect();
    stats_of(shared, &peers)
}

/// Every node's figures, with `links` as our links to them. The addon's
/// `kernel.stats()` names the links its `Connection`s hold, which are not
/// always those of the registry: a connection stopped while it stays among
/// the kernel's sinks is listed (its link has left the registry), and one
/// being disconnected gracefully is not (its link is still in the registry
/// until what it holds is written).
pub fn stats_of<'a>(shared: &Shared, links: impl IntoIterator<Item = &'a PeerHandle>) -> Stats {
    let now = now_us();
    let mut out = Stats { totals: Totals { skips: zeroed(&Skip::KINDS), ..Totals::default() }, ..Stats::default() };
    for p in links {
        out.peers.insert(p.node_id.to_string(), outbound_entry(p, now));
    }
    let now_ms = epoch_ms();
    for (id, h) in shared.hearing.nodes() {
        let e = out.peers.entry(id).or_insert_with(empty_entry);
        e.inbound = h.links.load(Relaxed) as u64;
        e.received = Counts { messages: h.messages.load(Relaxed), bytes: h.bytes.load(Relaxed) };
        let last = h.last_us.load(Relaxed);
        e.last_heard = (last > 0).then(|| now_ms.saturating_sub(round_ms(now.saturating_sub(last))));
        let rtt = h.rtt_us.load(Relaxed);
        e.rtt = (rtt > 0).then(|| rtt as f64 / 1000.0);
        for (kind, n) in Skip::KINDS.iter().zip(&h.skips) {
            e.skips.insert(kind.to_string(), n.load(Relaxed));
        }
    }
    let t = &mut out.totals;
    for e in out.peers.values() {
        t.sent.messages += e.sent.messages;
        t.sent.bytes += e.sent.bytes;
        t.received.messages += e.received.messages;
        t.received.bytes += e.received.bytes;
        t.queued += e.queued;
        t.unwritten += e.unwritten;
        t.dropped += e.dropped;
        for (k, n) in &e.skips {
            *t.skips.entry(k.clone()).or_default() += n;
        }
    }
    for (kind, n) in Skip::KINDS.iter().zip(&shared.hearing.unattributed.skips) {
        *t.skips.entry(kind.to_string()).or_default() += n.load(Relaxed);
    }
    out
}

/// The links this node holds, sorted by node id.
pub fn links(shared: &Shared) -> Vec<LinkTo> {
    let mut links: Vec<LinkTo> = lock(&shared.peers_by_node)
        .values()
        .map(|p| LinkTo { id: p.node_id.to_string(), host: p.host.to_string(), port: p.port })
        .collect();
    links.sort_by(|a, b| a.id.cmp(&b.id));
    links
}

/// The answer's JSON text, in the form `JSON.stringify` writes (what a JS
/// receiver signs again).
pub fn answer_json(shared: &Shared, cfg: &Config) -> String {
    let (id, host, port) = from_parts(&cfg.from_json);
    let started = shared.started_us.load(Relaxed);
    let answer = Answer {
        version: OBSERVE_VERSION,
        id: &id,
        host: &host,
        port,
        kind: shared.sink.node_kind(),
        uptime: (started > 0).then(|| now_us().saturating_sub(started) / 1000),
        stats: stats(shared),
        links: links(shared),
    };
    // Plain integers, short strings and finite floats: this cannot fail,
    // and serde's floats are the shortest round trip, as V8's are; the
    // canonical pass makes sure of the rest of JSON.stringify's form.
    let text = serde_json::to_string(&answer).unwrap_or_else(|_| "null".into());
    match json::canonicalize(&text) {
        Ok(c) => c.into_owned(),
        Err(_) => "null".into(),
    }
}

/// Our id, host and port, read back from our `from` member.
fn from_parts(from_json: &str) -> (String, String, f64) {
    let members = json::object_members_trusted(from_json).unwrap_or_default();
    let get = |name: &str| members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| *v);
    let text = |name: &str| get(name).and_then(json::as_str).map(|s| s.into_owned()).unwrap_or_default();
    (text("id"), text("host"), get("port").and_then(json::as_f64).unwrap_or(0.0))
}

/// Whether `m` is an observer's request (`event_raw` is the raw JSON of its
/// event).
pub fn is_request(m: &Message<'_>) -> bool {
    m.event_raw == OBSERVE_RAW
}

/// The answer's frame: a reply to `tag`, signed with our cookie.
pub fn answer_frame(shared: &Shared, cfg: &Config, tag: &str) -> String {
    let data = answer_json(shared, cfg);
    let mut line = String::with_capacity(data.len() + cfg.from_json.len() + tag.len() + 64);
    let stream = StreamOut { done: true, ..StreamOut::default() };
    envelope::write_message_line(&mut line, &cfg.from_json, tag, None, stream, Some(&data));
    let mut frame = String::with_capacity(line.len() + 96);
    envelope::encode_bodies(&mut frame, cfg.cookie.as_ref(), &line, &mut Vec::new());
    frame
}

/// Answers request `m`, which came from `ip` (already verified against
/// our cookie, if we have one). A request without a reply tag, or with a
/// port that is not one, is ignored: there is nowhere to answer.
pub fn answer(shared: &Arc<Shared>, cfg: &Config, m: &Message<'_>, ip: IpAddr) {
    let Some(tag) = m.tag.as_deref() else { return };
    let Some(port) = m.from.port else { return };
    if !(1.0..=65535.0).contains(&port) || port.fract() != 0.0 {
        return;
    }
    if shared.answers.fetch_add(1, Relaxed) >= MAX_ANSWERS {
        shared.answers.fetch_sub(1, Relaxed);
        tracing::debug!("an observer's request ignored: {MAX_ANSWERS} answers are being written");
        return;
    }
    let frame = answer_frame(shared, cfg, tag);
    let tls = shared.answer_tls.read().unwrap_or_else(|p| p.into_inner()).clone();
    let (to, shared) = ((ip, port as u16), shared.clone());
    shared.runtime.clone().spawn(async move {
        let sent = tokio::time::timeout(ANSWER_TIMEOUT, write_answer(to, tls, frame.as_bytes())).await;
        if !matches!(sent, Ok(Ok(()))) {
            tracing::debug!("an observer at {}:{} could not be answered", to.0, to.1);
        }
        shared.answers.fetch_sub(1, Relaxed);
    });
}

/// Dials the observer (over TLS with `tls`, proving the observer holds a
/// certificate for the address dialled, as any peer must), writes the
/// answer, and closes.
async fn write_answer(to: (IpAddr, u16), tls: Option<Arc<rustls::ClientConfig>>, frame: &[u8]) -> std::io::Result<()> {
    let mut socket = tokio::net::TcpStream::connect(to).await?;
    let _ = socket.set_nodelay(true);
    let Some(config) = tls else {
        socket.write_all(frame).await?;
        return socket.shutdown().await;
    };
    let name = tls::server_name(&to.0.to_string()).map_err(std::io::Error::other)?;
    let mut stream = tokio_rustls::TlsConnector::from(config).connect(name, socket).await?;
    stream.write_all(frame).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_kinds_and_down_reasons_are_written_in_the_order_of_their_counters() {
        let mut stats = Stats { totals: Totals { skips: zeroed(&Skip::KINDS), ..Totals::default() }, ..Stats::default() };
        let mut entry = empty_entry();
        entry.skips.insert("AN_EXTRA_KIND".into(), 1);
        stats.peers.insert("b".into(), entry);
        let text = serde_json::to_string(&stats).expect("serialised");
        let entry_text = &text[..text.find("\"totals\"").expect("totals")];
        let totals_text = &text[text.find("\"totals\"").expect("totals")..];
        let at = |within: &str, name: &str| within.find(&format!("\"{name}\":")).unwrap_or_else(|| panic!("{name} in {within}"));
        for within in [entry_text, totals_text] {
            let places: Vec<usize> = Skip::KINDS.iter().map(|k| at(within, k)).collect();
            assert!(places.windows(2).all(|w| w[0] < w[1]), "{within}");
        }
        assert!(at(entry_text, "AN_EXTRA_KIND") > at(entry_text, "INBOUND_BUDGET"), "a name of no counter comes last");
        let places: Vec<usize> = ["tick timeout", "closed", "stopped"].iter().map(|r| at(entry_text, r)).collect();
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{entry_text}");
        // Read back, the maps are the same (only the order of the text differs).
        let back: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(back["peers"]["b"]["skips"]["AN_EXTRA_KIND"], 1);
        assert_eq!(back["peers"]["b"]["nodedowns"]["tick timeout"], 0);
        assert_eq!(back["peers"]["b"]["lastHeard"], serde_json::Value::Null);
    }

    #[test]
    fn ms_are_rounded_halves_up() {
        assert_eq!(round_ms(0), 0);
        assert_eq!(round_ms(499), 0);
        assert_eq!(round_ms(500), 1);
        assert_eq!(round_ms(1499), 1);
        assert_eq!(round_ms(2500), 3);
        assert_eq!(round_ms(u64::MAX), u64::MAX / 1000);
    }
}
