//! Small pure helpers shared by the protocol, the store, the commands and the
//! configuration.

pub mod glob;
pub mod num;
pub mod size;
