//! The generated auth Secret.

use super::{Ctx, Inputs};
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// The key of the password in the generated Secret (and the file the node reads).
pub const PASSWORD_KEY: &str = "password";

/// 32 random bytes from the OS, hex encoded: 256 bits, printable, no quoting.
pub fn generate_password() -> String {
    let mut b = [0u8; 32];
    // The OS generator failing leaves nothing safe to fall back on.
    getrandom::fill(&mut b).expect("the operating system's random generator works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The Secret the operator owns when auth is on and the user named none. An
/// existing password is kept, so applying it again never rotates it.
pub(super) fn auth_secret(ctx: &Ctx<'_>, inputs: &Inputs) -> Option<Secret> {
    let auth = ctx.cc.spec.auth.as_ref()?;
    if !auth.enabled || auth.secret_ref.is_some() {
        return None;
    }
    let password = inputs
        .existing_password
        .clone()
        .unwrap_or_else(generate_password);
    Some(Secret {
        metadata: ctx.meta(ctx.names().auth_secret()),
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(PASSWORD_KEY.to_string(), password)])),
        ..Secret::default()
    })
}
