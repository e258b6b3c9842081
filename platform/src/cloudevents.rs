//! The Kafka form of a logged event: CloudEvents 1.0, Kafka protocol binding, binary mode.
//!
//! The value is the event's JSON payload; everything else travels in headers. What a consumer
//! needs to rebuild the logged event exactly, hash included, travels as CloudEvents extension
//! attributes (`ce_oxbowposition`, …: lowercase letters and digits, as the specification
//! requires), so a CloudEvents SDK hands them to its user. The `oxbow_*` headers that carried
//! them before are sent too, for one release, so consumers that read them can move over.

use chrono::{DateTime, SecondsFormat, Utc};
use events::{ChainHash, RecordedEvent, context_of_stream};

/// The `ce_type` of an event: `oxbow.<context>.<EventType>.v<schema version>`.
pub fn ce_type(event: &RecordedEvent) -> String {
    format!("oxbow.{}.{}.v{}", context_of_stream(&event.stream_id), event.event_type, event.schema_version)
}

/// Oxbow's extension attributes, as Kafka headers.
pub const POSITION: &str = "ce_oxbowposition";
pub const STREAM_VERSION: &str = "ce_oxbowstreamversion";
pub const CORRELATION_ID: &str = "ce_oxbowcorrelationid";
pub const CAUSATION_ID: &str = "ce_oxbowcausationid";
pub const EVENT_TYPE: &str = "ce_oxboweventtype";
pub const SCHEMA_VERSION: &str = "ce_oxbowschemaversion";
pub const METADATA: &str = "ce_oxbowmetadata";
pub const HASH: &str = "ce_oxbowhash";

/// The header an attribute travelled in before it was an extension attribute
/// (`ce_oxbowposition` was `oxbow_position`).
fn former_name(name: &str) -> Option<&'static str> {
    Some(match name {
        POSITION => "oxbow_position",
        STREAM_VERSION => "oxbow_stream_version",
        EVENT_TYPE => "oxbow_event_type",
        SCHEMA_VERSION => "oxbow_schema_version",
        METADATA => "oxbow_metadata",
        HASH => "oxbow_hash",
        _ => return None,
    })
}

/// The headers of an event's message, in a stable order.
pub fn headers(event: &RecordedEvent) -> Vec<(&'static str, String)> {
    let metadata = |key: &str| event.metadata.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    vec![
        ("ce_specversion", "1.0".to_owned()),
        ("ce_id", event.event_id.to_string()),
        ("ce_source", format!("/oxbow/{}", context_of_stream(&event.stream_id))),
        ("ce_type", ce_type(event)),
        ("ce_subject", event.stream_id.clone()),
        ("ce_time", event.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        ("content-type", "application/json".to_owned()),
        (POSITION, event.position.to_string()),
        (STREAM_VERSION, event.stream_version.to_string()),
        (CORRELATION_ID, metadata("correlation_id")),
        (CAUSATION_ID, metadata("causation_id")),
        (EVENT_TYPE, event.event_type.clone()),
        (SCHEMA_VERSION, event.schema_version.to_string()),
        (METADATA, event.metadata.to_string()),
        (HASH, event.hash.to_hex()),
        // Deprecated: the same values under their names before the extension attributes.
        ("oxbow_position", event.position.to_string()),
        ("oxbow_stream_version", event.stream_version.to_string()),
        ("oxbow_correlation_id", metadata("correlation_id")),
        ("oxbow_causation_id", metadata("causation_id")),
        ("oxbow_event_type", event.event_type.clone()),
        ("oxbow_schema_version", event.schema_version.to_string()),
        ("oxbow_metadata", event.metadata.to_string()),
        ("oxbow_hash", event.hash.to_hex()),
    ]
}

/// The headers of a message Oxbow sends itself (a task, a notification): CloudEvents in binary
/// mode, so the body stays the JSON its consumers read before, and the trace it belongs to
/// under both names, `traceparent` (as OpenTelemetry's Kafka instrumentations read it) and
/// `ce_traceparent` (CloudEvents' distributed tracing extension). `id` names the message: the
/// same message sent again has the same id.
pub fn message_headers(
    source: &str,
    ce_type: &str,
    id: &str,
    subject: &str,
    traceparent: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("ce_specversion", "1.0".to_owned()),
        ("ce_id", id.to_owned()),
        ("ce_source", source.to_owned()),
        ("ce_type", ce_type.to_owned()),
        ("ce_subject", subject.to_owned()),
        ("ce_time", Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)),
        ("content-type", "application/json".to_owned()),
    ];
    if let Some(traceparent) = traceparent {
        headers.push((crate::telemetry::KAFKA_HEADER, traceparent.to_owned()));
        headers.push(("traceparent", traceparent.to_owned()));
    }
    headers
}

