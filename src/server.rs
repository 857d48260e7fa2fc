//! The listener and the inbound connections ("sources").
//!
//! Each accepted socket gets an id, a reader task that reassembles frames,
//! verifies and decodes them and hands them to the outbox, and a writer task
//! for the rare frames written back on an inbound socket (the command-server
//! path of clusterluck's CLI). Pings are answered right here, on our own
//! outbound connection to the sender, without a trip through JS.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::connection::{self, Reader, Writer};
use std::sync::atomic::Ordering;

use crate::envelope::{self, Inbound, Message, Ping};
use crate::health::{self, now_us, Heard, Hearing};
use crate::error::Skip;
use crate::events::kind;
use crate::frame::{Decoded, FrameDecoder};
use crate::json;
use crate::kernel::Shared;

/// A running listener.
#[derive(Debug)]
pub struct ServerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Tells the listener to stop; it is closed once the returned task ends.
    /// Sockets it accepts or finishes a TLS handshake with from now on are
    /// closed rather than opened.
    pub fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(true);
        self.task
    }
}

/// An accepted inbound connection.
#[derive(Debug)]
pub struct Source {
    writer: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
    write_task: JoinHandle<()>,
}

impl Source {
    /// Queues raw bytes to write on this socket.
    pub fn write(&self, bytes: Vec<u8>) -> bool {
        self.writer.send(bytes).is_ok()
    }

    /// Closes the socket: both tasks end, even a write blocked on a client
    /// that does not read.
    pub fn close(&self) {
        self.reader.abort();
        self.write_task.abort();
    }
}

/// Binds `host:port` and serves until stopped. Reports READY or LISTEN_ERROR
/// (tagged with `generation`, so a late report of an old start is ignored).
/// `previous` is the task of the listener this one replaces: it is awaited
/// first, so a restart on the same port never races the old socket's close.
pub fn start(
    shared: &Arc<Shared>,
    host: String,
    port: u16,
    generation: u64,
    tls: Option<Arc<rustls::ServerConfig>>,
    previous: Option<JoinHandle<()>>,
) -> ServerHandle {
    let (stop, mut stopped) = watch::channel(false);
    let shared = shared.clone();
    let task = shared.runtime.clone().spawn(async move {
        if let Some(previous) = previous {
            let _ = previous.await;
        }
        let listener = match TcpListener::bind((host.as_str(), port)).await {
            Ok(l) => l,
            Err(e) => {
                let code = io_code(&e);
                let msg = format!("listen {code} {host}:{port}: {e}");
                shared.outbox.with_strings(kind::LISTEN_ERROR, &[generation], &[&msg, code]);
                return;
            }
        };
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        shared.outbox.simple(kind::READY, &[generation, bound as u64]);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                res = listener.accept() => match res {
                    Ok((socket, addr)) => match &tls {
                        None => {
                            let _ = socket.set_nodelay(true);
                            let (rd, wr) = connection::split_tcp(socket);
                            accept(&shared, shared.next_id(), rd, wr, addr, &stopped);
                        }
                        Some(config) => {
                            tokio::spawn(handshake(shared.clone(), config.clone(), socket, addr, stopped.clone()));
                        }
                    },
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                },
            }
        }
    });
    ServerHandle { stop, task }
}

/// The errno-style name Node uses for common listen errors.
fn io_code(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        AddrInUse => "EADDRINUSE",
        AddrNotAvailable => "EADDRNOTAVAIL",
        PermissionDenied => "EACCES",
        _ => "EUNKNOWN",
    }
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the TLS handshake of an accepted socket; a failure is bad input from
/// the network, reported as a `_skip` and the socket closed.
async fn handshake(
    shared: Arc<Shared>,
    config: Arc<rustls::ServerConfig>,
    socket: TcpStream,
    addr: std::net::SocketAddr,
    stopped: watch::Receiver<bool>,
) {
    let _ = socket.set_nodelay(true);
    let id = shared.next_id();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let why = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(tls)) => {
            let (rd, wr) = connection::split(tls);
            return accept(&shared, id, rd, wr, addr, &stopped);
        }
        Ok(Err(e)) => format!("TLS handshake with {addr} failed: {e}"),
        Err(_) => format!("TLS handshake with {addr} timed out"),
    };
    shared.outbox.skip(id, &Skip::Tls(why));
    shared.outbox.wake_if_due();
}

/// Opens an accepted (and, under TLS, handshaken) socket as a source, unless
/// the listener was stopped meanwhile: then the socket is closed.
fn accept(
    shared: &Arc<Shared>,
    id: u64,
    rd: Reader,
    mut wr: Writer,
    addr: std::net::SocketAddr,
    stopped: &watch::Receiver<bool>,
) {
    if *stopped.borrow() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
    });
    shared.outbox.with_strings(kind::SOCKET_OPEN, &[id, addr.port() as u64], &[&addr.ip().to_string()]);
    tracing::debug!(socket = id, "accepted a connection from {addr}");
    let reader = tokio::spawn(read_loop(shared.clone(), id, rd));
    shared.add_source(id, Source { writer: tx, reader, write_task });
    // A stop that came between the check above and now found no source to
    // close: close it here.
    if *stopped.borrow() {
        if let Some(source) = shared.remove_source(id) {
            source.close();
            shared.outbox.simple(kind::SOCKET_CLOSE, &[id]);
        }
    }
}

