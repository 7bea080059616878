//! Runs commands in-process, without sockets: for tests (with tokio's paused
//! clock) and for embedding a node in another program.

use crate::clock::Clock;
use crate::cmd::{dispatch, Ctx, Dispatched, Session};
use crate::config::Config;
use crate::metrics::LocalStats;
use crate::resp::{Args, Frame, Reply};
use crate::server::Shared;
use std::sync::Arc;

/// A node's state plus one client session.
pub struct Harness {
    pub shared: Arc<Shared>,
    session: Session,
    reply: Reply,
    stats: LocalStats,
}

impl Harness {
    /// A node with `config` whose TTL clock follows tokio's (pausable) time.
    pub fn new(config: Config) -> Harness {
        let shared = Shared::new(config, Clock::tokio());
        Harness::with_shared(shared)
    }

    /// Another client session on the same node.
    pub fn with_shared(shared: Arc<Shared>) -> Harness {
        let addr = "127.0.0.1:0".parse().expect("valid address");
        let client = shared.register_client(addr, addr);
        let (authenticated, user) = shared.initial_login();
        let mut session = Session::new(client, authenticated, false);
        session.user = user;
        Harness {
            session,
            reply: Reply::new(),
            stats: LocalStats::new(crate::cmd::table::all().len()),
            shared,
        }
    }

    /// Executes one command and returns the raw reply bytes.
    pub fn exec_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let mut base = Vec::new();
        let mut spans = Vec::new();
        for a in args {
            let start = base.len();
            base.extend_from_slice(a.as_ref());
            spans.push(start..base.len());
        }
        let mut ctx = Ctx {
            shared: &self.shared,
            keys: self.shared.db.lock_none(),
            settings: self.shared.settings(),
            session: &mut self.session,
            out: &mut self.reply,
            stats: &mut self.stats,
            now: self.shared.clock.now_ms(),
        };
        match dispatch(&mut ctx, Args::new(&base, &spans)) {
            Dispatched::Done => {}
            // No sockets here: say where it would have gone.
            Dispatched::Forward { host, port, .. } => ctx
                .out
                .error(&format!("ERR harness does not forward (to {host}:{port})")),
            // No connection to wait on: WAIT answers at once.
            Dispatched::Wait(w) => ctx
                .out
                .int(self.shared.repl.acked_at_least(w.offset) as i64),
            Dispatched::Replicate(_) => ctx.out.error("ERR PSYNC needs a network connection"),
            // Nor to block on: a blocking command times out at once.
            Dispatched::Block(b) => crate::cmd::blocking::give_up(&mut ctx, b),
            Dispatched::Retry => ctx.out.error("TRYAGAIN the slot is changing hands"),
        }
        drop(ctx);
        self.stats.flush(&self.shared.metrics);
        let out = self.reply.buffer().to_vec();
        self.reply.clear();
        out
    }

    /// Executes one command given as whitespace-separated words.
    pub fn exec(&mut self, line: &str) -> Frame {
        let words: Vec<&str> = line.split_whitespace().collect();
        self.exec_args(&words)
    }

    /// Executes one command and parses its reply.
    pub fn exec_args<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        let raw = self.exec_raw(args);
        match Frame::parse(&raw) {
            Ok(Some((f, n))) if n == raw.len() => f,
            other => panic!(
                "bad reply {other:?} for {:?}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }

    pub fn closed(&self) -> bool {
        self.session.close
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.session.end(&self.shared);
    }
}
