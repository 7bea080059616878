//! Reply encoding straight into a connection's output buffer.
//!
//! Commands describe their reply in RESP3 terms (map, set, double, null, boolean);
//! [`Reply`] writes the RESP2 shape when the client speaks RESP2, the way Redis does:
//! maps become flat arrays, sets arrays, doubles bulk strings, null `$-1`.

use bytes::{BufMut, BytesMut};

/// Output buffer plus the protocol version the client negotiated with HELLO.
pub struct Reply {
    buf: BytesMut,
    resp3: bool,
    /// A command stopped writing a reply that grew past the output limit; the
    /// buffer holds a partial reply and the connection must close.
    overflowed: bool,
}

/// The most one reply may hold when no hard output limit is configured: a
/// command whose reply size the client alone controls (HRANDFIELD with a negative
/// count) stops there instead of exhausting memory.
pub const UNLIMITED_REPLY_CAP: u64 = 4 << 30;

impl Default for Reply {
    fn default() -> Self {
        Self::new()
    }
}

impl Reply {
    pub fn new() -> Self {
        Reply {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3: false,
            overflowed: false,
        }
    }

    /// Writes `n` items with `put`, a count the client alone chooses (a
    /// negative HRANDFIELD/SRANDMEMBER/ZRANDMEMBER count), stopping past the
    /// output limit `hard` (0: [`UNLIMITED_REPLY_CAP`]) and marking the reply
    /// cut short, so the connection closes as Redis closes it past its limit.
    /// `start`: where this reply began (its header included).
    pub fn write_bounded(
        &mut self,
        start: usize,
        hard: u64,
        n: u64,
        mut put: impl FnMut(&mut Reply),
    ) {
        let limit = if hard == 0 { UNLIMITED_REPLY_CAP } else { hard };
        for _ in 0..n {
            if (self.len() - start) as u64 > limit {
                self.overflow();
                break;
            }
            put(self);
        }
    }

    /// Marks the reply as cut short; see [`Reply::overflowed`].
    pub fn overflow(&mut self) {
        self.overflowed = true;
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, on: bool) {
        self.resp3 = on;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Drops the unwritten tail after `len`, to undo a partly written reply.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// An error line; `msg` includes its code, e.g. `ERR syntax error`. CR and LF
    /// would break framing, so they are replaced by spaces as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &c in msg.as_bytes() {
            self.buf
                .put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.put_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        self.prefixed_len(b':', v);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.buf.reserve(data.len() + 16);
        self.prefixed_len(b'$', data.len() as i64);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string of an integer's decimal text (e.g. INCRBYFLOAT-style replies).
    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// The null reply of commands whose RESP2 null is an array (`*-1`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.prefixed_len(b'*', n as i64);
    }

    /// An out-of-band message (pub/sub): a push in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        self.prefixed_len(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.prefixed_len(b'%', n as i64);
        } else {
            self.prefixed_len(b'*', 2 * n as i64);
        }
    }

    pub fn set(&mut self, n: usize) {
        self.prefixed_len(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    pub fn double(&mut self, v: f64) {
        let text = crate::util::num::format_f64(v);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A sorted-set score: `%.17g` text, as Redis 7.0 sends it (a bulk string in
    /// RESP2, a double in RESP3).
    pub fn score(&mut self, v: f64) {
        let text = crate::util::num::format_g17(v);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    pub fn bool(&mut self, v: bool) {
        if self.resp3 {
            self.buf.put_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(v));
        }
    }

    /// Text meant for humans (INFO, CLIENT LIST): RESP3 verbatim string `txt`.
    pub fn verbatim(&mut self, text: &str) {
        if self.resp3 {
            self.prefixed_len(b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Appends already-encoded RESP bytes (e.g. a reply relayed from another node).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
    }

    fn prefixed_len(&mut self, prefix: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        self.buf.put_u8(prefix);
        self.buf.put_slice(b.format(n).as_bytes());
        self.buf.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Reply)) -> (String, String) {
        let mut r2 = Reply::new();
        f(&mut r2);
        let mut r3 = Reply::new();
        r3.set_resp3(true);
        f(&mut r3);
        (
            String::from_utf8(r2.buffer().to_vec()).unwrap(),
            String::from_utf8(r3.buffer().to_vec()).unwrap(),
        )
    }

    #[test]
    fn shapes_per_protocol() {
        assert_eq!(both(|r| r.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.map(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|r| r.set(1)), ("*1\r\n".into(), "~1\r\n".into()));
        assert_eq!(
            both(|r| r.double(1.5)),
            ("$3\r\n1.5\r\n".into(), ",1.5\r\n".into())
        );
        assert_eq!(both(|r| r.bool(true)), (":1\r\n".into(), "#t\r\n".into()));
        assert_eq!(
            both(|r| r.verbatim("hi")),
            ("$2\r\nhi\r\n".into(), "=6\r\ntxt:hi\r\n".into())
        );
        assert_eq!(both(|r| r.int(-7)).0, ":-7\r\n");
        assert_eq!(both(|r| r.bulk(b"")).0, "$0\r\n\r\n");
        assert_eq!(both(|r| r.error("ERR a\r\nb")).0, "-ERR a  b\r\n");
    }
}
