//! The envelope reader with a cookie: the checksum path.
//!
//! The input is used twice. As a frame as it stands, read with a cookie (a
//! fuzzer cannot forge the HMAC, so this mostly drives the checksum failure
//! paths, the order of checks and the canonical re-serialisation); should it
//! pass, it must read as it does with no cookie. And as an envelope body (one
//! JSON object), signed the way this kernel signs what it sends, then read:
//!
//! - with the right cookie it reads exactly as it does without one, unless
//!   the body names its own `checkSum` (it would then not be the one signed);
//! - with another cookie it never reads as a good message or ping;
//! - read by its shape (a message as kernels write it, its sender known)
//!   it reads as the full reader reads it, with either cookie.

#![no_main]

use clusterluck_native::internals::cookie::Cookie;
use clusterluck_native::internals::envelope::{self, Inbound};
use clusterluck_native::error::Skip;
use clusterluck_native::internals::json;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static COOKIES: (Cookie, Cookie) = (Cookie::new("secret"), Cookie::new("another secret"));
}

fn frame_of(kind: &str, cookie: Option<&Cookie>, body: &str) -> String {
    let mut out = String::new();
    envelope::encode_body(&mut out, kind, cookie, body);
    assert_eq!(out.pop(), Some('\u{c}'), "a frame ends with its delimiter");
    out
}

fuzz_target!(|input: &[u8]| {
    COOKIES.with(|(right, wrong)| {
        let text = String::from_utf8_lossy(input);
        // A cookie only adds a check: what passes it reads as without one.
        if let Ok(read) = envelope::decode(&text, Some(right)) {
            assert_eq!(envelope::decode(&text, None).as_ref(), Ok(&read));
        }

        // As a body: the first byte picks the frame type, as a line of a batch does.
        let Some((&first, rest)) = input.split_first() else { return };
        let Ok(body) = std::str::from_utf8(rest) else { return };
        // The sender vouches that a body is one object (`{..},"x":{..}` is
        // not: signed whole, it would be read as its first object alone).
        if !body.starts_with('{') || json::validate(body).is_err() {
            return;
        }
        let kind = if first & 1 == 0 { "message" } else { "ping" };
        let plain = frame_of(kind, None, body);
        let signed = frame_of(kind, Some(right), body);
        let unsigned_read = envelope::decode(&plain, None);
        let signed_read = envelope::decode(&signed, Some(right));
        // Its sender now known, a signed message of the usual shape is read
        // by it (`decode_usual`), and must read as the full reader reads it.
        assert_eq!(envelope::decode(&signed, Some(right)), envelope::decode_any(&signed, Some(right)));
        assert_eq!(envelope::decode(&signed, Some(wrong)), envelope::decode_any(&signed, Some(wrong)));
        let own_sum = body.contains("checkSum") || body.contains("\\u");
        match (&unsigned_read, &signed_read) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the signed frame reads differently"),
            (Ok(_), Err(Skip::InvalidChecksum { .. })) if own_sum => {}
            // `{ }` signed becomes `{"checkSum":"..", }`: not JSON any more.
            (Ok(_), Err(Skip::InvalidJson(_))) if body[1..body.len() - 1].trim().is_empty() => {}
            (Ok(a), Err(e)) => panic!("{a:?} unsigned, but signed: {e:?}"),
            (Err(_), Ok(b)) if !own_sum => panic!("unsigned it fails, signed it reads as {b:?}"),
            _ => {}
        }
        match envelope::decode(&signed, Some(wrong)) {
            Ok(Inbound::Message(_)) | Ok(Inbound::Ping(_)) => panic!("read with the wrong cookie"),
            _ => {}
        }
    });
});
