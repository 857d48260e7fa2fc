//! serde for what JS sends: Rust values in and out of the JSON a JS kernel reads and writes.
//!
//! A JS kernel signs `JSON.stringify(envelope)` with the cookie, and its peer recomputes the HMAC
//! over its own `JSON.stringify` of what it parsed. A Rust node therefore cannot write serde_json's
//! text as it is: `1e21`, `-0.0`, `18446744073709551615` or a map with the key `"1"` after `"a"`
//! are all written differently by V8, and the signature would not verify. [`to_js_json`] writes
//! what `JSON.stringify` would, by running serde_json's text through the canonicaliser in
//! the wire layer (which reproduces `JSON.stringify(JSON.parse(x))`).
//!
//! Two JS shapes have no natural serde counterpart, so this module gives them one:
//!
//! - a Node `Buffer` travels as `{"type":"Buffer","data":[bytes...]}` ([`Buffer`], and the
//!   [`buffer`] adapters for `#[serde(with = "...")]` on `Vec<u8>` or `bytes::Bytes` fields);
//! - a JS `Error` travels flattened as `{stack, message, ..., _error: true}`, as clusterluck's
//!   `utils.errorToObject` writes it into `stream.error` ([`RemoteError`]).

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::wire::json::{self, JsonError};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a payload could not be written or read.
///
/// Payloads come from peers, so a bad one must reach the caller as a value it can match on, never
/// as a panic; and a value that cannot be written must be refused before anything is sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum PayloadError {
    /// The value could not be serialised as JSON (a map whose keys are not strings or numbers, a
    /// `Serialize` impl that failed, ...).
    Serialize(serde_json::Error),
    /// The serialised text cannot be written as `JSON.stringify` would: in practice, nesting
    /// deeper than the canonicaliser's bound on nesting (10,000 levels; 2,000 in a build with
    /// debug assertions).
    Canonical(JsonError),
    /// The JSON text is not valid JSON, or does not fit the requested type (a missing field, a
    /// wrong type, nesting deeper than serde_json's 128 levels, a string holding a lone UTF-16
    /// surrogate, which no Rust `String` can hold).
    Deserialize(serde_json::Error),
}

/// One sentence naming the stage that failed and why.
impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Serialize(e) => write!(f, "payload could not be serialised: {e}"),
            PayloadError::Canonical(e) => write!(f, "payload could not be written as JS does: {e}"),
            PayloadError::Deserialize(e) => write!(f, "payload could not be read: {e}"),
        }
    }
}

/// The underlying serde_json or canonicaliser error is the source, so error reports show both.
impl std::error::Error for PayloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PayloadError::Serialize(e) | PayloadError::Deserialize(e) => Some(e),
            PayloadError::Canonical(e) => Some(e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Text in and out
// ---------------------------------------------------------------------------------------------

/// The JSON text JS's `JSON.stringify` writes for the same value: no whitespace, members in
/// V8's order (integer-like keys such as `"1"` first, ascending, then the others as written; a
/// repeated key keeps its first place and its last value), numbers as `Number.prototype.toString`
/// writes them (`1e+21`, `5e-324`, `-0` as `0`, integers beyond 2^53 rounded to the nearest
/// double as JS would hold them, NaN and infinities as `null`), strings escaped as V8 escapes them.
///
/// This is the text a Rust node must sign and send: a JS peer verifies the HMAC over its own
/// `JSON.stringify` of what it parsed, which is this text exactly.
pub fn to_js_json<T: Serialize + ?Sized>(value: &T) -> Result<String, PayloadError> {
    let text = serde_json::to_string(value).map_err(PayloadError::Serialize)?;
    // serde_json's text is valid JSON, so this only fails on depth. A text that is already
    // canonical (strings and small integers, the common case) comes back borrowed, and is then
    // kept uncopied; a borrowed slice may also be a part of it (`1.0` gives `1`).
    let canonical = match json::canonicalize(&text).map_err(PayloadError::Canonical)? {
        std::borrow::Cow::Borrowed(slice) if slice.len() == text.len() => None,
        other => Some(other.into_owned()),
    };
    Ok(canonical.unwrap_or(text))
}

/// Reads a JSON text (from a JS peer, typically) into any deserialisable type.
///
/// Use `serde_json::Value` to take whatever came; objects keep their members in text order.
/// A Buffer arrives as `{"type":"Buffer","data":[...]}`: read it with [`Buffer`] or the
/// [`buffer`] adapters. An error shape is best read through [`RemoteError::from_value`].
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, PayloadError> {
    serde_json::from_str(text).map_err(PayloadError::Deserialize)
}

/// Converts an already parsed JSON value into any deserialisable type, with the same typed error
/// as [`from_json`], for handlers that look at the value before choosing a type.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, PayloadError> {
    serde_json::from_value(value).map_err(PayloadError::Deserialize)
}

