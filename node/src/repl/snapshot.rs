//! Snapshot chunks for a full resync: a bounded piece of the keyspace, encoded
//! as effects, compressed with LZ4 and checked with a CRC32C, so a corrupted
//! chunk is detected and fetched again instead of loaded.
//!
//! The snapshot is fuzzy: chunks are taken one keyspace scan step at a time
//! while writes go on, and the replica then applies the stream from the offset
//! the snapshot began at. Most effects are key states, so replaying a change
//! the snapshot already holds is harmless, and no change after that offset is
//! missed. The few that are operations (a push onto a long list) must not be
//! applied twice: each step says, in an `AT offset` effect, which journaled
//! changes the key states after it already hold, and the replica skips those. That also makes a snapshot resumable from any chunk: the scan cursor
//! after the last good chunk is all the replica needs to keep.

use crate::resp::frame::{put_array_header, put_bulk, put_bulk_u64};
use crate::store::{effect, Db};

/// Raw bytes a chunk aims at (one key larger than this makes a larger chunk).
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Keys read under one shard lock.
const STEP_KEYS: usize = 128;

static CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("malformed chunk")]
    Malformed,
    #[error("chunk checksum mismatch")]
    Checksum,
    #[error("chunk does not decompress: {0}")]
    Compression(String),
    #[error("chunk too large ({0} bytes)")]
    TooLarge(usize),
}

/// A verified chunk: its effects, and the scan cursor to resume after it.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk {
    pub next: u64,
    pub effects: Vec<u8>,
}

/// Reads the keyspace from `cursor` until about [`CHUNK_BYTES`] are encoded;
/// returns the effects and the cursor to continue from (0: done).
pub fn read(db: &Db, cursor: u64) -> (Vec<u8>, u64) {
    let (raw, next, _) = read_counting(db, cursor);
    (raw, next)
}

/// As [`read`], with the number of keys the chunk holds.
pub fn read_counting(db: &Db, mut cursor: u64) -> (Vec<u8>, u64, usize) {
    let mut keys = 0;
    let mut raw = Vec::new();
    if cursor == 0 {
        // Slots handed over to this shard are part of its data.
        for (start, end) in db.imported_runs() {
            effect::encode_imported(start, end, &mut raw);
        }
    }
    let mut marked = None;
    loop {
        cursor = db.scan_at(cursor, STEP_KEYS, 0, |e, at| {
            // Which journaled changes the states that follow already hold.
            if marked != Some(at) {
                effect::encode_at(at, &mut raw);
                marked = Some(at);
            }
            keys += 1;
            effect::encode_state(e.key(), Some(e), &mut raw)
        });
        if cursor == 0 || raw.len() >= CHUNK_BYTES {
            return (raw, cursor, keys);
        }
    }
}

/// Frames a chunk: `CHUNK next crc32c rawlen lz4-bytes` as a RESP array.
pub fn encode(next: u64, effects: &[u8], out: &mut Vec<u8>) {
    let packed = lz4_flex::block::compress(effects);
    let crc = CRC32C.checksum(&packed);
    put_array_header(5, out);
    put_bulk(b"CHUNK", out);
    put_bulk_u64(next, out);
    put_bulk_u64(u64::from(crc), out);
    put_bulk_u64(effects.len() as u64, out);
    put_bulk(&packed, out);
}

/// The end of a snapshot: the stream continues at `offset`.
pub fn encode_end(offset: u64, out: &mut Vec<u8>) {
    put_array_header(2, out);
    put_bulk(b"END", out);
    put_bulk_u64(offset, out);
}

fn num(a: &[u8]) -> Result<u64, ChunkError> {
    crate::util::num::parse_u64(a).ok_or(ChunkError::Malformed)
}

