//! Live slot migration between primaries: the node's half of a resize (the
//! steps and the documents are in `shoal_core::cluster::reshard`).
//!
//! - [`export`]: the source's side of one link, after the target's
//!   `SYNCSLOTS range…`. A snapshot of the ranges' keys (every type, with
//!   deadlines; chunked, LZ4-compressed, CRC-checked as for a replica), then
//!   the source's journal from where the snapshot began, filtered to the
//!   ranges. When the source applies a topology that takes the ranges away, it
//!   takes every shard's lock once (no write to them can be half done), notes
//!   its journal's end, sends everything before it and then `RELEASED`.
//! - [`run_imports`]: the target's side. For each range the topology says is
//!   coming to this primary, one task pulls it from the source shard's current
//!   primary and applies it through the keyspace, so this node's replicas
//!   receive it too. The range is served only after `RELEASED`
//!   ([`Imports::released`]); a link lost before that starts over from a new
//!   snapshot, since nothing was served from the copy.
//! - [`run_cleanup`]: after every topology change, a primary deletes, a few
//!   keys at a time, keys of slots it no longer holds (see `View::keeps`): the
//!   source's copy once the import is done, or the target's copy after an
//!   aborted resize.

use super::slot::{key_slot, SlotRange};
use super::View;
use crate::repl::{snapshot, wire};
use crate::resp::request::Parsed;
use crate::resp::RequestParser;
use crate::server::Shared;
use crate::store::effect;
use bytes::Buf;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Most journal bytes read for one send.
const SEND_MAX: usize = 1 << 20;
/// Keys read under one shard lock, for the snapshot and the cleanup.
const STEP_KEYS: usize = 128;
/// Scan steps per snapshot chunk at most (the thread yields between chunks).
const STEPS_PER_CHUNK: usize = 8;
/// How the target names the other end in its errors.
const SOURCE: &str = "source";
/// The longest silence on a slot stream (the target drops it after
/// `wire::SILENCE`).
const HEARTBEAT: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_millis(200);
/// How long an import waits for this node's replicas to hold what it imported
/// before it reports done (the source deletes its copy after that).
const REPLICA_WAIT: Duration = Duration::from_secs(5);

/// Where one import stands, as `CLUSTER INFO` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Connecting,
    Snapshot,
    /// Snapshot loaded; following the source's writes.
    Streaming,
    /// The source sent its last write: the range is served here.
    Released,
    /// And this node's replicas acknowledged it (or have none).
    Done,
}

struct Import {
    phase: Phase,
    cancel: CancellationToken,
}

/// The imports this node runs. Which slots they released lives with the data
/// (`Db::imported`), since it is replicated with it.
#[derive(Default)]
pub struct Imports {
    running: Mutex<HashMap<(SlotRange, usize), Import>>,
}

impl Imports {
    fn set_phase(&self, key: (SlotRange, usize), phase: Phase) {
        if let Some(i) = self.running.lock().get_mut(&key) {
            i.phase = phase;
        }
    }

    /// How many imports are in each phase, in [`Phase`] order.
    pub fn counts(&self) -> [usize; 5] {
        let mut n = [0; 5];
        for i in self.running.lock().values() {
            n[i.phase as usize] += 1;
        }
        n
    }
}

/// The ranges the topology brings to this node's shard: (range, source shard).
fn wanted(view: &View) -> Vec<(SlotRange, usize)> {
    let Some(me) = view.me else {
        return Vec::new();
    };
    let shards = &view.topology.shards;
    let mut out: Vec<(SlotRange, usize)> = shards
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.migrating
                .iter()
                .filter(move |m| m.to == me.shard)
                .map(move |m| (m.slots, i))
        })
        .collect();
    out.extend(shards[me.shard].importing.iter().map(|m| (m.slots, m.from)));
    out.sort();
    out.dedup();
    out
}