// ---------------------------------------------------------------------------------------------
// Buffers
// ---------------------------------------------------------------------------------------------

/// A Node `Buffer` as a payload: serialises as `{"type":"Buffer","data":[1,2,255]}`, the shape of
/// `Buffer#toJSON`, which a JS kernel turns back into a Buffer on arrival (`_decodeBuffer`), and
/// deserialises from that shape.
///
/// A bare `Vec<u8>` would travel as a plain JSON array and reach a JS handler as an Array, not a
/// Buffer; wrap binary data in this type (or use the [`buffer`] adapters on a field) instead.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Buffer(pub Bytes);

impl Buffer {
    /// The bytes, cheaply shared.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// Shows the length, not megabytes of digits.
impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Buffer(<{} bytes>)", self.0.len())
    }
}

/// A Buffer reads as its bytes.
impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// So a Buffer can be passed wherever bytes are taken.
impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Wraps owned bytes without copying.
impl From<Vec<u8>> for Buffer {
    fn from(bytes: Vec<u8>) -> Self {
        Buffer(Bytes::from(bytes))
    }
}

/// Wraps shared bytes without copying.
impl From<Bytes> for Buffer {
    fn from(bytes: Bytes) -> Self {
        Buffer(bytes)
    }
}

/// Copies borrowed bytes.
impl From<&[u8]> for Buffer {
    fn from(bytes: &[u8]) -> Self {
        Buffer(Bytes::copy_from_slice(bytes))
    }
}

/// Gives the bytes back.
impl From<Buffer> for Bytes {
    fn from(buffer: Buffer) -> Self {
        buffer.0
    }
}

/// Gives the bytes back as a vector (a copy unless the bytes were uniquely owned).
impl From<Buffer> for Vec<u8> {
    fn from(buffer: Buffer) -> Self {
        Vec::from(buffer.0)
    }
}

/// `{"type":"Buffer","data":[...]}`, members in that order, as `Buffer#toJSON` makes them.
impl Serialize for Buffer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        buffer::serialize(&self.0, serializer)
    }
}

/// Reads the Buffer shape; anything else is a typed error.
impl<'de> Deserialize<'de> for Buffer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        buffer::deserialize::<'de, D, Vec<u8>>(deserializer).map(Buffer::from)
    }
}

/// serde adapters that write and read byte fields in Node's Buffer shape, for
/// `#[serde(with = "clusterluck_native::serde_js::buffer")]` on a `Vec<u8>` or `bytes::Bytes`
/// field (or [`buffer::option`] on an `Option` of either), so a struct can carry binary data
/// that a JS handler receives as a Buffer.
pub mod buffer {
    use super::*;

