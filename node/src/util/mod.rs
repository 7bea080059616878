//! Small pure helpers shared by the protocol, the store and the commands.

pub use shoal_core::util::{glob, num, size};
pub mod range;
