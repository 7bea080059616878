//! Replication: a primary streams the effects of its writes (see
//! `store::effect`) to its replicas; replicas apply them and acknowledge
//! offsets, which `WAIT` counts.
//!
//! - [`primary`] serves a replica after `PSYNC`: a partial resync from the
//!   backlog when the replica's id and offset allow, otherwise a full resync from
//!   a chunked snapshot, then the stream.
//! - [`replica`] is the follower: connects to its primary, loads, applies, acks,
//!   and reconnects.
//! - Roles come from the topology in a cluster (one writer decides failovers),
//!   or from `REPLICAOF` for a standalone node.
//!
//! Replication ids and offsets follow Redis' PSYNC2: a promoted replica takes a
//! new id and remembers the old one with the offset it ended at, so the other
//! replicas (and the old primary, if it kept nothing more) continue without a
//! full resync.

pub mod primary;
pub mod replica;
pub mod snapshot;
pub mod wire;

use crate::store::Db;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The id a node without history uses, and Redis' "no secondary id".
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

/// A node to replicate from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its identity (the topology's node name, or `host:port` for REPLICAOF).
    pub name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica(Target),
}

/// The replica side's link to its primary, as INFO reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    Down,
    Connecting,
    /// Loading a snapshot.
    Sync,
    Up,
}

#[derive(Debug)]
pub struct State {
    pub role: Role,
    /// The history this node's data and offsets belong to.
    pub replid: String,
    /// The history before the last promotion, valid up to `second_offset`.
    pub replid2: String,
    pub second_offset: Option<u64>,
    pub link: Link,
    /// The data is a complete copy of a primary's (a replica that has finished
    /// a full or partial sync, or any primary). Only such a node may be promoted.
    pub synced: bool,
    /// The primary (by name) whose history the replica's data belongs to.
    pub synced_from: Option<String>,
    /// Unix ms of the last byte from the primary.
    pub last_io_ms: u64,
    /// The primary came back empty under its old name: this replica keeps its
    /// data and waits for a failover instead of following it.
    pub primary_lost_data: bool,
    /// `CLUSTER FAILOVER` asked for this replica's promotion.
    pub failover_requested: bool,
    /// Why the last sync attempt ended, for INFO.
    pub last_error: Option<String>,
    /// Set while this primary serves no keys (see [`Hold`]).
    pub hold: Option<Hold>,
    /// The last sync request of each replica since start (a few), so a hold
    /// begun after replicas already asked counts them.
    pub requests: Vec<SyncRequest>,
    /// Where this node's history ended when it stopped being a primary: its
    /// replica links send everything before it, then [`HANDOVER`] with it.
    pub handed_over_at: Option<u64>,
    /// The primary this replica follows handed over at this offset (it sent
    /// [`HANDOVER`]); everything before it has been applied.
    pub handover_seen: Option<u64>,
    /// This primary is shutting down and asks the topology's writer to
    /// promote one of its replicas first (INFO `shoal_leaving`).
    pub leaving: bool,
}

/// What a demoted primary sends its replicas after its last write
/// (`+HANDOVER <offset>`): a replica being promoted in its place takes writes
/// only after it has everything up to there, so no write the old primary
/// acknowledged is lost to a planned handover.
pub const HANDOVER: &str = "+HANDOVER";

/// How long a replica promoted while following a live primary waits for that
/// primary's [`HANDOVER`] before it serves anyway (the old primary died, or
/// never saw the new topology: an unplanned failover).
pub const TAKEOVER_WAIT: Duration = Duration::from_millis(1000);

/// A primary that started empty in a shard with replicas serves no keys
/// (`-LOADING`) until it knows no replica holds data it lacks: until every
/// replica has asked to sync with no history, or [`HOLD_MAX`] passed with none
/// claiming one. A replica with history from before (the primary restarted
/// and lost its data) keeps the hold until the topology changes: that replica
/// is promoted, and this node follows it. Without the hold, the restarted
/// primary would answer reads with nothing and take writes a failover then
/// discards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// Replicas not heard from yet.
    pub waiting: Vec<String>,
    /// Unix ms after which the hold ends if no replica claimed history.
    pub until_ms: u64,
    /// A replica has history this node lacks.
    pub lost: bool,
}

