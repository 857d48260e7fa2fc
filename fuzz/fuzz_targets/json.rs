//! The canonicaliser (what `JSON.stringify(JSON.parse(x))` gives) against
//! its own invariants, with serde_json as an independent judge:
//!
//! - what it accepts, serde_json accepts, and what it rejects, serde_json
//!   rejects (texts that escape a UTF-16 surrogate aside: JS strings hold
//!   lone surrogates, serde_json's cannot);
//! - its output is valid JSON (serde_json reads it) holding the same value;
//! - it accepts its output and leaves it as it is (idempotent, borrowed);
//! - the validator and the canonicaliser agree on what is JSON.

#![no_main]

#[path = "common.rs"]
mod common;

use std::borrow::Cow;

use clusterluck_native::internals::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let result = json::canonicalize(text);
    assert_eq!(result.is_ok(), json::validate(text).is_ok(), "validate and canonicalize disagree");
    let judged = common::parse(text);
    let surrogates = common::escapes_surrogate(text);
    let out = match result {
        Err(e) => {
            if !surrogates && e.kind != json::JsonErrorKind::TooDeep {
                assert!(judged.is_none(), "rejected ({e}) what serde_json reads: {judged:?}");
            }
            return;
        }
        Ok(out) => out,
    };
    if !surrogates {
        let Some(before) = judged else { panic!("accepted what serde_json rejects") };
        let Some(after) = common::parse(&out) else { panic!("wrote what serde_json rejects: {out}") };
        assert!(common::same_value(&before, &after), "the value changed: {before:?} became {after:?} ({out})");
    }
    // Accepts what it emits, and emits it unchanged, without a copy.
    match json::canonicalize(&out) {
        Ok(Cow::Borrowed(again)) => assert_eq!(again, &*out, "not idempotent"),
        Ok(Cow::Owned(again)) => panic!("canonical text {out:?} was rewritten as {again:?}"),
        Err(e) => panic!("its own output {out:?} rejected: {e}"),
    }
    // Canonical text has no whitespace around the value (nor anywhere outside strings).
    assert_eq!(out.trim_matches([' ', '\t', '\n', '\r']), &*out);
});
