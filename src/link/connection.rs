//! The halves of a link.
//!
//! Inbound sockets and TLS links are split into boxed halves, so one reader
//! and one writer serve plain TCP and TLS alike. An outbound plain TCP link
//! instead keeps the socket itself behind an `Arc`: every operation on it
//! takes `&self`, so besides its peer task, a caller on another thread may
//! write to it directly while the task has nothing in hand (see `peer`).

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A plain TCP link, split without a lock between the halves.
pub fn split_tcp(tcp: TcpStream) -> (Reader, Writer) {
    let (r, w) = tcp.into_split();
    (Box::new(r), Box::new(w))
}

/// Any other stream (a TLS session), split through tokio's shared halves.
pub fn split<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> (Reader, Writer) {
    let (r, w) = tokio::io::split(stream);
    (Box::new(r), Box::new(w))
}

/// The read half of an outbound link.
pub enum LinkReader {
    Tcp(Arc<TcpStream>),
    Boxed(Reader),
}

/// The write half of an outbound link.
pub enum LinkWriter {
    Tcp(Arc<TcpStream>),
    Boxed(Writer),
}

/// An outbound plain TCP link: both halves share the socket.
pub fn share_tcp(tcp: TcpStream) -> (LinkReader, LinkWriter) {
    let tcp = Arc::new(tcp);
    (LinkReader::Tcp(tcp.clone()), LinkWriter::Tcp(tcp))
}

/// An outbound TLS link.
pub fn boxed<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> (LinkReader, LinkWriter) {
    let (r, w) = split(stream);
    (LinkReader::Boxed(r), LinkWriter::Boxed(w))
}

impl LinkReader {
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LinkReader::Tcp(tcp) => loop {
                tcp.readable().await?;
                match tcp.try_read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    other => return other,
                }
            },
            LinkReader::Boxed(r) => r.read(buf).await,
        }
    }
}

impl LinkWriter {
    /// The socket, when callers may write to it directly.
    pub fn shared_tcp(&self) -> Option<&Arc<TcpStream>> {
        match self {
            LinkWriter::Tcp(tcp) => Some(tcp),
            LinkWriter::Boxed(_) => None,
        }
    }

    /// Writes some of `buf`, returning how many bytes (never 0: a socket that
    /// takes nothing more is an error). Cancel-safe: dropped before it
    /// completes, it has written nothing, so a task may wait on it and on
    /// other work at once.
    pub async fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LinkWriter::Tcp(tcp) => loop {
                tcp.writable().await?;
                match send_record(tcp, buf) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => return Ok(n),
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                    Err(e) => return Err(e),
                }
            },
            LinkWriter::Boxed(w) => match w.write(buf).await? {
                0 => Err(io::ErrorKind::WriteZero.into()),
                n => Ok(n),
            },
        }
    }

    /// Pushes out what a TLS session buffered (nothing to do for plain TCP).
    /// Cancel-safe too: what it has not flushed stays buffered.
    pub async fn flush(&mut self) -> io::Result<()> {
        match self {
            LinkWriter::Tcp(_) => Ok(()),
            LinkWriter::Boxed(w) => w.flush().await,
        }
    }

    /// Ends our direction of the link (the peer reads end-of-stream).
    pub async fn shutdown(&mut self) {
        match self {
            LinkWriter::Tcp(tcp) => {
                let _ = socket2::SockRef::from(&**tcp).shutdown(std::net::Shutdown::Write);
            }
            LinkWriter::Boxed(w) => {
                let _ = w.shutdown().await;
            }
        }
    }
}

/// Writes to a plain TCP socket without waiting, as a record of its own: on
/// Linux the kernel puts no later write into the same segment (`MSG_EOR`),
/// so a write no longer than a segment reaches the peer whole or not at all.
/// The peer then never finds part of a write to read (see
/// `frame::lay_out_blocks` for why a JS reader cares).
fn send_record(tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        tcp.try_io(tokio::io::Interest::WRITABLE, || {
            socket2::SockRef::from(tcp).send_with_flags(buf, libc::MSG_EOR | libc::MSG_NOSIGNAL)
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        tcp.try_write(buf)
    }
}

/// The size of the segments a plain TCP socket sends now (its MSS, which
/// Linux also keeps within half the largest window the peer offered, so it
/// is small on a young link). A write larger than that may reach the peer
/// in parts, cut where its window ends. None where the socket cannot say.
pub fn segment_size(tcp: &TcpStream) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a getsockopt into a zeroed tcp_info of the size passed,
        // on a socket `tcp` keeps open for the call.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = unsafe {
            libc::getsockopt(
                tcp.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                &mut info as *mut libc::tcp_info as *mut libc::c_void,
                &mut len,
            )
        };
        (rc == 0 && info.tcpi_snd_mss > 0).then_some(info.tcpi_snd_mss as usize)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tcp;
        None
    }
}

/// Writes what a non-blocking socket takes at once; returns how many bytes
/// that was. Stops at the first error (the caller hands the rest on).
pub fn write_now(tcp: &TcpStream, bytes: &[u8]) -> usize {
    let mut written = 0;
    while written < bytes.len() {
        match send_record(tcp, &bytes[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    written
}