    /// Writes bytes as `{"type":"Buffer","data":[...]}`.
    pub fn serialize<T, S>(bytes: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: AsRef<[u8]> + ?Sized,
        S: Serializer,
    {
        let mut shape = serializer.serialize_struct("Buffer", 2)?;
        shape.serialize_field("type", "Buffer")?;
        shape.serialize_field("data", &Digits(bytes.as_ref()))?;
        shape.end()
    }

    /// Reads `{"type":"Buffer","data":[...]}` (members in any order, other members ignored), every
    /// datum an integer from 0 to 255. Binary formats may also give the bytes directly.
    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: From<Vec<u8>>,
    {
        deserializer.deserialize_map(BufferVisitor).map(T::from)
    }

    /// The same adapters for an optional byte field: `None` is JSON `null`, as a JS kernel
    /// writes a missing Buffer.
    pub mod option {
        use super::*;

        /// Writes `null` or the Buffer shape.
        pub fn serialize<T, S>(bytes: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
        where
            T: AsRef<[u8]>,
            S: Serializer,
        {
            match bytes {
                Some(bytes) => serializer.serialize_some(&Buffer::from(bytes.as_ref())),
                None => serializer.serialize_none(),
            }
        }

        /// Reads `null` as `None`, the Buffer shape as `Some`.
        pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
        where
            D: Deserializer<'de>,
            T: From<Vec<u8>>,
        {
            Ok(Option::<Buffer>::deserialize(deserializer)?.map(|b| T::from(Vec::from(b))))
        }
    }

    /// The `data` array: one number per byte.
    struct Digits<'a>(&'a [u8]);

    impl Serialize for Digits<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
            for byte in self.0 {
                seq.serialize_element(byte)?;
            }
            seq.end()
        }
    }

    /// Reads the Buffer object, checking `type` and collecting `data`.
    struct BufferVisitor;

    impl<'de> Visitor<'de> for BufferVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"a Node Buffer, {"type":"Buffer","data":[...]}"#)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
            let mut typed = false;
            let mut data = None;
            while let Some(key) = map.next_key::<Key>()? {
                match key {
                    Key::Type => {
                        let kind: std::borrow::Cow<'de, str> = map.next_value()?;
                        if kind != "Buffer" {
                            return Err(de::Error::invalid_value(
                                de::Unexpected::Str(&kind),
                                &r#""Buffer""#,
                            ));
                        }
                        typed = true;
                    }
                    Key::Data => data = Some(map.next_value::<ByteList>()?.0),
                    Key::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            if !typed {
                return Err(de::Error::missing_field("type"));
            }
            data.ok_or_else(|| de::Error::missing_field("data"))
        }

        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }
    }

    /// The member names of the Buffer shape, read without allocating.
    enum Key {
        Type,
        Data,
        Other,
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl Visitor<'_> for KeyVisitor {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a member name")
                }
                fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                    Ok(match key {
                        "type" => Key::Type,
                        "data" => Key::Data,
                        _ => Key::Other,
                    })
                }
            }
            deserializer.deserialize_identifier(KeyVisitor)
        }
    }

    /// The `data` array, each element a byte. `Vec<u8>`'s own impl would do, but this one
    /// reserves at most a bounded amount up front whatever length a format announces.
    struct ByteList(Vec<u8>);

    impl<'de> Deserialize<'de> for ByteList {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct ListVisitor;
            impl<'de> Visitor<'de> for ListVisitor {
                type Value = ByteList;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an array of integers from 0 to 255")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteList, A::Error> {
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                    while let Some(byte) = seq.next_element::<u8>()? {
                        out.push(byte);
                    }
                    Ok(ByteList(out))
                }
            }
            deserializer.deserialize_seq(ListVisitor)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors from and to JS
// ---------------------------------------------------------------------------------------------

/// An error as a JS kernel sends it: clusterluck's `utils.errorToObject` flattens an `Error` into
/// `{stack, message, ...its own enumerable properties, _error: true}` (no `stack` when
/// `NODE_ENV` is `production`), and that object travels as a reply stream's `error`.
///
/// A Rust node reads such a shape into this type, so a caller can tell a remote failure from a
/// successful reply, and writes this type back in the same shape, so a JS caller's callback gets
/// it as its error with the message intact.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// The JS error's `message` (a non-string message is kept as its JSON text).
    pub message: String,
    /// The JS stack trace, when the sender was not in production mode.
    pub stack: Option<String>,
    /// Every other member (`type`, `code`, custom properties), in the order they came; `_error`
    /// itself is not kept here, as it only marks the shape.
    pub fields: Map<String, Value>,
}

impl RemoteError {
    /// An error with a message and nothing else, for a Rust handler to reply with.
    pub fn new(message: impl Into<String>) -> Self {
        RemoteError {
            message: message.into(),
            stack: None,
            fields: Map::new(),
        }
    }

