//! Failure detection (net_ticktime): a live link's ticks, the signs of life
//! they read (anything heard from the node, or the edge of its window moving
//! on under a backlog), the keep-alive pings they ask the write loop for,
//! and the node's life that follows: `nodeup`, and `nodedown` with the link
//! kept. Its state is `Detection`, a part of the task's. Apart: a state
//! machine of its own, beside the writing it watches.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::link::sink::{DownReason, LinkEvent};
use crate::link::health::{self, now_us, Heard};
use crate::link::unacked::{self, RawSocket};

use super::task::Peer;
use super::Life;

/// A link has a backlog when the socket would not take all we had for it,
/// or holds at least this much unacknowledged. Only then is the node's
/// acknowledging more a sign that it reads: the system of a stopped process
/// acknowledges small writes too, until its buffer is full, and a light
/// load (a few casts a second, their acknowledgements delayed) never leaves
/// this much outstanding.
const BACKLOG: usize = 64 * 1024;

/// The first pause between pings to a node not shown up yet.
const PROOF_GAP: Duration = Duration::from_millis(100);

/// More than the receive buffer Linux gives a socket at most by default
/// (6 MiB): a node whose window's edge moved this far since it last sent
/// us anything has read, even where its system cannot say how far it will
/// take bytes (see [`unacked::Progress::edge`]) and the edge is what it
/// acknowledged.
const BUFFERS: u64 = 8 * 1024 * 1024;

/// How far the node would take bytes at the last tick, and what it had
/// acknowledged.
#[derive(Debug, Default)]
pub(super) struct Acks {
    edge: u64,
    acked: u64,
    /// The last time we heard from the node, as seen by a tick, and the
    /// edge then.
    heard_at: u64,
    at_heard: u64,
    /// The link had a backlog at the last tick (see [`BACKLOG`]).
    backlog: bool,
    /// `now_us` of the last tick that saw the edge move on under a backlog
    /// the link had at the tick before.
    at: u64,
}

impl Acks {
    /// Takes in where the node stood at a tick (`heard_at` being the last
    /// time we heard from it, `backlog` whether the link has one now):
    /// true when that shows its process reads.
    fn observe(&mut self, p: &unacked::Progress, heard_at: u64, backlog: bool) -> bool {
        if heard_at > self.heard_at {
            self.heard_at = heard_at;
            self.at_heard = p.edge;
        }
        // The edge moved farther since we last heard from the node than its
        // system can hold unread: its process reads.
        let read = p.edge.saturating_sub(self.at_heard) >= BUFFERS;
        let reads = (self.backlog || read) && self.moved_on(p);
        self.backlog = backlog;
        self.edge = p.edge;
        self.acked = p.acked;
        reads
    }

    /// The edge of the node's window moved on since the last tick by more
    /// than its system lets it creep without the process reading: a
    /// stopped process's system still acknowledges what fits in its
    /// buffer, and as it does the edge moves a little (by about 1% of what
    /// arrives, as Linux revises its estimate of what the buffer holds),
    /// while a process that reads moves it by what it read, as much as was
    /// acknowledged once its buffer is full. Where the system offers no
    /// window the edge is what was acknowledged, and any of it counts.
    fn moved_on(&self, now: &unacked::Progress) -> bool {
        let moved = now.edge.saturating_sub(self.edge);
        let acked = now.acked.saturating_sub(self.acked);
        moved > 0 && moved >= acked / EDGE_SHARE
    }
}

/// A reading node moves the edge of its window by at least this share of
/// what it acknowledged in the same time (1/16), unless it reads that much
/// more slowly than the link brings it bytes and its buffer is not full
/// yet; a stopped one creeps by far less.
const EDGE_SHARE: u64 = 16;

