//! The kernel: one per NetKernel, tying the listener, the peers, the cookie
//! and the sink they report to together. Everything here is plain Rust; the
//! Node bindings live in `napi/` and only translate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::link::peer::{self, Command, PeerHandle, PeerOptions};
use crate::link::server::{self, ServerHandle, Source};
use crate::link::shared::{lock, Shared};
use crate::link::sink::Sink;
use crate::wire::cookie::Cookie;
use crate::wire::envelope;
use crate::wire::frame::DEFAULT_MAX_FRAME;

/// Default budget of the partial frames of all inbound connections
/// together: four frames of the default `maxFrameLength`.
pub const DEFAULT_INBOUND_BUDGET: usize = 4 * DEFAULT_MAX_FRAME;

/// Bytes of events waiting for their consumer (JS, or a Rust node's
/// handlers) before readers pause.
pub const DEFAULT_HIGH_WATER: usize = 32 * 1024 * 1024;

/// One NetKernel's network side.
pub struct Kernel {
    shared: Arc<Shared>,
    server: Mutex<Option<ServerHandle>>,
    /// The task of the listener last stopped, until the next one is started.
    closing: Mutex<Option<tokio::task::JoinHandle<()>>>,
    generation: AtomicU64,
}

impl Kernel {
    /// A kernel whose tasks run on `runtime` and report to `sink`: the
    /// addon's JS batch on the process-wide
    /// [`runtime`](crate::link::shared::runtime), or a Rust node's typed
    /// events on the runtime it was started on.
    pub fn new(runtime: tokio::runtime::Handle, sink: Arc<dyn Sink>) -> Kernel {
        let shared = Arc::new(Shared::new(runtime, sink, DEFAULT_INBOUND_BUDGET));
        Kernel {
            shared,
            server: Mutex::new(None),
            closing: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Sets who we are and the cookie; applies to frames encoded from now on.
    pub fn configure(&self, id: &str, host: &str, port: f64, cookie: Option<&str>, max_frame: Option<usize>) {
        let mut cfg = self.shared.config.write().unwrap_or_else(|p| p.into_inner());
        let mut next = (**cfg).clone();
        next.from_json = envelope::from_json(id, host, port);
        next.cookie = cookie.map(Cookie::new);
        if let Some(m) = max_frame {
            next.max_frame = m.max(1);
        }
        *cfg = Arc::new(next);
    }

    /// The most bytes of partial frames all inbound connections may hold
    /// together (at least 1).
    pub fn set_inbound_budget(&self, bytes: usize) {
        self.shared.inbound_budget.store(bytes.max(1), Ordering::Relaxed);
    }

    /// Starts listening; the result arrives as a READY or LISTEN_ERROR event
    /// carrying the returned generation.
    pub fn listen(&self, host: String, port: u16, tls: Option<Arc<rustls::ServerConfig>>) -> u64 {
        self.close();
        let previous = lock(&self.closing).take();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.shared.started_us.store(crate::link::health::now_us(), Ordering::Relaxed);
        let handle = server::start(&self.shared, host, port, generation, tls, previous);
        *lock(&self.server) = Some(handle);
        generation
    }

    /// The client settings an answer to an observer is dialled with when
    /// the node speaks TLS (`None`: plain TCP): those it dials its peers with.
    pub fn set_answer_tls(&self, tls: Option<Arc<rustls::ClientConfig>>) {
        *self.shared.answer_tls.write().unwrap_or_else(|p| p.into_inner()) = tls;
    }

    /// Stops listening and closes every inbound connection.
    pub fn close(&self) {
        if let Some(s) = lock(&self.server).take() {
            *lock(&self.closing) = Some(s.stop());
        }
        let sources: Vec<Source> = lock(&self.shared.sources).drain().map(|(_, s)| s).collect();
        for s in sources {
            s.close();
        }
    }

    /// Starts an outbound link, the one to its node from now on: the
    /// registry of links by node id holds it until it is stopped through
    /// [`Kernel::disconnect`] or [`Shared::stop_peer`] (a link that gave up
    /// reconnecting stays, as the JS kernel keeps its connection).
    pub fn connect(&self, opts: PeerOptions) -> PeerHandle {
        let id = self.shared.next_id();
        let node = opts.node_id.clone();
        let handle = peer::spawn(&self.shared, id, opts);
        lock(&self.shared.peers_by_node).insert(node, handle.clone());
        handle
    }

    /// The link to node `node`, if there is one.
    pub fn peer(&self, node: &str) -> Option<PeerHandle> {
        self.shared.peer_for_node(node)
    }

    /// Stops the link to node `node`: gracefully (what was handed to it is
    /// written first) or, with `force`, at once. False if there was none.
    pub fn disconnect(&self, node: &str, force: bool) -> bool {
        let handle = lock(&self.shared.peers_by_node).remove(node);
        handle.is_some_and(|h| {
            h.send(Command::Stop { force });
            true
        })
    }

    /// Forgets every link and returns them, for a stop that waits for each.
    pub fn take_peers(&self) -> Vec<PeerHandle> {
        lock(&self.shared.peers_by_node).drain().map(|(_, p)| p).collect()
    }

    /// Waits, at most `timeout`, until every outbound link has written what
    /// was handed to it before this call (a link that is down keeps its
    /// queue). For a process about to exit: a JS kernel's socket writes reach
    /// the OS at the call, ours from the network threads. True when all
    /// finished in time.
    pub fn drain(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let peers: Vec<PeerHandle> = lock(&self.shared.peers_by_node).values().cloned().collect();
        let waits: Vec<std::sync::mpsc::Receiver<()>> = peers
            .iter()
            .filter_map(|p| {
                let (done, wait) = std::sync::mpsc::channel();
                p.send(Command::Flush(done)).then_some(wait)
            })
            .collect();
        waits.iter().all(|wait| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            !matches!(wait.recv_timeout(left), Err(std::sync::mpsc::RecvTimeoutError::Timeout))
        })
    }

    /// Writes a frame on inbound socket `socket`. False if it is gone.
    pub fn write_source(&self, socket: u64, kind: &str, json: &str) -> bool {
        let mut bytes = Vec::with_capacity(json.len() + 32);
        crate::wire::frame::encode_frame(&mut bytes, kind, json);
        lock(&self.shared.sources).get(&socket).is_some_and(|s| s.write(bytes))
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.close();
        for p in self.take_peers() {
            p.send(Command::Stop { force: true });
        }
    }
}
