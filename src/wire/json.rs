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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};

/// Deepest nesting of arrays and objects we accept. Bounds recursion (and thus stack use) on
/// hostile input such as a megabyte of `[`. JSON.stringify on Node's default stack writes up to
/// about 4,200 levels, and JSON.parse reads any depth, so a JS kernel can send anything up to
/// there; 10,000 levels take well under 1 MiB of stack here (20,000 were measured to fit the
/// 2 MiB of a network thread, validating and canonicalizing).
pub const MAX_DEPTH: usize = 10_000;

/// Largest property key V8 treats as an array index (2^32 - 2); such keys are enumerated first.
const MAX_ARRAY_INDEX: u64 = 4_294_967_294;

/// Objects with at most this many members are checked for duplicate keys by pairwise comparison,
/// which beats building a hash set for the small objects that dominate real traffic.
const LINEAR_DUPLICATE_SCAN: usize = 16;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why parsing failed, with the byte offset where it did.
///
/// Untrusted input must never bring the process down, so every malformed document is reported
/// as a value; the offset lets logs point at the offending byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset into the input at which the problem was detected.
    pub offset: usize,
    /// What kind of problem it was.
    pub kind: JsonErrorKind,
}

/// The class of a [`JsonError`], so callers can react (or count) without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The input stopped in the middle of a value (truncated message).
    UnexpectedEnd,
    /// A byte that the JSON grammar does not allow at this point (including raw control
    /// characters inside strings).
    UnexpectedChar,
    /// A backslash escape JSON.parse rejects, such as `\x` or `\u12G4`.
    BadEscape,
    /// A malformed number such as `01`, `1.` or `1e`.
    BadNumber,
    /// A complete value followed by something other than whitespace.
    TrailingCharacters,
    /// Arrays/objects nested deeper than the limit we accept.
    TooDeep,
}

impl JsonErrorKind {
    fn describe(self) -> &'static str {
        match self {
            JsonErrorKind::UnexpectedEnd => "unexpected end of input",
            JsonErrorKind::UnexpectedChar => "unexpected character",
            JsonErrorKind::BadEscape => "invalid escape sequence",
            JsonErrorKind::BadNumber => "invalid number",
            JsonErrorKind::TrailingCharacters => "unexpected characters after the value",
            JsonErrorKind::TooDeep => "nesting too deep",
        }
    }
}

/// A one-line human sentence, suitable for logs and for error messages surfaced to JS.
impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid JSON at byte {}: {}",
            self.offset,
            self.kind.describe()
        )
    }
}

/// Lets `JsonError` travel through `?` into boxed / generic error types.
impl std::error::Error for JsonError {}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// JSON.stringify(JSON.parse(input)) as V8 computes it. Returns Cow::Borrowed(input) when the input is
/// already in that canonical form (the common case: text a JS peer produced), without allocating.
///
/// Leading and trailing whitespace around an otherwise canonical value also stays borrowed (the
/// result is then the trimmed slice of `input`).
pub fn canonicalize(input: &str) -> Result<Cow<'_, str>, JsonError> {
    let mut parser = Parser::new(input, Canonical::new(input));
    parser.parse_document()?;
    Ok(parser.sink.finish())
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

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// Receives the canonical output while the parser walks the input. One parser serves both
/// [`canonicalize`] (which builds text) and validation (which discards it), so both accept
/// exactly the same language. Positions passed to `copy` are input byte offsets; `mark` and the
/// member bookkeeping use output offsets.
trait Sink {
    /// A structural byte (`{`, `:`, `"` ...), always ASCII.
    fn byte(&mut self, _b: u8) {}
    /// Input bytes `start..end` that appear verbatim in the output.
    fn copy(&mut self, _start: usize, _end: usize) {}
    /// One decoded string escape.
    fn unit(&mut self, _unit: Unit) {}
    /// A number literal at input `start..end` (grammar already checked). `short_integer` says
    /// it is an integer of at most 15 digits other than "-0", which JS prints unchanged.
    /// Returns false if the literal cannot be parsed.
    fn number(&mut self, _start: usize, _end: usize, _short_integer: bool) -> bool {
        true
    }
    /// Current output length.
    fn mark(&self) -> usize {
        0
    }
    /// Called at an object's `{`, before it is emitted.
    fn object_begin(&mut self) -> ObjectFrame {
        ObjectFrame::default()
    }
    /// A member has been emitted: key from output `start` to `key_end`, value up to `mark()`.
    fn member(&mut self, _start: usize, _key_end: usize) {}
    /// The object's `}` has been emitted.
    fn object_end(&mut self, _frame: ObjectFrame) {}
}

/// Sink for pure validation.
struct Discard;

impl Sink for Discard {}

/// Recursive-descent parser over the input bytes. Recursion depth is bounded by `MAX_DEPTH`.
struct Parser<'a, S> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    sink: S,
}

impl<'a, S: Sink> Parser<'a, S> {
    fn new(input: &'a str, sink: S) -> Self {
        Parser {
            bytes: input.as_bytes(),
            pos: 0,
            depth: 0,
            sink,
        }
    }

    fn error(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    /// The error for a byte that is not allowed here (or for running out of input).
    fn unexpected(&self) -> JsonError {
        if self.pos < self.bytes.len() {
            self.error(JsonErrorKind::UnexpectedChar)
        } else {
            self.error(JsonErrorKind::UnexpectedEnd)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        self.pos = skip_ws_from(self.bytes, self.pos);
    }

    /// Consumes (and emits) the structural byte `b`.
    fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.peek() != Some(b) {
            return Err(self.unexpected());
        }
        self.pos += 1;
        self.sink.byte(b);
        Ok(())
    }

    /// After an array element or object member: consumes a `,` (returns true: another one
    /// follows) or the closing bracket `close` (returns false).
    fn separator(&mut self, close: u8) -> Result<bool, JsonError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.sink.byte(b',');
                self.skip_ws();
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                self.sink.byte(close);
                Ok(false)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(JsonErrorKind::TooDeep));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A whole document: one value, optionally surrounded by whitespace.
    fn parse_document(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        self.parse_value()?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.error(JsonErrorKind::TrailingCharacters));
        }
        Ok(())
    }

    /// One value starting exactly at `pos` (no leading whitespace).
    fn parse_value(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => self.parse_object(),
            Some(b'[') => self.parse_array(),
            Some(b'"') => self.parse_string(),
            Some(b't') => self.parse_literal(b"true"),
            Some(b'f') => self.parse_literal(b"false"),
            Some(b'n') => self.parse_literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            _ => Err(self.unexpected()),
        }
    }

    fn parse_literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let start = self.pos;
        for &expected in word {
            match self.peek() {
                Some(b) if b == expected => self.pos += 1,
                _ => return Err(self.unexpected()),
            }
        }
        self.sink.copy(start, self.pos);
        Ok(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn parse_number(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        if self.peek() == Some(b'0') {
            self.pos += 1;
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(JsonErrorKind::BadNumber));
            }
        } else {
            self.digits()?;
        }
        let int_len = self.pos - int_start;
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        let negative_zero = negative && int_len == 1 && self.bytes.get(int_start) == Some(&b'0');
        let short_integer = integer && int_len <= 15 && !negative_zero;
        if !self.sink.number(start, self.pos, short_integer) {
            return Err(JsonError {
                offset: start,
                kind: JsonErrorKind::BadNumber,
            });
        }
        Ok(())
    }

    /// One or more decimal digits.
    fn digits(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'0'..=b'9') => {}
            Some(_) => return Err(self.error(JsonErrorKind::BadNumber)),
            None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
        }
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos += rest.iter().take_while(|b| b.is_ascii_digit()).count();
        Ok(())
    }

    /// A string literal starting at its opening quote. Runs of ordinary characters are passed
    /// to the sink as input ranges; each escape is decoded and passed as one unit.
    fn parse_string(&mut self) -> Result<(), JsonError> {
        self.expect(b'"')?;
        loop {
            let run_start = self.pos;
            let rest = self.bytes.get(run_start..).unwrap_or(&[]);
            self.pos += rest
                .iter()
                .position(|&b| STRING_SPECIAL[usize::from(b)])
                .unwrap_or(rest.len());
            if self.pos > run_start {
                self.sink.copy(run_start, self.pos);
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    self.sink.byte(b'"');
                    return Ok(());
                }
                Some(b'\\') => {
                    let (unit, next) = decode_escape(self.bytes, self.pos)?;
                    self.pos = next;
                    self.sink.unit(unit);
                }
                // A raw control character: JSON.parse rejects it.
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn parse_array(&mut self) -> Result<(), JsonError> {
        self.enter()?;
        self.expect(b'[')?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.expect(b']')?;
        } else {
            loop {
                self.parse_value()?;
                if !self.separator(b']')? {
                    break;
                }
            }
        }
        self.leave();
        Ok(())
    }

    fn parse_object(&mut self) -> Result<(), JsonError> {
        self.enter()?;
        let frame = self.sink.object_begin();
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.expect(b'}')?;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.unexpected());
                }
                let member_start = self.sink.mark();
                self.parse_string()?;
                let key_end = self.sink.mark();
                self.skip_ws();
                self.expect(b':')?;
                self.skip_ws();
                self.parse_value()?;
                self.sink.member(member_start, key_end);
                if !self.separator(b'}')? {
                    break;
                }
            }
        }
        self.sink.object_end(frame);
        self.leave();
        Ok(())
    }
}

