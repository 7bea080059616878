//! The Secrets a CacheCluster names, in one place: which Secret and key hold
//! the password, and the TLS certificate, key and CA.

use crate::crd::{CacheCluster, TlsSpec};
use crate::error::Error;
use crate::render::{Names, PASSWORD_KEY};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use std::sync::Arc;

pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_KEY_KEY: &str = "tls.key";
pub const CA_KEY: &str = "ca.crt";

/// The (Secret, key) holding the password; None when auth is off.
pub fn password_source(cc: &CacheCluster) -> Option<(String, String)> {
    let auth = cc.spec.auth.as_ref().filter(|a| a.enabled)?;
    Some(match &auth.secret_ref {
        Some(r) => (r.name.clone(), r.key.clone()),
        None => (
            Names(&cc.name_any()).auth_secret(),
            PASSWORD_KEY.to_string(),
        ),
    })
}

/// The user nodes' links and the operator's probes log in as when the
/// cluster has ACL users (nodes add it, with the password Secret's password).
pub const LINK_USER: &str = "shoal-internal";
/// Where the ACL Secret's file is mounted, under the name the node reads.
pub const ACL_FILE_KEY: &str = "users.acl";

/// Who the operator logs in to nodes as.
pub fn login_user(cc: &CacheCluster) -> &'static str {
    let acl = cc
        .spec
        .auth
        .as_ref()
        .is_some_and(|a| a.enabled && a.acl_secret_ref.is_some());
    if acl {
        LINK_USER
    } else {
        "default"
    }
}

/// A key's value, from `data` or from a not yet converted `stringData`.
pub fn value(s: &Secret, key: &str) -> Option<Vec<u8>> {
    s.data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            s.string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.clone().into_bytes())
        })
}

async fn tls_value(api: &Api<Secret>, name: &str, key: &str) -> Result<Vec<u8>, Error> {
    let s = api.get_opt(name).await?.ok_or_else(|| Error::TlsSecret {
        name: name.into(),
        reason: "not found: create it (cert-manager can) or remove spec.tls".into(),
    })?;
    value(&s, key).ok_or_else(|| Error::SecretKeyMissing {
        name: name.into(),
        key: key.into(),
    })
}

/// Reads the TLS Secrets and builds the client configuration the operator
/// probes nodes with: trusting the CA, and presenting the nodes' certificate
/// when they require client certificates. Fails, naming the Secret, when one
/// is missing, lacks a key, or holds something that is not a usable PEM.
pub async fn tls_client(
    api: &Api<Secret>,
    tls: &TlsSpec,
) -> Result<Arc<shoal_core::tls::ClientConfig>, Error> {
    let cert_secret = &tls.secret_ref.name;
    let cert = tls_value(api, cert_secret, TLS_CERT_KEY).await?;
    let key = tls_value(api, cert_secret, TLS_KEY_KEY).await?;
    let ca = tls_value(api, tls.ca_secret(), CA_KEY).await?;
    let invalid = |name: &str| {
        let name = name.to_string();
        move |e: shoal_core::tls::TlsError| Error::TlsSecret {
            name,
            reason: e.to_string(),
        }
    };
    // Both checked whether or not the identity is presented: a node would
    // refuse to start with either unusable.
    shoal_core::tls::client_config(&ca, std::path::Path::new(CA_KEY), Some((&cert, &key)))
        .map_err(invalid(cert_secret))?;
    let identity = tls
        .auth_clients
        .then_some((cert.as_slice(), key.as_slice()));
    shoal_core::tls::client_config(&ca, std::path::Path::new(CA_KEY), identity)
        .map_err(invalid(tls.ca_secret()))
}
