//! JSON text exactly as a JavaScript peer sees it.
//!
//! The JS side of the protocol signs `JSON.stringify(value)` with HMAC. To verify such a signature
//! we must reproduce, byte for byte, what V8 prints for `JSON.stringify(JSON.parse(text))`: no
//! whitespace, V8's string escaping, `Number.prototype.toString` for numbers, integer-like keys
//! hoisted to the front of objects, and "first position, last value" for duplicate keys.
//!
//! Everything here reads untrusted network data, so no input may cause a panic: all byte access
//! goes through `get`, nothing derived from input is unwrapped, and nesting is capped (at
//! `MAX_DEPTH` levels) so recursion and stack use stay bounded.
//!
//! The common case is text a JS peer already produced, which is canonical. [`canonicalize`] then
//! returns the input itself, without allocating the output, so that verification costs one scan.
//!
//! Inside, the public API is here and each part has a file of its own: `error` (what a failed
//! read reports), `parse` (the one parser every reader runs), `strings` (escapes read and
//! written as V8 does), `numbers` (numbers printed as JS prints them) and `canonical` (the
//! output [`canonicalize`] builds). Each part's tests sit beside it; `tests` holds those that go
//! through the whole module.

mod canonical;
mod error;
mod numbers;
mod parse;
mod strings;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use canonical::Canonical;
use numbers::{format_number, SmallText};
use parse::{skip_ws_from, trim_ws, Discard, Parser};
use strings::{decode_string_literal, escape_unit, Unit, STRING_SPECIAL};

pub use error::{JsonError, JsonErrorKind};

/// Deepest nesting of arrays and objects we accept. Bounds recursion (and thus stack use) on
/// hostile input such as a megabyte of `[`. JSON.stringify on Node's default stack writes up to
/// about 4,200 levels, and JSON.parse reads any depth, so a JS kernel can send anything up to
/// there; 10,000 levels take well under 1 MiB of stack here (20,000 were measured to fit the
/// 2 MiB of a network thread, validating and canonicalizing).
///
/// A build with debug assertions (a Rust service's `cargo run`, `cargo test`) reads 2,000:
/// its unoptimised frames are several times larger, and 10,000 levels overflowed the 2 MiB of
/// a runtime's worker thread. A peer must not be able to end a process in any build.
pub const MAX_DEPTH: usize = if cfg!(debug_assertions) { 2_000 } else { 10_000 };

/// JSON.stringify(JSON.parse(input)) as V8 computes it. Returns Cow::Borrowed(input) when the input is
/// already in that canonical form (the common case: text a JS peer produced), without allocating.
///
/// Leading and trailing whitespace around an otherwise canonical value also stays borrowed (the
/// result is then the trimmed slice of `input`).
pub fn canonicalize(input: &str) -> Result<Cow<'_, str>, JsonError> {
    let mut parser = Parser::new(input, Canonical::new(input));
    parser.parse_document()?;
    Ok(parser.output.finish())
}

/// Validates that `input` is one JSON value (whitespace allowed around it) — same acceptance as JSON.parse.
///
/// Use it to reject garbage early without paying for any output.
pub fn validate(input: &str) -> Result<(), JsonError> {
    Parser::new(input, Discard).parse_document()
}

/// Appends JSON.stringify(s) for a Rust string (quotes included).
///
/// Needed to build messages the JS peer will sign or verify: the escaping must be V8's, not
/// Rust's `{:?}`.
pub fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut run_start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if STRING_SPECIAL[usize::from(b)] {
            // Special bytes are ASCII, so `i` and `i + 1` are character boundaries.
            out.push_str(s.get(run_start..i).unwrap_or(""));
            let mut escaped = SmallText::new();
            escape_unit(Unit::Char(char::from(b)), &mut escaped);
            out.push_str(escaped.as_str());
            run_start = i + 1;
        }
    }
    out.push_str(s.get(run_start..).unwrap_or(""));
    out.push('"');
}

/// Appends JS Number.prototype.toString semantics as JSON.stringify emits numbers:
/// non-finite -> "null", -0 -> "0", integers without ".0", exponent forms like "1e+21", "1.5e-7".
///
/// Rust's own float formatting differs (`1e21` prints as "1000000000000000000000"), so numbers
/// in signed messages must go through here.
pub fn write_number(out: &mut String, n: f64) {
    let mut text = SmallText::new();
    format_number(n, &mut text);
    out.push_str(text.as_str());
}