fn skip_ws_from(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

/// Bytes that end a run of verbatim string content: the closing quote, the backslash, and
/// control characters (illegal raw in JSON.parse input, escaped by JSON.stringify). Every other
/// byte, including all of multi-byte UTF-8, '/', DEL, U+2028 and U+2029, passes through as is.
const STRING_SPECIAL: [bool; 256] = {
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
enum Unit {
    Char(char),
    LoneSurrogate(u16),
}

/// Decodes the escape whose backslash is at `at`; returns it and the offset just past it.
/// A high-surrogate `\uXXXX` immediately followed by a low-surrogate `\uXXXX` forms one character.
fn decode_escape(bytes: &[u8], at: usize) -> Result<(Unit, usize), JsonError> {
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
fn escape_unit(unit: Unit, out: &mut SmallText) {
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
fn decode_string_literal(literal: &str) -> Cow<'_, str> {
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

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// A small fixed-capacity text buffer for escapes and numbers, so hot paths never allocate.
/// Every use needs at most 26 bytes; pushes past the capacity are dropped (never reached).
struct SmallText {
    buf: [u8; 40],
    len: usize,
}

impl SmallText {
    fn new() -> Self {
        SmallText {
            buf: [0; 40],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_str(&mut self, s: &str) {
        for &b in s.as_bytes() {
            self.push(b);
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Write for SmallText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(fmt::Error);
        }
        self.push_str(s);
        Ok(())
    }
}

/// Writes `value` as JS `Number.prototype.toString` would, except that non-finite values become
/// "null" (what JSON.stringify prints for them).
///
/// With the shortest round-trip digits d1..dk and the decimal exponent n (value = 0.d1..dk × 10^n),
/// ECMAScript's Number::toString picks plain or exponent layout from k and n.
fn format_number(value: f64, out: &mut SmallText) {
    if !value.is_finite() {
        return out.push_str("null");
    }
    if value == 0.0 {
        return out.push(b'0'); // Also -0, which JS prints as "0".
    }
    if value < 0.0 {
        out.push(b'-');
    }
    let (significand, last) = shortest_decimal(value.abs());
    let mut digit_buf = [0u8; 20];
    let digits = decimal_digits(significand, &mut digit_buf);
    let k = digits.len() as i32;
    let n = last + k;

    if k <= n && n <= 21 {
        // Integer: digits then zeros ("1e20" -> "100000000000000000000").
        push_bytes(out, digits);
        for _ in 0..n - k {
            out.push(b'0');
        }
    } else if 0 < n && n <= 21 {
        // Decimal point inside the digits ("123.456").
        let (int, frac) = digits.split_at((n as usize).min(digits.len()));
        push_bytes(out, int);
        out.push(b'.');
        push_bytes(out, frac);
    } else if -6 < n && n <= 0 {
        // Small number with leading zeros ("0.000001").
        out.push_str("0.");
        for _ in 0..-n {
            out.push(b'0');
        }
        push_bytes(out, digits);
    } else {
        // Exponent form ("1e+21", "1.5e-7").
        let (first, rest) = digits.split_at(1.min(digits.len()));
        push_bytes(out, first);
        if !rest.is_empty() {
            out.push(b'.');
            push_bytes(out, rest);
        }
        out.push(b'e');
        out.push(if n > 0 { b'+' } else { b'-' });
        let _ = write!(out, "{}", (n - 1).unsigned_abs());
    }
}

/// The shortest decimal `significand × 10^last` that reads back as `value` (finite, positive),
/// chosen as ECMAScript specifies: fewest digits, then closest to `value`, then even.
///
/// Rust's `{:e}` prints the shortest closest digits (for example "1.2345e-7") but breaks exact
/// ties upwards, so those are corrected by [`even_tie_neighbor`].
fn shortest_decimal(value: f64) -> (u64, i32) {
    let mut text = SmallText::new();
    // Cannot fail: the longest form ("2.2250738585072014e-308") is 23 bytes.
    let _ = write!(text, "{value:e}");
    let text = text.as_str();
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut significand = 0u64;
    let mut k = 0i32;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        significand = significand
            .wrapping_mul(10)
            .wrapping_add(u64::from(b - b'0'));
        k += 1;
    }
    let last = exponent - (k - 1);
    even_tie_neighbor(value, significand, last).unwrap_or((significand, last))
}

/// When `value` lies exactly halfway between two shortest candidates (1132900541986359.25 lies
/// between ...359.2 and ...359.3) and Rust chose the odd one, returns the even one (without
/// trailing zeros) with its last-digit exponent. JS prints the even one.
fn even_tie_neighbor(value: f64, digits: u64, last: i32) -> Option<(u64, i32)> {
    if digits.is_multiple_of(2) {
        return None;
    }
    for up in [false, true] {
        let (midpoint, neighbor) = if up {
            (digits.checked_mul(10)?.checked_add(5)?, digits + 1)
        } else {
            (digits.checked_mul(10)?.checked_sub(5)?, digits - 1)
        };
        if neighbor == 0 || !decimal_equals(value, midpoint, last - 1) {
            continue;
        }
        // The neighbour must itself read back as `value` (it normally does, being equally close).
        let mut text = SmallText::new();
        if write!(text, "{neighbor}e{last}").is_err() {
            return None;
        }
        if text.as_str().parse::<f64>().ok() != Some(value) {
            continue;
        }
        let (mut neighbor, mut last) = (neighbor, last);
        while neighbor.is_multiple_of(10) {
            neighbor /= 10;
            last += 1;
        }
        return Some((neighbor, last));
    }
    None
}

/// Whether the finite, positive `value` is exactly `n × 10^p`, compared as odd × 2^e on both sides.
fn decimal_equals(value: f64, n: u64, p: i32) -> bool {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7FF) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp2) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    if mantissa == 0 || n == 0 {
        return false;
    }
    let value_odd = mantissa >> mantissa.trailing_zeros();
    let value_exp2 = exp2 + mantissa.trailing_zeros() as i32;

    // n × 10^p = n × 5^p × 2^p; fold the power of five into the odd part.
    let mut odd = n >> n.trailing_zeros();
    let exp2 = n.trailing_zeros() as i32 + p;
    for _ in 0..p.unsigned_abs() {
        if p > 0 {
            match odd.checked_mul(5) {
                Some(next) => odd = next,
                None => return false,
            }
        } else if odd.is_multiple_of(5) {
            odd /= 5;
        } else {
            return false;
        }
    }
    odd == value_odd && exp2 == value_exp2
}

/// The decimal digits of `n` as ASCII, written into `buf`.
fn decimal_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or(&[])
}

fn push_bytes(out: &mut SmallText, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
    }
}

/// True when a number literal (grammar already checked) is exactly what JS would print for it,
/// so the common case skips float parsing and formatting.
///
/// That holds for a plain decimal (no exponent) with at most 15 significant digits, no trailing
/// zero after the point, and fewer than 6 zeros after "0.": every decimal with at most 15
/// significant digits survives a round trip through f64, so its shortest representation is
/// itself, and JS lays such values out without an exponent. "-0" is the exception (prints "0").
fn is_canonical_number(literal: &[u8]) -> bool {
    let negative = literal.first() == Some(&b'-');
    let body = if negative {
        literal.get(1..).unwrap_or(&[])
    } else {
        literal
    };
    if body.iter().any(|&b| b == b'e' || b == b'E') {
        return false;
    }
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (
            body.get(..dot).unwrap_or(&[]),
            body.get(dot + 1..).unwrap_or(&[]),
        ),
        None => (body, &[][..]),
    };
    if frac.last() == Some(&b'0') {
        return false;
    }
    if int == b"0" {
        if frac.is_empty() {
            return !negative;
        }
        let zeros = frac.iter().take_while(|&&b| b == b'0').count();
        zeros <= 5 && frac.len() - zeros <= 15
    } else {
        int.len() + frac.len() <= 15
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical output
// ---------------------------------------------------------------------------------------------

/// Where an object started in the output and where its members start on the member stack.
#[derive(Debug, Clone, Copy, Default)]
struct ObjectFrame {
    out_start: usize,
    first_member: usize,
}

/// One emitted object member, in output offsets: `"key"` is `start..key_end`, the whole
/// `"key":value` is `start..end`. `first` and `last` are the key's first and last content
/// bytes (0 if empty): cheap summaries that let the checks in `object_end` skip most key text.
#[derive(Debug, Clone, Copy, Default)]
struct Member {
    start: usize,
    key_end: usize,
    end: usize,
    first: u8,
    last: u8,
}

impl Member {
    /// False when the keys certainly differ, without looking at their text.
    fn may_equal(&self, other: &Member) -> bool {
        self.key_end - self.start == other.key_end - other.start
            && self.first == other.first
            && self.last == other.last
    }
}

/// Members of all currently open objects. Typical documents fit in the inline array, so
/// canonicalizing them does not touch the heap; larger ones spill into a vector.
struct MemberStack {
    inline: [Member; 64],
    len: usize,
    spill: Vec<Member>,
}

impl MemberStack {
    fn new() -> Self {
        MemberStack {
            inline: [Member::default(); 64],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, member: Member) {
        if self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = member;
                self.len += 1;
                return;
            }
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(member);
        self.len += 1;
    }

    fn since(&self, first: usize) -> &[Member] {
        let all = if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        };
        all.get(first..).unwrap_or(&[])
    }

    fn truncate(&mut self, len: usize) {
        self.len = len.min(self.len);
        if !self.spill.is_empty() {
            self.spill.truncate(self.len);
            if self.len <= self.inline.len() {
                if let Some(dst) = self.inline.get_mut(..self.len) {
                    dst.copy_from_slice(&self.spill);
                }
                self.spill.clear();
            }
        }
    }
}

/// Builds the canonical text. While the output so far equals a slice of the input
/// (`input[start..end]`), nothing is copied; the first difference copies that prefix into an
/// owned string and writing continues there.
struct Canonical<'a> {
    input: &'a str,
    start: usize,
    end: usize,
    owned: Option<String>,
    members: MemberStack,
}

