//! One client connection: read, parse every complete request in the buffer,
//! execute, and write all replies of the batch with one write (pipelining).
//!
//! Buffers are bounded: input by `client-query-buffer-limit` and the protocol
//! limits, output by flushing every [`FLUSH_AT`] bytes (a slow reader pushes back
//! through TCP instead of growing memory) and by `client-output-buffer-limit`.

use crate::client::ClientInfo;
use crate::cluster::link::{self, ForwardError, Forwarded};
use crate::cmd::scripting::worker as script;
use crate::cmd::{dispatch, Ctx, Dispatched, Session};
use crate::config::Settings;
use crate::config::SettingsExt;
use crate::metrics::LocalStats;
use crate::resp::request::Parsed;
use crate::resp::{Reply, RequestLimits, RequestParser};
use crate::server::Shared;
use bytes::{Buf, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, warn};

/// Replies are written once this much is pending, even mid-batch.
const FLUSH_AT: usize = 64 * 1024;
/// Initial buffer sizes, and the size idle buffers shrink back to.
const INITIAL: usize = 4 * 1024;
/// Buffers larger than this are released when the connection goes idle.
const SHRINK_ABOVE: usize = 256 * 1024;
/// How long a killed client's pending write may still take.
const KILLED_WRITE_GRACE: Duration = Duration::from_secs(1);
/// How long a forwarded command may wait for the owner's reply.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// Forwarded commands awaiting replies before the batch's replies are written.
const MAX_PENDING_FORWARDS: usize = 1024;

/// Why the connection ended (for logs).
#[derive(Debug)]
#[allow(dead_code)] // The I/O error is read through Debug in the log line.
enum End {
    Eof,
    Quit,
    Killed,
    Protocol,
    QueryBufferLimit,
    OutputBufferLimit,
    Io(std::io::Error),
    /// PSYNC: the connection becomes a replication link.
    Replicate(crate::repl::Takeover),
}

struct Conn<'s, S> {
    shared: &'s Shared,
    stream: S,
    client: Arc<ClientInfo>,
    stats: LocalStats,
    /// Forwarded commands of this batch, in order.
    pending: Vec<Pending>,
    /// PSYNC arrived: once this batch's replies are out, the connection
    /// becomes a replication link.
    replicate: Option<crate::repl::Takeover>,
    /// Input read while a blocking command waited, processed after it.
    carry: BytesMut,
}

/// A forwarded command awaiting its reply.
struct Pending {
    /// Where its reply goes: an offset in the batch's reply buffer.
    offset: usize,
    rx: tokio::sync::oneshot::Receiver<Forwarded>,
    /// The encoded command, to send on if the owner redirects it.
    payload: bytes::Bytes,
    /// Replies of `payload` before the one relayed (see `link::forward`).
    skip: usize,
}

