//! The topology from a file (outside Kubernetes): read at start, then re-read
//! whenever its content changes. A file being rewritten may be caught half
//! written; such a read fails to parse and the next poll picks up the whole
//! document. Writers should write a temporary file and rename it.

use crate::server::Shared;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How often the file is checked: nodes apply a new document at most this far
/// apart, which bounds how long a slot's new owner may wait for the old one at
/// a resize's cutover.
pub const POLL: Duration = Duration::from_millis(50);

/// Offers the file's topology to the node now and after every change.
pub async fn watch(shared: Arc<Shared>, path: PathBuf, stop: CancellationToken) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let mut last: Option<String> = None;
    let mut reported: Option<String> = None;
    loop {
        match tokio::fs::read_to_string(&path).await {
            Ok(text) if last.as_deref() != Some(text.as_str()) => {
                match crate::cluster::Topology::parse(&text)
                    .and_then(|t| cluster.offer(t, &shared.metrics))
                {
                    Ok(_) => {
                        // Without discovery, every node the file names counts as a peer.
                        if let Some(v) = cluster.view() {
                            let others =
                                v.topology.nodes().filter(|(_, n, _)| n.name != cluster.me);
                            cluster.set_peers(others.count(), &shared.metrics);
                        }
                        reported = None;
                        last = Some(text);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if reported.as_deref() != Some(msg.as_str()) {
                            shared.metrics.cluster.refused_topologies.inc();
                            warn!(file = %path.display(), error = %msg, "topology file not usable; keeping the current topology");
                            reported = Some(msg);
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                if reported.as_deref() != Some(msg.as_str()) {
                    warn!(file = %path.display(), error = %msg, "cannot read the topology file");
                    reported = Some(msg);
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
            // The primary handed over: it read a topology this node has not
            // yet; reading it now shortens the shard's write pause.
            _ = shared.repl.handed_over() => {}
        }
    }
}
