//! Arbitrary bytes through both RESP parsers: the server's request parser
//! (`resp::request`, what every client connection runs) and the reply parser
//! and scanner (`resp::frame`, what a node runs on another node's replies).
//!
//! Besides "never panics", it checks what holds for any input:
//! - a request never consumes zero bytes (that would spin the connection loop)
//!   nor more than it was given, and respects the limits it was given;
//! - the resumable parser gives the same requests, and the same error, however
//!   the bytes are split into reads;
//! - a request re-encoded as a RESP array parses back to the same arguments;
//! - `Frame::parse` and `Scanner` agree on where a value ends, the scanner
//!   whatever the reads; a parsed frame re-encoded parses back to itself.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use shoal_node::config::{Settings, SettingsExt};
use shoal_node::resp::frame::{Frame, FrameError, Scanner};
use shoal_node::resp::request::{Parsed, ProtocolError, RequestLimits, RequestParser, MAX_LINE};

/// The limit sets the node really parses with.
fn limit_sets() -> [RequestLimits; 4] {
    [
        // An authenticated client with the default settings.
        Settings::default().request_limits(),
        // A client before AUTH.
        RequestLimits::UNAUTHENTICATED,
        // A replication link's handshake (repl/primary.rs).
        RequestLimits {
            max_bulk: 64,
            max_args: 8,
            max_inline: 256,
        },
        // The replication effect stream (store/effect.rs): no inline commands.
        shoal_node::store::effect::LIMITS,
    ]
}

/// A small deterministic generator for read sizes, seeded from the input.
struct Rng(u64);

impl Rng {
    fn from(data: &[u8]) -> Rng {
        // FNV-1a.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 1..=max
    fn step(&mut self, max: u64) -> usize {
        (1 + self.next() % max) as usize
    }
}

#[derive(Debug, PartialEq)]
enum Event {
    /// The arguments of a request and the bytes it used.
    Request(Vec<Vec<u8>>, usize),
    Error(ProtocolError),
}

/// One request's outcome, with the checks every complete request must pass.
fn request(p: &RequestParser, buf: &[u8], consumed: usize, limits: &RequestLimits) -> Event {
    assert!(consumed > 0, "a request of zero bytes");
    assert!(
        consumed <= buf.len(),
        "consumed {consumed} of {} bytes",
        buf.len()
    );
    let args = p.args(buf);
    assert!(
        args.byte_len() <= consumed,
        "arguments longer than the request"
    );
    if buf[0] == b'*' {
        assert!(args.len() <= limits.max_args, "{} arguments", args.len());
        for a in args.iter() {
            assert!(a.len() <= limits.max_bulk, "a bulk of {}", a.len());
        }
    } else {
        assert!(
            consumed <= limits.max_inline.min(MAX_LINE) + 1,
            "inline line of {consumed}"
        );
    }
    Event::Request(args.iter().map(<[u8]>::to_vec).collect(), consumed)
}

/// The whole input in one read, requests pipelined; stops at the first error,
/// as a connection does.
fn parse_whole(data: &[u8], limits: &RequestLimits) -> Vec<Event> {
    let mut p = RequestParser::new();
    let mut events = vec![];
    let mut start = 0;
    loop {
        match p.parse(&data[start..], limits) {
            Ok(Parsed::Incomplete) => return events,
            Ok(Parsed::Request { consumed }) => {
                events.push(request(&p, &data[start..], consumed, limits));
                start += consumed;
            }
            Err(e) => {
                events.push(Event::Error(e));
                return events;
            }
        }
    }
}

/// The same input arriving in reads of random sizes, the buffer growing as the
/// connection's does, with consumed bytes dropped from its front.
fn parse_chunked(data: &[u8], limits: &RequestLimits, rng: &mut Rng) -> Vec<Event> {
    let mut p = RequestParser::new();
    let mut events = vec![];
    let (mut start, mut end) = (0, 0);
    loop {
        end = (end + rng.step(16)).min(data.len());
        loop {
            match p.parse(&data[start..end], limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Request { consumed }) => {
                    events.push(request(&p, &data[start..end], consumed, limits));
                    start += consumed;
                }
                Err(e) => {
                    events.push(Event::Error(e));
                    return events;
                }
            }
        }
        if end == data.len() {
            return events;
        }
    }
}