    /// Adds a member (such as `type` or `code`, which JS code often matches on).
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let key = key.into();
        if !matches!(key.as_str(), "message" | "stack" | "_error") {
            self.fields.insert(key, value.into());
        }
        self
    }

    /// Recognises the flattened error shape: an object whose `_error` member is truthy as JS
    /// sees it (clusterluck sets it to `true` unless the error already had a truthy one).
    /// Anything else is `None`: it is an ordinary value, not an error.
    pub fn from_value(value: &Value) -> Option<RemoteError> {
        let object = value.as_object()?;
        if !object.get("_error").is_some_and(js_truthy) {
            return None;
        }
        let mut error = RemoteError::new(String::new());
        for (key, member) in object {
            match (key.as_str(), member) {
                ("_error", _) => {}
                ("message", Value::String(message)) => error.message = message.clone(),
                ("message", other) => error.message = to_js_json(other).unwrap_or_default(),
                ("stack", Value::String(stack)) => error.stack = Some(stack.clone()),
                _ => {
                    error.fields.insert(key.clone(), member.clone());
                }
            }
        }
        Some(error)
    }

    /// The flattened shape, members in the order `errorToObject` gives them: `stack` (when
    /// present), `message`, the other fields, `_error: true`.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        if let Some(stack) = &self.stack {
            object.insert("stack".into(), Value::String(stack.clone()));
        }
        object.insert("message".into(), Value::String(self.message.clone()));
        for (key, member) in &self.fields {
            if !matches!(key.as_str(), "message" | "stack" | "_error") {
                object.insert(key.clone(), member.clone());
            }
        }
        object.insert("_error".into(), Value::Bool(true));
        Value::Object(object)
    }
}

/// JS's truthiness of a JSON value: `false`, `0`, `""` and `null` are falsy.
fn js_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The message, as a JS `Error`'s `toString` leads with.
impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A remote error is an error, so it travels through `?` and `Box<dyn Error>`.
impl std::error::Error for RemoteError {}

/// Serialises as the flattened shape, so a `RemoteError` can be replied as is.
impl Serialize for RemoteError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

