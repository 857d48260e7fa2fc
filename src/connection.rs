//! A link's two halves, boxed, so the reader and writer tasks are the same
//! code for plain TCP and for TLS.

use tokio::io::{AsyncRead, AsyncWrite};
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
