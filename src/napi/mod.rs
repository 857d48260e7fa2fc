//! The addon's side: the JS batch the network reports into ([`batch`], the
//! addon's [`Sink`](crate::link::sink::Sink)) and, with the `napi` feature,
//! the Node-API bindings that hand each batch to the JS thread. Translation
//! only: the work is in `link/` and `wire/`.
//!
//! The batch is plain Rust, built without the feature too, so the tests of
//! the network layer read exactly what JS would.

pub mod batch;
#[cfg(feature = "napi")]
mod bindings;
