//! A running node of the cluster, from Rust: [`Node`], and its [`Builder`].
//!
//! A node listens for its peers, keeps an outbound link to each node it
//! connects to (reconnecting, queueing while a link is down), answers pings,
//! and routes what arrives: replies to the calls waiting for them, anything
//! else to the handler of its event id. It speaks the JS kernel's wire, so
//! JS kernels, addon nodes and Rust nodes can form one cluster.
//!
//! ```no_run
//! use std::time::Duration;
//! use clusterluck_native::{Data, Node, NodeAddr};
//!
//! # async fn run() -> Result<(), clusterluck_native::NodeError> {
//! let node = Node::builder("rust-a", "127.0.0.1", 7022).cookie("secret").start().await?;
//! node.on("hello", |m| {
//!     let _ = m.reply_json(&serde_json::json!({ "hi": m.from.node.id }));
//! });
//! let js = NodeAddr::new("js-b", "127.0.0.1", 7023);
//! node.connect(&js).await?;
//! let rtt = node.ping(&js.id, Some(Duration::from_secs(1))).await?;
//! let reply = node.call_singleton(&js.id, "job", Data::json(&[1, 2, 3])?, Some(Duration::from_secs(5))).await?;
//! println!("{rtt:?} {:?}", reply.json::<serde_json::Value>()?);
//! node.shutdown().await;
//! # Ok(()) }
//! ```

#[doc(hidden)]
pub mod delivery;
pub mod gen_server;
pub mod handler;
pub mod message;
pub mod node_error;
mod outbound;
pub mod serde_js;
pub mod stats;
pub mod stream;


use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use crate::node::delivery::{Batch, Event, InMessage, RustSink};
use crate::wire::error::Skip;
use crate::link::sink::LinkEvent;
use crate::node::handler::{Handler, Incoming};
use crate::link::kernel::Kernel;
use crate::node::message::{error_json, random_id, Data, NodeAddr, Payload, ReplyTo, Sender};
use crate::node::node_error::NodeError;
use crate::link::peer::{Command, PeerHandle, PeerOptions};
use crate::node::outbound::{Flow, Outbound, Write};
use crate::node::stream::{Chunks, Fed, Feed, StreamWriter, STREAM_STOP_EVENT};
use crate::link::tls::{self, TlsOptions};
use crate::wire::envelope::{self, StreamOut};

/// Settings of a node to start: the JS kernel's constructor and `start()`
/// options, its connection defaults, and handlers to have in place before
/// the node listens.
#[derive(Clone)]
pub struct Builder {
    id: String,
    host: String,
    port: u16,
    cookie: Option<String>,
    tls: Option<TlsOptions>,
    max_len: usize,
    retry: Duration,
    max_retries: Option<u64>,
    max_frame: Option<usize>,
    max_queue_bytes: usize,
    net_tick: Option<Duration>,
    high_water: usize,
    stream_buffer: usize,
    default_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    handlers: HashMap<String, Handler>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("cookie", &self.cookie.as_ref().map(|_| "(set)"))
            .field("tls", &self.tls)
            .field("max_len", &self.max_len)
            .field("retry", &self.retry)
            .field("max_retries", &self.max_retries)
            .field("max_frame", &self.max_frame)
            .field("max_queue_bytes", &self.max_queue_bytes)
            .field("net_tick", &self.net_tick)
            .field("high_water", &self.high_water)
            .field("stream_buffer", &self.stream_buffer)
            .field("default_timeout", &self.default_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Builder {
    /// A node `id` that listens on `host:port` (port 0: any free port).
    pub fn new(id: impl Into<String>, host: impl Into<String>, port: u16) -> Builder {
        Builder {
            id: id.into(),
            host: host.into(),
            port,
            cookie: None,
            tls: None,
            max_len: 1024,
            retry: Duration::from_millis(5000),
            max_retries: None,
            max_frame: None,
            max_queue_bytes: crate::link::peer::DEFAULT_MAX_BYTES,
            net_tick: Some(crate::link::peer::DEFAULT_NET_TICK),
            // The JS kernel's highWaterMark, as documented on the setter.
            high_water: crate::link::peer::DEFAULT_HIGH_WATER,
            stream_buffer: crate::node::stream::DEFAULT_STREAM_BUFFER,
            default_timeout: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            handlers: HashMap::new(),
        }
    }

    /// Sets an async handler of event id `event` from the start: each
    /// message runs as a task of its own (see [`Node::on_async`]).
    pub fn on_async<F, Fut>(self, event: impl Into<String>, handler: F) -> Builder
    where
        F: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.on(event, spawning(handler))
    }

    /// The timeout of every call, ping and multicall made with `None` as its
    /// own (default: none, they wait for their reply or for the node to go
    /// down). A call's own `Some(timeout)` overrides it.
    pub fn default_timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.default_timeout = timeout;
        self
    }

