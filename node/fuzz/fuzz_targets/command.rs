//! Arbitrary client bytes run as commands against an in-memory node, the way a
//! connection runs them but without sockets (see `Harness` and
//! tests/command_fuzz.rs). The input is what a client sends: RESP arrays or
//! inline lines, pipelined, so the seeds are plain commands
//! (`SET k v\r\nGET k\r\n`) and the dictionary gives the fuzzer command names.
//!
//! Checks: no panic; each command answers exactly one well-formed reply (a
//! queued one too: EXEC runs them); the node still answers PING afterwards; and the store's memory accounting (each
//! shard's total) still equals the sum of its entries' estimates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_node::resp::request::{Parsed, RequestParser};
use shoal_node::resp::Frame;
use shoal_node::config::SettingsExt;
use shoal_node::{Config, Harness};
use std::sync::OnceLock;

/// The largest string a command may make. Redis' default (512 MiB) lets one
/// SETRANGE or SETBIT allocate that much, which only finds the fuzzer's RSS
/// limit; the size checks themselves are the same at 1 MiB.
const MAX_BULK: u64 = 1 << 20;
/// The output buffer limit (client-output-buffer-limit normal), which Shoal
/// sets to 1 GiB: a command whose reply size the client picks (HRANDFIELD h
/// -9223372036854775808) writes up to the limit and the connection is closed.
/// Writing 1 GiB takes longer than the fuzzer's timeout.
const MAX_REPLY: u64 = 2 << 20;
/// An input whose dataset grows past this stops there, for the same reason.
const MAX_DATASET: u64 = 64 << 20;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn node() -> Harness {
    let mut config = Config::default();
    config.settings.proto_max_bulk_len = MAX_BULK;
    config.settings.obuf_normal.hard = MAX_REPLY;
    let mut h = Harness::new(config);
    // A key of each kind, one with a TTL, so commands find something to work on.
    for cmd in [
        &["SET", "k", "12345"][..],
        &["SET", "s", "hello"],
        &["HSET", "h", "f", "v", "n", "5"],
        &["EXPIRE", "s", "1000"],
        &["RPUSH", "l", "a", "b", "c", "1"],
        &["SADD", "st", "1", "2", "x"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    ] {
        h.exec_raw(cmd);
    }
    h
}

/// Arguments (any case) whose commands are skipped, from SHOAL_FUZZ_SKIP
/// (comma-separated): a way to fuzz past a bug already reported, until it is
/// fixed, e.g. `SHOAL_FUZZ_SKIP=allkeys-lfu,volatile-lfu`.
fn skipped() -> &'static [Vec<u8>] {
    static SKIP: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SKIP.get_or_init(|| {
        std::env::var("SHOAL_FUZZ_SKIP")
            .unwrap_or_default()
            .split(',')
            .filter(|w| !w.is_empty())
            .map(|w| w.as_bytes().to_vec())
            .collect()
    })
}

/// A script that may loop: the harness has no SCRIPT KILL (a node stops such
/// a script after busy-reply-threshold), so it could only find the fuzzer's
/// timeout. Scripts without loops still run (recursion ends in a stack error).
fn loops(args: &[&[u8]]) -> bool {
    const LOOPS: [&[u8]; 4] = [b"while", b"repeat", b"for", b"goto"];
    args.len() > 1
        && args.iter().skip(1).any(|a| {
            LOOPS
                .iter()
                .any(|w| a.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w)))
        })
        && [
            &b"eval"[..],
            b"evalsha",
            b"eval_ro",
            b"evalsha_ro",
            b"script",
        ]
        .iter()
        .any(|n| args[0].eq_ignore_ascii_case(n))
}

