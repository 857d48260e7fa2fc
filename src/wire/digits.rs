//! The body of a Buffer's JSON (`1,2,255,...`) turned back into bytes, a block of text at a time.
//!
//! Node sends a Buffer as `{"type":"Buffer","data":[1,2,255,...]}`, so a 64 KiB chunk arrives as
//! about 234 KB of digits and commas. A reader that takes one element at a time spends most of its
//! time on mispredicted branches: for random bytes, whether the next element has one, two or three
//! digits is a coin toss. On x86_64 with AVX2 (checked at run time) [`parse`] instead decides a
//! whole 32-byte block with the same few dozen vector instructions whatever the digits are, so
//! nothing in the loop depends on the data but how many values a block yields.
//!
//! The idea is that every comma closes the element before it. At each position of a block we
//! compute the number the (up to) three digits just before it spell, as if that position held a
//! comma; the positions that do hold one then pick their values out, in order. Whether the text is
//! well formed (only digits and commas, no empty element, at most three digits, no leading zero,
//! nothing above 255) is likewise a test at every position that looks back at most three bytes,
//! so each block is read with the three bytes before it and nothing is carried across.
//!
//! Everywhere else (other architectures, x86_64 without AVX2) a scalar reader applies the same
//! method to 64-bit words. Both accept exactly the texts `json::byte_array` takes for a compact
//! (whitespace-free) array, and give the same bytes.

/// The bytes of `body`, the text between the brackets of a JSON array written with no whitespace,
/// when it is exactly one or more decimal integers 0..=255 (no sign, no leading zero except "0"
/// itself, no fraction or exponent) separated by single commas. None for anything else (including
/// an empty body: the caller handles "[]").
///
/// Never panics and never reads outside `body`: it is fed straight from the network.
pub fn parse(body: &[u8]) -> Option<Vec<u8>> {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available() {
            // SAFETY: `available` has just confirmed that this CPU has AVX2 and POPCNT, the only
            // features `simd::parse` is compiled to use.
            return unsafe { simd::parse(body) };
        }
    }
    parse_scalar(body)
}

/// Walks `body` a block of `B` bytes at a time, handing `block` a window of `W` = `B` + 3 bytes
/// (the three before the block, where the digits of an element its first comma closes are, then
/// the block) and a mask of the window's block bytes that are text (bit k for byte k).
///
/// The middle of `body` is lent in place. The first block gets a copy with three commas in front,
/// as if an element had just ended; the last, shorter one a copy with a comma after `body`, which
/// closes the last element like any other, and zeros after that, outside the mask. So every
/// element ends at a comma of some window, and no read goes outside `body`.
#[inline(always)]
fn for_each_window<const B: usize, const W: usize>(
    body: &[u8],
    mut block: impl FnMut(&[u8; W], u64) -> Option<()>,
) -> Option<()> {
    const { assert!(W == B + 3 && B <= 64) };
    let n = body.len();
    let mut at = 0;
    if let Some(first) = body.get(..B) {
        let mut window = [b','; W];
        window[3..].copy_from_slice(first);
        block(&window, u64::MAX)?;
        at = B;
    }
    while at >= B && at + B <= n {
        let window: &[u8; W] = body.get(at - 3..at + B)?.try_into().ok()?;
        block(window, u64::MAX)?;
        at += B;
    }
    // Fewer than B bytes are left, so they and the closing comma fit in one window.
    let rest = body.get(at..)?;
    let mut window = [0u8; W];
    let before = if at == 0 {
        b",,,"
    } else {
        body.get(at - 3..at)?
    };
    window[..3].copy_from_slice(before);
    window.get_mut(3..3 + rest.len())?.copy_from_slice(rest);
    *window.get_mut(3 + rest.len())? = b',';
    block(&window, u64::MAX >> (63 - rest.len())) // the rest and the comma
}

/// Which bytes of a block are commas, digits and '0's: bit k for byte k.
#[derive(Clone, Copy)]
struct Masks {
    commas: u64,
    digits: u64,
    zeros: u64,
}

