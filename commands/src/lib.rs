//! Oxbow's commands and the pure deciders that turn them into events.
//!
//! A decider is `decide(command, state, context) -> events | rejection` and
//! `evolve(state, event) -> state`: synchronous, deterministic, no I/O. The current time and
//! fresh ids come in through [`CommandContext`].

pub mod access;
pub mod agents;
pub mod billing;
mod command_enum;
mod decider;
mod error;
pub mod runs;
pub mod testing;
pub mod validate;
pub mod workflows;
pub mod workspace;

pub use command_enum::Validate;
pub(crate) use command_enum::command_enum;
pub use decider::{Aggregate, CommandContext, Decider, NewSecret, Principal, Unreadable};
pub use error::{Rejection, RejectionKind};
pub use validate::FieldError;
