//! The Redis serialization protocol (RESP2 and RESP3).
//!
//! Requests are parsed zero-copy into argument spans over the connection's read
//! buffer ([`request`]); replies are encoded straight into the output buffer
//! ([`reply`]). [`Frame`] is the general value type used where a whole reply must be
//! held: by clients of other nodes and by tests.

pub use shoal_core::frame;
pub mod reply;
pub mod request;

pub use frame::Frame;
pub use reply::Reply;
pub use request::{Args, ProtocolError, RequestLimits, RequestParser};
