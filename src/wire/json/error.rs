//! What a failed read reports: [`JsonError`], the byte offset and the [`JsonErrorKind`].
//!
//! Every reader in the module returns these, and both the parser and the string decoder make
//! them, so they belong to neither.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use crate::wire::json::canonicalize;

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
}
