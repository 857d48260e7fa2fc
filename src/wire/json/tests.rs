//! Tests that go through the whole module: the public readers and writers, real captures, and
//! documents that must never panic however they are cut or mutated. Also the helpers that the
//! tests beside each part share.

use super::*;

pub(super) fn canon(s: &str) -> String {
    match canonicalize(s) {
        Ok(text) => text.into_owned(),
        Err(e) => panic!("{s:?} failed: {e}"),
    }
}

pub(super) fn is_borrowed(s: &str) -> bool {
    matches!(canonicalize(s), Ok(Cow::Borrowed(_)))
}

pub(super) fn err_kind(s: &str) -> JsonErrorKind {
    match canonicalize(s) {
        Ok(text) => panic!("{s:?} unexpectedly parsed to {text:?}"),
        Err(e) => {
            assert_eq!(validate(s), Err(e.clone()), "validate disagrees on {s:?}");
            e.kind
        }
    }
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
