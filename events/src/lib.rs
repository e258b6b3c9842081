//! Oxbow's events: what a recorded event is, how the log chains them, and every domain event type.
//!
//! This crate is pure: no I/O, no clock, no randomness. Time and ids come in from the caller.

pub mod agents;
pub mod billing;
pub mod canonical;
mod envelope;
mod error;
pub mod hash;
mod ids;
pub mod operations;
pub mod runs;
mod stream;
pub mod template;
pub mod workflows;
pub mod workspace;

pub use envelope::{DomainEvent, Metadata, NewEvent, RecordedEvent, hash_matches};
pub use error::{Error, Result};
pub use hash::{ChainHash, GENESIS_HASH};
pub use ids::{AgentId, RunId, WorkflowId, WorkspaceId};
pub use stream::{Category, StreamId, context_of_stream};

/// Every event type whose payload holds a person's data, with the fields that hold it. They are
/// sealed under the person's own key before they reach the log (see `store::personal`), so
/// forgetting the person erases them everywhere without touching the log.
const PERSONAL_FIELDS: &[(&str, &[&str])] = &[("MemberInvited", &["email"])];

/// The payload fields of an event type that hold a person's data.
pub fn personal_fields(event_type: &str) -> &'static [&'static str] {
    fields_in(PERSONAL_FIELDS, event_type)
}

/// The fields `table` names for `event_type`; none when it names the type not.
fn fields_in(table: &'static [(&str, &'static [&'static str])], event_type: &str) -> &'static [&'static str] {
    table.iter().find(|(name, _)| *name == event_type).map_or(&[], |(_, fields)| fields)
}

/// Replaces `fields` of a payload with [`HIDDEN`].
fn hide(fields: &[&str], payload: &mut serde_json::Value) {
    for field in fields {
        if let Some(value) = payload.get_mut(*field) {
            *value = serde_json::Value::String(HIDDEN.to_owned());
        }
    }
}

/// Every event type with [`personal_fields`].
pub fn personal_event_types() -> impl Iterator<Item = &'static str> {
    PERSONAL_FIELDS.iter().map(|(name, _)| *name)
}

/// Every event type whose payload holds a secret Oxbow itself must use (the key that signs an
/// agent's webhook calls), with the fields that hold it. They are sealed before they reach
/// the log, each under a key of its own (see `store::secrets`), and only the code that uses
/// them opens them: exports, Kafka, the read models and the activity feed show the seal.
const SECRET_FIELDS: &[(&str, &[&str])] = &[("WebhookSecretIssued", &["secret"])];

/// The payload fields of an event type that hold a secret.
pub fn secret_fields(event_type: &str) -> &'static [&'static str] {
    fields_in(SECRET_FIELDS, event_type)
}

/// Replaces the secret fields of an event's payload with [`HIDDEN`].
pub fn hide_secret_fields(event_type: &str, payload: &mut serde_json::Value) {
    hide(secret_fields(event_type), payload);
}

/// What a reader who may not see a person's data reads in its place.
pub const HIDDEN: &str = "[hidden]";

/// Replaces the personal fields of an event's payload with [`HIDDEN`], for readers whose role
/// does not show them (invitations' emails are for a workspace's admins).
pub fn hide_personal_fields(event_type: &str, payload: &mut serde_json::Value) {
    hide(personal_fields(event_type), payload);
}

/// Whether a member of `role` sees people's data (invitations' emails): admins and owners, as
/// the `invitations` query shows them.
pub fn sees_personal_data(role: workspace::Role) -> bool {
    role.at_least(workspace::Role::Admin)
}

/// The schema version today's code writes for `event_type` (1 for a type it does not know).
pub fn current_schema_version(event_type: &str) -> i32 {
    workspace::WorkspaceEvent::current_version(event_type)
        .or_else(|| agents::AgentEvent::current_version(event_type))
        .or_else(|| workflows::WorkflowEvent::current_version(event_type))
        .or_else(|| billing::BillingEvent::current_version(event_type))
        .or_else(|| runs::RunEvent::current_version(event_type))
        .or_else(|| operations::OperationsEvent::current_version(event_type))
        .unwrap_or(1)
}

/// Puts a stored event in today's shape: its payload upcast and its schema version today's.
/// Events of types this code does not know are left as they are.
pub fn to_current_shape(event: &mut RecordedEvent) -> Result<()> {
    let (event_type, version, payload) = (&event.event_type, event.schema_version, &event.payload);
    let upcast = workspace::WorkspaceEvent::upcast(event_type, version, payload)
        .or_else(|| agents::AgentEvent::upcast(event_type, version, payload))
        .or_else(|| workflows::WorkflowEvent::upcast(event_type, version, payload))
        .or_else(|| billing::BillingEvent::upcast(event_type, version, payload))
        .or_else(|| runs::RunEvent::upcast(event_type, version, payload))
        .or_else(|| operations::OperationsEvent::upcast(event_type, version, payload));
    if let Some(upcast) = upcast {
        let (current, payload) = upcast?;
        if current != event.schema_version {
            event.payload = payload.into_owned();
            event.schema_version = current;
        }
    }
    Ok(())
}
