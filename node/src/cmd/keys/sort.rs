//! SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
//! [ALPHA] [STORE destination], and SORT_RO (no STORE).
//!
//! BY and GET patterns name other keys, known only once the elements are read,
//! so SORT runs holding every shard (its table entry has `ALL_KEYS`); in a
//! cluster Redis refuses such patterns, and so does Shoal.

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{ListObj, Locked, Obj, Ttl, Value, ValueRef};
use std::cmp::Ordering;

struct Options<'a> {
    by: Option<&'a [u8]>,
    gets: Vec<&'a [u8]>,
    start: i64,
    count: i64,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
    dontsort: bool,
}

fn parse<'a>(ctx: &Ctx<'_>, args: Args<'a>, readonly: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        by: None,
        gets: Vec::new(),
        start: 0,
        count: -1,
        desc: false,
        alpha: false,
        store: None,
        dontsort: false,
    };
    let clustered = ctx.shared.cluster.is_some();
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args.get(j);
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.start = int_arg(args.get(j + 1))?;
            o.count = int_arg(args.get(j + 2))?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let p = args.get(j + 1);
            o.by = Some(p);
            if !p.contains(&b'*') {
                o.dontsort = true;
            } else if clustered {
                return Err(CmdError::err("BY option of SORT denied in Cluster mode."));
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if clustered {
                return Err(CmdError::err("GET option of SORT denied in Cluster mode."));
            }
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Redis' `lookupKeyByPattern`: `#` is the element itself; otherwise the first
/// `*` is replaced by it, and a `->field` suffix reads that hash field. A
/// pattern without `*` finds nothing.
fn by_pattern(keys: &mut Locked<'_>, pattern: &[u8], elem: &[u8], now: u64) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (post, field) = match after.windows(2).position(|w| w == b"->") {
        Some(f) if f + 2 < after.len() => (&after[..f], Some(&after[f + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let e = keys.shard(&key).get(&key, now)?;
    match (e.value(), field) {
        (ValueRef::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        (ValueRef::Str(s), None) => Some(s.to_vec()),
        _ => None,
    }
}

/// Redis' strtod check: the whole value is a number, not NaN, within range.
fn score_of(v: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(v).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return if v.is_empty() { Some(0.0) } else { None };
    }
    let f = crate::util::num::parse_f64(t.as_bytes())?;
    // strtod's ERANGE: a finite text that overflows (1e400), not "inf" itself.
    let spelled_inf = t
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    (!f.is_nan() && (f.is_finite() || spelled_inf)).then_some(f)
}

/// Where SORT's STORE destination is, read as Redis' sortGetKeys reads it: the
/// last STORE wins, the arguments of LIMIT, GET and BY are skipped.
pub fn store_key(args: Args<'_>) -> Option<usize> {
    let mut found = None;
    let mut j = 2;
    while j < args.len() {
        let a = args.get(j);
        let skip = if is(a, "limit") {
            2
        } else if is(a, "get") || is(a, "by") {
            1
        } else if is(a, "store") {
            if j + 1 < args.len() {
                found = Some(j + 1);
            }
            0
        } else {
            0
        };
        j += 1 + skip;
    }
    found
}

pub fn sort(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    sort_generic(ctx, args, false)
}

pub fn sort_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx<'_>, args: Args<'_>, readonly: bool) -> Result<(), CmdError> {
    let mut o = parse(ctx, args, readonly)?;
    let key = args.get(1);
    let now = ctx.now;
    // The destination is not in the key table's spec: check its slot here.
    if let (Some(dst), Some(_)) = (o.store, ctx.shared.cluster.as_ref()) {
        crate::cluster::slot::common_slot([key, dst].into_iter())
            .map_err(|e| CmdError::Other(e.to_string()))?;
    }
    // The elements, in the order the type keeps them; None for a missing key.
    let mut kind_set = false;
    let mut ordered = false;
    let mut elems: Vec<Vec<u8>> = match ctx.keys.shard(key).get(key, now).map(|e| e.value()) {
        None => Vec::new(),
        Some(ValueRef::List(l)) => {
            ordered = true;
            l.iter().map(<[u8]>::to_vec).collect()
        }
        Some(ValueRef::Set(s)) => {
            kind_set = true;
            s.iter().map(<[u8]>::to_vec).collect()
        }
        Some(ValueRef::ZSet(z)) => {
            ordered = true;
            z.iter().map(|(m, _)| m.to_vec()).collect()
        }
        Some(_) => return Err(CmdError::WrongType),
    };
    // A set has no order of its own: stored (and replicated) results must not
    // depend on its layout.
    if o.dontsort && kind_set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let start = o.start.clamp(0, len);
    let count = o.count.clamp(-1, len);
    let (mut start, mut end) = (
        start,
        if count < 0 {
            len - 1
        } else {
            start + count - 1
        },
    );
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    if o.dontsort {
        if ordered && o.desc {
            elems.reverse();
        }
    } else {
        sort_elements(ctx, &mut elems, &o, now)?;
    }
    let picked: &[Vec<u8>] = if end >= start && start >= 0 {
        &elems[start as usize..=end as usize]
    } else {
        &[]
    };
    // The output: the elements, or for each the values of the GET patterns.
    let mut output: Vec<Option<Vec<u8>>> = Vec::new();
    for e in picked {
        if o.gets.is_empty() {
            output.push(Some(e.clone()));
        }
        for g in &o.gets {
            output.push(by_pattern(&mut ctx.keys, g, e, now));
        }
    }
    match o.store {
        None => {
            ctx.out.array(output.len());
            for v in &output {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dst) => {
            let n = output.len();
            let shard = ctx.keys.shard(dst);
            if n == 0 {
                shard.remove(dst, now);
            } else {
                let mut l = ListObj::new();
                for v in &output {
                    l.push_back(v.as_deref().unwrap_or(b""));
                }
                shard.set(dst, Value::Obj(Obj::List(l)), Ttl::Clear, now);
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

fn sort_elements(
    ctx: &mut Ctx<'_>,
    elems: &mut Vec<Vec<u8>>,
    o: &Options<'_>,
    now: u64,
) -> Result<(), CmdError> {
    // Each element with what it sorts by: the BY value, else itself.
    let mut keyed: Vec<(Vec<u8>, Option<Vec<u8>>, f64)> = Vec::with_capacity(elems.len());
    let mut bad_score = false;
    for e in elems.drain(..) {
        let by = match o.by {
            Some(p) => by_pattern(&mut ctx.keys, p, &e, now),
            None => Some(e.clone()),
        };
        let mut score = 0.0;
        if !o.alpha {
            if let Some(v) = &by {
                match score_of(v) {
                    Some(s) => score = s,
                    None => bad_score = true,
                }
            }
        }
        keyed.push((e, by, score));
    }
    if bad_score {
        return Err(CmdError::err(
            "One or more scores can't be converted into double",
        ));
    }
    let by_pattern = o.by.is_some();
    let alpha = o.alpha;
    keyed.sort_by(|a, b| {
        let cmp = if !alpha {
            a.2.partial_cmp(&b.2)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        } else if by_pattern {
            // Missing BY values sort first.
            match (&a.1, &b.1) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            }
        } else {
            a.0.cmp(&b.0)
        };
        if o.desc {
            cmp.reverse()
        } else {
            cmp
        }
    });
    elems.extend(keyed.into_iter().map(|(e, _, _)| e));
    Ok(())
}
