//! The node's options are declared in `shoal_core::config` (the operator
//! validates a CacheCluster's `config` with the same code); here is what the
//! runtime settings mean to the node's protocol and store.

pub use shoal_core::config::*;

/// Views of [`Settings`] in the node's own types.
pub trait SettingsExt {
    fn request_limits(&self) -> crate::resp::RequestLimits;
    fn access_mode(&self) -> crate::store::AccessMode;
}

impl SettingsExt for Settings {
    fn request_limits(&self) -> crate::resp::RequestLimits {
        crate::resp::RequestLimits {
            max_bulk: self.proto_max_bulk_len as usize,
            max_args: self.proto_max_multibulk_len as usize,
            max_inline: self.proto_inline_max_size as usize,
        }
    }

    fn access_mode(&self) -> crate::store::AccessMode {
        crate::store::AccessMode {
            lfu: self.maxmemory_policy.is_lfu(),
            lfu_log_factor: self.lfu_log_factor,
            lfu_decay_time: self.lfu_decay_time,
        }
    }
}