/// Members of a JSON object, in text order, each key decoded and each value as its raw (trimmed) text slice,
/// fully validated. Errors if `input` (after whitespace) is not an object. Duplicate keys are kept as they appear.
///
/// This lets a receiver pick a few fields (type, id, payload) out of a message without building
/// a tree; the raw value slices can be handed to [`as_str`], [`as_f64`], [`byte_array`], or to
/// [`canonicalize`] for signature checks. Keys containing lone surrogate escapes decode with
/// U+FFFD in their place, as in [`as_str`].
#[cfg(any(test, feature = "internals"))]
pub fn object_members(input: &str) -> Result<Vec<(Cow<'_, str>, &str)>, JsonError> {
    let mut p = Parser::new(input, Discard);
    p.skip_ws();
    if p.peek() != Some(b'{') {
        return Err(p.unexpected());
    }
    p.enter()?;
    p.pos += 1;
    p.skip_ws();
    let mut members = Vec::new();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            if p.peek() != Some(b'"') {
                return Err(p.unexpected());
            }
            let key_start = p.pos;
            p.parse_string()?;
            let key = input.get(key_start..p.pos).unwrap_or("");
            p.skip_ws();
            p.expect(b':')?;
            p.skip_ws();
            let value_start = p.pos;
            p.parse_value()?;
            let value = input.get(value_start..p.pos).unwrap_or("");
            members.push((decode_string_literal(key), value));
            if !p.separator(b'}')? {
                break;
            }
        }
    }
    p.leave();
    p.skip_ws();
    if p.pos < input.len() {
        return Err(p.error(JsonErrorKind::TrailingCharacters));
    }
    Ok(members)
}

/// Members of an object, found by a fast scan that checks the object's own
/// syntax (braces, keys, colons, commas, nothing after the end) but not its
/// values: `None` when that syntax is wrong. Validating every returned value
/// (with [`validate`], or a stricter reader such as [`byte_array`]) then
/// amounts to validating the whole object. On text that is not JSON the
/// values may be cut wrongly, but it never panics.
///
/// A frame's payload can be hundreds of kilobytes: this lets the envelope be
/// read without parsing the payload more than the one time it must be.
pub fn object_members_trusted(input: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let b = input.as_bytes();
    let mut i = skip_ws_from(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws_from(b, i + 1);
    let mut members = Vec::new();
    if b.get(i) == Some(&b'}') {
        return (skip_ws_from(b, i + 1) == b.len()).then_some(members);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        // Keys are short: validate them here, so that validating each value
        // (as a caller does) amounts to validating the whole object.
        let key_end = {
            let mut p = Parser::new(input, Discard);
            p.pos = i;
            p.parse_string().ok()?;
            p.pos
        };
        let key = input.get(i..key_end)?;
        i = skip_ws_from(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws_from(b, i + 1);
        let value_end = skip_value_trusted(b, value_start)?;
        members.push((decode_string_literal(key), input.get(value_start..value_end)?));
        i = skip_ws_from(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws_from(b, i + 1),
            Some(b'}') => return (skip_ws_from(b, i + 1) == b.len()).then_some(members),
            _ => return None,
        }
    }
}

/// An object's members in order: each key decoded, each value as raw text.
pub type Members<'a> = Vec<(Cow<'a, str>, &'a str)>;

/// The members of the JSON object `input` in one pass that also validates
/// every value except those of the members named in `later`, which are only
/// skipped: the caller validates them itself, or reads them with a stricter
/// reader (a Buffer's byte array), so no byte is parsed twice. An earlier
/// duplicate of a `later` name, which JSON.parse drops, is validated here.
///
/// `Ok(None)` when the object's own syntax is wrong (the caller finds out
/// why with [`validate`]); `Err` for the first invalid value, at its offset
/// in `input`.
pub fn object_members_checked<'a>(input: &'a str, later: &[&str]) -> Result<Option<Members<'a>>, JsonError> {
    let b = input.as_bytes();
    let mut i = skip_ws_from(b, 0);
    if b.get(i) != Some(&b'{') {
        return Ok(None);
    }
    i = skip_ws_from(b, i + 1);
    let mut members: Members<'a> = Vec::with_capacity(8);
    if b.get(i) == Some(&b'}') {
        return Ok((skip_ws_from(b, i + 1) == b.len()).then_some(members));
    }
    let mut skipped = 0usize;
    let mut p = Parser::new(input, Discard);
    loop {
        if b.get(i) != Some(&b'"') {
            return Ok(None);
        }
        p.pos = i;
        if p.parse_string().is_err() {
            return Ok(None);
        }
        let key_end = p.pos;
        let Some(key) = input.get(i..key_end) else { return Ok(None) };
        let key = decode_string_literal(key);
        i = skip_ws_from(b, key_end);
        if b.get(i) != Some(&b':') {
            return Ok(None);
        }
        let value_start = skip_ws_from(b, i + 1);
        let value_end = if later.contains(&key.as_ref()) {
            skipped += 1;
            match skip_value_trusted(b, value_start) {
                Some(end) => end,
                None => return Ok(None),
            }
        } else {
            p.pos = value_start;
            p.depth = 0;
            p.parse_value()?;
            p.pos
        };
        let Some(value) = input.get(value_start..value_end) else { return Ok(None) };
        members.push((key, value));
        i = skip_ws_from(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws_from(b, i + 1),
            Some(b'}') => break,
            _ => return Ok(None),
        }
    }
    if skip_ws_from(b, i + 1) != b.len() {
        return Ok(None);
    }
    // Rare: a `later` name that appears twice. Only its last value is kept
    // (and left to the caller); the ones JSON.parse drops are checked here.
    if skipped > 1 {
        for (k, (key, value)) in members.iter().enumerate() {
            if later.contains(&key.as_ref()) && members[k + 1..].iter().any(|(other, _)| other == key) {
                validate(value).map_err(|mut e| {
                    e.offset += value.as_ptr() as usize - input.as_ptr() as usize;
                    e
                })?;
            }
        }
    }
    Ok(Some(members))
}