/// How long a restarted primary waits for its replicas at most.
pub const HOLD_MAX: std::time::Duration = std::time::Duration::from_secs(10);

impl Hold {
    /// Notes `req` from a replica; true when the hold can end.
    pub fn heard(&mut self, req: &SyncRequest, my_replid: &str) -> bool {
        if req.offset > 0 && req.replid != my_replid {
            self.lost = true;
        }
        self.waiting.retain(|n| *n != req.name);
        !self.lost && self.waiting.is_empty()
    }

    /// Whether it still holds at `now_ms`.
    pub fn holds(&self, now_ms: u64) -> bool {
        self.lost || now_ms < self.until_ms
    }
}

impl State {
    /// A primary with no history but `replid`: what every node starts as.
    pub fn new(replid: String) -> State {
        State {
            role: Role::Primary,
            replid,
            replid2: NO_ID.into(),
            second_offset: None,
            link: Link::Down,
            synced: true,
            synced_from: None,
            last_io_ms: 0,
            primary_lost_data: false,
            failover_requested: false,
            last_error: None,
            hold: None,
            requests: Vec::new(),
            handed_over_at: None,
            handover_seen: None,
            leaving: false,
        }
    }
}

/// A replica attached to this primary.
pub struct Attached {
    pub id: u64,
    pub name: String,
    pub addr: String,
    pub port: u16,
    /// Highest offset the replica acknowledged.
    pub ack: AtomicU64,
    pub last_ack_ms: AtomicU64,
    /// Past its snapshot, receiving the stream.
    pub online: AtomicBool,
}

pub struct Replication {
    state: Mutex<State>,
    attached: Mutex<Vec<Arc<Attached>>>,
    acked: tokio::sync::Notify,
    target: tokio::sync::watch::Sender<Option<Target>>,
    next_id: AtomicU64,
    /// Mirrors `state.role == Primary` for the write path, which checks it on
    /// every write and must not take the state's lock to do so.
    primary: AtomicBool,
    /// Mirrors `state.hold.is_some()`, for every keyed command.
    held: AtomicBool,
    /// Unix ms until which keyed commands of this node's shard wait (a
    /// promotion waiting for the old primary's last writes); 0: none.
    taking_over_until: AtomicU64,
    /// Wakes a promotion waiting for [`HANDOVER`].
    handover: tokio::sync::Notify,
    /// Replica links being served (see [`Replication::link_opened`]).
    links: AtomicUsize,
}

/// Counts a replica link while it is served.
pub struct LinkGuard<'a>(&'a Replication);

impl Drop for LinkGuard<'_> {
    fn drop(&mut self) {
        self.0.links.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a primary answers to `PSYNC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Stream from this offset (the replica has everything before it).
    Continue {
        replid: String,
        from: u64,
    },
    /// Snapshot from the start, then the stream from `offset`.
    Full {
        replid: String,
        offset: u64,
    },
    /// Carry on with an interrupted snapshot from `cursor`.
    Resume {
        replid: String,
        offset: u64,
        cursor: u64,
    },
    Refuse(String),
}

/// A replica's `PSYNC replid offset [RESUME cursor snapshot-offset]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub replid: String,
    /// -1: no history.
    pub offset: i64,
    pub name: String,
    pub port: u16,
    /// An interrupted snapshot: (cursor after the last good chunk, its offset).
    pub resume: Option<(u64, u64)>,
}

/// What a connection becomes when it stops taking commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Takeover {
    /// PSYNC: a replication link to a replica.
    Replica(SyncRequest),
    /// SYNCSLOTS: a slot migration link to a resize's target.
    Slots(Vec<crate::cluster::slot::SlotRange>),
}

