//! Values in Redis' RDB object format, for DUMP and RESTORE (and so MIGRATE
//! and `redis-cli --cluster import` between Shoal and Redis).
//!
//! DUMP writes the plain encodings every Redis since 2.x loads: strings, lists
//! (type 1), sets (2), sorted sets with binary scores (5) and hashes (4),
//! followed by the RDB version (10, Redis 7.0) and a CRC-64 (Jones, as Redis).
//! RESTORE also reads what Redis 7 itself dumps: integer and LZF-compressed
//! strings, quicklists of listpacks or ziplists, intsets, listpacks and
//! ziplists of hashes and sorted sets. Every length is checked against the
//! bytes left, so a hostile payload fails with an error, never a panic or a
//! huge allocation.

use super::{HashObj, ListObj, Obj, SetObj, ValueRef, ZSetObj};

/// The RDB version DUMP writes and the newest RESTORE accepts (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_HASH_ZIPLIST: u8 = 13;
const T_LIST_QUICKLIST: u8 = 14;
const T_SET_INTSET: u8 = 11;
const T_ZSET_ZIPLIST: u8 = 12;
const T_LIST_ZIPLIST: u8 = 10;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;
const T_SET_LISTPACK: u8 = 20;

const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    #[error("DUMP payload version or checksum are wrong")]
    Checksum,
    #[error("Bad data format")]
    Format,
}

/// A restored value.
pub enum Restored {
    Str(Vec<u8>),
    Obj(Obj),
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// DUMP's payload for a value.
pub fn dump(value: ValueRef<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        ValueRef::Str(s) => {
            out.push(T_STRING);
            put_str(&mut out, s);
        }
        ValueRef::List(l) => {
            out.push(T_LIST);
            put_len(&mut out, l.len());
            for v in l.iter() {
                put_str(&mut out, v);
            }
        }
        ValueRef::Set(s) => {
            out.push(T_SET);
            put_len(&mut out, s.len());
            for m in s.iter() {
                put_str(&mut out, m);
            }
        }
        ValueRef::ZSet(z) => {
            out.push(T_ZSET_2);
            put_len(&mut out, z.len());
            for (m, score) in z.iter() {
                put_str(&mut out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        ValueRef::Hash(h) => {
            out.push(T_HASH);
            put_len(&mut out, h.len());
            for (f, v) in h.iter() {
                put_str(&mut out, f);
                put_str(&mut out, v);
            }
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a payload's footer (Redis' `verifyDumpPayload`), returning the
/// object bytes before it.
pub fn verify(payload: &[u8]) -> Result<&[u8], RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::Checksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(RdbError::Checksum);
    }
    let crc = CRC.checksum(&payload[..payload.len() - 8]);
    if crc.to_le_bytes() != footer[2..10] {
        return Err(RdbError::Checksum);
    }
    Ok(body)
}

/// Decodes a verified payload's object.
pub fn restore(body: &[u8]) -> Result<Restored, RdbError> {
    let mut r = Reader { buf: body, at: 0 };
    let t = r.byte()?;
    let v = match t {
        T_STRING => Restored::Str(r.string()?),
        T_LIST => {
            let n = r.count()?;
            let mut l = ListObj::new();
            for _ in 0..n {
                l.push_back(&r.string()?);
            }
            Restored::Obj(Obj::List(l))
        }
        T_SET => {
            let n = r.count()?;
            let mut s = SetObj::new();
            for _ in 0..n {
                s.insert(&r.string()?);
            }
            Restored::Obj(Obj::Set(s))
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.count()?;
            let mut z = ZSetObj::new();
            for _ in 0..n {
                let m = r.string()?;
                let score = if t == T_ZSET_2 {
                    f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| RdbError::Format)?)
                } else {
                    r.text_double()?
                };
                if score.is_nan() {
                    return Err(RdbError::Format);
                }
                z.insert(&m, score);
            }
            Restored::Obj(Obj::ZSet(z))
        }
        T_HASH => {
            let n = r.count()?;
            let mut h = HashObj::new();
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                h.set(&f, &v);
            }
            Restored::Obj(Obj::Hash(h))
        }
        T_SET_INTSET => {
            let blob = r.string()?;
            let mut s = SetObj::new();
            for v in intset(&blob)? {
                s.insert(v.to_string().as_bytes());
            }
            Restored::Obj(Obj::Set(s))
        }
        T_SET_LISTPACK => {
            let mut s = SetObj::new();
            for v in listpack(&r.string()?)? {
                s.insert(&v);
            }
            Restored::Obj(Obj::Set(s))
        }
        T_LIST_ZIPLIST => {
            let mut l = ListObj::new();
            for v in ziplist(&r.string()?)? {
                l.push_back(&v);
            }
            Restored::Obj(Obj::List(l))
        }
        T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
            let nodes = r.count()?;
            let mut l = ListObj::new();
            for _ in 0..nodes {
                // Quicklist 2 nodes say whether they hold one plain element.
                let container = if t == T_LIST_QUICKLIST_2 { r.len()? } else { 2 };
                let blob = r.string()?;
                match container {
                    1 => l.push_back(&blob),
                    2 if t == T_LIST_QUICKLIST_2 => {
                        for v in listpack(&blob)? {
                            l.push_back(&v);
                        }
                    }
                    2 => {
                        for v in ziplist(&blob)? {
                            l.push_back(&v);
                        }
                    }
                    _ => return Err(RdbError::Format),
                }
            }
            Restored::Obj(Obj::List(l))
        }
        T_HASH_ZIPLIST | T_HASH_LISTPACK => {
            let blob = r.string()?;
            let items = if t == T_HASH_LISTPACK {
                listpack(&blob)?
            } else {
                ziplist(&blob)?
            };
            if items.len() % 2 != 0 {
                return Err(RdbError::Format);
            }
            let mut h = HashObj::new();
            for pair in items.chunks(2) {
                h.set(&pair[0], &pair[1]);
            }
            Restored::Obj(Obj::Hash(h))
        }
        T_ZSET_ZIPLIST | T_ZSET_LISTPACK => {
            let blob = r.string()?;
            let items = if t == T_ZSET_LISTPACK {
                listpack(&blob)?
            } else {
                ziplist(&blob)?
            };
            if items.len() % 2 != 0 {
                return Err(RdbError::Format);
            }
            let mut z = ZSetObj::new();
            for pair in items.chunks(2) {
                let score = crate::util::num::parse_f64(&pair[1])
                    .filter(|s| !s.is_nan())
                    .ok_or(RdbError::Format)?;
                z.insert(&pair[0], score);
            }
            Restored::Obj(Obj::ZSet(z))
        }
        _ => return Err(RdbError::Format),
    };
    if r.at != body.len() {
        return Err(RdbError::Format);
    }
    if let Restored::Obj(o) = &v {
        if obj_is_empty(o) {
            return Err(RdbError::Format);
        }
    }
    Ok(v)
}

