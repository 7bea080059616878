//! The follower: keeps this replica in step with its primary.
//!
//! One task per node. It connects to the primary the role names, asks to
//! continue from its own replication id and offset, loads a snapshot when it
//! must (resuming an interrupted one from the last good chunk), applies the
//! stream, appends it to its own backlog at the same offsets (so it can serve
//! other replicas if promoted), and acknowledges what it applied.
//!
//! It never follows a primary that came back empty under the same name: that
//! would replace this replica's data, possibly the only copy left, with
//! nothing. It keeps the data and reports it for the failover decision.

use super::{snapshot, Link, Target};
use crate::resp::request::Parsed;
use crate::resp::RequestParser;
use crate::server::Shared;
use crate::store::effect;
use crate::tls::Stream;
use bytes::{Buf, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The primary sends a heartbeat every second; this much silence ends the link.
const SILENCE: Duration = Duration::from_secs(5);
/// Pause between attempts.
const RETRY: Duration = Duration::from_millis(200);
/// Largest snapshot chunk accepted, decompressed.
const MAX_CHUNK: usize = effect::LIMITS.max_bulk;

/// An interrupted snapshot: where to pick it up.
#[derive(Clone, Debug)]
struct Resume {
    replid: String,
    offset: u64,
    cursor: u64,
}

/// Follows whatever primary the role names until `stop`.
pub async fn follow(shared: Arc<Shared>, stop: CancellationToken) {
    let mut rx = shared.repl.subscribe();
    let mut resume = None;
    let mut skips = effect::Skips::default();
    loop {
        let target = rx.borrow_and_update().clone();
        let Some(target) = target else {
            tokio::select! {
                r = rx.changed() => if r.is_err() { return },
                _ = stop.cancelled() => return,
            }
            continue;
        };
        let result = tokio::select! {
            r = sync(&shared, &target, &mut resume, &mut skips) => r,
            r = rx.changed() => {
                if r.is_err() { return }
                continue;
            }
            _ = stop.cancelled() => return,
        };
        let why = match result {
            Ok(()) => "the primary closed the link".to_string(),
            Err(e) => e,
        };
        {
            let mut s = shared.repl.state();
            if s.link != Link::Down {
                warn!(primary = %target.name, reason = %why, "replication link down");
            }
            s.link = Link::Down;
            s.last_error = Some(why);
        }
        shared.metrics.repl.link_up.set(0);
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            r = rx.changed() => if r.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn read_line<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> Result<String, String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.advance(i + 2);
            return Ok(line);
        }
        if buf.len() > 1024 {
            return Err("over-long reply line from the primary".into());
        }
        let n = tokio::time::timeout(SILENCE, rd.read_buf(buf))
            .await
            .map_err(|_| "the primary did not answer".to_string())?
            .map_err(err)?;
        if n == 0 {
            return Err("the primary closed the link".into());
        }
    }
}

fn command(args: &[&[u8]]) -> bytes::Bytes {
    crate::cluster::link::encode(args.iter())
}

/// One connection to the primary: handshake, snapshot if needed, stream.
/// `skips` outlives a connection: a snapshot resumed, or a stream continued
/// after it, still needs to know what the keys loaded so far hold.
async fn sync(
    shared: &Shared,
    target: &Target,
    resume: &mut Option<Resume>,
    skips: &mut effect::Skips,
) -> Result<(), String> {
    shared.repl.state().link = super::Link::Connecting;
    let tls = shared.link_tls(crate::tls::Link::Replication);
    let mut stream = crate::tls::connect(&target.host, target.port, tls.as_ref(), CONNECT_TIMEOUT)
        .await
        .map_err(err)?;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    if let Some((user, pw)) = shared.link_login() {
        stream
            .write_all(&command(&[b"AUTH", user.as_bytes(), pw.as_bytes()]))
            .await
            .map_err(err)?;
        stream.flush().await.map_err(err)?;
        let line = read_line(&mut stream, &mut buf).await?;
        if line != "+OK" {
            return Err(format!("the primary refused authentication: {line}"));
        }
    }
    let (replid, offset) = {
        let s = shared.repl.state();
        (s.replid.clone(), shared.db.journal().end())
    };
    let (name, port) = me(shared);
    let port_s = port.to_string();
    let mut psync: Vec<Vec<u8>> = vec![
        b"PSYNC".to_vec(),
        replid.clone().into_bytes(),
        offset.to_string().into_bytes(),
        b"NODE".to_vec(),
        name.into_bytes(),
        port_s.into_bytes(),
    ];
    if let Some(r) = resume.as_ref().filter(|r| r.replid == replid) {
        psync.push(b"RESUME".to_vec());
        psync.push(r.cursor.to_string().into_bytes());
        psync.push(r.offset.to_string().into_bytes());
    }
    let args: Vec<&[u8]> = psync.iter().map(|a| a.as_slice()).collect();
    stream.write_all(&command(&args)).await.map_err(err)?;
    stream.flush().await.map_err(err)?;
    let line = read_line(&mut stream, &mut buf).await?;
    let words: Vec<&str> = line.split(' ').collect();
    let loading = match words.as_slice() {
        ["+FULLRESYNC", id, off] => {
            let off: u64 = off.parse().map_err(err)?;
            {
                let mut s = shared.repl.state();
                let lost = s.synced_from.as_deref() == Some(target.name.as_str())
                    && *id != s.replid
                    && offset > 0;
                if lost {
                    s.primary_lost_data = true;
                    drop(s);
                    shared.metrics.repl.primary_lost_data.set(1);
                    return Err(format!(
                        "{} restarted without its data (new replication id {id}); keeping this replica's copy until a failover",
                        target.name
                    ));
                }
                s.replid = id.to_string();
                s.synced = false;
                s.synced_from = None;
                s.link = Link::Sync;
            }
            info!(primary = %target.name, offset = off, "full resync");
            shared.db.flush(true);
            shared.db.set_imported(0, crate::cluster::slot::SLOTS - 1, false);
            shared.db.journal().reset(off);
            skips.clear();
            *resume = Some(Resume {
                replid: id.to_string(),
                offset: off,
                cursor: 0,
            });
            true
        }
        ["+RESUME", id, off, cursor] => {
            let (off, cursor) = (off.parse().map_err(err)?, cursor.parse().map_err(err)?);
            info!(primary = %target.name, cursor, "resuming an interrupted snapshot");
            shared.repl.state().link = Link::Sync;
            *resume = Some(Resume {
                replid: id.to_string(),
                offset: off,
                cursor,
            });
            true
        }
        ["+CONTINUE", id] => {
            let mut s = shared.repl.state();
            if *id != s.replid {
                // The primary was promoted: its old history is ours.
                s.replid2 = std::mem::replace(&mut s.replid, id.to_string());
                s.second_offset = Some(offset);
            }
            drop(s);
            shared.repl.synced_with(target);
            shared.metrics.repl.primary_lost_data.set(0);
            info!(primary = %target.name, offset, "partial resync");
            false
        }
        _ => return Err(format!("unexpected answer to PSYNC: {line}")),
    };
    stream_in(shared, target, stream, buf, loading, resume, skips).await
}

