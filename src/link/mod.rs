//! The network, on tokio: `shared` holds the configuration and the state the
//! tasks share (the registries of link handles among it), below the tasks;
//! `kernel` owns one network side and spawns them; `server` accepts inbound links and reads
//! them, `peer` owns each outbound link (reconnecting, queueing while it is
//! down, failure detection); `connection` splits a plain or TLS socket into
//! the halves they use, `tls` configures rustls, `health` keeps what failure
//! detection reads, `handover` keeps a node's messages in order when it dials
//! us again while its old connection still holds frames, `unacked` keeps what
//! a link wrote until its node acknowledges it, `spare` keeps emptied buffers
//! of frames for the next ones, `observe` answers an
//! observer's request with the node's figures, and `sink` is how the tasks
//! report: one typed event, through a trait that the addon's JS batch and
//! the Rust node each implement (this layer knows neither).

pub mod connection;
pub mod handover;
pub mod health;
pub mod kernel;
pub mod observe;
pub mod peer;
pub mod server;
pub mod shared;
pub mod sink;
pub(crate) mod spare;
pub mod tls;
pub mod unacked;
