//! What this node hears from each other node: the basis of failure
//! detection (net_ticktime) and of the receive side of `stats()`.
//!
//! An inbound link ("source") learns which node it carries from its first
//! message, and from then on updates that node's [`Heard`] with atomics:
//! when it last read anything (once per socket read), and the messages,
//! bytes and skips of each read, added once per read. Nothing on the
//! receive path takes a lock per message. A node's peer task (our outbound
//! link to it) reads these to decide that a node that holds a link to us
//! but has sent nothing for a whole tick time is down, and to send a ping
//! when it has been quiet for a quarter of that, as Erlang's distribution
//! ticks. The ping is the protocol's own (`envelope::write_keep_alive_line`
//! writes it); a JS kernel answers it with a "pong" cast to the ping's tag,
//! which is recognised here by its prefix, gives the round trip, and never
//! reaches JS.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::Notify;

use crate::wire::envelope::TICK_PREFIX;
use crate::wire::error::Skip;
use crate::link::handover::Turn;

/// Microseconds on a clock shared by the whole process (never 0 once read).
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
}

/// What we hear from one node, on all its inbound links together.
#[derive(Debug, Default)]
pub struct Heard {
    /// [`now_us`] of the last read with anything in it (0: never).
    pub last_us: AtomicU64,
    /// Inbound links of this node open now.
    pub links: AtomicUsize,
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub skips: [AtomicU64; Skip::KINDS.len()],
    /// The round trip of the last keep-alive ping answered (0: none yet).
    pub rtt_us: AtomicU64,
    /// Socket reads with anything in them, on all the node's links: a link
    /// waiting for its turn watches the older ones by it.
    pub reads: AtomicU64,
    /// Which of the node's links delivers (see `handover.rs`).
    pub turn: Turn,
    /// Set by our link to the node while it waits for a sign of life
    /// (`nodeup`): the next read from the node wakes it. One relaxed load
    /// per read otherwise.
    pub watch: AtomicBool,
    pub wake: Notify,
}