    /// How long [`Node::connect`] waits for a link to come up before it
    /// gives up, closes the link and fails with [`NodeError::Timeout`]
    /// (default 30 s; `None`: it waits as long as the link keeps trying,
    /// as the JS kernel's `connect` does).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.connect_timeout = timeout;
        self
    }

    /// Unwritten bytes per link past which sends wait (`cast`,
    /// `StreamWriter::send`) or are refused with [`NodeError::Busy`]
    /// (`try_cast`, `StreamWriter::try_send`): default 16 MiB, the JS
    /// kernel's `highWaterMark`. Keep it under `max_queue_bytes`.
    pub fn high_water_mark(mut self, bytes: usize) -> Builder {
        self.high_water = bytes;
        self
    }

    /// Bytes of an inbound stream (a streamed request, or a call's reply)
    /// that may wait unread (default 8 MiB). A reader that falls further
    /// behind gets [`NodeError::StreamOverflow`] and the rest of that stream
    /// is dropped, so a stream nobody reads never holds up the other
    /// traffic of its link. Raise it for readers that take their time.
    pub fn stream_buffer(mut self, bytes: usize) -> Builder {
        self.stream_buffer = bytes.max(1);
        self
    }

    /// Sets the handler of event id `event` from the start, so no message
    /// that arrives as soon as the node listens finds it missing (see
    /// [`Node::on`]).
    pub fn on(mut self, event: impl Into<String>, handler: impl Fn(Incoming) + Send + Sync + 'static) -> Builder {
        self.handlers.insert(event.into(), Arc::new(handler));
        self
    }

    /// The cookie every message is signed and checked with (HMAC-SHA256).
    pub fn cookie(mut self, cookie: impl Into<String>) -> Builder {
        self.cookie = Some(cookie.into());
        self
    }

    /// TLS for the listener and every outbound link, with node-ipc's options.
    pub fn tls(mut self, tls: TlsOptions) -> Builder {
        self.tls = Some(tls);
        self
    }

    /// Messages kept per link while it is down (default 1024, as the JS
    /// kernel's `maxLen`). The JS side drops the oldest past it; a Rust
    /// `cast` waits instead, and `try_cast` is [`NodeError::Busy`].
    pub fn max_len(mut self, max_len: usize) -> Builder {
        self.max_len = max_len;
        self
    }

    /// Wait between attempts to connect (default 5 s).
    pub fn retry(mut self, retry: Duration) -> Builder {
        self.retry = retry;
        self
    }

    /// Failed attempts in a row before a link gives up (default: never).
    pub fn max_retries(mut self, max_retries: Option<u64>) -> Builder {
        self.max_retries = max_retries;
        self
    }

    /// Bytes of messages kept per link while it is down (or not draining)
    /// (default 64 MiB). The JS side drops the oldest past it; a Rust send
    /// that would pass it waits, or is refused with [`NodeError::Overflow`]
    /// when it may not wait or is larger on its own.
    pub fn max_queue_bytes(mut self, bytes: usize) -> Builder {
        self.max_queue_bytes = bytes;
        self
    }

    /// net_ticktime, as Erlang's: default 60 s (the JS kernel's
    /// `netTickTime`); `None` or zero turns it off. A node that holds a
    /// link to us, from which nothing comes for this long and which
    /// acknowledges nothing of what we sent it meanwhile, is declared down
    /// (calls waiting on it fail with [`NodeError::NodeDown`],
    /// [`Node::on_node_down`] runs with "tick timeout"); its link is kept,
    /// and it is up again ([`Node::on_node_up`]) with its first sign of
    /// life (a message that is that sign comes on the node's own link to
    /// us, and may be handled a moment before). Quiet links are pinged
    /// after a quarter of it. A link whose socket closes is down at once,
    /// whatever this is.
    pub fn net_tick_time(mut self, tick: Option<Duration>) -> Builder {
        self.net_tick = tick.filter(|t| !t.is_zero());
        self
    }

    /// The largest inbound frame (default 64 MiB).
    pub fn max_frame_length(mut self, bytes: usize) -> Builder {
        self.max_frame = Some(bytes.max(1));
        self
    }

    /// Starts the node on the current tokio runtime; returns once it
    /// listens.
    pub async fn start(self) -> Result<Node, NodeError> {
        crate::debug_log::init_once();
        let server_tls = self.tls.as_ref().map(tls::server_config).transpose()?;
        let client_tls = self.tls.as_ref().map(tls::client_config).transpose()?;
        let (sink, rx) = RustSink::new(RECEIVE_HIGH_WATER);
        let sink = Arc::new(sink);
        let kernel = Kernel::new(tokio::runtime::Handle::current(), sink.clone());
        kernel.configure(&self.id, &self.host, self.port as f64, self.cookie.as_deref(), self.max_frame);
        let (ready_tx, ready_rx) = oneshot::channel();
        let inner = Arc::new(Inner {
            id: self.id.clone(),
            out: Outbound::new(kernel, sink),
            addr: RwLock::new(NodeAddr::new(self.id.clone(), self.host.clone(), self.port)),
            settings: self.clone(),
            client_tls,
            routes: RwLock::new(Routes { handlers: self.handlers.clone(), ..Routes::default() }),
            routes_generation: AtomicU64::new(0),
            state: Mutex::new(State { pending: HashMap::new(), links: HashMap::new(), ready: Some(ready_tx) }),
            closed: Notify::new(),
            skips: AtomicU64::new(0),
        });
        tokio::spawn(dispatch(Arc::downgrade(&inner), rx));
        inner.out.kernel.set_answer_tls(inner.client_tls.clone());
        inner.out.kernel.listen(self.host.clone(), self.port, server_tls);
        let port = ready_rx.await.map_err(|_| NodeError::Closed)??;
        if port != self.port {
            inner.out.kernel.configure(&self.id, &self.host, port as f64, self.cookie.as_deref(), self.max_frame);
            lock_w(&inner.addr).port = port;
        }
        let _ = inner.out.me.set(Sender { id: self.id.clone(), host: self.host.clone(), port });
        Ok(Node { inner })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock_r<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn lock_w<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Forgets a pending call's tag when its reader goes away, so a reply that
/// never comes does not keep an entry.
#[derive(Debug)]
struct PendingGuard {
    inner: Weak<Inner>,
    tag: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.forget_pending(&self.tag);
        }
    }
}

/// A call waiting for its reply.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The node called: a reply from another is refused.
    node: String,
    /// Only the first reply is wanted (callSingleton, ping).
    single: bool,
    feed: Feed,
}

/// Bytes of received events a Rust node holds before its readers pause.
/// The dispatcher takes a read's messages in one batch and runs each
/// handler at once, so a few MiB keep it fed; a larger mark only lets a
/// flood pile up in memory that is touched for the first time (page faults
/// on every new page) instead of reused while warm.
pub(crate) const RECEIVE_HIGH_WATER: usize = 4 * 1024 * 1024;

/// How long `connect` waits by default (see [`Builder::connect_timeout`]).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// An async handler as a handler: each message runs as a task of its own;
/// one that panics before replying to a call is answered as a sync handler's
/// panic is ([`NodeError::HandlerPanicked`]).
fn spawning<F, Fut>(handler: F) -> impl Fn(Incoming) + Send + Sync + 'static
where
    F: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    move |m: Incoming| {
        let owed = m.from.tag.is_some().then(|| (m.node.clone(), m.from.clone(), m.event.clone()));
        let task = tokio::spawn(handler(m));
        if let Some((node, from, event)) = owed {
            answer_if_panicked(task, node, from, event);
        }
    }
}

