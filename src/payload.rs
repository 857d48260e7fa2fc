//! Payloads between Rust values and the JSON a JS kernel reads and writes.
//!
//! A placeholder with the agreed interface, so the Rust API builds on it
//! while the full version (Buffer adapters, generated-value tests against
//! node) is written alongside; that version replaces this file.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json;

/// A value could not be turned into JSON, or JSON into a value.
#[derive(Debug)]
pub enum PayloadError {
    /// serde could not serialise or deserialise the value.
    Serde(serde_json::Error),
    /// The serialised text is not JSON a JS kernel would accept.
    Json(json::JsonError),
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Serde(e) => write!(f, "payload: {e}"),
            PayloadError::Json(e) => write!(f, "payload: {e}"),
        }
    }
}

impl std::error::Error for PayloadError {}

/// JSON text exactly as JS's `JSON.stringify` writes the same value.
pub fn to_js_json<T: Serialize + ?Sized>(value: &T) -> Result<String, PayloadError> {
    let text = serde_json::to_string(value).map_err(PayloadError::Serde)?;
    Ok(json::canonicalize(&text).map_err(PayloadError::Json)?.into_owned())
}

/// Reads JSON text into a value.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PayloadError> {
    serde_json::from_str(text).map_err(PayloadError::Serde)
}

/// A Node Buffer: serialises as `{"type":"Buffer","data":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buffer(pub Vec<u8>);

#[derive(Serialize, Deserialize)]
struct BufferShape<'a> {
    #[serde(rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    data: Vec<u8>,
}

impl Serialize for Buffer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BufferShape { kind: "Buffer".into(), data: self.0.clone() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Buffer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let shape = BufferShape::deserialize(d)?;
        if shape.kind != "Buffer" {
            return Err(serde::de::Error::custom("not a Buffer"));
        }
        Ok(Buffer(shape.data))
    }
}

/// The flattened JS Error shape `{message, stack, ..., _error: true}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// `message`.
    pub message: String,
    /// `stack`, when the sender included it.
    pub stack: Option<String>,
    /// Every other member, in order.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl RemoteError {
    /// Reads the shape from a JSON value (an object with a string `message`).
    pub fn from_value(v: &serde_json::Value) -> Option<RemoteError> {
        let obj = v.as_object()?;
        let message = obj.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_string();
        let stack = obj.get("stack").and_then(|m| m.as_str()).map(str::to_string);
        let fields = obj
            .iter()
            .filter(|(k, _)| *k != "message" && *k != "stack")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(RemoteError { message, stack, fields })
    }

    /// The shape as a JSON value: `message`, `_error: true`, then the rest.
    pub fn to_value(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        if let Some(stack) = &self.stack {
            obj.insert("stack".into(), stack.clone().into());
        }
        obj.insert("message".into(), self.message.clone().into());
        for (k, v) in &self.fields {
            obj.insert(k.clone(), v.clone());
        }
        obj.entry("_error").or_insert(serde_json::Value::Bool(true));
        serde_json::Value::Object(obj)
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}
