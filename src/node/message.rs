//! What travels: node addresses, outbound [`Data`], inbound [`Payload`] and
//! the [`ReplyTo`] of a request.
//!
//! JSON data is kept in the form `JSON.stringify` writes, so the envelopes
//! `wire::envelope` writes around it are the text a JS receiver re-derives.

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::wire::json;
use crate::node::node_error::NodeError;
use crate::node::serde_js::{self, RemoteError};

/// The data of an inbound message, as a handler or a call receives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// No `data` member (JS `undefined`).
    Absent,
    /// Any JSON value, as its text.
    Json(String),
    /// A Node Buffer (`{"type":"Buffer","data":[...]}`), decoded.
    Bytes(Vec<u8>),
}

/// The `stream` member of an inbound message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamInfo {
    /// No more messages follow for this stream (or it was not one).
    pub done: bool,
    /// The stream's id; `None` for a single message.
    pub id: Option<String>,
    /// The flattened error a failed stream ends with, as JSON text.
    pub error: Option<String>,
}

/// The sender of a message, as its `from` member says.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    /// The sender's node id.
    pub id: String,
    /// The host it listens on.
    pub host: String,
    /// The port it listens on.
    pub port: u16,
}

/// Where a node listens, and its id: the JS kernel's `Node`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeAddr {
    /// The node's id.
    pub id: String,
    /// The host it listens on.
    pub host: String,
    /// The port it listens on.
    pub port: u16,
}

impl NodeAddr {
    /// A node address.
    pub fn new(id: impl Into<String>, host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr { id: id.into(), host: host.into(), port }
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.id, self.host, self.port)
    }
}

/// Reads `ID@HOST:PORT`.
impl FromStr for NodeAddr {
    type Err = NodeError;

    fn from_str(s: &str) -> Result<NodeAddr, NodeError> {
        let bad = || NodeError::InvalidArgument(format!("expected ID@HOST:PORT, got {s:?}"));
        let (id, rest) = s.rsplit_once('@').ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        if id.is_empty() || host.is_empty() {
            return Err(bad());
        }
        Ok(NodeAddr::new(id, host, port))
    }
}

impl From<&Sender> for NodeAddr {
    fn from(s: &Sender) -> NodeAddr {
        NodeAddr::new(s.id.clone(), s.host.clone(), s.port)
    }
}

/// The data of an outbound message.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// No `data` member (JS `undefined`).
    Absent,
    /// JSON text in the form `JSON.stringify` writes.
    Json(String),
    /// Bytes, sent as a Node Buffer.
    Bytes(Vec<u8>),
}

impl Data {
    /// Any serde value, as `JSON.stringify` would write it.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Data, NodeError> {
        Ok(Data::Json(serde_js::to_js_json(value)?))
    }

    /// JSON text, brought into the form `JSON.stringify` writes.
    pub fn json_text(text: &str) -> Result<Data, NodeError> {
        let canonical = json::canonicalize(text).map_err(|e| NodeError::InvalidArgument(format!("not JSON: {e}")))?;
        Ok(Data::Json(canonical.into_owned()))
    }

    /// Bytes, sent as a Node Buffer.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Data {
        Data::Bytes(bytes.into())
    }

    /// JSON `null`.
    pub fn null() -> Data {
        Data::Json("null".into())
    }
}

impl From<Vec<u8>> for Data {
    fn from(bytes: Vec<u8>) -> Data {
        Data::Bytes(bytes)
    }
}

impl From<serde_json::Value> for Data {
    /// Falls back to `null` for a value nested too deep to write.
    fn from(v: serde_json::Value) -> Data {
        Data::json(&v).unwrap_or_else(|_| Data::null())
    }
}