/// Watches the task of an async handler of a call: if it panics, the call
/// is answered with [`NodeError::HandlerPanicked`] naming `event`.
pub(crate) fn answer_if_panicked(task: tokio::task::JoinHandle<()>, node: Node, from: ReplyTo, event: String) {
    tokio::spawn(async move {
        if task.await.is_err_and(|e| e.is_panic()) {
            tracing::warn!("the handler of {event} panicked");
            panicked_reply(&node, &from, &event);
        }
    });
}

/// Answers a call whose handler panicked, so the caller fails now.
pub(crate) fn panicked_reply(node: &Node, from: &ReplyTo, event: &str) {
    let error = error_reply(&format!("The handler of event {event} panicked"), crate::node::node_error::HANDLER_PANICKED, event);
    let _ = node.reply_raw_error(from, &error);
}

/// An error reply with a `code` and the `event` it is about.
fn error_reply(message: &str, code: &str, event: &str) -> String {
    let mut s = String::from("{\"message\":");
    crate::wire::json::write_string(&mut s, message);
    s.push_str(",\"code\":");
    crate::wire::json::write_string(&mut s, code);
    s.push_str(",\"event\":");
    crate::wire::json::write_string(&mut s, event);
    s.push_str(",\"_error\":true}");
    s
}

type SkipHook = Arc<dyn Fn(&Skip) + Send + Sync>;
type UpHook = Arc<dyn Fn(&NodeAddr) + Send + Sync>;
type DownHook = Arc<dyn Fn(&NodeAddr, &str) + Send + Sync>;

/// A caller of `connect`, told when the link comes up or fails.
type ConnectWaiter = oneshot::Sender<Result<(), NodeError>>;

/// An outbound link whose task has not ended: the node it goes to, whether
/// that node is up, and the callers of `connect` waiting for it.
#[derive(Debug)]
struct Link {
    node: NodeAddr,
    up: bool,
    waiters: Vec<ConnectWaiter>,
}

/// Where what arrives goes: handlers by event id, and the hooks. Read for
/// every message, written when the app changes them.
#[derive(Default)]
struct Routes {
    handlers: HashMap<String, Handler>,
    on_skip: Option<SkipHook>,
    on_node_up: Option<UpHook>,
    on_node_down: Option<DownHook>,
}

/// What the node's handles and its dispatcher change together, under one
/// lock: a link's events and a call's reply are matched against it in the
/// order the dispatcher takes them, and a `connect` registers its link
/// before any event of that link can be looked up.
#[derive(Debug)]
struct State {
    /// Calls waiting for replies, by reply tag.
    pending: HashMap<String, Pending>,
    /// Every outbound link whose task has not ended, by link id. Which link
    /// serves a node id is the kernel's registry ([`Kernel::peer`]).
    links: HashMap<u64, Link>,
    /// Told the listener's port (or why it could not listen), once.
    ready: Option<oneshot::Sender<Result<u16, NodeError>>>,
}

/// The state of a running node, shared by its handles and its dispatcher.
pub(crate) struct Inner {
    /// This node's id (never changes).
    id: String,
    /// The send half: the network side, its registry of outbound links by
    /// node id, and whether the node is stopping.
    out: Outbound,
    addr: RwLock<NodeAddr>,
    settings: Builder,
    client_tls: Option<Arc<rustls::ClientConfig>>,
    routes: RwLock<Routes>,
    /// Bumped by every change of the handlers (see `HandlerCache`).
    routes_generation: AtomicU64,
    state: Mutex<State>,
    /// Notified when a link's task ends (for `shutdown`).
    closed: Notify,
    skips: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("addr", &*lock_r(&self.addr)).finish()
    }
}

impl Inner {
    pub(crate) fn forget_pending(&self, tag: &str) {
        lock(&self.state).pending.remove(tag);
    }

    /// Link `link` is up: its node is up (once per time up).
    fn link_up(&self, link: u64) {
        let node = match lock(&self.state).links.get_mut(&link) {
            Some(l) if !l.up => {
                l.up = true;
                l.node.clone()
            }
            _ => return,
        };
        let hook = lock_r(&self.routes).on_node_up.clone();
        if let Some(hook) = hook {
            if std::panic::catch_unwind(AssertUnwindSafe(|| hook(&node))).is_err() {
                tracing::warn!("the node-up hook panicked");
            }
        }
    }

    /// The live link `link` ended: the calls waiting on its node fail now,
    /// unless a newer link to that node has taken over, as the JS kernel's
    /// `nodedown` does.
    /// A link whose node was never shown up ends with no `nodedown` (up
    /// and down come in pairs), but what waited on it fails all the same.
    fn link_down(&self, link: u64, reason: &str) {
        let (node, announce, failed) = {
            let mut state = lock(&self.state);
            let Some(l) = state.links.get_mut(&link) else { return };
            let (node, announce) = (l.node.clone(), std::mem::replace(&mut l.up, false));
            // The state's lock, then the registry's: the order `connect` takes them in.
            let current = self.out.kernel.peer(&node.id).map(|h| h.id);
            let failed: Vec<Pending> = if current.is_none() || current == Some(link) {
                let tags: Vec<String> = state.pending.iter().filter(|(_, p)| p.node == node.id).map(|(t, _)| t.clone()).collect();
                tags.iter().filter_map(|t| state.pending.remove(t)).collect()
            } else {
                Vec::new()
            };
            (node, announce, failed)
        };
        tracing::debug!(node = node.id, "node down: {reason}");
        for p in failed {
            p.feed.fail(NodeError::NodeDown { node: node.id.clone(), reason: reason.to_string() });
        }
        let hook = lock_r(&self.routes).on_node_down.clone().filter(|_| announce);
        if let Some(hook) = hook {
            if std::panic::catch_unwind(AssertUnwindSafe(|| hook(&node, reason))).is_err() {
                tracing::warn!("the node-down hook panicked");
            }
        }
    }
}