/// Room made for each socket read.
const READ_SIZE: usize = 256 * 1024;

/// Within one read, the outbox's limit is checked after this many frames or
/// bytes of frames.
const CHECK_FRAMES: usize = 1024;
const CHECK_BYTES: usize = 1024 * 1024;

async fn read_loop(shared: Arc<Shared>, id: u64, mut rd: Reader) {
    let mut decoder = FrameDecoder::new(shared.config().max_frame);
    // The node this link carries, once its first message said so.
    let mut heard: Option<Arc<Heard>> = None;
    loop {
        // Large reads: a stream chunk is a frame of about 234 KB.
        match decoder.read_from(&mut rd, READ_SIZE).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some(h) = &heard {
            h.last_us.store(now_us(), Ordering::Relaxed);
        }
        let (mut messages, mut bytes) = (0u64, 0u64);
        // One read can hold many frames, and a bad frame of one byte makes
        // a skip entry of a hundred: the outbox's limit is checked every so
        // many frames or bytes, not only once per read.
        let (mut frames, mut bytes_in) = (0usize, 0usize);
        while let Some(frame) = decoder.next_frame() {
            match frame {
                Decoded::Frame(frame) => {
                    bytes_in += frame.len();
                    bytes += frame.len() as u64 + 1;
                    messages += 1;
                    handle_frame(&shared, id, frame, &mut heard);
                }
                Decoded::TooLarge { limit } => {
                    let skip = Skip::FrameTooLarge { limit };
                    heard.as_deref().unwrap_or(&shared.hearing.unattributed).skip(&skip);
                    shared.outbox.skip(id, &skip);
                }
            }
            frames += 1;
            if frames >= CHECK_FRAMES || bytes_in >= CHECK_BYTES {
                (frames, bytes_in) = (0, 0);
                // Usually there is room, and JS is woken once for the whole read.
                if shared.outbox.is_full() {
                    shared.outbox.wake_if_due();
                    shared.outbox.wait_room().await;
                }
            }
        }
        if let Some(h) = &heard {
            h.messages.fetch_add(messages, Ordering::Relaxed);
            h.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        // One wake-up of JS for everything this read delivered.
        shared.outbox.wake_if_due();
        shared.outbox.wait_room().await;
    }
    tracing::debug!(socket = id, "inbound connection closed");
    if let Some(h) = &heard {
        Hearing::detach(h);
    }
    shared.remove_source(id);
    shared.outbox.simple(kind::SOCKET_CLOSE, &[id]);
}

/// Routes one frame: messages to JS, pings answered here, bad frames skipped.
/// `heard` is the node the link carries, learnt from its first message.
pub fn handle_frame(shared: &Arc<Shared>, socket: u64, bytes: &[u8], heard: &mut Option<Arc<Heard>>) {
    // Invalid UTF-8 becomes U+FFFD, as a JS receiver decoding utf8 does.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let cfg = shared.config();
    let decoded = envelope::decode(&text, cfg.cookie.as_ref());
    if heard.is_none() {
        if let Ok(Inbound::Message(Message { from, .. }) | Inbound::Ping(Ping { from, .. })) = &decoded {
            *heard = Some(shared.hearing.attach(&from.id));
        }
    }
    match decoded {
        Ok(Inbound::Message(m)) => match health::tick_reply(m.event_raw) {
            // The answer to one of our keep-alive pings: its round trip.
            Some(stamp) if m.tag.is_none() => {
                if let Some(h) = heard {
                    h.rtt_us.store(now_us().saturating_sub(stamp).max(1), Ordering::Relaxed);
                }
            }
            _ => shared.outbox.message(socket, m),
        },
        Ok(Inbound::Ping(p)) => {
            if let Some(peer) = shared.peer_for_node(&p.from.id) {
                // The reply a JS kernel sends: a cast of "pong" to the tag,
                // written from this thread when our link to the sender is idle.
                let mut body = String::with_capacity(cfg.from_json.len() + p.tag.len() + 80);
                body.push(envelope::BODY_MESSAGE as char);
                body.push_str("{\"id\":");
                json::write_string(&mut body, &p.tag);
                body.push_str(",\"tag\":null,\"from\":");
                body.push_str(&cfg.from_json);
                body.push_str(",\"stream\":{\"done\":true},\"data\":\"pong\"}");
                peer.send_bodies(body, cfg, true);
            }
        }
        Ok(Inbound::Other(kind)) => tracing::debug!("ignoring a frame of type {kind:?}"),
        Err(skip) => {
            heard.as_deref().unwrap_or(&shared.hearing.unattributed).skip(&skip);
            shared.outbox.skip(socket, &skip)
        }
    }
}