/// Serves one client until it disconnects, quits or is killed. `forwarding`:
/// the client came in on the forwarding port.
pub async fn serve<S>(shared: &Shared, stream: S, client: Arc<ClientInfo>, forwarding: bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Conn {
        shared,
        stream,
        stats: LocalStats::new(crate::cmd::table::all().len()),
        client: client.clone(),
        pending: Vec::new(),
        replicate: None,
        carry: BytesMut::new(),
    };
    let (authenticated, user) = shared.initial_login();
    let mut session = Session::new(client, authenticated, forwarding);
    session.user = user;
    let end = conn.run(&mut session).await;
    session.end(shared);
    conn.stats.flush(&shared.metrics);
    if let End::Replicate(takeover) = end {
        match takeover {
            crate::repl::Takeover::Replica(req) => {
                let addr = session.client.addr.ip().to_string();
                crate::repl::primary::serve(shared, conn.stream, req, addr).await;
            }
            crate::repl::Takeover::Slots(ranges) => {
                crate::cluster::migrate::export(shared, conn.stream, ranges).await;
            }
        }
        return;
    }
    match end {
        End::Eof | End::Quit | End::Killed => {
            debug!(id = session.client.id, reason = ?end, "client closed")
        }
        other => {
            warn!(id = session.client.id, addr = %session.client.addr, reason = ?other, "client dropped")
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<'_, S> {
    async fn run(&mut self, session: &mut Session) -> End {
        let mut inbuf = BytesMut::with_capacity(INITIAL);
        let mut reply = Reply::new();
        let mut parser = RequestParser::new();
        loop {
            if inbuf.capacity() - inbuf.len() < INITIAL / 4 {
                inbuf.reserve(inbuf.len().max(INITIAL));
            }
            let client = self.client.clone();
            // Checked as well as awaited: a write may have taken the wake-up.
            if client.is_killed() {
                return End::Killed;
            }
            if self.carry.is_empty() {
                let read = tokio::select! {
                    biased;
                    _ = client.killed() => return End::Killed,
                    Some(first) = next_message(session) => {
                        if let Err(e) = self.write_messages(session, first).await {
                            return End::Io(e);
                        }
                        continue;
                    }
                    r = self.stream.read_buf(&mut inbuf) => r,
                };
                match read {
                    Ok(0) => return End::Eof,
                    Ok(n) => self.stats.bytes_in += n as u64,
                    Err(e) => return End::Io(e),
                }
            } else {
                // Read while a blocking command waited: run it now, in order.
                inbuf.extend_from_slice(&self.carry);
                self.carry.clear();
            }
            let settings = self.shared.settings();
            if inbuf.len() as u64 > settings.client_query_buffer_limit {
                return End::QueryBufferLimit;
            }
            let now = self.shared.clock.now_ms();
            self.client
                .last_interaction_ms
                .store(now, Ordering::Relaxed);
            let outcome = self
                .process(session, &mut parser, &inbuf, &mut reply, settings, now)
                .await;
            let consumed = match outcome {
                Ok(consumed) => consumed,
                Err(end) => return end,
            };
            inbuf.advance(consumed);
            self.client.qbuf.store(inbuf.len(), Ordering::Relaxed);
            self.stats.flush(&self.shared.metrics);
            if session.close {
                return End::Quit;
            }
            if let Some(req) = self.replicate.take() {
                return End::Replicate(req);
            }
            if inbuf.is_empty() && inbuf.capacity() > SHRINK_ABOVE {
                inbuf = BytesMut::with_capacity(INITIAL);
            }
        }
    }

    /// Writes a subscriber's pending pub/sub messages, `first` and whatever else
    /// is queued (up to a batch), in the order they were published.
    async fn write_messages(
        &mut self,
        session: &mut Session,
        first: Vec<u8>,
    ) -> std::io::Result<()> {
        let Some(subs) = session.pubsub.as_mut() else {
            return Ok(());
        };
        let mut out = first;
        while out.len() < FLUSH_AT {
            match subs.rx.try_recv() {
                Ok(m) => out.extend_from_slice(&m),
                Err(_) => break,
            }
        }
        // A subscriber cut at the output limit is killed while this write waits
        // on it: the wait must end then.
        let client = self.client.clone();
        tokio::select! {
            biased;
            _ = client.killed() => return Ok(()),
            r = async {
                self.stream.write_all(&out).await?;
                self.stream.flush().await
            } => r?,
        }
        subs.sub.written(out.len());
        self.stats.bytes_out += out.len() as u64;
        Ok(())
    }

    /// Executes every complete request in `buf` and writes the replies. Returns
    /// the bytes consumed, or why the connection must end.
    async fn process(
        &mut self,
        session: &mut Session,
        parser: &mut RequestParser,
        buf: &[u8],
        reply: &mut Reply,
        settings: Arc<Settings>,
        now: u64,
    ) -> Result<usize, End> {
        let shared = self.shared;
        let mut ctx = Ctx {
            shared: self.shared,
            keys: self.shared.db.lock_none(),
            settings,
            session,
            out: reply,
            stats: &mut self.stats,
            now,
        };
        let mut start = 0;
        let mut failure = None;
        loop {
            let limits = if ctx.session.authenticated {
                ctx.settings.request_limits()
            } else {
                RequestLimits::UNAUTHENTICATED
            };
            match parser.parse(&buf[start..], &limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Request { consumed }) => {
                    let args = parser.args(&buf[start..]);
                    start += consumed;
                    if !args.is_empty() {
                        let mark = ctx.out.len();
                        // Scripts run on the script thread, so this thread
                        // keeps serving its other clients meanwhile; pipelined
                        // ones go together, in one hop.
                        if script::offloaded(ctx.session, args) && !ctx.session.forwarding {
                            let mut batch = vec![script::Request::new(args)];
                            while batch.len() < script::MAX_BATCH {
                                match parser.parse(&buf[start..], &limits) {
                                    Ok(Parsed::Request { consumed }) => {
                                        let next = parser.args(&buf[start..]);
                                        if next.is_empty() || !script::offloaded(ctx.session, next)
                                        {
                                            // Parsed again by the loop.
                                            parser.reset();
                                            break;
                                        }
                                        batch.push(script::Request::new(next));
                                        start += consumed;
                                    }
                                    _ => {
                                        parser.reset();
                                        break;
                                    }
                                }
                            }
                            // Off the forwarding port every outcome is Done.
                            run_scripts(&mut ctx, batch, shared).await?;
                            if ctx.session.reply_off {
                                ctx.out.truncate(mark);
                            }
                            if ctx.session.close || ctx.out.overflowed() {
                                break;
                            }
                            continue;
                        }
                        let dispatched = if script::offloaded(ctx.session, args) {
                            let outcomes =
                                run_scripts(&mut ctx, vec![script::Request::new(args)], shared)
                                    .await?;
                            outcomes.into_iter().last().unwrap_or(Dispatched::Done)
                        } else {
                            ctx.session.may_wait = true;
                            let d = dispatch(&mut ctx, args);
                            ctx.session.may_wait = false;
                            match d {
                                Dispatched::Retry => retry_handover(&mut ctx, args, shared).await,
                                d => d,
                            }
                        };
                        // CLIENT REPLY OFF / SKIP: the client asked not to hear this
                        // one; (un)subscribe confirmations are pushed as messages
                        // are, and still go out (as Redis 7).
                        let push = crate::cmd::pubsub::confirms_with_push(args.get(0))
                            && !ctx.out.buffer()[mark..].starts_with(b"-");
                        if (ctx.session.reply_off || ctx.session.reply_skip > 0) && !push {
                            ctx.out.truncate(mark);
                            ctx.session.reply_skip = ctx.session.reply_skip.saturating_sub(1);
                        }
                        match dispatched {
                            Dispatched::Done => {}
                            Dispatched::Forward {
                                host,
                                port,
                                asking,
                                block,
                            } => {
                                let hello = handshake(ctx.out, self.shared);
                                let (payload, skip) =
                                    block.unwrap_or_else(|| (link::encode(args.iter()), 0));
                                let rx = link::forward(
                                    &host,
                                    port,
                                    &hello,
                                    asking,
                                    payload.clone(),
                                    skip,
                                );
                                self.pending.push(Pending {
                                    offset: ctx.out.len(),
                                    rx,
                                    payload,
                                    skip,
                                });
                                self.shared.metrics.cluster.forwarded.inc();
                            }
                            Dispatched::Wait(w) => {
                                let client = ctx.session.client.clone();
                                let n = tokio::select! {
                                    n = shared.repl.wait(w.offset, w.replicas, w.timeout) => n as i64,
                                    _ = client.killed() => {
                                        // The node is stopping: the count so far (0 once
                                        // it handed over and let its replicas go) is the
                                        // answer, not a dropped connection.
                                        if shared.ready.load(std::sync::atomic::Ordering::Acquire) {
                                            return Err(End::Killed);
                                        }
                                        shared.repl.acked_at_least(w.offset) as i64
                                    }
                                };
                                ctx.out.int(n);
                                ctx.now = shared.clock.now_ms();
                            }
                            Dispatched::Replicate(req) => {
                                self.replicate = Some(req);
                                break;
                            }
                            // retry_handover answers it.
                            Dispatched::Retry => {}
                            Dispatched::Block(b) => {
                                // Replies so far go out before the wait.
                                splice_forwarded(
                                    &mut self.pending,
                                    ctx.out,
                                    self.shared,
                                    &ctx.settings,
                                    &ctx.session.client,
                                )
                                .await;
                                let settings = ctx.settings.clone();
                                write_replies(
                                    &mut self.stream,
                                    ctx.out,
                                    &settings,
                                    ctx.stats,
                                    &ctx.session.client,
                                    self.shared,
                                )
                                .await?;
                                let limit = settings.client_query_buffer_limit;
                                let waited = wait_blocked(
                                    &mut ctx,
                                    b,
                                    &mut self.stream,
                                    &mut self.carry,
                                    limit,
                                )
                                .await;
                                crate::cmd::blocking::done_waiting(&ctx.session.client);
                                waited?;
                                ctx.now = shared.clock.now_ms();
                            }
                        }
                    }
                    if ctx.session.close || ctx.out.overflowed() {
                        break;
                    }
                    if ctx.out.len() >= FLUSH_AT || self.pending.len() >= MAX_PENDING_FORWARDS {
                        splice_forwarded(
                            &mut self.pending,
                            ctx.out,
                            self.shared,
                            &ctx.settings,
                            &ctx.session.client,
                        )
                        .await;
                        let (obuf, settings) = (&mut *ctx.out, ctx.settings.clone());
                        write_replies(
                            &mut self.stream,
                            obuf,
                            &settings,
                            ctx.stats,
                            &ctx.session.client,
                            self.shared,
                        )
                        .await?;
                        // Writing may have waited on a slow reader: later
                        // commands must not see keys that expired meanwhile.
                        ctx.now = self.shared.clock.now_ms();
                    }
                }
                Err(e) => {
                    // As Redis: reply with the error, then close after writing.
                    ctx.out.error(&format!("ERR Protocol error: {e}"));
                    self.shared.metrics.protocol_errors.inc();
                    parser.reset();
                    failure = Some(End::Protocol);
                    break;
                }
            }
        }
        let Ctx {
            settings,
            session,
            out,
            stats,
            ..
        } = ctx;
        // Let the other clients with input run first, as Redis answers every ready
        // client in one burst before sleeping: a load generator then wakes once
        // for many replies instead of once per connection.
        tokio::task::yield_now().await;
        splice_forwarded(
            &mut self.pending,
            out,
            self.shared,
            &settings,
            &session.client,
        )
        .await;
        write_replies(
            &mut self.stream,
            out,
            &settings,
            stats,
            &session.client,
            self.shared,
        )
        .await?;
        match failure {
            Some(end) => Err(end),
            None => Ok(start),
        }
    }
}

/// Waits for a parked blocking command: its reply when a key it waits on is
/// served to it, a nil when its timeout passes. Meanwhile input is read into
/// `carry` (bounded by the query buffer limit), so a client that disconnects
/// is noticed and withdrawn (nothing is popped for it), and one that pipelines
/// more commands has them run after this one, as Redis does.
/// The `MOVED` for a blocked client whose keys' slot this node no longer serves.
fn moved_away(ctx: &Ctx<'_>, w: &crate::store::waiter::Waiter) -> Option<String> {
    let cluster = ctx.shared.cluster.as_ref()?;
    let slot = crate::cluster::slot::key_slot(w.keys.first()?);
    let view = cluster.load();
    match view.as_ref()?.route(slot, false) {
        crate::cluster::Route::Moved(slot, node) => {
            Some(format!("MOVED {slot} {}", node.endpoint()))
        }
        _ => None,
    }
}

async fn wait_blocked<S: AsyncRead + Unpin>(
    ctx: &mut Ctx<'_>,
    b: crate::cmd::blocking::Blocked,
    stream: &mut S,
    carry: &mut BytesMut,
    limit: u64,
) -> Result<(), End> {
    use crate::cmd::blocking::cancel;
    let w = b.waiter.clone();
    let client = ctx.session.client.clone();
    let mut deadline = b.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut input_open = true;
    let mut epochs = ctx.shared.cluster.as_ref().map(|c| c.subscribe());
    loop {
        if let Some(reply) = w.take_reply() {
            ctx.out.raw(&reply);
            return Ok(());
        }
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let topology_changed = async {
            match epochs.as_mut() {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = client.killed() => {
                cancel(ctx, &w);
                return Err(End::Killed);
            }
            _ = w.served() => {}
            // A resize moved the keys' slot away: as Redis Cluster does, the
            // client is redirected, and waits again at the new owner.
            () = topology_changed => {
                if let Some(moved) = moved_away(ctx, &w) {
                    if cancel(ctx, &w) {
                        ctx.out.error(&moved);
                        return Ok(());
                    }
                }
            }
            _ = timer => {
                if cancel(ctx, &w) {
                    // A timeout is a null array whatever the command, as Redis.
                    ctx.out.null_array();
                    return Ok(());
                }
                // Being served right now: its reply follows.
                deadline = None;
            }
            r = stream.read_buf(carry), if input_open => match r {
                Ok(0) => {
                    if cancel(ctx, &w) {
                        return Err(End::Eof);
                    }
                    input_open = false;
                }
                Ok(n) => {
                    ctx.stats.bytes_in += n as u64;
                    if carry.len() as u64 > limit {
                        cancel(ctx, &w);
                        return Err(End::QueryBufferLimit);
                    }
                }
                Err(e) => {
                    cancel(ctx, &w);
                    return Err(End::Io(e));
                }
            },
        }
    }
}

/// The next pub/sub message for a subscribed session; never resolves for
/// one without subscriptions.
/// How long a command whose slot is changing hands waits to be served here
/// before it gets the owner's MOVED (or TRYAGAIN).
const HANDOVER_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Runs `args` again every few ms while its slot is being handed over to
/// this node (nodes apply a new topology a moment apart, and the new owner
/// serves a slot only once the old one sent its last write), so clients see a
/// short wait instead of errors or redirections back and forth. Only a
/// command that answered [`Dispatched::Retry`] comes here.
async fn retry_handover(
    ctx: &mut Ctx<'_>,
    args: crate::resp::Args<'_>,
    shared: &Shared,
) -> Dispatched {
    let deadline = std::time::Instant::now() + HANDOVER_WAIT;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        // Past the deadline it gets the owner's MOVED (or TRYAGAIN).
        ctx.session.may_wait = std::time::Instant::now() < deadline;
        ctx.now = shared.clock.now_ms();
        let d = dispatch(ctx, args);
        ctx.session.may_wait = false;
        if !matches!(d, Dispatched::Retry) {
            return d;
        }
    }
}

async fn next_message(session: &mut Session) -> Option<Vec<u8>> {
    match session.pubsub.as_mut() {
        Some(s) => s.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// How links for this client introduce themselves to peers.
fn handshake(out: &Reply, shared: &Shared) -> link::Handshake {
    link::Handshake {
        resp3: out.resp3(),
        login: shared.link_login(),
        tls: shared.link_tls(crate::tls::Link::Cluster),
    }
}

/// The target of a `-MOVED`/`-ASK` reply: (asking, host, port).
fn redirect(reply: &[u8]) -> Option<(bool, String, u16)> {
    let text = std::str::from_utf8(reply).ok()?.trim_end();
    let (asking, rest) = if let Some(r) = text.strip_prefix("-MOVED ") {
        (false, r)
    } else {
        (true, text.strip_prefix("-ASK ")?)
    };
    let addr = rest.split(' ').nth(1)?;
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((asking, host.to_string(), port.parse().ok()?))
}

/// Puts the replies of forwarded commands in their places among the local
/// replies. The batch waits at most [`FORWARD_TIMEOUT`] in all, and not at all
/// once the client is killed; a command the owner redirects (MOVED/ASK from a
/// newer topology) is sent on once; the output buffer limit applies as replies
/// arrive. A lost or slow peer yields an error for its commands only.
async fn splice_forwarded(
    pending: &mut Vec<Pending>,
    out: &mut Reply,
    shared: &Shared,
    settings: &Settings,
    client: &ClientInfo,
) {
    if pending.is_empty() {
        return;
    }
    let deadline = tokio::time::Instant::now() + FORWARD_TIMEOUT;
    let hello = handshake(out, shared);
    let hard = settings.obuf_normal.hard;
    let local = out.buffer_mut().split();
    let mut at = 0;
    let mut give_up = false;
    for p in pending.drain(..) {
        out.raw(&local[at..p.offset]);
        at = p.offset;
        if give_up || out.overflowed() {
            continue;
        }
        let mut rx = p.rx;
        let mut sent_on = false;
        let result = loop {
            let got = tokio::select! {
                biased;
                r = tokio::time::timeout_at(deadline, &mut rx) => r,
                _ = client.killed() => {
                    give_up = true;
                    break Err(ForwardError::Lost("client closed".into()));
                }
            };
            match got {
                Ok(Ok(Ok(reply))) => match redirect(&reply) {
                    Some((asking, host, port)) if !sent_on => {
                        sent_on = true;
                        rx = link::forward(&host, port, &hello, asking, p.payload.clone(), p.skip);
                    }
                    _ => break Ok(reply),
                },
                Ok(Ok(Err(e))) => break Err(e),
                Ok(Err(_)) => break Err(ForwardError::Lost("link to the owner lost".into())),
                Err(_) => {
                    break Err(ForwardError::Lost(
                        "the owner did not answer in time".into(),
                    ))
                }
            }
        };
        match result {
            Ok(reply) => out.raw(&reply),
            Err(e) => {
                shared.metrics.cluster.forward_errors.inc();
                out.error(&e.to_string());
            }
        }
        if hard > 0 && out.len() as u64 > hard {
            out.overflow();
        }
    }
    out.raw(&local[at..]);
}

/// Writes all pending replies, enforcing the output buffer limit: over the hard
/// limit the client is closed at once; over the soft limit it must drain within
/// the soft seconds.
async fn write_replies<S: AsyncWrite + Unpin>(
    stream: &mut S,
    reply: &mut Reply,
    settings: &Settings,
    stats: &mut LocalStats,
    client: &ClientInfo,
    shared: &Shared,
) -> Result<(), End> {
    let pending = reply.len();
    if pending == 0 {
        return Ok(());
    }
    let limit = settings.obuf_normal;
    if reply.overflowed() || (limit.hard > 0 && pending as u64 > limit.hard) {
        shared.metrics.output_limit_disconnects.inc();
        return Err(End::OutputBufferLimit);
    }
    client.obuf.store(pending, Ordering::Relaxed);
    // Flushed too: a TLS stream may keep the end of a write buffered.
    let write = async {
        stream.write_all(reply.buffer()).await?;
        stream.flush().await
    };
    let write = async {
        if limit.soft > 0 && pending as u64 > limit.soft {
            match tokio::time::timeout(Duration::from_secs(limit.soft_seconds), write).await {
                Ok(r) => Ok(r),
                Err(_) => {
                    shared.metrics.output_limit_disconnects.inc();
                    Err(End::OutputBufferLimit)
                }
            }
        } else {
            Ok(write.await)
        }
    };
    // A client that stops reading must not outlive CLIENT KILL, the idle timeout
    // or shutdown by blocking here. A reply that is still moving (CLIENT KILL's
    // own answer, replies at shutdown) gets a moment to finish.
    let stalled = async {
        client.killed().await;
        tokio::time::sleep(KILLED_WRITE_GRACE).await;
    };
    let result = tokio::select! {
        // Write first: a write that completes at once never registers a waiter.
        biased;
        r = write => r?,
        _ = stalled => return Err(End::Killed),
    };
    result.map_err(End::Io)?;
    stats.bytes_out += pending as u64;
    client.obuf.store(0, Ordering::Relaxed);
    if reply.buffer_mut().capacity() > SHRINK_ABOVE {
        let resp3 = reply.resp3();
        *reply = Reply::new();
        reply.set_resp3(resp3);
    } else {
        reply.clear();
    }
    Ok(())
}

/// Runs script requests on the script thread (this thread serves its other
/// clients meanwhile), or here when there is none; their replies go to `out`.
async fn run_scripts(
    ctx: &mut Ctx<'_>,
    batch: Vec<script::Request>,
    shared: &Shared,
) -> Result<Vec<Dispatched>, End> {
    let n = batch.len();
    Ok(match script::submit(ctx, batch) {
        Ok(rx) => {
            let client = ctx.session.client.clone();
            let done = tokio::select! {
                r = rx => r.ok(),
                _ = client.killed() => return Err(End::Killed),
            };
            ctx.now = shared.clock.now_ms();
            match done {
                Some((bytes, outcomes)) => {
                    ctx.out.raw(&bytes);
                    outcomes
                }
                None => {
                    for _ in 0..n {
                        ctx.out.error("ERR the script thread stopped");
                    }
                    Vec::new()
                }
            }
        }
        Err(batch) => script::run_here(ctx, &batch),
    })
}

#[cfg(test)]
mod tests {
    use super::redirect;

    #[test]
    fn redirections_name_their_target() {
        assert_eq!(
            redirect(b"-MOVED 3999 10.0.0.1:6381\r\n"),
            Some((false, "10.0.0.1".into(), 6381))
        );
        assert_eq!(
            redirect(b"-ASK 12 cache-shard-1-0.cache-nodes.apps.svc:6379\r\n"),
            Some((true, "cache-shard-1-0.cache-nodes.apps.svc".into(), 6379))
        );
        assert_eq!(
            redirect(b"-ASK 12 [::1]:7000\r\n"),
            Some((true, "::1".into(), 7000))
        );
        assert_eq!(redirect(b"-ERR MOVED 1 a:1\r\n"), None);
        assert_eq!(redirect(b"-MOVED 1 nohost\r\n"), None);
        assert_eq!(redirect(b"$5\r\nMOVED\r\n"), None);
    }
}
