//! Operators' decisions about the log's consumers, recorded in the log itself so that an
//! auditor sees them beside what they decided about.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The one stream of operators' decisions.
pub fn stream_id() -> String {
    crate::StreamId::new(crate::Category::Operations, Uuid::nil()).to_string()
}

/// An operator gave up on a parked event: its consumer (`catalog`, `relay`, `sagas`) never
/// applies it, and the events of its stream that waited behind it flow on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParkedEventSkipped {
    pub consumer: String,
    pub position: i64,
    pub stream_id: String,
    pub event_type: String,
    /// Why the consumer failed on it.
    pub error: Option<String>,
    /// Why the operator skipped it.
    pub reason: String,
}

/// An operator forgot a person: the keys their data was sealed under are destroyed. Named by
/// key id, never by email, so the log keeps no trace of whom; wherever the log holds this event,
/// the keys stay destroyed (`serve` and `migrate` destroy them again after a restore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectForgotten {
    pub key_ids: Vec<Uuid>,
}

crate::event_enum! {
    /// Every event of the operations stream.
    pub enum OperationsEvent {
        ParkedEventSkipped,
        SubjectForgotten,
    }
}
