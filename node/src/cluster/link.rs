//! Forwarding links: persistent, pipelined connections to peer nodes, pooled per
//! I/O thread (one link per peer and protocol version), so a forwarded command
//! costs one write into an open socket and never a cross-thread wake-up.
//!
//! A link is a writer task and a reader task over one TCP connection. The writer
//! queues each request's waiter before writing its bytes, and the reader hands
//! each complete reply frame to the oldest waiter, so replies match requests by
//! order, as in any Redis pipeline. A broken link fails its waiters and is
//! replaced on next use.

use crate::resp::frame::Frame;
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest reply accepted from a peer before the link is dropped.
const MAX_PEER_REPLY: usize = 1 << 30;

/// A forwarded reply: the peer's raw reply bytes, or why there is none.
pub type Forwarded = Result<Bytes, String>;

struct Job {
    payload: Bytes,
    /// Replies to discard before the one wanted (ASKING's +OK).
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

/// How the link introduces itself: protocol version and password.
#[derive(Clone, Default)]
pub struct Handshake {
    pub resp3: bool,
    pub password: Option<String>,
}

/// Sends `args` (preceded by ASKING when `asking`) to `host:port` and returns
/// where its reply will arrive. Must run inside a tokio runtime.
pub fn forward<A: AsRef<[u8]>>(
    host: &str,
    port: u16,
    hello: &Handshake,
    asking: bool,
    args: impl ExactSizeIterator<Item = A>,
) -> oneshot::Receiver<Forwarded> {
    let mut payload = BytesMut::new();
    if asking {
        payload.extend_from_slice(b"*1\r\n$6\r\nASKING\r\n");
    }
    Frame::encode_command(&args.collect::<Vec<_>>(), &mut payload);
    let (done, rx) = oneshot::channel();
    let mut job = Job {
        payload: payload.freeze(),
        skip: usize::from(asking),
        done,
    };
    let key = Key {
        host: host.to_string(),
        port,
        resp3: hello.resp3,
    };
    LINKS.with(|links| {
        let mut links = links.borrow_mut();
        // A link that died is replaced once; the job comes back on failure.
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
        let _ = job.done.send(Err("no link to the peer".into()));
    });
    rx
}

fn spawn(key: Key, hello: Handshake) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(key, hello, rx));
    tx
}

async fn run(key: Key, hello: Handshake, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let stream = match connect(&key, &hello).await {
        Ok(s) => s,
        Err(e) => {
            let why = format!("cannot reach {}:{}: {e}", key.host, key.port);
            tracing::warn!(peer = %format!("{}:{}", key.host, key.port), error = %e, "forwarding link failed");
            // Fail what is queued; later jobs find the channel closed and retry.
            jobs.close();
            while let Some(job) = jobs.recv().await {
                let _ = job.done.send(Err(why.clone()));
            }
            return;
        }
    };
    let (mut read, mut write) = stream.into_split();
    let (waiters_tx, mut waiters) = mpsc::unbounded_channel::<Waiter>();
    // When either half ends, dropping the other drops every pending waiter,
    // whose receiver then reports the link as lost.
    let reader = async move {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut head: Option<Waiter> = None;
        loop {
            loop {
                let len = match Frame::parse(&buf) {
                    Ok(Some((_, len))) => len,
                    Ok(None) => break,
                    Err(e) => return format!("bad reply from peer: {e}"),
                };
                let frame = buf.split_to(len).freeze();
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
            match read.read_buf(&mut buf).await {
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
                out.extend_from_slice(&job.payload);
                let waiter = Waiter {
                    skip: job.skip,
                    done: job.done,
                };
                if waiters_tx.send(waiter).is_err() {
                    return;
                }
            }
            if write.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    };
    tokio::select! {
        why = reader => tracing::debug!(peer = %format!("{}:{}", key.host, key.port), reason = %why, "forwarding link closed"),
        () = writer => {}
    }
}

async fn connect(key: &Key, hello: &Handshake) -> std::io::Result<TcpStream> {
    let mut stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((key.host.as_str(), key.port)),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    let mut req = BytesMut::new();
    match (&hello.password, hello.resp3) {
        (Some(pw), true) => {
            Frame::encode_command(&["HELLO", "3", "AUTH", "default", pw.as_str()], &mut req)
        }
        (None, true) => Frame::encode_command(&["HELLO", "3"], &mut req),
        (Some(pw), false) => Frame::encode_command(&["AUTH", pw.as_str()], &mut req),
        (None, false) => return Ok(stream),
    }
    stream.write_all(&req).await?;
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
