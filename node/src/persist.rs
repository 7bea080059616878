//! Snapshots on disk, for a warm restart of a node (a shard without
//! replicas, or a whole cluster stopped and started again).
//!
//! The file is the replication snapshot ([`crate::repl::snapshot`]) written
//! down: a header line, LZ4 chunks each checked by a CRC32C, and an end
//! marker with the number of chunks. It is written to a temporary file in the
//! same directory, synced and renamed, so a crash mid-write leaves the last
//! snapshot whole. It is read in two passes: every chunk's checksum and the
//! end marker first, then the keys, so a truncated or corrupted file is
//! refused before a single key is loaded; it is never half loaded.
//!
//! Like the full-resync snapshot, it is taken one keyspace step at a time
//! while writes go on (no fork, no pause): each key is saved whole, and the
//! file holds every write acknowledged before the snapshot began. On SIGTERM
//! it is written after the last client reply, so it holds everything.

use crate::repl::snapshot;
use crate::resp::frame::{put_array_header, put_bulk, put_bulk_u64};
use crate::resp::request::Parsed;
use crate::resp::RequestParser;
use crate::store::{effect, Db};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The first line of a snapshot file: what it is, and its format version.
pub const HEADER: &[u8] = b"SHOAL-SNAPSHOT 1\r\n";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a Shoal snapshot (its first line is not {:?})", String::from_utf8_lossy(HEADER).trim_end())]
    BadHeader,
    #[error("truncated: the file ends after {chunks} chunks, without its end marker")]
    Truncated { chunks: usize },
    #[error("chunk {index} is corrupt: {error}")]
    Corrupt {
        index: usize,
        error: snapshot::ChunkError,
    },
    #[error("malformed at byte {0}")]
    Malformed(usize),
    #[error("the end marker counts {expected} chunks but the file holds {found}")]
    Count { expected: u64, found: usize },
    #[error("its keys do not load: {0}")]
    Effects(String),
    #[error("Background save already in progress")]
    InProgress,
    #[error(
        "no snapshot directory: start the node with `dir` set (Redis' dir) to write snapshots"
    )]
    Off,
}

/// What was written or loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub keys: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// The node's snapshot state, for SAVE, BGSAVE, LASTSAVE and INFO persistence.
#[derive(Debug)]
pub struct State {
    /// Unix seconds of the last successful save (the start time before one).
    pub last_save: AtomicU64,
    pub in_progress: AtomicBool,
    pub last_ok: AtomicBool,
    pub saves: AtomicU64,
    pub last_save_ms: AtomicU64,
    /// Asks the background task for a snapshot (BGSAVE).
    pub requested: tokio::sync::Notify,
}

impl State {
    pub fn new(now_s: u64) -> State {
        State {
            last_save: AtomicU64::new(now_s),
            in_progress: AtomicBool::new(false),
            last_ok: AtomicBool::new(true),
            saves: AtomicU64::new(0),
            last_save_ms: AtomicU64::new(0),
            requested: tokio::sync::Notify::new(),
        }
    }
}