/// The primary's decision for `req`, given its history and backlog `bounds`
/// (first offset held, next offset). Pure, so every case is unit-tested.
pub fn answer(state: &State, bounds: (u64, u64), req: &SyncRequest) -> Answer {
    if state.role != Role::Primary {
        return Answer::Refuse("ERR this node is a replica; sync from its primary".into());
    }
    let (start, end) = bounds;
    if let Some((cursor, offset)) = req.resume {
        if req.replid == state.replid && offset >= start && offset <= end {
            return Answer::Resume {
                replid: state.replid.clone(),
                offset,
                cursor,
            };
        }
    }
    if req.resume.is_none() && req.offset >= 0 {
        let from = req.offset as u64;
        let known = req.replid == state.replid
            || (req.replid == state.replid2 && state.second_offset.is_some_and(|s| from <= s));
        if known && from >= start && from <= end {
            return Answer::Continue {
                replid: state.replid.clone(),
                from,
            };
        }
    }
    Answer::Full {
        replid: state.replid.clone(),
        offset: end,
    }
}

fn new_id() -> String {
    (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("digit < 16"))
        .collect()
}

impl Default for Replication {
    fn default() -> Self {
        Replication::new()
    }
}

impl Replication {
    pub fn new() -> Replication {
        Replication {
            state: Mutex::new(State::new(new_id())),
            attached: Mutex::new(Vec::new()),
            acked: tokio::sync::Notify::new(),
            target: tokio::sync::watch::channel(None).0,
            next_id: AtomicU64::new(1),
            primary: AtomicBool::new(true),
            held: AtomicBool::new(false),
            taking_over_until: AtomicU64::new(0),
            handover: tokio::sync::Notify::new(),
            links: AtomicUsize::new(0),
        }
    }