/// A running node. Cheap to clone: every clone is the same node.
///
/// Dropping the last handle stops the node abruptly; [`Node::shutdown`]
/// stops it cleanly.
#[derive(Debug, Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl Node {
    /// Settings for a node `id` listening on `host:port`.
    pub fn builder(id: impl Into<String>, host: impl Into<String>, port: u16) -> Builder {
        Builder::new(id, host, port)
    }

    /// This node's id, host and (bound) port.
    pub fn addr(&self) -> NodeAddr {
        lock_r(&self.inner.addr).clone()
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Sets the handler of event id `event`, replacing any before it.
    pub fn on(&self, event: impl Into<String>, handler: impl Fn(Incoming) + Send + Sync + 'static) {
        lock_w(&self.inner.routes).handlers.insert(event.into(), Arc::new(handler));
        self.inner.routes_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets an async handler of event id `event`: each message runs as a
    /// task of its own.
    pub fn on_async<F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.on(event, spawning(handler));
    }

    /// Removes the handler of `event`; true if there was one.
    pub fn off(&self, event: &str) -> bool {
        let removed = lock_w(&self.inner.routes).handlers.remove(event).is_some();
        self.inner.routes_generation.fetch_add(1, Ordering::AcqRel);
        removed
    }

    /// Called with every inbound frame dropped as bad input (the JS
    /// kernel's `_skip` event).
    pub fn on_skip(&self, hook: impl Fn(&Skip) + Send + Sync + 'static) {
        lock_w(&self.inner.routes).on_skip = Some(Arc::new(hook));
    }

    /// Called each time the node of a link this node opened (by
    /// [`Node::connect`]) shows that it runs, with the node (the JS
    /// kernel's `nodeup`): something came from it since the link came up,
    /// or since it was declared down. A TCP connection alone is not that
    /// (a stopped process's system accepts connections): a node that holds
    /// no link to us is up once it sends us something. With
    /// `net_tick_time(None)` the node is up with its link. Runs on the
    /// node's dispatcher: keep it short.
    pub fn on_node_up(&self, hook: impl Fn(&NodeAddr) + Send + Sync + 'static) {
        lock_w(&self.inner.routes).on_node_up = Some(Arc::new(hook));
    }

    /// Called each time a link that was up ends, with its node and why:
    /// "closed" (the socket ended), "tick timeout" (the node holds a link to
    /// us but nothing came from it and nothing we sent was acknowledged for
    /// the tick time, see [`Builder::net_tick_time`]) or "stopped" (we
    /// disconnected). Until the next `nodeup`, calls to the node with no
    /// timeout fail at once with [`NodeError::NodeDown`]. The
    /// JS kernel's `nodedown`. Before it runs, every call and ping waiting
    /// on that node has failed with [`NodeError::NodeDown`] (unless a newer
    /// link to it is already up). Runs on the node's dispatcher: keep it
    /// short.
    pub fn on_node_down(&self, hook: impl Fn(&NodeAddr, &str) + Send + Sync + 'static) {
        lock_w(&self.inner.routes).on_node_down = Some(Arc::new(hook));
    }

    /// How many inbound frames were dropped as bad input so far.
    pub fn skipped(&self) -> u64 {
        self.inner.skips.load(Ordering::Relaxed)
    }

    /// Opens a link to `peer` and waits until it is up, at most the
    /// node's connect timeout ([`Builder::connect_timeout`], 30 s by
    /// default): past it the link is closed and this fails with
    /// [`NodeError::Timeout`], so a node that is not there is not left
    /// looking connected. A link that gives up first (`max_retries`) fails
    /// it with [`NodeError::Closed`].
    ///
    /// With a link to that id already: at once if it is to the same
    /// address (as the JS kernel's `connect` calls back at once, up or not);
    /// if `peer` is at a new address (the node restarted elsewhere), the old
    /// link is closed and a new one made. Connecting to the own id does
    /// nothing: what is sent to it is delivered here.
    pub async fn connect(&self, peer: &NodeAddr) -> Result<(), NodeError> {
        let timeout = self.inner.settings.connect_timeout;
        self.connect_within(peer, timeout).await
    }

    /// [`Node::connect`] with its own timeout (`None`: as long as the link
    /// keeps trying).
    pub async fn connect_within(&self, peer: &NodeAddr, timeout: Option<Duration>) -> Result<(), NodeError> {
        self.check_open()?;
        if peer.id == self.id() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let Some(link) = self.open_link(peer, Some(tx))? else { return Ok(()) };
        let Some(timeout) = timeout else {
            return rx.await.map_err(|_| NodeError::Closed)?;
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(r) => r.map_err(|_| NodeError::Closed)?,
            Err(_) => {
                // Closed only if it is still the link this call made.
                if self.inner.out.kernel.peer(&peer.id).is_some_and(|h| h.id == link) {
                    self.inner.out.kernel.disconnect(&peer.id, true);
                }
                Err(NodeError::Timeout)
            }
        }
    }

    /// Makes a link to `peer` unless one to that id and address exists;
    /// `waiter` is told when it is up. Returns the new link's id, `None`
    /// when one was there already.
    fn open_link(&self, peer: &NodeAddr, waiter: Option<ConnectWaiter>) -> Result<Option<u64>, NodeError> {
        // One lock from the registry's check to the link's entry: two
        // connects to one node make one link, and no event of the new
        // link is looked up before its entry is there.
        let mut state = lock(&self.inner.state);
        if let Some(h) = self.inner.out.kernel.peer(&peer.id) {
            let same = state.links.get(&h.id).is_none_or(|l| l.node.host == peer.host && l.node.port == peer.port);
            if same {
                return Ok(None);
            }
            tracing::debug!(node = peer.id, "{}:{} is the node's new address: its old link is closed", peer.host, peer.port);
            self.inner.out.kernel.disconnect(&peer.id, true);
        }
        let s = &self.inner.settings;
        let tls = match &self.inner.client_tls {
            Some(config) => Some((config.clone(), tls::server_name(&peer.host)?)),
            None => None,
        };
        let handle = self.inner.out.kernel.connect(PeerOptions {
            node_id: peer.id.clone(),
            host: peer.host.clone(),
            port: peer.port,
            retry: s.retry,
            max_retries: s.max_retries,
            max_len: s.max_len,
            max_bytes: s.max_queue_bytes,
            high_water: s.high_water,
            net_tick: s.net_tick,
            tls,
        });
        state.links.insert(handle.id, Link { node: peer.clone(), up: false, waiters: waiter.into_iter().collect() });
        Ok(Some(handle.id))
    }

    /// Closes the link to node `id`: gracefully (what was sent is written
    /// first) or, with `force`, at once. False if there was no link.
    pub fn disconnect(&self, id: &str, force: bool) -> bool {
        self.inner.out.kernel.disconnect(id, force)
    }

    /// Whether there is a link to node `id` (up or reconnecting), as the JS
    /// kernel's `isConnected`; always true of the own id, to which what is
    /// sent is delivered here.
    pub fn is_connected(&self, id: &str) -> bool {
        id == self.id() || self.inner.out.kernel.peer(id).is_some()
    }

    /// Whether the link to node `id` is up right now.
    pub fn is_link_up(&self, id: &str) -> bool {
        self.inner.out.kernel.peer(id).is_some_and(|h| h.state.connected.load(Ordering::Acquire))
    }

    /// Messages waiting on the link to node `id` while it is down (those
    /// sent a moment ago and not yet taken by the link included).
    pub fn queued(&self, id: &str) -> usize {
        self.inner.out.kernel.peer(id).map_or(0, |h| h.state.waiting())
    }

    /// Messages the link to node `id` dropped unwritten for its bounds (0
    /// without a link). What this node's own sends hand over is weighed
    /// first and never dropped; this counts only what raced past the bound.
    pub fn dropped(&self, id: &str) -> u64 {
        self.inner.out.kernel.peer(id).map_or(0, |h| h.state.dropped.load(Ordering::Relaxed))
    }

    /// Pings node `id` and returns the round trip. The pong comes back on
    /// that node's own link to us, so it must be connected to us too.
    pub async fn ping(&self, id: &str, timeout: Option<Duration>) -> Result<Duration, NodeError> {
        let started = std::time::Instant::now();
        let timeout = timeout.or(self.inner.settings.default_timeout);
        if self.inner.out.is_me(id) {
            // The JS kernel answers its own pings without the network.
            self.check_open()?;
            return Ok(started.elapsed());
        }
        self.peer_for_call(id, timeout)?;
        let handle = self.peer(id)?;
        let tag = random_id();
        let mut reply = self.expect(id, &tag, true, timeout);
        let cfg = self.inner.out.kernel.shared().config();
        let mut line = String::with_capacity(cfg.from_json.len() + 96);
        envelope::write_ping_line(&mut line, &cfg.from_json, &tag);
        if !handle.send_bodies(line, cfg, true) {
            return Err(NodeError::Closed);
        }
        match reply.next().await {
            Some(Ok(_)) => Ok(started.elapsed()),
            Some(Err(e)) => Err(e),
            None => Err(NodeError::Closed),
        }
    }

    /// Sends `data` to event `event` of node `id`, expecting no reply.
    ///
    /// Waits while the link holds its high-water mark or more unwritten
    /// ([`Builder::high_water_mark`]), or is down with `max_len` messages
    /// waiting, as a bounded channel's `send` waits for capacity: a loop of
    /// casts goes at the pace of the link and the node that reads it, and
    /// nothing is dropped. Toward a node that is down that can be until it
    /// is back: bound it with `tokio::time::timeout`, or use
    /// [`Node::try_cast`]. A message larger than `max_queue_bytes` on its
    /// own is [`NodeError::Overflow`]. Returns once the message is handed to
    /// the link, not when it arrives. To the own id it is delivered here.
    ///
    /// ```no_run
    /// # async fn run(node: clusterluck_native::Node) -> Result<(), clusterluck_native::NodeError> {
    /// for i in 0..1_000_000 {
    ///     node.cast("b", "note", clusterluck_native::Data::json(&i)?).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cast(&self, id: &str, event: &str, data: Data) -> Result<(), NodeError> {
        self.inner.out.send_message(id, event, None, StreamOut { done: true, ..StreamOut::default() }, data, Flow::Wait, Write::Batched).await
    }

    /// [`Node::cast`] without waiting: [`NodeError::Busy`] (the message not
    /// sent) while the link is over its high-water mark or down with
    /// `max_len` messages waiting.
    pub fn try_cast(&self, id: &str, event: &str, data: Data) -> Result<(), NodeError> {
        self.inner.out.send_now(id, event, None, StreamOut { done: true, ..StreamOut::default() }, data, Flow::Try, Write::Batched)
    }

    /// Casts to each of `ids` (waiting as [`Node::cast`] does); nodes
    /// without a link are passed over, as the JS kernel's `abcast` does.
    /// Returns how many were sent to.
    pub async fn abcast(&self, ids: &[&str], event: &str, data: Data) -> usize {
        let mut sent = 0;
        for id in ids {
            if self.cast(id, event, data.clone()).await.is_ok() {
                sent += 1;
            }
        }
        sent
    }

    /// Sends `data` and waits for a single reply (the JS kernel's
    /// `callSingleton`). An error reply is [`NodeError::Remote`]; a Rust
    /// node with no handler for `event` answers [`NodeError::NoHandler`] at
    /// once, and one whose handler panicked [`NodeError::HandlerPanicked`]
    /// (a JS kernel says nothing: the call waits out its timeout). `None`
    /// takes the node's [`Builder::default_timeout`].
    pub async fn call_singleton(&self, id: &str, event: &str, data: Data, timeout: Option<Duration>) -> Result<Payload, NodeError> {
        let timeout = timeout.or(self.inner.settings.default_timeout);
        self.peer_for_call(id, timeout)?;
        let tag = random_id();
        let mut reply = self.expect(id, &tag, true, timeout);
        self.inner.out.send_message(id, event, Some(&tag), StreamOut { done: true, ..StreamOut::default() }, data, Flow::Wait, Write::Direct).await?;
        match reply.next().await {
            Some(r) => r,
            // A reply with no data.
            None => Ok(Payload::Absent),
        }
    }

    /// Sends `data` and returns the reply as a stream of chunks (the JS
    /// kernel's `call`); `timeout` bounds the whole reply (`None`: the
    /// node's [`Builder::default_timeout`]).
    pub async fn call(&self, id: &str, event: &str, data: Data, timeout: Option<Duration>) -> Result<Chunks, NodeError> {
        let timeout = timeout.or(self.inner.settings.default_timeout);
        self.peer_for_call(id, timeout)?;
        let tag = random_id();
        let reply = self.expect(id, &tag, false, timeout);
        self.inner.out.send_message(id, event, Some(&tag), StreamOut { done: true, ..StreamOut::default() }, data, Flow::Wait, Write::Direct).await?;
        Ok(reply)
    }

    /// Starts a call whose request is a stream: write the chunks to the
    /// returned writer, end it, then read the reply.
    ///
    /// ```no_run
    /// # async fn run(node: clusterluck_native::Node) -> Result<(), clusterluck_native::NodeError> {
    /// let (mut body, reply) = node.call_stream("b", "upload", None).await?;
    /// body.send(vec![1, 2, 3]).await?; // waits while the link is busy
    /// body.end()?;
    /// let answer = reply.collect_bytes().await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_stream(&self, id: &str, event: &str, timeout: Option<Duration>) -> Result<(StreamWriter, Chunks), NodeError> {
        let timeout = timeout.or(self.inner.settings.default_timeout);
        self.peer_for_call(id, timeout)?;
        let tag = random_id();
        let reply = self.expect(id, &tag, false, timeout);
        let writer = StreamWriter::new(self.inner.out.clone(), id.to_string(), event.to_string(), Some(tag));
        Ok((writer, reply))
    }

    /// A call whose request is any [`Stream`](futures_core::Stream) of byte
    /// chunks (`Vec<u8>`, `bytes::Bytes`, ...): each chunk goes out as it
    /// comes, then the end; returns the reply to read once the whole body
    /// is sent. `timeout` counts from the start, body included. A body that
    /// is never finished keeps this waiting: bound it yourself.
    ///
    /// ```no_run
    /// # async fn run(node: clusterluck_native::Node, body: impl futures_core::Stream<Item = Vec<u8>> + Send) -> Result<(), clusterluck_native::NodeError> {
    /// let reply = node.call_with_body("b", "upload", body, None).await?;
    /// let bytes = reply.collect_bytes().await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_with_body<S, B>(&self, id: &str, event: &str, body: S, timeout: Option<Duration>) -> Result<Chunks, NodeError>
    where
        S: futures_core::Stream<Item = B>,
        B: Into<Vec<u8>>,
    {
        let (mut writer, reply) = self.call_stream(id, event, timeout).await?;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            writer.send(chunk).await?;
        }
        writer.end()?;
        Ok(reply)
    }

    /// Calls every node of `ids` at once and collects each reply stream
    /// into bytes (the JS kernel's `multicall`, which collects each into a
    /// Buffer): a [`Payload::Bytes`] per node, in the order of `ids`, as
    /// [`Node::multicall_singleton`] returns a [`Payload`] per node. The
    /// first error fails it.
    pub async fn multicall(&self, ids: &[&str], event: &str, data: Data, timeout: Option<Duration>) -> Result<Vec<Payload>, NodeError> {
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (node, id, event, data) = (self.clone(), id.to_string(), event.to_string(), data.clone());
                tokio::spawn(async move { node.call(&id, &event, data, timeout).await?.collect_bytes().await.map(Payload::Bytes) })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.map_err(|_| NodeError::Closed)??);
        }
        Ok(out)
    }

    /// Calls every node of `ids` at once for a single reply each (the JS
    /// kernel's `multicallSingleton`); the first error fails it.
    pub async fn multicall_singleton(&self, ids: &[&str], event: &str, data: Data, timeout: Option<Duration>) -> Result<Vec<Payload>, NodeError> {
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (node, id, event, data) = (self.clone(), id.to_string(), event.to_string(), data.clone());
                tokio::spawn(async move { node.call_singleton(&id, &event, data, timeout).await })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.map_err(|_| NodeError::Closed)??);
        }
        Ok(out)
    }

    /// Replies to a request: a cast to the sender under its tag. With no
    /// link to the sender, one is made to the address its message gave
    /// (as the JS kernel connects back to `from`), and the reply waits in its
    /// queue until it is up. Never waits: a reply is small and someone waits
    /// for it; [`NodeError::Overflow`] only when it would take the link past
    /// `max_queue_bytes`.
    pub fn reply(&self, to: &ReplyTo, data: Data) -> Result<(), NodeError> {
        let tag = to.tag.as_deref().ok_or(NodeError::NoReplyTag)?;
        self.link_back(to)?;
        self.inner.out.send_now(&to.node.id, tag, None, StreamOut { done: true, ..StreamOut::default() }, data, Flow::Owed, Write::Direct)
    }

    /// Replies with an error (a stream that fails at once): a JS caller
    /// gets an Error with `message`, a Rust caller [`NodeError::Remote`].
    pub fn reply_error(&self, to: &ReplyTo, message: &str) -> Result<(), NodeError> {
        self.reply_raw_error(to, &error_json(message))
    }

    /// Replies with an error given as its JSON text.
    fn reply_raw_error(&self, to: &ReplyTo, error: &str) -> Result<(), NodeError> {
        let tag = to.tag.as_deref().ok_or(NodeError::NoReplyTag)?;
        self.link_back(to)?;
        let id = random_id();
        let stream = StreamOut { done: true, id: Some(&id), error: Some(error) };
        self.inner.out.send_now(&to.node.id, tag, None, stream, Data::null(), Flow::Owed, Write::Direct)
    }

    /// Replies with a stream of chunks (connecting back as
    /// [`Node::reply`] does).
    pub fn reply_stream(&self, to: &ReplyTo) -> Result<StreamWriter, NodeError> {
        let tag = to.tag.clone().ok_or(NodeError::NoReplyTag)?;
        self.link_back(to)?;
        Ok(StreamWriter::new(self.inner.out.clone(), to.node.id.clone(), tag, None))
    }

    /// A link to the sender of a request, made to the address its message
    /// gave when there is none.
    fn link_back(&self, to: &ReplyTo) -> Result<(), NodeError> {
        self.check_open()?;
        if self.inner.out.is_me(&to.node.id) || self.inner.out.kernel.peer(&to.node.id).is_some() {
            return Ok(());
        }
        if to.node.port == 0 {
            return Err(NodeError::UnknownNode(to.node.id.clone()));
        }
        tracing::debug!(node = to.node.id, "no link to reply on: connecting back to {}:{}", to.node.host, to.node.port);
        self.open_link(&NodeAddr::from(&to.node), None).map(|_| ())
    }

    /// Stops cleanly: no more inbound links, every outbound link written
    /// out and closed gracefully (waiting at most 5 s for links that are
    /// down with messages queued, then closing them anyway).
    pub async fn shutdown(&self) {
        self.inner.out.stopped.store(true, Ordering::Release);
        self.inner.out.kernel.close();
        let handles = self.inner.out.kernel.take_peers();
        for h in &handles {
            h.send(Command::Stop { force: false });
        }
        let ids: Vec<u64> = handles.iter().map(|h| h.id).collect();
        let all_closed = async {
            loop {
                let notified = self.inner.closed.notified();
                if ids.iter().all(|id| !lock(&self.inner.state).links.contains_key(id)) {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), all_closed).await.is_err() {
            for h in &handles {
                h.send(Command::Stop { force: true });
            }
        }
        let pending: Vec<Pending> = lock(&self.inner.state).pending.drain().map(|(_, p)| p).collect();
        drop(pending);
    }

    fn check_open(&self) -> Result<(), NodeError> {
        self.inner.out.check_open()
    }

    fn peer(&self, id: &str) -> Result<PeerHandle, NodeError> {
        self.inner.out.peer(id)
    }

    /// The link to node `id`, for a call that waits for a reply: between
    /// the node's `nodedown` and its next `nodeup`, a call with no timeout
    /// fails at once (it would wait forever), as Erlang's calls to a node
    /// that is down do; one with a timeout is sent and waits for the node
    /// up to its timeout.
    fn peer_for_call(&self, id: &str, timeout: Option<Duration>) -> Result<(), NodeError> {
        if self.inner.out.is_me(id) {
            return self.check_open();
        }
        let handle = self.peer(id)?;
        match handle.state.down_reason() {
            Some(reason) if timeout.is_none() => Err(NodeError::NodeDown { node: id.to_string(), reason: reason.to_string() }),
            _ => Ok(()),
        }
    }

    /// Registers a reply tag; the returned chunks read its replies. A
    /// reader that goes away before the reply's end tells the replier.
    fn expect(&self, node: &str, tag: &str, single: bool, timeout: Option<Duration>) -> Chunks {
        let guard = PendingGuard { inner: Arc::downgrade(&self.inner), tag: tag.to_string() };
        let (feed, mut chunks) = Feed::new(self.inner.settings.stream_buffer, timeout.map(|t| Instant::now() + t), Some(Box::new(guard)));
        if !single {
            chunks.on_abandon(stop_note(&self.inner.out, node, tag));
        }
        lock(&self.inner.state).pending.insert(tag.to_string(), Pending { node: node.to_string(), single, feed });
        chunks
    }
}

