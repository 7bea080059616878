//! Small pure helpers shared by the protocol, the store and the commands.

pub mod glob;
pub mod num;
pub mod range;
pub mod size;