fn show(args: &[&[u8]]) -> Vec<String> {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Each shard's running total equals what its entries say they hold: a command
/// that changes a value without accounting for it makes eviction and INFO drift.
fn check_accounting(h: &Harness) {
    let db = &h.shared.db;
    let mut total = 0;
    for i in 0..db.shard_count() {
        let shard = db.lock_index(i);
        let mut sum = 0;
        // At time 0 nothing is expired: every entry still held is visited.
        shard.for_each(0, |e| sum += e.mem_size());
        assert_eq!(shard.used_bytes(), sum, "shard {i}'s total drifted");
        total += sum;
    }
    assert_eq!(db.memory().dataset(), total as u64, "dataset total drifted");
}

fuzz_target!(|data: &[u8]| {
    // Commands that pick at random (RANDOMKEY, HRANDFIELD) do the same each run.
    fastrand::seed(0x5ead);
    let _rt = runtime().enter();
    let mut h = node();
    let mut parser = RequestParser::new();
    let mut start = 0;
    while start < data.len() {
        let settings = h.shared.settings();
        // Raised by CONFIG SET: the rest of the input could only find the
        // fuzzer's memory or time limits.
        let obuf = settings.obuf_normal.hard;
        if settings.proto_max_bulk_len > MAX_BULK
            || obuf == 0
            || obuf > MAX_REPLY
            || h.shared.db.memory().dataset() > MAX_DATASET
        {
            break;
        }
        let buf = &data[start..];
        match parser.parse(buf, &settings.request_limits()) {
            Ok(Parsed::Incomplete) => break,
            Ok(Parsed::Request { consumed }) => {
                let args: Vec<&[u8]> = parser.args(buf).iter().collect();
                start += consumed;
                let skip = skipped();
                if args.is_empty()
                    || args
                        .iter()
                        .any(|a| skip.iter().any(|w| a.eq_ignore_ascii_case(w)))
                    || loops(&args)
                {
                    continue;
                }
                let raw = h.exec_raw(&args);
                if raw.len() as u64 > obuf {
                    // Past the output limit the connection is closed, the
                    // reply (possibly cut short) never sent.
                    break;
                }
                // (P|S)(UN)SUBSCRIBE answer once per channel, as in Redis, and
                // so does an EXEC that ran one; every other command exactly once.
                let several = shoal_node::cmd::pubsub::confirms_with_push(args[0])
                    || args[0].eq_ignore_ascii_case(b"exec");
                let mut at = 0;
                let mut frames = 0;
                while at < raw.len() {
                    match Frame::parse(&raw[at..]) {
                        Ok(Some((_, used))) => {
                            at += used;
                            frames += 1;
                        }
                        other => panic!(
                            "malformed reply {other:?} to {:?}: {:?}",
                            show(&args),
                            String::from_utf8_lossy(&raw)
                        ),
                    }
                }
                // CLIENT REPLY OFF and SKIP answer nothing, by definition.
                let silent = args.len() >= 2
                    && args[0].eq_ignore_ascii_case(b"client")
                    && args[1].eq_ignore_ascii_case(b"reply");
                assert!(
                    frames == 1 || (several && frames > 1) || (silent && frames == 0),
                    "{frames} replies to {:?}: {:?}",
                    show(&args),
                    String::from_utf8_lossy(&raw)
                );
                if h.closed() {
                    break;
                }
            }
            // A connection would answer the error and close; go on after the
            // line instead, so one bad byte does not hide the commands after it.
            Err(_) => {
                parser.reset();
                match buf.iter().position(|&c| c == b'\n') {
                    Some(nl) => start += nl + 1,
                    None => break,
                }
            }
        }
    }
    if !h.closed() {
        // A transaction the input left open would queue the PING; subscribed
        // in RESP2, PING would answer as a message.
        h.exec_raw(&["DISCARD"]);
        for c in ["UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"] {
            h.exec_raw(&[c]);
        }
        let raw = h.exec_raw(&["PING"]);
        assert!(
            raw == b"+PONG\r\n" || raw.starts_with(b"-NOAUTH"),
            "PING answered {:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    check_accounting(&h);
});
