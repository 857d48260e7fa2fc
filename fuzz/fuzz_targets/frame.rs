//! The frame decoder against a reference: the whole stream split at every
//! form feed. However the bytes are cut into reads, each complete frame of at
//! most `max` bytes comes out whole and in order, each longer one is reported
//! once as too large (and its bytes dropped), and the decoder never holds
//! much more than `max` bytes plus the last read.
//!
//! Input: two bytes choose the limit (1..=4096), one seeds the read sizes,
//! the rest is the stream.

#![no_main]

use clusterluck_native::internals::frame::{Decoded, FrameDecoder, DELIMITER};
use libfuzzer_sys::fuzz_target;

/// What the decoder should report, in order.
#[derive(Debug, PartialEq)]
enum Want {
    Frame(Vec<u8>),
    TooLarge,
}

fuzz_target!(|input: &[u8]| {
    let [a, b, seed, stream @ ..] = input else { return };
    let max = (u16::from_le_bytes([*a, *b]) as usize % 4096) + 1;

    // The reference: split the whole stream at once.
    let mut want = Vec::new();
    let mut parts = stream.split(|&c| c == DELIMITER).peekable();
    let mut tail_len = 0;
    while let Some(part) = parts.next() {
        let complete = parts.peek().is_some();
        if part.len() > max {
            want.push(Want::TooLarge);
        } else if complete {
            want.push(Want::Frame(part.to_vec()));
        } else {
            tail_len = part.len();
        }
    }

    // The decoder, fed reads of varying sizes (1..=64 bytes, or a large one
    // now and then).
    let mut dec = FrameDecoder::new(max);
    let mut got = Vec::new();
    let mut rng = u32::from(*seed) | 1;
    let mut at = 0;
    while at < stream.len() {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let len = if rng % 16 == 0 { 1 + rng as usize % 8192 } else { 1 + rng as usize % 64 };
        let end = (at + len).min(stream.len());
        let read = &stream[at..end];
        at = end;
        dec.push(read);
        while let Some(d) = dec.next_frame() {
            got.push(match d {
                Decoded::Frame(f) => {
                    assert!(f.len() <= max, "a frame over the limit came out whole");
                    Want::Frame(f.to_vec())
                }
                Decoded::TooLarge { limit } => {
                    assert_eq!(limit, max, "the limit reported is the decoder's");
                    Want::TooLarge
                }
            });
        }
        // Bounded: a partial frame is kept only while it fits the limit.
        assert!(dec.pending() <= max, "{} bytes held with a limit of {max}", dec.pending());
    }
    assert_eq!(got, want);
    let held = if tail_len > max { 0 } else { tail_len };
    assert_eq!(dec.pending(), held, "what is held is the unfinished last frame");
});
