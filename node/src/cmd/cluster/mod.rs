//! Cluster commands: the topology as clients read it (SHARDS, SLOTS, NODES,
//! INFO, MYID), slot arithmetic (KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT) and
//! the per-connection routing switches (READONLY, READWRITE, ASKING). Reply
//! shapes follow redis-server 7.0 in cluster mode.

pub mod conn;
pub mod failover;
pub mod info;
pub mod keys;
pub mod topology;

use crate::cluster::{Cluster, View};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use std::sync::Arc;

/// The error Redis gives when cluster mode is off.
pub fn disabled() -> CmdError {
    CmdError::err("This instance has cluster support disabled")
}

/// The node's cluster membership, or the error for a standalone node.
pub fn cluster<'a>(ctx: &Ctx<'a>) -> Result<&'a Cluster, CmdError> {
    ctx.shared.cluster.as_ref().ok_or_else(disabled)
}

/// The topology held now; None before the first one arrives.
pub fn view(ctx: &Ctx<'_>) -> Result<Option<Arc<View>>, CmdError> {
    Ok(cluster(ctx)?.view())
}

/// A client that asks for the slot map routes by itself: from now on it gets
/// MOVED/ASK rather than forwarding, even on the forwarding port.
pub fn routes_itself(ctx: &mut Ctx<'_>) {
    ctx.session.forwarding = false;
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    cluster(ctx)?;
    crate::cmd::server::help_reply(
        ctx,
        "CLUSTER",
        &[
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
        ],
    );
    Ok(())
}
