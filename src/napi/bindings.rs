//! Node-API bindings: translation only. Every method validates its arguments
//! and returns a JS Error instead of panicking; the work itself is in the core.

#![allow(deprecated)] // ThreadsafeFunction::refer/unref: the explicit keep-alive we need.
// napi-rs registers the exported functions at load time; a test build of
// the crate never loads them, and would call them unused.
#![cfg_attr(test, allow(dead_code))]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::link::kernel::Kernel;
use crate::link::shared::Shared;
use crate::napi::batch;
use crate::link::peer::{Command, PeerHandle, PeerOptions, DEFAULT_HIGH_WATER, DEFAULT_MAX_BYTES, DEFAULT_NET_TICK};
use crate::link::tls::{self, TlsOptions};

/// node-ipc's TLS options (file paths), already normalised by the JS layer.
#[napi(object)]
pub struct TlsInput {
    pub private: Option<String>,
    pub public: Option<String>,
    pub trusted_connections: Option<Vec<String>>,
    pub reject_unauthorized: Option<bool>,
    pub request_cert: Option<bool>,
}

impl From<TlsInput> for TlsOptions {
    fn from(t: TlsInput) -> Self {
        TlsOptions {
            private: t.private,
            public: t.public,
            trusted: t.trusted_connections.unwrap_or_default(),
            reject_unauthorized: t.reject_unauthorized,
            request_cert: t.request_cert,
        }
    }
}

fn tls_error(e: tls::TlsError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// What JS receives for each batch: its text in pieces, and its Buffers.
type BatchArgs = FnArgs<(Vec<String>, Vec<Buffer>)>;
type Wake = ThreadsafeFunction<(), (), BatchArgs, Status, false, true>;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, msg.into())
}

fn port_of(port: f64) -> Result<u16> {
    if port.is_finite() && port.fract() == 0.0 && (0.0..=65535.0).contains(&port) {
        Ok(port as u16)
    } else {
        Err(invalid(format!("Invalid port {port}: expected an integer from 0 to 65535")))
    }
}

/// Milliseconds from JS into a Duration (negative or NaN become zero).
fn millis(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_millis(ms.min(1e12) as u64)
    } else {
        Duration::ZERO
    }
}

/// A count from JS: Infinity (or anything not finite) means unbounded.
fn count(n: f64) -> Option<u64> {
    if n.is_finite() && n >= 0.0 {
        Some(n as u64)
    } else {
        None
    }
}

/// The network side of one NetKernel.
#[napi]
pub struct NativeKernel {
    kernel: Arc<Kernel>,
    wake: Arc<OnceLock<Mutex<Wake>>>,
}

#[napi]
impl NativeKernel {
    /// `onEvents(texts, buffers)` receives each batch of events: its text in
    /// pieces (each a whole number of comma-separated entries) and its Buffers.
    #[napi(constructor)]
    pub fn new(on_events: Function<BatchArgs, ()>) -> Result<Self> {
        // DEBUG=clusterluck:* (or any clusterluck:native:* name) prints this
        // crate's tracing events; looked at once, by the first kernel.
        static DEBUG_LOG: std::sync::Once = std::sync::Once::new();
        DEBUG_LOG.call_once(|| {
            crate::debug_log::init_from_env();
        });
        let wake: Arc<OnceLock<Mutex<Wake>>> = Arc::new(OnceLock::new());
        let waker = wake.clone();
        let (kernel, outbox) = batch::kernel(Box::new(move || {
            if let Some(tsfn) = waker.get() {
                let tsfn = tsfn.lock().unwrap_or_else(|p| p.into_inner());
                tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }))
        .map_err(|e| Error::new(Status::GenericFailure, e))?;
        let kernel = Arc::new(kernel);
        let tsfn: Wake = on_events
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |_ctx| {
                let batch = outbox.take();
                let pieces = batch.pieces().map(str::to_string).collect();
                outbox.recycle(batch.text);
                let buffers = batch.buffers.into_iter().map(Buffer::from).collect();
                Ok(FnArgs::from((pieces, buffers)))
            })?;
        let _ = wake.set(Mutex::new(tsfn));
        Ok(NativeKernel { kernel, wake })
    }

