//! The inputs the fuzz targets (fuzz/) stopped on, kept as plain tests.
//!
//! None of them was a fault of the kernel: each showed a target assuming
//! something the kernel rightly does not do, and the target was corrected.
//! They are kept so the behaviour the targets now rely on stays as it is.

use clusterluck_native::internals::cookie::Cookie;
use clusterluck_native::internals::envelope::{self, Inbound};
use clusterluck_native::error::Skip;
use clusterluck_native::internals::{digits, json};

/// `digits::parse` reads a compact array body only; the JSON reader's
/// `byte_array` also allows whitespace between the brackets ("[\n]" is []).
#[test]
fn byte_array_body_of_whitespace() {
    assert_eq!(digits::parse(b"\n"), None);
    assert_eq!(json::byte_array("[\n]"), Some(vec![]));
    assert_eq!(digits::parse(b"1,2"), json::byte_array("[1, 2]"));
}

/// A body that is two values (`{..},"stream":{..}`) is signed whole, but a
/// receiver reads only its first object as the envelope, so the checksum
/// fails, as it would on a JS receiver. Senders only hand over objects.
#[test]
fn signed_body_that_is_not_one_object() {
    let cookie = Cookie::new("secret");
    let body = r#"{"id":"t-ping-1","from":{"id":"beta","host":"127.0.0.1","port":17301},"stream":{"done":true}},"stream":{"x":"pong"}"#;
    let mut frame = String::new();
    envelope::encode_body(&mut frame, "message", None, body);
    frame.pop();
    assert!(matches!(envelope::decode(&frame, None), Ok(Inbound::Message(_))));
    let mut signed = String::new();
    envelope::encode_body(&mut signed, "message", Some(&cookie), body);
    signed.pop();
    assert!(matches!(envelope::decode(&signed, Some(&cookie)), Err(Skip::InvalidChecksum { .. })));
}

/// A port beyond f64 is Infinity, a number, as JSON.parse reads it; the
/// canonical form of the frame (JSON.stringify) writes it as null, which is
/// not a port, though the JS kernel takes the message all the same.
#[test]
fn port_beyond_f64() {
    let frame = r#"{"type":"message","data":{"id":"t-call-2","tag":null,"from":{"id":"beta","host":"127.0.0.1","port":  4446444444444444444e+199917301},"stream":{"done":true},"data":2.5}}"#;
    match envelope::decode(frame, None) {
        Ok(Inbound::Message(m)) => assert_eq!(m.from.port, Some(f64::INFINITY)),
        other => panic!("{other:?}"),
    }
    let canonical = json::canonicalize(frame).unwrap();
    assert!(canonical.contains(r#""port":null"#), "{canonical}");
    match envelope::decode(&canonical, None) {
        Ok(Inbound::Message(m)) => {
            assert_eq!((m.from.id.as_deref(), m.from.port), (Some("beta"), None));
            assert_eq!(envelope::from_parts(m.from.raw)[2], Some("null"));
        }
        other => panic!("{other:?}"),
    }
}
