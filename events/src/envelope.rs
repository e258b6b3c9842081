//! The envelope every event travels in: what a command hands to the log (`NewEvent`), what the
//! log hands back (`RecordedEvent`), and how a domain event enum converts to and from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::hash::{ChainHash, HashedFields};

/// Who caused an event, for whom, and why: stored in the log's `metadata` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The `sub` of the token that sent the command, or `system:<role>` for Oxbow's own roles.
    pub actor: String,
    /// The tenant the event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<Uuid>,
    /// Shared by every event of one request or workflow.
    pub correlation_id: Uuid,
    /// The command (or event) that directly caused this one.
    pub causation_id: Uuid,
}

/// An event on its way into the log; position, version, time and hash are the log's to give.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
}

impl NewEvent {
    pub fn from_domain<E: DomainEvent>(event_id: Uuid, event: &E, metadata: &Metadata) -> NewEvent {
        NewEvent {
            event_id,
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            payload: event.to_payload(),
            metadata: serde_json::to_value(metadata).expect("metadata always serializes"),
        }
    }
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
    pub hash: ChainHash,
}

impl RecordedEvent {
    pub fn hashed_fields(&self) -> HashedFields<'_> {
        HashedFields {
            position: self.position,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at_micros: self.recorded_at.timestamp_micros(),
        }
    }

    /// The metadata, when it has the shape Oxbow writes.
    pub fn parsed_metadata(&self) -> Option<Metadata> {
        serde_json::from_value(self.metadata.clone()).ok()
    }

    /// The stream's category and aggregate id; `None` for a stream Oxbow does not name.
    pub fn stream(&self) -> Option<crate::StreamId> {
        crate::StreamId::parse(&self.stream_id)
    }

    /// The aggregate's id when the event is of a stream of `category`.
    pub fn aggregate_id(&self, category: crate::Category) -> Option<Uuid> {
        crate::StreamId::id_of(&self.stream_id, category)
    }

    /// Who caused the event, as its metadata says.
    pub fn actor(&self) -> Option<&str> {
        self.metadata.get("actor").and_then(|a| a.as_str())
    }

    /// The request or workflow the event is part of, as its metadata says.
    pub fn correlation_id(&self) -> Option<Uuid> {
        self.metadata.get("correlation_id").and_then(|v| v.as_str()).and_then(|s| s.parse().ok())
    }

    pub fn workspace_id(&self) -> Option<Uuid> {
        self.metadata.get("workspace_id").and_then(|v| v.as_str()).and_then(|s| s.parse().ok())
    }
}

/// A domain event enum: one variant per event type, each convertible to a stored payload.
pub trait DomainEvent: Sized {
    /// The type name stored in the log, e.g. `WorkspaceRenamed`.
    fn event_type(&self) -> &'static str;
    /// The version of this type's payload shape that `to_payload` writes.
    fn schema_version(&self) -> i32 {
        1
    }
    fn to_payload(&self) -> serde_json::Value;
    /// Reads a stored event back, turning older payload shapes into today's.
    fn from_stored(event_type: &str, schema_version: i32, payload: &serde_json::Value) -> crate::Result<Self>;

    fn from_recorded(event: &RecordedEvent) -> crate::Result<Self> {
        Self::from_stored(&event.event_type, event.schema_version, &event.payload)
    }
}

