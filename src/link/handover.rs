//! Which of a node's inbound links delivers its messages.
//!
//! A node sends to us over one link at a time. When it gives a link up (its
//! tick timed out, a write failed, it disconnected and connected again) and
//! dials again, the old connection can still hold frames: in our receive
//! buffer when we were stopped, in the network while a partition heals
//! (the sender closed the socket, and its system keeps retransmitting).
//! Read side by side, the two connections would deliver old frames after
//! new ones. Erlang keeps one connection per pair of nodes and tears the old
//! one down before the new one carries anything; the wire here has no
//! handshake to do that with, so the receiver keeps the order itself:
//!
//! - A node's newer link delivers nothing while an older one is still
//!   delivering; it waits until that link ends (the sender's close reaches
//!   us after its last frame).
//! - An older link that has read nothing for [`GRACE`] has been given up by
//!   its node: the newer link closes it, and what it might still bring is
//!   dropped. That is what a `nodedown` announces, and what Erlang does.
//!
//! So a node's messages arrive in the order it sent them, across reconnects,
//! and nothing is dropped from a link that is still delivering. The cost is
//! paid only at a reconnect: on a steady link, delivering takes no lock and
//! no check. The waiting link does not read meanwhile, so TCP holds its
//! sender back.

use std::sync::Mutex;
use std::time::Duration;

/// How long a node's older link may stay silent while a newer one waits.
pub const GRACE: Duration = Duration::from_secs(1);

/// How often a waiting link looks again.
const POLL: Duration = Duration::from_millis(10);

/// The order of one node's inbound links (part of its `Heard`).
#[derive(Debug, Default)]
pub struct Turn {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The link that may deliver now.
    current: Option<u64>,
    /// Every open link of the node that has said which node it carries,
    /// oldest first.
    open: Vec<u64>,
}

/// What a waiting link is to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Deliver: this link has the turn. The links listed were given up by
    /// their node and are to be closed.
    Deliver(Vec<u64>),
    /// Keep waiting.
    Wait,
    /// A newer link of the node took the turn: close this one.
    Superseded,
}

impl Turn {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Link `socket` said which node it carries. True when it may deliver
    /// at once (no other link of the node is open); otherwise it is to wait
    /// with [`Turn::next`].
    pub fn join(&self, socket: u64) -> bool {
        let mut s = self.lock();
        s.open.push(socket);
        if s.current.is_none() {
            s.current = Some(socket);
            return true;
        }
        false
    }

    /// Whether waiting link `socket` may deliver now. `older_quiet`: the
    /// node's other links have read nothing for [`GRACE`].
    pub fn next(&self, socket: u64, older_quiet: bool) -> Next {
        let mut s = self.lock();
        let Some(me) = s.open.iter().position(|&l| l == socket) else {
            return Next::Superseded;
        };
        // A link newer than this one is open: it is the one the node uses.
        if me + 1 < s.open.len() {
            return Next::Superseded;
        }
        if s.current.is_none() || older_quiet {
            s.current = Some(socket);
            let older: Vec<u64> = s.open.drain(..me).collect();
            return Next::Deliver(older);
        }
        Next::Wait
    }

    /// Link `socket` closed (or was closed).
    pub fn leave(&self, socket: u64) {
        let mut s = self.lock();
        s.open.retain(|&l| l != socket);
        if s.current == Some(socket) {
            s.current = None;
        }
    }

    /// Links of the node open now.
    #[cfg(any(test, feature = "internals"))]
    pub fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// Waits until link `socket` of the node heard in `heard` may deliver.
/// `reads` counts the reads of the node's links, and `refresh` is called on
/// every look (the node is alive: its new link is waiting in our buffers).
/// Returns the older links to close, or `None` when this link was itself
/// superseded and is to be closed.
pub async fn wait(turn: &Turn, socket: u64, reads: impl Fn() -> u64, refresh: impl Fn()) -> Option<Vec<u64>> {
    let mut seen = reads();
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        let now = tokio::time::Instant::now();
        let r = reads();
        if r != seen {
            seen = r;
            quiet_since = now;
        }
        match turn.next(socket, now.duration_since(quiet_since) >= GRACE) {
            Next::Deliver(older) => return Some(older),
            Next::Superseded => return None,
            Next::Wait => {}
        }
        refresh();
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn turn() -> Arc<Turn> {
        Arc::new(Turn::default())
    }

    #[test]
    fn the_first_link_delivers_at_once_and_a_second_waits() {
        let t = turn();
        assert!(t.join(1));
        assert!(!t.join(2));
        assert_eq!(t.next(2, false), Next::Wait);
        // The first ends: the second takes over, with nothing to close.
        t.leave(1);
        assert_eq!(t.next(2, false), Next::Deliver(vec![]));
        assert_eq!(t.open(), 1);
    }

    #[test]
    fn a_quiet_older_link_is_closed_by_the_newer_one() {
        let t = turn();
        assert!(t.join(1));
        assert!(!t.join(2));
        assert_eq!(t.next(2, true), Next::Deliver(vec![1]));
        // Link 1, closed, leaves: link 2 keeps the turn.
        t.leave(1);
        assert!(!t.join(3));
        assert_eq!(t.next(3, false), Next::Wait);
    }

    #[test]
    fn of_two_waiting_links_the_newest_wins() {
        let t = turn();
        assert!(t.join(1));
        assert!(!t.join(2));
        assert!(!t.join(3));
        assert_eq!(t.next(2, true), Next::Superseded);
        t.leave(2);
        assert_eq!(t.next(3, true), Next::Deliver(vec![1]));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_lasts_while_the_older_link_reads() {
        let t = turn();
        assert!(t.join(1));
        assert!(!t.join(2));
        let reads = Arc::new(AtomicU64::new(0));
        let waiter = {
            let (t, reads) = (t.clone(), reads.clone());
            tokio::spawn(async move { wait(&t, 2, || reads.load(Ordering::Relaxed), || {}).await })
        };
        // Link 1 reads every half GRACE for three GRACEs: link 2 waits.
        for _ in 0..6 {
            tokio::time::sleep(GRACE / 2).await;
            reads.fetch_add(1, Ordering::Relaxed);
            assert!(!waiter.is_finished());
        }
        // Then it falls silent: after GRACE, link 2 takes over and closes it.
        let started = tokio::time::Instant::now();
        assert_eq!(waiter.await.unwrap(), Some(vec![1]));
        assert!(started.elapsed() >= GRACE / 2, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_link_that_ends_hands_over_at_once() {
        let t = turn();
        assert!(t.join(1));
        assert!(!t.join(2));
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { wait(&t, 2, || 0, || {}).await })
        };
        tokio::time::sleep(POLL * 3).await;
        t.leave(1);
        let started = tokio::time::Instant::now();
        assert_eq!(waiter.await.unwrap(), Some(vec![]));
        assert!(started.elapsed() <= POLL * 2);
    }
}
