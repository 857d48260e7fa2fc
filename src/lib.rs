//! clusterluck-native: the network side of clusterluck's NetKernel in Rust.
//!
//! The core (everything but `bindings`) is plain Rust and knows nothing of
//! Node. `frame` splits bytes into frames, `json` reproduces what JS's
//! `JSON.stringify(JSON.parse(x))` makes of a text, `digits` reads the byte
//! arrays of Buffers, `cookie` signs, `envelope` decodes and encodes
//! messages, `events` batches what JS must see, `server` and `peer` own the
//! sockets (`connection` splits a plain or TLS link into the halves they
//! use, `tls` configures rustls), and `kernel` ties them together.

pub mod connection;
pub mod cookie;
pub mod digits;
pub mod envelope;
pub mod error;
pub mod events;
pub mod frame;
pub mod health;
pub mod json;
pub mod kernel;
pub mod peer;
pub mod server;
pub mod tls;

mod bindings;