/// [`parse`] without SIMD, for other architectures and CPUs the SIMD path cannot run on.
///
/// The same method as the SIMD path, on 64-bit words: the masks of a 64-byte block are made eight
/// bytes at a time, the checks are bit tests on them (and on the block before's, for what crosses
/// the boundary), and then each comma of the mask closes an element whose digits are the bytes
/// before it. Where elements end thus comes from the mask rather than from reading them, so there
/// is no branch on how many digits an element has, only on how many commas a block has.
fn parse_scalar(body: &[u8]) -> Option<Vec<u8>> {
    // Valid text has at most (n + 1) / 2 elements.
    let mut out = vec![0u8; body.len().div_ceil(2)];
    let mut filled = 0;
    // Before `body` there is, in effect, a comma.
    let mut before = Masks {
        commas: 1 << 63,
        digits: 0,
        zeros: 0,
    };
    for_each_window::<64, 67>(body, |window, live| {
        let text: &[u8; 64] = window.last_chunk()?;
        let mut here = Masks {
            commas: 0,
            digits: 0,
            zeros: 0,
        };
        for (k, word) in text.as_chunks::<8>().0.iter().enumerate() {
            let word = u64::from_le_bytes(*word);
            here.commas |= gather(equal(word, b',')) << (8 * k);
            here.digits |= gather(digit(word)) << (8 * k);
            here.zeros |= gather(equal(word, b'0')) << (8 * k);
        }
        // The masks 1, 2 and 3 bytes back, the first bits coming from the block before.
        let commas1 = here.commas << 1 | before.commas >> 63;
        let digits1 = here.digits << 1 | before.digits >> 63;
        let digits2 = here.digits << 2 | before.digits >> 62;
        let digits3 = here.digits << 3 | before.digits >> 61;
        let zeros1 = here.zeros << 1 | before.zeros >> 63;
        let stray = live & !(here.commas | here.digits);
        let empty = here.commas & commas1; // also a comma first, or last
        let four_digits = here.digits & digits1 & digits2 & digits3;
        let leading_zero = here.digits & zeros1 & !digits2; // after a '0' that starts an element
        if stray | empty | four_digits | leading_zero != 0 {
            return None;
        }
        before = here;
        // Bit k: the byte 2 back is a digit (then it is the tens), the bytes 2 and 3 back both
        // are (then the one 3 back is the hundreds).
        let has_tens = digits2;
        let has_hundreds = digits2 & digits3;
        // Counted in a local: `out` and `filled` live behind the closure's references, and a
        // store and reload of either per element would chain each element to the one before.
        let mut count = filled;
        let mut commas = here.commas;
        while commas != 0 {
            // The comma is window[at + 3], so the element is one to three digits of window[at..].
            let at = commas.trailing_zeros() as usize;
            let Some(&[hundreds, tens, units]) = window.get(at..at + 3) else {
                return None;
            };
            // Weights of 0 rather than branches, which would be taken at random.
            let tens_weight = 10 * (has_tens >> at & 1) as u32;
            let hundreds_weight = 100 * (has_hundreds >> at & 1) as u32;
            let digit = |c: u8| u32::from(c.wrapping_sub(b'0'));
            let value =
                digit(units) + tens_weight * digit(tens) + hundreds_weight * digit(hundreds);
            // In bounds for valid text, which this block has just been found to be.
            *out.get_mut(count)? = u8::try_from(value).ok()?;
            count += 1;
            commas &= commas - 1;
        }
        filled = count;
        Some(())
    })?;
    out.truncate(filled);
    Some(out)
}

/// 0x01 repeated in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The low seven bits of every byte of a word.
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// 0x80 in each byte of `word` that equals `byte`, 0 in the others. Adding to the low seven bits
/// of a byte sets its top bit unless they are zero, and cannot carry into the next byte.
fn equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW7) + LOW7) | x) & !LOW7
}

/// 0x80 in each byte of `word` that is an ASCII digit, 0 in the others.
fn digit(word: u64) -> u64 {
    let low = word & LOW7;
    let from_zero = low + ONES * u64::from(0x80 - b'0'); // top bit set from '0' up
    let past_nine = low + ONES * u64::from(0x80 - b'9' - 1); // top bit set from ':' up
    from_zero & !past_nine & !word & !LOW7 // and not a byte above 0x7f
}