/// Declares a domain event enum whose variants are the event structs of the same name.
///
/// A variant is at schema version 1 unless declared `Variant = N via upcaster`: then
/// `to_payload` writes version N, and a stored payload of an older version is passed through
/// `upcaster(stored_version, payload)` (a pure `fn(i32, Value) -> Result<Value, String>`) before
/// it is read, so every reader sees today's shape. The enum also gets a list of its types for
/// schema generation.
#[macro_export]
macro_rules! event_enum {
    (@version) => { 1 };
    (@version $version:literal) => { $version };
    (@upcast $event_type:expr, $stored:expr, $payload:expr,) => {
        Err::<serde_json::Value, String>(format!("{} has no upcaster", $event_type))
    };
    (@upcast $event_type:expr, $stored:expr, $payload:expr, $upcaster:path) => {
        $upcaster($stored, $payload)
    };
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($variant:ident $(= $version:literal via $upcaster:path)?),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $($variant($variant)),+
        }

        impl $name {
            /// Every event type of this enum, by stored name.
            pub const TYPES: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// The JSON Schema of each event type's payload today, by stored name and schema
            /// version. Each schema comes from a fresh generator, so it holds only its own
            /// definitions.
            pub fn payload_schemas(
                settings: &schemars::generate::SchemaSettings,
            ) -> Vec<(&'static str, i32, schemars::Schema)> {
                vec![$((
                    stringify!($variant),
                    $crate::event_enum!(@version $($version)?),
                    settings.clone().into_generator().into_root_schema_for::<$variant>(),
                )),+]
            }

            /// The schema version today's code writes for `event_type`; `None` when the type
            /// is not this enum's.
            pub fn current_version(event_type: &str) -> Option<i32> {
                match event_type {
                    $(stringify!($variant) => Some($crate::event_enum!(@version $($version)?)),)+
                    _ => None,
                }
            }

            /// A stored payload of one of this enum's types in today's shape, with today's
            /// schema version. `None` when the type is not this enum's.
            pub fn upcast<'a>(
                event_type: &str,
                schema_version: i32,
                payload: &'a serde_json::Value,
            ) -> Option<$crate::Result<(i32, std::borrow::Cow<'a, serde_json::Value>)>> {
                match event_type {
                    $(stringify!($variant) => {
                        let current: i32 = $crate::event_enum!(@version $($version)?);
                        Some(if schema_version > current {
                            Err($crate::Error::UnsupportedSchemaVersion {
                                event_type: event_type.to_owned(),
                                found: schema_version,
                                known: current,
                            })
                        } else if schema_version == current {
                            Ok((current, std::borrow::Cow::Borrowed(payload)))
                        } else {
                            $crate::event_enum!(@upcast event_type, schema_version, payload.clone(), $($upcaster)?)
                                .map(|payload| (current, std::borrow::Cow::Owned(payload)))
                                .map_err(|reason| $crate::Error::MalformedPayload {
                                    event_type: event_type.to_owned(),
                                    reason,
                                })
                        })
                    })+
                    _ => None,
                }
            }
        }

        $(
            impl From<$variant> for $name {
                fn from(event: $variant) -> Self {
                    $name::$variant(event)
                }
            }
        )+

        impl $crate::DomainEvent for $name {
            fn event_type(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => stringify!($variant)),+
                }
            }

            fn schema_version(&self) -> i32 {
                match self {
                    $($name::$variant(_) => $crate::event_enum!(@version $($version)?)),+
                }
            }

            fn to_payload(&self) -> serde_json::Value {
                match self {
                    $($name::$variant(event) => {
                        serde_json::to_value(event).expect("event payloads always serialize")
                    }),+
                }
            }

            fn from_stored(
                event_type: &str,
                schema_version: i32,
                payload: &serde_json::Value,
            ) -> $crate::Result<Self> {
                let Some(upcast) = Self::upcast(event_type, schema_version, payload) else {
                    return Err($crate::Error::UnknownEventType(event_type.to_owned()));
                };
                let (_, payload) = upcast?;
                let malformed = |error: serde_json::Error| $crate::Error::MalformedPayload {
                    event_type: event_type.to_owned(),
                    reason: error.to_string(),
                };
                match event_type {
                    $(stringify!($variant) => {
                        <$variant as serde::Deserialize>::deserialize(&*payload)
                            .map($name::$variant)
                            .map_err(malformed)
                    })+
                    other => Err($crate::Error::UnknownEventType(other.to_owned())),
                }
            }
        }
    };
}

/// Recomputes `event`'s hash from `previous` and says whether the stored one matches.
pub fn hash_matches(event: &RecordedEvent, previous: &ChainHash, scratch: &mut Vec<u8>) -> bool {
    event.hashed_fields().chain(previous, scratch) == event.hash
}
