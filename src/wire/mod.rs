//! The wire, with no I/O and no runtime: what clusterluck's nodes say to each
//! other, byte for byte as the JS kernel says it. `frame` cuts a byte stream
//! into frames, `json` makes of a text what JS's
//! `JSON.stringify(JSON.parse(x))` makes of it, `digits` reads the byte
//! arrays of Buffers, `cookie` signs and checks, `envelope` decodes and
//! encodes messages, and `error` names what bad input is skipped for.

pub mod cookie;
pub mod digits;
pub mod envelope;
pub mod error;
pub mod frame;
pub mod json;