/// Bit k set where byte k of `flags` has its top bit. The multiplication moves bit 8k (after the
/// shift) to bit 56 + k, and nothing else lands in the top byte.
fn gather(flags: u64) -> u64 {
    (flags >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The AVX2 path of [`parse`]; see the module comment for the idea.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// Bytes of text per block, the width of an AVX2 register.
    const BLOCK: usize = 32;

    /// What one block reads: the three bytes before it (the digits of an element its first comma
    /// closes), then the block itself.
    const WINDOW: usize = BLOCK + 3;

    /// Whether this CPU can run [`parse`]. `is_x86_feature_detected!` keeps its answer in a static
    /// after the first call, so asking on every call costs a load and a test.
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt")
    }

    /// [`super::parse`] with AVX2, a 32-byte block at a time.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) fn parse(body: &[u8]) -> Option<Vec<u8>> {
        // Valid text has at most (n + 1) / 2 elements. The slack lets each group of values be
        // written as a whole 8 bytes however few of them are real; the next group overwrites the
        // rest and `truncate` drops what the last one left.
        let mut out = vec![0u8; body.len().div_ceil(2) + 8];
        let mut filled = 0;
        super::for_each_window::<BLOCK, WINDOW>(body, |window, live| {
            block(window, live as u32, &mut out, &mut filled) // BLOCK bits at most
        })?;
        out.truncate(filled);
        Some(out)
    }

    /// For each of the 256 patterns of commas in 8 bytes, the `pshufb` indices that gather the
    /// values at those commas to the front, in order (unused slots 0x80, which gives zero).
    const GATHER: [u64; 256] = {
        let mut table = [0u64; 256];
        let mut pattern = 0;
        while pattern < 256 {
            let mut indices = [0x80u8; 8];
            let mut count = 0;
            let mut bit = 0;
            while bit < 8 {
                if pattern >> bit & 1 == 1 {
                    indices[count] = bit as u8;
                    count += 1;
                }
                bit += 1;
            }
            table[pattern] = u64::from_le_bytes(indices);
            pattern += 1;
        }
        table
    };

    /// Added to a [`GATHER`] entry for the upper 8 bytes of a 16-byte lane (pshufb indexes within
    /// a lane). No byte carries into the next: entries are 0..=7 or 0x80.
    const UPPER_HALF: u64 = 0x0808_0808_0808_0808;

    /// 32 bytes of `window` from `START` on.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load<const START: usize>(window: &[u8; WINDOW]) -> __m256i {
        const { assert!(START + BLOCK <= WINDOW) };
        // SAFETY: the assertion keeps bytes START..START + 32 inside `window`, which stays borrowed
        // for the whole read, and `loadu` takes any alignment. AVX2 is enabled on this function.
        unsafe { _mm256_loadu_si256(window.as_ptr().add(START).cast()) }
    }

    /// A 16-entry table for `pshufb`, in both lanes since AVX2 shuffles within each 16 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn table(entries: [u8; 16]) -> __m256i {
        let lane = u128::from_le_bytes(entries);
        let [low, high] = [lane as u64 as i64, (lane >> 64) as u64 as i64];
        _mm256_set_epi64x(high, low, high, low)
    }

    /// Checks one window's block (the bytes of `live`; the others are padding) and appends the
    /// values its commas close to `out` at `filled`. None if the text is not well formed.
    #[inline]
    #[target_feature(enable = "avx2,popcnt")]
    fn block(window: &[u8; WINDOW], live: u32, out: &mut [u8], filled: &mut usize) -> Option<()> {
        let comma = _mm256_set1_epi8(b',' as i8);
        let zero = _mm256_set1_epi8(b'0' as i8);
        let here = load::<3>(window);
        let back1 = load::<2>(window);
        let back2 = load::<1>(window);
        let back3 = load::<0>(window);

        // What each byte is. A byte is a digit when it minus '0' is at most 9, unsigned. The bytes
        // before the block were checked with the block before (or are the commas put in front of
        // the first), so there a digit is simply not a comma.
        let offset = _mm256_sub_epi8(here, zero);
        let digit = _mm256_cmpeq_epi8(_mm256_min_epu8(offset, _mm256_set1_epi8(9)), offset);
        let is_comma = _mm256_cmpeq_epi8(here, comma);
        let comma1 = _mm256_cmpeq_epi8(back1, comma);
        let comma2 = _mm256_cmpeq_epi8(back2, comma);
        let comma3 = _mm256_cmpeq_epi8(back3, comma);
        let zero1 = _mm256_cmpeq_epi8(back1, zero);

        // The value a comma here would close: digits 1, 2 and 3 bytes back. Saturating subtraction
        // turns a comma into 0, so a shorter element simply has zero tens or hundreds, except that
        // when the byte 2 back is a comma, the one 3 back belongs to the element before and is
        // dropped. (Where the bytes are not digits and commas the result is garbage, but such a
        // block is rejected whatever it says.)
        let units = _mm256_subs_epu8(back1, zero);
        let tens = _mm256_subs_epu8(back2, zero);
        let hundreds = _mm256_andnot_si256(comma2, _mm256_subs_epu8(back3, zero));
        // Bytes cannot multiply, so tables do: 10 * tens, and 100 * hundreds modulo 256.
        let times_ten = table([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 0, 0, 0, 0, 0, 0]);
        let times_hundred = table([
            0, 100, 200, 44, 144, 244, 88, 188, 32, 132, 0, 0, 0, 0, 0, 0,
        ]);
        let below_hundred = _mm256_add_epi8(_mm256_shuffle_epi8(times_ten, tens), units);
        let values = _mm256_add_epi8(_mm256_shuffle_epi8(times_hundred, hundreds), below_hundred);
        // Above 255 means hundreds of 3 or more, or 2 with the rest at 56 or more: saturating
        // addition of 255, or of 199, reaches 255 exactly then (the rest is at most 99).
        let headroom = table([
            0, 0, 199, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0,
        ]);
        let capped = _mm256_adds_epu8(below_hundred, _mm256_shuffle_epi8(headroom, hundreds));
        let too_big = _mm256_cmpeq_epi8(capped, _mm256_set1_epi8(-1));

        // Everything wrong that a byte can show, looking back at most three bytes. The checks are
        // done on vectors, not on bit masks shifted across blocks: that needs no state from the
        // block before, and LLVM turns such mask arithmetic back into slow per-bit vector code.
        let empty = _mm256_and_si256(is_comma, comma1); // also a comma first, or last
        let any_comma_back = _mm256_or_si256(comma1, _mm256_or_si256(comma2, comma3));
        let four_digits = _mm256_andnot_si256(any_comma_back, digit);
        // A digit after a '0' that starts an element.
        let leading_zero = _mm256_and_si256(_mm256_and_si256(digit, zero1), comma2);
        let above_255 = _mm256_and_si256(is_comma, too_big);
        let wrong = _mm256_or_si256(
            _mm256_or_si256(empty, four_digits),
            _mm256_or_si256(leading_zero, above_255),
        );
        let commas = _mm256_movemask_epi8(is_comma) as u32;
        let known = _mm256_movemask_epi8(_mm256_or_si256(is_comma, digit)) as u32;
        if _mm256_movemask_epi8(wrong) != 0 || live & !known != 0 {
            return None;
        }

        // Gather the values at the commas to the front of each 8 bytes, then append the four
        // groups. Each write is a whole 8 bytes; only as many as there were commas count.
        let group = |k: u32| commas >> (8 * k) & 0xff;
        let gather = |k: u32, shift: u64| (GATHER[group(k) as usize] + shift) as i64;
        let order = _mm256_set_epi64x(
            gather(3, UPPER_HALF),
            gather(2, 0),
            gather(1, UPPER_HALF),
            gather(0, 0),
        );
        let packed = _mm256_shuffle_epi8(values, order);
        let groups = [
            _mm256_extract_epi64::<0>(packed),
            _mm256_extract_epi64::<1>(packed),
            _mm256_extract_epi64::<2>(packed),
            _mm256_extract_epi64::<3>(packed),
        ];
        for (k, bytes) in (0..4).zip(groups) {
            // In bounds for valid text (see `parse`), which this block has just been found to be.
            out.get_mut(*filled..*filled + 8)?
                .copy_from_slice(&bytes.to_le_bytes());
            *filled += group(k).count_ones() as usize;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obviously correct reader the fast ones must agree with: split at commas, check each
    /// piece as a string.
    fn reference(body: &[u8]) -> Option<Vec<u8>> {
        if body.is_empty() {
            return None;
        }
        body.split(|&c| c == b',')
            .map(|piece| {
                let ok = (1..=3).contains(&piece.len())
                    && piece.iter().all(u8::is_ascii_digit)
                    && (piece == b"0" || piece[0] != b'0');
                let text = std::str::from_utf8(piece).ok().filter(|_| ok)?;
                u8::try_from(text.parse::<u32>().ok()?).ok()
            })
            .collect()
    }

    /// A copy of `json::byte_array_compact` as it was when this module was written: the scalar
    /// loop [`parse`] is measured against, and a second opinion in the tests.
    fn baseline(raw: &str) -> Option<Vec<u8>> {
        let b = raw.as_bytes();
        let body = b.strip_prefix(b"[")?.strip_suffix(b"]")?;
        let n = body.len();
        let mut out = Vec::with_capacity(n / 2 + 1);
        if n == 0 {
            return Some(out);
        }
        let digit = |c: u8| -> Option<u32> {
            let d = c.wrapping_sub(b'0');
            (d <= 9).then_some(u32::from(d))
        };
        let mut i = 0;
        loop {
            let first = digit(*body.get(i)?)?;
            let mut value = first;
            let mut j = i + 1;
            if j < n && body[j] != b',' {
                if first == 0 {
                    return None; // "01" is not JSON
                }
                value = value * 10 + digit(body[j])?;
                j += 1;
                if j < n && body[j] != b',' {
                    value = value * 10 + digit(body[j])?;
                    j += 1;
                    if value > 255 || (j < n && body[j] != b',') {
                        return None;
                    }
                }
            }
            out.push(value as u8);
            if j == n {
                return Some(out);
            }
            // body[j] is a comma; an element must follow it.
            i = j + 1;
            if i == n {
                return None;
            }
        }
    }

    /// Every reader on `body`, which must all say `want`.
    fn check(body: &[u8], want: Option<&[u8]>) {
        let shown = String::from_utf8_lossy(body);
        assert_eq!(reference(body).as_deref(), want, "reference on {shown:?}");
        assert_eq!(parse(body).as_deref(), want, "parse on {shown:?}");
        assert_eq!(
            parse_scalar(body).as_deref(),
            want,
            "parse_scalar on {shown:?}"
        );
        if let (false, Ok(text)) = (body.is_empty(), std::str::from_utf8(body)) {
            assert_eq!(
                baseline(&format!("[{text}]")).as_deref(),
                want,
                "baseline on {shown:?}"
            );
        }
    }

    /// [`check`] against the reference's answer.
    fn agree(body: &[u8]) {
        check(body, reference(body).as_deref());
    }

    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    fn body_of(bytes: &[u8]) -> Vec<u8> {
        let texts: Vec<String> = bytes.iter().map(u8::to_string).collect();
        texts.join(",").into_bytes()
    }

    #[test]
    fn agrees_with_the_reference_on_random_text() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"0123456789,- ]x";
        let pick =
            |next: &mut dyn FnMut() -> u64| alphabet[(next() % alphabet.len() as u64) as usize];
        for round in 0..3000 {
            // Valid arrays of 0..3000 bytes of text, from byte distributions that favour one, two
            // or three digits, or none.
            let target = (next() % 3000) as usize;
            let mut bytes = Vec::new();
            let mut body = Vec::new();
            while body.len() < target {
                let r = next();
                let byte = match round % 4 {
                    0 => (r >> 20) as u8,
                    1 => (r >> 20) as u8 % 10,
                    2 => 100 + (r >> 20) as u8 % 156,
                    _ => (r >> 20) as u8 % 100,
                };
                if !body.is_empty() {
                    body.push(b',');
                }
                body.extend_from_slice(byte.to_string().as_bytes());
                bytes.push(byte);
            }
            check(&body, (!bytes.is_empty()).then_some(&bytes[..]));
            // One character flipped, inserted or deleted.
            for _ in 0..4 {
                let mut mutated = body.clone();
                let at = (next() as usize) % (mutated.len() + 1);
                match next() % 3 {
                    0 if at < mutated.len() => mutated[at] = pick(&mut next),
                    1 => mutated.insert(at, pick(&mut next)),
                    _ if at < mutated.len() => {
                        mutated.remove(at);
                    }
                    _ => mutated.push(pick(&mut next)),
                }
                agree(&mutated);
            }
        }
        // Short strings over the same alphabet, and over all bytes, up to past two blocks.
        for _ in 0..200_000 {
            let len = (next() % 70) as usize;
            let text: Vec<u8> = (0..len).map(|_| pick(&mut next)).collect();
            agree(&text);
        }
        for _ in 0..20_000 {
            let len = (next() % 70) as usize;
            let text: Vec<u8> = (0..len).map(|_| (next() >> 30) as u8).collect();
            agree(&text);
        }
    }

    #[test]
    fn edge_cases() {
        check(b"0", Some(&[0]));
        check(b"255", Some(&[255]));
        check(
            b"9,10,99,100,199,200,249,250",
            Some(&[9, 10, 99, 100, 199, 200, 249, 250]),
        );
        for bad in [
            "256", "01", "00", "1,", ",1", "1,,2", "1000", "-1", "", "1 ,2", ",", ",,", "0,",
            "300", "999", "260", "1,2,", "1,02", "1,010", "1,2550", "+1", "1.0", "1e2", "[1]",
            "1]", " 1",
        ] {
            check(bad.as_bytes(), None);
        }

        // Around every block boundary: a prefix of valid elements of each length 0..=100, then an
        // element of each kind, then a closing element (or none, so the element is the last).
        let prefix = |len: usize| -> Vec<u8> {
            // "1," and "10," pieces add up to any length but 1.
            let mut p = Vec::new();
            while p.len() < len {
                p.extend_from_slice(if len - p.len() == 3 || len - p.len() == 5 {
                    b"10,"
                } else {
                    b"1,"
                });
            }
            p
        };
        for len in (0..=100).filter(|&l| l != 1) {
            let head = prefix(len);
            assert_eq!(head.len(), len);
            for element in [
                "0", "7", "42", "100", "255", "199", "256", "01", "00", "1000", "x", "-1", "",
            ] {
                for tail in ["", ",3", ",250", ","] {
                    let mut body = head.clone();
                    body.extend_from_slice(element.as_bytes());
                    body.extend_from_slice(tail.as_bytes());
                    agree(&body);
                }
            }
        }

        // A final element that ends exactly at a 16- or 32-byte boundary, of each width.
        for end in [16, 32, 48, 64, 96, 128] {
            for last in ["5", "77", "222"] {
                let mut body = prefix(end - last.len());
                body.extend_from_slice(last.as_bytes());
                assert_eq!(body.len(), end);
                agree(&body);
                assert!(parse(&body).is_some());
            }
        }

        // All one digit, all three digits, every byte value, at many lengths.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for len in [1, 2, 15, 16, 17, 31, 32, 33, 1000, 5000] {
            let small: Vec<u8> = (0..len).map(|_| (next() % 10) as u8).collect();
            let large: Vec<u8> = (0..len).map(|_| 100 + (next() % 156) as u8).collect();
            for bytes in [small, large] {
                check(&body_of(&bytes), Some(&bytes));
            }
        }
        let every: Vec<u8> = (0..=255).collect();
        check(&body_of(&every), Some(&every));
    }

    #[test]
    #[ignore]
    fn speed_probe() {
        // 64 KiB as the json codec probe makes them, and from xorshift: the first sequence repeats
        // its pattern of digit counts often enough for a branch predictor to learn some of it.
        let weyl = (0..1u32 << 16)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let random = (0..1 << 16).map(|_| (next() >> 32) as u8).collect();
        for (name, bytes) in [("multiplicative", weyl), ("xorshift", random)] {
            let bytes: Vec<u8> = bytes;
            let body = body_of(&bytes);
            let text = format!("[{}]", String::from_utf8_lossy(&body));
            assert_eq!(parse(&body).as_deref(), Some(&bytes[..]));
            assert_eq!(parse_scalar(&body).as_deref(), Some(&bytes[..]));
            assert_eq!(baseline(&text).as_deref(), Some(&bytes[..]));
            let time = |f: &dyn Fn() -> Option<Vec<u8>>| {
                // The best of a few short runs, as the machine may be busy.
                let rounds = 40;
                (0..5)
                    .map(|_| {
                        let started = std::time::Instant::now();
                        for _ in 0..rounds {
                            std::hint::black_box(f());
                        }
                        started.elapsed().as_secs_f64() * 1e9 / (rounds * bytes.len()) as f64
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let fast = time(&|| parse(std::hint::black_box(&body)));
            let scalar = time(&|| parse_scalar(std::hint::black_box(&body)));
            let base = time(&|| baseline(std::hint::black_box(&text)));
            println!(
                "{name} bytes ({} elements, {} bytes of text), ns per element: parse {fast:.2}, \
                 parse_scalar {scalar:.2}, baseline byte_array_compact {base:.2} ({:.1}x)",
                bytes.len(),
                body.len(),
                base / fast
            );
        }
    }
}