/// A request's arguments sent again as a RESP array read back the same.
fn round_trip_request(args: &[Vec<u8>]) {
    if args.is_empty() {
        return;
    }
    let mut enc = BytesMut::new();
    Frame::encode_command(args, &mut enc);
    let limits = RequestLimits {
        max_bulk: 1 << 30,
        max_args: 1 << 24,
        max_inline: MAX_LINE,
    };
    let mut p = RequestParser::new();
    assert_eq!(
        p.parse(&enc, &limits),
        Ok(Parsed::Request {
            consumed: enc.len()
        })
    );
    let back: Vec<&[u8]> = p.args(&enc).iter().collect();
    assert_eq!(back, args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let (frame, used) = Frame::parse(&enc).unwrap().unwrap();
    assert_eq!(used, enc.len());
    let Frame::Array(items) = frame else {
        panic!("encode_command did not make an array: {frame:?}")
    };
    assert_eq!(items.len(), args.len());
    for (i, a) in items.iter().zip(args) {
        assert_eq!(i, &Frame::Bulk(bytes::Bytes::copy_from_slice(a)));
    }
}

/// Frames the encoder cannot write so that they read back the same. These are
/// the encoder's limits, not the parser's: a blob error (`!`) whose text holds
/// CRLF is written as a simple error, and a verbatim string's 3-byte format
/// that was not UTF-8 grows when made a `String`. Neither is sent by a node.
fn encodable(f: &Frame) -> bool {
    match f {
        Frame::Simple(s) | Frame::Error(s) | Frame::BigNumber(s) => !s.contains("\r\n"),
        Frame::Verbatim(fmt, _) => fmt.len() == 3,
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v.iter().all(encodable),
        Frame::Map(m) => m.iter().all(|(k, v)| encodable(k) && encodable(v)),
        _ => true,
    }
}

fn round_trip_frame(f: &Frame) {
    if !encodable(f) {
        return;
    }
    let mut once = BytesMut::new();
    f.encode(&mut once);
    let (g, used) = match Frame::parse(&once) {
        Ok(Some(x)) => x,
        other => panic!("{f:?} encoded as {once:?} parses as {other:?}"),
    };
    assert_eq!(used, once.len(), "{f:?} encoded as {once:?}");
    // Compared encoded, so that NaN equals itself.
    let mut twice = BytesMut::new();
    g.encode(&mut twice);
    assert_eq!(once, twice, "{f:?} read back as {g:?}");
}

/// Values one after another, as replies arrive on a link: parsed whole, and
/// scanned both whole and in reads of random sizes.
fn frames(data: &[u8], rng: &mut Rng) {
    // Frame::parse and a whole-buffer scan, value by value.
    let mut start = 0;
    while start < data.len() {
        let parsed = Frame::parse(&data[start..]);
        let scanned = Scanner::new().scan(&data[start..]);
        match parsed {
            Ok(Some((f, used))) => {
                assert!(used > 0 && used <= data.len() - start);
                // The scanner checks less (not numbers' digits, nor verbatim
                // formats), so where the parser finds a value, so does it.
                assert_eq!(scanned, Ok(Some(used)), "scanner disagrees on {f:?}");
                round_trip_frame(&f);
                start += used;
            }
            Ok(None) => {
                assert_eq!(scanned, Ok(None), "scanner found an end the parser did not");
                break;
            }
            Err(e) => {
                // Errors of structure (type byte, sizes, depth, CRLF) are the
                // scanner's too. BadNumber may be one of content (an integer's
                // or double's digits, a verbatim format) that the scanner does
                // not check, and then it may see anything past it.
                if e != FrameError::BadNumber {
                    assert_eq!(scanned, Err(e), "scanner disagrees on an error");
                }
                break;
            }
        }
    }

    // The scanner resumed over reads of random sizes agrees with itself whole.
    let whole = scan_all(data, None);
    let chunked = scan_all(data, Some(rng));
    assert_eq!(whole, chunked, "scanner depends on how bytes arrive");
}

fn scan_all(data: &[u8], mut rng: Option<&mut Rng>) -> Vec<Result<Option<usize>, FrameError>> {
    let mut out = vec![];
    let mut sc = Scanner::new();
    let (mut start, mut end) = (0, 0);
    loop {
        end = match rng.as_deref_mut() {
            Some(r) => (end + r.step(16)).min(data.len()),
            None => data.len(),
        };
        loop {
            if start == end {
                break;
            }
            match sc.scan(&data[start..end]) {
                Ok(None) => break,
                Ok(Some(n)) => {
                    assert!(n > 0 && n <= end - start);
                    out.push(Ok(Some(n)));
                    start += n;
                }
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
        if end == data.len() {
            if start < end {
                out.push(Ok(None));
            }
            return out;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rng = Rng::from(data);
    for limits in limit_sets() {
        let whole = parse_whole(data, &limits);
        for e in &whole {
            if let Event::Request(args, _) = e {
                round_trip_request(args);
            }
        }
        let chunked = parse_chunked(data, &limits, &mut rng);
        assert_eq!(
            whole, chunked,
            "request parsing depends on how bytes arrive ({limits:?})"
        );
    }
    frames(data, &mut rng);
});
