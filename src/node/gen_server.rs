//! clusterluck's GenServer protocol, on the Rust side.
//!
//! A GenServer is a handler on the kernel under the server's name. Each
//! request's data is `{"event": .., "data": ..}`: in one message, or, for a
//! request sent as a stream, as the JSON text of the stream's whole body.
//! A [`GenServer`] here answers a JS `GenServer#call({node, id}, event, data,
//! cb)` addressed to it, and [`call`] / [`cast`] reach a JS GenServer (or a
//! Rust one) from Rust.
//!
//! ```no_run
//! use clusterluck_native::gen_server::{self, GenServer};
//! use clusterluck_native::{Data, Node};
//!
//! # async fn run(node: Node) -> Result<(), clusterluck_native::NodeError> {
//! GenServer::new("rust_gs")
//!     .on("echo", |req| {
//!         let data = req.data.clone().into_data();
//!         let _ = req.reply(data);
//!     })
//!     .start(&node);
//! let reply = gen_server::call(&node, "js-node", "js_gs", "echo", Data::json("hi")?, None).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::node::handler::Incoming;
use crate::wire::json;
use crate::node::message::{Data, Payload, ReplyTo};
use crate::node::Node;
use crate::node::node_error::NodeError;

/// The largest streamed request body a server collects.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How long a streamed request may take to arrive whole (the JS
/// GenServer's default `streamTimeout`).
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// What handles one event of a server.
pub type GenHandler = Arc<dyn Fn(GenRequest) + Send + Sync>;

/// A request to a GenServer.
#[derive(Debug)]
pub struct GenRequest {
    /// The request's event.
    pub event: String,
    /// The request's data (a Buffer shape becomes bytes).
    pub data: Payload,
    /// Who sent it, and the tag to reply to.
    pub from: ReplyTo,
    node: Node,
}

impl GenRequest {
    /// The node the server runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Replies with `data`.
    pub fn reply(&self, data: Data) -> Result<(), NodeError> {
        self.node.reply(&self.from, data)
    }

    /// Replies with any serde value.
    pub fn reply_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), NodeError> {
        self.node.reply(&self.from, Data::json(value)?)
    }

    /// Replies with an error: a JS caller gets an Error with `message`.
    pub fn reply_error(&self, message: &str) -> Result<(), NodeError> {
        self.node.reply_error(&self.from, message)
    }
}

/// A GenServer: handlers by event, registered on a node under a name.
#[derive(Clone, Default)]
pub struct GenServer {
    name: String,
    handlers: HashMap<String, GenHandler>,
}

impl std::fmt::Debug for GenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenServer").field("name", &self.name).finish()
    }
}

impl GenServer {
    /// A server named `name` (the id JS callers address it by).
    pub fn new(name: impl Into<String>) -> GenServer {
        GenServer { name: name.into(), handlers: HashMap::new() }
    }

    /// Sets the handler of requests whose event is `event`.
    pub fn on(mut self, event: impl Into<String>, handler: impl Fn(GenRequest) + Send + Sync + 'static) -> GenServer {
        self.handlers.insert(event.into(), Arc::new(handler));
        self
    }

