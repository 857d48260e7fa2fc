//! What the kernel's tasks share, below them: the settings read on every
//! frame, the registries of links (outbound by node id, inbound by socket),
//! what is heard from each node, and the sink everything is reported to.
//!
//! It holds the handles of links (`peer`'s and `server`'s), never their task
//! bodies, so the tasks and the kernel that spawns them both build on this
//! module and it on neither.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::link::health::Hearing;
use crate::link::peer::{Command, PeerHandle};
use crate::link::server::Source;
use crate::link::sink::Sink;
use crate::wire::cookie::Cookie;
use crate::wire::envelope;
use crate::wire::frame::DEFAULT_MAX_FRAME;

/// Settings read on every frame; replaced whole when they change.
#[derive(Debug, Clone)]
pub struct Config {
    pub cookie: Option<Cookie>,
    /// `{"id":..,"host":..,"port":..}` of this node.
    pub from_json: String,
    pub max_frame: usize,
}

/// The process-wide runtime: network work never runs on the JS thread.
/// Built on first use; if it cannot be (no threads to be had), every kernel
/// constructed reports why instead of the process aborting.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        let threads = std::env::var("CLUSTERLUCK_NATIVE_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2usize)
            .max(1);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("clusterluck-net")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the network runtime: {e}"))
    })
    .as_ref()
    .map_err(String::clone)
}

/// State shared by the kernel's tasks.
pub struct Shared {
    pub runtime: tokio::runtime::Handle,
    /// Where the tasks report what happens.
    pub sink: Arc<dyn Sink>,
    /// What we hear from each node on its inbound links.
    pub hearing: Hearing,
    /// Bytes of partial frames held by all inbound connections, and the
    /// most they may hold together.
    pub inbound_held: AtomicUsize,
    pub inbound_budget: AtomicUsize,
    pub(super) config: RwLock<Arc<Config>>,
    next_id: AtomicU64,
    /// The registry of outbound links by node id (see `Kernel::connect`).
    pub(super) peers_by_node: Mutex<HashMap<String, PeerHandle>>,
    /// Inbound connections by socket id.
    pub(super) sources: Mutex<HashMap<u64, Source>>,
    /// [`now_us`](crate::link::health::now_us) of the last start of the
    /// listener (0: never started): the uptime an observer is told.
    pub started_us: AtomicU64,
    /// Answers to observers being written now (see `observe.rs`).
    pub answers: AtomicUsize,
    /// How answers to observers are dialled when the node speaks TLS: its
    /// client settings (`None`: plain TCP).
    pub answer_tls: RwLock<Option<Arc<rustls::ClientConfig>>>,
}

/// A poisoned lock's data is still good here (no invariant spans a panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Nothing yet: no identity, no cookie, no links; `inbound_budget`
    /// bytes of partial inbound frames at most.
    pub(super) fn new(runtime: tokio::runtime::Handle, sink: Arc<dyn Sink>, inbound_budget: usize) -> Shared {
        Shared {
            runtime,
            sink,
            hearing: Hearing::default(),
            inbound_held: AtomicUsize::new(0),
            inbound_budget: AtomicUsize::new(inbound_budget),
            config: RwLock::new(Arc::new(Config {
                cookie: None,
                from_json: envelope::from_json("", "", 0.0),
                max_frame: DEFAULT_MAX_FRAME,
            })),
            next_id: AtomicU64::new(1),
            peers_by_node: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
            started_us: AtomicU64::new(0),
            answers: AtomicUsize::new(0),
            answer_tls: RwLock::new(None),
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Our outbound connection to node `id`, for answering its pings.
    pub fn peer_for_node(&self, id: &str) -> Option<PeerHandle> {
        lock(&self.peers_by_node).get(id).cloned()
    }

    /// Stops link `peer`, and forgets it if it is still its node's (a newer
    /// link to the node stays).
    pub fn stop_peer(&self, peer: &PeerHandle, force: bool) {
        {
            let mut peers = lock(&self.peers_by_node);
            if peers.get(&*peer.node_id).is_some_and(|p| p.id == peer.id) {
                peers.remove(&*peer.node_id);
            }
        }
        peer.send(Command::Stop { force });
    }

    pub fn add_source(&self, id: u64, s: Source) {
        lock(&self.sources).insert(id, s);
    }

    pub fn remove_source(&self, id: u64) -> Option<Source> {
        lock(&self.sources).remove(&id)
    }
}