fn obj_is_empty(o: &Obj) -> bool {
    match o {
        Obj::Str(_) => false,
        Obj::List(l) => l.is_empty(),
        Obj::Set(s) => s.is_empty(),
        Obj::ZSet(z) => z.is_empty(),
        Obj::Hash(h) => h.is_empty(),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, RdbError> {
        let b = *self.buf.get(self.at).ok_or(RdbError::Format)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self.at.checked_add(n).ok_or(RdbError::Format)?;
        let s = self.buf.get(self.at..end).ok_or(RdbError::Format)?;
        self.at = end;
        Ok(s)
    }

    /// A length, or the special encoding of a string (Err for those here).
    fn len_or_enc(&mut self) -> Result<(usize, Option<u8>), RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3F) as usize, None),
            1 => ((((b & 0x3F) as usize) << 8) | self.byte()? as usize, None),
            2 => match b {
                0x80 => (
                    u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| RdbError::Format)?)
                        as usize,
                    None,
                ),
                0x81 => {
                    let n =
                        u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| RdbError::Format)?);
                    (usize::try_from(n).map_err(|_| RdbError::Format)?, None)
                }
                _ => return Err(RdbError::Format),
            },
            _ => (0, Some(b & 0x3F)),
        })
    }

    fn len(&mut self) -> Result<usize, RdbError> {
        match self.len_or_enc()? {
            (n, None) => Ok(n),
            _ => Err(RdbError::Format),
        }
    }

    /// An element count: each element takes at least a byte, so a count
    /// beyond the bytes left is a lie (and must not size an allocation).
    fn count(&mut self) -> Result<usize, RdbError> {
        let n = self.len()?;
        if n == 0 || n > self.buf.len() - self.at {
            return Err(RdbError::Format);
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_enc()? {
            (n, None) => Ok(self.take(n)?.to_vec()),
            (_, Some(0)) => Ok((self.byte()? as i8).to_string().into_bytes()),
            (_, Some(1)) => {
                let v = i16::from_le_bytes(self.take(2)?.try_into().map_err(|_| RdbError::Format)?);
                Ok(v.to_string().into_bytes())
            }
            (_, Some(2)) => {
                let v = i32::from_le_bytes(self.take(4)?.try_into().map_err(|_| RdbError::Format)?);
                Ok(v.to_string().into_bytes())
            }
            (_, Some(3)) => {
                let clen = self.len()?;
                let ulen = self.len()?;
                let data = self.take(clen)?;
                lzf_decompress(data, ulen)
            }
            _ => Err(RdbError::Format),
        }
    }

    /// A score of the old ZSET type: a length byte then its text (253 nan,
    /// 254 +inf, 255 -inf).
    fn text_double(&mut self) -> Result<f64, RdbError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let t = self.take(n as usize)?;
                crate::util::num::parse_f64(t).ok_or(RdbError::Format)
            }
        }
    }
}

