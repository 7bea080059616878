//! CONFIG GET pattern [pattern ...], CONFIG SET param value [param value ...],
//! CONFIG HELP. SET is all-or-nothing, as in Redis 7.

use crate::cmd::{CmdError, Ctx};
use crate::config::{param, PARAMS};
use crate::resp::Args;
use crate::util::glob;
use std::sync::Arc;

pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let mut found: Vec<(&str, String)> = Vec::new();
    for pattern in args.tail(2).iter() {
        for p in PARAMS {
            if glob::matches(pattern, p.name.as_bytes(), true)
                && !found.iter().any(|(n, _)| *n == p.name)
            {
                found.push((p.name, (p.get)(&ctx.settings, &ctx.shared.config)));
            }
        }
    }
    ctx.out.map(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

pub fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Arity("config|set".into()));
    }
    let failed = |name: &str, why: &str| {
        CmdError::err(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    let mut next = (*ctx.settings).clone();
    let mut seen: Vec<&str> = Vec::new();
    for i in (2..args.len()).step_by(2) {
        let raw = String::from_utf8_lossy(args.get(i));
        let Some(p) = param(&raw) else {
            return Err(CmdError::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{raw}'"
            )));
        };
        if seen.contains(&p.name) {
            return Err(failed(p.name, "duplicate parameter"));
        }
        seen.push(p.name);
        let crate::config::Kind::Runtime(setter) = p.kind else {
            return Err(failed(p.name, "can't set immutable config"));
        };
        let value = String::from_utf8_lossy(args.get(i + 1));
        setter(&mut next, &value).map_err(|why| failed(p.name, &why))?;
    }
    let next = Arc::new(next);
    ctx.shared
        .apply_settings(next.clone(), ctx.now, &mut ctx.keys);
    ctx.session.evict_pending = true;
    ctx.settings = next;
    ctx.out.ok();
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
        ],
    );
    Ok(())
}