/// Tells node `node` that the reader of the stream it knows as `key` has
/// gone away (see [`STREAM_STOP_EVENT`]); a node that does not know the
/// message ignores it.
fn stop_note(out: &Outbound, node: &str, key: &str) -> crate::node::stream::OnAbandon {
    let (out, node) = (out.clone(), node.to_string());
    let mut data = String::new();
    crate::wire::json::write_string(&mut data, key);
    Box::new(move || {
        let _ = out.send_now(&node, STREAM_STOP_EVENT, None, StreamOut { done: true, ..StreamOut::default() }, Data::Json(data), Flow::Owed, Write::Direct);
    })
}

/// Streams being received, at most this many at once; past it, a new
/// stream is refused (its chunks dropped) until others end.
const MAX_STREAMS: usize = 4096;

/// The length of a reply tag ([`random_id`]'s uuid v4 text).
const REPLY_TAG_LEN: usize = 36;

/// Inbound streams by sender and stream id.
type Streams = HashMap<(String, String), Feed>;

/// The dispatcher: takes each event the network side delivers, in order.
async fn dispatch(node: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Batch>) {
    let mut streams: Streams = HashMap::new();
    let mut handlers = HandlerCache::default();
    while let Some(Batch { mut events, text, ticket }) = rx.recv().await {
        let Some(inner) = node.upgrade() else { break };
        for event in events.drain(..) {
            deliver(&inner, &mut streams, &mut handlers, event, &text);
            // One read's batch can hold thousands of messages, and under a
            // flood the next is ready at once: counting each against the
            // task's budget makes the dispatcher yield now and then, so the
            // tasks it feeds (a stream's reader, a handler) run on a runtime
            // of one thread too, rather than their chunks piling up unread.
            tokio::task::consume_budget().await;
        }
        ticket.give_back(events, text);
        // What a handler keeps of the batch is bounded elsewhere (a
        // stream's chunks by the stream's bound): the link's room is given back.
        drop(ticket);
    }
}

