//! String literals as V8 reads and writes them: which bytes end a verbatim run, how escapes
//! decode (lone surrogates included), and how JSON.stringify writes each character back.
//!
//! The parser, the canonical output and the public readers and writers all use these rules, so
//! they live once, apart from any of them.

use std::borrow::Cow;

use super::numbers::SmallText;
use super::{JsonError, JsonErrorKind};

/// Bytes that end a run of verbatim string content: the closing quote, the backslash, and
/// control characters (illegal raw in JSON.parse input, escaped by JSON.stringify). Every other
/// byte, including all of multi-byte UTF-8, '/', DEL, U+2028 and U+2029, passes through as is.
pub(super) const STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// One decoded string escape: a character, or a UTF-16 surrogate without its partner. JSON.parse
/// keeps such lone surrogates and JSON.stringify re-escapes them; Rust's `char` cannot hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Char(char),
    LoneSurrogate(u16),
}

/// Decodes the escape whose backslash is at `at`; returns it and the offset just past it.
/// A high-surrogate `\uXXXX` immediately followed by a low-surrogate `\uXXXX` forms one character.
pub(super) fn decode_escape(bytes: &[u8], at: usize) -> Result<(Unit, usize), JsonError> {
    let c = match bytes.get(at + 1) {
        Some(&c) => c,
        None => {
            return Err(JsonError {
                offset: at + 1,
                kind: JsonErrorKind::UnexpectedEnd,
            })
        }
    };
    let simple = match c {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return decode_unicode_escape(bytes, at),
        _ => {
            return Err(JsonError {
                offset: at,
                kind: JsonErrorKind::BadEscape,
            })
        }
    };
    Ok((Unit::Char(simple), at + 2))
}

fn decode_unicode_escape(bytes: &[u8], at: usize) -> Result<(Unit, usize), JsonError> {
    let first = hex4(bytes, at)?;
    let next = at + 6;
    if (0xD800..0xDC00).contains(&first) {
        let pair = low_surrogate_escape(bytes, next).and_then(|second| {
            char::from_u32(
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00),
            )
        });
        return Ok(match pair {
            Some(c) => (Unit::Char(c), next + 6),
            // Not followed by a low surrogate: stays lone; what follows is decoded on its own.
            None => (Unit::LoneSurrogate(first), next),
        });
    }
    match char::from_u32(u32::from(first)) {
        Some(c) => Ok((Unit::Char(c), next)),
        None => Ok((Unit::LoneSurrogate(first), next)),
    }
}

/// The low surrogate written as a `\uXXXX` escape at `at`, if that is what is there.
fn low_surrogate_escape(bytes: &[u8], at: usize) -> Option<u16> {
    if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
        return None;
    }
    hex4(bytes, at)
        .ok()
        .filter(|u| (0xDC00..0xE000).contains(u))
}

/// The four hex digits of the `\uXXXX` escape whose backslash is at `at`.
fn hex4(bytes: &[u8], at: usize) -> Result<u16, JsonError> {
    let mut value = 0u16;
    for i in at + 2..at + 6 {
        let digit = match bytes.get(i) {
            None => {
                return Err(JsonError {
                    offset: i,
                    kind: JsonErrorKind::UnexpectedEnd,
                })
            }
            Some(&h) => match h {
                b'0'..=b'9' => h - b'0',
                b'a'..=b'f' => h - b'a' + 10,
                b'A'..=b'F' => h - b'A' + 10,
                _ => {
                    return Err(JsonError {
                        offset: at,
                        kind: JsonErrorKind::BadEscape,
                    })
                }
            },
        };
        value = (value << 4) | u16::from(digit);
    }
    Ok(value)
}

