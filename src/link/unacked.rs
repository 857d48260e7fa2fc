//! What a link wrote that its node may not have received, and how far the
//! node has acknowledged what we wrote.
//!
//! A node declared down for its silence keeps its link (see `peer.rs`):
//! what the socket holds arrives, once, when the node runs again. When a
//! link really ends (the node was killed, its kernel stopped, a write
//! failed), the frames the node's system never acknowledged did not reach
//! it: a plain TCP link keeps a copy of what it wrote recently, trimmed as
//! the node acknowledges it (the socket's `SIOCOUTQ`: bytes written and not
//! acknowledged, which it still reports after a reset), and those frames go
//! back to the front of the link's queue, to be written again, first, on
//! the next link. Exactly those: none the node had received arrives twice.
//!
//! The copy costs a move or a copy of each write, never a system call per
//! message: the socket is asked what it still holds once every
//! [`TRIM_EVERY`] bytes written, so the copy stays within what the socket
//! holds plus that much. Where the system cannot say (not Linux), or on a
//! TLS link (whose socket holds ciphertext), nothing is kept, and what the
//! socket held when the link ended is lost, as in Erlang.
//!
//! [`progress`] reads how far the node has acknowledged what we wrote and
//! how far its system will take more: failure detection counts the latter
//! moving on, under a backlog, as a sign of life.

use std::collections::VecDeque;

use tokio::net::TcpStream;

use super::spare::SpareFrames;

/// How many bytes are written between two looks at what the socket holds.
/// A look is one system call per this many bytes (a few hundred casts);
/// what a link keeps between two looks is memory the next copies go
/// through. At 256 KiB a node of a 32-node mesh cycled its copies through
/// 8 MiB (31 links), which no cache holds, and every copy missed: 32 nodes
/// carried 69-75% of what 4 carry, against 76-79% at 32 KiB, in five
/// alternated pairs of runs on two cores (BENCHMARKS.md).
pub const TRIM_EVERY: usize = 32 * 1024;

/// Copies of small writes go into buffers of at least this size, one
/// after the other, rather than a buffer each: in a mesh of 32 nodes a
/// write to one peer is a few KiB, and a buffer per write (dozens of them
/// between two trims, only a few kept) had the allocator give their
/// memory back at each trim and fault it in again, about 50 page faults
/// per 1,000 casts across the mesh.
const COPY_CHUNK: usize = 64 * 1024;

/// Whole frames written, oldest first.
#[derive(Debug, Default)]
pub struct Unacked {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    /// `bytes` after the last trim.
    trimmed_at: usize,
    /// Buffers of chunks forgotten, for the next copies.
    spare: SpareFrames,
}

/// Frames written together: their text and where each ends in it.
#[derive(Debug)]
struct Chunk {
    text: String,
    ends: Vec<usize>,
}

