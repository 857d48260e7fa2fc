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

    /// The buffer, when every byte in it is consumed, for the reader to
    /// keep elsewhere until its next read; the decoder is left with none
    /// (`read_buffer` makes one, or [`FrameDecoder::give_buffer`] gives it
    /// one). None while a frame is incomplete: its beginning stays here.
    pub fn take_buffer(&mut self) -> Option<Vec<u8>> {
        if self.start != self.buf.len() || !self.has_buffer() {
            return None;
        }
        self.start = 0;
        self.scanned = 0;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        Some(buf)
    }

    /// Whether the decoder holds a buffer (see [`FrameDecoder::take_buffer`]).
    pub fn has_buffer(&self) -> bool {
        self.buf.capacity() > 0
    }

    /// Gives a decoder left without a buffer (see
    /// [`FrameDecoder::take_buffer`]) `buf` to read into, emptied; returns
    /// it when the decoder has one.
    pub fn give_buffer(&mut self, mut buf: Vec<u8>) -> Option<Vec<u8>> {
        if self.has_buffer() {
            return Some(buf);
        }
        buf.clear();
        self.buf = buf;
        self.start = 0;
        self.scanned = 0;
        None
    }

    /// Bytes held that belong to a frame not complete yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, if one is buffered.
    #[cfg(any(test, feature = "internals"))]
    pub fn next_frame(&mut self) -> Option<Decoded<'_>> {
        self.frames().next()
    }

    /// The complete frames buffered, in order, each borrowed from the
    /// buffer for as long as the iterator lives: a reader can keep every
    /// frame of one read (and what it decoded of them) and hand them on
    /// together, rather than one at a time. What the iterator yields is
    /// consumed, as [`FrameDecoder::next_frame`] consumes it.
    pub fn frames(&mut self) -> Frames<'_> {
        let FrameDecoder { buf, start, scanned, max, discarding } = self;
        Frames { buf: buf.as_slice(), start, scanned, max: *max, discarding }
    }
}