/// This node's name and client port, as it introduces itself to a primary.
fn me(shared: &Shared) -> (String, u16) {
    let name = shared
        .cluster
        .as_ref()
        .map(|c| c.me.clone())
        .unwrap_or_else(|| format!("{}:{}", shared.config.bind, shared.config.port));
    (name, shared.config.port)
}

async fn stream_in(
    shared: &Shared,
    target: &Target,
    mut stream: Stream,
    mut buf: BytesMut,
    mut loading: bool,
    resume: &mut Option<Resume>,
    skips: &mut effect::Skips,
) -> Result<(), String> {
    let mut parser = RequestParser::new();
    let mut applier = effect::Applier::default();
    let journal = shared.db.journal();
    loop {
        let mut applied = false;
        let mut at = 0;
        while at < buf.len() {
            if buf[at] == b'+' {
                // A heartbeat: not part of the stream, counted in no offset.
                match buf[at..].windows(2).position(|w| w == b"\r\n") {
                    Some(i) => {
                        at += i + 2;
                        applied = true;
                        continue;
                    }
                    None => break,
                }
            }
            let consumed = match parser.parse(&buf[at..], &effect::LIMITS).map_err(err)? {
                Parsed::Incomplete => break,
                Parsed::Request { consumed } => consumed,
            };
            let args: Vec<&[u8]> = parser.args(&buf[at..]).iter().collect();
            if loading {
                match args.first().copied() {
                    Some(b"CHUNK") => {
                        let chunk = snapshot::decode(&args, MAX_CHUNK).map_err(err)?;
                        effect::apply_snapshot(&shared.db, &chunk.effects, skips).map_err(err)?;
                        if let Some(r) = resume.as_mut() {
                            r.cursor = chunk.next;
                        }
                    }
                    Some(b"END") if args.len() == 2 => {
                        let off = std::str::from_utf8(args[1])
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or("malformed END")?;
                        journal.reset(off);
                        *resume = None;
                        loading = false;
                        shared.repl.synced_with(target);
                        shared.metrics.repl.primary_lost_data.set(0);
                        info!(primary = %target.name, offset = off, keys = shared.db.len(), "snapshot loaded");
                    }
                    _ => return Err("unexpected frame during a snapshot".into()),
                }
            } else {
                // A batch is applied (and journaled, so acknowledged) whole.
                let offset = journal.end();
                let applied = applier
                    .feed(&shared.db, &args, &buf[at..at + consumed], offset, skips)
                    .map_err(err)?;
                journal.append(&applied);
            }
            at += consumed;
            applied = true;
        }
        buf.advance(at);
        if applied {
            let now = shared.clock.now_ms();
            shared.repl.state().last_io_ms = now;
            if !loading {
                shared.metrics.repl.link_up.set(1);
                let ack = command(&[b"REPLCONF", b"ACK", journal.end().to_string().as_bytes()]);
                stream.write_all(&ack).await.map_err(err)?;
                stream.flush().await.map_err(err)?;
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let n = tokio::time::timeout(SILENCE, stream.read_buf(&mut buf))
            .await
            .map_err(|_| format!("nothing from the primary for {SILENCE:?}"))?
            .map_err(err)?;
        if n == 0 {
            return Err("the primary closed the link".into());
        }
    }
}
