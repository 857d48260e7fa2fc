//! The listener and the inbound connections ("sources").
//!
//! Each accepted socket gets an id, a reader task that reassembles frames,
//! verifies and decodes them and hands them to the sink, and a writer task
//! for the rare frames written back on an inbound socket (the command-server
//! path of clusterluck's CLI). Pings are answered right here, on our own
//! outbound connection to the sender, without a trip through JS.
//!
//! This file is the listener: its handle and a source's, the accept loop,
//! the TLS handshake, and opening an accepted socket. What an inbound link
//! carries is read in `read`: frames, the handover between a node's links,
//! and where each message goes.

pub(crate) mod poll;
mod read;

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::link::connection::{self, Reader, Writer};
use crate::wire::error::Skip;
use crate::link::sink::LinkEvent;
use crate::link::shared::Shared;

use read::read_loop;

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

    /// Closes the socket and returns once its reader has ended, so that
    /// nothing more of it reaches JS.
    pub async fn close_and_wait(self) {
        self.close();
        let _ = self.reader.await;
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
                shared.sink.event(LinkEvent::ListenError { generation, message: msg, code: code.to_string() });
                return;
            }
        };
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        shared.sink.event(LinkEvent::Ready { generation, port: bound });
        // A reader holds its thread only where that keeps nothing waiting
        // (`poll.rs`): the same for every link of this listener.
        let may_poll = poll::may_poll(shared.sink.consumer_off_runtime(), &shared.runtime);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                res = listener.accept() => match res {
                    Ok((socket, addr)) => match &tls {
                        None => {
                            let _ = socket.set_nodelay(true);
                            let poller = if may_poll {
                                poll::Poller::new(std::os::fd::AsRawFd::as_raw_fd(&socket), poll::window())
                            } else {
                                None
                            };
                            let (rd, wr) = connection::split_tcp(socket);
                            accept(&shared, shared.next_id(), rd, wr, poller, addr, &stopped);
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
            return accept(&shared, id, rd, wr, None, addr, &stopped);
        }
        Ok(Err(e)) => format!("TLS handshake with {addr} failed: {e}"),
        Err(_) => format!("TLS handshake with {addr} timed out"),
    };
    shared.sink.skip(id, &Skip::Tls(why));
    shared.sink.wake_if_due();
}

/// Opens an accepted (and, under TLS, handshaken) socket as a source, unless
/// the listener was stopped meanwhile: then the socket is closed.
fn accept(
    shared: &Arc<Shared>,
    id: u64,
    rd: Reader,
    mut wr: Writer,
    poller: Option<poll::Poller>,
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
    shared.sink.event(LinkEvent::SocketOpen { socket: id, port: addr.port(), ip: addr.ip().to_string() });
    tracing::debug!(socket = id, "accepted a connection from {addr}");
    let reader = tokio::spawn(read_loop(shared.clone(), id, rd, poller, addr.ip()));
    shared.add_source(id, Source { writer: tx, reader, write_task });
    // A stop that came between the check above and now found no source to
    // close: close it here.
    if *stopped.borrow() {
        if let Some(source) = shared.remove_source(id) {
            source.close();
            shared.sink.event(LinkEvent::SocketClose { socket: id });
        }
    }
}
