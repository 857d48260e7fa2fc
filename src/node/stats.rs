//! [`Node::stats`](crate::Node::stats): the figures of every link, the same as the addon's
//! `kernel.stats()` and the same as an observer (`clusterluck-native top`)
//! is told, read from the atomics the network tasks keep, with no round trip
//! to them: cheap enough to call every second under load.

pub use crate::link::observe::{Counts, LinkState, PeerStats, Stats, Totals, OBSERVE_EVENT};

impl super::Node {
    /// Per node id: what went out on our link to it and what came in on its
    /// links to us, its failure detection's figures, and `totals`. A node
    /// that only observed this one (`clusterluck-native top`) is listed too,
    /// with the link it asked on.
    pub fn stats(&self) -> Stats {
        crate::link::observe::stats(self.inner.out.kernel.shared())
    }
}
