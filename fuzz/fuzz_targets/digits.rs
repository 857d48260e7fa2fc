//! The byte-array decoder of Buffers (`1,2,255` -> [1, 2, 255]) against a
//! plain reference, and against the JSON reader's own `byte_array`.
//!
//! Each input is tried as it is and mapped onto digits and commas (most
//! bytes become one of `0123456789,`), so long well-formed arrays, and texts
//! one character away from them, come up often.

#![no_main]

use clusterluck_native::internals::{digits, json};
use libfuzzer_sys::fuzz_target;

/// The bytes of `body`: decimal integers 0..=255, no sign or leading zero,
/// separated by single commas; None for anything else, or nothing at all.
fn reference(body: &[u8]) -> Option<Vec<u8>> {
    if body.is_empty() {
        return None;
    }
    body.split(|&c| c == b',')
        .map(|item| {
            let ok = (1..=3).contains(&item.len())
                && item.iter().all(u8::is_ascii_digit)
                && (item.len() == 1 || item[0] != b'0');
            if !ok {
                return None;
            }
            let n = item.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
            u8::try_from(n).ok()
        })
        .collect()
}

fn check(body: &[u8]) {
    let got = digits::parse(body);
    assert_eq!(got, reference(body), "body {:?}", String::from_utf8_lossy(body));
    // The JSON reader takes the same compact arrays (its "[]" is empty, not
    // None; it also allows whitespace, which `parse` never sees).
    let compact = !body.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if let Ok(text) = std::str::from_utf8(body) {
        if !body.is_empty() && compact {
            let arr = format!("[{text}]");
            assert_eq!(json::byte_array(&arr), got, "json::byte_array disagrees on {arr}");
        }
    }
}

fuzz_target!(|input: &[u8]| {
    check(input);
    const ALPHABET: &[u8; 12] = b"0123456789,,";
    let mapped: Vec<u8> = input
        .iter()
        .map(|&b| if b >= 0xF8 { b"x9 -.e"[usize::from(b - 0xF8) % 6] } else { ALPHABET[usize::from(b) % 12] })
        .collect();
    check(&mapped);
});
