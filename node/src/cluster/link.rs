//! Forwarding links: persistent, pipelined connections to peer nodes, pooled per
//! I/O thread (one link per peer and protocol version), so a forwarded command
//! costs one write into an open socket and never a cross-thread wake-up.
//!
//! A link is a writer task and a reader task over one TCP connection. The writer
//! queues each request's waiter before writing its bytes, and the reader hands
//! each complete reply to the oldest waiter, so replies match requests by order,
//! as in any Redis pipeline. Replies are delimited by a resumable scanner and
//! relayed as raw bytes, never decoded.
//!
//! Failure handling: a peer that cannot be reached fails commands at once for
//! [`DOWN_BACKOFF`] before the next connection attempt (no connect storm); a
//! link whose peer stops answering for [`STALL`] while commands wait is dropped;
//! a dropped link fails its waiters and is replaced on next use.

use crate::resp::frame::{Frame, Scanner};
use crate::tls::Stream;
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connection, commands for that peer fail at once this long.
pub const DOWN_BACKOFF: Duration = Duration::from_secs(1);
/// A peer silent this long while commands wait is taken as gone.
pub const STALL: Duration = Duration::from_secs(5);
/// Largest reply accepted from a peer before the link is dropped.
const MAX_PEER_REPLY: usize = 1 << 30;
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";

/// Why a forwarded command has no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// Never sent: the peer could not be reached. Safe to retry.
    #[error("TRYAGAIN forwarding failed: {0}")]
    Unreachable(String),
    /// Sent, but the link was lost before the reply: it may have run.
    #[error("ERR forwarding failed, the command may or may not have run: {0}")]
    Lost(String),
}

/// A forwarded reply: the peer's raw reply bytes, or why there is none.
pub type Forwarded = Result<Bytes, ForwardError>;

struct Job {
    /// The command, RESP-encoded.
    payload: Bytes,
    /// Precede it with ASKING (whose +OK is then skipped).
    asking: bool,
    /// Replies of the payload to skip before the one relayed (a MULTI block:
    /// the +OK and +QUEUED before EXEC's reply).
    skip: usize,
    done: oneshot::Sender<Forwarded>,
}

struct Waiter {
    skip: usize,
    done: oneshot::Sender<Forwarded>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    host: String,
    port: u16,
    resp3: bool,
}

thread_local! {
    static LINKS: RefCell<HashMap<Key, mpsc::UnboundedSender<Job>>> = RefCell::new(HashMap::new());
}

/// How the link introduces itself: protocol version and password, over TLS
/// when a client configuration is given.
#[derive(Clone, Default)]
pub struct Handshake {
    pub resp3: bool,
    /// (user, password) to log in with.
    pub login: Option<(String, String)>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Encodes a command for [`forward`].
pub fn encode<A: AsRef<[u8]>>(args: impl Iterator<Item = A>) -> Bytes {
    let args: Vec<A> = args.collect();
    let mut payload = BytesMut::new();
    Frame::encode_command(&args, &mut payload);
    payload.freeze()
}

/// Sends `payload` (a command, preceded by ASKING when `asking`) to
/// `host:port` and returns where its reply will arrive. Must run inside a tokio
/// runtime.
pub fn forward(
    host: &str,
    port: u16,
    hello: &Handshake,
    asking: bool,
    payload: Bytes,
    skip: usize,
) -> oneshot::Receiver<Forwarded> {
    let (done, rx) = oneshot::channel();
    let mut job = Job {
        payload,
        asking,
        skip,
        done,
    };
    let key = Key {
        host: host.to_string(),
        port,
        resp3: hello.resp3,
    };
    LINKS.with(|links| {
        let mut links = links.borrow_mut();
        // A link that ended is replaced once; the job comes back on failure.
        for _ in 0..2 {
            let tx = links
                .entry(key.clone())
                .or_insert_with(|| spawn(key.clone(), hello.clone()));
            match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => {
                    links.remove(&key);
                    job = back;
                }
            }
        }
        let _ = job
            .done
            .send(Err(ForwardError::Unreachable("no link to the peer".into())));
    });
    rx
}

fn spawn(key: Key, hello: Handshake) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(key, hello, rx));
    tx
}

async fn run(key: Key, hello: Handshake, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let peer = format!("{}:{}", key.host, key.port);
    let stream = match connect(&key, &hello).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "forwarding link failed");
            // Keep answering for the peer, quickly, for a while: a peer that is
            // down is not asked again for every command.
            let why = ForwardError::Unreachable(format!("cannot reach {peer}: {e}"));
            let until = tokio::time::Instant::now() + DOWN_BACKOFF;
            loop {
                tokio::select! {
                    job = jobs.recv() => match job {
                        Some(job) => { let _ = job.done.send(Err(why.clone())); }
                        None => return,
                    },
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
            jobs.close();
            while let Some(job) = jobs.recv().await {
                let _ = job.done.send(Err(why.clone()));
            }
            return;
        }
    };
    match stream {
        Stream::Plain(s) => {
            let (read, write) = s.into_split();
            pump(&peer, read, write, jobs).await
        }
        Stream::Tls(s) => {
            let (read, write) = tokio::io::split(s);
            pump(&peer, read, write, jobs).await
        }
    }
}