/// Appends how JSON.stringify writes one unit inside a string literal: short escapes for quote,
/// backslash and the five named controls, `\u00xx` (lower-case) for other controls, `\udxxx` for
/// lone surrogates, and everything else as raw UTF-8.
pub(super) fn escape_unit(unit: Unit, out: &mut SmallText) {
    let c = match unit {
        Unit::LoneSurrogate(u) => return push_u_escape(out, u),
        Unit::Char(c) => c,
    };
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x20 => push_u_escape(out, u32::from(c) as u16),
        c => out.push_str(c.encode_utf8(&mut [0u8; 4])),
    }
}

fn push_u_escape(out: &mut SmallText, u: u16) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX_DIGITS[usize::from((u >> shift) & 0xF)]);
    }
}

/// Decodes a string literal (quotes included) that the parser has already accepted.
/// Lone surrogates become U+FFFD. Borrows when there is nothing to decode.
pub(super) fn decode_string_literal(literal: &str) -> Cow<'_, str> {
    let content = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or("");
    let bytes = content.as_bytes();
    let Some(first_escape) = bytes.iter().position(|&b| b == b'\\') else {
        return Cow::Borrowed(content);
    };
    let mut out = String::with_capacity(content.len());
    let mut run_start = 0;
    let mut i = first_escape;
    loop {
        out.push_str(content.get(run_start..i).unwrap_or(""));
        let Ok((unit, next)) = decode_escape(bytes, i) else {
            break; // Unreachable for validated input; stop rather than guess.
        };
        out.push(match unit {
            Unit::Char(c) => c,
            Unit::LoneSurrogate(_) => char::REPLACEMENT_CHARACTER,
        });
        run_start = next;
        let rest = bytes.get(next..).unwrap_or(&[]);
        match rest.iter().position(|&b| b == b'\\') {
            Some(offset) => i = next + offset,
            None => {
                out.push_str(content.get(next..).unwrap_or(""));
                break;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use crate::wire::json::tests::{canon, is_borrowed};

    #[test]
    fn string_escapes_are_reencoded_like_json_stringify() {
        // Expected outputs produced by JSON.stringify(JSON.parse(...)) in V8.
        let cases = [
            (r#""\u00E9""#, "\"é\""),
            (r#""\u00e9""#, "\"é\""),
            (r#""\/""#, "\"/\""),
            (r#""/""#, "\"/\""),
            (r#""\u0000\u001F\b""#, r#""\u0000\u001f\b""#),
            (r#""\u0008\u000c\u000A\u000D\u0009""#, r#""\b\f\n\r\t""#),
            (r#""\u0022\u005c""#, r#""\"\\""#),
            (r#""\u007f\u2028\u2029""#, "\"\u{7f}\u{2028}\u{2029}\""),
            (r#""\u0041\u004a""#, "\"AJ\""),
            (r#""\ud800x""#, r#""\ud800x""#),
            (r#""\uD800x""#, r#""\ud800x""#),
            (r#""\uDC00""#, r#""\udc00""#),
            (r#""\udc00\ud800""#, r#""\udc00\ud800""#),
            (r#""\ud83d\u0041""#, r#""\ud83dA""#),
            (r#""\ud83d\ud83d\ude00""#, "\"\\ud83d😀\""),
            (r#""\uD83D\uDE00""#, "\"😀\""),
            (r#""\ud83d\ude00""#, "\"😀\""),
            (r#""😀é\u0001""#, r#""😀é\u0001""#),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "input {input}");
        }
    }

    #[test]
    fn canonical_strings_stay_borrowed() {
        for s in [
            r#""plain""#,
            r#""q\"b\\n\nt\tr\rb\bf\f""#,
            r#""\u0000\u001f\u0007\u000b""#,
            r#""\ud800 lone stays escaped""#,
            "\"é 😀 \u{7f} \u{2028} /\"",
        ] {
            assert!(is_borrowed(s), "{s} should be canonical");
        }
        for s in [
            r#""\u0041""#,
            r#""\/""#,
            r#""\u001F""#,
            r#""\uD800""#,
            r#""\u00e9""#,
        ] {
            assert!(!is_borrowed(s), "{s} is not canonical");
        }
    }
}
