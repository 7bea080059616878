//! Request framing: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! commands (`GET k\r\n`, so `nc` and `telnet` work).
//!
//! The parser is resumable: a request that arrives in many reads is not rescanned
//! from its start each time, so a large MSET costs linear time. Every length a
//! client sends is checked against [`RequestLimits`] before anything is allocated.

use crate::util::num::parse_i64;
use std::ops::Range;

/// Lines (`*N`, `$N`, inline commands) longer than this are refused, as in Redis.
pub const MAX_LINE: usize = 64 * 1024;

/// Limits on what one request may claim; all are client-controlled sizes.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk: usize,
    /// The most arguments in one multibulk request.
    pub max_args: usize,
    /// The longest inline command line.
    pub max_inline: usize,
}

impl RequestLimits {
    /// What a client that has not authenticated may send (as Redis: 10 arguments of
    /// at most 16 KiB), so it cannot make the server buffer much before AUTH.
    pub const UNAUTHENTICATED: RequestLimits = RequestLimits {
        max_bulk: 16 * 1024,
        max_args: 10,
        max_inline: 16 * 1024,
    };
}

/// A malformed request. The text is what Redis replies after `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    #[error("expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    #[error("too big inline request")]
    TooBigInline,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("expected CRLF after bulk data")]
    MissingCrlf,
}

