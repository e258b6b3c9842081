//! Oxbow's events: what a recorded event is, how the log chains them, and every domain event type.
//!
//! This crate is pure: no I/O, no clock, no randomness. Time and ids come in from the caller.

pub mod agents;
pub mod billing;
pub mod canonical;
mod envelope;
mod error;
pub mod hash;
pub mod runs;
pub mod workflows;
pub mod workspace;

pub use envelope::{DomainEvent, Metadata, NewEvent, RecordedEvent, context_of_stream, hash_matches};
pub use error::{Error, Result};
pub use hash::{ChainHash, GENESIS_HASH};
