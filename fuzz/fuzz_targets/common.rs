//! Helpers shared by the targets: an independent JSON reading (serde_json)
//! to judge the project's own parser by.

#![allow(dead_code)]

use serde_json::Value;

/// The text read by serde_json, at any depth; None when it rejects it.
pub fn parse(text: &str) -> Option<Value> {
    use serde::Deserialize as _;
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = Value::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// Whether `text` escapes a UTF-16 surrogate (`\uD800`..`\uDFFF`).
/// JSON.parse takes a lone one (a JS string may hold it); serde_json, whose
/// strings are UTF-8, rejects it. Such texts are left out of comparisons.
pub fn escapes_surrogate(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(3).any(|w| {
        w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D')
    })
}

/// Whether any number in `v` is beyond f64 (JSON.parse makes it Infinity,
/// which JSON.stringify writes as `null`).
pub fn has_non_finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => !number(n).is_finite(),
        Value::Array(a) => a.iter().any(has_non_finite),
        Value::Object(o) => o.values().any(has_non_finite),
        _ => false,
    }
}

fn number(n: &serde_json::Number) -> f64 {
    // With arbitrary_precision the number keeps its text; Rust's parse
    // rounds as JS does (to nearest, ties to even) and overflows to inf.
    n.to_string().parse::<f64>().unwrap_or(f64::NAN)
}

/// The same JSON value as JS sees it: numbers compared as doubles (after
/// JSON.stringify's Infinity-to-null), objects as maps with the last of
/// duplicate keys (serde_json keeps the last, as JSON.parse does).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number(x) == number(y),
        (Value::Number(x), Value::Null) | (Value::Null, Value::Number(x)) => !number(x).is_finite(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}