impl<'a> Canonical<'a> {
    fn new(input: &'a str) -> Self {
        let start = skip_ws_from(input.as_bytes(), 0);
        Canonical {
            input,
            start,
            end: start,
            owned: None,
            members: MemberStack::new(),
        }
    }

    fn finish(self) -> Cow<'a, str> {
        match self.owned {
            Some(text) => Cow::Owned(text),
            None => Cow::Borrowed(self.input.get(self.start..self.end).unwrap_or("")),
        }
    }

    /// Switches to (or returns) the owned output.
    fn owned_mut(&mut self) -> &mut String {
        let prefix = self.input.get(self.start..self.end).unwrap_or("");
        let capacity = self.input.len() + 16;
        self.owned.get_or_insert_with(|| {
            let mut text = String::with_capacity(capacity);
            text.push_str(prefix);
            text
        })
    }

    /// Appends generated text, staying borrowed if it matches the input at this point.
    fn text(&mut self, s: &str) {
        if self.owned.is_none() {
            let next = self.end + s.len();
            if self.input.as_bytes().get(self.end..next) == Some(s.as_bytes()) {
                self.end = next;
                return;
            }
        }
        self.owned_mut().push_str(s);
    }

    /// Output text between output offsets `from` and `to`.
    fn slice(&self, from: usize, to: usize) -> &str {
        match &self.owned {
            Some(text) => text.get(from..to).unwrap_or(""),
            None => self
                .input
                .get(self.start + from..self.start + to)
                .unwrap_or(""),
        }
    }

    fn key(&self, member: &Member) -> &str {
        self.slice(member.start, member.key_end)
    }

    /// Whether V8 would print these members differently: an array-index key after a named key
    /// or after a larger index, or any repeated key. Keys are compared in canonical form, which
    /// is one-to-one with their decoded value.
    fn needs_rebuild(&self, members: &[Member]) -> bool {
        let mut last_index: Option<u32> = None;
        let mut seen_named = false;
        for member in members {
            let index = if member.first.is_ascii_digit() {
                array_index(self.key(member))
            } else {
                None
            };
            match index {
                Some(index) => {
                    if seen_named || last_index.is_some_and(|last| index <= last) {
                        return true;
                    }
                    last_index = Some(index);
                }
                None => seen_named = true,
            }
        }
        self.has_duplicate_key(members)
    }

    fn has_duplicate_key(&self, members: &[Member]) -> bool {
        if members.len() <= LINEAR_DUPLICATE_SCAN {
            members.iter().enumerate().any(|(i, a)| {
                members
                    .iter()
                    .skip(i + 1)
                    .any(|b| a.may_equal(b) && self.key(a) == self.key(b))
            })
        } else {
            let mut seen = HashSet::with_capacity(members.len());
            members.iter().any(|m| !seen.insert(self.key(m)))
        }
    }

    /// The object as V8 holds it after JSON.parse: each key at its first position with its last
    /// value, then array-index keys in ascending order before the named keys (in insertion order).
    fn rebuilt_object(&self, members: &[Member]) -> String {
        let mut entries: Vec<(Option<u32>, &str)> = Vec::with_capacity(members.len());
        let mut position: HashMap<&str, usize> = HashMap::with_capacity(members.len());
        for member in members {
            let key = self.key(member);
            let text = self.slice(member.start, member.end);
            match position.get(key) {
                Some(&i) => {
                    if let Some(entry) = entries.get_mut(i) {
                        entry.1 = text;
                    }
                }
                None => {
                    position.insert(key, entries.len());
                    entries.push((array_index(key), text));
                }
            }
        }
        // Stable sort: named keys keep their relative order.
        entries.sort_by_key(|&(index, _)| (index.is_none(), index.unwrap_or(0)));
        let total: usize = entries.iter().map(|(_, text)| text.len() + 1).sum();
        let mut object = String::with_capacity(total + 2);
        object.push('{');
        for (i, (_, text)) in entries.iter().enumerate() {
            if i > 0 {
                object.push(',');
            }
            object.push_str(text);
        }
        object.push('}');
        object
    }
}

impl Sink for Canonical<'_> {
    #[inline]
    fn byte(&mut self, b: u8) {
        if self.owned.is_none() && self.input.as_bytes().get(self.end) == Some(&b) {
            self.end += 1;
        } else {
            self.owned_mut().push(char::from(b));
        }
    }

    #[inline]
    fn copy(&mut self, start: usize, end: usize) {
        if self.owned.is_none() && start == self.end {
            self.end = end;
        } else {
            let input = self.input;
            self.text(input.get(start..end).unwrap_or(""));
        }
    }

    fn unit(&mut self, unit: Unit) {
        let mut escaped = SmallText::new();
        escape_unit(unit, &mut escaped);
        self.text(escaped.as_str());
    }

    fn number(&mut self, start: usize, end: usize, short_integer: bool) -> bool {
        if short_integer {
            self.copy(start, end);
            return true;
        }
        let input = self.input;
        let Some(literal) = input.get(start..end) else {
            return false;
        };
        if is_canonical_number(literal.as_bytes()) {
            self.copy(start, end);
            return true;
        }
        let Ok(value) = literal.parse::<f64>() else {
            return false;
        };
        let mut formatted = SmallText::new();
        format_number(value, &mut formatted);
        self.text(formatted.as_str());
        true
    }

    fn mark(&self) -> usize {
        match &self.owned {
            Some(text) => text.len(),
            None => self.end - self.start,
        }
    }

    fn object_begin(&mut self) -> ObjectFrame {
        ObjectFrame {
            out_start: self.mark(),
            first_member: self.members.len(),
        }
    }

    fn member(&mut self, start: usize, key_end: usize) {
        let end = self.mark();
        let key = self.slice(start, key_end).as_bytes();
        let (first, last) = match key {
            [b'"', first, .., last, b'"'] => (*first, *last),
            [b'"', only, b'"'] => (*only, *only),
            _ => (0, 0),
        };
        self.members.push(Member {
            start,
            key_end,
            end,
            first,
            last,
        });
    }

    fn object_end(&mut self, frame: ObjectFrame) {
        let members = self.members.since(frame.first_member);
        if self.needs_rebuild(members) {
            let object = self.rebuilt_object(members);
            let out = self.owned_mut();
            if out.is_char_boundary(frame.out_start) {
                out.truncate(frame.out_start);
                out.push_str(&object);
            }
        }
        self.members.truncate(frame.first_member);
    }
}