    /// Sets this node's identity and cookie (null for none).
    #[napi]
    pub fn configure(
        &self,
        id: String,
        host: String,
        port: f64,
        cookie: Option<String>,
        max_frame: Option<f64>,
    ) -> Result<()> {
        let max_frame = match max_frame {
            Some(m) if m.is_finite() && m >= 1.0 => Some(m as usize),
            Some(m) if !m.is_finite() => Some(usize::MAX),
            Some(m) => return Err(invalid(format!("Invalid maxFrameLength {m}"))),
            None => None,
        };
        self.kernel.configure(&id, &host, port, cookie.as_deref(), max_frame);
        Ok(())
    }

    /// Starts listening; returns the generation READY/LISTEN_ERROR will carry.
    /// A TLS configuration that cannot be used throws here, naming the problem.
    #[napi]
    pub fn listen(&self, host: String, port: f64, tls: Option<TlsInput>) -> Result<f64> {
        let port = port_of(port)?;
        let (tls, answer_tls) = match tls {
            Some(t) => {
                let options = t.into();
                (Some(tls::server_config(&options).map_err(tls_error)?), Some(tls::client_config(&options).map_err(tls_error)?))
            }
            None => (None, None),
        };
        self.kernel.set_answer_tls(answer_tls);
        Ok(self.kernel.listen(host, port, tls) as f64)
    }

    /// Stops listening and drops every inbound connection.
    #[napi]
    pub fn close(&self) {
        self.kernel.close();
    }

    /// Opens an outbound connection to a node (the arguments of node-ipc's
    /// connect and the retry settings, as JS passes them).
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn connect(
        &self,
        node_id: String,
        host: String,
        port: f64,
        retry_ms: f64,
        max_retries: f64,
        max_len: f64,
        tls: Option<TlsInput>,
        max_bytes: Option<f64>,
        high_water: Option<f64>,
        net_tick_ms: Option<f64>,
    ) -> Result<NativePeer> {
        let tls = match tls {
            Some(t) => Some((
                tls::client_config(&t.into()).map_err(tls_error)?,
                tls::server_name(&host).map_err(tls_error)?,
            )),
            None => None,
        };
        let opts = PeerOptions {
            node_id,
            host,
            port: port_of(port)?,
            retry: millis(retry_ms),
            max_retries: count(max_retries),
            max_len: count(max_len).map_or(usize::MAX, |n| n as usize),
            max_bytes: max_bytes.map_or(DEFAULT_MAX_BYTES, |n| count(n).map_or(usize::MAX, |n| n as usize)),
            high_water: high_water.map_or(DEFAULT_HIGH_WATER, |n| count(n).map_or(usize::MAX, |n| n as usize)),
            net_tick: match net_tick_ms {
                None => Some(DEFAULT_NET_TICK),
                Some(ms) if ms > 0.0 && ms.is_finite() => Some(millis(ms)),
                Some(_) => None,
            },
            tls,
        };
        Ok(NativePeer { handle: self.kernel.connect(opts), shared: self.kernel.shared().clone() })
    }

    /// This node as the `from` member of what it sends (JSON text), for the
    /// envelopes JS serialises itself.
    #[napi]
    pub fn sender_json(&self) -> String {
        self.kernel.shared().config().from_json.clone()
    }

    /// Blocks this thread up to `timeoutMs` until every outbound link has
    /// written what it was handed (for the process's exit handler); false if
    /// some link did not finish in time.
    #[napi]
    pub fn drain(&self, timeout_ms: f64) -> bool {
        self.kernel.drain(millis(timeout_ms))
    }

    /// Writes a frame on an inbound socket; false when it is closed.
    #[napi]
    pub fn write_source(&self, socket: f64, kind: String, json: String) -> bool {
        self.kernel.write_source(socket as u64, &kind, &json)
    }

    /// The most bytes of partial frames all inbound connections may hold
    /// together (`maxInboundBytes`); Infinity for no limit.
    #[napi]
    pub fn set_inbound_budget(&self, bytes: f64) -> Result<()> {
        if bytes.is_nan() || bytes < 1.0 {
            return Err(invalid(format!("Invalid maxInboundBytes {bytes}")));
        }
        self.kernel.set_inbound_budget(count(bytes).map_or(usize::MAX, |n| n as usize));
        Ok(())
    }

