//! The parser: one recursive-descent walk that checks the grammar and hands what it reads to a
//! [`Output`].
//!
//! Validation, canonicalization and the member readers all run this one walk, so they accept
//! exactly what JSON.parse accepts. What each makes of the text is its output's business
//! (`Discard` here, `Canonical` in `canonical`), which keeps the grammar in one place.

use super::canonical::ObjectFrame;
use super::strings::{decode_escape, Unit, STRING_SPECIAL};
use super::{JsonError, JsonErrorKind, MAX_DEPTH};

/// Receives the canonical output while the parser walks the input. One parser serves both
/// [`canonicalize`](super::canonicalize) (which builds text) and validation (which discards
/// it), so both accept exactly the same language. Positions passed to `copy` are input byte
/// offsets; `mark` and the member bookkeeping use output offsets.
pub(super) trait Output {
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

/// The output of pure validation: nothing is kept.
pub(super) struct Discard;

impl Output for Discard {}

/// Recursive-descent parser over the input bytes. Recursion depth is bounded by `MAX_DEPTH`.
pub(super) struct Parser<'a, S> {
    bytes: &'a [u8],
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) output: S,
}

impl<'a, S: Output> Parser<'a, S> {
    pub(super) fn new(input: &'a str, output: S) -> Self {
        Parser {
            bytes: input.as_bytes(),
            pos: 0,
            depth: 0,
            output,
        }
    }

    pub(super) fn error(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    /// The error for a byte that is not allowed here (or for running out of input).
    pub(super) fn unexpected(&self) -> JsonError {
        if self.pos < self.bytes.len() {
            self.error(JsonErrorKind::UnexpectedChar)
        } else {
            self.error(JsonErrorKind::UnexpectedEnd)
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn skip_ws(&mut self) {
        self.pos = skip_ws_from(self.bytes, self.pos);
    }

    /// Consumes (and emits) the structural byte `b`.
    pub(super) fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.peek() != Some(b) {
            return Err(self.unexpected());
        }
        self.pos += 1;
        self.output.byte(b);
        Ok(())
    }

    /// After an array element or object member: consumes a `,` (returns true: another one
    /// follows) or the closing bracket `close` (returns false).
    pub(super) fn separator(&mut self, close: u8) -> Result<bool, JsonError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.output.byte(b',');
                self.skip_ws();
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                self.output.byte(close);
                Ok(false)
            }
            _ => Err(self.unexpected()),
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(JsonErrorKind::TooDeep));
        }
        self.depth += 1;
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A whole document: one value, optionally surrounded by whitespace.
    pub(super) fn parse_document(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        self.parse_value()?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.error(JsonErrorKind::TrailingCharacters));
        }
        Ok(())
    }

    /// One value starting exactly at `pos` (no leading whitespace).
    pub(super) fn parse_value(&mut self) -> Result<(), JsonError> {
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
        self.output.copy(start, self.pos);
        Ok(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    pub(super) fn parse_number(&mut self) -> Result<(), JsonError> {
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
        if !self.output.number(start, self.pos, short_integer) {
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
    /// to the output as input ranges; each escape is decoded and passed as one unit.
    pub(super) fn parse_string(&mut self) -> Result<(), JsonError> {
        self.expect(b'"')?;
        loop {
            let run_start = self.pos;
            let rest = self.bytes.get(run_start..).unwrap_or(&[]);
            self.pos += rest
                .iter()
                .position(|&b| STRING_SPECIAL[usize::from(b)])
                .unwrap_or(rest.len());
            if self.pos > run_start {
                self.output.copy(run_start, self.pos);
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    self.output.byte(b'"');
                    return Ok(());
                }
                Some(b'\\') => {
                    let (unit, next) = decode_escape(self.bytes, self.pos)?;
                    self.pos = next;
                    self.output.unit(unit);
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
        let frame = self.output.object_begin();
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.expect(b'}')?;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.unexpected());
                }
                let member_start = self.output.mark();
                self.parse_string()?;
                let key_end = self.output.mark();
                self.skip_ws();
                self.expect(b':')?;
                self.skip_ws();
                self.parse_value()?;
                self.output.member(member_start, key_end);
                if !self.separator(b'}')? {
                    break;
                }
            }
        }
        self.output.object_end(frame);
        self.leave();
        Ok(())
    }
}

pub(super) fn skip_ws_from(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

pub(super) fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use crate::wire::json::tests::{canon, err_kind};
    use crate::wire::json::{
        canonicalize, object_members, validate, JsonError, JsonErrorKind, MAX_DEPTH,
    };

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
}