    /// Sets an async handler for `event`: each request runs as a task of
    /// its own, so a handler can await (a call to another node, a
    /// database) without holding up the node's other messages. A call
    /// whose handler panics is answered with
    /// [`NodeError::HandlerPanicked`] (naming the server, as a sync
    /// handler's panic is), so its caller does not wait out its timeout.
    pub fn on_async<F, Fut>(self, event: impl Into<String>, handler: F) -> GenServer
    where
        F: Fn(GenRequest) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let name = self.name.clone();
        self.on(event, move |req| {
            let owed = req.from.tag.is_some().then(|| (req.node.clone(), req.from.clone()));
            let task = tokio::spawn(handler(req));
            if let Some((node, from)) = owed {
                crate::node::answer_if_panicked(task, node, from, name.clone());
            }
        })
    }

    /// Starts serving on `node` (replacing any handler of its name there).
    pub fn start(self, node: &Node) {
        let name = self.name.clone();
        let server = Arc::new(self);
        node.on(name, move |mut m: Incoming| {
            let server = server.clone();
            match m.take_chunks() {
                None => {
                    if let Some(text) = m.data.json_text() {
                        if let Some((event, data)) = parse_job(text) {
                            server.dispatch(m.node.clone(), event, data, m.from);
                        }
                    }
                }
                Some(chunks) => {
                    // The body of a streamed request, collected, then read.
                    tokio::spawn(async move {
                        let body = tokio::time::timeout(STREAM_TIMEOUT, collect_limited(chunks)).await;
                        match body {
                            Ok(Ok(body)) => {
                                let text = String::from_utf8_lossy(&body);
                                if json::validate(&text).is_ok() {
                                    if let Some((event, data)) = parse_job(&text) {
                                        // Off the dispatcher, a sync handler's panic is
                                        // caught here, and answered as it is there.
                                        let (node, from) = (m.node.clone(), m.from.clone());
                                        let run = AssertUnwindSafe(|| server.dispatch(node, event, data, from));
                                        if std::panic::catch_unwind(run).is_err() && m.from.tag.is_some() {
                                            tracing::warn!("the handler of {} panicked", m.event);
                                            crate::node::panicked_reply(&m.node, &m.from, &m.event);
                                        }
                                    }
                                }
                            }
                            // As the JS GenServer: a request too slow is answered "Timeout.".
                            Err(_) => {
                                if m.from.tag.is_some() {
                                    let _ = m.node.reply_error(&m.from, "Timeout.");
                                }
                            }
                            Ok(Err(_)) => {}
                        }
                    });
                }
            }
        });
    }

    fn dispatch(&self, node: Node, event: String, data: Payload, from: ReplyTo) {
        if let Some(handler) = self.handlers.get(&event) {
            handler(GenRequest { event, data, from, node });
        }
    }
}

async fn collect_limited(mut chunks: crate::node::stream::Chunks) -> Result<Vec<u8>, NodeError> {
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        match chunk? {
            Payload::Bytes(b) => out.extend_from_slice(&b),
            Payload::Json(t) => match json::as_str(&t) {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => out.extend_from_slice(t.as_bytes()),
            },
            Payload::Absent => {}
        }
        if out.len() > MAX_BODY {
            return Err(NodeError::InvalidArgument("request body too large".into()));
        }
    }
    Ok(out)
}

/// The event and data of `{"event": .., "data": ..}` (validated JSON).
fn parse_job(text: &str) -> Option<(String, Payload)> {
    let members = json::object_members_trusted(text)?;
    let get = |name: &str| members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| *v);
    let event = json::as_str(get("event")?)?.into_owned();
    let data = get("data").map_or(Payload::Absent, Payload::from_json_text);
    Some((event, data))
}

/// The request text `{"event":..,"data":..}`, as the JS GenServer's object
/// literal is written.
fn job(event: &str, data: Data) -> Data {
    let mut s = String::from("{\"event\":");
    json::write_string(&mut s, event);
    match data {
        Data::Absent => {}
        Data::Json(t) => {
            s.push_str(",\"data\":");
            s.push_str(&t);
        }
        Data::Bytes(b) => {
            s.push_str(",\"data\":{\"type\":\"Buffer\",\"data\":");
            json::write_byte_array(&mut s, &b);
            s.push('}');
        }
    }
    s.push('}');
    Data::Json(s)
}

/// Calls GenServer `server` on node `id` with `event` and `data`, for a
/// single reply (as the JS `GenServer#call`).
pub async fn call(node: &Node, id: &str, server: &str, event: &str, data: Data, timeout: Option<Duration>) -> Result<Payload, NodeError> {
    node.call_singleton(id, server, job(event, data), timeout).await
}

/// Casts `event` and `data` to GenServer `server` on node `id` (waiting
/// for room as [`Node::cast`] does).
pub async fn cast(node: &Node, id: &str, server: &str, event: &str, data: Data) -> Result<(), NodeError> {
    node.cast(id, server, job(event, data)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_written_as_the_js_literal_and_read_back() {
        let Data::Json(text) = job("echo", Data::Json("{\"a\":[1]}".into())) else { panic!() };
        assert_eq!(text, "{\"event\":\"echo\",\"data\":{\"a\":[1]}}");
        let (event, data) = parse_job(&text).unwrap();
        assert_eq!((event.as_str(), data), ("echo", Payload::Json("{\"a\":[1]}".into())));
        let Data::Json(text) = job("b", Data::Bytes(vec![1, 255])) else { panic!() };
        assert_eq!(parse_job(&text).unwrap().1, Payload::Bytes(vec![1, 255]));
        assert_eq!(parse_job("{\"event\":\"x\"}").unwrap().1, Payload::Absent);
        assert!(parse_job("{\"data\":1}").is_none());
    }
}
