//! Audit tooling over the log.

pub mod verify;
