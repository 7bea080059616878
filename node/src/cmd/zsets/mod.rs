//! Sorted set commands.

pub mod zadd;
pub mod zpop;
pub mod zrandmember;
pub mod zrange;
pub mod zrem;
pub mod zscan;
pub mod zscore;
pub mod zsetops;

use crate::cmd::flags::*;
// `c!`'s numkeys form names `NumKeys` unqualified, so it must be in scope here.
use crate::cmd::table::{c, CommandSpec};
use crate::cmd::CmdError;
use crate::resp::Reply;
use crate::store::{EntryMut, Kind, Obj, Shard, Ttl, Value, ValueRef, ZSetObj};

pub use zadd::{zadd, zincrby};
pub use zpop::{zmpop, zpopmax, zpopmin};
pub use zrandmember::zrandmember;
pub use zrange::{
    zrange, zrangebylex, zrangebyscore, zrangestore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
pub use zrem::{zrem, zremrangebylex, zremrangebyrank, zremrangebyscore};
pub use zscan::zscan;
pub use zscore::{zcard, zcount, zlexcount, zmscore, zrank, zrevrank, zscore};
pub use zsetops::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};

/// The sorted set at `key` for reading: None when missing, WRONGTYPE when not one.
pub fn read<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s ZSetObj>, CmdError> {
    match shard.get(key, now) {
        None => Ok(None),
        Some(e) => match e.value() {
            ValueRef::ZSet(z) => Ok(Some(z)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// Whether `key` holds a sorted set (false when missing, WRONGTYPE when it
/// holds something else), without counting as an access.
pub fn exists(shard: &mut Shard, key: &[u8], now: u64) -> Result<bool, CmdError> {
    match shard.peek(key, now) {
        None => Ok(false),
        Some(e) if e.kind() != Kind::ZSet => Err(CmdError::WrongType),
        Some(_) => Ok(true),
    }
}

/// The sorted set at `key` for writing, when it exists (WRONGTYPE when not one).
pub fn open_existing<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<EntryMut<'s>>, CmdError> {
    if !exists(shard, key, now)? {
        return Ok(None);
    }
    Ok(shard.get_mut(key, now))
}

/// The sorted set inside an entry opened with [`open_existing`].
pub fn zset<'e>(e: &'e mut EntryMut<'_>) -> &'e mut ZSetObj {
    e.entry_mut()
        .zset_mut()
        .expect("open_existing() only returns sorted sets")
}

/// Deletes the key when its set became empty (Redis never keeps empty keys).
pub fn settle(mut e: EntryMut<'_>) {
    if zset(&mut e).is_empty() {
        e.delete();
    }
}

/// Writes a *STORE result: the destination is overwritten whatever its type,
/// or deleted when the result is empty; replies with the result's size.
pub fn store(shard: &mut Shard, out: &mut Reply, dst: &[u8], z: ZSetObj, now: u64) {
    let n = z.len();
    if n == 0 {
        shard.remove(dst, now);
    } else {
        shard.set(dst, Value::Obj(Obj::ZSet(z)), Ttl::Clear, now);
    }
    out.int(n as i64);
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What C's `strtod` reads from the start of `s`: the value, the bytes used
/// (0 when nothing converts), and whether the value is out of range (an
/// overflow, or an underflow to zero).
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts =
        |w: &str| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w.as_bytes());
    if starts("infinity") {
        return (sign(f64::INFINITY), i + 8, false);
    }
    if starts("inf") {
        return (sign(f64::INFINITY), i + 3, false);
    }
    if starts("nan") {
        let mut j = i + 3;
        if j < s.len() && s[j] == b'(' {
            let mut k = j + 1;
            while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
                k += 1;
            }
            if k < s.len() && s[k] == b')' {
                j = k + 1;
            }
        }
        return (f64::NAN, j, false);
    }
    let hex_digit = |c: u8| (c as char).to_digit(16);
    if starts("0x")
        && (rest.get(2).is_some_and(|&c| hex_digit(c).is_some())
            || (rest.get(2) == Some(&b'.') && rest.get(3).is_some_and(|&c| hex_digit(c).is_some())))
    {
        let mut j = i + 2;
        let mut mant = 0f64;
        let mut exp: i64 = 0;
        let mut nonzero = false;
        let mut seen_dot = false;
        while j < s.len() {
            if let Some(d) = hex_digit(s[j]) {
                mant = mant * 16.0 + f64::from(d);
                nonzero |= d != 0;
                if seen_dot {
                    exp -= 4;
                }
            } else if s[j] == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            j += 1;
        }
        if j < s.len() && (s[j] == b'p' || s[j] == b'P') {
            let mut k = j + 1;
            let mut eneg = false;
            if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
                eneg = s[k] == b'-';
                k += 1;
            }
            if k < s.len() && s[k].is_ascii_digit() {
                let mut e: i64 = 0;
                while k < s.len() && s[k].is_ascii_digit() {
                    e = (e * 10 + i64::from(s[k] - b'0')).min(100_000);
                    k += 1;
                }
                exp += if eneg { -e } else { e };
                j = k;
            }
        }
        let v = mant * 2f64.powi(exp.clamp(-100_000, 100_000) as i32);
        let range = v.is_infinite() || (v == 0.0 && nonzero);
        return (sign(v), j, range);
    }
    // Decimal: digits [. digits] [e [sign] digits].
    let mut j = i;
    let mut digits = 0;
    let mut nonzero = false;
    while j < s.len() && s[j].is_ascii_digit() {
        nonzero |= s[j] != b'0';
        j += 1;
        digits += 1;
    }
    if j < s.len() && s[j] == b'.' {
        j += 1;
        while j < s.len() && s[j].is_ascii_digit() {
            nonzero |= s[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < s.len() && (s[j] == b'e' || s[j] == b'E') {
        let mut k = j + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[i..j]).expect("ascii");
    let v: f64 = text.parse().unwrap_or(0.0);
    let range = v.is_infinite() || (v == 0.0 && nonzero);
    (sign(v), j, range)
}

/// A score argument as Redis' `getDoubleFromObject` reads it: the whole text
/// a number, no leading space, no NaN, no overflow (an explicit inf is fine).
pub fn parse_score(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_space(s[0]) {
        return None;
    }
    let (v, used, range) = strtod(s);
    (used == s.len() && !v.is_nan() && !range).then_some(v)
}

pub fn score_arg(s: &[u8]) -> Result<f64, CmdError> {
    parse_score(s).ok_or(CmdError::NotFloat)
}

/// One end of a score range, as `zslParseRange` reads it: `(` for an
/// exclusive bound, then whatever `strtod` reads up to the end of the text.
fn parse_bound(s: &[u8]) -> Option<(f64, bool)> {
    let (ex, s) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let (v, used, _) = strtod(s);
    // An empty text converts nothing and ends at once: strtod gives 0.
    let used = if used == 0 && !s.is_empty() { 0 } else { used };
    (used == s.len() && !v.is_nan()).then_some((v, ex))
}

#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bad = || CmdError::err("min or max is not a float");
        let (min, minex) = parse_bound(min).ok_or_else(bad)?;
        let (max, maxex) = parse_bound(max).ok_or_else(bad)?;
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn below_min(&self, v: f64) -> bool {
        if self.minex {
            v <= self.min
        } else {
            v < self.min
        }
    }

    fn within_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// The ranks `start..end` of the members in range.
    pub fn ranks(&self, z: &ZSetObj) -> (usize, usize) {
        let start = z.partition_point(|s, _| self.below_min(s));
        let end = z.partition_point(|s, _| self.within_max(s));
        (start, end.max(start))
    }
}

#[derive(Clone, Debug)]
enum Lex {
    Lowest,
    Highest,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct LexRange {
    min: Lex,
    max: Lex,
}

fn parse_lex(s: &[u8]) -> Option<Lex> {
    match s.first()? {
        b'+' if s.len() == 1 => Some(Lex::Highest),
        b'-' if s.len() == 1 => Some(Lex::Lowest),
        b'(' => Some(Lex::Excl(s[1..].to_vec())),
        b'[' => Some(Lex::Incl(s[1..].to_vec())),
        _ => None,
    }
}

impl LexRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        let bad = || CmdError::err("min or max not valid string range item");
        Ok(LexRange {
            min: parse_lex(min).ok_or_else(bad)?,
            max: parse_lex(max).ok_or_else(bad)?,
        })
    }

    fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::Lowest => false,
            Lex::Highest => true,
            Lex::Incl(x) => m < &x[..],
            Lex::Excl(x) => m <= &x[..],
        }
    }

    fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::Lowest => false,
            Lex::Highest => true,
            Lex::Incl(x) => m <= &x[..],
            Lex::Excl(x) => m < &x[..],
        }
    }

    /// Redis' `sdscmplex` of the two bounds, with `-`/`+` as sentinels.
    fn bounds_cmp(&self) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        let text = |b: &Lex| match b {
            Lex::Incl(x) | Lex::Excl(x) => Some(x.clone()),
            _ => None,
        };
        match (&self.min, &self.max) {
            (Lex::Lowest, Lex::Lowest) | (Lex::Highest, Lex::Highest) => Equal,
            (Lex::Lowest, _) | (_, Lex::Highest) => Less,
            (Lex::Highest, _) | (_, Lex::Lowest) => Greater,
            _ => text(&self.min).cmp(&text(&self.max)),
        }
    }

    fn exclusive(b: &Lex) -> bool {
        // `-` and `+` count as exclusive bounds in Redis.
        !matches!(b, Lex::Incl(_))
    }

    /// The ranks `start..end` of the members in range, walked forwards (or
    /// backwards when `rev`, which matters only for sets whose members do not
    /// all share one score). Follows Redis' `zslIsInLexRange` checks, then for
    /// a listpack its linear walk (`zzlFirstInLexRange`/`zzlLastInLexRange`),
    /// so even mixed-score sets answer as Redis does in that encoding.
    pub fn ranks(&self, z: &ZSetObj, rev: bool) -> (usize, usize) {
        let n = z.len();
        let c = self.bounds_cmp();
        if n == 0
            || c == std::cmp::Ordering::Greater
            || (c == std::cmp::Ordering::Equal
                && (Self::exclusive(&self.min) || Self::exclusive(&self.max)))
        {
            return (0, 0);
        }
        let member = |i: usize| z.get(i).expect("rank in range").0;
        if self.below_min(member(n - 1)) || !self.within_max(member(0)) {
            return (0, 0);
        }
        if z.encoding() != "listpack" {
            let start = z.partition_point(|_, m| self.below_min(m));
            let end = z.partition_point(|_, m| self.within_max(m));
            return (start, end.max(start));
        }
        let items: Vec<&[u8]> = z.iter().map(|(m, _)| m).collect();
        if rev {
            let Some(last) = items.iter().rposition(|m| self.within_max(m)) else {
                return (0, 0);
            };
            if self.below_min(items[last]) {
                return (0, 0);
            }
            let mut start = last;
            while start > 0 && !self.below_min(items[start - 1]) {
                start -= 1;
            }
            (start, last + 1)
        } else {
            let Some(first) = items.iter().position(|m| !self.below_min(m)) else {
                return (0, 0);
            };
            if !self.within_max(items[first]) {
                return (0, 0);
            }
            let mut end = first;
            while end < n && self.within_max(items[end]) {
                end += 1;
            }
            (first, end)
        }
    }
}