impl Unacked {
    /// Bytes kept.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets everything (a new link).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.bytes = 0;
        self.trimmed_at = 0;
    }

    /// Keeps frames just written, whole: `text` ends with the last of them,
    /// and `ends` says where each ends in it. Copied into the newest chunk
    /// while it has room (a ping, a direct write between copies: a buffer
    /// of their own between two copies would have the next copy start a new
    /// chunk of `COPY_CHUNK` each time), else kept as it is.
    pub fn push(&mut self, text: String, ends: Vec<usize>) {
        if text.is_empty() {
            return;
        }
        if self.append(&text, &ends, 0, text.len()) {
            return;
        }
        self.bytes += text.len();
        self.chunks.push_back(Chunk { text, ends });
    }

    /// Appends the frames of `text` between `from` and `to` to the newest
    /// chunk if it has room for them without growing; false if not.
    fn append(&mut self, text: &str, ends: &[usize], from: usize, to: usize) -> bool {
        let len = to - from;
        let Some(back) = self.chunks.back_mut().filter(|c| c.text.capacity() - c.text.len() >= len) else {
            return false;
        };
        let first = ends.partition_point(|&e| e <= from);
        let last = ends.partition_point(|&e| e <= to);
        let base = back.text.len();
        back.text.push_str(&text[from..to]);
        back.ends.extend(ends[first..last].iter().map(|&e| e - from + base));
        self.bytes += len;
        true
    }

    /// Keeps a copy of the frames of `text` between `from` and `to` (frame
    /// boundaries), where `ends` are the ends of the frames of `text`.
    pub fn push_copy(&mut self, text: &str, ends: &[usize], from: usize, to: usize) {
        if to <= from {
            return;
        }
        if !self.append(text, ends, from, to) {
            // A new chunk with room for these frames and the copies after them.
            let (mut copy, copy_ends) = self.spare.take();
            copy.reserve((to - from).max(COPY_CHUNK));
            self.chunks.push_back(Chunk { text: copy, ends: copy_ends });
            let appended = self.append(text, ends, from, to);
            debug_assert!(appended, "a new chunk has room");
        }
    }

    /// True once `TRIM_EVERY` bytes were kept since the last trim.
    pub fn trim_due(&self) -> bool {
        self.bytes >= self.trimmed_at + TRIM_EVERY
    }

    /// Forgets the oldest chunks the node has acknowledged, `unacked` being
    /// the bytes of the newest ones it has not.
    pub fn trim(&mut self, unacked: usize) {
        while let Some(front) = self.chunks.front() {
            if self.bytes - front.text.len() < unacked {
                break;
            }
            self.bytes -= front.text.len();
            if let Some(Chunk { text, ends }) = self.chunks.pop_front() {
                self.spare.give(text, ends);
            }
        }
        self.trimmed_at = self.bytes;
    }

    /// The frames holding the newest `unacked` bytes, each whole and in
    /// order (the first of them perhaps received in part), leaving nothing
    /// kept.
    pub fn take_last(&mut self, unacked: usize) -> Vec<String> {
        let mut skip = self.bytes.saturating_sub(unacked);
        let mut out = Vec::new();
        for chunk in self.chunks.drain(..) {
            if skip >= chunk.text.len() {
                skip -= chunk.text.len();
                continue;
            }
            let mut start = 0;
            for &end in &chunk.ends {
                if end > skip {
                    out.push(chunk.text[start..end].to_string());
                }
                start = end;
            }
            skip = 0;
        }
        self.clear();
        out
    }
}

/// Bytes written on `tcp` that the other end has not acknowledged, sent
/// or not; `None` where the system does not say.
#[cfg(target_os = "linux")]
pub fn unacked_bytes(tcp: &TcpStream) -> Option<usize> {
    outq(raw_socket(tcp))
}

/// How far the other end of a socket has acknowledged what we wrote: the
/// evidence that a node reads, which failure detection counts as life
/// (`peer.rs`), on plain TCP and TLS links alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes acknowledged since the connection opened.
    pub acked: u64,
    /// How far the node's system will take bytes: `acked` plus the window
    /// it offers. `acked` moves on while a stopped process's receive
    /// buffer fills (up to 32 MiB on a tuned system: seconds of a flood);
    /// the edge stays where it was until the process reads (or its system
    /// lets the window grow into a buffer it already has). `acked` where
    /// the system does not say what window the node offers.
    pub edge: u64,
    /// Bytes written and not acknowledged yet, sent or not.
    pub outq: usize,
}

/// Linux's `struct tcp_info` up to `tcpi_snd_wnd` (kernel 5.4), where the
/// fields between are not named because nothing reads them. Declared here
/// rather than taken from `libc`, whose declaration differs between C
/// libraries; the kernel fills as much of it as it knows and says how
/// much: `tcpi_bytes_acked` is in every kernel since 4.1.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default)]
struct TcpInfo {
    bytes: [u8; 8],
    words: [u32; 24],
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_to_data_segs_out: [u32; 6],
    delivery_rate_to_sndbuf_limited: [u64; 4],
    delivered: [u32; 2],
    bytes_sent_and_retrans: [u64; 2],
    dsack_dups_to_rcv_ooopack: [u32; 3],
    snd_wnd: u32,
}

#[cfg(target_os = "linux")]
impl TcpInfo {
    /// How much of the struct a kernel must fill for each field to be in.
    const UP_TO_BYTES_ACKED: usize = std::mem::offset_of!(TcpInfo, bytes_acked) + 8;
    const UP_TO_SND_WND: usize = std::mem::offset_of!(TcpInfo, snd_wnd) + 4;
}

