//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

/// The dynamic-programming table and its dimensions.
struct Table {
    dp: Vec<u32>,
    cols: usize,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Table {
        let cols = b.len() + 1;
        let mut dp = vec![0u32; (a.len() + 1) * cols];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                dp[i * cols + j] = if a[i - 1] == b[j - 1] {
                    dp[(i - 1) * cols + j - 1] + 1
                } else {
                    dp[(i - 1) * cols + j].max(dp[i * cols + j - 1])
                };
            }
        }
        Table { dp, cols }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.dp[i * self.cols + j]
    }
}

/// A matched range in both strings, inclusive, as Redis reports it.
#[derive(Debug, PartialEq, Eq)]
pub struct Match {
    pub a: (usize, usize),
    pub b: (usize, usize),
}

/// The LCS string and its matching ranges (from the end of the strings backwards,
/// the order Redis emits), following Redis' backtracking so ties resolve alike.
pub fn lcs(a: &[u8], b: &[u8], min_len: usize) -> (Vec<u8>, Vec<Match>) {
    let t = Table::build(a, b);
    let total = t.at(a.len(), b.len()) as usize;
    let mut out = vec![0u8; total];
    let mut matches = Vec::new();
    let (mut i, mut j, mut idx) = (a.len(), b.len(), total);
    let mut range: Option<Match> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            out[idx - 1] = a[i - 1];
            match &mut range {
                None => {
                    range = Some(Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                Some(r) if r.a.0 == i && r.b.0 == j => {
                    r.a.0 -= 1;
                    r.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if range.as_ref().is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = range.take() {
                if r.a.1 - r.a.0 + 1 >= min_len {
                    matches.push(r);
                }
            }
        }
    }
    (out, matches)
}

pub fn lcs_cmd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (ka, kb) = (args.get(1), args.get(2));
    let (a, b) = {
        let mut read = |k: &[u8]| -> Result<Vec<u8>, CmdError> {
            match ctx.keys.shard(k).get(k, ctx.now) {
                None => Ok(Vec::new()),
                Some(e) => e
                    .as_str()
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| CmdError::err("The specified keys must contain string values")),
            }
        };
        (read(ka)?, read(kb)?)
    };
    let (mut idx, mut len, mut withlen, mut min_len) = (false, false, false, 0i64);
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        if is(opt, "idx") {
            idx = true;
        } else if is(opt, "len") {
            len = true;
        } else if is(opt, "withmatchlen") {
            withlen = true;
        } else if is(opt, "minmatchlen") && j + 1 < args.len() {
            min_len = int_arg(args.get(j + 1))?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if idx && len {
        return Err(CmdError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    // The table is transient memory the client controls; bound it like an argument.
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.settings.proto_max_bulk_len {
        return Err(CmdError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let (common, matches) = lcs(&a, &b, min_len as usize);
    if idx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(matches.len());
        for m in &matches {
            ctx.out.array(if withlen { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.int(m.a.0 as i64);
            ctx.out.int(m.a.1 as i64);
            ctx.out.array(2);
            ctx.out.int(m.b.0 as i64);
            ctx.out.int(m.b.1 as i64);
            if withlen {
                ctx.out.int((m.a.1 - m.a.0 + 1) as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(common.len() as i64);
    } else if len {
        ctx.out.int(common.len() as i64);
    } else {
        ctx.out.bulk(&common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example() {
        // From the LCS documentation: ohmytext / mynewtext.
        let (s, m) = lcs(b"ohmytext", b"mynewtext", 0);
        assert_eq!(s, b"mytext");
        assert_eq!(
            m,
            vec![
                Match {
                    a: (4, 7),
                    b: (5, 8)
                },
                Match {
                    a: (2, 3),
                    b: (0, 1)
                }
            ]
        );
        let (_, m) = lcs(b"ohmytext", b"mynewtext", 4);
        assert_eq!(m.len(), 1);
    }
}