/// The dispatcher's copy of the handlers it used last, so a message does
/// not take the routes' lock: valid while the routes' generation (bumped
/// by every `on` and `off`) is the one it was filled at.
#[derive(Default)]
struct HandlerCache {
    generation: u64,
    entries: Vec<(String, Handler)>,
}

/// How many event ids the dispatcher keeps handlers of at once.
const HANDLER_CACHE: usize = 8;

impl HandlerCache {
    fn get(&mut self, inner: &Arc<Inner>, event: &str) -> Option<Handler> {
        let generation = inner.routes_generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.entries.clear();
            self.generation = generation;
        }
        if let Some((_, h)) = self.entries.iter().find(|(e, _)| e == event) {
            return Some(h.clone());
        }
        let handler = lock_r(&inner.routes).handlers.get(event).cloned()?;
        if self.entries.len() >= HANDLER_CACHE {
            self.entries.remove(0);
        }
        self.entries.push((event.to_string(), handler.clone()));
        Some(handler)
    }
}

/// Handles one event of the network side; `text` is the text of its batch.
fn deliver(inner: &Arc<Inner>, streams: &mut Streams, handlers: &mut HandlerCache, event: Event, text: &str) {
    {
        match event {
            Event::Raw(m) => route(inner, streams, handlers, m.into_owned(text)),
            Event::Message(m) => route(inner, streams, handlers, *m),
            Event::Skip { skip, .. } => {
                inner.skips.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("skipped a frame: {skip}");
                let hook = lock_r(&inner.routes).on_skip.clone();
                if let Some(hook) = hook {
                    if std::panic::catch_unwind(AssertUnwindSafe(|| hook(&skip))).is_err() {
                        tracing::warn!("the skip hook panicked");
                    }
                }
            }
            Event::Link(LinkEvent::NodeUp { peer }) => inner.link_up(peer),
            Event::Link(LinkEvent::PeerConnect { peer }) => {
                let waiters = lock(&inner.state).links.get_mut(&peer).map(|l| std::mem::take(&mut l.waiters));
                for w in waiters.into_iter().flatten() {
                    let _ = w.send(Ok(()));
                }
            }
            Event::Link(LinkEvent::PeerClosed { peer }) => {
                let link = lock(&inner.state).links.remove(&peer);
                for w in link.into_iter().flat_map(|l| l.waiters) {
                    let _ = w.send(Err(NodeError::Closed));
                }
                inner.closed.notify_waiters();
            }
            Event::Link(LinkEvent::PeerError { peer, message }) => tracing::debug!(peer, "{message}"),
            // Rust sends are weighed before they are handed over and never
            // overflow; this is what the JS-facing limits (max_len while
            // down, sends raced past the bound) dropped.
            Event::Link(LinkEvent::PeerOverflow { peer, limit }) => tracing::warn!(peer, "dropping messages over {limit}"),
            Event::Link(LinkEvent::NodeDown { peer, reason }) => inner.link_down(peer, reason.as_str()),
            Event::Link(LinkEvent::Ready { port, .. }) => {
                if let Some(tx) = lock(&inner.state).ready.take() {
                    let _ = tx.send(Ok(port));
                }
            }
            Event::Link(LinkEvent::ListenError { message, code, .. }) => {
                if let Some(tx) = lock(&inner.state).ready.take() {
                    let _ = tx.send(Err(NodeError::Listen { message, code }));
                }
            }
            _ => {}
        }
    }
}