/// Moves jobs to the peer and replies back until either direction fails.
async fn pump<R, W>(peer: &str, mut read: R, mut write: W, mut jobs: mpsc::UnboundedReceiver<Job>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (waiters_tx, mut waiters) = mpsc::unbounded_channel::<Waiter>();
    // Replies owed by the peer; the reader watches for a silent peer only then.
    let owed = Arc::new(AtomicUsize::new(0));
    let owed_by_reader = owed.clone();
    // When either half ends, dropping the other drops every pending waiter.
    let reader = async move {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut scanner = Scanner::new();
        let mut head: Option<Waiter> = None;
        loop {
            loop {
                let len = match scanner.scan(&buf) {
                    Ok(Some(len)) => len,
                    Ok(None) => break,
                    Err(e) => return format!("bad reply from peer: {e}"),
                };
                let frame = buf.split_to(len).freeze();
                owed_by_reader.fetch_sub(1, Ordering::Relaxed);
                let mut w = match head.take() {
                    Some(w) => w,
                    None => match waiters.recv().await {
                        Some(w) => w,
                        None => return "a reply nobody asked for".to_string(),
                    },
                };
                if w.skip > 0 {
                    w.skip -= 1;
                    head = Some(w);
                } else {
                    let _ = w.done.send(Ok(frame));
                }
            }
            if buf.len() > MAX_PEER_REPLY {
                return "peer reply too large".to_string();
            }
            // Grow geometrically, so a large reply takes few reads.
            if buf.capacity() - buf.len() < 8 * 1024 {
                buf.reserve(buf.len().max(16 * 1024));
            }
            let read = read.read_buf(&mut buf);
            let got = if owed_by_reader.load(Ordering::Relaxed) > 0 {
                match tokio::time::timeout(STALL, read).await {
                    Ok(r) => r,
                    Err(_) => return format!("peer silent for {STALL:?}"),
                }
            } else {
                read.await
            };
            match got {
                Ok(0) => return "peer closed the link".to_string(),
                Ok(_) => {}
                Err(e) => return format!("reading from peer: {e}"),
            }
        }
    };
    let writer = async move {
        let mut out = BytesMut::new();
        while let Some(job) = jobs.recv().await {
            let mut batch = vec![job];
            while let Ok(more) = jobs.try_recv() {
                batch.push(more);
                if batch.len() >= 1024 {
                    break;
                }
            }
            for job in batch {
                if job.asking {
                    out.extend_from_slice(ASKING);
                }
                out.extend_from_slice(&job.payload);
                let skip = usize::from(job.asking) + job.skip;
                owed.fetch_add(1 + skip, Ordering::Relaxed);
                let waiter = Waiter {
                    skip,
                    done: job.done,
                };
                if waiters_tx.send(waiter).is_err() {
                    return;
                }
            }
            if write.write_all(&out).await.is_err() || write.flush().await.is_err() {
                return;
            }
            out.clear();
        }
    };
    tokio::select! {
        why = reader => tracing::debug!(%peer, reason = %why, "forwarding link closed"),
        () = writer => {}
    }
}

async fn connect(key: &Key, hello: &Handshake) -> std::io::Result<Stream> {
    let mut stream =
        crate::tls::connect(&key.host, key.port, hello.tls.as_ref(), CONNECT_TIMEOUT).await?;
    let mut req = BytesMut::new();
    match (&hello.login, hello.resp3) {
        (Some((user, pw)), true) => Frame::encode_command(
            &["HELLO", "3", "AUTH", user.as_str(), pw.as_str()],
            &mut req,
        ),
        (None, true) => Frame::encode_command(&["HELLO", "3"], &mut req),
        (Some((user, pw)), false) => {
            Frame::encode_command(&["AUTH", user.as_str(), pw.as_str()], &mut req)
        }
        (None, false) => return Ok(stream),
    }
    stream.write_all(&req).await?;
    stream.flush().await?;
    let mut buf = BytesMut::with_capacity(1024);
    let reply = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            if let Some((frame, _)) = Frame::parse(&buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
            {
                return Ok(frame);
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "peer closed during handshake",
                ));
            }
        }
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake timed out"))??;
    if let Frame::Error(e) = reply {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("peer refused the handshake: {e}"),
        ));
    }
    Ok(stream)
}
