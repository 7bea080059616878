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

use super::{snapshot, wire, Link, Target};
use crate::resp::RequestParser;
use crate::server::Shared;
use crate::store::effect;
use crate::tls::Stream;
use bytes::{Buf, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

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

/// How a replica names the other end in its errors.
const PRIMARY: &str = "primary";

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
    let (mut stream, mut buf) = wire::open(
        shared,
        &target.host,
        target.port,
        crate::tls::Link::Replication,
        PRIMARY,
    )
    .await?;
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
    stream.write_all(&wire::command(&args)).await.map_err(err)?;
    stream.flush().await.map_err(err)?;
    let line = wire::read_line(&mut stream, &mut buf, PRIMARY).await?;
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
            shared
                .db
                .set_imported(0, crate::cluster::slot::SLOTS - 1, false);
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

/// The primary sent [`super::HANDOVER`]: it stopped taking writes at `off`,
/// which this replica has applied up to `end`.
fn handed_over(shared: &Shared, target: &Target, off: &[u8], end: u64) -> Result<(), String> {
    let off: u64 = std::str::from_utf8(off)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("malformed HANDOVER")?;
    if off != end {
        return Err(format!(
            "{} handed over at offset {off} but this replica is at {end}",
            target.name
        ));
    }
    info!(primary = %target.name, offset = off, "the primary handed over");
    shared.repl.handover_seen(off, shared.clock.now_ms());
    Ok(())
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
            let consumed = match wire::next(&mut parser, &buf[at..])? {
                wire::Next::Incomplete => break,
                // A heartbeat: not part of the stream, counted in no offset.
                wire::Next::Heartbeat(n) => {
                    let line = &buf[at..at + n - 2];
                    if let Some(off) = line.strip_prefix(super::HANDOVER.as_bytes()) {
                        handed_over(shared, target, off, journal.end())?;
                    }
                    at += n;
                    applied = true;
                    continue;
                }
                wire::Next::Frame(n) => n,
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
                let ack =
                    wire::command(&[b"REPLCONF", b"ACK", journal.end().to_string().as_bytes()]);
                stream.write_all(&ack).await.map_err(err)?;
                stream.flush().await.map_err(err)?;
            }
        }
        wire::read_more(&mut stream, &mut buf, PRIMARY).await?;
    }
}