/// Deserialises from the flattened shape; an object without a truthy `_error` is refused.
impl<'de> Deserialize<'de> for RemoteError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        RemoteError::from_value(&value).ok_or_else(|| {
            de::Error::invalid_value(
                de::Unexpected::Other("a value"),
                &"an error object with _error",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn js(value: &impl Serialize) -> String {
        to_js_json(value).expect("serialisable")
    }

    #[test]
    fn numbers_are_written_as_v8_writes_them() {
        assert_eq!(js(&f64::NAN), "null");
        assert_eq!(js(&f64::INFINITY), "null");
        assert_eq!(js(&f64::NEG_INFINITY), "null");
        assert_eq!(js(&-0.0f64), "0");
        assert_eq!(js(&1e21f64), "1e+21");
        assert_eq!(js(&1e20f64), "100000000000000000000");
        assert_eq!(js(&5e-324f64), "5e-324");
        assert_eq!(js(&1.5e-7f64), "1.5e-7");
        assert_eq!(js(&0.000001f64), "0.000001");
        assert_eq!(js(&2.5f64), "2.5");
        assert_eq!(js(&1.0f64), "1");
        assert_eq!(js(&-1e300f64), "-1e+300");
        assert_eq!(js(&f64::MAX), "1.7976931348623157e+308");
        assert_eq!(js(&0.1f32), "0.1");
    }

    #[test]
    fn integers_beyond_2_pow_53_round_as_js_numbers_do() {
        assert_eq!(js(&9_007_199_254_740_992u64), "9007199254740992");
        // 2^53 + 1 is not a double; JS holds it as 2^53.
        assert_eq!(js(&9_007_199_254_740_993u64), "9007199254740992");
        assert_eq!(js(&u64::MAX), "18446744073709552000");
        assert_eq!(js(&i64::MIN), "-9223372036854776000");
        assert_eq!(
            js(&123_456_789_012_345_678_901u128),
            "123456789012345680000"
        );
        assert_eq!(js(&json!([u64::MAX, -1, 0])), "[18446744073709552000,-1,0]");
    }

    #[test]
    fn integer_like_keys_come_first_in_ascending_order() {
        let mut map = Map::new();
        for key in [
            "b",
            "4294967295",
            "10",
            "01",
            "a",
            "4294967294",
            "1",
            "-1",
            "0",
        ] {
            map.insert(key.into(), json!(key));
        }
        assert_eq!(
            js(&Value::Object(map)),
            r#"{"0":"0","1":"1","10":"10","4294967294":"4294967294","b":"b","4294967295":"4294967295","01":"01","a":"a","-1":"-1"}"#
        );
    }

    #[test]
    fn struct_fields_and_map_keys_keep_js_order() {
        #[derive(Serialize)]
        struct Job {
            name: &'static str,
            #[serde(rename = "2")]
            two: u8,
            list: Vec<Option<u8>>,
        }
        let job = Job {
            name: "x",
            two: 2,
            list: vec![Some(1), None],
        };
        assert_eq!(js(&job), r#"{"2":2,"name":"x","list":[1,null]}"#);
        let mut numbered = std::collections::BTreeMap::new();
        numbered.insert(7u32, true);
        numbered.insert(3u32, false);
        assert_eq!(js(&numbered), r#"{"3":false,"7":true}"#);
    }

    #[test]
    fn strings_are_escaped_as_v8_escapes_them() {
        assert_eq!(js(&"héllo \u{2028}\u{2029}"), "\"héllo \u{2028}\u{2029}\"");
        assert_eq!(
            js(&"\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\"\\/"),
            r#""\u0000\b\t\n\u000b\f\r\u001f\"\\/""#
        );
        assert_eq!(js(&"😀 \u{10ffff} \u{7f}"), "\"😀 \u{10ffff} \u{7f}\"");
    }

    #[test]
    fn lone_surrogates_read_as_a_typed_error() {
        // A JS peer can send "\ud800"; no Rust String holds it, so reading it is refused, never
        // a panic, and a well-formed pair still reads.
        let err = from_json::<Value>(r#"{"s":"\ud800"}"#).unwrap_err();
        assert!(matches!(err, PayloadError::Deserialize(_)), "{err}");
        let err = from_json::<String>(r#""\udc00x""#).unwrap_err();
        assert!(matches!(err, PayloadError::Deserialize(_)), "{err}");
        assert_eq!(from_json::<String>(r#""\ud83d\ude00""#).unwrap(), "😀");
    }

    #[test]
    fn text_round_trips_keep_member_order_and_numbers() {
        let text = r#"{"z":1,"1":[1e+21,5e-324,0.1,-5],"a":{"b":null},"s":"\u2028"}"#;
        let value: Value = from_json(text).unwrap();
        assert_eq!(
            js(&value),
            r#"{"1":[1e+21,5e-324,0.1,-5],"z":1,"a":{"b":null},"s":"\u{2028}"}"#
                .replace("\\u{2028}", "\u{2028}")
        );
        // Duplicate keys: first place, last value, as JSON.parse does.
        let dup: Value = from_json(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(js(&dup), r#"{"a":3,"b":2}"#);
        let big: Value = from_json("18446744073709551616").unwrap();
        assert_eq!(js(&big), "18446744073709552000");
    }

    #[test]
    fn typed_errors_for_bad_text_and_unserialisable_values() {
        assert!(matches!(
            from_json::<Value>("{"),
            Err(PayloadError::Deserialize(_))
        ));
        assert!(matches!(
            from_json::<u8>("256"),
            Err(PayloadError::Deserialize(_))
        ));
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1);
        let err = to_js_json(&bad).unwrap_err();
        assert!(matches!(err, PayloadError::Serialize(_)), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        // Deeper than the canonicaliser reads: refused, not a crash.
        let mut deep = Value::Null;
        for _ in 0..json::MAX_DEPTH + 1 {
            deep = Value::Array(vec![deep]);
        }
        let err = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                let err = to_js_json(&deep).unwrap_err();
                // Drop the deep value here too, on the big stack.
                drop(deep);
                err
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(matches!(err, PayloadError::Canonical(_)), "{err}");
    }

    #[test]
    fn buffers_serialise_as_node_writes_them() {
        let buf = Buffer::from(vec![0u8, 1, 127, 128, 255]);
        assert_eq!(js(&buf), r#"{"type":"Buffer","data":[0,1,127,128,255]}"#);
        assert_eq!(js(&Buffer::default()), r#"{"type":"Buffer","data":[]}"#);
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Frame {
            #[serde(with = "buffer")]
            raw: Vec<u8>,
            #[serde(with = "buffer")]
            shared: Bytes,
            #[serde(with = "buffer::option")]
            maybe: Option<Vec<u8>>,
        }
        let frame = Frame {
            raw: vec![9],
            shared: Bytes::from_static(b"AB"),
            maybe: None,
        };
        let text = js(&frame);
        assert_eq!(
            text,
            r#"{"raw":{"type":"Buffer","data":[9]},"shared":{"type":"Buffer","data":[65,66]},"maybe":null}"#
        );
        assert_eq!(from_json::<Frame>(&text).unwrap(), frame);
        let some = Frame {
            maybe: Some(vec![1, 2]),
            ..frame
        };
        assert_eq!(from_json::<Frame>(&js(&some)).unwrap(), some);
    }

    #[test]
    fn buffers_deserialise_from_node_text_and_refuse_other_shapes() {
        let buf: Buffer = from_json(r#"{"type":"Buffer","data":[104,105]}"#).unwrap();
        assert_eq!(&buf[..], b"hi");
        // Member order and extra members do not matter.
        let buf: Buffer = from_json(r#"{"data":[1],"x":{"y":[]},"type":"Buffer"}"#).unwrap();
        assert_eq!(&buf[..], [1]);
        // From an already parsed value too.
        let buf: Buffer = from_value(json!({"type": "Buffer", "data": [7, 8]})).unwrap();
        assert_eq!(Vec::from(buf), vec![7, 8]);
        for bad in [
            r#"{"type":"Buffer","data":[256]}"#,
            r#"{"type":"Buffer","data":[-1]}"#,
            r#"{"type":"Buffer","data":[1.5]}"#,
            r#"{"type":"Buffer","data":"AQ=="}"#,
            r#"{"type":"Uint8Array","data":[1]}"#,
            r#"{"type":"Buffer"}"#,
            r#"{"data":[1]}"#,
            r#"[1,2]"#,
            r#""Buffer""#,
        ] {
            let err = from_json::<Buffer>(bad).unwrap_err();
            assert!(matches!(err, PayloadError::Deserialize(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn large_buffers_round_trip() {
        let bytes: Vec<u8> = (0..2 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let text = js(&Buffer::from(bytes.clone()));
        let mut expected = String::from(r#"{"type":"Buffer","data":"#);
        json::write_byte_array(&mut expected, &bytes);
        expected.push('}');
        assert_eq!(text, expected);
        assert_eq!(from_json::<Buffer>(&text).unwrap().0, bytes);
    }

    #[test]
    fn remote_errors_read_the_flattened_js_shape() {
        let shape = json!({
            "stack": "Error: boom\n    at x.js:1:1",
            "message": "boom",
            "type": "INVALID_THING",
            "code": 7,
            "_error": true
        });
        let err = RemoteError::from_value(&shape).unwrap();
        assert_eq!(err.message, "boom");
        assert_eq!(err.stack.as_deref(), Some("Error: boom\n    at x.js:1:1"));
        assert_eq!(err.fields.keys().collect::<Vec<_>>(), ["type", "code"]);
        assert_eq!(err.to_string(), "boom");
        // Written back, it is the same shape, byte for byte as JSON.stringify writes the original.
        assert_eq!(js(&err.to_value()), js(&shape));
        assert_eq!(js(&err), js(&shape));
        assert_eq!(from_json::<RemoteError>(&js(&shape)).unwrap(), err);
        // Production mode: no stack. A truthy non-boolean marker counts as JS counts it.
        let prod = RemoteError::from_value(&json!({"message": "m", "_error": "yes"})).unwrap();
        assert_eq!(prod.stack, None);
        assert!(prod.fields.is_empty());
        let odd = RemoteError::from_value(&json!({"message": {"a": 1}, "_error": 1})).unwrap();
        assert_eq!(odd.message, r#"{"a":1}"#);
    }

    #[test]
    fn ordinary_values_are_not_remote_errors() {
        for value in [
            json!({"message": "not an error"}),
            json!({"message": "m", "_error": false}),
            json!({"message": "m", "_error": 0}),
            json!({"message": "m", "_error": ""}),
            json!({"message": "m", "_error": null}),
            json!([{"_error": true}]),
            json!("_error"),
            json!(null),
        ] {
            assert_eq!(RemoteError::from_value(&value), None, "{value}");
        }
        assert!(from_json::<RemoteError>(r#"{"message":"m"}"#).is_err());
    }

    #[test]
    fn rust_errors_are_written_in_the_shape_js_reads() {
        let err = RemoteError::new("no such job")
            .with_field("code", "ENOJOB")
            .with_field("_error", false);
        assert_eq!(
            js(&err),
            r#"{"message":"no such job","code":"ENOJOB","_error":true}"#
        );
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(boxed.to_string(), "no such job");
    }
}