/// The array index a canonical key (quotes included) denotes, if any: the canonical decimal
/// form of an integer in 0..=2^32-2. V8 enumerates such keys first, in numeric order.
fn array_index(key: &str) -> Option<u32> {
    let digits = key.strip_prefix('"')?.strip_suffix('"')?.as_bytes();
    match digits {
        [b'0'] => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.len() < 10 && rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let value = digits
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    if value <= MAX_ARRAY_INDEX {
        u32::try_from(value).ok()
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        match canonicalize(s) {
            Ok(text) => text.into_owned(),
            Err(e) => panic!("{s:?} failed: {e}"),
        }
    }

    fn is_borrowed(s: &str) -> bool {
        matches!(canonicalize(s), Ok(Cow::Borrowed(_)))
    }

    fn err_kind(s: &str) -> JsonErrorKind {
        match canonicalize(s) {
            Ok(text) => panic!("{s:?} unexpectedly parsed to {text:?}"),
            Err(e) => {
                assert_eq!(validate(s), Err(e.clone()), "validate disagrees on {s:?}");
                e.kind
            }
        }
    }

    fn number_text(n: f64) -> String {
        let mut out = String::new();
        write_number(&mut out, n);
        out
    }

    #[test]
    fn real_capture_is_canonical_and_borrowed() {
        let captured =
            r#"{"event":"hello","data":{"n":1,"s":"é\u0001\"","f":0.1,"big":1e+21,"neg":0}}"#;
        let out = canonicalize(captured).unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(out, captured);
    }

    #[test]
    fn real_capture_number_forms() {
        assert_eq!(
            canon(r#"{"neg":-0,"big":1e21,"f":1.0,"x":1E2}"#),
            r#"{"neg":0,"big":1e+21,"f":1,"x":100}"#
        );
    }

    #[test]
    fn grammar_accepts_json_parse_language() {
        for ok in [
            "0",
            "-0",
            "1",
            "-1.5e-3",
            "1E+2",
            "true",
            "false",
            "null",
            "\"\"",
            "[]",
            "{}",
            "[[],{}]",
            " \t\n\r1 \t\n\r",
            "{\"a\":{\"b\":[null]}}",
        ] {
            assert!(validate(ok).is_ok(), "{ok:?} should be accepted");
        }
        assert_eq!(err_kind(""), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("   "), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("01"), JsonErrorKind::BadNumber);
        assert_eq!(err_kind("1."), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("1.x"), JsonErrorKind::BadNumber);
        assert_eq!(err_kind("1e"), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("1e+]"), JsonErrorKind::BadNumber);
        assert_eq!(err_kind("-"), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("-a"), JsonErrorKind::BadNumber);
        assert_eq!(err_kind(".5"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("+1"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("tru"), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("trux"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("True"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("nulll"), JsonErrorKind::TrailingCharacters);
        assert_eq!(err_kind("[1,]"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("[1 2]"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("{1:2}"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("{\"a\":1"), JsonErrorKind::UnexpectedEnd);
        assert_eq!(err_kind("\u{feff}1"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("\u{a0}1"), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("'a'"), JsonErrorKind::UnexpectedChar);
    }

    #[test]
    fn required_error_cases() {
        let e = canonicalize(r#"{"a":1,}"#).unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 7,
                kind: JsonErrorKind::UnexpectedChar
            }
        );
        let e = canonicalize("[01]").unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 2,
                kind: JsonErrorKind::BadNumber
            }
        );
        let e = canonicalize(r#""\x""#).unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 1,
                kind: JsonErrorKind::BadEscape
            }
        );
        let e = canonicalize(r#""a"#).unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 2,
                kind: JsonErrorKind::UnexpectedEnd
            }
        );
        let e = canonicalize(r#"{"a" 1}"#).unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 5,
                kind: JsonErrorKind::UnexpectedChar
            }
        );
        let e = canonicalize("1 2").unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 2,
                kind: JsonErrorKind::TrailingCharacters
            }
        );
        let e = canonicalize("\"a\nb\"").unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: 2,
                kind: JsonErrorKind::UnexpectedChar
            }
        );
        assert_eq!(err_kind("\"\u{0}\""), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind("\"\t\""), JsonErrorKind::UnexpectedChar);
        assert_eq!(err_kind(r#""\u12G4""#), JsonErrorKind::BadEscape);
        assert_eq!(err_kind(r#""\u12""#), JsonErrorKind::BadEscape);
        assert_eq!(err_kind(r#""\U0041""#), JsonErrorKind::BadEscape);
        assert_eq!(err_kind(r#""\'""#), JsonErrorKind::BadEscape);
    }

    #[test]
    fn error_display_is_a_sentence() {
        let e = canonicalize(r#"{"a":1,"b":2,x}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid JSON at byte 13: unexpected character"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("invalid JSON"));
    }

    #[test]
    fn nesting_limit() {
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(canon(&deep_ok), deep_ok);
        let objects_ok = format!("{}1{}", "{\"b\":0,\"a\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(canon(&objects_ok).starts_with("{\"b\":0,\"a\":{\"b\":0,\"a\":"));
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(err_kind(&too_deep), JsonErrorKind::TooDeep);
        let beyond = format!("{}{}", "[".repeat(MAX_DEPTH + 100), "]".repeat(MAX_DEPTH + 100));
        let e = canonicalize(&beyond).unwrap_err();
        assert_eq!(
            e,
            JsonError {
                offset: MAX_DEPTH,
                kind: JsonErrorKind::TooDeep
            }
        );
        let objects = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH + 100), "}".repeat(MAX_DEPTH + 100));
        assert_eq!(err_kind(&objects), JsonErrorKind::TooDeep);
        // Far beyond the limit: still an error, not a stack overflow.
        assert_eq!(
            err_kind(&"[{\"k\":".repeat(200_000)),
            JsonErrorKind::TooDeep
        );
        let members = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH + 100), "]".repeat(MAX_DEPTH + 100));
        assert_eq!(
            object_members(&members).unwrap_err().kind,
            JsonErrorKind::TooDeep
        );
    }

    #[test]
    fn whitespace_is_removed() {
        assert_eq!(canon(r#" { "a" : [ 1 , 2 ] } "#), r#"{"a":[1,2]}"#);
        assert_eq!(
            canon("\t[\r\n1,\n{ }, [ ] ,\"x y\"]\n"),
            r#"[1,{},[],"x y"]"#
        );
        // Whitespace only around a canonical value: still borrowed (the trimmed slice).
        let out = canonicalize("  \n{\"a\":1}\r\n").unwrap();
        assert!(matches!(out, Cow::Borrowed("{\"a\":1}")));
    }

    #[test]
    fn top_level_scalars() {
        assert_eq!(canon("true"), "true");
        assert_eq!(canon(" null "), "null");
        assert_eq!(canon("\"x\""), "\"x\"");
        assert_eq!(canon("-0"), "0");
        assert!(is_borrowed("false"));
    }

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

    #[test]
    fn write_string_matches_json_stringify() {
        let mut out = String::new();
        write_string(
            &mut out,
            "a\"b\\c/d\u{0}\u{1f}\u{8}\u{c}\n\r\t\u{7f}é😀\u{2028}",
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c/d\\u0000\\u001f\\b\\f\\n\\r\\t\u{7f}é😀\u{2028}\""
        );
        let mut empty = String::from("x");
        write_string(&mut empty, "");
        assert_eq!(empty, "x\"\"");
        // Every string written is canonical and decodes back to itself.
        for s in ["", "plain", "\u{1}\u{2}\"\\", "mixed é \n 😀"] {
            let mut lit = String::new();
            write_string(&mut lit, s);
            assert!(is_borrowed(&lit));
            assert_eq!(as_str(&lit).as_deref(), Some(s));
        }
    }

    #[test]
    fn object_key_order_follows_v8() {
        let cases = [
            (
                r#"{"b":1,"2":2,"1":3,"01":4}"#,
                r#"{"1":3,"2":2,"b":1,"01":4}"#,
            ),
            (
                r#"{"b":1,"4294967294":1,"4294967295":2,"1":3,"01":4,"-1":5}"#,
                r#"{"1":3,"4294967294":1,"b":1,"4294967295":2,"01":4,"-1":5}"#,
            ),
            (
                r#"{"10":1,"9":2,"1.0":3,"0":4}"#,
                r#"{"0":4,"9":2,"10":1,"1.0":3}"#,
            ),
            (r#"{"\u0032":1,"1":2}"#, r#"{"1":2,"2":1}"#),
            (
                r#"{"a":{"3":1,"2":2},"0":[{"y":1,"1":1}]}"#,
                r#"{"0":[{"1":1,"y":1}],"a":{"2":2,"3":1}}"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "input {input}");
        }
        assert!(is_borrowed(
            r#"{"0":1,"1":2,"10":3,"a":4,"01":5,"4294967295":6}"#
        ));
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        let cases = [
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (r#"{"1":1,"a":2,"1":3}"#, r#"{"1":3,"a":2}"#),
            (r#"{"a":1,"\u0061":2}"#, r#"{"a":2}"#),
            (
                r#"{"a":1,"a":{"x":1,"x":[2]},"b":0}"#,
                r#"{"a":{"x":[2]},"b":0}"#,
            ),
            (
                r#"{"\ud800":1,"\\ud800":2,"\uD800":3}"#,
                r#"{"\ud800":3,"\\ud800":2}"#,
            ),
            (r#"{ "a" : 1 , "a" : 2 }"#, r#"{"a":2}"#),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "input {input}");
        }
    }

    #[test]
    fn large_objects_use_the_hashed_duplicate_check() {
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let canonical = format!("{{{}}}", keys.join(","));
        assert!(is_borrowed(&canonical));
        let with_dup = format!("{{{},\"k7\":\"last\"}}", keys.join(","));
        assert_eq!(
            canon(&with_dup),
            canonical.replace("\"k7\":7", "\"k7\":\"last\"")
        );
        let mut reversed: Vec<String> = (0..40).map(|i| format!("\"{i}\":{i}")).collect();
        reversed.reverse();
        let expected: Vec<String> = (0..40).map(|i| format!("\"{i}\":{i}")).collect();
        assert_eq!(
            canon(&format!("{{{}}}", reversed.join(","))),
            format!("{{{}}}", expected.join(","))
        );
    }

    #[test]
    fn many_members_spill_the_member_stack() {
        // More open members than the inline storage holds, with a reorder deep inside.
        let mut doc = String::new();
        for i in 0..100 {
            doc.push_str(&format!("{{\"k{i}\":1,\"v\":"));
        }
        doc.push_str("{\"b\":1,\"0\":2}");
        doc.push_str(&"}".repeat(100));
        let expected = doc.replace("{\"b\":1,\"0\":2}", "{\"0\":2,\"b\":1}");
        assert_eq!(canon(&doc), expected);
        assert_eq!(canon(&expected), expected);
        assert!(is_borrowed(&expected));
    }

    #[test]
    fn arrays_keep_order() {
        assert_eq!(
            canon("[3,1,2,\"b\",\"a\",[2,1]]"),
            "[3,1,2,\"b\",\"a\",[2,1]]"
        );
        assert_eq!(canon("[1e400,-1e400]"), "[null,null]");
    }

    #[test]
    fn required_number_cases() {
        assert_eq!(canon("0.000001"), "0.000001");
        assert_eq!(canon("1e-7"), "1e-7");
        assert_eq!(canon("123456789012345680000"), "123456789012345680000");
        assert_eq!(canon("1e21"), "1e+21");
        assert_eq!(canon("5e-324"), "5e-324");
        assert_eq!(canon("9007199254740993"), "9007199254740992");
        assert_eq!(number_text(0.000001), "0.000001");
        assert_eq!(number_text(1e-7), "1e-7");
        assert_eq!(number_text(1e21), "1e+21");
        assert_eq!(number_text(1.5e-7), "1.5e-7");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(f64::NAN), "null");
        assert_eq!(number_text(f64::INFINITY), "null");
        assert_eq!(number_text(f64::NEG_INFINITY), "null");
        assert_eq!(number_text(100.0), "100");
        assert_eq!(number_text(-2.5), "-2.5");
    }

    #[test]
    fn number_literals_match_v8() {
        // (literal, JSON.stringify(JSON.parse(literal))) as V8 computes it.
        let cases = [
            ("1.0", "1"),
            ("1E2", "100"),
            ("-0", "0"),
            ("0.0", "0"),
            ("-0.0", "0"),
            ("1e-7", "1e-7"),
            ("100e-2", "1"),
            ("0.1e1", "1"),
            ("12345678901234567890", "12345678901234567000"),
            ("1e308", "1e+308"),
            ("1.7976931348623158e308", "1.7976931348623157e+308"),
            ("1.7976931348623159e308", "null"),
            ("2.4703282292062327e-324", "0"),
            ("2.4703282292062328e-324", "5e-324"),
            ("0.30000000000000000000000000000000000000001", "0.3"),
            ("-0.0e5", "0"),
            ("1e-400", "0"),
            ("-1e-400", "0"),
            ("1e21", "1e+21"),
            ("1E+21", "1e+21"),
            ("1e+21", "1e+21"),
            ("123456789012345680000", "123456789012345680000"),
            ("9007199254740993", "9007199254740992"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1.5e-7", "1.5e-7"),
            ("-5", "-5"),
            ("0", "0"),
            ("10", "10"),
            ("999999999999999", "999999999999999"),
            ("1000000000000000", "1000000000000000"),
            ("123456789012345", "123456789012345"),
            ("1234567890123456", "1234567890123456"),
            ("0.10", "0.1"),
            ("1.50", "1.5"),
            ("-1.5e3", "-1500"),
            ("5e-324", "5e-324"),
            ("1e999999999999999999999", "null"),
            ("1e-999999999999999999999", "0"),
            ("0.1", "0.1"),
            ("123.456000", "123.456"),
            ("-1e21", "-1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.1e-6", "1e-7"),
            ("0.00001e-1", "0.000001"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("4.9e-324", "5e-324"),
            ("2e-323", "2e-323"),
            ("100000000000000000000000", "1e+23"),
        ];
        for (literal, expected) in cases {
            assert_eq!(canon(literal), expected, "literal {literal}");
            let wrapped = format!("[{literal}]");
            assert_eq!(canon(&wrapped), format!("[{expected}]"));
            if literal == expected {
                assert!(is_borrowed(literal), "{literal} is canonical");
            }
        }
        assert_eq!(err_kind("00000"), JsonErrorKind::BadNumber);
    }

    #[test]
    fn f64_formatting_matches_v8_table() {
        // (bits of an f64, String(value) in V8): boundaries, subnormals, integers around
        // 2^53, the 1e21 and 1e-7 layout switches, and deterministic pseudo-random values.
        const CASES: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x0000000000000002, "1e-323"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x7feffffffffffffe, "1.7976931348623155e+308"),
            (0x0010000000000000, "2.2250738585072014e-308"),
            (0x000fffffffffffff, "2.225073858507201e-308"),
            (0x0000000000002710, "4.9407e-320"),
            (0x000016b9f4b7f7d1, "1.2345678e-310"),
            (0x433fffffffffffff, "9007199254740991"),
            (0x4340000000000000, "9007199254740992"),
            (0x4340000000000001, "9007199254740994"),
            (0xc340000000000000, "-9007199254740992"),
            (0xc33fffffffffffff, "-9007199254740991"),
            (0x433ffffffffffffe, "9007199254740990"),
            (0x4350000000000000, "18014398509481984"),
            (0x41e0000000000000, "2147483648"),
            (0x41f0000000000000, "4294967296"),
            (0x41efffffffe00000, "4294967295"),
            (0x43e0000000000000, "9223372036854776000"),
            (0x43f0000000000000, "18446744073709552000"),
            (0xc3e0000000000000, "-9223372036854776000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef51, "1.0000000000000001e+21"),
            (0xc44b1ae4d6e2ef50, "-1e+21"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x4415af1d78b58c40, "100000000000000000000"),
            (0x4454542ba12a337c, "1.5e+21"),
            (0x441ac53a7e04bcda, "123456789012345680000"),
            (0x4480f0cf064dd592, "1e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x3e7ad7f29abcaf48, "1e-7"),
            (0x3e7ad7f29abcaf47, "9.999999999999998e-8"),
            (0x3e7ad7f29abcaf49, "1.0000000000000001e-7"),
            (0xbe7ad7f29abcaf48, "-1e-7"),
            (0x3e8421f5f40d8376, "1.5e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8e, "0.0000010000000000000002"),
            (0x3eb92a737110e454, "0.0000015"),
            (0x3eb92a737110e454, "0.0000015"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x3ee9e0fcaf9380fc, "0.00001234"),
            (0x3fb999999999999a, "0.1"),
            (0x3fc999999999999a, "0.2"),
            (0x3fd3333333333333, "0.3"),
            (0x3fd3333333333334, "0.30000000000000004"),
            (0x3fd5555555555555, "0.3333333333333333"),
            (0x3fe5555555555555, "0.6666666666666666"),
            (0x400921fb54442d18, "3.141592653589793"),
            (0x4005bf0a8b145769, "2.718281828459045"),
            (0xc00921fb54442d18, "-3.141592653589793"),
            (0x430c6bf526340000, "1000000000000000"),
            (0x4341c37937e08000, "10000000000000000"),
            (0x4376345785d8a000, "100000000000000000"),
            (0x3ff8000000000000, "1.5"),
            (0xbff8000000000000, "-1.5"),
            (0x4059000000000000, "100"),
            (0x54b249ad2594c37d, "1e+100"),
            (0x2b2bff2ee48e0530, "1e-100"),
            (0x4011666666666666, "4.35"),
            (0x3fe0000000000000, "0.5"),
            (0x3ff0000000000000, "1"),
            (0xbff0000000000000, "-1"),
            (0x4024000000000000, "10"),
            (0x405edd2f1a9fbe77, "123.456"),
            (0x3ea0c6f7a0b5ed8d, "5e-7"),
            (0x4039000000000000, "25"),
            (0x7e37e43c8800759c, "1e+300"),
            (0x01a56e1fc2f8f359, "1e-300"),
            (0x3eb4b66dc01ebe8e, "0.000001234567890123"),
            (0x4345ee2a2eb5a5c4, "12345678901234568"),
            (0x43118b54f22aeb03, "1234567890123456.8"),
            (0x41efffffffe00000, "4294967295"),
            (0x41f0000000000000, "4294967296"),
            (0x7fe1ccf385ebc8a0, "1e+308"),
            (0x0000000000000001, "5e-324"),
            (0x094391613c907b38, "4.854872276731145e-264"),
            (0xa8a4c2bffe0c95ce, "-6.744263152162654e-113"),
            (0x869bfbdceea63f65, "-7.893167252718218e-277"),
            (0xb59bd4f42dae0a5b, "-1.859699720364183e-50"),
            (0x795d859a2e22a08f, "4.088463304574647e+276"),
            (0xf3c090508adb260e, "-3.70599252170431e+249"),
            (0xc81ae7845e42d3c2, "-2.288770125499285e+39"),
            (0xe4ea80f151f8e6e5, "-1.3424980730716654e+178"),
            (0x32aae0e7cd6e0e68, "1.2761348461318853e-64"),
            (0x849a440c08524874, "-1.7249436483290893e-286"),
            (0x289b6930ae1671e4, "4.452305119560912e-113"),
            (0x49210fdecce4a407, "1.9024758384956757e+44"),
            (0xafd6da47c5ca8c8f, "-3.083740679876766e-78"),
            (0x4901cc5cdddfda56, "4.961439695056926e+43"),
            (0xf6fa92f8881c3062, "-1.3388590079969932e+265"),
            (0x341538e459085082, "8.452242454115718e-58"),
            (0xd36a13de98f820a3, "-6.7994931944330075e+93"),
            (0x56b3dceb2f919822, "4.6649015953867655e+109"),
            (0xe5a2b932c988f392, "-3.884658463752254e+181"),
            (0x606649695dbf46f5, "2.390533209874663e+156"),
            (0x402fe40d427b2538, "15.945413663418194"),
            (0x9c6255f998759d72, "-5.930800149616332e-172"),
            (0x6f055722101c6ac8, "6.319294060550844e+226"),
            (0x6a7d6bf41e45e01d, "9.224540430912523e+204"),
            (0x195459e94238cc9d, "1.1693191170775533e-186"),
            (0xd5d7ad7573943a44, "-3.39403011642082e+105"),
            (0xc23a076bfd550330, "-111793667413.01245"),
            (0x2fb3692215e56536, "6.548198154725656e-79"),
            (0x49810dabc0c9227c, "1.2169714324256104e+46"),
            (0x52571fc6df3faf38, "4.600066529507347e+88"),
            (0x879e4ab354411e66, "-5.5994966948017076e-272"),
            (0x2ea3b2be8ad6c5da, "5.069886078939621e-84"),
            (0x4e02beb1276b5ed1, "6.317015654336967e+67"),
            (0x7f36db38cc701c2c, "6.26963459569925e+304"),
            (0x677e25e74c427714, "3.3581234402616015e+190"),
            (0x316af0bcb151b6fa, "1.2198171424540677e-70"),
            (0x5714c9587cafeb17, "3.1243517156829305e+111"),
            (0xbd238cdd38cc9101, "-3.472822132599207e-14"),
            (0x7a071ce1f37f6863, "6.555396693937943e+279"),
            (0xb13e1054dea9ee73, "-1.7015504968930936e-71"),
            (0xb6ff23d4627f416f, "-8.727275480859611e-44"),
            (0x1ba9de48b51c042d, "2.0427742459536316e-175"),
            (0x32d5ce9fcd389765, "8.282841645198087e-64"),
            (0xfcbd6781907d9f0b, "-7.335791077445895e+292"),
            (0xcea7b092b231c6f5, "-8.175028274456336e+70"),
            (0x22f6caec538ab838, "2.9905922559494793e-140"),
            (0xd6646b157814a348, "-1.4985387008351367e+108"),
            (0xc88f4ed573b9580e, "-3.40913326867608e+41"),
            (0xb7d17370ce75e93e, "-8.013078685160623e-40"),
            (0xb05a0b02156c8d6c, "-8.996469695326007e-76"),
            (0x8aa18aadc5248f76, "-1.8254323488734456e-257"),
            (0x0e5956aaf1b3dbe8, "1.5200054622433215e-239"),
            (0x05de773b3f65465f, "2.0979536659267758e-280"),
            (0x0f4313f5cea7fb13, "3.750123278334575e-235"),
            (0xcf0d363953ec1025, "-6.451600592036348e+72"),
            (0x79e138ea9ac16145, "1.2211749833775221e+279"),
            (0x788a346df60a12c7, "4.4300332951502993e+272"),
            (0x35085fcd437e5722, "3.1809848935564306e-53"),
            (0x16178d5f8a91230c, "3.0047969099097027e-202"),
            (0xef986faf3139424a, "-3.704858064686561e+229"),
            (0x469f401ecddee24e, "1.5845870838668558e+32"),
            (0xeeed17fe43a00c0a, "-2.1538034499470126e+226"),
            (0xb8e0577f4b810e92, "-9.83535475835824e-35"),
            (0xf18d487ca499e80f, "-9.534203101318938e+238"),
            (0xea9f54003695381f, "-3.9289048231598795e+205"),
            (0xd8f1051cdfebf5af, "-2.7468637635180616e+120"),
            (0x8e1affe53114a984, "-1.0122800126601112e-240"),
            (0xfaadc3ace8c261d7, "-8.644551236346629e+282"),
            (0x9e4e756b2c1970d4, "-1.0578479314656059e-162"),
            (0xfdd172c63c6df735, "-1.1411159450175366e+298"),
            (0x9e6c8d3d96b8419b, "-3.966474231841371e-162"),
            (0x5cfe3ef9240637d8, "9.004628427613345e+139"),
            (0x2a8d7a3c8a56cdb7, "1.0282103008035255e-103"),
            (0x7980002f649fedec, "1.7727424120874823e+277"),
            (0xb7bd2745b27e2937, "-3.346647023851913e-40"),
            (0x6723fd4492fc78a5, "6.958016983106169e+188"),
            (0xeb302e6339fb0914, "-2.078010726080814e+208"),
            (0x8cbc711e94643a06, "-2.5423876110976804e-247"),
            (0x3b30f2d050e6b3f2, "1.4019463291481343e-23"),
            (0x7f5a12169bbfc215, "2.860537229446906e+305"),
            (0x44b7256a3600078b, "1.0930461194137825e+23"),
            (0xc05508553f85c4f2, "-84.13020313323412"),
            (0x40ffa5412cd96f7f, "129620.07344955018"),
            (0x3ebb5c173993e4f5, "0.00000163076695108697"),
            (0x439627212cb13892, "399070267190420600"),
            (0xc3d9fd13f25dbfa8, "-7490699806927397000"),
            (0x40d5de6644ad5809, "22393.59794171903"),
            (0xc2e8620c37548882, "-214475126514756.06"),
            (0xbe512748f81806cb, "-1.5975401895454636e-8"),
            (0xc48838b5799c0842, "-1.4297861238943943e+22"),
            (0xc108958fa9af11a4, "-201393.9578534487"),
            (0xc2fcb0b1a74934f2, "-504723525636943.1"),
            (0x43276b93b6c99466, "3296103317686835"),
            (0x4378728e88f76879, "110101695198300050"),
            (0x40e317bdd96273af, "39101.93278620333"),
            (0xc1e4718c6b62fda1, "-2743886683.0934606"),
            (0xc4a3da5276875bd4, "-4.687614773408939e+22"),
            (0x439c326945d47d38, "507950532634037760"),
            (0x3e24a9a42816c8f9, "2.4054503395335165e-9"),
            (0xbe46acce58753041, "-1.0558880671412073e-8"),
            (0x440bc8460f151961, "64061666078675970000"),
            (0xbdf7c4f884714e20, "-3.4589054228681965e-10"),
            (0x416437fd1f575b10, "10600424.97941354"),
            (0xc348ce4c9b11f2d7, "-13964455711073710"),
            (0xc14ac225585136df, "-3507274.689978465"),
            (0x3e55522fbf7656d7, "1.9856766867568796e-8"),
            (0xc08170eec47f1104, "-558.116585724551"),
            (0xbf48c443e274fb5a, "-0.0007558185069810139"),
            (0xc1308c315897a650, "-1084465.3460639901"),
            (0xbf2be3ed0440f753, "-0.00021278637189142222"),
            (0x3f948e3757c092f0, "0.020073761683437163"),
            (0xbf8fa8447489a8ca, "-0.015457663351487478"),
            (0xc48c84e64895e3b9, "-1.6834728176964008e+22"),
            (0xbf0807c66e3f542a, "-0.00004583429634378467"),
            (0x3fe31b5791812dbc, "0.5970876542937087"),
            (0x4093fedb7654e027, "1279.7143185865223"),
            (0x442a6ed3de604714, "243800658492898540000"),
            (0xc307ed4cf90d0734, "-841854914502886.5"),
            (0x44b2458e1334d29c, "8.628565961719668e+22"),
            (0xc1e0aada51f43066, "-2237059727.630908"),
            (0xc021ad11b53aebf3, "-8.83802572578677"),
            (0x3ea553477a26257e, "6.355437458953787e-7"),
            (0xbd8e484dee217fa0, "-3.442714742102766e-12"),
            (0x43f1ed34d243be29, "20667947932952203000"),
            (0xc09cd8d5781a8ced, "-1846.208465971805"),
            (0xc3a60d971900b2c8, "-794546188586673200"),
            (0x43abc95204b656be, "1001110844767690500"),
            (0x3ed273f53e906502, "0.000004399528713805143"),
            (0x40f8399b764087ec, "99225.71637013525"),
            (0xbf89229a600943dc, "-0.012273031287948592"),
            (0x4344722a6e243678, "11510052192546032"),
            (0x434837e4f513e014, "13633711889694760"),
            (0x434d2812a1ea52f4, "16413669631239656"),
            (0x4334d421c50356e2, "5862741038552802"),
            (0x434b4a2cfe8f5468, "15362762962020560"),
            (0x4341b401a875a32f, "9965987636659806"),
            (0x4323997715e98ea4, "2758380652644178"),
            (0x433eb0ebac82ba5c, "8638775559371356"),
            (0x43486d462e375414, "13751095263143976"),
            (0x43270ea2e912fef0, "3245008661086072"),
            (0x00075d32bcdcb386, "1.0240979541645143e-308"),
            (0x0007394e2e3b2b61, "1.0045998745623325e-308"),
            (0x000e52f3132fa577, "1.992000365849569e-308"),
            (0x000d646b45b447fd, "1.862423233616964e-308"),
            (0x0003616696b57032, "4.701124407537423e-309"),
            // Exact ties between two shortest candidates: JS picks the even one.
            (0x426228e3c0245100, "623963406626.5312"),
            (0x42725c3fc764b880, "1261713520203.5312"),
            (0x42a243d05e2487a0, "10041233969731.812"),
            (0x42d11256a82224a8, "75081843771538.62"),
            (0x42dbbea4d7377d48, "122022493216245.12"),
            (0x42e8022a2b700454, "211180611928098.62"),
            (0x42e82e4a43305c94, "212696747836132.62"),
            (0x42e9c43ba1338874, "226644837637187.62"),
            (0x43101977d97bd8dd, "1132900541986359.2"),
            (0x43107f225560fe45, "1160846266351505.2"),
            (0x43127cab1a64f955, "1300905976217173.2"),
            (0x431b20a574d64149, "1908929843269714.2"),
            (0x431ec380019d8701, "2164800962912704.2"),
            (0xc304aa1758a9542a, "-727064597834373.2"),
            (0xc30bd43867f7a872, "-979145387341070.2"),
        ];
        assert!(CASES.len() >= 200);
        for &(bits, expected) in CASES {
            let value = f64::from_bits(bits);
            assert_eq!(number_text(value), expected, "bits {bits:#018x}");
            // The same value as a literal must canonicalize to the same text.
            let literal = format!("{value:e}");
            assert_eq!(canon(&literal), expected, "literal {literal}");
            assert_eq!(
                as_f64(expected).map(f64::to_bits),
                Some(if value == 0.0 { 0 } else { bits })
            );
        }
    }

    #[test]
    fn canonical_number_fast_path_agrees_with_formatting() {
        for literal in [
            "0",
            "-1",
            "7",
            "100",
            "999999999999999",
            "0.1",
            "-0.5",
            "0.000001",
            "0.00001234",
            "123.456",
            "12345678901234.5",
            "0.123456789012345",
            "4.35",
        ] {
            assert!(is_canonical_number(literal.as_bytes()), "{literal}");
            let value: f64 = literal.parse().unwrap();
            assert_eq!(number_text(value), literal);
        }
        for literal in [
            "-0",
            "0.0",
            "1.0",
            "1e2",
            "0.0000001",
            "1000000000000000",
            "0.1234567890123456",
            "1234567890123456",
            "1.50",
        ] {
            assert!(!is_canonical_number(literal.as_bytes()), "{literal}");
        }
    }

    #[test]
    fn object_members_reads_fields() {
        let doc = r#" {"type":"Buffer", "data" : [1,2,255] ,"k\u0065y":"v\u00e9","n":-1.5e3,"t":true,"z":null,"type":"dup","o":{"a":[]}} "#;
        let members = object_members(doc).unwrap();
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["type", "data", "key", "n", "t", "z", "type", "o"]);
        let values: Vec<&str> = members.iter().map(|(_, v)| *v).collect();
        assert_eq!(
            values,
            [
                "\"Buffer\"",
                "[1,2,255]",
                "\"v\\u00e9\"",
                "-1.5e3",
                "true",
                "null",
                "\"dup\"",
                "{\"a\":[]}"
            ]
        );
        assert!(matches!(members[0].0, Cow::Borrowed("type")));
        assert!(matches!(members[2].0, Cow::Owned(_)));
        assert_eq!(as_str(values[0]).as_deref(), Some("Buffer"));
        assert_eq!(byte_array(values[1]), Some(vec![1, 2, 255]));
        assert_eq!(as_str(values[2]).as_deref(), Some("vé"));
        assert_eq!(as_f64(values[3]), Some(-1500.0));
        assert_eq!(as_bool(values[4]), Some(true));
        assert!(is_null(values[5]));
        assert_eq!(object_members("{}").unwrap(), vec![]);
        assert_eq!(object_members(r#"{"\ud800":1}"#).unwrap()[0].0, "\u{fffd}");
    }

    #[test]
    fn object_members_rejects_non_objects_and_bad_input() {
        assert_eq!(
            object_members("[1]").unwrap_err().kind,
            JsonErrorKind::UnexpectedChar
        );
        assert_eq!(
            object_members("").unwrap_err().kind,
            JsonErrorKind::UnexpectedEnd
        );
        assert_eq!(
            object_members("{\"a\":1} x").unwrap_err().kind,
            JsonErrorKind::TrailingCharacters
        );
        assert_eq!(
            object_members("{\"a\":01}").unwrap_err().kind,
            JsonErrorKind::BadNumber
        );
        assert_eq!(
            object_members("{\"a\":[1,}").unwrap_err().kind,
            JsonErrorKind::UnexpectedChar
        );
        assert_eq!(
            object_members("{\"a\":1,}").unwrap_err().kind,
            JsonErrorKind::UnexpectedChar
        );
        assert_eq!(
            object_members("{\"a\"}").unwrap_err().kind,
            JsonErrorKind::UnexpectedChar
        );
    }

    #[test]
    fn scalar_accessors() {
        assert_eq!(as_str("\"\\ud800\"").as_deref(), Some("\u{fffd}"));
        assert_eq!(as_str("\"\\ud83d\\ude00!\"").as_deref(), Some("😀!"));
        assert_eq!(as_str(" \"a\" ").as_deref(), Some("a"));
        assert!(matches!(as_str("\"abc\""), Some(Cow::Borrowed("abc"))));
        assert_eq!(as_str("\"a\" \"b\""), None);
        assert_eq!(as_str("\"a"), None);
        assert_eq!(as_str("\"\\x\""), None);
        assert_eq!(as_str("1"), None);
        assert_eq!(as_f64("1e400"), Some(f64::INFINITY));
        assert_eq!(as_f64("-1e400"), Some(f64::NEG_INFINITY));
        assert_eq!(as_f64("-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(as_f64(" 42 "), Some(42.0));
        assert_eq!(as_f64("9007199254740993"), Some(9007199254740992.0));
        for bad in [
            "", "01", "1.", ".5", "+1", "1e", "NaN", "Infinity", "inf", "0x10", "1 2", "\"1\"",
        ] {
            assert_eq!(as_f64(bad), None, "{bad:?}");
        }
        assert_eq!(as_bool("true"), Some(true));
        assert_eq!(as_bool(" false\n"), Some(false));
        assert_eq!(as_bool("True"), None);
        assert_eq!(as_bool("1"), None);
        assert!(is_null("null"));
        assert!(is_null(" null "));
        assert!(!is_null("nul"));
        assert!(!is_null("\"null\""));
    }

    #[test]
    fn byte_array_decoding() {
        assert_eq!(byte_array("[0,1,255]"), Some(vec![0, 1, 255]));
        assert_eq!(byte_array("[]"), Some(vec![]));
        assert_eq!(byte_array(" [ ] "), Some(vec![]));
        assert_eq!(byte_array(" [ 1 , 2 ] "), Some(vec![1, 2]));
        assert_eq!(byte_array("[\n1,\t2\r]"), Some(vec![1, 2]));
        for bad in [
            "[256]",
            "[1.0]",
            "[1e2]",
            "[-1]",
            "[-0]",
            "[01]",
            "[00]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[1",
            "[",
            "",
            "1",
            "[\"1\"]",
            "[1]x",
            "[1000]",
            "[99999999999999999999]",
            "[true]",
            "[[1]]",
            "{}",
            "[1,,2]",
        ] {
            assert_eq!(byte_array(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn byte_array_round_trip_all_values() {
        let all: Vec<u8> = (0..=255).collect();
        let mut text = String::new();
        write_byte_array(&mut text, &all);
        assert!(text.starts_with("[0,1,2,"));
        assert!(text.ends_with(",254,255]"));
        assert!(is_borrowed(&text));
        assert_eq!(byte_array(&text), Some(all.clone()));
        let mut empty = String::new();
        write_byte_array(&mut empty, &[]);
        assert_eq!(empty, "[]");
        // Appends rather than overwrites.
        let mut prefixed = String::from("{\"data\":");
        write_byte_array(&mut prefixed, &[7]);
        assert_eq!(prefixed, "{\"data\":[7]");
        for (i, (text, n)) in DIGITS_COMMA.iter().enumerate() {
            assert_eq!(&text[..usize::from(*n)], format!("{i},").as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut text = String::new();
        write_byte_array(&mut text, &all);
        let expected: Vec<String> = all.iter().map(|b| b.to_string()).collect();
        assert_eq!(text, format!("[{}]", expected.join(",")));
        // Across block boundaries.
        let long: Vec<u8> = (0..3001u32).map(|i| (i * 37 % 256) as u8).collect();
        let mut text = String::new();
        write_byte_array(&mut text, &long);
        assert_eq!(byte_array(&text), Some(long));
    }

    /// Documents whose every prefix (and a few mutations) must be handled without panicking.
    const SAMPLES: &[&str] = &[
        r#"{"event":"hello","data":{"n":1,"s":"é\u0001\"","f":0.1,"big":1e+21,"neg":0}}"#,
        r#" { "b" : 1 , "2" : [ true , false , null , -0.5e-3 ] , "1" : "\ud83d\ude00\ud800" , "b" : {} } "#,
        r#"[1e400,-1e400,"\u00E9\/\b\f\n\r\t\\",{"a":1,"\u0061":2},[],[[[]]],0,-0,123456789012345680000]"#,
        r#"{"type":"Buffer","data":[0,1,2,255,17]}"#,
        "\"😀 multi-byte é \u{2028}\"",
    ];

    #[test]
    fn prefixes_and_mutations_never_panic() {
        for doc in SAMPLES {
            let full = canonicalize(doc).unwrap();
            assert_eq!(canon(&full), full, "idempotent");
            for cut in (0..doc.len()).filter(|&i| doc.is_char_boundary(i)) {
                let prefix = &doc[..cut];
                let result = canonicalize(prefix);
                assert_eq!(result.is_ok(), validate(prefix).is_ok());
                let _ = object_members(prefix);
                let _ = as_str(prefix);
                let _ = as_f64(prefix);
                let _ = byte_array(prefix);
            }
            // Drop or replace single bytes (ASCII positions keep the text valid UTF-8).
            let bytes = doc.as_bytes();
            for i in 0..bytes.len() {
                if !bytes[i].is_ascii() {
                    continue;
                }
                for replacement in [
                    None,
                    Some(b'"'),
                    Some(b'\\'),
                    Some(b'{'),
                    Some(b']'),
                    Some(b'1'),
                    Some(b','),
                ] {
                    let mut mutated = bytes[..i].to_vec();
                    mutated.extend(replacement);
                    mutated.extend_from_slice(&bytes[i + 1..]);
                    let Ok(text) = String::from_utf8(mutated) else {
                        continue;
                    };
                    match canonicalize(&text) {
                        Ok(out) => {
                            assert!(validate(&text).is_ok());
                            assert_eq!(canon(&out), out, "idempotent on {text:?}");
                        }
                        Err(e) => {
                            assert!(e.offset <= text.len());
                            assert_eq!(validate(&text), Err(e));
                        }
                    }
                    let _ = object_members(&text);
                    let _ = byte_array(&text);
                }
            }
        }
    }

    #[test]
    fn pseudo_random_inputs_never_panic() {
        const ALPHABET: &[&str] = &[
            "{", "}", "[", "]", ",", ":", "\"", "\\", "u", "d", "8", "0", "1", "9", "e", "E", "-",
            "+", ".", " ", "\n", "a", "true", "null", "é", "😀", "\\u", "\\ud83d", "\\ude00",
            "\u{1}", "\"k\":",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut doc = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                doc.push_str(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            match canonicalize(&doc) {
                Ok(out) => assert_eq!(canon(&out), out, "idempotent on {doc:?}"),
                Err(e) => assert_eq!(validate(&doc), Err(e)),
            }
            let _ = object_members(&doc);
            let _ = as_str(&doc);
            let _ = as_f64(&doc);
            let _ = byte_array(&doc);
        }
    }

    /// About `target` bytes of canonical JSON resembling real traffic.
    fn canonical_document(target: usize) -> String {
        let mut doc = String::from("[");
        let mut i = 0u64;
        while doc.len() < target {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&format!(
                "{{\"id\":{i},\"name\":\"user-{i}\",\"score\":{},\"ratio\":{},\"tags\":[\"alpha\",\"beta\"],\
                 \"ok\":true,\"none\":null,\"nested\":{{\"x\":-{},\"s\":\"é \\\"quoted\\\" \\u0001\",\"big\":1e+21}},\
                 \"bytes\":[{},{},{}]}}",
                (i as f64) * 0.25 + 0.1,
                1.0 / ((i % 97) as f64 + 3.0),
                i + 1,
                i % 256,
                (i * 7) % 256,
                (i * 13) % 256,
            ));
            i += 1;
        }
        doc.push(']');
        doc
    }

    #[test]
    fn generated_document_is_borrowed() {
        let doc = canonical_document(64 * 1024);
        let out = canonicalize(&doc).unwrap();
        if let Some(i) = out.bytes().zip(doc.bytes()).position(|(a, b)| a != b) {
            panic!(
                "differs at {i}: {:?} vs {:?}",
                &out[i.saturating_sub(40)..i + 20],
                &doc[i.saturating_sub(40)..i + 20]
            );
        }
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(out.len(), doc.len());
        // Pretty-printing it must canonicalize straight back.
        let spaced = doc.replace(",", " ,\n ").replace(":", " : ");
        assert_eq!(canon(&spaced), doc);
    }

    #[test]
    #[ignore]
    fn bench_canonicalize_1mb() {
        let doc = canonical_document(1 << 20);
        assert!(matches!(canonicalize(&doc), Ok(Cow::Borrowed(_))));
        let rounds = 100;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let out = canonicalize(std::hint::black_box(&doc)).unwrap();
            std::hint::black_box(&out);
        }
        let seconds = started.elapsed().as_secs_f64();
        let megabytes = (doc.len() * rounds) as f64 / (1024.0 * 1024.0);
        println!(
            "canonicalize: {:.0} MB/s ({} bytes x {rounds})",
            megabytes / seconds,
            doc.len()
        );

        let bytes: Vec<u8> = (0..(1u32 << 20))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut text = String::new();
        write_byte_array(&mut text, &bytes);
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(byte_array(std::hint::black_box(&text)));
        }
        let seconds = started.elapsed().as_secs_f64();
        let megabytes = (text.len() * rounds) as f64 / (1024.0 * 1024.0);
        println!("byte_array: {:.0} MB/s of text", megabytes / seconds);

        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let mut out = String::new();
            write_byte_array(&mut out, std::hint::black_box(&bytes));
            std::hint::black_box(&out);
        }
        let seconds = started.elapsed().as_secs_f64();
        println!("write_byte_array: {:.0} MB/s of text", megabytes / seconds);
    }

    #[test]
    fn trusted_members_match_validated_members() {
        let docs = [
            r#"{"a":1,"b":"x\"}y","c":{"d":[1,{"e":"]"}]},"e":null,"f":-1.5e3,"g":true}"#,
            r#" { "k" : [ 1 , 2 ] , "l" : "\u0041" } "#,
            r#"{}"#,
            r#"{"checkSum":"ab","id":"ev","data":{"type":"Buffer","data":[1,2,3]}}"#,
        ];
        for d in docs {
            assert_eq!(object_members_trusted(d), Some(object_members(d).unwrap()), "{d}");
        }
        assert_eq!(object_members_trusted("[1]"), None);
        // Garbage never panics.
        for s in ["{", "{\"", "{\"a\"", "{\"a\":", "{\"a\":[", "{\"a\":\"\\", "{\"a\":]]", "{\"a\":1,"] {
            let _ = object_members_trusted(s);
        }
    }

    #[test]
    fn compact_byte_arrays_agree_with_the_general_reader() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"0123456789,[] ";
        for _ in 0..50_000 {
            let len = (next() % 14) as usize;
            let mut s = String::from("[");
            for _ in 0..len {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize] as char);
            }
            s.push(']');
            if let Some(v) = byte_array_compact(&s) {
                assert_eq!(Some(v), byte_array_general(&s), "{s}");
            }
            assert_eq!(byte_array(&s), byte_array_general(&s), "{s}");
        }
        // Whatever JSON.stringify writes for a Buffer takes the fast path.
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|_| (next() >> 11) as u8).collect();
            let mut text = String::new();
            write_byte_array(&mut text, &bytes);
            assert_eq!(byte_array_compact(&text), Some(bytes), "{text}");
        }
        for (s, want) in [("[0]", Some(vec![0])), ("[255,0,9]", Some(vec![255, 0, 9])), ("[256]", None), ("[01]", None), ("[1,]", None), ("[,1]", None), ("[1,,2]", None), ("[]", Some(vec![])), ("[1000]", None), ("[-1]", None)] {
            assert_eq!(byte_array_compact(s), want, "{s}");
        }
    }
}
