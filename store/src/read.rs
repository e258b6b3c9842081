//! Reading the log: by stream, by position, and its head.

use std::collections::HashMap;

use events::{ChainHash, RecordedEvent};
use sqlx::PgExecutor;

use crate::{Error, Result};

/// A select of whole events with the given tail (`where …`), as a static string.
macro_rules! select_events {
    ($tail:literal) => {
        concat!(
            "select position, stream_id, stream_version, event_id, event_type, schema_version, ",
            "payload, metadata, recorded_at, hash from events ",
            $tail
        )
    };
}

#[derive(sqlx::FromRow)]
struct EventRow {
    position: i64,
    stream_id: String,
    stream_version: i64,
    event_id: uuid::Uuid,
    event_type: String,
    schema_version: i32,
    payload: serde_json::Value,
    metadata: serde_json::Value,
    recorded_at: chrono::DateTime<chrono::Utc>,
    hash: Vec<u8>,
}

impl TryFrom<EventRow> for RecordedEvent {
    type Error = Error;

    fn try_from(row: EventRow) -> Result<RecordedEvent> {
        let hash = ChainHash::from_slice(&row.hash).ok_or_else(|| Error::CorruptRow {
            position: row.position,
            reason: format!("hash has {} bytes, not 32", row.hash.len()),
        })?;
        Ok(RecordedEvent {
            position: row.position,
            stream_id: row.stream_id,
            stream_version: row.stream_version,
            event_id: row.event_id,
            event_type: row.event_type,
            schema_version: row.schema_version,
            payload: row.payload,
            metadata: row.metadata,
            recorded_at: row.recorded_at,
            hash,
        })
    }
}

fn convert(rows: Vec<EventRow>) -> Result<Vec<RecordedEvent>> {
    rows.into_iter().map(RecordedEvent::try_from).collect()
}

/// A stream's events after `after_version`, in order.
pub async fn read_stream(
    executor: impl PgExecutor<'_>,
    stream_id: &str,
    after_version: i64,
) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where stream_id = $1 and stream_version > $2 order by stream_version");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(stream_id).bind(after_version).fetch_all(executor).await?;
    convert(rows)
}

/// Up to `limit` of a stream's events after `after_version`, in order: a page of it.
pub async fn read_stream_page(
    executor: impl PgExecutor<'_>,
    stream_id: &str,
    after_version: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where stream_id = $1 and stream_version > $2 order by stream_version limit $3");
    let rows =
        sqlx::query_as::<_, EventRow>(sql).bind(stream_id).bind(after_version).bind(limit).fetch_all(executor).await?;
    convert(rows)
}

/// The type of a stream's last event, if it has any: whether an agent is retired, say, is
/// read without folding its stream.
pub async fn last_event_type(executor: impl PgExecutor<'_>, stream_id: &str) -> Result<Option<String>> {
    let sql = "select event_type from events where stream_id = $1 order by stream_version desc limit 1";
    Ok(sqlx::query_scalar(sql).bind(stream_id).fetch_optional(executor).await?)
}

/// Up to `limit` events after `after_position`, in log order. A follower that calls this with
/// the last position it saw never misses an event: positions are gap-free and commit-ordered.
pub async fn read_all(executor: impl PgExecutor<'_>, after_position: i64, limit: i64) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where position > $1 order by position limit $2");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(after_position).bind(limit).fetch_all(executor).await?;
    convert(rows)
}

/// The events at positions `first..=last`.
pub async fn read_range(executor: impl PgExecutor<'_>, first: i64, last: i64) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where position between $1 and $2 order by position");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(first).bind(last).fetch_all(executor).await?;
    convert(rows)
}

/// The last position and hash of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: i64,
    pub hash: ChainHash,
}

pub async fn read_head(executor: impl PgExecutor<'_>) -> Result<Head> {
    let (position, hash): (i64, Vec<u8>) =
        sqlx::query_as("select position, hash from log_head").fetch_one(executor).await?;
    let hash = ChainHash::from_slice(&hash)
        .ok_or_else(|| Error::CorruptRow { position, reason: "the log head's hash is not 32 bytes".into() })?;
    Ok(Head { position, hash })
}

/// The head and the last position in `events`, as of one snapshot: an append moves both in one
/// statement, so they agree unless the log is broken. What a verifier starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadBesideLast {
    pub position: i64,
    /// `None` when the head's hash is not 32 bytes.
    pub hash: Option<ChainHash>,
    /// The last event's position; `None` for an empty log.
    pub last_logged: Option<i64>,
}

pub async fn read_head_beside_last(executor: impl PgExecutor<'_>) -> Result<HeadBesideLast> {
    let (position, hash, last_logged): (i64, Vec<u8>, Option<i64>) =
        sqlx::query_as("select h.position, h.hash, (select max(position) from events) from log_head h")
            .fetch_one(executor)
            .await?;
    Ok(HeadBesideLast { position, hash: ChainHash::from_slice(&hash), last_logged })
}

/// The events at positions `first..=last`, streamed in log order in constant memory.
pub fn stream_range<'a>(
    pool: &'a sqlx::PgPool,
    first: i64,
    last: i64,
) -> futures::stream::BoxStream<'a, Result<RecordedEvent>> {
    use futures::StreamExt;
    sqlx::query_as::<_, EventRow>(select_events!("where position between $1 and $2 order by position"))
        .bind(first)
        .bind(last)
        .fetch(pool)
        .map(|row| RecordedEvent::try_from(row?))
        .boxed()
}

