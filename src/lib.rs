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
//! Four layers, a folder each, every one built on those below it:
//!
//! ```text
//! napi/   the JS batch and the Node-API bindings (the `napi` feature): translation only
//! node/   the Rust API: Node, handlers, streams, calls, GenServer
//! link/   the network on tokio: listener, outbound links, TLS, failure detection
//! wire/   frames, JSON as JS writes it, signatures, envelopes: no I/O
//! ```
//!
//! `link` reports through one typed event and a `Sink` trait; `node` and
//! `napi` each implement it, and never import each other.
//!
//! The API is [`node`] (the running node and its builder, with `handler`
//! (what handlers receive), `message` (addresses, data, payloads), `stream`,
//! `gen_server`, `node_error` and `payload`), [`error`] and [`tls`]. `wire`
//! and `link` are the core the addon uses too; they are public for the
//! addon, the tests and the benches, and hidden from these docs: they are
//! not a stable API. `debug_log` prints every layer's tracing events where
//! `DEBUG` (as clusterluck apps set it) asks for them.

#![warn(missing_docs)]

#[doc(hidden)]
#[allow(missing_docs)]
pub mod debug_log;
#[doc(hidden)]
pub mod link;
#[doc(hidden)]
pub mod napi;
pub mod node;
#[doc(hidden)]
pub mod wire;

// The modules by their names before the layers had folders, for the tests,
// the examples and the fuzz targets.
#[doc(hidden)]
pub use link::{connection, handover, health, kernel, peer, server, sink, unacked};
pub use link::tls;
#[doc(hidden)]
pub use node::delivery;
pub use node::{gen_server, handler, message, node_error, payload, stream};
#[doc(hidden)]
pub use wire::{cookie, digits, envelope, frame, json};
pub use wire::error;

pub use handler::Incoming;
pub use message::{Data, NodeAddr, Payload, ReplyTo};
pub use node::{Builder, Node};
pub use node_error::NodeError;
pub use payload::RemoteError;
pub use stream::{Chunks, StreamWriter};
pub use tls::TlsOptions;