/// The end of the string literal starting at `i` (its opening quote).
fn skip_string_trusted(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'"' {
            return Some(k + 1);
        }
        j = k + 2;
    }
}

/// The end of the value starting at `i`, tracking only strings and nesting.
///
/// In JSON, brackets and braces each balance on their own, so the end of an
/// array is found by counting `[` and `]` alone (and of an object, `{` and
/// `}`), skipping strings: three bytes to look for, which `memchr3` finds at
/// memory speed even in a megabyte of numbers. If the text is not JSON the cut
/// may be wrong, which validating the value afterwards catches.
fn skip_value_trusted(b: &[u8], mut i: usize) -> Option<usize> {
    let (open, close) = match *b.get(i)? {
        b'"' => return skip_string_trusted(b, i),
        b'[' => (b'[', b']'),
        b'{' => (b'{', b'}'),
        _ => {
            while let Some(&c) = b.get(i) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            return Some(i);
        }
    };
    let mut depth = 0usize;
    loop {
        i += memchr::memchr3(open, close, b'"', b.get(i..)?)?;
        match b[i] {
            b'"' => {
                i = skip_string_trusted(b, i)?;
                continue;
            }
            c if c == open => depth += 1,
            _ => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
        }
        i += 1;
    }
}

/// If `raw` is a JSON string literal, its decoded value. Lone surrogate escapes (\ud800 alone) decode to U+FFFD here.
///
/// Rust strings cannot hold lone surrogates, hence the replacement. Surrounding JSON whitespace
/// is allowed. Borrows from `raw` when the literal has no escapes.
pub fn as_str(raw: &str) -> Option<Cow<'_, str>> {
    let literal = trim_ws(raw);
    if !literal.starts_with('"') {
        return None;
    }
    let mut p = Parser::new(literal, Discard);
    p.parse_string().ok()?;
    if p.pos != literal.len() {
        return None;
    }
    Some(decode_string_literal(literal))
}

/// If `raw` is a JSON number, its f64 value (as JS would parse it; huge values become infinity).
///
/// Surrounding JSON whitespace is allowed; anything JSON.parse would reject yields `None`.
pub fn as_f64(raw: &str) -> Option<f64> {
    let literal = trim_ws(raw);
    if !matches!(literal.as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
        return None;
    }
    let mut p = Parser::new(literal, Discard);
    p.parse_number().ok()?;
    if p.pos != literal.len() {
        return None;
    }
    literal.parse::<f64>().ok()
}