/// Redis' rank-range sanitising (ZRANGE, ZREMRANGEBYRANK): the ranks
/// `start..end` that `start stop` name in a set of `len` members.
pub fn rank_range(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let llen = len as i64;
    let mut start = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let mut end = if stop < 0 {
        llen.saturating_add(stop)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return (0, 0);
    }
    if end >= llen {
        end = llen - 1;
    }
    (start as usize, end as usize + 1)
}

/// Writes members (and scores) as ZRANGE replies them: a flat array in RESP2,
/// [member, score] pairs in RESP3.
pub fn reply_items<'a>(
    out: &mut Reply,
    n: usize,
    withscores: bool,
    items: impl Iterator<Item = (&'a [u8], f64)>,
) {
    let resp3 = out.resp3();
    out.array(if withscores && !resp3 { n * 2 } else { n });
    for (m, s) in items {
        if withscores && resp3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.score(s);
        }
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    c!("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "write sortedset fast", "sorted-set", "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", zadd),
    c!("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "write sortedset fast", "sorted-set", "1.2.0", "Increment the score of a member in a sorted set", zincrby),
    c!("zrem", -3, WRITE | FAST, (1, 1, 1), "write sortedset fast", "sorted-set", "1.2.0", "Remove one or more members from a sorted set", zrem),
    c!("zcard", 2, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "1.2.0", "Get the number of members in a sorted set", zcard),
    c!("zcount", 4, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "2.0.0", "Count the members in a sorted set with scores within the given values", zcount),
    c!("zscore", 3, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "1.2.0", "Get the score associated with the given member in a sorted set", zscore),
    c!("zmscore", -3, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "6.2.0", "Get the score associated with the given members in a sorted set", zmscore),
    c!("zrank", 3, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "2.0.0", "Determine the index of a member in a sorted set", zrank),
    c!("zrevrank", 3, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", zrevrank),
    c!("zrange", -4, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "1.2.0", "Return a range of members in a sorted set", zrange),
    c!("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), "write sortedset slow", "sorted-set", "6.2.0", "Store a range of members from sorted set into another key", zrangestore),
    c!("zrevrange", -4, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", zrevrange),
    c!("zrangebyscore", -4, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "1.0.5", "Return a range of members in a sorted set, by score", zrangebyscore),
    c!("zrevrangebyscore", -4, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", zrevrangebyscore),
    c!("zrangebylex", -4, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range", zrangebylex),
    c!("zrevrangebylex", -4, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", zrevrangebylex),
    c!("zlexcount", 4, READONLY | FAST, (1, 1, 1), "read sortedset fast", "sorted-set", "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", zlexcount),
    c!("zpopmin", -2, WRITE | FAST, (1, 1, 1), "write sortedset fast", "sorted-set", "5.0.0", "Remove and return members with the lowest scores in a sorted set", zpopmin),
    c!("zpopmax", -2, WRITE | FAST, (1, 1, 1), "write sortedset fast", "sorted-set", "5.0.0", "Remove and return members with the highest scores in a sorted set", zpopmax),
    c!("zmpop", -4, WRITE | MOVABLEKEYS, (0, 0, 0), numkeys 1, "write sortedset slow", "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set", zmpop),
    c!("zremrangebyrank", 4, WRITE, (1, 1, 1), "write sortedset slow", "sorted-set", "2.0.0", "Remove all members in a sorted set within the given indexes", zremrangebyrank),
    c!("zremrangebyscore", 4, WRITE, (1, 1, 1), "write sortedset slow", "sorted-set", "1.2.0", "Remove all members in a sorted set within the given scores", zremrangebyscore),
    c!("zremrangebylex", 4, WRITE, (1, 1, 1), "write sortedset slow", "sorted-set", "2.8.9", "Remove all members in a sorted set between the given lexicographical range", zremrangebylex),
    c!("zunion", -3, READONLY | MOVABLEKEYS, (0, 0, 0), numkeys 1, "read sortedset slow", "sorted-set", "6.2.0", "Add multiple sorted sets", zunion),
    c!("zinter", -3, READONLY | MOVABLEKEYS, (0, 0, 0), numkeys 1, "read sortedset slow", "sorted-set", "6.2.0", "Intersect multiple sorted sets", zinter),
    c!("zdiff", -3, READONLY | MOVABLEKEYS, (0, 0, 0), numkeys 1, "read sortedset slow", "sorted-set", "6.2.0", "Subtract multiple sorted sets", zdiff),
    c!("zunionstore", -4, WRITE | DENYOOM | MOVABLEKEYS, (1, 1, 1), numkeys 2, "write sortedset slow", "sorted-set", "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", zunionstore),
    c!("zinterstore", -4, WRITE | DENYOOM | MOVABLEKEYS, (1, 1, 1), numkeys 2, "write sortedset slow", "sorted-set", "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", zinterstore),
    c!("zdiffstore", -4, WRITE | DENYOOM | MOVABLEKEYS, (1, 1, 1), numkeys 2, "write sortedset slow", "sorted-set", "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", zdiffstore),
    c!("zintercard", -3, READONLY | MOVABLEKEYS, (0, 0, 0), numkeys 1, "read sortedset slow", "sorted-set", "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", zintercard),
    c!("zrandmember", -2, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "6.2.0", "Get one or multiple random elements from a sorted set", zrandmember),
    c!("zscan", -3, READONLY, (1, 1, 1), "read sortedset slow", "sorted-set", "2.8.0", "Incrementally iterate sorted sets elements and associated scores", zscan),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_parsing_follows_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"1e"), None);
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_bound(b""), Some((0.0, false)));
        assert_eq!(parse_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_bound(b"  "), None);
        assert_eq!(parse_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_bound(b"(nan"), None);
    }
}