/// A message goes to the call waiting for its tag, else to its handler.
fn route(inner: &Arc<Inner>, streams: &mut Streams, handlers: &mut HandlerCache, m: InMessage) {
    // Reply tags are this node's random ids: nothing else is looked up.
    if m.event.len() == REPLY_TAG_LEN {
        let mut state = lock(&inner.state);
        let pending = &mut state.pending;
        if let Some(p) = pending.get_mut(&m.event) {
            if p.node != m.from.id {
                // The JS kernel's INVALID_REPLY: not from the node called.
                inner.skips.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("reply for {} from {} instead of {}", m.event, m.from.id, p.node);
                return;
            }
            let finished = p.single || m.stream.done;
            let event = m.event.clone();
            let fed = p.feed.push(m);
            // A reply stream that failed for its bound: its writer is told.
            let stop = (fed == Fed::Overflowed && !finished).then(|| p.node.clone());
            if finished || fed != Fed::Taken {
                pending.remove(&event);
            }
            if let Some(node) = stop {
                drop(state);
                stop_note(&inner.out, &node, &event)();
            }
            return;
        }
    }
    if m.event == STREAM_STOP_EVENT && m.tag.is_none() {
        if let Payload::Json(text) = &m.data {
            if let Some(key) = crate::wire::json::as_str(text) {
                inner.out.stop_stream(&key);
            }
        }
        return;
    }
    if let Some(sid) = m.stream.id.clone() {
        let key = (m.from.id.clone(), sid);
        if let Some(feed) = streams.get_mut(&key) {
            let done = m.stream.done;
            // A stream whose reader is gone, or that failed for its bound,
            // stays here until its end, so what still comes of it is
            // dropped rather than taken for a new stream.
            if feed.push(m) == Fed::Overflowed && !done {
                stop_note(&inner.out, &key.0, &key.1)();
            }
            if done {
                streams.remove(&key);
            }
            return;
        }
        let Some(handler) = handler_for(inner, handlers, &m) else { return };
        if streams.len() >= MAX_STREAMS {
            streams.retain(|_, feed| !feed.is_closed());
            if streams.len() >= MAX_STREAMS {
                tracing::warn!("too many streams at once: one from {} refused", m.from.id);
                return;
            }
        }
        let (mut feed, mut chunks) = Feed::new(inner.settings.stream_buffer, None, None);
        chunks.on_abandon(stop_note(&inner.out, &m.from.id, &key.1));
        let incoming = Incoming {
            event: m.event.clone(),
            data: Payload::Absent,
            stream: m.stream.clone(),
            from: ReplyTo { node: m.from.clone(), tag: m.tag.clone() },
            chunks: Some(chunks),
            node: Node { inner: inner.clone() },
        };
        let done = m.stream.done;
        feed.push(m);
        if !done {
            streams.insert(key, feed);
        }
        call(&handler, incoming);
        return;
    }
    let Some(handler) = handler_for(inner, handlers, &m) else { return };
    let incoming = Incoming {
        event: m.event,
        data: m.data,
        stream: m.stream,
        from: ReplyTo { node: m.from, tag: m.tag },
        chunks: None,
        node: Node { inner: inner.clone() },
    };
    call(&handler, incoming);
}

