//! Every command, fed random arguments, must answer with a well-formed reply and
//! never panic: "bad input gets a clear error and loses nothing".

use proptest::prelude::*;
use shoal_node::cmd::table;
use shoal_node::resp::Frame;
use shoal_node::{Config, Harness};

/// Words that steer commands into their option parsing and edge cases.
const WORDS: &[&str] = &[
    "k",
    "h",
    "s",
    "missing",
    "0",
    "1",
    "-1",
    "2",
    "10",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1.5",
    "-0.5",
    "inf",
    "-inf",
    "nan",
    "1e308",
    "abc",
    "",
    "NX",
    "XX",
    "GT",
    "LT",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "MATCH",
    "COUNT",
    "TYPE",
    "*",
    "k*",
    "[a-",
    "\\",
    "WITHVALUES",
    "BYTE",
    "BIT",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "ID",
    "ADDR",
    "SKIPME",
    "yes",
    "no",
    "SAMPLES",
    "REPLACE",
    "DB",
    "ASYNC",
    "SYNC",
    "AUTH",
    "SETNAME",
    "default",
    "3",
    "maxmemory",
    "maxmemory-policy",
    "allkeys-lru",
    "timeout",
    "lib-name",
    "string",
    "hash",
    "FILTERBY",
    "PATTERN",
    "ACLCAT",
    "read",
    "l",
    "st",
    "z",
    "list",
    "set",
    "zset",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "LIMIT",
    "WITHSCORES",
    "BYSCORE",
    "BYLEX",
    "REV",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "CH",
    "INCR",
    "(1",
    "[a",
    "(a",
    "-",
    "+",
    "+inf",
    // Scripts, for EVAL and SCRIPT LOAD (none loops forever: the harness has
    // no SCRIPT KILL).
    "return 1",
    "return redis.call('GET', KEYS[1])",
    "return redis.pcall('INCR', KEYS[1])",
    "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('TYPE', KEYS[1])",
    "return redis.call('HGETALL', KEYS[1])",
    "redis.setresp(3) return redis.call('HGETALL', KEYS[1])",
    "return redis.call(unpack(ARGV))",
    "return {1, 'x', {ok='y'}, {err='z'}, true, false, 1.5}",
    "return {map={a=1}, set={b=true}, double=2.5}",
    "error('x')",
    "return x",
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return bit.tohex(#KEYS)",
    "#!lua flags=no-writes\nreturn redis.call('DEL', KEYS[1])",
    "#!lua flags=allow-undeclared-keys\nreturn redis.call('DBSIZE')",
    "return redis.call('GET', 'undeclared')",
    "return string.rep('x', 100000)",
    "return loadstring(ARGV[1])",
    "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
];

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// Names of every command and subcommand, as a client would send them.
fn names() -> Vec<Vec<Vec<u8>>> {
    table::all()
        .iter()
        .filter(|s| {
            !matches!(
                s.name,
                // DEBUG SLEEP would only make the test slow.
                "flushall" | "flushdb" | "quit" | "reset" | "client|kill" | "debug"
            )
        })
        .map(|s| s.name.split('|').map(|p| p.as_bytes().to_vec()).collect())
        .collect()
}

fn seeded() -> Harness {
    let mut h = Harness::new(Config::default());
    h.exec("SET k 12345");
    h.exec("SET s hello");
    h.exec("HSET h f v n 5");
    h.exec("EXPIRE s 1000");
    h.exec("RPUSH l a b c 1");
    h.exec("SADD st 1 2 x");
    h.exec("ZADD z 1 a 2 b 3 c");
    h
}

/// Exactly one complete reply, whatever it says; (P|S)(UN)SUBSCRIBE answer one
/// per channel, as in Redis (so does an EXEC that ran one).
fn one_reply(raw: &[u8], full: &[Vec<u8>]) {
    let several = subscription(full) || full[0].eq_ignore_ascii_case(b"exec");
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
                full.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(raw)
            ),
        }
    }
    // CLIENT REPLY OFF and SKIP answer nothing, by definition.
    let silent = full.len() >= 2
        && full[0].eq_ignore_ascii_case(b"client")
        && full[1].eq_ignore_ascii_case(b"reply");
    assert!(
        frames == 1 || (several && frames > 1) || (silent && frames == 0),
        "{frames} replies: {:?}",
        String::from_utf8_lossy(raw)
    );
}

fn subscription(full: &[Vec<u8>]) -> bool {
    shoal_node::cmd::pubsub::confirms_with_push(&full[0])
}

/// Leaves what a command may have left open (a transaction, subscriptions),
/// then checks the node still answers.
fn still_answers(h: &mut Harness) {
    h.exec_raw(&["DISCARD"]);
    for c in ["UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"] {
        h.exec_raw(&[c]);
    }
    assert_eq!(h.exec("PING"), Frame::Simple("PONG".into()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn commands_answer_any_arguments(
        cmd in prop::sample::select(names()),
        args in prop::collection::vec(arg(), 0..7),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut h = seeded();
            let mut full = cmd.clone();
            full.extend(args);
            let raw = h.exec_raw(&full);
            one_reply(&raw, &full);
            still_answers(&mut h);
            // The same command queued and run by EXEC: one reply each.
            let mut t = seeded();
            assert_eq!(t.exec("MULTI"), Frame::Simple("OK".into()));
            one_reply(&t.exec_raw(&full), &full);
            one_reply(&t.exec_raw(&["EXEC"]), &[b"EXEC".to_vec()]);
            still_answers(&mut t);
        });
    }
}
