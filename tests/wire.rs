//! Golden frames: bytes captured from JS kernels (seed kernel on node-ipc
//! 8.10.3) must decode and verify, and re-encoding their fields must give the
//! same bytes back, so a JS receiver verifies what we send.

use std::borrow::Cow;

use clusterluck_native::internals::cookie::Cookie;
use clusterluck_native::internals::envelope::{self, Inbound, OutData, OutMessage, InData};
use clusterluck_native::error::Skip;
use clusterluck_native::internals::json;

fn frames(name: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut out: Vec<String> = bytes
        .split(|&b| b == 0x0C)
        .map(|f| String::from_utf8(f.to_vec()).expect("captures are UTF-8"))
        .collect();
    assert_eq!(out.pop().as_deref(), Some(""), "{name} ends with a delimiter");
    out
}

fn secret() -> Cookie {
    Cookie::new("secret")
}

/// The fields of a decoded message, turned back into an outbound message.
fn to_out(m: &envelope::Message<'_>) -> OutMessage {
    let stream = json::object_members(m.stream_raw).unwrap();
    let get = |k: &str| stream.iter().rev().find(|(n, _)| n == k).map(|(_, v)| *v);
    OutMessage {
        event: json::as_str(m.event_raw).unwrap().into_owned(),
        tag: m.tag.as_ref().map(|t| t.to_string()),
        done: m.done,
        stream_id: get("stream").map(|s| json::as_str(s).unwrap().into_owned()),
        error_json: get("error").map(str::to_string),
        data: match &m.data {
            InData::Absent => OutData::Absent,
            InData::Json(raw) => OutData::Json(raw.to_string()),
            InData::Bytes(b) => OutData::Bytes(b.clone()),
            InData::BufferLike(raw) => OutData::Json(raw.to_string()),
        },
    }
}

fn from_of(m: &envelope::FromNode<'_>) -> String {
    envelope::from_json(m.id.as_deref().unwrap(), m.host.as_deref().unwrap(), m.port.unwrap())
}

fn reencode(frame: &str, cookie: Option<&Cookie>) -> String {
    let mut out = String::new();
    match envelope::decode(frame, cookie).expect("decodes") {
        Inbound::Message(m) => envelope::encode_message(&mut out, cookie, &from_of(&m.from), &to_out(&m)),
        Inbound::Ping(p) => envelope::encode_ping(&mut out, cookie, &from_of(&p.from), &p.tag_str().unwrap()),
        Inbound::Other(k) => panic!("unexpected type {k}"),
    }
    assert_eq!(out.pop(), Some('\u{c}'));
    out
}

#[test]
fn js_sender_frames_verify_and_reencode_byte_for_byte() {
    let all = frames("js-sender.cookie-secret.frames");
    assert_eq!(all.len(), 9);
    for f in &all {
        assert_eq!(&reencode(f, Some(&secret())), f);
        assert_eq!(json::canonicalize(f).unwrap(), Cow::Borrowed(f.as_str()));
    }
}

#[test]
fn js_replier_frames_verify_and_reencode_byte_for_byte() {
    let all = frames("js-replier.cookie-secret.frames");
    assert_eq!(all.len(), 4);
    for f in &all {
        assert_eq!(&reencode(f, Some(&secret())), f);
    }
}

#[test]
fn frames_without_cookie_reencode_and_fail_with_one() {
    for f in frames("js-sender.no-cookie.frames") {
        assert_eq!(reencode(&f, None), f);
        match envelope::decode(&f, Some(&secret())) {
            Err(Skip::InvalidChecksum { sent: None, calculated }) => assert_eq!(calculated.len(), 64),
            other => panic!("expected a missing checksum, got {other:?}"),
        }
    }
}

