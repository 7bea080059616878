//! CLUSTER INFO and CLUSTER MYID.

use crate::cluster::slot::SLOTS;
use crate::cluster::NodeAddr;
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let view = super::view(ctx)?;
    let (state, assigned, nodes, size, epoch, my_epoch) = match &view {
        Some(v) => {
            let t = &v.topology;
            let size = t.shards.iter().filter(|s| !s.slots.is_empty()).count();
            let my_epoch = if v.me.is_some() { t.epoch } else { 0 };
            let state = if v.serving() { "ok" } else { "fail" };
            (
                state,
                v.assigned(),
                t.nodes().count(),
                size,
                t.epoch,
                my_epoch,
            )
        }
        None => ("fail", 0, 1, 0, 0, 0),
    };
    let m = &ctx.shared.metrics.cluster;
    // Where this node's slot imports stand, for the resize coordinator.
    let imports = ctx
        .shared
        .cluster
        .as_ref()
        .map(|c| c.imports.counts())
        .unwrap_or_default();
    let text = format!(
        "cluster_state:{state}\r\n\
         cluster_slots_assigned:{assigned}\r\n\
         cluster_slots_ok:{assigned}\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\n\
         cluster_known_nodes:{nodes}\r\n\
         cluster_size:{size}\r\n\
         cluster_current_epoch:{epoch}\r\n\
         cluster_my_epoch:{my_epoch}\r\n\
         cluster_stats_messages_ping_sent:0\r\n\
         cluster_stats_messages_pong_sent:0\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_ping_received:0\r\n\
         cluster_stats_messages_pong_received:0\r\n\
         cluster_stats_messages_meet_received:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n\
         shoal_topology_epoch:{epoch}\r\n\
         shoal_unassigned_slots:{}\r\n\
         shoal_forwarded_commands:{}\r\n\
         shoal_imports_connecting:{}\r\n\
         shoal_imports_snapshot:{}\r\n\
         shoal_imports_streaming:{}\r\n\
         shoal_imports_released:{}\r\n\
         shoal_imports_done:{}\r\n\
         shoal_imported_keys:{}\r\n",
        usize::from(SLOTS) - assigned,
        m.forwarded.get(),
        imports[0],
        imports[1],
        imports[2],
        imports[3],
        imports[4],
        m.imported_keys.get(),
    );
    ctx.out.verbatim(&text);
    Ok(())
}

pub fn myid(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let cluster = super::cluster(ctx)?;
    // The id is derived from the name, so it is known before any topology.
    let id = NodeAddr {
        name: cluster.me.clone(),
        host: String::new(),
        port: 0,
    }
    .id();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}