/// Starts and stops import tasks as topologies are applied.
pub async fn run_imports(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let mut rx = cluster.subscribe();
    loop {
        let view = cluster.view();
        let want = view.as_deref().map(wanted).unwrap_or_default();
        let primary = view
            .as_ref()
            .is_some_and(|v| v.me.is_some_and(|m| m.primary));
        // A hand-over is remembered only while the topology still names it
        // (by every node: a replica promoted later must not take an old mark
        // for a new import's).
        if view.is_some() {
            for (start, end) in shared.db.imported_runs() {
                for slot in start..=end {
                    if !want.iter().any(|(r, _)| r.contains(slot)) {
                        shared.db.set_imported(slot, slot, false);
                    }
                }
            }
        }
        {
            let mut running = cluster.imports.running.lock();
            running.retain(|key, i| {
                let keep = primary && want.contains(key);
                if !keep {
                    i.cancel.cancel();
                }
                keep
            });
            for key in want.iter().filter(|_| primary) {
                if running.contains_key(key) {
                    continue;
                }
                let cancel = stop.child_token();
                running.insert(
                    *key,
                    Import {
                        phase: Phase::Connecting,
                        cancel: cancel.clone(),
                    },
                );
                let shared = shared.clone();
                let key = *key;
                tokio::spawn(async move {
                    tokio::select! {
                        () = import(&shared, key) => {}
                        () = cancel.cancelled() => {
                            // The import can apply nothing more now. Aborted:
                            // what it copied goes (the cleanup pass may have
                            // run while it still applied).
                            let kept = shared.cluster.as_ref().and_then(|c| {
                                c.load().as_ref().and_then(|v| v.keeps(key.0.start))
                            });
                            if kept == Some(false) {
                                delete_range(&shared, key.0).await;
                            }
                        }
                    }
                });
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Pulls `range` from the primary of shard `from` until it is released here
/// and this node's replicas hold it.
async fn import(shared: &Shared, key: (SlotRange, usize)) {
    let cluster = shared.cluster.as_ref().expect("imports run in a cluster");
    let (range, from) = key;
    let mut first = true;
    loop {
        if !first {
            shared.metrics.cluster.imports_restarted.inc();
            tokio::time::sleep(RETRY).await;
        }
        first = false;
        // Handed over before (this node was then a replica of the shard's
        // primary, promoted since): its copy is the data.
        if (range.start..=range.end).all(|s| shared.db.imported(s)) {
            cluster.imports.set_phase(key, Phase::Done);
            return;
        }
        cluster.imports.set_phase(key, Phase::Connecting);
        let Some(source) = cluster
            .view()
            .and_then(|v| v.topology.shards.get(from).map(|s| s.primary.clone()))
        else {
            continue;
        };
        // Nothing was served from a copy that is not released: start afresh.
        delete_range(shared, range).await;
        match pull(shared, key, &source.host, source.port).await {
            Ok(()) => return,
            Err(why) => {
                warn!(slots = %range, source = %source.name, reason = %why, "slot import interrupted; starting over")
            }
        }
    }
}

/// One link to the source: handshake, snapshot, stream, release.
async fn pull(
    shared: &Shared,
    key: (SlotRange, usize),
    host: &str,
    port: u16,
) -> Result<(), String> {
    let cluster = shared.cluster.as_ref().expect("imports run in a cluster");
    let range = key.0;
    let (mut stream, mut buf) =
        wire::open(shared, host, port, crate::tls::Link::Cluster, SOURCE).await?;
    let mut parser = RequestParser::new();
    let r = range.to_string();
    stream
        .write_all(&wire::command(&[b"SYNCSLOTS", r.as_bytes()]))
        .await
        .map_err(err)?;
    stream.flush().await.map_err(err)?;
    let line = wire::read_line(&mut stream, &mut buf, SOURCE).await?;
    if line != "+SNAPSHOT" {
        return Err(format!("unexpected answer to SYNCSLOTS: {line}"));
    }
    cluster.imports.set_phase(key, Phase::Snapshot);
    let mut loading = true;
    let mut applier = effect::Applier::default();
    let mut skips = effect::Skips::default();
    let mut keys = 0u64;
    loop {
        let mut at = 0;
        while at < buf.len() {
            let consumed = match wire::next(&mut parser, &buf[at..])? {
                wire::Next::Incomplete => break,
                wire::Next::Heartbeat(n) => {
                    at += n;
                    continue;
                }
                wire::Next::Frame(n) => n,
            };
            let args: Vec<&[u8]> = parser.args(&buf[at..]).iter().collect();
            match args.first().copied() {
                Some(b"CHUNK") if loading => {
                    let chunk = snapshot::decode(&args, effect::LIMITS.max_bulk).map_err(err)?;
                    effect::apply_snapshot(&shared.db, &chunk.effects, &mut skips).map_err(err)?;
                    let n = effect::count_keys(&chunk.effects);
                    keys += n;
                    shared.metrics.cluster.imported_keys.inc_by(n);
                }
                Some(b"END") if loading => {
                    loading = false;
                    cluster.imports.set_phase(key, Phase::Streaming);
                    info!(slots = %range, keys, "slot snapshot loaded; following the source's writes");
                }
                Some(b"RELEASED") if !loading && !applier.in_batch() => {
                    shared.db.record_imported(range.start, range.end);
                    cluster.imports.set_phase(key, Phase::Released);
                    info!(slots = %range, "the source handed the slots over: serving them");
                    // The source deletes its copy once this node's replicas
                    // hold the keys too.
                    let end = shared.db.journal().end();
                    let replicas = shared.repl.attached().len();
                    if replicas > 0 {
                        shared.repl.wait(end, replicas, Some(REPLICA_WAIT)).await;
                    }
                    cluster.imports.set_phase(key, Phase::Done);
                    shared.metrics.cluster.imports_done.inc();
                    let _ = stream.write_all(&wire::command(&[b"DONE"])).await;
                    let _ = stream.flush().await;
                    return Ok(());
                }
                Some(_) if !loading => {
                    applier
                        .feed(&shared.db, &args, &[], 0, &mut skips)
                        .map_err(err)?;
                    shared.metrics.cluster.imported_keys.inc();
                }
                _ => return Err("unexpected frame from the source".into()),
            }
            at += consumed;
        }
        buf.advance(at);
        // Applying is CPU work on an I/O thread shared with clients.
        tokio::task::yield_now().await;
        wire::read_more(&mut stream, &mut buf, SOURCE).await?;
    }
}

/// Deletes this node's keys in `range`, a few at a time.
async fn delete_range(shared: &Shared, range: SlotRange) {
    delete_where(shared, |slot| range.contains(slot)).await;
}

/// Deletes every key whose slot `doomed` names, holding one shard's lock for
/// at most [`STEP_KEYS`] keys at a time; returns how many went.
async fn delete_where(shared: &Shared, doomed: impl Fn(u16) -> bool) -> u64 {
    let db = &shared.db;
    let mut cursor = 0;
    let mut deleted = 0;
    loop {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        cursor = db.scan(cursor, STEP_KEYS, 0, |e| {
            if doomed(key_slot(e.key())) {
                keys.push(e.key().to_vec());
            }
        });
        for k in &keys {
            if db.lock(k).remove_any(k).is_some() {
                deleted += 1;
            }
        }
        if cursor == 0 {
            return deleted;
        }
        tokio::task::yield_now().await;
    }
}

/// After every topology change, deletes what this primary no longer holds.
pub async fn run_cleanup(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let mut rx = cluster.subscribe();
    loop {
        let view = cluster.view();
        if let Some(view) = view.as_ref().filter(|v| v.me.is_some_and(|m| m.primary)) {
            let epoch = view.epoch();
            // The view is read again per key batch: a newer topology may
            // bring a slot back, and then its keys stay.
            let gone = delete_where(&shared, |slot| {
                cluster
                    .load()
                    .as_ref()
                    .and_then(|v| v.keeps(slot))
                    .is_some_and(|keep| !keep)
            })
            .await;
            if gone > 0 {
                shared.metrics.cluster.cleaned_keys.inc_by(gone);
                info!(
                    keys = gone,
                    epoch, "deleted the keys of slots this node no longer holds"
                );
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

/// Parses `SYNCSLOTS`'s ranges.
pub fn parse_ranges(args: &[&[u8]]) -> Result<Vec<SlotRange>, String> {
    if args.is_empty() || args.len() > 1024 {
        return Err("SYNCSLOTS takes 1 to 1024 slot ranges".into());
    }
    args.iter()
        .map(|a| std::str::from_utf8(a).map_err(err)?.parse::<SlotRange>())
        .collect()
}

/// Whether this node has given every slot of `ranges` away: it is not (or no
/// longer) the primary of their owner.
fn released_here(shared: &Shared, ranges: &[SlotRange]) -> bool {
    let Some(cluster) = shared.cluster.as_ref() else {
        return false;
    };
    let view = cluster.load();
    let Some(view) = view.as_ref() else {
        return false;
    };
    let Some(me) = view.me.filter(|m| m.primary) else {
        return true;
    };
    ranges
        .iter()
        .all(|r| (r.start..=r.end).all(|s| view.owner(s) != Some(me.shard)))
}

/// Serves a target's `SYNCSLOTS ranges` on `stream` until the ranges are
/// released and the target says it is done, or the link fails.
pub async fn export<S>(shared: &Shared, stream: S, ranges: Vec<SlotRange>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let label = ranges
        .iter()
        .map(SlotRange::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let result = tokio::select! {
        r = send(shared, &mut wr, &ranges) => r,
        // The target only speaks to say it is done (or by closing).
        r = async {
            let mut b = [0u8; 64];
            match rd.read(&mut b).await {
                Ok(0) | Err(_) => Err("the target closed the link".to_string()),
                Ok(_) => Ok(()),
            }
        } => r,
    };
    match result {
        Ok(()) => info!(slots = %label, "slots handed over"),
        Err(why) => warn!(slots = %label, reason = %why, "slot export ended"),
    }
}

fn in_ranges(ranges: &[SlotRange], key: &[u8]) -> bool {
    let s = key_slot(key);
    ranges.iter().any(|r| r.contains(s))
}

async fn send<W: AsyncWrite + Unpin>(
    shared: &Shared,
    wr: &mut W,
    ranges: &[SlotRange],
) -> Result<(), String> {
    let db = &shared.db;
    let journal = db.journal();
    // Every change from here on is journaled; the stream starts here.
    db.set_tracking(true);
    let start = journal.end();
    wr.write_all(b"+SNAPSHOT\r\n").await.map_err(err)?;
    // Lists read by the snapshot: pushes and pops journaled before the read
    // are in the state sent, so the stream must not send them again.
    let mut lists: HashMap<Box<[u8]>, u64> = HashMap::new();
    let mut cursor = 0;
    let mut out = Vec::with_capacity(snapshot::CHUNK_BYTES);
    loop {
        let mut raw = Vec::new();
        for _ in 0..STEPS_PER_CHUNK {
            cursor = db.scan_at(cursor, STEP_KEYS, 0, |e, at| {
                if in_ranges(ranges, e.key()) {
                    if matches!(e.value(), crate::store::ValueRef::List(_)) {
                        lists.insert(e.key().into(), at);
                    }
                    effect::encode_state(e.key(), Some(e), &mut raw);
                }
            });
            if cursor == 0 || raw.len() >= snapshot::CHUNK_BYTES {
                break;
            }
        }
        out.clear();
        snapshot::encode(cursor, &raw, &mut out);
        wr.write_all(&out).await.map_err(err)?;
        // A write to a local socket rarely waits: without this the snapshot
        // would keep its I/O thread from every other client.
        tokio::task::yield_now().await;
        if cursor == 0 {
            break;
        }
        if !shared.repl.is_primary() {
            return Err("no longer a primary".into());
        }
    }
    out.clear();
    snapshot::encode_end(start, &mut out);
    wr.write_all(&out).await.map_err(err)?;
    let mut filter = Filter {
        ranges,
        lists,
        batch: None,
    };
    let mut sent = start;
    let mut pending: Vec<u8> = Vec::new();
    let mut release: Option<(u64, Instant)> = None;
    let mut topology = shared.cluster.as_ref().map(|c| c.subscribe());
    let mut last_write = Instant::now();
    loop {
        if !shared.repl.is_primary() {
            return Err("no longer a primary".into());
        }
        if release.is_none() && released_here(shared, ranges) {
            // No write to the ranges is in progress once every shard is held
            // (writes route under their keys' locks), and none starts after.
            let locked = db.lock_all();
            let end = journal.end();
            drop(locked);
            release = Some((end, Instant::now()));
        }
        let mut chunk = Vec::new();
        let n = journal.read(sent, SEND_MAX, &mut chunk).map_err(|_| {
            "the journal moved past the slot stream; a larger repl-backlog-size avoids this"
                .to_string()
        })?;
        if n > 0 {
            let base = sent - pending.len() as u64;
            pending.extend_from_slice(&chunk);
            sent += n as u64;
            out.clear();
            let used = filter.feed(&pending, base, &mut out)?;
            pending.drain(..used);
            if !out.is_empty() {
                wr.write_all(&out).await.map_err(err)?;
                last_write = Instant::now();
            }
        }
        // The target hears something every second even while every write
        // goes to other slots.
        if last_write.elapsed() >= HEARTBEAT {
            wr.write_all(b"+PING\r\n").await.map_err(err)?;
            last_write = Instant::now();
        }
        if let Some((end, since)) = release {
            // Every byte before `end` went through the filter.
            if sent - pending.len() as u64 >= end {
                out.clear();
                crate::resp::frame::put_array_header(2, &mut out);
                crate::resp::frame::put_bulk(b"RELEASED", &mut out);
                crate::resp::frame::put_bulk_u64(end, &mut out);
                wr.write_all(&out).await.map_err(err)?;
                wr.flush().await.map_err(err)?;
                shared.metrics.cluster.exports_released.inc();
                shared
                    .metrics
                    .cluster
                    .handover_seconds
                    .observe(since.elapsed().as_secs_f64());
                // Wait for the target's DONE (the other half of `export`).
                std::future::pending::<()>().await;
            }
        }
        wr.flush().await.map_err(err)?;
        if n > 0 {
            // Filtering is CPU work on an I/O thread shared with clients.
            tokio::task::yield_now().await;
            continue;
        }
        let wait = journal.wait_past(sent);
        let changed = async {
            match topology.as_mut() {
                Some(rx) => {
                    let _ = rx.changed().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = wait => {}
            () = changed => {}
            () = tokio::time::sleep(HEARTBEAT) => {}
        }
    }
}

/// Picks the effects of a journal that touch the exported ranges.
struct Filter<'r> {
    ranges: &'r [SlotRange],
    /// Lists the snapshot sent, with the offset their state holds.
    lists: HashMap<Box<[u8]>, u64>,
    /// An open `BATCH`: effects still to come, and those kept so far.
    batch: Option<(usize, Vec<Vec<u8>>)>,
}

impl Filter<'_> {
    /// Filters the whole effects at the start of `bytes` (which begin at
    /// journal offset `base`) into `out`; returns the bytes consumed.
    fn feed(&mut self, bytes: &[u8], base: u64, out: &mut Vec<u8>) -> Result<usize, String> {
        let mut parser = RequestParser::new();
        let mut at = 0;
        while at < bytes.len() {
            let consumed = match parser.parse(&bytes[at..], &effect::LIMITS).map_err(err)? {
                Parsed::Incomplete => break,
                Parsed::Request { consumed } => consumed,
            };
            let raw = &bytes[at..at + consumed];
            let args: Vec<&[u8]> = parser.args(&bytes[at..]).iter().collect();
            let offset = base + at as u64;
            at += consumed;
            let name = args.first().copied().unwrap_or_default();
            if name == b"BATCH" {
                let n = args
                    .get(1)
                    .and_then(|n| crate::util::num::parse_u64(n))
                    .ok_or("malformed BATCH in the journal")?;
                self.batch = Some((n as usize, Vec::new()));
                continue;
            }
            if name == b"FLUSHSHARD" {
                // The target starts over from a new snapshot of what is left.
                return Err("the keyspace was flushed during the migration".into());
            }
            let key = args.get(1).copied().unwrap_or_default();
            let keep = in_ranges(self.ranges, key)
                && !(name == b"LOPS" && self.lists.get(key).is_some_and(|&at| offset < at));
            match self.batch.as_mut() {
                Some((left, kept)) => {
                    if keep {
                        kept.push(raw.to_vec());
                    }
                    *left -= 1;
                    if *left == 0 {
                        let (_, kept) = self.batch.take().expect("open batch");
                        if kept.len() > 1 {
                            effect::encode_batch(kept.len(), out);
                        }
                        for k in kept {
                            out.extend_from_slice(&k);
                        }
                    }
                }
                None if keep => out.extend_from_slice(raw),
                None => {}
            }
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_the_ranges_effects_and_reframes_batches() {
        let ranges = [SlotRange::new(0, 8191)];
        // "a" hashes to 15495, "b" to 3300, "c" to 7365.
        assert!(!in_ranges(&ranges, b"a") && in_ranges(&ranges, b"b") && in_ranges(&ranges, b"c"));
        let mut journal = Vec::new();
        let set = |k: &[u8], out: &mut Vec<u8>| {
            crate::resp::Frame::encode_command(&[b"SET", k, b"v", b"0"], out)
        };
        set(b"a", &mut journal);
        set(b"b", &mut journal);
        effect::encode_batch(3, &mut journal);
        set(b"a", &mut journal);
        set(b"b", &mut journal);
        set(b"c", &mut journal);
        effect::encode_batch(2, &mut journal);
        set(b"a", &mut journal);
        set(b"c", &mut journal);
        let lops_at = journal.len() as u64;
        crate::resp::Frame::encode_command(&[&b"LOPS"[..], b"b", b"0", b"x"], &mut journal);
        let whole = journal.len();
        // Half an effect at the end stays for the next read.
        set(b"b", &mut journal);
        journal.truncate(journal.len() - 3);
        let mut f = Filter {
            ranges: &ranges,
            lists: HashMap::from([(Box::<[u8]>::from(&b"b"[..]), lops_at + 1)]),
            batch: None,
        };
        let mut out = Vec::new();
        assert_eq!(f.feed(&journal, 0, &mut out).unwrap(), whole);
        let mut want = Vec::new();
        set(b"b", &mut want);
        effect::encode_batch(2, &mut want);
        set(b"b", &mut want);
        set(b"c", &mut want);
        set(b"c", &mut want);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want),
            "the LOPS the snapshot already holds is dropped"
        );
        let mut flush = Vec::new();
        effect::encode_flush(0, 1, &mut flush);
        assert!(f.feed(&flush, 0, &mut Vec::new()).is_err());
    }
}