    /// A replica link is served until the guard drops: a node stopping after
    /// a handover waits for its links to send their last writes.
    pub fn link_opened(&self) -> LinkGuard<'_> {
        self.links.fetch_add(1, Ordering::AcqRel);
        LinkGuard(self)
    }

    pub fn links(&self) -> usize {
        self.links.load(Ordering::Acquire)
    }

    /// Whether keyed commands of this node's shard wait at `now_ms`: its
    /// primary is handing over to it, or to a replica beside it.
    pub fn taking_over(&self, now_ms: u64) -> bool {
        now_ms < self.taking_over_until.load(Ordering::Acquire)
    }

    fn take_over_until(&self, until_ms: u64) {
        self.taking_over_until.store(until_ms, Ordering::Release);
    }

    /// The followed primary sent [`HANDOVER`] at `offset`, and everything
    /// before it is applied: commands of the shard wait until this node
    /// learns who serves it now (or [`TAKEOVER_WAIT`] passes).
    pub fn handover_seen(&self, offset: u64, now_ms: u64) {
        self.state.lock().handover_seen = Some(offset);
        self.take_over_until(now_ms + TAKEOVER_WAIT.as_millis() as u64);
        self.handover.notify_waiters();
    }

    /// Resolves when the followed primary next sends [`HANDOVER`].
    pub async fn handed_over(&self) {
        self.handover.notified().await
    }

    /// A primary shutting down asks for a replica's promotion.
    pub fn set_leaving(&self) {
        self.state.lock().leaving = true;
    }

    /// Starts a [`Hold`] waiting for `replicas`, counting what they already asked.
    pub fn hold_for(&self, replicas: Vec<String>, now_ms: u64) {
        let mut s = self.state.lock();
        let mut hold = Hold {
            waiting: replicas,
            until_ms: now_ms + HOLD_MAX.as_millis() as u64,
            lost: false,
        };
        let mut released = false;
        for req in &s.requests {
            released = hold.heard(req, &s.replid);
        }
        if released {
            return;
        }
        tracing::warn!(waiting = ?hold.waiting, "started as a primary with replicas and no replication history (empty, or from a snapshot): serving no keys until they report");
        s.hold = Some(hold);
        self.held.store(true, Ordering::Release);
    }

    /// Whether keys must not be served now; ends a hold that timed out.
    pub fn held(&self, now_ms: u64) -> bool {
        if !self.held.load(Ordering::Acquire) {
            return false;
        }
        let mut s = self.state.lock();
        match &s.hold {
            Some(h) if h.holds(now_ms) => true,
            _ => {
                if s.hold.take().is_some() {
                    tracing::info!("no replica claimed data this primary lacks: serving");
                }
                self.held.store(false, Ordering::Release);
                false
            }
        }
    }

    /// A replica asked to sync: the hold learns whether it holds history.
    pub fn heard_from(&self, req: &SyncRequest) {
        let mut guard = self.state.lock();
        let State {
            hold,
            replid,
            requests,
            ..
        } = &mut *guard;
        requests.retain(|r| r.name != req.name);
        if requests.len() < 64 {
            requests.push(req.clone());
        }
        let Some(h) = hold.as_mut() else {
            return;
        };
        if h.heard(req, replid) {
            tracing::info!("every replica started empty too: serving");
            *hold = None;
            self.held.store(false, Ordering::Release);
        } else if h.lost {
            tracing::warn!(replica = %req.name, "a replica holds data this primary lost: serving no keys until a failover");
        }
    }

    pub fn state(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }

    pub fn is_primary(&self) -> bool {
        self.primary.load(Ordering::Acquire)
    }

    /// A replica whose data is complete enough to answer READONLY reads.
    pub fn serves_reads(&self) -> bool {
        // Every routed read of a READONLY client asks: a primary answers
        // without the lock.
        if self.is_primary() {
            return false;
        }
        let s = self.state.lock();
        matches!(s.role, Role::Replica(_)) && s.synced && s.link == Link::Up
    }

    /// What the follower should replicate from (None: nothing).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<Target>> {
        self.target.subscribe()
    }

    /// Changes role. Promotion starts a new history (remembering the old one for
    /// PSYNC2) and starts journaling writes; demotion stops journaling and
    /// points the follower at the new primary.
    /// `keys` holds every shard (REPLICAOF runs as a whole-keyspace command;
    /// other callers lock them all).
    pub fn set_role(&self, role: Role, keys: &mut crate::store::Locked<'_>) {
        let db = keys.db();
        let mut s = self.state.lock();
        if s.role == role {
            return;
        }
        let was_primary = s.role == Role::Primary;
        s.hold = None;
        self.held.store(false, Ordering::Release);
        s.handover_seen = None;
        self.take_over_until(0);
        match &role {
            Role::Primary => {
                s.handed_over_at = None;
                s.replid2 = std::mem::replace(&mut s.replid, new_id());
                s.second_offset = Some(db.journal().end());
                s.link = Link::Down;
                s.failover_requested = false;
                s.primary_lost_data = false;
                s.role = role;
                drop(s);
                keys.set_tracking(true);
                self.primary.store(true, Ordering::Release);
                let _ = self.target.send_replace(None);
                tracing::info!(offset = db.journal().end(), "promoted to primary");
            }
            Role::Replica(t) => {
                let t = t.clone();
                s.role = role;
                s.link = Link::Connecting;
                // Promotable again only once this history is confirmed by a sync;
                // what was said of the previous primary no longer holds.
                s.synced = false;
                s.primary_lost_data = false;
                s.failover_requested = false;
                self.primary.store(false, Ordering::Release);
                drop(s);
                if was_primary {
                    // Every write is journaled under the locks held here: the
                    // history ends now, and replica links send up to here.
                    self.state.lock().handed_over_at = Some(db.journal().end());
                    keys.set_tracking(false);
                    self.attached.lock().clear();
                }
                tracing::info!(primary = %t.name, "following a primary");
                let _ = self.target.send_replace(Some(t));
            }
        }
    }

    /// The replica's data is now a complete copy of `primary`'s.
    pub fn synced_with(&self, primary: &Target) {
        let mut s = self.state.lock();
        s.synced = true;
        s.synced_from = Some(primary.name.clone());
        s.primary_lost_data = false;
        s.link = Link::Up;
    }

    /// Records a replica attaching after PSYNC.
    pub fn attach(&self, name: &str, addr: String, port: u16) -> Arc<Attached> {
        let a = Arc::new(Attached {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            name: name.to_string(),
            addr,
            port,
            ack: AtomicU64::new(0),
            last_ack_ms: AtomicU64::new(0),
            online: AtomicBool::new(false),
        });
        let mut all = self.attached.lock();
        // A replica that reconnects replaces its old entry.
        all.retain(|o| o.name != name);
        all.push(a.clone());
        a
    }

    pub fn detach(&self, id: u64) {
        self.attached.lock().retain(|a| a.id != id);
        self.acked.notify_waiters();
    }

    pub fn attached(&self) -> Vec<Arc<Attached>> {
        self.attached.lock().clone()
    }

    pub fn record_ack(&self, a: &Attached, offset: u64, now_ms: u64) {
        a.ack.fetch_max(offset, Ordering::Relaxed);
        a.last_ack_ms.store(now_ms, Ordering::Relaxed);
        self.acked.notify_waiters();
    }

    /// Waits until replica `a` acknowledged `offset`, at most `timeout`;
    /// returns what it acknowledged.
    pub async fn acked_by(&self, a: &Attached, offset: u64, timeout: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.acked.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let ack = a.ack.load(Ordering::Relaxed);
            if ack >= offset || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return a.ack.load(Ordering::Relaxed);
            }
        }
    }

    /// Online replicas that acknowledged `offset`.
    pub fn acked_at_least(&self, offset: u64) -> usize {
        self.attached
            .lock()
            .iter()
            .filter(|a| a.online.load(Ordering::Relaxed) && a.ack.load(Ordering::Relaxed) >= offset)
            .count()
    }

    /// WAIT: how many replicas acknowledged `offset`, once `n` have or the
    /// timeout passes (None: no timeout).
    pub async fn wait(&self, offset: u64, n: usize, timeout: Option<Duration>) -> usize {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let notified = self.acked.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let have = self.acked_at_least(offset);
            if have >= n {
                return have;
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, notified).await.is_err() {
                        return self.acked_at_least(offset);
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The INFO `replication` section's fields.
    pub fn info(&self, db: &Db, now_ms: u64, kv: &mut dyn FnMut(&str, &dyn std::fmt::Display)) {
        let s = self.state.lock();
        let (start, end) = db.journal().bounds();
        match &s.role {
            Role::Primary => {
                kv("role", &"master");
                let attached = self.attached();
                kv("connected_slaves", &attached.len());
                for (i, a) in attached.iter().enumerate() {
                    let ack = a.ack.load(Ordering::Relaxed);
                    let lag = now_ms.saturating_sub(a.last_ack_ms.load(Ordering::Relaxed)) / 1000;
                    let state = if a.online.load(Ordering::Relaxed) {
                        "online"
                    } else {
                        "send_bulk"
                    };
                    kv(
                        &format!("slave{i}"),
                        &format!(
                            "ip={},port={},state={state},offset={ack},lag={lag},name={}",
                            a.addr, a.port, a.name
                        ),
                    );
                }
            }
            Role::Replica(t) => {
                kv("role", &"slave");
                kv("master_host", &t.host);
                kv("master_port", &t.port);
                kv("master_name", &t.name);
                let up = s.link == Link::Up;
                kv("master_link_status", &if up { "up" } else { "down" });
                let io = if s.last_io_ms == 0 {
                    -1
                } else {
                    (now_ms.saturating_sub(s.last_io_ms) / 1000) as i64
                };
                kv("master_last_io_seconds_ago", &io);
                kv("master_sync_in_progress", &u8::from(s.link == Link::Sync));
                kv("slave_read_repl_offset", &end);
                kv("slave_repl_offset", &end);
                kv("slave_priority", &100);
                kv("slave_read_only", &1);
                kv("replica_announced", &1);
                kv("connected_slaves", &0);
            }
        }
        kv("master_failover_state", &"no-failover");
        kv("master_replid", &s.replid);
        kv("master_replid2", &s.replid2);
        kv("master_repl_offset", &end);
        match s.second_offset {
            Some(o) => kv("second_repl_offset", &o),
            None => kv("second_repl_offset", &-1),
        }
        kv("repl_backlog_active", &1);
        kv("repl_backlog_size", &db.journal().capacity());
        kv("repl_backlog_first_byte_offset", &start);
        kv("repl_backlog_histlen", &(end - start));
        // Shoal's own fields, read by the failover supervisor.
        kv("shoal_synced", &u8::from(s.synced));
        kv("shoal_primary_lost_data", &u8::from(s.primary_lost_data));
        kv("shoal_failover_requested", &u8::from(s.failover_requested));
        kv("shoal_held", &u8::from(s.hold.is_some()));
        kv("shoal_leaving", &u8::from(s.leaving));
        if let Some(e) = &s.last_error {
            kv("shoal_last_sync_error", &e.replace(['\r', '\n'], " "));
        }
    }
}

/// This node's role in a topology; None when the topology does not name it.
pub fn role_in(view: &crate::cluster::View) -> Option<Role> {
    let me = view.me?;
    if me.primary {
        return Some(Role::Primary);
    }
    let p = &view.topology.shards[me.shard].primary;
    Some(Role::Replica(Target {
        name: p.name.clone(),
        host: p.host.clone(),
        port: p.port,
    }))
}

/// The primary a promotion of this node takes over from, when it is a
/// handover: this replica follows it over a live link and the new topology
/// keeps it in the shard (as a replica), so it will send [`HANDOVER`] when it
/// applies the topology (or it already did). None: promote at once.
fn handing_over_to_me(s: &State, replicas: Option<&[String]>) -> Option<String> {
    let Role::Replica(t) = &s.role else {
        return None;
    };
    let stays = replicas.is_some_and(|r| r.contains(&t.name));
    let live = s.link == Link::Up && s.synced && !s.primary_lost_data;
    (stays && (live || s.handover_seen.is_some())).then(|| t.name.clone())
}

/// Waits, with this node's shard's commands held, until the old primary's
/// [`HANDOVER`] has come and everything before it is applied, the link
/// drops, or [`TAKEOVER_WAIT`] passes. False when a newer topology arrived
/// meanwhile.
async fn await_handover(
    shared: &crate::server::Shared,
    old: &str,
    rx: &mut tokio::sync::watch::Receiver<u64>,
) -> bool {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + TAKEOVER_WAIT;
    shared
        .repl
        .take_over_until(shared.clock.now_ms() + TAKEOVER_WAIT.as_millis() as u64);
    let outcome = loop {
        let notified = shared.repl.handover.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let s = shared.repl.state();
            if let Some(at) = s.handover_seen {
                break format!("handed over at offset {at}");
            }
            if s.link != Link::Up {
                break "the link to it dropped".to_string();
            }
        }
        if rx.has_changed().unwrap_or(true) {
            return false;
        }
        // The link's state is polled: it changes without a notification.
        let tick = tokio::time::sleep(Duration::from_millis(5));
        tokio::select! {
            _ = notified => {}
            _ = tick => {}
            _ = tokio::time::sleep_until(deadline) => break "no handover came in time".to_string(),
        }
    };
    let waited = started.elapsed();
    shared
        .metrics
        .repl
        .takeover_seconds
        .observe(waited.as_secs_f64());
    tracing::info!(from = %old, outcome = %outcome, waited_ms = waited.as_millis() as u64, "taking over as primary");
    true
}

