//! Errors of turning stored events back into domain types.

/// Why a stored event could not be read as a domain event.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// The event type is not one this code knows.
    #[error("unknown event type `{0}`")]
    UnknownEventType(String),
    /// The stored schema version is newer than this code understands.
    #[error("event type `{event_type}` has schema version {found}, newer than {known}")]
    UnsupportedSchemaVersion { event_type: String, found: i32, known: i32 },
    /// The payload does not have the shape of its type.
    #[error("payload of `{event_type}` is malformed: {reason}")]
    MalformedPayload { event_type: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
