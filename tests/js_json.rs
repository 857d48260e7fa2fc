//! What a Rust node writes must be exactly what node's `JSON.stringify` writes for the same value,
//! or a JS peer's HMAC check fails. Node itself is the reference here, over many thousands of
//! generated values, both ways:
//!
//! (a) values generated in Rust are written by `to_js_json`, and compared with node's
//!     `JSON.stringify(JSON.parse(serde_json_text))`;
//! (b) values generated in node are `JSON.stringify`ed there, read in Rust as
//!     `serde_json::Value` and written back by `to_js_json`, byte for byte the same.
//!
//! A third test reads errors flattened in node as the seed kernel flattens them for the wire
//! (`errorToObject`) into `RemoteError`, and writes them back byte for byte.
//!
//! One node process serves all three tests (all values go through one stdin/stdout exchange), so the
//! run takes seconds. The seed is random per run unless `JS_JSON_SEED` is set, and every failure
//! message names it, so a failing run can be replayed. Without `node` on the PATH the tests skip
//! with a printed reason.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use clusterluck_native::serde_js::{from_json, to_js_json, Buffer, PayloadError, RemoteError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Values generated on each side.
const COUNT: usize = 20_000;

/// Errors generated in node.
const ERRORS: usize = 2_000;

/// A generated value. Richer than `serde_json::Value` on purpose: every integer width serde
/// knows, f32, Buffers, and maps that may repeat a key (serde lets a `Serialize` impl do that;
/// JSON.parse keeps the first place and the last value).
#[derive(Debug)]
enum Gen {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    F32(f32),
    Str(String),
    Array(Vec<Gen>),
    Map(Vec<(String, Gen)>),
    Buffer(Vec<u8>),
}

impl Serialize for Gen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Gen::Null => s.serialize_unit(),
            Gen::Bool(b) => s.serialize_bool(*b),
            Gen::U64(n) => s.serialize_u64(*n),
            Gen::I64(n) => s.serialize_i64(*n),
            Gen::U128(n) => s.serialize_u128(*n),
            Gen::I128(n) => s.serialize_i128(*n),
            Gen::F64(n) => s.serialize_f64(*n),
            Gen::F32(n) => s.serialize_f32(*n),
            Gen::Str(text) => s.serialize_str(text),
            Gen::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Gen::Map(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (key, member) in members {
                    map.serialize_entry(key, member)?;
                }
                map.end()
            }
            Gen::Buffer(bytes) => Buffer::from(bytes.clone()).serialize(s),
        }
    }
}

const EDGE_F64: &[f64] = &[
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e21, 1e20, 999_999_999_999_999_900_000.0, 1e-7, 1e-6,
    1.5e-7, 123e-20, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
    f64::MAX, f64::MIN_POSITIVE, f64::EPSILON, 9_007_199_254_740_991.0, 9_007_199_254_740_992.0,
    18_446_744_073_709_551_616.0, 4_294_967_294.0, 4_294_967_295.0, f64::NAN, f64::INFINITY,
    f64::NEG_INFINITY, 1.0 / 3.0, 1e100, 1e-100, 123_456_789.123_456_78,
];

fn number(rng: &mut StdRng) -> Gen {
    const P53: u64 = 1 << 53;
    match rng.random_range(0..14) {
        0 => Gen::F64(EDGE_F64[rng.random_range(0..EDGE_F64.len())]),
        // Any bit pattern: NaNs, infinities, subnormals, huge and tiny exponents.
        1 => Gen::F64(f64::from_bits(rng.random())),
        2 => Gen::F64(f64::from_bits(rng.random::<u64>() & 0x800f_ffff_ffff_ffff)),
        3 => Gen::U64(P53 - 20 + rng.random_range(0..41)),
        4 => Gen::I64(-(P53 as i64) - 20 + rng.random_range(0..41)),
        5 => Gen::U64(u64::MAX - rng.random_range(0..5000)),
        6 => Gen::I64(i64::MIN + rng.random_range(0..5000)),
        7 => Gen::U64(rng.random()),
        8 => Gen::I64(rng.random()),
        9 => Gen::U128(rng.random()),
        10 => Gen::I128(rng.random::<i128>() >> rng.random_range(0..127)),
        11 => Gen::F32(f32::from_bits(rng.random())),
        12 => {
            // A decimal mantissa with an exponent anywhere V8 switches notation and beyond.
            let text = format!("{}e{}", rng.random::<u32>(), rng.random_range(-340i32..320));
            Gen::F64(text.parse().unwrap_or(0.0))
        }
        _ => Gen::I64(rng.random_range(-1000..1000)),
    }
}

