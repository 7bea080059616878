//! Pub/sub: who listens to which channel, pattern and shard channel, and the
//! delivery of published messages to their connections.
//!
//! Each subscribed connection owns an unbounded queue of encoded messages that
//! its connection task writes out between command batches; what is queued and
//! not yet written counts against `client-output-buffer-limit pubsub`, and a
//! subscriber past the hard limit is disconnected (as Redis does) instead of
//! growing without bound.

use crate::client::ClientInfo;
use crate::resp::Reply;
use crate::util::glob;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One subscribed connection, as the hub sees it.
pub struct Subscriber {
    pub client: Arc<ClientInfo>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes queued and not yet written by the connection.
    pending: AtomicUsize,
    /// The connection speaks RESP3: messages are pushes (`>`).
    resp3: AtomicBool,
}

impl Subscriber {
    pub fn new(
        client: Arc<ClientInfo>,
        resp3: bool,
    ) -> (Arc<Subscriber>, mpsc::UnboundedReceiver<Vec<u8>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let s = Subscriber {
            client,
            tx,
            pending: AtomicUsize::new(0),
            resp3: AtomicBool::new(resp3),
        };
        (Arc::new(s), rx)
    }

    pub fn set_resp3(&self, on: bool) {
        self.resp3.store(on, Ordering::Relaxed);
    }

    /// The connection wrote `n` queued bytes.
    pub fn written(&self, n: usize) {
        self.pending.fetch_sub(
            n.min(self.pending.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }

    fn deliver(&self, msg: &Encoded, limit: u64) {
        let bytes = msg.get(self.resp3.load(Ordering::Relaxed));
        let queued = self.pending.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if limit > 0 && queued as u64 > limit {
            self.client.kill();
            return;
        }
        // A closed receiver means the connection is ending: nothing to do.
        let _ = self.tx.send(bytes.to_vec());
    }
}

/// A message encoded once per protocol, lazily.
struct Encoded<'a> {
    parts: [&'a [u8]; 4],
    n: usize,
    resp2: std::cell::OnceCell<Vec<u8>>,
    resp3: std::cell::OnceCell<Vec<u8>>,
}

impl<'a> Encoded<'a> {
    fn new(parts: &[&'a [u8]]) -> Encoded<'a> {
        let mut a: [&[u8]; 4] = [b""; 4];
        a[..parts.len()].copy_from_slice(parts);
        Encoded {
            parts: a,
            n: parts.len(),
            resp2: std::cell::OnceCell::new(),
            resp3: std::cell::OnceCell::new(),
        }
    }

    fn get(&self, resp3: bool) -> &[u8] {
        let cell = if resp3 { &self.resp3 } else { &self.resp2 };
        cell.get_or_init(|| {
            let mut r = Reply::new();
            r.set_resp3(resp3);
            r.push(self.n);
            for p in &self.parts[..self.n] {
                r.bulk(p);
            }
            r.buffer().to_vec()
        })
    }
}

/// Which namespace a subscription lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

type Subs = Vec<Arc<Subscriber>>;

#[derive(Default)]
pub struct Hub {
    channels: RwLock<HashMap<Box<[u8]>, Subs>>,
    patterns: RwLock<HashMap<Box<[u8]>, Subs>>,
    shard: RwLock<HashMap<Box<[u8]>, Subs>>,
    /// Connections with at least one subscription (INFO pubsub_clients).
    clients: AtomicUsize,
}

impl Hub {
    fn map(&self, kind: Kind) -> &RwLock<HashMap<Box<[u8]>, Subs>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &[u8], s: &Arc<Subscriber>) {
        let mut m = self.map(kind).write();
        let list = m.entry(Box::from(name)).or_default();
        if !list.iter().any(|x| Arc::ptr_eq(x, s)) {
            list.push(s.clone());
        }
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], s: &Arc<Subscriber>) {
        let mut m = self.map(kind).write();
        if let Some(list) = m.get_mut(name) {
            list.retain(|x| !Arc::ptr_eq(x, s));
            if list.is_empty() {
                m.remove(name);
            }
        }
    }

    pub fn client_subscribed(&self, first: bool) {
        if first {
            self.clients.fetch_add(1, Ordering::Relaxed);
        } else {
            self.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn subscribed_clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// PUBLISH: delivers to channel subscribers, then to matching patterns;
    /// returns how many deliveries were made (a client subscribed twice counts
    /// twice, as in Redis).
    pub fn publish(&self, channel: &[u8], message: &[u8], limit: u64) -> usize {
        let mut n = 0;
        if let Some(list) = self.channels.read().get(channel) {
            let enc = Encoded::new(&[b"message", channel, message]);
            for s in list {
                s.deliver(&enc, limit);
                n += 1;
            }
        }
        let patterns = self.patterns.read();
        for (p, list) in patterns.iter() {
            if glob::matches(p, channel, false) {
                let enc = Encoded::new(&[b"pmessage", p, channel, message]);
                for s in list {
                    s.deliver(&enc, limit);
                    n += 1;
                }
            }
        }
        n
    }

    /// SPUBLISH: shard channel subscribers only.
    pub fn spublish(&self, channel: &[u8], message: &[u8], limit: u64) -> usize {
        let shard = self.shard.read();
        let Some(list) = shard.get(channel) else {
            return 0;
        };
        let enc = Encoded::new(&[b"smessage", channel, message]);
        for s in list {
            s.deliver(&enc, limit);
        }
        list.len()
    }

    /// Active names of a namespace matching `pattern` (PUBSUB CHANNELS).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.map(kind)
            .read()
            .keys()
            .filter(|k| pattern.is_none_or(|p| glob::matches(p, k, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of a name (PUBSUB NUMSUB / SHARDNUMSUB).
    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).read().get(name).map_or(0, Vec::len)
    }

    /// Distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn patterns(&self) -> usize {
        self.patterns.read().len()
    }
}