/// The handler of a message's event. A call (a message with a tag) to an
/// event with none is answered at once with [`NodeError::NoHandler`]'s
/// error, so its caller does not wait out its timeout; a cast is dropped,
/// as the JS kernel drops an event nobody listens to.
fn handler_for(inner: &Arc<Inner>, handlers: &mut HandlerCache, m: &InMessage) -> Option<Handler> {
    let handler = handlers.get(inner, &m.event);
    if handler.is_none() {
        tracing::debug!("no handler for {} (from {})", m.event, m.from.id);
        if m.tag.is_some() {
            let from = ReplyTo { node: m.from.clone(), tag: m.tag.clone() };
            let error = error_reply(&format!("No handler for event {}", m.event), crate::node::node_error::NO_HANDLER, &m.event);
            let _ = Node { inner: inner.clone() }.reply_raw_error(&from, &error);
        }
    }
    handler
}

/// Runs a handler; one that panics is reported, and the node carries on.
/// A call whose handler panicked is answered with
/// [`NodeError::HandlerPanicked`]'s error, so its caller fails now (a reply
/// the handler made before panicking came first, and this one is ignored).
fn call(handler: &Handler, incoming: Incoming) {
    let owed = incoming.from.tag.is_some().then(|| (incoming.node.clone(), incoming.from.clone(), incoming.event.clone()));
    if std::panic::catch_unwind(AssertUnwindSafe(|| handler(incoming))).is_err() {
        tracing::warn!("a handler panicked");
        if let Some((node, from, event)) = owed {
            panicked_reply(&node, &from, &event);
        }
    }
}
