//! A whole RESP2/RESP3 value, for the client side: replies read from another node
//! and assertions in tests. The server's request path does not use it.

use bytes::{BufMut, Bytes, BytesMut};

/// Bounds for parsing replies from a peer, which is only trusted so far.
const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 1 << 24;
const MAX_BULK: usize = 1 << 30;

#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    Verbatim(String, Bytes),
    BigNumber(String),
    Push(Vec<Frame>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("invalid frame type byte {0:#04x}")]
    BadType(u8),
    #[error("invalid length or number in frame")]
    BadNumber,
    #[error("frame nested too deeply")]
    TooDeep,
    #[error("frame too large")]
    TooLarge,
    #[error("missing CRLF")]
    MissingCrlf,
}

impl Frame {
    /// Parses one frame from the start of `buf`. `Ok(None)` means more bytes are
    /// needed; otherwise returns the frame and the bytes it used.
    pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let mut pos = 0;
        match parse_at(buf, &mut pos, 0)? {
            Some(f) => Ok(Some((f, pos))),
            None => Ok(None),
        }
    }

    /// Encodes a command as a RESP array of bulk strings.
    pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut impl BufMut) {
        put_array_header(args.len(), out);
        for a in args {
            put_bulk(a.as_ref(), out);
        }
    }

    /// Encodes this frame in RESP3 (used to relay a parsed reply).
    pub fn encode(&self, out: &mut BytesMut) {
        fn line(out: &mut BytesMut, prefix: u8, s: &str) {
            out.put_u8(prefix);
            out.put_slice(s.as_bytes());
            out.put_slice(b"\r\n");
        }
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(i) => line(out, b':', itoa::Buffer::new().format(*i)),
            Frame::Bulk(b) => {
                line(out, b'$', itoa::Buffer::new().format(b.len()));
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Frame::Null => out.put_slice(b"_\r\n"),
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                let p = match self {
                    Frame::Array(_) => b'*',
                    Frame::Set(_) => b'~',
                    _ => b'>',
                };
                line(out, p, itoa::Buffer::new().format(items.len()));
                for i in items {
                    i.encode(out);
                }
            }
            Frame::Map(pairs) => {
                line(out, b'%', itoa::Buffer::new().format(pairs.len()));
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Frame::Double(d) => line(out, b',', &crate::util::num::format_f64(*d)),
            Frame::Boolean(b) => line(out, b'#', if *b { "t" } else { "f" }),
            Frame::Verbatim(fmt, b) => {
                line(out, b'=', itoa::Buffer::new().format(b.len() + 4));
                out.put_slice(fmt.as_bytes());
                out.put_u8(b':');
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Frame::BigNumber(s) => line(out, b'(', s),
        }
    }

    /// The bytes of a bulk, simple or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(b) | Frame::Verbatim(_, b) => Some(b),
            Frame::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

/// Finds where one RESP value ends without building it, resuming where the
/// previous call stopped: for relaying replies between nodes, where rescanning
/// (or copying) a large reply on every read would cost its size each time.
#[derive(Debug, Default)]
pub struct Scanner {
    /// Where scanning resumes: just after the last whole element.
    pos: usize,
    /// Elements still expected by each open aggregate, innermost last.
    open: Vec<usize>,
    started: bool,
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// The length of the value at the start of `buf` once it is complete. Call
    /// again with the same buffer, grown, after `Ok(None)`; the scanner resets
    /// after returning a length.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        loop {
            if self.started && self.open.is_empty() {
                let len = self.pos;
                *self = Scanner::default();
                return Ok(Some(len));
            }
            let Some(&kind) = buf.get(self.pos) else {
                return Ok(None);
            };
            let mut pos = self.pos + 1;
            let Some(l) = line(buf, &mut pos) else {
                return Ok(None);
            };
            match kind {
                b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => {}
                b'$' | b'=' | b'!' => {
                    let n = number(l)?;
                    if n >= 0 {
                        let n = n as usize;
                        if n > MAX_BULK {
                            return Err(FrameError::TooLarge);
                        }
                        if buf.len() < pos + n + 2 {
                            return Ok(None);
                        }
                        if &buf[pos + n..pos + n + 2] != b"\r\n" {
                            return Err(FrameError::MissingCrlf);
                        }
                        pos += n + 2;
                    }
                }
                b'*' | b'~' | b'>' | b'%' => {
                    let n = number(l)?;
                    if n > 0 {
                        if n as usize > MAX_ELEMENTS {
                            return Err(FrameError::TooLarge);
                        }
                        if self.open.len() >= MAX_DEPTH {
                            return Err(FrameError::TooDeep);
                        }
                        self.pos = pos;
                        self.started = true;
                        self.open.push(if kind == b'%' {
                            2 * n as usize
                        } else {
                            n as usize
                        });
                        continue;
                    }
                }
                other => return Err(FrameError::BadType(other)),
            }
            self.pos = pos;
            self.started = true;
            // One element done: close every aggregate it completes.
            while let Some(left) = self.open.last_mut() {
                *left -= 1;
                if *left > 0 {
                    break;
                }
                self.open.pop();
            }
        }
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let rel = buf[start..].windows(2).position(|w| w == b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

/// Writes `*n\r\n`: the start of an array of `n` elements.
pub fn put_array_header(n: usize, out: &mut impl BufMut) {
    out.put_u8(b'*');
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
    out.put_slice(b"\r\n");
}

/// Writes one bulk string.
pub fn put_bulk(b: &[u8], out: &mut impl BufMut) {
    out.put_u8(b'$');
    out.put_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Writes a number as a bulk string.
pub fn put_bulk_u64(n: u64, out: &mut impl BufMut) {
    put_bulk(itoa::Buffer::new().format(n).as_bytes(), out);
}

fn number(s: &[u8]) -> Result<i64, FrameError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(FrameError::BadNumber)
}

fn text(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, FrameError> {
    if depth > MAX_DEPTH {
        return Err(FrameError::TooDeep);
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(l) = line(buf, pos) else {
        return Ok(None);
    };
    let f = match kind {
        b'+' => Frame::Simple(text(l)),
        b'-' => Frame::Error(text(l)),
        b':' => Frame::Integer(number(l)?),
        b'_' => Frame::Null,
        b'#' => Frame::Boolean(l == b"t"),
        b',' => {
            let s = std::str::from_utf8(l).map_err(|_| FrameError::BadNumber)?;
            Frame::Double(s.parse().map_err(|_| FrameError::BadNumber)?)
        }
        b'(' => Frame::BigNumber(text(l)),
        b'$' | b'=' | b'!' => {
            let n = number(l)?;
            if n < 0 {
                return Ok(Some(Frame::Null));
            }
            let n = n as usize;
            if n > MAX_BULK {
                return Err(FrameError::TooLarge);
            }
            if buf.len() < *pos + n + 2 {
                return Ok(None);
            }
            let data = &buf[*pos..*pos + n];
            if &buf[*pos + n..*pos + n + 2] != b"\r\n" {
                return Err(FrameError::MissingCrlf);
            }
            *pos += n + 2;
            match kind {
                b'$' => Frame::Bulk(Bytes::copy_from_slice(data)),
                b'!' => Frame::Error(text(data)),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err(FrameError::BadNumber);
                    }
                    Frame::Verbatim(text(&data[..3]), Bytes::copy_from_slice(&data[4..]))
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = number(l)?;
            if n < 0 {
                return Ok(Some(Frame::Null));
            }
            let n = n as usize;
            if n > MAX_ELEMENTS {
                return Err(FrameError::TooLarge);
            }
            let count = if kind == b'%' { 2 * n } else { n };
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                match parse_at(buf, pos, depth + 1)? {
                    Some(f) => items.push(f),
                    None => return Ok(None),
                }
            }
            match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(n);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            }
        }
        other => return Err(FrameError::BadType(other)),
    };
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_resp3() {
        let f = Frame::Map(vec![
            (
                Frame::Simple("a".into()),
                Frame::Array(vec![Frame::Integer(1), Frame::Null]),
            ),
            (Frame::Bulk(Bytes::from_static(b"b")), Frame::Double(1.5)),
            (
                Frame::Boolean(true),
                Frame::Set(vec![Frame::Verbatim(
                    "txt".into(),
                    Bytes::from_static(b"x"),
                )]),
            ),
        ]);
        let mut out = BytesMut::new();
        f.encode(&mut out);
        let (g, used) = Frame::parse(&out).unwrap().unwrap();
        assert_eq!(g, f);
        assert_eq!(used, out.len());
        for cut in 0..out.len() {
            assert_eq!(Frame::parse(&out[..cut]).unwrap(), None);
        }
    }

    #[test]
    fn the_scanner_agrees_with_the_parser_however_bytes_arrive() {
        let f = Frame::Array(vec![
            Frame::Map(vec![(Frame::Simple("k".into()), Frame::Array(vec![]))]),
            Frame::Bulk(Bytes::from_static(b"hello\r\nworld")),
            Frame::Null,
            Frame::Array(vec![Frame::Array(vec![Frame::Integer(-3)])]),
            Frame::Error("ERR x".into()),
        ]);
        let mut out = BytesMut::new();
        f.encode(&mut out);
        out.extend_from_slice(b"+NEXT\r\n");
        let whole = Frame::parse(&out).unwrap().unwrap().1;
        for step in [1, 2, 3, 7, out.len()] {
            let mut sc = Scanner::new();
            let mut seen = 0;
            let found = loop {
                seen = (seen + step).min(out.len());
                if let Some(n) = sc.scan(&out[..seen]).unwrap() {
                    break n;
                }
                assert!(seen < out.len(), "never complete");
            };
            assert_eq!(found, whole, "step {step}");
            assert_eq!(sc.scan(&out[found..]).unwrap(), Some(7));
        }
        assert_eq!(Scanner::new().scan(b"*0\r\n").unwrap(), Some(4));
        assert_eq!(Scanner::new().scan(b"$-1\r\n").unwrap(), Some(5));
        assert_eq!(
            Scanner::new().scan(b"?\r\n"),
            Err(FrameError::BadType(b'?'))
        );
    }

    #[test]
    fn resp2_nulls() {
        assert_eq!(Frame::parse(b"$-1\r\n").unwrap(), Some((Frame::Null, 5)));
        assert_eq!(Frame::parse(b"*-1\r\n").unwrap(), Some((Frame::Null, 5)));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Frame::parse(b"?x\r\n"), Err(FrameError::BadType(b'?')));
        assert_eq!(Frame::parse(b":x\r\n"), Err(FrameError::BadNumber));
        assert_eq!(Frame::parse(b"$1\r\nab\r\n"), Err(FrameError::MissingCrlf));
    }
}