/// The snapshot file of a node configured with `dir`.
pub fn path_of(config: &crate::Config) -> Option<PathBuf> {
    config.dir.as_ref().map(|d| d.join(&config.dbfilename))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `db` to `path` (through a temporary file and a rename).
pub fn write(db: &Db, path: &Path) -> Result<Report, SnapshotError> {
    let started = Instant::now();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(HEADER).map_err(io(&tmp))?;
        let (mut cursor, mut chunks, mut keys, mut bytes) = (0u64, 0u64, 0u64, HEADER.len() as u64);
        let mut buf = Vec::with_capacity(snapshot::CHUNK_BYTES);
        loop {
            let (raw, next, n) = snapshot::read_counting(db, cursor);
            buf.clear();
            snapshot::encode(next, &raw, &mut buf);
            out.write_all(&buf).map_err(io(&tmp))?;
            bytes += buf.len() as u64;
            chunks += 1;
            keys += n as u64;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        buf.clear();
        put_array_header(3, &mut buf);
        put_bulk(b"END", &mut buf);
        put_bulk_u64(chunks, &mut buf);
        put_bulk_u64(keys, &mut buf);
        out.write_all(&buf).map_err(io(&tmp))?;
        bytes += buf.len() as u64;
        let file = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io(&tmp))?;
        Ok((keys, bytes))
    })();
    let (keys, bytes) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, path).map_err(io(path))?;
    // The rename itself survives a crash once the directory is synced.
    if let Some(d) = dir {
        if let Ok(f) = std::fs::File::open(d) {
            let _ = f.sync_all();
        }
    }
    Ok(Report {
        keys,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Calls `f` with each frame of the file after the header (its arguments,
/// where it starts and where it ends) until `f` returns false. An incomplete last frame
/// is [`SnapshotError::Truncated`] (`chunks`: how many `f` saw).
fn each_frame(
    data: &[u8],
    mut f: impl FnMut(&[&[u8]], usize, usize) -> Result<bool, SnapshotError>,
) -> Result<(), SnapshotError> {
    let mut parser = RequestParser::new();
    let mut at = HEADER.len();
    let mut seen = 0;
    while at < data.len() {
        let rest = &data[at..];
        match parser.parse(rest, &effect::LIMITS) {
            Ok(Parsed::Request { consumed }) => {
                let args: Vec<&[u8]> = parser.args(rest).iter().collect();
                if !f(&args, at, at + consumed)? {
                    return Ok(());
                }
                seen += 1;
                at += consumed;
            }
            Ok(_) => return Err(SnapshotError::Truncated { chunks: seen }),
            Err(_) => return Err(SnapshotError::Malformed(at)),
        }
    }
    Err(SnapshotError::Truncated { chunks: seen })
}

/// Checks every chunk's checksum and the end marker, loading nothing.
fn verify(data: &[u8]) -> Result<(), SnapshotError> {
    if !data.starts_with(HEADER) {
        return Err(SnapshotError::BadHeader);
    }
    let mut chunks = 0usize;
    each_frame(data, |args, at, end| match args.first().copied() {
        Some(b"CHUNK") => {
            snapshot::check(args, effect::LIMITS.max_bulk).map_err(|error| {
                SnapshotError::Corrupt {
                    index: chunks,
                    error,
                }
            })?;
            chunks += 1;
            Ok(true)
        }
        Some(b"END") if args.len() == 3 => {
            let expected =
                crate::util::num::parse_u64(args[1]).ok_or(SnapshotError::Malformed(at))?;
            if expected != chunks as u64 {
                return Err(SnapshotError::Count {
                    expected,
                    found: chunks,
                });
            }
            if end != data.len() {
                return Err(SnapshotError::Malformed(end));
            }
            Ok(false)
        }
        _ => Err(SnapshotError::Malformed(at)),
    })
}

/// Loads the snapshot at `path` into `db` (which should be empty). None: no
/// file there. On any error nothing stays loaded.
pub fn load(db: &Db, path: &Path) -> Result<Option<Report>, SnapshotError> {
    let started = Instant::now();
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    verify(&data)?;
    let mut skips = effect::Skips::default();
    let applied = each_frame(&data, |args, _, _| {
        if args.first().copied() != Some(b"CHUNK") {
            return Ok(false);
        }
        let chunk = snapshot::decode(args, effect::LIMITS.max_bulk)
            .map_err(|e| SnapshotError::Effects(e.to_string()))?;
        effect::apply_snapshot(db, &chunk.effects, &mut skips)
            .map_err(|e| SnapshotError::Effects(e.to_string()))?;
        Ok(true)
    });
    if let Err(e) = applied {
        db.flush(false);
        return Err(e);
    }
    Ok(Some(Report {
        keys: db.len() as u64,
        bytes: data.len() as u64,
        elapsed: started.elapsed(),
    }))
}

/// Writes the node's snapshot now (SAVE, BGSAVE, the interval, shutdown),
/// unless one is being written; records the outcome for LASTSAVE and INFO.
pub fn save(shared: &crate::Shared) -> Result<Report, SnapshotError> {
    let path = path_of(&shared.config).ok_or(SnapshotError::Off)?;
    let st = &shared.snapshots;
    if st.in_progress.swap(true, Ordering::AcqRel) {
        return Err(SnapshotError::InProgress);
    }
    let result = write(&shared.db, &path);
    match &result {
        Ok(r) => {
            st.last_save
                .store(shared.clock.now_ms() / 1000, Ordering::Release);
            st.last_ok.store(true, Ordering::Release);
            st.saves.fetch_add(1, Ordering::AcqRel);
            st.last_save_ms
                .store(r.elapsed.as_millis() as u64, Ordering::Release);
            shared
                .metrics
                .snapshot_saves
                .with_label_values(&["ok"])
                .inc();
            tracing::info!(file = %path.display(), keys = r.keys, bytes = r.bytes, ms = r.elapsed.as_millis() as u64, "snapshot written");
        }
        Err(e) => {
            st.last_ok.store(false, Ordering::Release);
            shared
                .metrics
                .snapshot_saves
                .with_label_values(&["error"])
                .inc();
            tracing::error!(file = %path.display(), error = %e, "snapshot not written");
        }
    }
    st.in_progress.store(false, Ordering::Release);
    result
}

/// Loads the snapshot in `dir`, if any, before the node serves. One that
/// does not load is set aside and counted; the node starts empty.
pub fn load_at_start(shared: &crate::Shared) {
    let Some(path) = path_of(&shared.config) else {
        return;
    };
    match load(&shared.db, &path) {
        Ok(None) => tracing::info!(file = %path.display(), "no snapshot to load: starting empty"),
        Ok(Some(r)) => {
            tracing::info!(file = %path.display(), keys = r.keys, bytes = r.bytes, ms = r.elapsed.as_millis() as u64, "snapshot loaded")
        }
        Err(e) => {
            shared.metrics.snapshot_load_failures.inc();
            let aside = set_aside(&path);
            tracing::error!(
                file = %path.display(),
                error = %e,
                set_aside = %aside.map(|p| p.display().to_string()).unwrap_or_default(),
                "snapshot refused: starting empty"
            );
        }
    }
}

/// Writes snapshots in the background: on BGSAVE, and every
/// `snapshot-interval` seconds when set.
pub async fn background(
    shared: std::sync::Arc<crate::Shared>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut last = Instant::now();
    loop {
        let asked = tokio::select! {
            _ = stop.cancelled() => return,
            _ = shared.snapshots.requested.notified() => true,
            // The interval is read each second: CONFIG SET applies at once.
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        let every = shared.settings.load().snapshot_interval;
        if asked || (every > 0 && last.elapsed() >= Duration::from_secs(every)) {
            let s = shared.clone();
            let _ = tokio::task::spawn_blocking(move || save(&s)).await;
            last = Instant::now();
        }
    }
}

/// Moves a snapshot that would not load aside (`<name>.corrupt`), so the
/// next save does not overwrite what an operator may want to look at.
pub fn set_aside(path: &Path) -> Option<PathBuf> {
    let to = path.with_extension("corrupt");
    std::fs::rename(path, &to).ok().map(|_| to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Ttl, Value};

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("shoal-persist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn filled(n: usize) -> Db {
        let db = Db::new(4);
        for i in 0..n {
            let k = format!("key:{i}");
            let ttl = if i % 3 == 0 {
                Ttl::At(u64::MAX / 4)
            } else {
                Ttl::Clear
            };
            db.lock(k.as_bytes())
                .set(k.as_bytes(), Value::Str(format!("v{i}").as_bytes()), ttl, 0);
        }
        db
    }

    #[test]
    fn a_keyspace_round_trips_and_keeps_its_ttls() {
        let d = dir("roundtrip");
        let path = d.join("shoal.snap");
        let db = filled(20_000);
        let w = write(&db, &path).unwrap();
        assert_eq!(w.keys, 20_000);
        let copy = Db::new(8);
        let r = load(&copy, &path).unwrap().unwrap();
        assert_eq!(r.keys, 20_000);
        let mut k = copy.lock(b"key:3");
        assert_eq!(
            k.get(b"key:3", 0).and_then(|e| e.expire_at()),
            Some(u64::MAX / 4)
        );
        assert_eq!(k.get(b"key:4", 0).and_then(|e| e.expire_at()), None);
        drop(k);
        assert_eq!(load(&Db::new(1), &d.join("none")).unwrap(), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_truncated_or_corrupted_file_is_refused_and_loads_nothing() {
        let d = dir("corrupt");
        let path = d.join("shoal.snap");
        write(&filled(5000), &path).unwrap();
        let good = std::fs::read(&path).unwrap();
        // Cut anywhere: refused.
        for cut in [HEADER.len() + 10, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let db = Db::new(4);
            let e = load(&db, &path).unwrap_err();
            assert!(
                matches!(
                    e,
                    SnapshotError::Truncated { .. } | SnapshotError::Malformed(_)
                ),
                "cut at {cut}: {e}"
            );
            assert!(db.is_empty());
        }
        // A flipped byte inside a chunk's data: its checksum says so.
        let mut bad = good.clone();
        let at = good.len() / 2;
        bad[at] ^= 0x5a;
        std::fs::write(&path, &bad).unwrap();
        let db = Db::new(4);
        let e = load(&db, &path).unwrap_err();
        assert!(
            matches!(
                e,
                SnapshotError::Corrupt { .. } | SnapshotError::Malformed(_)
            ),
            "{e}"
        );
        assert!(db.is_empty());
        // Not a snapshot at all.
        std::fs::write(&path, b"REDIS0011...").unwrap();
        assert!(matches!(
            load(&Db::new(1), &path),
            Err(SnapshotError::BadHeader)
        ));
        // Garbage after the end marker.
        let mut extra = good.clone();
        extra.extend_from_slice(b"junk");
        std::fs::write(&path, &extra).unwrap();
        assert!(load(&Db::new(1), &path).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