/// `headers` as a Kafka message carries them.
pub fn kafka_headers(headers: &[(&'static str, String)]) -> rdkafka::message::OwnedHeaders {
    use rdkafka::message::{Header, OwnedHeaders};
    headers.iter().fold(OwnedHeaders::new_with_capacity(headers.len()), |all, (key, value)| {
        all.insert(Header { key, value: Some(value.as_bytes()) })
    })
}

/// The value of header `name` of a Kafka message.
pub fn header<'a>(message: &'a impl rdkafka::message::Message, name: &str) -> Option<&'a [u8]> {
    use rdkafka::message::Headers;
    message.headers()?.iter().find(|header| header.key == name)?.value
}

/// The logged event a Kafka message carries: [`decode`] over its headers and value.
pub fn decode_message(message: &impl rdkafka::message::Message) -> Result<RecordedEvent, DecodeError> {
    decode(|name| header(message, name), message.payload())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an Oxbow event message: {0}")]
pub struct DecodeError(pub String);

/// Rebuilds the logged event from a message's headers and value: a message of this release or
/// of the one before (which had only the `oxbow_*` headers).
pub fn decode<'a>(
    header: impl Fn(&str) -> Option<&'a [u8]>,
    value: Option<&[u8]>,
) -> Result<RecordedEvent, DecodeError> {
    let text = |name: &str| -> Result<&'a str, DecodeError> {
        let bytes = header(name)
            .or_else(|| former_name(name).and_then(&header))
            .ok_or_else(|| DecodeError(format!("header {name} is missing")))?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError(format!("header {name} is not UTF-8")))
    };
    let number = |name: &str| -> Result<i64, DecodeError> {
        text(name)?.parse().map_err(|_| DecodeError(format!("header {name} is not a number")))
    };
    let payload = serde_json::from_slice(value.ok_or_else(|| DecodeError("the message has no value".into()))?)
        .map_err(|error| DecodeError(format!("the value is not JSON: {error}")))?;
    let metadata = serde_json::from_str(text(METADATA)?)
        .map_err(|error| DecodeError(format!("{METADATA} is not JSON: {error}")))?;
    let hash = hex::decode(text(HASH)?)
        .ok()
        .and_then(|bytes| ChainHash::from_slice(&bytes))
        .ok_or_else(|| DecodeError(format!("{HASH} is not a SHA-256 in hex")))?;
    Ok(RecordedEvent {
        position: number(POSITION)?,
        stream_id: text("ce_subject")?.to_owned(),
        stream_version: number(STREAM_VERSION)?,
        event_id: text("ce_id")?.parse().map_err(|_| DecodeError("ce_id is not a UUID".into()))?,
        event_type: text(EVENT_TYPE)?.to_owned(),
        schema_version: number(SCHEMA_VERSION)? as i32,
        payload,
        metadata,
        recorded_at: DateTime::parse_from_rfc3339(text("ce_time")?)
            .map_err(|_| DecodeError("ce_time is not RFC 3339".into()))?
            .with_timezone(&Utc),
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_survives_its_kafka_form() {
        let event = RecordedEvent {
            position: 42,
            stream_id: "workspace-0193".into(),
            stream_version: 3,
            event_id: uuid::Uuid::now_v7(),
            event_type: "WorkspaceRenamed".into(),
            schema_version: 1,
            payload: json!({"name": "Lab"}),
            metadata: json!({"actor": "alice", "correlation_id": uuid::Uuid::nil(), "causation_id": uuid::Uuid::nil()}),
            recorded_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            hash: ChainHash([7; 32]),
        };
        let headers = headers(&event);
        assert!(headers.contains(&("ce_type", "oxbow.workspaces.WorkspaceRenamed.v1".to_owned())));
        let value = serde_json::to_vec(&event.payload).unwrap();
        let back = decode(
            |name| headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_bytes()),
            Some(&value),
        )
        .unwrap();
        assert_eq!(back, event);
        // Extension attribute names are lowercase letters and digits.
        for (name, _) in headers.iter().filter(|(name, _)| name.starts_with("ce_")) {
            let attribute = &name["ce_".len()..];
            assert!(attribute.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{name}");
            assert!(attribute.len() <= 20, "{name} is longer than the specification advises");
        }
        // A message of the release before, with only the former headers, still decodes.
        let former: Vec<(&str, String)> =
            headers.iter().filter(|(name, _)| !name.starts_with("ce_oxbow")).cloned().collect();
        let back =
            decode(|name| former.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_bytes()), Some(&value))
                .unwrap();
        assert_eq!(back, event);
    }
}
