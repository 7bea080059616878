//! Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH,
//! the shard channel forms SSUBSCRIBE SUNSUBSCRIBE SPUBLISH (7.0), and PUBSUB
//! CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP. Delivery is in
//! `crate::pubsub`; the connection writes a subscriber's messages.

use crate::cmd::flags::*;
use crate::cmd::table::{c, CommandSpec};
use crate::cmd::{CmdError, Ctx, Session};
use crate::pubsub::{Hub, Kind, Subscriber};
use crate::resp::Args;
use std::sync::Arc;

const PS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    c!("subscribe", -2, PS, (0, 0, 0), "pubsub slow", "pubsub", "2.0.0", "Listen for messages published to the given channels", subscribe),
    c!("unsubscribe", -1, PS, (0, 0, 0), "pubsub slow", "pubsub", "2.0.0", "Stop listening for messages posted to the given channels", unsubscribe),
    c!("psubscribe", -2, PS, (0, 0, 0), "pubsub slow", "pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", psubscribe),
    c!("punsubscribe", -1, PS, (0, 0, 0), "pubsub slow", "pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", punsubscribe),
    c!("publish", 3, PUBSUB | LOADING | STALE | FAST, (0, 0, 0), "pubsub fast", "pubsub", "2.0.0", "Post a message to a channel", publish),
    c!("ssubscribe", -2, PS, (1, -1, 1), "pubsub slow", "pubsub", "7.0.0", "Listen for messages published to the given shard channels", ssubscribe),
    c!("sunsubscribe", -1, PS, (1, -1, 1), "pubsub slow", "pubsub", "7.0.0", "Stop listening for messages posted to the given shard channels", sunsubscribe),
    c!("spublish", 3, PUBSUB | LOADING | STALE | FAST, (1, 1, 1), "pubsub fast", "pubsub", "7.0.0", "Post a message to a shard channel", spublish),
    crate::cmd::table::container!("pubsub", -2, 0, "slow", "pubsub", "2.8.0", "A container for Pub/Sub commands", None, &[
        c!("pubsub|channels", -2, PUBSUB | LOADING | STALE, (0, 0, 0), "pubsub slow", "pubsub", "2.8.0", "List active channels", channels),
        c!("pubsub|numsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0), "pubsub slow", "pubsub", "2.8.0", "Get the count of subscribers for channels", numsub),
        c!("pubsub|numpat", 2, PUBSUB | LOADING | STALE, (0, 0, 0), "pubsub slow", "pubsub", "2.8.0", "Get the count of unique patterns pattern subscriptions", numpat),
        c!("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE, (0, 0, 0), "pubsub slow", "pubsub", "7.0.0", "List active shard channels", shardchannels),
        c!("pubsub|shardnumsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0), "pubsub slow", "pubsub", "7.0.0", "Get the count of subscribers for shard channels", shardnumsub),
        c!("pubsub|help", 2, LOADING | STALE, (0, 0, 0), "slow", "pubsub", "6.2.0", "Show helpful text about the different subcommands", help),
    ]),
];

/// A connection's subscriptions, in the order made (UNSUBSCRIBE without
/// arguments answers in that order).
pub struct Subscriptions {
    pub sub: Arc<Subscriber>,
    /// Messages for the connection to write.
    pub rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    channels: Vec<Box<[u8]>>,
    patterns: Vec<Box<[u8]>>,
    shard: Vec<Box<[u8]>>,
}

impl Subscriptions {
    fn list(&mut self, kind: Kind) -> &mut Vec<Box<[u8]>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// What SUBSCRIBE and friends report: channels and patterns together,
    /// shard channels apart, as Redis 7.0 counts them.
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// Shows the counts in CLIENT LIST.
    fn publish_counts(&self) {
        *self.sub.client.subscriptions.lock() =
            [self.channels.len(), self.patterns.len(), self.shard.len()];
    }
}

/// Whether the session has any subscription (RESP2 then only takes pub/sub
/// commands, PING, QUIT and RESET).
pub fn subscribed(session: &Session) -> bool {
    session.pubsub.as_ref().is_some_and(|s| s.total() > 0)
}

/// (P|S)(UN)SUBSCRIBE, whose replies are pushes in RESP3.
pub fn confirms_with_push(name: &[u8]) -> bool {
    [
        "subscribe",
        "ssubscribe",
        "psubscribe",
        "unsubscribe",
        "sunsubscribe",
        "punsubscribe",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Commands a RESP2 client may send while subscribed.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "ssubscribe"
            | "psubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn names(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
    }
}

fn hub<'a>(ctx: &Ctx<'a>) -> &'a Hub {
    &ctx.shared.pubsub
}