const SPECIAL: &[char] = &[
    '\u{0}', '\u{1}', '\u{7}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1b}', '\u{1f}', ' ',
    '"', '/', '\\', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', '\u{ad}', '\u{2028}', '\u{2029}',
    '\u{feff}', '\u{fffe}', '\u{ffff}', 'é', 'π', '中', '\u{d7ff}', '\u{e000}',
];
const ASTRAL: &[char] = &['😀', '💩', '👨', '\u{10000}', '\u{10ffff}', '𝄞', '\u{20000}'];

fn string(rng: &mut StdRng) -> String {
    let mut s = String::new();
    for _ in 0..rng.random_range(0..12) {
        match rng.random_range(0..7) {
            0 => s.push(SPECIAL[rng.random_range(0..SPECIAL.len())]),
            1 => s.push(ASTRAL[rng.random_range(0..ASTRAL.len())]),
            2 => s.push(char::from_u32(rng.random_range(0x10000..0x110000)).unwrap_or('x')),
            3 => s.push(char::from_u32(rng.random_range(0..0xd800)).unwrap_or('x')),
            4 => s.push_str("👩\u{200d}💻e\u{301}"),
            _ => s.push(char::from(rng.random_range(0x20u8..0x7f))),
        }
    }
    s
}

const KEYS: &[&str] = &[
    "0", "1", "2", "10", "01", "00", "-1", "1.0", "1e3", " 1", "4294967294", "4294967295",
    "4294967296", "9007199254740993", "a", "A", "b", "_error", "type", "data", "", "\u{2028}",
    "é", "😀", "length",
];

fn key(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => KEYS[rng.random_range(0..KEYS.len())].to_string(),
        1 => rng.random::<u32>().to_string(),
        2 => rng.random_range(0..20u32).to_string(),
        _ => string(rng),
    }
}

fn value(rng: &mut StdRng, depth: usize) -> Gen {
    match rng.random_range(0..if depth > 5 { 5 } else { 8 }) {
        0 => Gen::Null,
        1 => Gen::Bool(rng.random()),
        2 | 3 => number(rng),
        4 => Gen::Str(string(rng)),
        5 => Gen::Array((0..rng.random_range(0..7)).map(|_| value(rng, depth + 1)).collect()),
        6 => {
            // Small key pools make repeated keys common.
            let members = (0..rng.random_range(0..9))
                .map(|_| (key(rng), value(rng, depth + 1)))
                .collect();
            Gen::Map(members)
        }
        _ => Gen::Buffer((0..rng.random_range(0..40)).map(|_| rng.random()).collect()),
    }
}

/// What node answered for one run.
struct Oracle {
    seed: u64,
    /// (a): the serde_json text of each Rust value, and node's `JSON.stringify(JSON.parse(it))`.
    rust_side: Vec<(String, String)>,
    /// The Rust values themselves, for `to_js_json`.
    values: Vec<Gen>,
    /// (b): node's `JSON.stringify` of each value it generated, and whether it holds a lone
    /// surrogate (which no Rust `String` can hold).
    node_side: Vec<(String, bool)>,
    /// Node's `JSON.stringify(errorToObject(error))` of each error it generated.
    errors: Vec<String>,
}

fn seed() -> u64 {
    match std::env::var("JS_JSON_SEED") {
        Ok(text) => text.trim().parse().expect("JS_JSON_SEED is a u64"),
        Err(_) => rand::rng().random::<u32>().into(),
    }
}

/// Runs node once for the whole file; `None` (after printing why) when node is not available.
fn oracle() -> Option<&'static Oracle> {
    static ORACLE: OnceLock<Option<Oracle>> = OnceLock::new();
    ORACLE.get_or_init(run_node).as_ref()
}

fn run_node() -> Option<Oracle> {
    if Command::new("node").arg("--version").output().is_err() {
        println!("skipped: node is not on the PATH, so there is no JSON.stringify to compare with");
        return None;
    }
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<Gen> = (0..COUNT).map(|_| value(&mut rng, 0)).collect();
    let texts: Vec<String> = values
        .iter()
        .map(|v| serde_json::to_string(v).expect("generated values serialise"))
        .collect();
    let request = serde_json::json!({ "seed": seed as u32, "count": COUNT, "errors": ERRORS, "texts": texts });
    let script = format!("{}/tests/node/json_oracle.js", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = request.to_string();
    // Written from another thread, so a full stdout pipe cannot deadlock the exchange.
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let mut answer = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut answer)
        .expect("node's answer is UTF-8");
    writer.join().expect("writer thread").expect("request written to node");
    let status = child.wait().expect("node exits");
    assert!(status.success(), "seed {seed}: node failed: {status}");
    let answer: Value = serde_json::from_str(&answer).expect("node answers JSON");
    let a: Vec<String> = serde_json::from_value(answer["a"].clone()).expect("a: strings");
    let b: Vec<(String, bool)> = serde_json::from_value(answer["b"].clone()).expect("b: pairs");
    let c: Vec<String> = serde_json::from_value(answer["c"].clone()).expect("c: strings");
    assert_eq!(c.len(), ERRORS, "seed {seed}: node flattened every error");
    assert_eq!(a.len(), COUNT, "seed {seed}: one answer per Rust value");
    assert_eq!(b.len(), COUNT, "seed {seed}: node generated every value");
    Some(Oracle {
        seed,
        rust_side: texts.into_iter().zip(a).collect(),
        values,
        node_side: b,
        errors: c,
    })
}