/// The events of one stream or one workspace (by the metadata's `workspace_id`) recorded in
/// `[from, to)`, streamed in log order in constant memory. `None` filters nothing.
pub fn events_where<'a>(
    pool: &'a sqlx::PgPool,
    stream_id: Option<&'a str>,
    workspace_id: Option<&'a str>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> futures::stream::BoxStream<'a, Result<RecordedEvent>> {
    use futures::StreamExt;
    let sql = select_events!(
        "where ($1::text is null or stream_id = $1) \
           and ($2::text is null or metadata->>'workspace_id' = $2) \
           and ($3::timestamptz is null or recorded_at >= $3) \
           and ($4::timestamptz is null or recorded_at < $4) \
         order by position"
    );
    sqlx::query_as::<_, EventRow>(sql)
        .bind(stream_id)
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch(pool)
        .map(|row| RecordedEvent::try_from(row?))
        .boxed()
}

/// A stream's events after `after_version`, with the log's head position as of the same
/// snapshot: pass it on as [`crate::AppendRequest::observed_head`] so the committer can trust the
/// version read here.
pub async fn load_stream(
    executor: impl PgExecutor<'_>,
    stream_id: &str,
    after_version: i64,
) -> Result<(Vec<RecordedEvent>, i64)> {
    let (mut events, head) = load_streams(executor, &[(stream_id, after_version)]).await?;
    Ok((events.remove(stream_id).unwrap_or_default(), head))
}

/// [`load_stream`] for several streams in one round trip (a command's own stream and the
/// workspace its facts come from): each stream's events after its version, by stream, and the
/// head as of the same snapshot. A stream with no newer events has no entry.
pub async fn load_streams(
    executor: impl PgExecutor<'_>,
    streams: &[(&str, i64)],
) -> Result<(HashMap<String, Vec<RecordedEvent>>, i64)> {
    let (ids, after_versions): (Vec<&str>, Vec<i64>) = streams.iter().copied().unzip();
    let rows: Vec<LoadedRow> = sqlx::query_as(
        "select h.position as head, e.position, e.stream_id, e.stream_version, e.event_id, e.event_type, \
                e.schema_version, e.payload, e.metadata, e.recorded_at, e.hash \
           from log_head h \
           left join lateral (select events.* \
                                from unnest($1::text[], $2::bigint[]) as wanted(stream_id, after_version) \
                                join events on events.stream_id = wanted.stream_id \
                                           and events.stream_version > wanted.after_version \
                               order by events.stream_id, events.stream_version) e on true",
    )
    .bind(&ids)
    .bind(&after_versions)
    .fetch_all(executor)
    .await?;
    let head = rows.first().map_or(0, |row| row.head);
    let mut events: HashMap<String, Vec<RecordedEvent>> = HashMap::new();
    for row in rows {
        if let Some(event) = row.into_event_row() {
            let event = RecordedEvent::try_from(event)?;
            events.entry(event.stream_id.clone()).or_default().push(event);
        }
    }
    Ok((events, head))
}

/// A row of [`load_stream`]: the head, and an event unless the stream is empty.
#[derive(sqlx::FromRow)]
struct LoadedRow {
    head: i64,
    position: Option<i64>,
    stream_id: Option<String>,
    stream_version: Option<i64>,
    event_id: Option<uuid::Uuid>,
    event_type: Option<String>,
    schema_version: Option<i32>,
    payload: Option<serde_json::Value>,
    metadata: Option<serde_json::Value>,
    recorded_at: Option<chrono::DateTime<chrono::Utc>>,
    hash: Option<Vec<u8>>,
}

impl LoadedRow {
    fn into_event_row(self) -> Option<EventRow> {
        Some(EventRow {
            position: self.position?,
            stream_id: self.stream_id?,
            stream_version: self.stream_version?,
            event_id: self.event_id?,
            event_type: self.event_type?,
            schema_version: self.schema_version?,
            payload: self.payload?,
            metadata: self.metadata?,
            recorded_at: self.recorded_at?,
            hash: self.hash?,
        })
    }
}

/// The events of several streams, each stream's in order.
pub async fn read_streams(executor: impl PgExecutor<'_>, stream_ids: &[String]) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where stream_id = any($1) order by stream_id, stream_version");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(stream_ids).fetch_all(executor).await?;
    convert(rows)
}

/// The hashes the log holds at these positions; a position the log does not have is absent.
/// What a copy of an event (on Kafka, in a verifier's hand) is checked against.
pub async fn hashes_at(executor: impl PgExecutor<'_>, positions: &[i64]) -> Result<HashMap<i64, ChainHash>> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("select position, hash from events where position = any($1)")
        .bind(positions)
        .fetch_all(executor)
        .await?;
    rows.into_iter()
        .map(|(position, hash)| match ChainHash::from_slice(&hash) {
            Some(hash) => Ok((position, hash)),
            None => Err(Error::CorruptRow { position, reason: format!("hash has {} bytes, not 32", hash.len()) }),
        })
        .collect()
}

/// The events at these positions, in log order.
pub async fn read_positions(executor: impl PgExecutor<'_>, positions: &[i64]) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where position = any($1) order by position");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(positions).fetch_all(executor).await?;
    convert(rows)
}