fn add(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Result<(), CmdError> {
    let resp3 = ctx.out.resp3();
    let hub = hub(ctx);
    let subs = ctx.session.pubsub.get_or_insert_with(|| {
        let (sub, rx) = Subscriber::new(ctx.session.client.clone(), resp3);
        Subscriptions {
            sub,
            rx,
            channels: Vec::new(),
            patterns: Vec::new(),
            shard: Vec::new(),
        }
    });
    subs.sub.set_resp3(resp3);
    let was = subs.total();
    for name in args.tail(1).iter() {
        if !subs.list(kind).iter().any(|n| **n == *name) {
            subs.list(kind).push(Box::from(name));
            hub.subscribe(kind, name, &subs.sub);
        }
        ctx.out.push(3);
        ctx.out.bulk(names(kind).0.as_bytes());
        ctx.out.bulk(name);
        ctx.out.int(subs.count(kind) as i64);
    }
    if was == 0 && subs.total() > 0 {
        hub.client_subscribed(true);
    }
    subs.publish_counts();
    Ok(())
}

fn remove(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Result<(), CmdError> {
    let hub = hub(ctx);
    let word = names(kind).1.as_bytes();
    let Some(subs) = ctx.session.pubsub.as_mut() else {
        if args.len() == 1 {
            ctx.out.push(3);
            ctx.out.bulk(word);
            ctx.out.null();
            ctx.out.int(0);
        } else {
            for name in args.tail(1).iter() {
                ctx.out.push(3);
                ctx.out.bulk(word);
                ctx.out.bulk(name);
                ctx.out.int(0);
            }
        }
        return Ok(());
    };
    let was = subs.total();
    let targets: Vec<Box<[u8]>> = if args.len() == 1 {
        subs.list(kind).clone()
    } else {
        args.tail(1).iter().map(Box::from).collect()
    };
    if targets.is_empty() {
        ctx.out.push(3);
        ctx.out.bulk(word);
        ctx.out.null();
        ctx.out.int(subs.count(kind) as i64);
    }
    for name in &targets {
        let list = subs.list(kind);
        if let Some(i) = list.iter().position(|n| n == name) {
            list.remove(i);
            hub.unsubscribe(kind, name, &subs.sub);
        }
        ctx.out.push(3);
        ctx.out.bulk(word);
        ctx.out.bulk(name);
        ctx.out.int(subs.count(kind) as i64);
    }
    if was > 0 && subs.total() == 0 {
        hub.client_subscribed(false);
    }
    subs.publish_counts();
    Ok(())
}

/// Drops every subscription (connection closed, RESET).
pub fn end(session: &mut Session, hub: &Hub) {
    let Some(subs) = session.pubsub.take() else {
        return;
    };
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        let names = match kind {
            Kind::Channel => &subs.channels,
            Kind::Pattern => &subs.patterns,
            Kind::Shard => &subs.shard,
        };
        for n in names {
            hub.unsubscribe(kind, n, &subs.sub);
        }
    }
    if subs.total() > 0 {
        hub.client_subscribed(false);
    }
    *subs.sub.client.subscriptions.lock() = [0; 3];
}

pub fn subscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    add(ctx, args, Kind::Channel)
}

pub fn psubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    add(ctx, args, Kind::Pattern)
}

pub fn ssubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    add(ctx, args, Kind::Shard)
}

pub fn unsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    remove(ctx, args, Kind::Channel)
}

pub fn punsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    remove(ctx, args, Kind::Pattern)
}

pub fn sunsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    remove(ctx, args, Kind::Shard)
}

fn limit(ctx: &Ctx<'_>) -> u64 {
    ctx.settings.obuf_pubsub.hard
}

pub fn publish(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let n = hub(ctx).publish(args.get(1), args.get(2), limit(ctx));
    ctx.out.int(n as i64);
    Ok(())
}

pub fn spublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let n = hub(ctx).spublish(args.get(1), args.get(2), limit(ctx));
    ctx.out.int(n as i64);
    Ok(())
}

fn list_names(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(args.get(1))
        )));
    }
    let pattern = (args.len() == 3).then(|| args.get(2));
    let names = hub(ctx).names(kind, pattern);
    ctx.out.array(names.len());
    for n in &names {
        ctx.out.bulk(n);
    }
    Ok(())
}

fn counts(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Result<(), CmdError> {
    let hub = hub(ctx);
    // A flat array in RESP3 too, as Redis 7.0 answers.
    ctx.out.array(2 * (args.len() - 2));
    for name in args.tail(2).iter() {
        ctx.out.bulk(name);
        ctx.out.int(hub.count(kind, name) as i64);
    }
    Ok(())
}

pub fn channels(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    list_names(ctx, args, Kind::Channel)
}

pub fn shardchannels(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    list_names(ctx, args, Kind::Shard)
}

pub fn numsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    counts(ctx, args, Kind::Channel)
}

pub fn shardnumsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    counts(ctx, args, Kind::Shard)
}

pub fn numpat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let n = hub(ctx).patterns();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    crate::cmd::server::help_reply_with(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
        "    Prints this help.",
    );
    Ok(())
}