/// The arguments of one request: `args[0]` is the command name.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    base: &'a [u8],
    spans: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    pub fn new(base: &'a [u8], spans: &'a [Range<usize>]) -> Self {
        Args { base, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`-th argument; panics if out of range (callers check arity first).
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.base[self.spans[i].clone()]
    }

    /// The arguments from `start` on.
    pub fn tail(&self, start: usize) -> Args<'a> {
        Args {
            base: self.base,
            spans: &self.spans[start.min(self.spans.len())..],
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + DoubleEndedIterator + 'a {
        let base = self.base;
        self.spans.iter().map(move |r| &base[r.clone()])
    }

    /// Total bytes of all arguments, for memory accounting of argv.
    pub fn byte_len(&self) -> usize {
        self.spans.iter().map(|r| r.len()).sum()
    }
}

impl std::fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// What one call to [`RequestParser::parse`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed; nothing is consumed yet.
    Incomplete,
    /// A complete request of `consumed` bytes; its arguments are in
    /// [`RequestParser::args`]. Zero arguments means an empty line or `*0`: skip it.
    Request { consumed: usize },
}

/// Resumable parser for one connection.
#[derive(Default)]
pub struct RequestParser {
    /// Offset of the next unparsed byte, relative to the request start.
    pos: usize,
    /// Arguments still expected by a multibulk request in progress.
    remaining: usize,
    /// The current multibulk's declared bulk length, when its `$N` line is parsed.
    bulk_len: Option<usize>,
    in_multibulk: bool,
    spans: Vec<Range<usize>>,
    /// Inline arguments are unescaped, so they live here rather than in the buffer.
    inline: Vec<u8>,
    inline_mode: bool,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The arguments of the last complete request. `buf` must be the same slice that
    /// was given to [`parse`](Self::parse).
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        if self.inline_mode {
            Args::new(&self.inline, &self.spans)
        } else {
            Args::new(buf, &self.spans)
        }
    }

    /// How many more bytes the request in progress is known to need, so the caller
    /// can reserve them in one go for a large bulk.
    pub fn pending_bulk(&self) -> Option<usize> {
        self.bulk_len.map(|n| n + 2)
    }

    /// Parses one request from `buf`, which starts at the request's first byte.
    pub fn parse(&mut self, buf: &[u8], limits: &RequestLimits) -> Result<Parsed, ProtocolError> {
        if !self.in_multibulk {
            self.spans.clear();
            self.inline_mode = false;
            match buf.first() {
                None => return Ok(Parsed::Incomplete),
                Some(b'*') => {}
                Some(_) => return self.parse_inline(buf, limits),
            }
            let Some((line, next)) = read_line(buf, 1)? else {
                if buf.len() > MAX_LINE {
                    return Err(ProtocolError::TooBigMultibulkCount);
                }
                return Ok(Parsed::Incomplete);
            };
            let count = parse_i64(line).ok_or(ProtocolError::InvalidMultibulkLength)?;
            if count > i64::from(i32::MAX) || count > limits.max_args as i64 {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            if count <= 0 {
                return Ok(Parsed::Request { consumed: next });
            }
            self.in_multibulk = true;
            self.remaining = count as usize;
            self.pos = next;
            // Reserve for what is plausible, not for what a client claims.
            self.spans.reserve(self.remaining.min(1024));
        }
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let Some(&first) = buf.get(self.pos) else {
                        return Ok(Parsed::Incomplete);
                    };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedDollar(char::from(first)));
                    }
                    let Some((line, next)) = read_line(buf, self.pos + 1)? else {
                        if buf.len() - self.pos > MAX_LINE {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(Parsed::Incomplete);
                    };
                    let len = parse_i64(line).ok_or(ProtocolError::InvalidBulkLength)?;
                    if len < 0 || len as u64 > limits.max_bulk as u64 {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    self.pos = next;
                    self.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            let end = self.pos + len;
            if buf.len() < end + 2 {
                return Ok(Parsed::Incomplete);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError::MissingCrlf);
            }
            self.spans.push(self.pos..end);
            self.pos = end + 2;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        self.in_multibulk = false;
        let consumed = self.pos;
        self.pos = 0;
        Ok(Parsed::Request { consumed })
    }

    /// Forgets a request in progress (after an error or when the connection resets).
    pub fn reset(&mut self) {
        *self = RequestParser {
            spans: std::mem::take(&mut self.spans),
            inline: std::mem::take(&mut self.inline),
            ..RequestParser::default()
        };
        self.spans.clear();
        self.inline.clear();
    }

    fn parse_inline(
        &mut self,
        buf: &[u8],
        limits: &RequestLimits,
    ) -> Result<Parsed, ProtocolError> {
        let max = limits.max_inline.min(MAX_LINE);
        let Some(nl) = memchr(b'\n', &buf[..buf.len().min(max + 1)]) else {
            if buf.len() > max {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(Parsed::Incomplete);
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline.clear();
        split_args(line, &mut self.inline, &mut self.spans)?;
        self.inline_mode = true;
        Ok(Parsed::Request { consumed: nl + 1 })
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

/// Finds `\r\n` from `start`; returns the line before it and the offset after it.
fn read_line(buf: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let hay = &buf[start.min(buf.len())..buf.len().min(start + MAX_LINE + 2)];
    match memchr(b'\r', hay) {
        Some(i) if i + 1 < hay.len() => {
            let line = &hay[..i];
            Ok(Some((line, start + i + 2)))
        }
        _ => Ok(None),
    }
}

/// Splits an inline command line the way Redis' `sdssplitargs` does: whitespace
/// separates arguments; `"…"` supports `\n \r \t \b \a \\ \"` and `\xHH`; `'…'`
/// supports `\'`. A closing quote must be followed by a space or the end.
pub fn split_args(
    line: &[u8],
    out: &mut Vec<u8>,
    spans: &mut Vec<Range<usize>>,
) -> Result<(), ProtocolError> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = &line[..line.iter().position(|&c| c == 0).unwrap_or(line.len())];
    // C's isspace(), which also counts vertical tab.
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        out.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    out.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else if in_sq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
                i += 1;
            }
        }
        spans.push(start..out.len());
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RequestLimits = RequestLimits {
        max_bulk: 512 * 1024 * 1024,
        max_args: 1024 * 1024,
        max_inline: MAX_LINE,
    };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<String>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut out = vec![];
        let mut start = 0;
        loop {
            match p.parse(&input[start..], &LIMITS)? {
                Parsed::Incomplete => return Ok(out),
                Parsed::Request { consumed } => {
                    let args = p.args(&input[start..]);
                    if !args.is_empty() {
                        out.push(
                            args.iter()
                                .map(|a| String::from_utf8_lossy(a).into())
                                .collect(),
                        );
                    }
                    start += consumed;
                }
            }
        }
    }

    #[test]
    fn pipelined_multibulk_and_inline() {
        let got =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n*0\r\n\r\n").unwrap();
        assert_eq!(
            got,
            vec![vec!["GET", "k"], vec!["PING"], vec!["set", "a", "b c"]]
        );
    }

    #[test]
    fn byte_at_a_time_resumes() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new();
        for end in 0..input.len() {
            assert_eq!(
                p.parse(&input[..end], &LIMITS).unwrap(),
                Parsed::Incomplete,
                "{end}"
            );
        }
        assert_eq!(
            p.parse(input, &LIMITS).unwrap(),
            Parsed::Request {
                consumed: input.len()
            }
        );
        let args: Vec<&[u8]> = p.args(input).iter().collect();
        assert_eq!(args, vec![&b"SET"[..], b"key", b"value"]);
    }

    #[test]
    fn binary_safe_bulks() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n").unwrap();
        assert_eq!(got[0][1], "a\r\nb");
    }

    #[test]
    fn protocol_errors_match_redis() {
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"*x\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*3000000000\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*1\r\n+GET\r\n", ProtocolError::ExpectedDollar('+')),
            (b"*1\r\n$-1\r\n", ProtocolError::InvalidBulkLength),
            (b"*1\r\n$abc\r\n", ProtocolError::InvalidBulkLength),
            (b"*1\r\n$3\r\nGETxx", ProtocolError::MissingCrlf),
            (b"set a \"b\n", ProtocolError::UnbalancedQuotes),
            (b"set a \"b\"c\n", ProtocolError::UnbalancedQuotes),
        ];
        for (input, err) in cases {
            assert_eq!(
                parse_all(input).unwrap_err(),
                *err,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits_are_enforced_before_allocation() {
        let small = RequestLimits {
            max_bulk: 10,
            max_args: 2,
            max_inline: 8,
        };
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*3\r\n", &small),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*1\r\n$11\r\n", &small),
            Err(ProtocolError::InvalidBulkLength)
        );
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"GET aaaaaaaaaaa", &small),
            Err(ProtocolError::TooBigInline)
        );
        let mut p = RequestParser::new();
        let long = vec![b'1'; MAX_LINE + 10];
        let mut input = b"*".to_vec();
        input.extend_from_slice(&long);
        assert_eq!(
            p.parse(&input, &LIMITS),
            Err(ProtocolError::TooBigMultibulkCount)
        );
    }

    #[test]
    fn inline_nul_ends_the_line() {
        let mut out = vec![];
        let mut spans = vec![];
        split_args(b"get a\x00b c", &mut out, &mut spans).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(&out[spans[1].clone()], b"a");
    }

    #[test]
    fn inline_quoting_follows_sdssplitargs() {
        let mut out = vec![];
        let mut spans = vec![];
        split_args(br#"set "a\x41\n" 'it\'s' plain"#, &mut out, &mut spans).unwrap();
        let args: Vec<&[u8]> = spans.iter().map(|r| &out[r.clone()]).collect();
        assert_eq!(args, vec![&b"set"[..], b"aA\n", b"it's", b"plain"]);
    }
}