/// Where the other end of the socket `fd` stands; `None` where the system
/// does not say (not Linux, or a kernel without `tcpi_bytes_acked`).
#[cfg(target_os = "linux")]
pub fn progress(fd: RawSocket) -> Option<Progress> {
    let mut info = TcpInfo::default();
    let mut len = std::mem::size_of::<TcpInfo>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`, which is
    // plain data of that size, and sets `len` to what it wrote; `fd` is a
    // socket the caller keeps open for the call.
    let rc = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut info as *mut TcpInfo as *mut libc::c_void, &mut len)
    };
    let len = len as usize;
    if rc != 0 || len < TcpInfo::UP_TO_BYTES_ACKED {
        return None;
    }
    let acked = info.bytes_acked;
    let edge = if len >= TcpInfo::UP_TO_SND_WND { acked + u64::from(info.snd_wnd) } else { acked };
    Some(Progress { acked, edge, outq: outq(fd)? })
}

/// SIOCOUTQ, which Linux defines as TIOCOUTQ: for a TCP socket, the bytes
/// from the oldest unacknowledged one to the last written.
#[cfg(target_os = "linux")]
fn outq(fd: RawSocket) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: the request writes one int through the pointer, which is
    // valid for the call; the caller keeps the socket `fd` open.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    (rc == 0 && n >= 0).then_some(n as usize)
}

/// Where the other end of the socket `fd` stands; `None` where the system
/// does not say.
#[cfg(not(target_os = "linux"))]
pub fn progress(_fd: RawSocket) -> Option<Progress> {
    None
}

/// The system's handle of a socket, for [`progress`]: a TLS link's socket
/// is owned by its session, and only looked at through this.
#[cfg(unix)]
pub type RawSocket = std::os::fd::RawFd;
#[cfg(windows)]
pub type RawSocket = std::os::windows::io::RawSocket;

/// The handle of `tcp`, valid while `tcp` (or what owns it) is open.
#[cfg(unix)]
pub fn raw_socket(tcp: &TcpStream) -> RawSocket {
    std::os::fd::AsRawFd::as_raw_fd(tcp)
}
#[cfg(windows)]
pub fn raw_socket(tcp: &TcpStream) -> RawSocket {
    std::os::windows::io::AsRawSocket::as_raw_socket(tcp)
}

/// Bytes written on `tcp` that the other end has not acknowledged, sent
/// or not; `None` where the system does not say.
#[cfg(not(target_os = "linux"))]
pub fn unacked_bytes(_tcp: &TcpStream) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(texts: &[&str]) -> (String, Vec<usize>) {
        let mut text = String::new();
        let mut ends = Vec::new();
        for t in texts {
            text.push_str(t);
            ends.push(text.len());
        }
        (text, ends)
    }

    #[test]
    fn the_frames_of_the_unacknowledged_bytes_come_back_whole_and_in_order() {
        let mut u = Unacked::default();
        let (t, e) = frames(&["aaaa\x0c", "bb\x0c"]);
        u.push(t, e);
        let (t, e) = frames(&["x\x0c", "cccccc\x0c", "dd\x0c", "y\x0c"]);
        // Only the middle two of these were written.
        u.push_copy(&t, &e, 2, 12);
        assert_eq!(u.bytes(), 8 + 10);
        // The last 11 bytes: the end of "bb" and all after it.
        assert_eq!(u.take_last(11), vec!["bb\x0c", "cccccc\x0c", "dd\x0c"]);
        assert_eq!(u.bytes(), 0);
        assert!(u.take_last(100).is_empty());
    }

    #[test]
    fn nothing_unacknowledged_gives_nothing_back_and_all_of_it_everything() {
        let mut u = Unacked::default();
        let (t, e) = frames(&["a\x0c", "b\x0c"]);
        u.push(t.clone(), e.clone());
        assert!(u.take_last(0).is_empty());
        u.push(t, e);
        assert_eq!(u.take_last(1000), vec!["a\x0c", "b\x0c"]);
    }

    #[test]
    fn trimming_keeps_every_chunk_that_holds_unacknowledged_bytes() {
        let mut u = Unacked::default();
        for i in 0..4 {
            let (t, e) = frames(&[&format!("{i}{i}{i}\x0c")]);
            u.push(t, e);
        }
        assert!(!u.trim_due());
        u.trim(5);
        // "2222" holds one unacknowledged byte: it stays.
        assert_eq!(u.bytes(), 8);
        assert_eq!(u.take_last(5), vec!["222\x0c", "333\x0c"]);
        let big = "z".repeat(TRIM_EVERY);
        u.push(big.clone(), vec![big.len()]);
        assert!(u.trim_due());
        u.trim(0);
        assert_eq!(u.bytes(), 0);
        assert!(!u.trim_due());
    }

    #[test]
    fn copies_of_small_writes_share_buffers_and_come_back_whole() {
        let mut u = Unacked::default();
        let mut written = Vec::new();
        // A thousand writes of three small frames each, copied as the write
        // loop copies them.
        for w in 0..1000 {
            let texts: Vec<String> = (0..3).map(|i| format!("{{\"w\":{w},\"i\":{i}}}\x0c")).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let (t, e) = frames(&refs);
            u.push_copy(&t, &e, 0, t.len());
            written.extend(texts);
        }
        let total: usize = written.iter().map(String::len).sum();
        assert_eq!(u.bytes(), total);
        // About 50 KB of copies in one buffer, not a thousand.
        assert_eq!(u.chunks.len(), 1, "{} chunks", u.chunks.len());
        // A trim that leaves the last 3 frames unacknowledged keeps the
        // chunk that holds them; all of them come back whole.
        let tail: usize = written[written.len() - 3..].iter().map(String::len).sum();
        u.trim(tail);
        assert_eq!(u.take_last(tail), written[written.len() - 3..].to_vec());
        // Past a chunk's room, copies go on in a new one, and whole frames
        // come back across the two.
        let mut u = Unacked::default();
        let frame = format!("{}\x0c", "x".repeat(1000));
        for _ in 0..100 {
            let (t, e) = frames(&[&frame]);
            u.push_copy(&t, &e, 0, t.len());
        }
        assert!(u.chunks.len() >= 2, "100 KB of copies in {} chunk(s)", u.chunks.len());
        assert_eq!(u.take_last(100 * frame.len()), vec![frame.clone(); 100]);
        // Frames kept as written (pings, direct writes) between copies go
        // into the same buffer: a link that writes a little now and then
        // does not hold a buffer of 64 KiB per copy.
        let mut u = Unacked::default();
        let mut written = Vec::new();
        for w in 0..1000 {
            let ping = format!("{{\"ping\":{w}}}\x0c");
            let cast = format!("{{\"cast\":{w}}}\x0c");
            let (t, e) = frames(&[&ping]);
            u.push(t, e);
            let (t, e) = frames(&[&cast]);
            u.push_copy(&t, &e, 0, t.len());
            written.extend([ping, cast]);
        }
        assert!(u.chunks.len() <= 2, "{} chunks for 30 KB", u.chunks.len());
        let total: usize = written.iter().map(String::len).sum();
        assert_eq!(u.take_last(total), written);
    }

    #[tokio::test]
    async fn a_socket_says_what_the_other_end_has_not_acknowledged() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        if unacked_bytes(&client).is_none() {
            eprintln!("this system does not report unacknowledged bytes; nothing to check");
            return;
        }
        // The other end reads nothing: past its buffers, what we write
        // stays with us, unacknowledged.
        let chunk = vec![b'x'; 1 << 20];
        let mut written = 0usize;
        while tokio::time::timeout(std::time::Duration::from_millis(200), client.write_all(&chunk)).await.is_ok() {
            written += chunk.len();
            assert!(written < 1 << 30, "the socket never filled");
        }
        let held = unacked_bytes(&client).unwrap();
        assert!(held > 0, "a full socket holds nothing unacknowledged");
        drop(server);
    }

    #[tokio::test]
    async fn the_edge_of_what_the_other_end_takes_moves_only_as_it_reads() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let fd = raw_socket(&client);
        let Some(start) = progress(fd) else {
            eprintln!("this system does not report acknowledgements; nothing to check");
            return;
        };
        if start.edge == start.acked {
            eprintln!("this kernel does not report the window the other end offers; nothing to check");
            return;
        }
        let chunk = vec![b'x'; 1 << 20];
        let mut written = 0usize;
        while tokio::time::timeout(std::time::Duration::from_millis(200), client.write_all(&chunk)).await.is_ok() {
            written += chunk.len();
            assert!(written < 1 << 30, "the socket never filled");
        }
        // Its buffer full, a process that does not read offers no window:
        // what it acknowledged is the edge, and the edge stays.
        let full = progress(fd).unwrap();
        assert!(full.acked > start.acked, "the other end's system acknowledged nothing");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let still = progress(fd).unwrap();
        assert_eq!(still.edge, full.edge, "the edge moved while nothing read");
        // Reading moves it on.
        let mut buf = vec![0u8; 1 << 20];
        let mut read = 0usize;
        while read < written / 2 {
            read += server.read(&mut buf).await.unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while progress(fd).unwrap().edge <= full.edge {
            assert!(std::time::Instant::now() < deadline, "the edge did not move as the other end read");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