impl Heard {
    /// Something came from the node: wakes our link to it if it watches.
    pub fn heard_now(&self) {
        self.last_us.store(now_us(), Ordering::Relaxed);
        if self.watch.load(Ordering::Relaxed) && self.watch.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// Asks to be woken by the next sign of life (see `watch`).
    pub fn watch_for_life(&self) {
        self.watch.store(true, Ordering::Release);
    }

    /// Counts a frame skipped on a link of this node.
    pub fn skip(&self, skip: &Skip) {
        self.skips[skip.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Past this many nodes, those with no link open are forgotten.
const MAX_NODES: usize = 4096;

/// The [`Heard`] of every node that has opened a link to us.
#[derive(Debug, Default)]
pub struct Hearing {
    nodes: Mutex<HashMap<String, Arc<Heard>>>,
    /// Skips on links that had not said which node they carry.
    pub unattributed: Heard,
}

impl Hearing {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Heard>>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A link of `node` opened (learnt from its first message): counted,
    /// and heard now. Once per link.
    pub fn attach(&self, node: &str) -> Arc<Heard> {
        let mut nodes = self.lock();
        let heard = Self::entry(&mut nodes, node);
        heard.links.fetch_add(1, Ordering::Relaxed);
        heard.heard_now();
        heard
    }

    /// The [`Heard`] of `node`, made if it has none yet: our link to a
    /// node holds it from the start, to see the node's first link to us.
    pub fn watch(&self, node: &str) -> Arc<Heard> {
        Self::entry(&mut self.lock(), node)
    }

    fn entry(nodes: &mut HashMap<String, Arc<Heard>>, node: &str) -> Arc<Heard> {
        if !nodes.contains_key(node) && nodes.len() >= MAX_NODES {
            // Kept: nodes with a link to us, and those our links watch.
            nodes.retain(|_, h| h.links.load(Ordering::Relaxed) > 0 || Arc::strong_count(h) > 1);
        }
        nodes.entry(node.to_string()).or_default().clone()
    }

    /// A link attached with [`Hearing::attach`] closed.
    pub fn detach(heard: &Heard) {
        heard.links.fetch_sub(1, Ordering::Relaxed);
    }

    /// What we hear from node `node`, if it has a link to us.
    #[cfg(any(test, feature = "internals"))]
    pub fn get(&self, node: &str) -> Option<Arc<Heard>> {
        self.lock().get(node).cloned()
    }

    /// Every node we hear of, and what we hear from it.
    pub fn nodes(&self) -> Vec<(String, Arc<Heard>)> {
        self.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The early warning (`DEBUG=clusterluck:native:health`): a node that has
/// been silent for half its window, as Erlang warns of missed ticks before
/// it drops a node. Once per silence.
pub fn warn_quiet(node: &str, quiet_ms: u64, window_ms: u64) {
    tracing::debug!("nothing from {node} for {quiet_ms} ms, nothing it was sent acknowledged: down at {window_ms} ms");
}

/// The stamp of a keep-alive ping, when `event_raw` (the raw JSON string
/// of a message's event) is the reply to one.
pub fn tick_reply(event_raw: &str) -> Option<u64> {
    let rest = event_raw.strip_prefix('"')?.strip_prefix(TICK_PREFIX)?;
    rest.strip_suffix('"')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_reply_is_recognised_by_its_tag() {
        use crate::wire::envelope::{self, Inbound};
        // A keep-alive ping, and the pong a JS kernel answers it with.
        let from = "{\"id\":\"a\",\"host\":\"h\",\"port\":1}";
        let frame = |line: &str| {
            let mut out = String::new();
            envelope::encode_bodies(&mut out, None, line, &mut Vec::new());
            out.trim_end_matches('\u{c}').to_string()
        };
        let mut ping = String::new();
        envelope::write_keep_alive_line(&mut ping, from, 12345);
        let ping = frame(&ping);
        let Ok(Inbound::Ping(p)) = envelope::decode(&ping, None) else { panic!("{ping}") };
        let mut pong = String::new();
        envelope::write_pong_line(&mut pong, from, &p.tag_str().expect("a string tag"));
        let pong = frame(&pong);
        let Ok(Inbound::Message(m)) = envelope::decode(&pong, None) else { panic!("{pong}") };
        assert_eq!(tick_reply(m.event_raw), Some(12345));
        assert_eq!(tick_reply("\"__clusterluck_native_tick:12345\""), Some(12345));
        assert_eq!(tick_reply("\"__clusterluck_native_tick:\""), None);
        assert_eq!(tick_reply("\"job\""), None);
        assert_eq!(tick_reply("\"__clusterluck_native_tick:1x\""), None);
    }

    #[test]
    fn links_are_counted_and_idle_nodes_forgotten_past_the_limit() {
        let hearing = Hearing::default();
        let a = hearing.attach("a");
        let a2 = hearing.attach("a");
        assert!(Arc::ptr_eq(&a, &a2));
        assert_eq!(a.links.load(Ordering::Relaxed), 2);
        Hearing::detach(&a2);
        assert_eq!(a.links.load(Ordering::Relaxed), 1);
        for i in 0..MAX_NODES + 10 {
            let h = hearing.attach(&format!("n{i}"));
            Hearing::detach(&h);
        }
        assert!(hearing.lock().len() <= MAX_NODES);
        assert!(hearing.get("a").is_some(), "a node with a link open is kept");
        a.skip(&Skip::FrameTooLarge { limit: 1 });
        let skips: Vec<u64> = a.skips.iter().map(|n| n.load(Ordering::Relaxed)).collect();
        assert_eq!(skips, [0, 0, 0, 1, 0, 0], "one FRAME_TOO_LARGE");
        assert_eq!(a.rtt_us.load(Ordering::Relaxed), 0, "no round trip yet");
    }
}