#[test]
fn decoded_fields_are_what_the_js_kernel_sees() {
    let all = frames("js-sender.cookie-secret.frames");
    let c = secret();
    match envelope::decode(&all[0], Some(&c)).unwrap() {
        Inbound::Ping(p) => {
            assert_eq!(p.tag, Some("\"8c205b22ebcc95e9700ec4b061d7277b5e95b17526cc2f360\""));
            assert_eq!(p.tag_str().as_deref(), Some("8c205b22ebcc95e9700ec4b061d7277b5e95b17526cc2f360"));
            assert_eq!(p.from.id.as_deref(), Some("alpha"));
            assert_eq!(p.from.host.as_deref(), Some("127.0.0.1"));
            assert_eq!(p.from.port, Some(17301.0));
        }
        other => panic!("{other:?}"),
    }
    match envelope::decode(&all[1], Some(&c)).unwrap() {
        Inbound::Message(m) => {
            assert_eq!(m.event_raw, "\"jobs\"");
            assert_eq!(m.tag, None);
            assert!(m.done);
            assert_eq!(m.stream_raw, "{\"done\":true}");
            assert_eq!(
                m.data,
                InData::Json("{\"event\":\"hello\",\"data\":{\"n\":1,\"s\":\"é\\u0001\\\"\",\"f\":0.1,\"big\":1e+21,\"neg\":0}}")
            );
        }
        other => panic!("{other:?}"),
    }
    match envelope::decode(&all[3], Some(&c)).unwrap() {
        Inbound::Message(m) => assert_eq!(m.data, InData::Bytes(vec![0, 1, 255])),
        other => panic!("{other:?}"),
    }
    match envelope::decode(&all[7], Some(&c)).unwrap() {
        Inbound::Message(m) => {
            assert!(m.done);
            assert!(m.stream_raw.contains("\"error\":{\"stack\":\"Error: boom"));
            assert_eq!(m.data, InData::Json("null"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_cookie_or_a_changed_byte_fails_the_checksum() {
    let all = frames("js-sender.cookie-secret.frames");
    for f in &all {
        assert!(matches!(envelope::decode(f, Some(&Cookie::new("other"))), Err(Skip::InvalidChecksum { .. })));
        let tampered = f.replace("127.0.0.1", "127.0.0.2");
        assert!(matches!(envelope::decode(&tampered, Some(&secret())), Err(Skip::InvalidChecksum { .. })));
    }
}

#[test]
fn non_canonical_senders_are_verified_on_the_canonical_form() {
    // A sender that signs canonical JSON but writes spaces and escapes: the JS
    // receiver re-serializes before hashing, and so must we.
    let c = secret();
    let canonical = r#"{"id":"e","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":{"1":"x","b":"é"}}"#;
    let sum = c.sign(canonical);
    let sum = std::str::from_utf8(&sum).unwrap();
    let messy = format!(
        r#"{{ "type" : "message" , "data" : {{ "id" : "e", "checkSum" : "{sum}", "tag" : null, "from" : {{"id":"a","host":"h","port":1.0}}, "stream":{{"done":true}}, "data": {{"b":"\u00e9","1":"x"}} }} }}"#
    );
    assert!(matches!(envelope::decode(&messy, Some(&c)), Ok(Inbound::Message(_))));
}

#[test]
fn bad_shapes_are_typed_skips() {
    let cases = [
        ("not json", "INVALID_JSON"),
        ("[1,2]", "INVALID_MESSAGE"),
        (r#"{"data":{}}"#, "INVALID_MESSAGE"),
        (r#"{"type":"message"}"#, "INVALID_MESSAGE"),
        (r#"{"type":"message","data":5}"#, "INVALID_MESSAGE"),
        // What the JS kernel's handler throws on (it reads `from.id` and
        // `stream.stream` of every message, `from.id` of every ping).
        (r#"{"type":"message","data":{"id":"e","tag":null,"stream":{"done":true}}}"#, "INVALID_MESSAGE"),
        (r#"{"type":"message","data":{"id":"e","tag":null,"from":null,"stream":{"done":true}}}"#, "INVALID_MESSAGE"),
        (r#"{"type":"message","data":{"id":"e","tag":null,"from":{"id":"a","host":"h","port":1}}}"#, "INVALID_MESSAGE"),
        (r#"{"type":"message","data":{"id":"e","tag":null,"from":{"id":"a"},"stream":null}}"#, "INVALID_MESSAGE"),
        (r#"{"type":"ping","data":{"tag":"t","stream":{"done":true}}}"#, "INVALID_MESSAGE"),
        (r#"{"type":"ping","data":{"tag":"t","from":null}}"#, "INVALID_MESSAGE"),
    ];
    for (frame, kind) in cases {
        match envelope::decode(frame, None) {
            Err(s) => assert_eq!(s.kind(), kind, "{frame}"),
            Ok(v) => panic!("{frame} decoded as {v:?}"),
        }
    }
    assert!(matches!(envelope::decode(r#"{"type":"other","data":1}"#, None), Ok(Inbound::Other(_))));
}

/// Every message the JS kernel takes is taken: it reads `from` only as
/// `Node.from(from)` (clusterluck's CLI sends `{id}` alone), emits `id`
/// whatever it is, reads the tag as `tag || null` and hands `stream` over as
/// it is.
#[test]
fn what_the_js_kernel_takes_is_taken() {
    let msg = |body: &str| format!(r#"{{"type":"message","data":{body}}}"#);
    fn decode(frame: &str) -> envelope::Message<'_> {
        match envelope::decode(frame, None) {
            Ok(Inbound::Message(m)) => m,
            other => panic!("{frame}: {other:?}"),
        }
    }
    // clusterluck's CLI, as it sends every command.
    let cli = msg(r#"{"id":"command","tag":"7f0e","from":{"id":"box_4242"},"stream":{"stream":"s9","done":true},"data":{"type":"Buffer","data":[123,125]}}"#);
    let m = decode(&cli);
    assert_eq!((m.from.id.as_deref(), m.from.host.as_deref(), m.from.port), (Some("box_4242"), None, None));
    assert_eq!((m.event_raw, m.tag.as_deref(), m.tag_other, m.done), ("\"command\"", Some("7f0e"), None, true));
    assert_eq!(envelope::from_parts(m.from.raw), [Some("\"box_4242\""), None, None]);
    // Any other value of `from`, parts of other types.
    for (from, id, parts) in [
        (r#"{"id":"a","host":"h","port":"1"}"#, Some("a"), [Some("\"a\""), Some("\"h\""), Some("\"1\"")]),
        (r#"{"id":5,"port":null}"#, None, [Some("5"), None, Some("null")]),
        (r#""just a string""#, None, [None, None, None]),
        ("[1,2]", None, [None, None, None]),
        ("0", None, [None, None, None]),
        ("{}", None, [None, None, None]),
    ] {
        let frame = msg(&format!(r#"{{"id":"e","from":{from},"stream":{{"done":true}}}}"#));
        let m = decode(&frame);
        assert_eq!(m.from.id.as_deref(), id, "{from}");
        assert_eq!(envelope::from_parts(m.from.raw), parts, "{from}");
    }
    let from = r#"{"id":"a","host":"h","port":1}"#;
    // Tags: falsy ones are no tag; a truthy one that is not a string is kept raw.
    for (tag, want, other) in [
        ("null", None, None),
        ("false", None, None),
        ("0", None, None),
        ("-0.0e5", None, None),
        (r#""""#, None, None),
        (r#""t""#, Some("t"), None),
        ("7", None, Some("7")),
        ("true", None, Some("true")),
        ("[]", None, Some("[]")),
        (r#"{"x":1}"#, None, Some(r#"{"x":1}"#)),
    ] {
        let frame = msg(&format!(r#"{{"id":"e","tag":{tag},"from":{from},"stream":{{"done":true}}}}"#));
        let m = decode(&frame);
        assert_eq!((m.tag.as_deref(), m.tag_other), (want, other), "tag {tag}");
    }
    // Events of any type, or none; streams of any shape, `done` as its truthiness.
    for (id, event) in [("5", "5"), ("null", "null"), (r#"["a"]"#, r#"["a"]"#)] {
        assert_eq!(decode(&msg(&format!(r#"{{"id":{id},"from":{from},"stream":{{"done":true}}}}"#))).event_raw, event);
    }
    assert_eq!(decode(&msg(&format!(r#"{{"from":{from},"stream":{{"done":true}}}}"#))).event_raw, envelope::UNDEFINED_EVENT);
    for (stream, done) in [(r#"{"done":"yes"}"#, true), (r#"{"done":0}"#, false), (r#"{"stream":5}"#, false), ("7", false), (r#""s""#, false), ("[true]", false)] {
        let frame = msg(&format!(r#"{{"id":"e","from":{from},"stream":{stream}}}"#));
        let m = decode(&frame);
        assert_eq!((m.stream_raw, m.done), (stream, done), "stream {stream}");
    }
    // A ping with any tag, or none, and any sender.
    for (tag, want) in [(r#""tag":"t","#, Some(r#""t""#)), (r#""tag":[1],"#, Some("[1]")), ("", None)] {
        let frame = format!(r#"{{"type":"ping","data":{{{tag}"from":{{"id":"cli"}}}}}}"#);
        match envelope::decode(&frame, None) {
            Ok(Inbound::Ping(p)) => assert_eq!((p.tag, p.from.id.as_deref()), (want, Some("cli")), "{frame}"),
            other => panic!("{frame}: {other:?}"),
        }
    }
    // With a cookie, the same messages pass once signed, and only then.
    let c = secret();
    let body = r#"{"id":"command","tag":"7f0e","from":{"id":"box_4242"},"stream":{"done":true},"data":null}"#;
    let sum = c.sign(body);
    let signed = msg(&format!(r#"{{"checkSum":"{}",{}"#, std::str::from_utf8(&sum).unwrap(), &body[1..]));
    assert!(matches!(envelope::decode(&signed, Some(&c)), Ok(Inbound::Message(_))));
    assert!(matches!(envelope::decode(&msg(body), Some(&c)), Err(Skip::InvalidChecksum { .. })));
}

#[test]
fn senders_read_again_are_read_the_same() {
    let frame = |from: &str| {
        format!(r#"{{"type":"message","data":{{"id":"e","tag":null,"from":{from},"stream":{{"done":true}},"data":1}}}}"#)
    };
    let sender = |f: &str| match envelope::decode(f, None).unwrap() {
        Inbound::Message(m) => (m.from.id.unwrap().into_owned(), m.from.host.unwrap().into_owned(), m.from.port.unwrap()),
        other => panic!("{other:?}"),
    };
    let a = frame(r#"{"id":"alpha","host":"10.0.0.1","port":7022}"#);
    let b = frame(r#"{"id":"b","host":"h","port":1.5}"#);
    let c = frame(r#"{"id":"c\u0041","host":"","port":-0}"#);
    let d = frame(r#"{"port":2,"host":"hh","id":"dd","id":"d2"}"#);
    for _ in 0..3 {
        for f in [&a, &a, &b, &c, &c, &d, &d, &a] {
            let want = match f {
                f if f == &a => ("alpha".to_string(), "10.0.0.1".to_string(), 7022.0),
                f if f == &b => ("b".to_string(), "h".to_string(), 1.5),
                f if f == &c => ("cA".to_string(), String::new(), -0.0),
                _ => ("d2".to_string(), "hh".to_string(), 2.0),
            };
            assert_eq!(sender(f), want, "{f}");
        }
    }
}

#[test]
fn buffer_shapes_follow_the_js_rules() {
    let msg = |data: &str| {
        format!(r#"{{"type":"message","data":{{"id":"e","tag":null,"from":{{"id":"a","host":"h","port":1}},"stream":{{"done":true}},"data":{data}}}}}"#)
    };
    let data_of = |f: &str| match envelope::decode(f, None).unwrap() {
        Inbound::Message(m) => format!("{:?}", m.data),
        other => panic!("{other:?}"),
    };
    assert_eq!(data_of(&msg(r#"{"type":"Buffer","data":[1,2]}"#)), "Bytes([1, 2])");
    assert_eq!(data_of(&msg(r#"{"data":[1,2],"type":"Buffer","x":1}"#)), "Bytes([1, 2])");
    assert!(data_of(&msg(r#"{"type":"Buffer","data":[256,"1",1.5]}"#)).starts_with("BufferLike"));
    assert!(data_of(&msg(r#"{"type":"Buffer","data":"x"}"#)).starts_with("Json"));
    assert!(data_of(&msg(r#"{"type":"buffer","data":[1]}"#)).starts_with("Json"));
    // Escapes that spell "Buffer" count, as they do for JSON.parse.
    assert_eq!(data_of(&msg(r#"{"type":"Buff\u0065r","data":[7]}"#)), "Bytes([7])");
    assert_eq!(data_of(&msg(r#"{"\u0074ype":"Buffer","data":[8]}"#)), "Bytes([8])");
    // Payloads that are not Buffers are passed on as they are.
    assert_eq!(data_of(&msg(r#"{"a":1,"b":"hello","c":[1,2,3]}"#)), r#"Json("{\"a\":1,\"b\":\"hello\",\"c\":[1,2,3]}")"#);
    assert_eq!(data_of(&msg(r#"[{"type":"Buffer","data":[1]}]"#)), r#"Json("[{\"type\":\"Buffer\",\"data\":[1]}]")"#);
}

/// The envelope reader validates each piece once instead of the whole frame
/// up front: it must accept exactly the frames JSON.parse accepts. Every
/// prefix and many one-byte edits of the captured frames are checked.
#[test]
fn decode_rejects_exactly_what_json_parse_rejects() {
    let mut all = frames("js-sender.cookie-secret.frames");
    all.extend(frames("js-replier.cookie-secret.frames"));
    all.push(r#"{"type":"message","data":{"id":"e","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":{"type":"Buffer","data":[1,2],"data":[3]}},"data":{}}"#.to_string());
    let edits = ['"', ',', '}', ']', '{', '[', 'x', '\\', ' ', ':', '0', '-', 'e'];
    let mut checked = 0;
    for f in &all {
        let mut variants: Vec<String> = (0..f.len()).filter(|&i| f.is_char_boundary(i)).map(|i| f[..i].to_string()).collect();
        for (i, _) in f.char_indices() {
            for e in edits {
                let mut v = f.clone();
                v.replace_range(i..i + f[i..].chars().next().unwrap().len_utf8(), &e.to_string());
                variants.push(v);
            }
        }
        for v in variants {
            let valid = json::validate(&v).is_ok();
            for cookie in [None, Some(secret())] {
                let res = envelope::decode(&v, cookie.as_ref());
                let invalid_json = matches!(res, Err(Skip::InvalidJson(_)));
                assert_eq!(invalid_json, !valid, "{v}: {res:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 50_000, "{checked}");
}

/// Rough cost of one 64 KiB Buffer chunk through encode and decode (run by
/// hand: `cargo test --release --test wire -- --ignored --nocapture`).
#[test]
#[ignore]
fn chunk_codec_speed() {
    let c = secret();
    // Pseudo-random bytes: digit counts vary as in real payloads.
    let mut x: u32 = 12345;
    let bytes: Vec<u8> = (0..65536)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let m = OutMessage {
        event: "bulk".into(),
        tag: Some("t".into()),
        done: false,
        stream_id: Some("s".repeat(48)),
        error_json: None,
        data: OutData::Bytes(bytes.clone()),
    };
    let from = envelope::from_json("alpha", "127.0.0.1", 1.0);
    let n = 200;
    let t = std::time::Instant::now();
    let mut out = String::new();
    for _ in 0..n {
        out.clear();
        envelope::encode_message(&mut out, Some(&c), &from, &m);
    }
    let enc = t.elapsed() / n;
    let frame = out.trim_end_matches('\u{c}').to_string();
    let t = std::time::Instant::now();
    for _ in 0..n {
        match envelope::decode(&frame, Some(&c)).unwrap() {
            Inbound::Message(m) => assert_eq!(m.data, InData::Bytes(bytes.clone())),
            _ => panic!(),
        }
    }
    let dec = t.elapsed() / n;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(c.sign(&frame));
    }
    let mac = t.elapsed() / n;
    let t = std::time::Instant::now();
    for _ in 0..n {
        json::validate(std::hint::black_box(&frame)).unwrap();
    }
    let val = t.elapsed() / n;
    println!("frame {} bytes: encode {enc:?}, decode {dec:?}, hmac {mac:?}, full validate {val:?}", frame.len());
}

/// Time to decode and verify one small cast frame (run by hand:
/// `cargo test --release --test wire -- --ignored --nocapture`).
#[test]
#[ignore]
fn cast_decode_speed() {
    let c = secret();
    let from = envelope::from_json("alpha", "127.0.0.1", 7022.0);
    let line = format!("m{{\"id\":\"cast\",\"tag\":null,\"from\":{from},\"stream\":{{\"done\":true}},\"data\":{{\"a\":1,\"b\":\"hello\",\"c\":[1,2,3]}}}}");
    let mut out = String::new();
    envelope::encode_bodies(&mut out, Some(&c), &line, &mut Vec::new());
    let frame = out.trim_end_matches('\u{c}').to_string();
    let n = 200_000u32;
    for round in 0..3 {
        let t = std::time::Instant::now();
        for _ in 0..n {
            match envelope::decode(std::hint::black_box(&frame), Some(&c)).unwrap() {
                Inbound::Message(m) => assert!(m.done),
                _ => panic!(),
            }
        }
        println!("round {round}: cast frame of {} bytes: decode + verify {:?}", frame.len(), t.elapsed() / n);
    }
}