/// Fails with the seed and the first few differences, so the run can be replayed and read.
fn report(seed: u64, what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} differ; replay with JS_JSON_SEED={seed}\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn rust_values_are_written_as_node_writes_them() {
    let Some(oracle) = oracle() else { return };
    let mut failures = Vec::new();
    for (i, (value, (serde_text, node_text))) in
        oracle.values.iter().zip(&oracle.rust_side).enumerate()
    {
        match to_js_json(value) {
            Ok(ours) if &ours == node_text => {
                // And it reads back to itself: written twice, the same text.
                let again = from_json::<Value>(&ours).and_then(|v| to_js_json(&v));
                if !matches!(&again, Ok(text) if text == &ours) {
                    failures.push(format!("#{i} not stable: {ours:?} then {again:?}"));
                }
            }
            Ok(ours) => failures.push(format!(
                "#{i} serde_json {serde_text:?}\n  node  {node_text:?}\n  ours  {ours:?}"
            )),
            Err(e) => failures.push(format!("#{i} serde_json {serde_text:?}: error {e}")),
        }
    }
    report(oracle.seed, "Rust values", &failures);
}

#[test]
fn node_text_is_written_back_byte_for_byte() {
    let Some(oracle) = oracle() else { return };
    let mut failures = Vec::new();
    let mut lone = 0;
    for (i, (node_text, has_lone)) in oracle.node_side.iter().enumerate() {
        match (from_json::<Value>(node_text), has_lone) {
            (Ok(value), false) => match to_js_json(&value) {
                Ok(ours) if &ours == node_text => {}
                Ok(ours) => failures.push(format!("#{i} node {node_text:?}\n  ours {ours:?}")),
                Err(e) => failures.push(format!("#{i} node {node_text:?}: error {e}")),
            },
            // A lone surrogate cannot be held in a Rust String: a typed error, never a panic.
            (Err(PayloadError::Deserialize(_)), true) => lone += 1,
            (Ok(value), true) => {
                failures.push(format!("#{i} {node_text:?} holds a lone surrogate, read as {value}"))
            }
            (Err(e), _) => failures.push(format!("#{i} node {node_text:?}: error {e}")),
        }
    }
    report(oracle.seed, "node values", &failures);
    // The generator must really exercise both paths, or the test proves less than it claims.
    assert!(lone > 0, "seed {}: no value held a lone surrogate", oracle.seed);
    assert!(lone < COUNT / 4, "seed {}: {lone} values held lone surrogates", oracle.seed);
}

#[test]
fn errors_flattened_in_node_read_and_write_back_byte_for_byte() {
    let Some(oracle) = oracle() else { return };
    let mut failures = Vec::new();
    let mut with_stack = 0;
    for (i, text) in oracle.errors.iter().enumerate() {
        let value = match from_json::<Value>(text) {
            Ok(value) => value,
            Err(e) => {
                failures.push(format!("#{i} {text:?}: {e}"));
                continue;
            }
        };
        let Some(error) = RemoteError::from_value(&value) else {
            failures.push(format!("#{i} {text:?}: not recognised as an error"));
            continue;
        };
        if error.message.as_str() != value["message"].as_str().unwrap_or("\u{0}not a string") {
            failures.push(format!("#{i} {text:?}: message read as {:?}", error.message));
        }
        with_stack += usize::from(error.stack.is_some());
        match to_js_json(&error) {
            Ok(ours) if &ours == text => {}
            Ok(ours) => failures.push(format!("#{i} node {text:?}\n  ours {ours:?}")),
            Err(e) => failures.push(format!("#{i} node {text:?}: error {e}")),
        }
    }
    report(oracle.seed, "node errors", &failures);
    assert!(with_stack > 0 && with_stack < ERRORS, "seed {}: {with_stack} errors with a stack", oracle.seed);
}
