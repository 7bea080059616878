//! Prometheus exposition shared by the node and the operator.

use prometheus::{Encoder, Registry, TextEncoder};

/// A registry in Prometheus' text format.
pub fn render(registry: &Registry) -> String {
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buf)
        .expect("text encoding cannot fail");
    String::from_utf8(buf).expect("exposition is UTF-8")
}
