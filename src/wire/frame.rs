//! Framing: one JSON text per frame, each followed by a form feed (0x0C).
//!
//! JSON.stringify never emits a raw 0x0C, so the delimiter is exact. Unlike the
//! reference transport, which keeps one reassembly buffer for a whole server,
//! every connection owns its own [`FrameDecoder`]: peers writing large frames at
//! the same time can never corrupt each other.

/// The frame delimiter.
pub const DELIMITER: u8 = 0x0C;

/// Default upper bound on one frame. Generous (a whole 8 MiB Buffer sent in one
/// message is about 30 MiB of JSON), but bounded, so a peer cannot make us
/// buffer without end.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

/// What a decoder's buffer starts with.
const INITIAL_CAPACITY: usize = 64 * 1024;

/// An empty buffer holding more than this gives the memory back.
const KEEP_CAPACITY: usize = 4 * 1024 * 1024;

/// What [`FrameDecoder::next_frame`] yields.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete frame, delimiter removed.
    Frame(&'a [u8]),
    /// A frame exceeded `limit` (this decoder's, set when its connection
    /// opened); its bytes were thrown away.
    TooLarge { limit: usize },
}

/// Per-connection reassembly of frames from arbitrary TCP reads.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// Bytes before this index (and after `start`) hold no delimiter, so a
    /// partial frame is scanned once, not again on every read.
    scanned: usize,
    max: usize,
    /// Dropping an oversized frame (already reported) until its delimiter.
    discarding: bool,
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::with_capacity(INITIAL_CAPACITY),
            start: 0,
            scanned: 0,
            max: max.max(1),
            discarding: false,
        }
    }

    /// Appends bytes just read from the socket.
    #[cfg(any(test, feature = "internals"))]
    pub fn push(&mut self, data: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(data);
    }

    /// The reassembly buffer, compacted, with room for at least `want` more
    /// bytes: the link layer reads a socket straight into it (no copy from a
    /// read buffer of its own, no zeroing), and [`FrameDecoder::next_frame`]
    /// finds the frames in what was appended. Append only: what is already
    /// in it belongs to the decoder. (This keeps the wire layer free of I/O:
    /// the read itself is the caller's.)
    pub fn read_buffer(&mut self, want: usize) -> &mut Vec<u8> {
        self.compact();
        self.buf.reserve(want);
        &mut self.buf
    }

    /// Drops consumed bytes so the buffer does not grow with them.
    fn compact(&mut self) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            self.scanned = 0;
            // One huge frame should not pin its memory for the life of the
            // connection.
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(INITIAL_CAPACITY);
            }
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            // Compact so the buffer does not grow with consumed bytes.
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
    }

    /// Bytes held that belong to a frame not complete yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Option<Decoded<'_>> {
        loop {
            let from = self.scanned.max(self.start);
            match memchr::memchr(DELIMITER, &self.buf[from..]) {
                Some(rel) => {
                    let end = from + rel;
                    let begin = self.start;
                    self.start = end + 1;
                    self.scanned = self.start;
                    if self.discarding {
                        // The tail of a frame already reported as too large.
                        self.discarding = false;
                        continue;
                    }
                    if end - begin > self.max {
                        return Some(Decoded::TooLarge { limit: self.max });
                    }
                    return Some(Decoded::Frame(&self.buf[begin..end]));
                }
                None => {
                    self.scanned = self.buf.len();
                    let over = self.pending() > self.max;
                    if self.discarding || over {
                        self.buf.clear();
                        self.start = 0;
                        self.scanned = 0;
                    }
                    if over && !self.discarding {
                        self.discarding = true;
                        return Some(Decoded::TooLarge { limit: self.max });
                    }
                    return None;
                }
            }
        }
    }
}

