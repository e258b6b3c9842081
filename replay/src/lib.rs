//! Audit tooling over the log.

pub mod export;
pub mod state;
pub mod verify;
