//! The registry of connected clients, for CLIENT LIST/KILL, idle timeouts,
//! maxclients and graceful shutdown.
//!
//! What other tasks need to see of a connection lives in [`ClientInfo`] behind
//! atomics; the connection updates it once per batch, not per command.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// Unix ms when the connection was accepted.
    pub created_ms: u64,
    /// Unix ms of the last command batch.
    pub last_interaction_ms: AtomicU64,
    /// Table index of the last command run (for `cmd=` in CLIENT LIST).
    pub last_command: AtomicUsize,
    pub resp: AtomicU8,
    pub name: Mutex<Option<String>>,
    pub lib_name: Mutex<Option<String>>,
    pub lib_ver: Mutex<Option<String>>,
    pub user: Mutex<String>,
    /// Input and output buffer sizes, for CLIENT LIST `qbuf=` and `omem=`.
    pub qbuf: AtomicUsize,
    pub obuf: AtomicUsize,
    killed: AtomicBool,
    kill: Notify,
    /// The blocking command this client waits in, for CLIENT UNBLOCK.
    pub blocked: Mutex<Option<std::sync::Weak<crate::store::Waiter>>>,
    /// Channels, patterns and shard channels subscribed (CLIENT LIST).
    pub subscriptions: Mutex<[usize; 3]>,
}

impl ClientInfo {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, now_ms: u64) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            created_ms: now_ms,
            last_interaction_ms: AtomicU64::new(now_ms),
            last_command: AtomicUsize::new(usize::MAX),
            resp: AtomicU8::new(2),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            user: Mutex::new("default".into()),
            qbuf: AtomicUsize::new(0),
            obuf: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            blocked: Mutex::new(None),
            subscriptions: Mutex::new([0; 3]),
        }
    }

    /// Asks the connection to close once its current batch is answered.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        // notify_one stores a permit, so a kill during a batch is not lost.
        self.kill.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves when the client is killed.
    pub async fn killed(&self) {
        self.kill.notified().await
    }
}

#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn insert(&self, c: Arc<ClientInfo>) {
        self.map.lock().insert(c.id, c);
    }

    pub fn remove(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every client, in connection order.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().get(&id).cloned()
    }

    pub fn kill_all(&self) {
        for c in self.map.lock().values() {
            c.kill();
        }
    }

    /// Kills clients idle longer than `timeout_ms`; returns how many.
    pub fn kill_idle(&self, now_ms: u64, timeout_ms: u64) -> usize {
        let mut n = 0;
        for c in self.map.lock().values() {
            let last = c.last_interaction_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) > timeout_ms && !c.is_killed() {
                c.kill();
                n += 1;
            }
        }
        n
    }
}
