//! What the receiving ends of effect streams share (a replica following its
//! primary, a resize's target following its source): connecting with the
//! link's TLS and login, reading an answer line, and stepping through frames
//! with the heartbeats between them.

use crate::resp::request::Parsed;
use crate::resp::RequestParser;
use crate::server::Shared;
use crate::store::effect;
use crate::tls::Stream;
use bytes::{Buf, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The sender's heartbeat comes every second; this much silence ends a link.
pub const SILENCE: Duration = Duration::from_secs(5);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A command on the wire.
pub fn command(args: &[&[u8]]) -> bytes::Bytes {
    crate::cluster::link::encode(args.iter())
}

/// Connects to `peer` (`host:port`) with the TLS of `kind` links, and logs in
/// when links have a login.
pub async fn open(
    shared: &Shared,
    host: &str,
    port: u16,
    kind: crate::tls::Link,
    peer: &str,
) -> Result<(Stream, BytesMut), String> {
    let tls = shared.link_tls(kind);
    let mut stream = crate::tls::connect(host, port, tls.as_ref(), CONNECT_TIMEOUT)
        .await
        .map_err(err)?;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    if let Some((user, pw)) = shared.link_login() {
        stream
            .write_all(&command(&[b"AUTH", user.as_bytes(), pw.as_bytes()]))
            .await
            .map_err(err)?;
        stream.flush().await.map_err(err)?;
        let line = read_line(&mut stream, &mut buf, peer).await?;
        if line != "+OK" {
            return Err(format!("the {peer} refused authentication: {line}"));
        }
    }
    Ok((stream, buf))
}

/// Reads more into `buf`, failing after [`SILENCE`] or at the end of the stream.
pub async fn read_more<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    peer: &str,
) -> Result<(), String> {
    if buf.capacity() - buf.len() < 16 * 1024 {
        buf.reserve(64 * 1024);
    }
    let n = tokio::time::timeout(SILENCE, rd.read_buf(buf))
        .await
        .map_err(|_| format!("nothing from the {peer} for {SILENCE:?}"))?
        .map_err(err)?;
    if n == 0 {
        return Err(format!("the {peer} closed the link"));
    }
    Ok(())
}

/// Reads one answer line (without its CRLF).
pub async fn read_line<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    peer: &str,
) -> Result<String, String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.advance(i + 2);
            return Ok(line);
        }
        if buf.len() > 1024 {
            return Err(format!("over-long reply line from the {peer}"));
        }
        read_more(rd, buf, peer).await?;
    }
}

/// What starts `buf`.
pub enum Next {
    /// A heartbeat line of this many bytes: not part of the stream.
    Heartbeat(usize),
    /// A frame of this many bytes, now in `parser`.
    Frame(usize),
    Incomplete,
}

/// Steps through a stream: heartbeats (`+PING`) between frames are told apart.
pub fn next(parser: &mut RequestParser, buf: &[u8]) -> Result<Next, String> {
    if buf.first() == Some(&b'+') {
        return Ok(match buf.windows(2).position(|w| w == b"\r\n") {
            Some(i) => Next::Heartbeat(i + 2),
            None => Next::Incomplete,
        });
    }
    Ok(match parser.parse(buf, &effect::LIMITS).map_err(err)? {
        Parsed::Incomplete => Next::Incomplete,
        Parsed::Request { consumed } => Next::Frame(consumed),
    })
}