impl Payload {
    /// Reads the payload into any serde type. A Buffer reads as its JSON
    /// shape (`{"type":"Buffer","data":[...]}`), no data as `null`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, NodeError> {
        match self {
            Payload::Absent => Ok(serde_js::from_json("null")?),
            Payload::Json(text) => Ok(serde_js::from_json(text)?),
            Payload::Bytes(b) => {
                let mut text = String::with_capacity(b.len() * 4 + 32);
                text.push_str("{\"type\":\"Buffer\",\"data\":");
                json::write_byte_array(&mut text, b);
                text.push('}');
                Ok(serde_js::from_json(&text)?)
            }
        }
    }

    /// The bytes of a Buffer payload.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Payload::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The JSON text of a JSON payload.
    pub fn json_text(&self) -> Option<&str> {
        match self {
            Payload::Json(t) => Some(t),
            _ => None,
        }
    }

    /// No data, or JSON `null`: what the JS kernel skips in a reply stream.
    pub fn is_empty(&self) -> bool {
        matches!(self, Payload::Absent) || matches!(self, Payload::Json(t) if t == "null")
    }

    /// The same value, to send on (an echo writes back what came).
    pub fn into_data(self) -> Data {
        match self {
            Payload::Absent => Data::Absent,
            Payload::Json(t) => match json::canonicalize(&t) {
                Ok(std::borrow::Cow::Borrowed(_)) => Data::Json(t),
                Ok(c) => Data::Json(c.into_owned()),
                Err(_) => Data::Json(t),
            },
            Payload::Bytes(b) => Data::Bytes(b),
        }
    }

    /// A payload from JSON text a peer sent: a Buffer shape becomes bytes.
    pub(crate) fn from_json_text(raw: &str) -> Payload {
        if raw.starts_with('{') {
            if let Some(m) = json::object_members_trusted(raw) {
                let get = |name: &str| m.iter().rev().find(|(k, _)| k == name).map(|(_, v)| *v);
                if get("type").and_then(json::as_str).is_some_and(|t| t == "Buffer") {
                    if let Some(bytes) = get("data").and_then(json::byte_array) {
                        return Payload::Bytes(bytes);
                    }
                }
            }
        }
        Payload::Json(raw.to_string())
    }
}

impl StreamInfo {
    /// The error a failed stream ended with.
    pub fn remote_error(&self) -> Option<RemoteError> {
        let text = self.error.as_ref()?;
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        Some(RemoteError::from_value(&value).unwrap_or_else(|| RemoteError {
            message: value.as_str().map_or_else(|| text.clone(), str::to_string),
            stack: None,
            fields: serde_json::Map::new(),
        }))
    }
}

/// Who to answer: the JS kernel's `from` (`{node, tag}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyTo {
    /// The sender.
    pub node: Sender,
    /// The tag its reply goes to; `None` for a cast.
    pub tag: Option<String>,
}

/// A random id in uuid v4 form, for reply tags and stream ids.
pub fn random_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("{}-{}-{}-{}-{}", h(0..4), h(4..6), h(6..8), h(8..10), h(10..16))
}

/// The flattened error a Rust node sends for `message`, as the JS kernel
/// writes an Error under `NODE_ENV=production`.
pub(crate) fn error_json(message: &str) -> String {
    let mut s = String::from("{\"message\":");
    json::write_string(&mut s, message);
    s.push_str(",\"_error\":true}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_uuid_v4() {
        let a = random_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(a, random_id());
    }

    #[test]
    fn node_addresses_parse() {
        let a: NodeAddr = "js-1@127.0.0.1:7022".parse().unwrap();
        assert_eq!(a, NodeAddr::new("js-1", "127.0.0.1", 7022));
        assert!("nope".parse::<NodeAddr>().is_err());
        assert!("a@h:99999".parse::<NodeAddr>().is_err());
    }

    #[test]
    fn buffer_shaped_json_becomes_bytes() {
        assert_eq!(Payload::from_json_text("{\"type\":\"Buffer\",\"data\":[1,2]}"), Payload::Bytes(vec![1, 2]));
        assert_eq!(Payload::from_json_text("{\"a\":1}"), Payload::Json("{\"a\":1}".into()));
        let v: serde_json::Value = Payload::Bytes(vec![7]).json().unwrap();
        assert_eq!(v["data"][0], 7);
    }
}
