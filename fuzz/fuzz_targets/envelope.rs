//! The envelope reader on any frame, with no cookie, as an inbound
//! connection uses it (invalid UTF-8 is read lossily, as the server does).
//!
//! Besides never panicking (and reading a frame of the usual shape as the
//! full reader does), it must agree with the full JSON validator on
//! what is JSON: a frame it accepts is valid JSON, and a frame it calls
//! invalid JSON is rejected by the validator too. A frame it accepts must
//! read the same again after being canonicalised (what a JS peer would
//! forward), unless a number in it is beyond f64 (JSON.stringify writes
//! Infinity as null).

#![no_main]

#[path = "common.rs"]
mod common;

use clusterluck_native::internals::envelope::{self, Inbound};
use clusterluck_native::error::Skip;
use clusterluck_native::internals::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let result = envelope::decode(&text, None);
    // Read again, its sender now known: a message of the usual shape is
    // read by it (`decode_usual`), and must read as the full reader reads it.
    assert_eq!(envelope::decode(&text, None), envelope::decode_any(&text, None), "the shape reader differs");
    match &result {
        Ok(_) => {
            if let Err(e) = json::validate(&text) {
                panic!("accepted a frame the validator rejects ({e}): {result:?}");
            }
        }
        Err(Skip::InvalidJson(e)) => {
            assert!(json::validate(&text).is_err(), "called valid JSON invalid ({e})");
        }
        Err(Skip::InvalidMessage(_)) => {
            assert!(json::validate(&text).is_ok(), "invalid JSON reported as a bad message");
        }
        Err(other) => panic!("no cookie, yet {other:?}"),
    }
    // The same frame in canonical form decodes to the same kind of result.
    if let Ok(canonical) = json::canonicalize(&text) {
        let again = envelope::decode(&canonical, None);
        match (&result, &again) {
            (Ok(Inbound::Message(a)), Ok(Inbound::Message(b))) => {
                assert_eq!(a.done, b.done);
                assert_eq!(a.tag, b.tag);
                assert_eq!(a.tag_other.map(canon), b.tag_other.map(canon));
                assert_eq!(a.from.id, b.from.id);
                assert_eq!(json::as_str(a.event_raw), json::as_str(b.event_raw));
            }
            (Ok(Inbound::Ping(a)), Ok(Inbound::Ping(b))) => {
                // Raw tags: compared in the form JSON.stringify writes.
                assert_eq!(a.tag.map(canon), b.tag.map(canon));
                assert_eq!(a.from.id, b.from.id);
            }
            (Ok(Inbound::Other(a)), Ok(Inbound::Other(b))) => assert_eq!(a, b),
            (Err(Skip::InvalidMessage(_)), Err(Skip::InvalidMessage(_))) => {}
            // A number beyond f64 is Infinity to JSON.parse, and JSON.stringify
            // writes it as null: the canonical form is another message then
            // (a port of 1e999 is a number, null is not). Texts serde_json
            // cannot read (escaped lone surrogates) are given the benefit too.
            _ if common::parse(&text).map_or(true, |v| common::has_non_finite(&v)) => {}
            (a, b) => panic!("the frame reads as {a:?} but its canonical form as {b:?}"),
        }
    }
});

/// A raw value the decoder accepted, in the form `JSON.stringify` writes it.
fn canon(raw: &str) -> String {
    json::canonicalize(raw).map(|c| c.into_owned()).unwrap_or_else(|e| panic!("an accepted value is JSON ({e}): {raw}"))
}