/// Checks a `CHUNK` frame's checksum and claimed size without unpacking it.
pub fn check(args: &[&[u8]], max_raw: usize) -> Result<(), ChunkError> {
    let [name, _next, crc, rawlen, packed] = args else {
        return Err(ChunkError::Malformed);
    };
    if *name != b"CHUNK" {
        return Err(ChunkError::Malformed);
    }
    if CRC32C.checksum(packed) as u64 != num(crc)? {
        return Err(ChunkError::Checksum);
    }
    let rawlen = num(rawlen)? as usize;
    if rawlen > max_raw {
        return Err(ChunkError::TooLarge(rawlen));
    }
    Ok(())
}

/// Checks and unpacks a `CHUNK` frame's arguments (name included). `max_raw`
/// bounds the memory a chunk may claim.
pub fn decode(args: &[&[u8]], max_raw: usize) -> Result<Chunk, ChunkError> {
    let [name, next, crc, rawlen, packed] = args else {
        return Err(ChunkError::Malformed);
    };
    if *name != b"CHUNK" {
        return Err(ChunkError::Malformed);
    }
    let (next, crc, rawlen) = (num(next)?, num(crc)?, num(rawlen)? as usize);
    if CRC32C.checksum(packed) as u64 != crc {
        return Err(ChunkError::Checksum);
    }
    if rawlen > max_raw {
        return Err(ChunkError::TooLarge(rawlen));
    }
    let effects = lz4_flex::block::decompress(packed, rawlen)
        .map_err(|e| ChunkError::Compression(e.to_string()))?;
    if effects.len() != rawlen {
        return Err(ChunkError::Malformed);
    }
    Ok(Chunk { next, effects })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::request::Parsed;
    use crate::resp::RequestParser;
    use crate::store::{Ttl, Value};

    fn frames(buf: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut p = RequestParser::new();
        let mut at = 0;
        let mut out = Vec::new();
        while at < buf.len() {
            let Parsed::Request { consumed } = p.parse(&buf[at..], &effect::LIMITS).unwrap() else {
                panic!("incomplete")
            };
            out.push(p.args(&buf[at..]).iter().map(|a| a.to_vec()).collect());
            at += consumed;
        }
        out
    }

    #[test]
    fn a_keyspace_round_trips_through_chunks() {
        let db = Db::new(4);
        for i in 0..5000 {
            let k = format!("key:{i}");
            db.lock(k.as_bytes())
                .set(k.as_bytes(), Value::Str(&[b'x'; 100]), Ttl::Clear, 0);
        }
        let copy = Db::new(16);
        let (mut cursor, mut chunks) = (0, 0);
        loop {
            let (raw, next) = read(&db, cursor);
            let mut wire = Vec::new();
            encode(next, &raw, &mut wire);
            assert!(wire.len() < raw.len(), "repetitive values compress");
            for f in frames(&wire) {
                let args: Vec<&[u8]> = f.iter().map(|a| a.as_slice()).collect();
                let chunk = decode(&args, 1 << 24).unwrap();
                assert_eq!(chunk.next, next);
                effect::apply_stream(&copy, &chunk.effects).unwrap();
            }
            chunks += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(chunks > 1, "5000 keys of 100 bytes need several chunks");
        assert_eq!(copy.len(), 5000);
    }

    #[test]
    fn corruption_and_lies_are_detected() {
        let mut wire = Vec::new();
        encode(7, b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n", &mut wire);
        let f = &frames(&wire)[0];
        let mut args: Vec<Vec<u8>> = f.clone();
        let last = args[4].len() - 1;
        args[4][last] ^= 0x40;
        let view: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        assert_eq!(decode(&view, 1 << 20), Err(ChunkError::Checksum));
        let view: Vec<&[u8]> = f.iter().map(|a| a.as_slice()).collect();
        assert_eq!(decode(&view, 4), Err(ChunkError::TooLarge(20)));
        assert_eq!(decode(&view[..4], 1 << 20), Err(ChunkError::Malformed));
        assert!(decode(&view, 1 << 20).is_ok());
    }
}
