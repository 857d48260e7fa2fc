//! clusterluck-native: a kernel for [clusterluck](https://github.com/azuqua/clusterluck)
//! clusters in Rust. It speaks the JS `NetKernel`'s wire byte for byte, so
//! JS kernels, nodes on this crate's Node.js addon, and Rust services built on
//! this library can form one cluster, and a team can move one service at a
//! time from JS to Rust.
//!
//! # From Rust
//!
//! A [`Node`] listens, links to its peers, and routes what arrives: replies
//! to the calls waiting for them, everything else to the handler of its
//! event id. Payloads are any serde value out ([`Data::json`]), any
//! deserialisable type in ([`Payload::json`]); Node Buffers are bytes both
//! ways; streams are chunks ([`Chunks`], [`StreamWriter`]); an error a JS
//! node replies with is a typed [`RemoteError`]. clusterluck's GenServer
//! protocol is in [`gen_server`].
//!
//! ```no_run
//! use std::time::Duration;
//! use clusterluck_native::{Data, Node, NodeAddr, NodeError};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), NodeError> {
//!     let node = Node::builder("rust-a", "127.0.0.1", 7022)
//!         .cookie("cluster secret")
//!         // Handlers receive the data, the stream state and the sender.
//!         .on("job", |m| {
//!             let _ = m.reply_json(&serde_json::json!({ "ok": true, "from": m.from.node.id }));
//!         })
//!         .start()
//!         .await?;
//!
//!     let js = NodeAddr::new("js-b", "127.0.0.1", 7023);
//!     node.connect(&js).await?;
//!     let timeout = Some(Duration::from_secs(5));
//!     println!("ping: {:?}", node.ping(&js.id, timeout).await?);
//!     node.cast(&js.id, "note", Data::json(&[1, 2, 3])?)?;
//!     let reply = node.call_singleton(&js.id, "job", Data::json("work")?, timeout).await?;
//!     println!("reply: {}", reply.json::<serde_json::Value>()?);
//!     node.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! `examples/node.rs` is a complete node (handlers, streams, a GenServer, a
//! probe of its peers, a clean stop on SIGINT/SIGTERM).
//!
//! # Features
//!
//! - `napi` (off by default): the Node-API bindings of the addon. Without
//!   it the crate is a plain Rust library with no Node-API code.
//!
//! # Inside
//!
//! The API is `node` (the running node and its builder), `handler` (what
//! handlers receive), `message` (addresses, data, payloads), `stream`,
//! `gen_server`, `node_error` and `payload`. Underneath is the core the
//! addon uses too: `frame` splits bytes into frames, `json` reproduces what
//! JS's `JSON.stringify(JSON.parse(x))` makes of a text, `digits` reads the
//! byte arrays of Buffers, `cookie` signs, `envelope` decodes and encodes
//! messages, `events` holds what the network side reports (batched for JS,
//! or delivered to Rust as typed events by `delivery`), `server` and `peer`
//! own the sockets (`connection` splits a plain or TLS link into the halves
//! they use, `tls` configures rustls, `handover` keeps a node's messages in
//! order when it dials us again while its old connection still holds
//! frames, `unacked` keeps what a link wrote until its node acknowledges
//! it), and `kernel` ties them together. The
//! core modules are public for the addon, the tests and the benches, and
//! hidden from these docs: they are not a stable API. `debug_log` prints
//! this crate's tracing events where `DEBUG` (as clusterluck apps set it)
//! asks for them.

#![warn(missing_docs)]

#[doc(hidden)]
#[allow(missing_docs)]
pub mod connection;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod cookie;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod delivery;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod debug_log;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod digits;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod envelope;
#[allow(missing_docs)]
pub mod error;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod events;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod frame;
pub mod gen_server;
pub mod handler;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod handover;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod health;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod json;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod kernel;
pub mod message;
pub mod node;
pub mod node_error;
pub mod payload;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod peer;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod server;
pub mod stream;
#[allow(missing_docs)]
pub mod tls;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod unacked;

#[cfg(feature = "napi")]
mod bindings;

pub use handler::Incoming;
pub use message::{Data, NodeAddr, Payload, ReplyTo};
pub use node::{Builder, Node};
pub use node_error::NodeError;
pub use payload::RemoteError;
pub use stream::{Chunks, StreamWriter};
pub use tls::TlsOptions;