/// If raw is `true` / `false`.
///
/// A convenience for reading flags out of [`object_members`] values; whitespace is allowed.
pub fn as_bool(raw: &str) -> Option<bool> {
    match trim_ws(raw) {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// If raw is `null`.
///
/// A convenience for optional fields in [`object_members`] values; whitespace is allowed.
pub fn is_null(raw: &str) -> bool {
    trim_ws(raw) == "null"
}

/// If `raw` is a JSON array whose every element is an integer literal 0..=255 written plainly
/// (no fraction, no exponent, no minus sign), the bytes. Otherwise None. Must be fast: it decodes
/// multi-megabyte arrays (Buffers are sent as {"type":"Buffer","data":[1,2,255,...]}).
///
/// Going through a general parser would cost several times more per element, so this is one
/// tight loop over the bytes, with the output sized up front from the number of commas.
/// Whitespace is allowed between tokens, as JSON.parse allows it.
pub fn byte_array(raw: &str) -> Option<Vec<u8>> {
    byte_array_compact(raw).or_else(|| byte_array_general(raw))
}

/// The common case of [`byte_array`]: `JSON.stringify` output, no
/// whitespace, read a block at a time by [`crate::wire::digits::parse`]. Anything
/// else (whitespace, bad input) gives `None`, and the general reader decides.
fn byte_array_compact(raw: &str) -> Option<Vec<u8>> {
    let body = raw.as_bytes().strip_prefix(b"[")?.strip_suffix(b"]")?;
    if body.is_empty() {
        return Some(Vec::new());
    }
    crate::wire::digits::parse(body)
}

/// [`byte_array`] for any spacing JSON.parse allows.
fn byte_array_general(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    let mut i = skip_ws_from(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws_from(b, i + 1);
    if b.get(i) == Some(&b']') {
        return (skip_ws_from(b, i + 1) == b.len()).then(Vec::new);
    }
    let commas = b.iter().filter(|&&c| c == b',').count();
    let mut out = Vec::with_capacity(commas + 1);
    loop {
        let mut value = match b.get(i) {
            Some(&d @ b'0'..=b'9') => u32::from(d - b'0'),
            _ => return None,
        };
        i += 1;
        if value != 0 {
            // A leading "0" takes no further digits ("01" is not JSON); the check below rejects it.
            while let Some(&d @ b'0'..=b'9') = b.get(i) {
                value = value * 10 + u32::from(d - b'0');
                if value > 255 {
                    return None;
                }
                i += 1;
            }
        }
        out.push(u8::try_from(value).ok()?);
        // Fast path: the separator directly follows the number.
        let separator = match b.get(i) {
            Some(&c @ (b',' | b']')) => c,
            _ => {
                i = skip_ws_from(b, i);
                *b.get(i)?
            }
        };
        i += 1;
        match separator {
            b',' => {
                if matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                    i = skip_ws_from(b, i);
                }
            }
            b']' => break,
            _ => return None,
        }
    }
    (skip_ws_from(b, i) == b.len()).then_some(out)
}

/// Appends the JSON array text of bytes, e.g. `[0,1,255]` (no spaces), as JSON.stringify(Buffer.toJSON().data) does.
///
/// Buffers are how binary payloads cross the wire, and they can be megabytes long, so this uses a
/// table of the 256 decimal strings and reserves the worst-case capacity up front.
pub fn write_byte_array(out: &mut String, bytes: &[u8]) {
    // At most three digits plus a comma per byte, plus the brackets.
    out.reserve(bytes.len() * 4 + 2);
    out.push('[');
    // Each byte's text and its comma as 4 bytes copied whole, the cursor then
    // moving by the real length: no per-byte bounds or capacity checks on
    // `out`, one push per block.
    const BLOCK: usize = 1024;
    let mut buf = [0u8; BLOCK * 4 + 4];
    for block in bytes.chunks(BLOCK) {
        let mut len = 0;
        for &b in block {
            let (text, n) = DIGITS_COMMA[usize::from(b)];
            buf[len..len + 4].copy_from_slice(&text);
            len += usize::from(n);
        }
        // Only ASCII digits and commas were written.
        out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
    }
    if !bytes.is_empty() {
        out.pop(); // the last comma
    }
    out.push(']');
}

/// Each byte's decimal text followed by a comma, padded to 4 bytes, and the
/// length that counts.
static DIGITS_COMMA: [([u8; 4], u8); 256] = {
    let mut table = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let d = [(i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8];
        table[i] = if i >= 100 {
            ([b'0' + d[0], b'0' + d[1], b'0' + d[2], b','], 4)
        } else if i >= 10 {
            ([b'0' + d[1], b'0' + d[2], b',', 0], 3)
        } else {
            ([b'0' + d[2], b',', 0, 0], 2)
        };
        i += 1;
    }
    table
};
