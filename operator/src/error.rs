//! Reconcile errors. Each has a short `metric_label` for metrics and the Degraded
//! condition's reason.

use crate::render::RenderError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    #[error("Secret {name} not found: create it, or drop the reference to let the operator generate one")]
    SecretMissing { name: String },
    #[error("Secret {name} has no key {key}")]
    SecretKeyMissing { name: String, key: String },
    #[error("TLS Secret {name}: {reason}")]
    TlsSecret { name: String, reason: String },
    #[error("another field manager owns fields of {kind} {name}: {message}")]
    Conflict {
        kind: String,
        name: String,
        message: String,
    },
    #[error("Kubernetes API error: {0}")]
    Kube(#[source] kube::Error),
}

impl Error {
    /// A bounded label for metrics and the Degraded condition's reason.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::SecretMissing { .. }
            | Error::SecretKeyMissing { .. }
            | Error::TlsSecret { .. } => "SecretMissing",
            Error::Conflict { .. } => "FieldConflict",
            Error::Kube(_) => "KubernetesAPIError",
        }
    }

    /// Whether retrying soon can help (an API hiccup), as opposed to waiting for
    /// the user to change something.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Kube(_) | Error::Conflict { .. })
    }
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        Error::InvalidSpec(e.to_string())
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Error::Kube(e)
    }
}