    /// `kernel.stats()` as JSON text: `observe::stats_of` with `links` (the
    /// kernel's connections' peers) as our links, serialised as the Rust
    /// API's `Stats`. JS adds what only it holds (messages held while a
    /// link is down, a stopped connection's "closed").
    #[napi]
    pub fn stats(&self, links: Vec<ClassInstance<NativePeer>>) -> Result<String> {
        let stats = crate::link::observe::stats_of(self.kernel.shared(), links.iter().map(|p| &p.handle));
        serde_json::to_string(&stats).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
    }

    /// Whether pending network work keeps the Node process alive.
    #[napi]
    pub fn set_ref(&self, env: Env, keep_alive: bool) -> Result<()> {
        if let Some(tsfn) = self.wake.get() {
            let mut tsfn = tsfn.lock().unwrap_or_else(|p| p.into_inner());
            if keep_alive {
                tsfn.refer(&env)?;
            } else {
                tsfn.unref(&env)?;
            }
        }
        Ok(())
    }
}

/// The bounds of a link where neither `connect()` nor `start()` set them,
/// `[maxQueueBytes, highWaterMark]`: what JS holds while a link is down
/// keeps to the same figures as what the link holds.
#[napi]
pub(crate) fn link_defaults() -> Vec<f64> {
    vec![DEFAULT_MAX_BYTES as f64, DEFAULT_HIGH_WATER as f64]
}

/// The event of an observer's request (`clusterluck-native top`), which
/// a native node answers on its network threads: the observer reads it from
/// here rather than keeping a copy.
#[napi]
pub(crate) fn observe_event() -> String {
    crate::link::observe::OBSERVE_EVENT.to_string()
}

/// The tables a batch is read with, as JSON: entry kinds and payload modes
/// by name, skip kinds and `nodedown` reasons in the order of their
/// counters. `lib/kernel.js` takes the kinds and modes from here rather than
/// keeping a copy.
#[napi]
pub(crate) fn batch_tables() -> String {
    batch::tables_json()
}

/// One outbound connection.
#[napi]
pub struct NativePeer {
    handle: PeerHandle,
    shared: Arc<Shared>,
}

#[napi]
impl NativePeer {
    #[napi(getter)]
    pub fn id(&self) -> f64 {
        self.handle.id as f64
    }

    /// Sends envelopes serialised by JS, one per line, each prefixed by its
    /// frame type (`m` or `p`). With `direct`, a link that is up and idle is
    /// written on this thread (for latency); otherwise the peer task writes.
    /// `lone`: they are a request whose reply is the only one awaited, so
    /// the readers may poll for it (`link/server/poll.rs`).
    #[napi]
    pub fn send_bodies(&self, text: String, direct: bool, lone: Option<bool>) -> bool {
        if lone == Some(true) {
            crate::link::server::poll::note_conversation();
        }
        self.handle.send_bodies(text, self.shared.config(), direct)
    }

    /// Sends a message whose data is a Buffer: `head` is the envelope without
    /// its `data` member and closing brace.
    #[napi]
    pub fn send_buffer(&self, head: String, data: &[u8]) -> bool {
        self.handle.send(Command::Buffer { head, bytes: data.to_vec(), cfg: self.shared.config() })
    }

    /// Sends a frame of any type with JSON data.
    #[napi]
    pub fn send_raw(&self, kind: String, json: String) -> bool {
        self.handle.send(Command::Raw { kind, json })
    }

    /// Frames waiting for the link.
    #[napi]
    pub fn queue_size(&self) -> u32 {
        self.handle.state.queued.load(std::sync::atomic::Ordering::Acquire) as u32
    }

    /// `[direct, handoffs]`: sends written whole from the calling thread, and
    /// direct writes the socket did not take whole (finished by the task).
    #[napi]
    pub fn lane_stats(&self) -> Vec<f64> {
        let s = &self.handle.state;
        vec![s.direct.load(std::sync::atomic::Ordering::Relaxed) as f64, s.handoffs.load(std::sync::atomic::Ordering::Relaxed) as f64]
    }

    #[napi]
    pub fn set_max_len(&self, len: f64) {
        let len = count(len).map_or(usize::MAX, |n| n as usize);
        self.handle.send(Command::MaxLen(len));
    }

    #[napi]
    pub fn stop(&self, force: bool) {
        self.shared.stop_peer(&self.handle, force);
    }
}
