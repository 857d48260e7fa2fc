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
//!     node.cast(&js.id, "note", Data::json(&[1, 2, 3])?).await?; // waits while the link is busy
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
//! - `internals` (off by default): `clusterluck_native::internals`, the
//!   layers below the API, for this crate's own tests, examples and fuzz
//!   targets (`cargo test` turns it on). Not a stable API.
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
//! `napi` each implement it, and never import each other. Inside `link`,
//! the state the tasks share is a module below them, and it holds the
//! links' handles, never their task bodies.
//!
//! The API is what these docs show: [`Node`] and its [`Builder`], with
//! [`handler`] (what handlers receive), [`message`] (addresses, data,
//! payloads), [`stream`], [`gen_server`], [`node_error`] and [`serde_js`]
//! (serde for JS shapes: Buffers, Errors, JSON as `JSON.stringify` writes
//! it); [`error`] (why a frame was skipped) and [`tls`]. `wire`, `link` and
//! `napi` are private: the addon is built from them, and this crate's own
//! tests, examples and fuzz targets reach them through the `internals`
//! module of the feature of that name, which is not a stable API.
//! `debug_log` prints every layer's tracing events where `DEBUG` (as
//! clusterluck apps set it) asks for them.

// Docs are asked of the API; the internals (built for the crate's own tests)
// document what they choose to.
#![cfg_attr(not(feature = "internals"), warn(missing_docs))]
// Every `pub` item is reachable: from the API, or from `internals` for the
// crate's own tests (the lint runs where that module is built).
#![cfg_attr(feature = "internals", warn(unreachable_pub))]
// The network layer serves the addon and the Rust node; some of it (the
// process-wide runtime, exit drain, writes on inbound sockets, stats as
// JSON) only the addon uses yet. Dead code is judged where all of it is
// built: with the `napi` feature, as the addon and clippy build it.
#![cfg_attr(not(any(feature = "napi", feature = "internals")), allow(dead_code))]

// DEBUG for the addon and for a Rust program's nodes alike.
mod debug_log;
mod link;
// The addon's parts: built for the addon, and for the tests that read what
// JS would be handed.
#[cfg(any(feature = "napi", feature = "internals"))]
mod napi;
mod node;
mod wire;

pub use link::tls;
pub use node::{gen_server, handler, message, node_error, serde_js, stats, stream};
pub use wire::error;

/// The layers below the API, for this crate's own tests, examples, benches
/// and fuzz targets: the `internals` feature, which `cargo test` turns on
/// for them. Not a stable API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::link::{connection, handover, health, kernel, observe, peer, server, shared, sink, unacked};
    pub use crate::napi::batch;
    pub use crate::node::delivery;
    pub use crate::wire::{cookie, digits, envelope, frame, json};
}

pub use handler::Incoming;
pub use message::{Data, NodeAddr, Payload, ReplyTo};
pub use node::{Builder, Node};
pub use node_error::NodeError;
pub use serde_js::RemoteError;
pub use stream::{Chunks, StreamWriter};
pub use tls::TlsOptions;
