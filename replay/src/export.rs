//! `oxbow log export`: a stream's or a workspace's audit trail, streamed from the log in
//! constant memory, as JSON lines or CSV.
//!
//! The format is stable: one record per event, in log order, with these fields in this order:
//! `position`, `recorded_at` (RFC 3339, UTC, microseconds), `stream_id`, `stream_version`,
//! `event_id`, `event_type`, `schema_version`, `actor`, `workspace_id`, `correlation_id`,
//! `causation_id`, `payload` (the event's JSON; in CSV, as JSON text). Absent values are JSON
//! `null` or an empty CSV field. New fields are only ever added at the end.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use events::RecordedEvent;
use futures::TryStreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// Whose events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Stream(String),
    Workspace(Uuid),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
}

/// The fields of a record, in their stable order.
pub const FIELDS: [&str; 12] = [
    "position",
    "recorded_at",
    "stream_id",
    "stream_version",
    "event_id",
    "event_type",
    "schema_version",
    "actor",
    "workspace_id",
    "correlation_id",
    "causation_id",
    "payload",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes the events of `scope` recorded in `[from, to)` to `out`; returns how many.
pub async fn export(
    pool: &PgPool,
    scope: &Scope,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    format: Format,
    out: &mut impl Write,
) -> Result<u64, Error> {
    if format == Format::Csv {
        writeln!(out, "{}", FIELDS.join(","))?;
    }
    let (stream, workspace) = match scope {
        Scope::Stream(stream) => (Some(stream.as_str()), None),
        Scope::Workspace(workspace) => (None, Some(workspace.to_string())),
    };
    let mut rows = store::events_where(pool, stream, workspace.as_deref(), from, to);
    let mut written = 0;
    while let Some(event) = rows.try_next().await? {
        // Personal data as it reads today: plain, or erased once its subject is forgotten.
        let mut event = [event];
        store::present(pool, &mut event).await?;
        let [event] = event;
        match format {
            Format::JsonLines => writeln!(out, "{}", json_line(&event))?,
            Format::Csv => writeln!(out, "{}", csv_line(&event))?,
        }
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

fn text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One event as the export's JSON record, fields in their stable order.
pub fn json_line(event: &RecordedEvent) -> String {
    let meta = |name: &str| event.metadata.get(name).cloned().unwrap_or(Value::Null);
    // serde_json keeps insertion order only with `preserve_order`; build the text in order.
    let values = [
        json!(event.position),
        json!(text(event.recorded_at)),
        json!(event.stream_id),
        json!(event.stream_version),
        json!(event.event_id),
        json!(event.event_type),
        json!(event.schema_version),
        meta("actor"),
        meta("workspace_id"),
        meta("correlation_id"),
        meta("causation_id"),
        event.payload.clone(),
    ];
    let mut line = String::from("{");
    for (index, (field, value)) in FIELDS.iter().zip(values).enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push_str(&format!("{}:{}", json!(field), value));
    }
    line.push('}');
    line
}

/// One event as a CSV line (RFC 4180 quoting).
pub fn csv_line(event: &RecordedEvent) -> String {
    let meta = |name: &str| match event.metadata.get(name) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let fields = [
        event.position.to_string(),
        text(event.recorded_at),
        event.stream_id.clone(),
        event.stream_version.to_string(),
        event.event_id.to_string(),
        event.event_type.clone(),
        event.schema_version.to_string(),
        meta("actor"),
        meta("workspace_id"),
        meta("correlation_id"),
        meta("causation_id"),
        event.payload.to_string(),
    ];
    fields.iter().map(|field| quoted(field)).collect::<Vec<_>>().join(",")
}

fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn event() -> RecordedEvent {
        RecordedEvent {
            position: 7,
            stream_id: "workspace-1".into(),
            stream_version: 2,
            event_id: Uuid::from_u128(9),
            event_type: "WorkspaceRenamed".into(),
            schema_version: 1,
            payload: json!({"name": "Lab, \"north\""}),
            metadata: json!({"actor": "alice", "correlation_id": Uuid::from_u128(3), "causation_id": Uuid::from_u128(4)}),
            recorded_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            hash: events::GENESIS_HASH,
        }
    }

    #[test]
    fn a_json_record_has_every_field_in_the_stable_order() {
        let line = json_line(&event());
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["recorded_at"], "2026-01-02T03:04:05.000000Z");
        assert_eq!(parsed["workspace_id"], Value::Null);
        assert_eq!(parsed["payload"]["name"], "Lab, \"north\"");
        let order: Vec<usize> = FIELDS.iter().map(|f| line.find(&format!("\"{f}\":")).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{line}");
    }

    #[test]
    fn a_csv_line_quotes_what_needs_quoting() {
        let line = csv_line(&event());
        assert!(line.starts_with("7,2026-01-02T03:04:05.000000Z,workspace-1,2,"), "{line}");
        assert!(line.contains(",alice,,"), "an absent workspace is an empty field: {line}");
        assert!(line.ends_with(r#","{""name"":""Lab, \""north\""""}""#), "{line}");
    }
}
