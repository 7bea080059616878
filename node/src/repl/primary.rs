//! The primary's side of one replica connection, after `PSYNC`.
//!
//! The connection is taken over from the command loop: the answer line, then a
//! snapshot (full resync) and the stream from the backlog. Acknowledgements are
//! read on a separate task so a replica slow to read never delays them. A
//! replica that falls out of the backlog is dropped and resyncs; one that
//! stops acknowledging is dropped after [`ACK_TIMEOUT`].

use super::{snapshot, Answer, Attached, SyncRequest};
use crate::resp::request::Parsed;
use crate::resp::{RequestLimits, RequestParser};
use crate::server::Shared;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, info, warn};

/// Most bytes sent from the backlog in one write.
const SEND_MAX: usize = 1 << 20;
/// A heartbeat goes out when the stream has been idle this long.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A replica silent this long is dropped.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves replica `req` on `stream` until it goes away, falls behind, or this
/// node stops being its primary.
pub async fn serve<S>(shared: &Shared, stream: S, req: SyncRequest, addr: String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _link = shared.repl.link_opened();
    let journal = shared.db.journal();
    shared.repl.heard_from(&req);
    let decision = {
        let state = shared.repl.state();
        super::answer(&state, journal.bounds(), &req)
    };
    let (rd, mut wr) = tokio::io::split(stream);
    let (line, from, snapshot_from) = match &decision {
        Answer::Refuse(why) => {
            let _ = wr.write_all(format!("-{why}\r\n").as_bytes()).await;
            let _ = wr.flush().await;
            return;
        }
        Answer::Continue { replid, from } => {
            shared.metrics.repl.partial_syncs.inc();
            (format!("+CONTINUE {replid}"), *from, None)
        }
        Answer::Full { replid, offset } => {
            shared.metrics.repl.full_syncs.inc();
            (format!("+FULLRESYNC {replid} {offset}"), *offset, Some(0))
        }
        Answer::Resume {
            replid,
            offset,
            cursor,
        } => {
            shared.metrics.repl.full_syncs.inc();
            (
                format!("+RESUME {replid} {offset} {cursor}"),
                *offset,
                Some(*cursor),
            )
        }
    };
    if wr
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    info!(replica = %req.name, answer = ?decision, "replica attached");
    // Writes from now on must reach the backlog (a no-op once tracking).
    shared.db.set_tracking(true);
    let me = shared.repl.attach(&req.name, addr, req.port);
    // Both halves in one task: acknowledgements are read even while a write to
    // a slow replica waits.
    let result = tokio::select! {
        r = send(shared, &mut wr, &me, from, snapshot_from) => r,
        () = read_acks(shared, &me, rd) => Err("the replica closed the link".into()),
    };
    shared.repl.detach(me.id);
    match result {
        Ok(()) => info!(replica = %req.name, "replica detached"),
        Err(why) => warn!(replica = %req.name, reason = %why, "replica dropped"),
    }
}

async fn send<W: AsyncWrite + Unpin>(
    shared: &Shared,
    wr: &mut W,
    me: &Attached,
    from: u64,
    snapshot_from: Option<u64>,
) -> Result<(), String> {
    let journal = shared.db.journal();
    let mut buf = Vec::with_capacity(snapshot::CHUNK_BYTES);
    if let Some(mut cursor) = snapshot_from {
        loop {
            let (raw, next) = snapshot::read(&shared.db, cursor);
            buf.clear();
            snapshot::encode(next, &raw, &mut buf);
            wr.write_all(&buf).await.map_err(|e| e.to_string())?;
            if next == 0 {
                break;
            }
            cursor = next;
            if !shared.repl.is_primary() {
                return Err("no longer the primary".into());
            }
        }
        if journal.bounds().0 > from {
            return Err("the backlog moved past the snapshot during the transfer; a larger repl-backlog-size avoids this".into());
        }
        buf.clear();
        snapshot::encode_end(from, &mut buf);
        wr.write_all(&buf).await.map_err(|e| e.to_string())?;
        debug!(replica = %me.name, "snapshot sent");
    }
    me.online.store(true, Ordering::Relaxed);
    me.last_ack_ms
        .store(shared.clock.now_ms(), Ordering::Relaxed);
    let mut sent = from;
    let mut role = shared.repl.subscribe();
    loop {
        if !shared.repl.is_primary() {
            return hand_over(shared, wr, me, sent).await;
        }
        let idle = shared
            .clock
            .now_ms()
            .saturating_sub(me.last_ack_ms.load(Ordering::Relaxed));
        if idle > ACK_TIMEOUT.as_millis() as u64 {
            return Err(format!("no acknowledgement for {idle} ms"));
        }
        buf.clear();
        let n = journal
            .read(sent, SEND_MAX, &mut buf)
            .map_err(|_| "fell out of the backlog; it will resync".to_string())?;
        if n > 0 {
            wr.write_all(&buf).await.map_err(|e| e.to_string())?;
            sent += n as u64;
            continue;
        }
        // `sent` is the end of the backlog, between two effects: a heartbeat
        // may go here without splitting one.
        wr.flush().await.map_err(|e| e.to_string())?;
        // A demotion wakes the loop at once: the promoted replica waits for
        // the handover.
        role.borrow_and_update();
        let idle = tokio::select! {
            r = tokio::time::timeout(HEARTBEAT, journal.wait_past(sent)) => r.is_err(),
            _ = role.changed() => false,
        };
        if idle {
            wr.write_all(b"+PING\r\n")
                .await
                .map_err(|e| e.to_string())?;
        }
    }
}

