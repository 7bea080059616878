//! CLUSTER SHARDS, SLOTS and NODES: three ways clients read the slot map.
//! Node entries carry the topology's stable address (a DNS name in Kubernetes)
//! where Redis puts the IP, so clients connect by name.

use crate::cluster::topology::Shard;
use crate::cluster::{NodeAddr, View};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::resp::Reply;

/// Each shard's ranges, sorted by first slot: (start, end, shard).
fn ranges(view: &View) -> Vec<(u16, u16, &Shard)> {
    let mut out: Vec<_> = view
        .topology
        .shards
        .iter()
        .flat_map(|s| s.slots.iter().map(move |r| (r.start, r.end, s)))
        .collect();
    out.sort_by_key(|r| r.0);
    out
}

/// Whether discovery or the topology says `node` is the one answering.
fn is_me(view: &View, node: &NodeAddr) -> bool {
    node.name == view.my_name
}

pub fn slots(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let view = super::view(ctx)?;
    super::routes_itself(ctx);
    let Some(view) = view else {
        ctx.out.array(0);
        return Ok(());
    };
    let ranges = ranges(&view);
    let out = &mut *ctx.out;
    out.array(ranges.len());
    for (start, end, shard) in ranges {
        out.array(3 + shard.replicas.len());
        out.int(i64::from(start));
        out.int(i64::from(end));
        for n in std::iter::once(&shard.primary).chain(&shard.replicas) {
            out.array(4);
            out.bulk(n.host.as_bytes());
            out.int(i64::from(n.port));
            out.bulk(n.id().as_bytes());
            // Further endpoints (hostname, ip) Redis would list: none known.
            out.map(0);
        }
    }
    Ok(())
}

fn shard_node(out: &mut Reply, n: &NodeAddr, primary: bool) {
    out.map(7);
    out.bulk(b"id");
    out.bulk(n.id().as_bytes());
    out.bulk(b"port");
    out.int(i64::from(n.port));
    out.bulk(b"ip");
    out.bulk(n.host.as_bytes());
    out.bulk(b"endpoint");
    out.bulk(n.host.as_bytes());
    out.bulk(b"role");
    out.bulk(if primary { b"master" } else { b"replica" });
    out.bulk(b"replication-offset");
    out.int(0);
    out.bulk(b"health");
    out.bulk(b"online");
}

pub fn shards(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let view = super::view(ctx)?;
    super::routes_itself(ctx);
    let Some(view) = view else {
        ctx.out.array(0);
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.array(view.topology.shards.len());
    for s in &view.topology.shards {
        out.map(2);
        out.bulk(b"slots");
        let mut rs = s.slots.clone();
        rs.sort();
        out.array(rs.len() * 2);
        for r in rs {
            out.int(i64::from(r.start));
            out.int(i64::from(r.end));
        }
        out.bulk(b"nodes");
        out.array(1 + s.replicas.len());
        shard_node(out, &s.primary, true);
        for r in &s.replicas {
            shard_node(out, r, false);
        }
    }
    Ok(())
}

/// CLUSTER NODES text: one line per node, as Redis writes them.
pub fn nodes_text(view: &View) -> String {
    let mut text = String::new();
    for (i, n, primary) in view.topology.nodes() {
        let shard = &view.topology.shards[i];
        let mut flags = String::new();
        if is_me(view, n) {
            flags.push_str("myself,");
        }
        flags.push_str(if primary { "master" } else { "slave" });
        let master = if primary {
            "-".to_string()
        } else {
            shard.primary.id()
        };
        text.push_str(&format!(
            "{} {}:{}@0 {flags} {master} 0 0 {} connected",
            n.id(),
            n.host,
            n.port,
            view.epoch()
        ));
        if primary {
            let mut rs = shard.slots.clone();
            rs.sort();
            for r in rs {
                text.push(' ');
                text.push_str(&r.to_string());
            }
        }
        text.push('\n');
    }
    text
}

pub fn nodes(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let view = super::view(ctx)?;
    super::routes_itself(ctx);
    let text = match view {
        Some(v) => nodes_text(&v),
        None => String::new(),
    };
    ctx.out.verbatim(&text);
    Ok(())
}