/// Appends one frame, `{"type":TYPE,"data":DATA}` and the delimiter, where
/// `data` is already JSON text. `kind` is written as a JSON string.
pub fn encode_frame(out: &mut Vec<u8>, kind: &str, data: &str) {
    out.extend_from_slice(b"{\"type\":");
    let mut s = String::with_capacity(kind.len() + 2);
    crate::wire::json::write_string(&mut s, kind);
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data.as_bytes());
    out.push(b'}');
    out.push(DELIMITER);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(d: &mut FrameDecoder) -> Vec<Result<Vec<u8>, ()>> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame() {
            out.push(match f {
                Decoded::Frame(b) => Ok(b.to_vec()),
                Decoded::TooLarge { .. } => Err(()),
            });
        }
        out
    }

    #[test]
    fn splits_on_delimiter_across_reads() {
        let mut d = FrameDecoder::new(1024);
        d.push(b"{\"a\":1}\x0c{\"b\"");
        assert_eq!(frames(&mut d), vec![Ok(b"{\"a\":1}".to_vec())]);
        d.push(b":2}\x0c\x0c");
        assert_eq!(frames(&mut d), vec![Ok(b"{\"b\":2}".to_vec()), Ok(Vec::new())]);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"abc\x0cdefg\x0c";
        let mut d = FrameDecoder::new(1024);
        let mut got = Vec::new();
        for b in input {
            d.push(std::slice::from_ref(b));
            got.extend(frames(&mut d));
        }
        assert_eq!(got, vec![Ok(b"abc".to_vec()), Ok(b"defg".to_vec())]);
    }

    /// Reads straight into the decoder, in pieces of uneven size, match
    /// feeding the same bytes through `push`: consumed bytes are compacted
    /// away and nothing read is lost or read twice.
    #[test]
    fn socket_reads_land_in_the_decoder() {
        let mut input = Vec::new();
        let mut want = Vec::new();
        for n in 0..300usize {
            let frame: Vec<u8> = (0..(n * 37) % 1500).map(|i| b'a' + ((i + n) % 26) as u8).collect();
            input.extend_from_slice(&frame);
            input.push(DELIMITER);
            want.push(Ok(frame));
        }
        // Reads of at most 512 bytes, each as long as a socket happens to
        // have, appended as a read into the buffer would append them.
        let mut d = FrameDecoder::new(4096);
        let (mut rest, mut step) = (&input[..], 5usize);
        let mut got = Vec::new();
        let mut reads = 0;
        while !rest.is_empty() {
            let n = step.min(rest.len()).min(512);
            let (now, later) = rest.split_at(n);
            let buf = d.read_buffer(512);
            assert!(buf.capacity() - buf.len() >= 512);
            buf.extend_from_slice(now);
            rest = later;
            step = step % 977 + 331;
            reads += 1;
            got.extend(frames(&mut d));
        }
        assert!(reads > 200, "{reads}");
        assert_eq!(got, want);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn memory_of_a_huge_frame_is_given_back() {
        let mut d = FrameDecoder::new(64 * 1024 * 1024);
        let mut big = vec![b'7'; 9 * 1024 * 1024];
        big.push(DELIMITER);
        d.push(&big);
        assert_eq!(frames(&mut d).len(), 1);
        d.push(b"{}\x0c");
        assert_eq!(frames(&mut d), vec![Ok(b"{}".to_vec())]);
        assert!(d.buf.capacity() <= KEEP_CAPACITY, "{}", d.buf.capacity());
        // Frames of ordinary size keep the buffer they have.
        let mut mid = vec![b'1'; 300 * 1024];
        mid.push(DELIMITER);
        for _ in 0..3 {
            d.push(&mid);
            assert_eq!(frames(&mut d).len(), 1);
        }
        let kept = d.buf.capacity();
        d.push(&mid);
        assert_eq!(frames(&mut d).len(), 1);
        assert_eq!(d.buf.capacity(), kept);
    }

    #[test]
    fn oversized_frame_is_dropped_and_stream_resyncs() {
        let mut d = FrameDecoder::new(8);
        d.push(b"0123456789");
        assert_eq!(frames(&mut d), vec![Err(())]);
        d.push(b"abcdef\x0cok\x0c");
        // The rest of the oversized frame is discarded silently; the next is fine.
        assert_eq!(frames(&mut d), vec![Ok(b"ok".to_vec())]);
        // Oversized but complete within one read.
        d.push(b"0123456789abc\x0cfine\x0c");
        assert_eq!(frames(&mut d), vec![Err(()), Ok(b"fine".to_vec())]);
        // The limit reported is the decoder's own.
        d.push(b"0123456789\x0c");
        assert_eq!(d.next_frame(), Some(Decoded::TooLarge { limit: 8 }));
    }

    #[test]
    fn encodes_frames() {
        let mut out = Vec::new();
        encode_frame(&mut out, "message", "{\"x\":1}");
        assert_eq!(out, b"{\"type\":\"message\",\"data\":{\"x\":1}}\x0c".to_vec());
    }
}
