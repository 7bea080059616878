//! Helpers shared by the wire tests: encoding requests and asserting the exact
//! reply bytes.

#![allow(dead_code)] // Each test file uses some of them.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub const WAIT: Duration = Duration::from_secs(10);

/// A request as a RESP array of bulk strings.
pub fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// [`cmd`] for text arguments.
pub fn cmd_str(args: &[&str]) -> Vec<u8> {
    cmd(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
}

/// Reads exactly `want.len()` bytes and compares them.
pub async fn expect(stream: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    timeout(WAIT, stream.read_exact(&mut got))
        .await
        .expect("reply in time")
        .expect("reply bytes");
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

/// Sends `req` and expects exactly `want`.
pub async fn roundtrip(stream: &mut TcpStream, req: &[u8], want: &[u8]) {
    stream.write_all(req).await.unwrap();
    expect(stream, want).await;
}