/// LZF decompression (the format Redis compresses strings with). Written here:
/// twenty lines with every copy bounds-checked against the stated length.
fn lzf_decompress(data: &[u8], ulen: usize) -> Result<Vec<u8>, RdbError> {
    if ulen > data.len().saturating_mul(256) {
        return Err(RdbError::Format);
    }
    let mut out: Vec<u8> = Vec::with_capacity(ulen);
    let mut i = 0;
    while i < data.len() {
        let ctrl = data[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = data.get(i..i + n).ok_or(RdbError::Format)?;
            if out.len() + n > ulen {
                return Err(RdbError::Format);
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *data.get(i).ok_or(RdbError::Format)? as usize;
                i += 1;
            }
            n += 2;
            let back = ((ctrl & 0x1F) << 8) + *data.get(i).ok_or(RdbError::Format)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + n > ulen {
                return Err(RdbError::Format);
            }
            let from = out.len() - back;
            for k in 0..n {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    if out.len() != ulen {
        return Err(RdbError::Format);
    }
    Ok(out)
}

/// An intset blob: encoding (2, 4 or 8 bytes), count, then the integers.
fn intset(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    if blob.len() < 8 {
        return Err(RdbError::Format);
    }
    let width = u32::from_le_bytes(blob[0..4].try_into().map_err(|_| RdbError::Format)?) as usize;
    let n = u32::from_le_bytes(blob[4..8].try_into().map_err(|_| RdbError::Format)?) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + width * n || n == 0 {
        return Err(RdbError::Format);
    }
    Ok(blob[8..]
        .chunks(width)
        .map(|c| match width {
            2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
            4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            _ => i64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
        })
        .collect())
}

/// A listpack's elements as strings (integers in decimal, as Redis reads them).
fn listpack(lp: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    if lp.len() < 7
        || u32::from_le_bytes(lp[0..4].try_into().map_err(|_| RdbError::Format)?) as usize
            != lp.len()
    {
        return Err(RdbError::Format);
    }
    let mut out = Vec::new();
    let mut i = 6;
    loop {
        let b = *lp.get(i).ok_or(RdbError::Format)?;
        if b == 0xFF {
            break;
        }
        let get = |from: usize, n: usize| lp.get(from..from + n).ok_or(RdbError::Format);
        let (value, header, len): (Vec<u8>, usize, usize) = if b & 0x80 == 0 {
            ((b & 0x7F).to_string().into_bytes(), 1, 0)
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3F) as usize;
            (get(i + 1, n)?.to_vec(), 1, n)
        } else if b & 0xE0 == 0xC0 {
            let raw = (((b & 0x1F) as u16) << 8) | *lp.get(i + 1).ok_or(RdbError::Format)? as u16;
            let v = ((raw << 3) as i16) >> 3;
            (v.to_string().into_bytes(), 2, 0)
        } else if b & 0xF0 == 0xE0 {
            let n = (((b & 0x0F) as usize) << 8) | *lp.get(i + 1).ok_or(RdbError::Format)? as usize;
            (get(i + 2, n)?.to_vec(), 2, n)
        } else {
            match b {
                0xF0 => {
                    let n = u32::from_le_bytes(
                        get(i + 1, 4)?.try_into().map_err(|_| RdbError::Format)?,
                    ) as usize;
                    (get(i + 5, n)?.to_vec(), 5, n)
                }
                0xF1 => (
                    i16::from_le_bytes(get(i + 1, 2)?.try_into().map_err(|_| RdbError::Format)?)
                        .to_string()
                        .into_bytes(),
                    3,
                    0,
                ),
                0xF2 => {
                    let c = get(i + 1, 3)?;
                    let v = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                    (v.to_string().into_bytes(), 4, 0)
                }
                0xF3 => (
                    i32::from_le_bytes(get(i + 1, 4)?.try_into().map_err(|_| RdbError::Format)?)
                        .to_string()
                        .into_bytes(),
                    5,
                    0,
                ),
                0xF4 => (
                    i64::from_le_bytes(get(i + 1, 8)?.try_into().map_err(|_| RdbError::Format)?)
                        .to_string()
                        .into_bytes(),
                    9,
                    0,
                ),
                _ => return Err(RdbError::Format),
            }
        };
        // The entry's total length is stored after it in 1..5 bytes.
        let entry = header + len;
        let backlen = match entry {
            0..=127 => 1,
            128..=16383 => 2,
            16384..=2097151 => 3,
            2097152..=268435455 => 4,
            _ => 5,
        };
        i += entry + backlen;
        out.push(value);
    }
    Ok(out)
}

/// A ziplist's elements (Redis before 7 dumped small lists, hashes and sorted
/// sets this way).
fn ziplist(zl: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    if zl.len() < 11
        || u32::from_le_bytes(zl[0..4].try_into().map_err(|_| RdbError::Format)?) as usize
            != zl.len()
    {
        return Err(RdbError::Format);
    }
    let mut out = Vec::new();
    let mut i = 10;
    loop {
        let first = *zl.get(i).ok_or(RdbError::Format)?;
        if first == 0xFF {
            break;
        }
        // The previous entry's length: 1 byte, or 0xFE then 4 bytes.
        i += if first == 0xFE { 5 } else { 1 };
        let b = *zl.get(i).ok_or(RdbError::Format)?;
        let get = |from: usize, n: usize| zl.get(from..from + n).ok_or(RdbError::Format);
        let (value, size): (Vec<u8>, usize) = match b >> 6 {
            0 => {
                let n = (b & 0x3F) as usize;
                (get(i + 1, n)?.to_vec(), 1 + n)
            }
            1 => {
                let n =
                    (((b & 0x3F) as usize) << 8) | *zl.get(i + 1).ok_or(RdbError::Format)? as usize;
                (get(i + 2, n)?.to_vec(), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(get(i + 1, 4)?.try_into().map_err(|_| RdbError::Format)?)
                    as usize;
                (get(i + 5, n)?.to_vec(), 5 + n)
            }
            _ => match b {
                0xC0 => (
                    i16::from_le_bytes(get(i + 1, 2)?.try_into().map_err(|_| RdbError::Format)?)
                        .to_string()
                        .into_bytes(),
                    3,
                ),
                0xD0 => (
                    i32::from_le_bytes(get(i + 1, 4)?.try_into().map_err(|_| RdbError::Format)?)
                        .to_string()
                        .into_bytes(),
                    5,
                ),
                0xE0 => (
                    i64::from_le_bytes(get(i + 1, 8)?.try_into().map_err(|_| RdbError::Format)?)
                        .to_string()
                        .into_bytes(),
                    9,
                ),
                0xF0 => {
                    let c = get(i + 1, 3)?;
                    (
                        (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8)
                            .to_string()
                            .into_bytes(),
                        4,
                    )
                }
                0xFE => ((get(i + 1, 1)?[0] as i8).to_string().into_bytes(), 2),
                0xF1..=0xFD => (((b & 0x0F) - 1).to_string().into_bytes(), 1),
                _ => return Err(RdbError::Format),
            },
        };
        i += size;
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: ValueRef<'_>) -> Restored {
        let p = dump(v);
        restore(verify(&p).unwrap()).unwrap()
    }

    #[test]
    fn strings_and_collections_round_trip() {
        match roundtrip(ValueRef::Str(b"hello")) {
            Restored::Str(s) => assert_eq!(s, b"hello"),
            _ => panic!("not a string"),
        }
        let big = vec![b'x'; 70_000];
        match roundtrip(ValueRef::Str(&big)) {
            Restored::Str(s) => assert_eq!(s, big),
            _ => panic!("not a string"),
        }
        let mut z = ZSetObj::new();
        z.insert(b"a", 1.5);
        z.insert(b"b", f64::NEG_INFINITY);
        match roundtrip(ValueRef::ZSet(&z)) {
            Restored::Obj(Obj::ZSet(r)) => {
                assert_eq!(r.len(), 2);
                assert_eq!(r.score(b"b"), Some(f64::NEG_INFINITY));
            }
            _ => panic!("not a zset"),
        }
    }

    #[test]
    fn corrupt_payloads_fail_cleanly() {
        let mut p = dump(ValueRef::Str(b"hello"));
        assert!(verify(&p[..5]).is_err());
        p[2] ^= 1;
        assert_eq!(verify(&p).unwrap_err(), RdbError::Checksum);
        // A list claiming a billion elements in a few bytes.
        let body = [T_LIST, 0x80, 0x40, 0, 0, 0, 1, b'a'];
        assert!(restore(&body).is_err());
        // Every truncation of a valid body fails, none panics.
        let mut l = ListObj::new();
        for i in 0..50 {
            l.push_back(format!("element{i}").as_bytes());
        }
        let full = dump(ValueRef::List(&l));
        let body = &full[..full.len() - 10];
        for cut in 0..body.len() {
            assert!(restore(&body[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reads_redis_7_dumps() {
        // From redis-server 7.0.15: RPUSH l a 1 bbb -5000 123456789012; HSET h f v
        // n 12; ZADD z 1.5 m 2 n; SADD s 1 2 300000; SADD s2 x y; SET str
        // abc×20 (LZF); SET n 12345 (an integer encoding).
        let payloads: &[(&str, &[u8])] = &[
        ("l", b"\x12\x01\x02\x1f\x1f\x00\x00\x00\x05\x00\x81a\x02\x01\x01\x83bbb\x04\xf1x\xec\x03\xf4\x14\x1a\x99\xbe\x1c\x00\x00\x00\x09\xff\x0a\x00\xac\xa1\xab\xfb\x09DK\x19"),
        ("h", b"\x10\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x0c\x01\xff\x0a\x00\x016\x94\x81\xd3[\x89t"),
        ("z", b"\x11\x14\x14\x00\x00\x00\x04\x00\x81m\x02\x831.5\x04\x81n\x02\x02\x01\xff\x0a\x00\xf1\xb0:mX_i8"),
        ("s", b"\x0b\x14\x04\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\xe0\x93\x04\x00\x0a\x00t/3HHlj9"),
        ("s2", b"\x02\x02\x01y\x01x\x0a\x00\x0c\xdfk=\xb30\xbc\xf0"),
        ("str", b"\x00\xc3\x0b<\x03abca\xe0-\x02\x01bc\x0a\x00o`)\xe4\xaf\xd7d\xac"),
        ("n", b"\x00\xc190\x0a\x00\x9d\x94\xea'\x93\xfc\x08\xb9"),
        ];
        let text = |r: Restored| -> Vec<String> {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            match r {
                Restored::Str(v) => vec![s(&v)],
                Restored::Obj(Obj::List(l)) => l.iter().map(s).collect(),
                Restored::Obj(Obj::Hash(h)) => {
                    let mut v: Vec<String> = h
                        .iter()
                        .map(|(f, x)| format!("{}={}", s(f), s(x)))
                        .collect();
                    v.sort();
                    v
                }
                Restored::Obj(Obj::ZSet(z)) => {
                    z.iter().map(|(m, sc)| format!("{}={sc}", s(m))).collect()
                }
                Restored::Obj(Obj::Set(st)) => {
                    let mut v: Vec<String> = st.iter().map(s).collect();
                    v.sort();
                    v
                }
                Restored::Obj(Obj::Str(v)) => vec![s(&v)],
            }
        };
        let want: &[&[&str]] = &[
            &["a", "1", "bbb", "-5000", "123456789012"],
            &["f=v", "n=12"],
            &["m=1.5", "n=2"],
            &["1", "2", "300000"],
            &["x", "y"],
            &[&"abc".repeat(20)],
            &["12345"],
        ];
        for ((name, p), want) in payloads.iter().zip(want) {
            let got = text(restore(verify(p).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}")));
            assert_eq!(got, *want, "{name}");
        }
    }
}