/// How long a demoted primary keeps a replica's link open for its
/// acknowledgement of the last writes.
const HANDOVER_ACK_WAIT: Duration = Duration::from_secs(1);

/// This node stopped being the primary: sends the replica the rest of the
/// history (nothing is journaled past [`super::State::handed_over_at`]), then
/// [`super::HANDOVER`] with where it ended, and closes the link.
async fn hand_over<W: AsyncWrite + Unpin>(
    shared: &Shared,
    wr: &mut W,
    me: &Attached,
    mut sent: u64,
) -> Result<(), String> {
    let Some(end) = shared.repl.state().handed_over_at else {
        return Ok(());
    };
    let journal = shared.db.journal();
    let mut buf = Vec::with_capacity(64 * 1024);
    while sent < end {
        buf.clear();
        let n = journal
            .read(sent, ((end - sent) as usize).min(SEND_MAX), &mut buf)
            .map_err(|_| "the history moved on before the handover was sent".to_string())?;
        if n == 0 {
            return Err("the history ended before the handover offset".into());
        }
        wr.write_all(&buf).await.map_err(|e| e.to_string())?;
        sent += n as u64;
    }
    wr.write_all(format!("{} {end}\r\n", super::HANDOVER).as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    wr.flush().await.map_err(|e| e.to_string())?;
    // Closing at once could reset the connection (the replica's unread
    // acknowledgements make the close a RST), and a reset can discard what
    // the replica has not read yet: the last writes. So the write side ends
    // cleanly, and the link stays until the replica acknowledged them all.
    let _ = wr.shutdown().await;
    let acked = shared.repl.acked_by(me, end, HANDOVER_ACK_WAIT).await;
    shared.metrics.repl.handovers.inc();
    if acked < end {
        warn!(replica = %me.name, offset = end, acked, "handed over; the replica did not acknowledge the last writes in time");
    } else {
        info!(replica = %me.name, offset = end, "handed over");
    }
    Ok(())
}

/// Reads `REPLCONF ACK offset` from the replica.
async fn read_acks<R: AsyncRead + Unpin>(shared: &Shared, me: &Attached, mut rd: R) {
    let limits = RequestLimits {
        max_bulk: 64,
        max_args: 8,
        max_inline: 256,
    };
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut at = 0;
        loop {
            match parser.parse(&buf[at..], &limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Request { consumed }) => {
                    let args = parser.args(&buf[at..]);
                    if args.len() == 3
                        && args.get(0).eq_ignore_ascii_case(b"REPLCONF")
                        && args.get(1).eq_ignore_ascii_case(b"ACK")
                    {
                        if let Some(off) = crate::util::num::parse_i64(args.get(2)) {
                            shared
                                .repl
                                .record_ack(me, off.max(0) as u64, shared.clock.now_ms());
                        }
                    }
                    at += consumed;
                }
                Err(_) => return,
            }
        }
        let _ = buf.split_to(at);
        if buf.len() > 4096 {
            return;
        }
    }
}