/// In a cluster, takes the role each applied topology gives this node.
pub async fn roles_from_topology(
    shared: Arc<crate::server::Shared>,
    stop: tokio_util::sync::CancellationToken,
) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let mut rx = cluster.subscribe();
    let mut first = true;
    loop {
        rx.borrow_and_update();
        let view = cluster.view();
        if let Some(role) = view.as_deref().and_then(role_in) {
            let replicas = view.as_deref().and_then(|v| {
                let me = v.me?;
                let shard = &v.topology.shards[me.shard];
                Some(
                    shard
                        .replicas
                        .iter()
                        .map(|r| r.name.clone())
                        .collect::<Vec<_>>(),
                )
            });
            // A process starts without replication history, empty or with
            // a snapshot (which may be older than what a replica holds).
            let hold =
                first && role == Role::Primary && replicas.as_ref().is_some_and(|r| !r.is_empty());
            if role == Role::Primary {
                let followed = handing_over_to_me(&shared.repl.state(), replicas.as_deref());
                if let Some(old) = followed {
                    if !await_handover(&shared, &old, &mut rx).await {
                        // A newer topology came meanwhile: act on that one.
                        continue;
                    }
                }
            }
            shared.repl.set_role(role, &mut shared.db.lock_all());
            if hold {
                shared
                    .repl
                    .hold_for(replicas.unwrap_or_default(), shared.clock.now_ms());
            }
            first = false;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(replid: &str, replid2: &str, second: Option<u64>) -> State {
        State {
            replid2: replid2.into(),
            second_offset: second,
            ..State::new(replid.into())
        }
    }

    fn req(replid: &str, offset: i64, resume: Option<(u64, u64)>) -> SyncRequest {
        SyncRequest {
            replid: replid.into(),
            offset,
            name: "r".into(),
            port: 1,
            resume,
        }
    }

    #[test]
    fn psync_continues_only_within_the_history_and_the_backlog() {
        let s = state("A", "OLD", Some(500));
        let cont = |from| Answer::Continue {
            replid: "A".into(),
            from,
        };
        let full = Answer::Full {
            replid: "A".into(),
            offset: 900,
        };
        assert_eq!(answer(&s, (100, 900), &req("A", 300, None)), cont(300));
        assert_eq!(answer(&s, (100, 900), &req("A", 900, None)), cont(900));
        // Fell out of the backlog, or claims more than was written.
        assert_eq!(answer(&s, (100, 900), &req("A", 50, None)), full);
        assert_eq!(answer(&s, (100, 900), &req("A", 901, None)), full);
        // The old history holds up to where the promotion happened, not beyond:
        // a demoted primary that took more writes must resync.
        assert_eq!(answer(&s, (100, 900), &req("OLD", 500, None)), cont(500));
        assert_eq!(answer(&s, (100, 900), &req("OLD", 501, None)), full);
        assert_eq!(answer(&s, (100, 900), &req("B", 300, None)), full);
        assert_eq!(answer(&s, (100, 900), &req("?", -1, None)), full);
    }

    #[test]
    fn snapshots_resume_while_their_offset_is_held() {
        let s = state("A", NO_ID, None);
        assert_eq!(
            answer(&s, (100, 900), &req("A", -1, Some((42, 200)))),
            Answer::Resume {
                replid: "A".into(),
                offset: 200,
                cursor: 42
            }
        );
        assert!(matches!(
            answer(&s, (300, 900), &req("A", -1, Some((42, 200)))),
            Answer::Full { .. }
        ));
        assert!(matches!(
            answer(&s, (100, 900), &req("B", -1, Some((42, 200)))),
            Answer::Full { .. }
        ));
    }

    #[test]
    fn replicas_do_not_serve_syncs() {
        let mut s = state("A", NO_ID, None);
        s.role = Role::Replica(Target {
            name: "p".into(),
            host: "h".into(),
            port: 1,
        });
        assert!(matches!(
            answer(&s, (0, 0), &req("A", 0, None)),
            Answer::Refuse(_)
        ));
    }

    #[tokio::test]
    async fn wait_counts_online_replicas_that_acknowledged() {
        let r = Arc::new(Replication::new());
        let a = r.attach("r1", "127.0.0.1".into(), 1);
        a.online.store(true, Ordering::Relaxed);
        assert_eq!(r.wait(10, 1, Some(Duration::from_millis(10))).await, 0);
        let waiter = {
            let r = r.clone();
            tokio::spawn(async move { r.wait(10, 1, None).await })
        };
        tokio::task::yield_now().await;
        r.record_ack(&a, 12, 0);
        assert_eq!(waiter.await.unwrap(), 1);
        assert_eq!(r.wait(10, 0, None).await, 1);
    }

    #[test]
    fn a_restarted_primary_holds_until_its_replicas_show_they_have_nothing() {
        let hold = || Hold {
            waiting: vec!["r1".into(), "r2".into()],
            until_ms: 10_000,
            lost: false,
        };
        let named = |name: &str, replid: &str, offset: i64| SyncRequest {
            name: name.into(),
            ..req(replid, offset, None)
        };
        // Fresh replicas everywhere (a new cluster): released once all asked.
        let mut h = hold();
        assert!(!h.heard(&named("r1", "?", -1), "NEW"));
        assert!(!h.heard(&named("r1", "?", -1), "NEW"), "the same one twice");
        assert!(h.heard(&named("r2", "?", -1), "NEW"));
        // A replica with history from before the restart: held whatever the
        // others say, and past the time limit.
        let mut h = hold();
        assert!(!h.heard(&named("r1", "OLD", 5000), "NEW"));
        assert!(!h.heard(&named("r2", "?", -1), "NEW"));
        assert!(h.lost && h.holds(1_000_000));
        // Nobody heard from: the hold ends at its deadline.
        let h = hold();
        assert!(h.holds(9_999) && !h.holds(10_000));
        // A replica already following this history is no claim.
        let mut h = hold();
        assert!(!h.heard(&named("r1", "NEW", 5000), "NEW"));
        assert!(!h.lost);
    }

    #[test]
    fn the_hold_blocks_keys_until_released_and_a_role_change_ends_it() {
        let r = Replication::new();
        assert!(!r.held(0));
        r.hold_for(vec!["r1".into()], 0);
        assert!(r.held(1));
        r.heard_from(&SyncRequest {
            name: "r1".into(),
            ..req("?", -1, None)
        });
        assert!(!r.held(2));
        r.hold_for(vec!["r2".into()], 0);
        assert!(r.held(1));
        assert!(!r.held(HOLD_MAX.as_millis() as u64), "timed out");
        r.hold_for(vec!["r3".into()], 0);
        r.heard_from(&SyncRequest {
            name: "r3".into(),
            ..req("OLD", 10, None)
        });
        assert!(r.held(u64::MAX / 2), "a replica has the data");
        // Replicas that asked before the hold began count.
        let early = Replication::new();
        early.heard_from(&SyncRequest {
            name: "r1".into(),
            ..req("?", -1, None)
        });
        early.hold_for(vec!["r1".into()], 0);
        assert!(!early.held(1), "r1 had already shown it holds nothing");
        early.hold_for(vec!["r1".into(), "r2".into()], 0);
        assert!(early.held(1), "r2 has not asked yet");
        let db = crate::store::Db::new(1);
        r.set_role(
            Role::Replica(Target {
                name: "r1".into(),
                host: "127.0.0.1".into(),
                port: 1,
            }),
            &mut db.lock_all(),
        );
        assert!(
            !r.held(0),
            "demoted: it follows the replica that has the data"
        );
    }
}