/// Failure detection's state, owned by the task: what the link knows of
/// its node's life, and the pings and ticks that find it out.
pub(super) struct Detection {
    /// Ticks while a link is up, every quarter of `net_tick`.
    pub(super) ticker: Option<tokio::time::Interval>,
    /// When the current link came up, and when it last sent a keep-alive
    /// ping (`health::now_us`).
    pub(super) up_at: u64,
    last_ping: u64,
    /// What we hear from the node (on its links to us).
    pub(super) heard: Arc<Heard>,
    pub(super) life: Life,
    /// A sign of life later than this (`now_us`) makes the node up.
    proof_after: u64,
    /// When the node was last shown up.
    alive_from: u64,
    /// A keep-alive ping is to be written at the next frame boundary.
    pub(super) ping_due: bool,
    /// While waiting for a sign of life: the time between two pings (µs),
    /// doubled after each up to a quarter of `net_tick`.
    proof_gap: u64,
    /// A ping was written and nothing has come since.
    pub(super) ping_out: bool,
    /// The socket of the current link, to read what the node acknowledged.
    pub(super) raw: Option<RawSocket>,
    pub(super) acks: Acks,
    /// The early warning of this silence was given.
    warned: bool,
    /// This silence was counted as a nodedown avoided by acknowledgements.
    saved: bool,
}

impl Detection {
    /// A link not made yet, to a node that nothing has shown to run.
    pub(super) fn new(heard: Arc<Heard>) -> Self {
        Detection {
            ticker: None,
            up_at: 0,
            last_ping: 0,
            heard,
            life: Life::Unproven,
            proof_after: 0,
            alive_from: 0,
            ping_due: false,
            proof_gap: 0,
            ping_out: false,
            raw: None,
            acks: Acks::default(),
            warned: false,
            saved: false,
        }
    }
}