/// The frames a [`FrameDecoder`] holds: see [`FrameDecoder::frames`].
#[derive(Debug)]
pub struct Frames<'a> {
    buf: &'a [u8],
    start: &'a mut usize,
    scanned: &'a mut usize,
    max: usize,
    discarding: &'a mut bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Decoded<'a>;

    fn next(&mut self) -> Option<Decoded<'a>> {
        loop {
            let from = (*self.scanned).max(*self.start);
            match memchr::memchr(DELIMITER, &self.buf[from..]) {
                Some(rel) => {
                    let end = from + rel;
                    let begin = *self.start;
                    *self.start = end + 1;
                    *self.scanned = *self.start;
                    if *self.discarding {
                        // The tail of a frame already reported as too large.
                        *self.discarding = false;
                        continue;
                    }
                    if end - begin > self.max {
                        return Some(Decoded::TooLarge { limit: self.max });
                    }
                    return Some(Decoded::Frame(&self.buf[begin..end]));
                }
                None => {
                    *self.scanned = self.buf.len();
                    let over = self.buf.len() - *self.start > self.max;
                    if *self.discarding || over {
                        // All of it is thrown away: consumed, so the next
                        // compaction clears it (frames yielded before
                        // are still borrowed from it).
                        *self.start = self.buf.len();
                    }
                    if over && !*self.discarding {
                        *self.discarding = true;
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

/// Frames are written in blocks of this many bytes (see [`lay_out_blocks`]).
/// A divisor of 64 KiB, the most a Node socket reads at once.
pub const BLOCK: usize = 4096;

/// Lays out frames so that every `BLOCK`th byte of the stream ends one.
///
/// Node reads a socket 64 KiB at a time, and node-ipc 8.10.3 (the JS
/// kernel's transport) appends each read to one string that it parses only
/// when a read ends on a delimiter; until then every read copies the whole
/// string again. A reader that lags behind a fast sender reads full 64 KiB
/// pieces, so with frames of any size its reads almost never end on a
/// delimiter, and the string it copies on every read grows to megabytes.
/// Here a frame that would cross into the next block ends the block instead:
/// the frame before it is padded with spaces in front of its delimiter
/// (whitespace after a JSON text, which every JSON reader skips), and every
/// write ends a block. The stream of a link is then a run of whole blocks,
/// so every read that starts where a write ended and is a multiple of
/// `BLOCK` long ends on a delimiter, and the JS reader parses each read as
/// it comes. A frame longer than a block fills as many as it needs.
/// Costs about half a frame of spaces per block.
///
/// `text` holds whole frames, each ending with the delimiter at the matching
/// offset of `ends`; they are appended to `out` (their new ends to
/// `out_ends`), the stream having `at` bytes of its current block written
/// before them (0 after any whole write).
pub fn lay_out_blocks(text: &str, ends: &[usize], at: usize, out: &mut String, out_ends: &mut Vec<usize>) {
    let mut pos = at % BLOCK;
    let mut start = 0;
    let base = out.len();
    for &end in ends {
        let len = end - start;
        if pos > 0 && len > BLOCK - pos && out.len() > base {
            pad_last(out, out_ends, BLOCK - pos);
            pos = 0;
        }
        out.push_str(&text[start..end]);
        out_ends.push(out.len());
        pos = (pos + len) % BLOCK;
        start = end;
    }
    if pos > 0 && out.len() > base {
        pad_last(out, out_ends, BLOCK - pos);
    }
}

/// A block of spaces, the most [`pad_last`] ever adds, copied in one go:
/// padding char by char cost a busy mesh (small writes, so much padding)
/// more than the copying of the frames themselves.
const SPACES: &str = match std::str::from_utf8(&[b' '; BLOCK]) {
    Ok(s) => s,
    Err(_) => panic!("spaces are ASCII"),
};

/// Puts `n` spaces in front of the delimiter that ends `out`.
fn pad_last(out: &mut String, out_ends: &mut [usize], n: usize) {
    debug_assert_eq!(out.as_bytes().last(), Some(&DELIMITER));
    out.pop();
    let mut left = n;
    while left > 0 {
        let k = left.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        left -= k;
    }
    out.push(DELIMITER as char);
    if let Some(last) = out_ends.last_mut() {
        *last = out.len();
    }
}

/// A frame's text without the padding [`lay_out_blocks`] may have put after
/// it (any JSON whitespace, which JSON.parse ignores there too).
pub fn trim_padding(frame: &str) -> &str {
    let b = frame.as_bytes();
    let mut end = b.len();
    // Padding is spaces, up to a block of them: skipped 32 at a time (a
    // compare the compiler does in a few instructions), the rest one by one.
    while end >= 32 && b[end - 32..end] == [b' '; 32] {
        end -= 32;
    }
    while end > 0 && matches!(b[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        end -= 1;
    }
    // Only ASCII was cut: `end` is a character boundary.
    &frame[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laid(frames: &[&str], at: usize) -> (String, Vec<usize>) {
        let mut text = String::new();
        let mut ends = Vec::new();
        for f in frames {
            text.push_str(f);
            text.push('\x0c');
            ends.push(text.len());
        }
        let (mut out, mut out_ends) = (String::new(), Vec::new());
        lay_out_blocks(&text, &ends, at, &mut out, &mut out_ends);
        (out, out_ends)
    }

    fn texts(d: &mut FrameDecoder) -> Vec<String> {
        d.frames()
            .map(|f| match f {
                Decoded::Frame(b) => String::from_utf8_lossy(b).into_owned(),
                Decoded::TooLarge { .. } => "too large".into(),
            })
            .collect()
    }

    #[test]
    fn a_decoder_gives_up_its_buffer_only_between_frames() {
        let mut d = FrameDecoder::new(1024);
        d.push(b"ab");
        assert!(texts(&mut d).is_empty());
        assert!(d.take_buffer().is_none(), "a frame's beginning stays");
        d.push(b"c\x0cde");
        assert_eq!(texts(&mut d), ["abc"]);
        assert!(d.take_buffer().is_none(), "a frame's beginning stays");
        d.push(b"\x0c");
        assert_eq!(texts(&mut d), ["de"]);
        let buf = d.take_buffer().expect("all consumed");
        assert!(buf.is_empty() && buf.capacity() > 0);
        let at = buf.as_ptr();
        assert!(!d.has_buffer());
        assert!(d.take_buffer().is_none(), "none left to give");
        // Without a buffer it still reads, into one of its own.
        d.push(b"x\x0c");
        assert_eq!(texts(&mut d), ["x"]);
        // A decoder that has one keeps it; one without takes the one given.
        let buf = d.give_buffer(buf).expect("has one of its own");
        let own = d.take_buffer().expect("all consumed");
        assert!(d.give_buffer(buf).is_none());
        assert!(d.has_buffer());
        assert_eq!(d.read_buffer(16).as_ptr(), at, "reads into the buffer given");
        d.read_buffer(16).extend_from_slice(b"yz\x0cw");
        assert_eq!(texts(&mut d), ["yz"]);
        assert_eq!(d.pending(), 1);
        drop(own);
    }

    /// Every multiple of BLOCK (from the start of a write) ends a frame, the
    /// write ends a block, and the frames read back as they were sent.
    #[test]
    fn blocks_end_on_delimiters() {
        let small = "{\"type\":\"message\",\"data\":{\"a\":1}}";
        let big = format!("{{\"type\":\"message\",\"data\":\"{}\"}}", "x".repeat(BLOCK + 100));
        let mut frames: Vec<&str> = vec![small; 100];
        frames.insert(40, &big);
        let (out, ends) = laid(&frames, 0);
        assert_eq!(out.len() % BLOCK, 0);
        assert_eq!(ends.len(), frames.len());
        assert_eq!(*ends.last().unwrap(), out.len());
        let bytes = out.as_bytes();
        for k in 1..=out.len() / BLOCK {
            let at = k * BLOCK;
            // Inside the big frame there is no delimiter to end on.
            let inside_big = ends[39] < at && at < ends[40];
            assert!(inside_big || bytes[at - 1] == DELIMITER, "block {k} does not end a frame");
        }
        for (i, w) in ends.windows(2).enumerate() {
            assert_eq!(bytes[w[1] - 1], DELIMITER);
            let text = std::str::from_utf8(&bytes[w[0]..w[1] - 1]).unwrap();
            assert_eq!(trim_padding(text), frames[i + 1]);
        }
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
        d.push(bytes);
        let got: Vec<String> = frames_of(&mut d);
        assert_eq!(got, frames);
    }

    /// Frames already laid out are laid out again unchanged, from where
    /// their block was: the rest of a write the socket cut keeps the grid.
    #[test]
    fn laying_out_again_changes_nothing() {
        let frames: Vec<String> = (0..300).map(|i| format!("{{\"n\":{}}}", "7".repeat(i % 37))).collect();
        let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
        let (out, ends) = laid(&refs, 0);
        let (mut again, mut again_ends) = (String::new(), Vec::new());
        lay_out_blocks(&out, &ends, 0, &mut again, &mut again_ends);
        assert_eq!(again, out);
        assert_eq!(again_ends, ends);
        // From the 10th frame on, starting inside its block.
        let from = ends[9];
        let rest: Vec<usize> = ends[10..].iter().map(|e| e - from).collect();
        let (mut tail, mut tail_ends) = (String::new(), Vec::new());
        lay_out_blocks(&out[from..], &rest, from, &mut tail, &mut tail_ends);
        assert_eq!(tail, out[from..]);
    }

    fn frames_of(d: &mut FrameDecoder) -> Vec<String> {
        frames(d).into_iter().map(|f| trim_padding(std::str::from_utf8(&f.unwrap()).unwrap()).to_string()).collect()
    }

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
    fn a_read_s_frames_are_borrowed_together() {
        let mut d = FrameDecoder::new(8);
        // Complete frames, an oversized one between them, and a partial one.
        d.push(b"one\x0ctwo\x0c0123456789\x0cthree\x0cpar");
        let got: Vec<Decoded<'_>> = d.frames().collect();
        assert_eq!(got, vec![Decoded::Frame(b"one"), Decoded::Frame(b"two"), Decoded::TooLarge { limit: 8 }, Decoded::Frame(b"three")]);
        assert_eq!(d.pending(), 3);
        d.push(b"tial\x0c");
        assert_eq!(d.frames().collect::<Vec<_>>(), vec![Decoded::Frame(b"partial")]);
        // A partial frame over the limit is reported once and thrown away,
        // after the frames before it, which stay readable.
        d.push(b"ok\x0c0123456789");
        let got: Vec<Decoded<'_>> = d.frames().collect();
        assert_eq!(got, vec![Decoded::Frame(b"ok"), Decoded::TooLarge { limit: 8 }]);
        assert_eq!(d.pending(), 0);
        d.push(b"abc\x0cnext\x0c");
        assert_eq!(d.frames().collect::<Vec<_>>(), vec![Decoded::Frame(b"next")]);
    }

    #[test]
    fn encodes_frames() {
        let mut out = Vec::new();
        encode_frame(&mut out, "message", "{\"x\":1}");
        assert_eq!(out, b"{\"type\":\"message\",\"data\":{\"x\":1}}\x0c".to_vec());
    }
}
