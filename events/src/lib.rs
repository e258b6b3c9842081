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

/// The payload fields of an event type that hold a person's data. They are sealed under the
/// person's own key before they reach the log (see `store::personal`), so forgetting the person
/// erases them everywhere without touching the log.
pub fn personal_fields(event_type: &str) -> &'static [&'static str] {
    match event_type {
        "MemberInvited" => &["email"],
        _ => &[],
    }
}

/// Every event type with [`personal_fields`].
pub const PERSONAL_EVENT_TYPES: &[&str] = &["MemberInvited"];