/// The next tick of a live link's ticker; never, without one.
pub(super) async fn next_tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(every) => {
            every.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Peer {
    /// A tick of a live link, every quarter of `net_tick`: failure
    /// detection. Signs of life are anything read from the node (on its
    /// links to us) and its system's offering to take more of what we
    /// write (the edge of its window moving on, which comes of its process
    /// reading), while the link has a backlog ([`BACKLOG`]) or once the
    /// edge moved farther since it last sent anything than its system can
    /// hold unread ([`BUFFERS`]): a node busy reading a flood answers our
    /// pings late, yet it reads. A node that is up is declared down when
    /// neither came for a whole `net_tick` (so either the edge stood still
    /// under a backlog, or the pings of a link with none went unanswered).
    /// The link is kept: what it holds arrives, once, when the node runs
    /// again (a stopped node, a partition that heals), and the node is up
    /// again with its first sign of life. A node not shown up yet (no
    /// sign of life since the link came up or since it was declared down)
    /// is pinged every tick until one comes. A node with no link to us
    /// cannot answer a ping: it is up only once it sends us something.
    pub(super) fn tick(&mut self) {
        let Some(window) = self.opts.net_tick else { return };
        let window = window.as_micros() as u64;
        let now = now_us();
        let heard_at = self.detect.heard.last_us.load(Ordering::Relaxed);
        if let Some(p) = self.detect.raw.and_then(unacked::progress) {
            let backlog = self.unwritten() > 0 || p.outq >= BACKLOG;
            if self.detect.acks.observe(&p, heard_at, backlog) {
                self.detect.acks.at = now;
            }
        }
        if self.detect.life != Life::Up {
            self.check_proof();
        }
        let heard_from = heard_at.max(self.detect.alive_from);
        let silent = now.saturating_sub(heard_from);
        if self.detect.life == Life::Up {
            let alive = heard_from.max(self.detect.acks.at);
            self.state.alive_at.store(alive, Ordering::Relaxed);
            if self.detect.ping_out {
                if alive >= self.detect.last_ping {
                    self.detect.ping_out = false;
                } else {
                    self.state.ticks_missed.fetch_add(1, Ordering::Relaxed);
                }
            }
            let quiet = now.saturating_sub(alive);
            if quiet < window / 2 {
                self.detect.warned = false;
            } else if !self.detect.warned {
                self.detect.warned = true;
                health::warn_quiet(&self.opts.node_id, quiet / 1000, window / 1000);
            }
            if silent < window {
                self.detect.saved = false;
            } else if quiet < window && !self.detect.saved {
                self.detect.saved = true;
                self.state.ack_saves.fetch_add(1, Ordering::Relaxed);
            }
            if quiet >= window && self.detect.heard.links.load(Ordering::Relaxed) > 0 {
                tracing::debug!(peer = self.id, "nothing from {} for {} ms: down", self.opts.node_id, quiet / 1000);
                self.declare_down(now);
            }
        }
        let due = if self.detect.life == Life::Up {
            silent >= window / 4 && now.saturating_sub(self.detect.last_ping) >= window / 4
        } else {
            // Waiting for a sign of life: pinged soon and then less and less
            // often, so a node that links back to us a moment after our link
            // came up is up a moment after.
            let due = now.saturating_sub(self.detect.last_ping) >= self.detect.proof_gap;
            if due && self.detect.last_ping != 0 {
                self.detect.proof_gap = (self.detect.proof_gap * 2).min(window / 4);
            }
            due
        };
        if due {
            self.detect.last_ping = now;
            // Close the lane first: then no caller writes meanwhile, and
            // whatever one handed over (the rest of a frame it began,
            // perhaps) is in the stash, ahead of what comes later; the
            // ping itself goes out at the next frame boundary.
            self.state.lane().busy = true;
            while let Ok(cmd) = self.rx.try_recv() {
                self.hold(cmd);
            }
            self.detect.ping_due = true;
        }
    }

    /// A new link, or a node declared down: waiting for a sign of life
    /// newer than `after`. With failure detection off there is nothing to
    /// wait for: the node is up with its link.
    pub(super) fn await_life(&mut self, after: u64) {
        if self.opts.net_tick.is_none() {
            self.declare_up(after);
            return;
        }
        self.wait_for_life(Life::Unproven, after);
        // The first ping at once: a node that runs answers it within a
        // round trip.
        self.detect.last_ping = 0;
        self.tick();
    }

    /// The node is up once something came from it since we began waiting.
    pub(super) fn check_proof(&mut self) {
        if self.detect.life == Life::Up {
            return;
        }
        if self.detect.heard.last_us.load(Ordering::Relaxed) > self.detect.proof_after {
            self.declare_up(now_us());
        } else {
            self.detect.heard.watch_for_life();
        }
    }

    fn declare_up(&mut self, now: u64) {
        self.set_ticker(false);
        self.detect.life = Life::Up;
        self.state.life.store(Life::Up as u8, Ordering::Relaxed);
        self.state.alive_at.store(now, Ordering::Relaxed);
        self.detect.alive_from = now;
        self.detect.ping_out = false;
        self.detect.warned = false;
        self.detect.saved = false;
        self.detect.heard.watch.store(false, Ordering::Relaxed);
        self.state.down.store(0, Ordering::Relaxed);
        self.emit(LinkEvent::NodeUp { peer: self.id });
    }

    /// A node that is up went silent for a whole window: `nodedown`, with
    /// the link kept (see `tick`).
    fn declare_down(&mut self, now: u64) {
        let reason = DownReason::TickTimeout;
        self.state.downs[reason.index()].fetch_add(1, Ordering::Relaxed);
        self.state.down.store(reason.index() as u8 + 1, Ordering::Relaxed);
        // The state first: whoever hears `nodedown` and then reads
        // `stats()` must not find the node still up.
        self.wait_for_life(Life::Down, now);
        self.emit(LinkEvent::NodeDown { peer: self.id, reason });
    }

    /// `life` until a sign of life newer than `after`: watched for, and
    /// pinged every [`PROOF_GAP`] at first.
    fn wait_for_life(&mut self, life: Life, after: u64) {
        self.detect.life = life;
        self.state.life.store(life as u8, Ordering::Relaxed);
        self.detect.proof_after = after;
        self.detect.heard.watch_for_life();
        let quarter = self.opts.net_tick.map_or(u64::MAX, |w| w.as_micros() as u64 / 4);
        self.detect.proof_gap = (PROOF_GAP.as_micros() as u64).min(quarter);
        self.set_ticker(true);
    }

    /// Ticks every quarter of `net_tick`, or, while waiting for a sign of
    /// life, often enough to ping every [`PROOF_GAP`] at first.
    pub(super) fn set_ticker(&mut self, waiting: bool) {
        self.detect.ticker = self.opts.net_tick.map(|t| {
            let quarter = (t / 4).max(Duration::from_millis(1));
            let every = if waiting { quarter.min(PROOF_GAP) } else { quarter };
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{Acks, BUFFERS};
    use crate::link::unacked::Progress;

    const MIB: u64 = 1024 * 1024;

    /// A flood at 2 MiB a tick toward a node whose process stopped: its
    /// system acknowledges it into a 16 MiB buffer, the edge creeping by
    /// 1% of that, and nothing of it is a sign of life, backlog or none,
    /// however far the acknowledgements go past `BUFFERS`.
    #[test]
    fn a_stopped_process_filling_its_buffer_shows_no_life() {
        let mut acks = Acks::default();
        let (mut acked, mut edge) = (100 * MIB, 116 * MIB);
        acks.observe(&Progress { acked, edge, outq: 0 }, 1, true);
        for _ in 0..8 {
            acked += 2 * MIB;
            edge += 2 * MIB / 100;
            assert!(!acks.observe(&Progress { acked, edge, outq: 4 * MIB as usize }, 1, true));
        }
        assert!(acked - 100 * MIB > BUFFERS);
    }

    /// A process that reads, its buffer full (the edge moves with what is
    /// acknowledged) or filling while it reads at an eighth of the pace of
    /// the flood, shows life under a backlog; without one, only once the
    /// edge moved past `BUFFERS` since we last heard from it.
    #[test]
    fn a_reading_process_shows_life_under_a_backlog() {
        let mut acks = Acks::default();
        let (mut acked, mut edge) = (0, 6 * MIB);
        acks.observe(&Progress { acked, edge, outq: 0 }, 1, true);
        acked += 256 * 1024;
        edge += 256 * 1024;
        assert!(acks.observe(&Progress { acked, edge, outq: 0 }, 1, true));
        acked += 2 * MIB;
        edge += MIB / 4;
        assert!(acks.observe(&Progress { acked, edge, outq: 0 }, 1, false));
        // No backlog at the tick before: a light load's acknowledgements
        // say nothing, until the edge went farther than any buffer holds.
        let mut shown = 0;
        for _ in 0..8 {
            acked += 2 * MIB;
            edge += 2 * MIB;
            shown += acks.observe(&Progress { acked, edge, outq: 0 }, 1, false) as usize;
        }
        // From 6.5 MiB past the edge we last heard at, 2 MiB a tick: three
        // ticks short of BUFFERS show nothing, the five after it do.
        assert_eq!(shown, 5);
        // Hearing from the node starts the count again.
        acked += MIB;
        edge += MIB;
        assert!(!acks.observe(&Progress { acked, edge, outq: 0 }, 2, false));
    }

    /// Where the system does not say what window the node offers, the edge
    /// is what it acknowledged, and any of a backlog's acknowledgements
    /// counts, as before the edge was known.
    #[test]
    fn without_a_window_acknowledgements_count() {
        let mut acks = Acks::default();
        acks.observe(&Progress { acked: 0, edge: 0, outq: 0 }, 1, true);
        assert!(acks.observe(&Progress { acked: 1000, edge: 1000, outq: 0 }, 1, true));
        assert!(!acks.observe(&Progress { acked: 1000, edge: 1000, outq: 0 }, 1, true));
    }
}
