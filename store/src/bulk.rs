//! Loading a log whole: rows COPYed in, then the head moved to the last of them. For the
//! benchmark's generated logs and the tests at scale; no serving process takes this path. It
//! bypasses the committer, so the caller chains the hashes and numbers the positions and
//! versions (`log verify` checks that it did).

use std::fmt::Write as _;

use events::RecordedEvent;
use sqlx::PgConnection;

use crate::{Head, Result};

/// Appends `event` to `rows` as one row of [`copy_events`]'s CSV.
pub fn csv_row(rows: &mut String, event: &RecordedEvent) {
    let quoted = |value: &serde_json::Value| value.to_string().replace('"', "\"\"");
    let _ = writeln!(
        rows,
        "{},{},{},{},{},{},\"{}\",\"{}\",{},\\x{}",
        event.position,
        event.stream_id,
        event.stream_version,
        event.event_id,
        event.event_type,
        event.schema_version,
        quoted(&event.payload),
        quoted(&event.metadata),
        event.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.hash.to_hex(),
    );
}

/// COPYs `rows` (made by [`csv_row`]) into the log in one round trip.
pub async fn copy_events(connection: &mut PgConnection, rows: &str) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = connection
        .copy_in_raw(
            "copy events (position, stream_id, stream_version, event_id, event_type, schema_version, payload, \
             metadata, recorded_at, hash) from stdin with (format csv)",
        )
        .await?;
    copy.send(rows.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Moves the head to `head` once every event up to it is in, and lets the planner see the new
/// rows.
pub async fn set_head(connection: &mut PgConnection, head: Head) -> Result<()> {
    sqlx::query("update log_head set position = $1, hash = $2")
        .bind(head.position)
        .bind(head.hash.0.to_vec())
        .execute(&mut *connection)
        .await?;
    sqlx::query("analyze events").execute(&mut *connection).await?;
    Ok(())
}
