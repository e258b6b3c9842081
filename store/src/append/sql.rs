//! The SQL of the append path: one round trip for what a batch must be checked against, the
//! one statement that writes a batch, the head's lock, and the idempotency keys' reads.

use std::collections::HashSet;

use uuid::Uuid;

use super::plan::{AppendRequest, Found, IdempotencyRecord, Rows};
use crate::read::Head;

/// The head, locked until the transaction ends.
pub(super) async fn read_head_for_update(executor: impl sqlx::PgExecutor<'_>) -> Result<Head, sqlx::Error> {
    let (position, hash): (i64, Vec<u8>) =
        sqlx::query_as("select position, hash from log_head for update").fetch_one(executor).await?;
    let hash = events::ChainHash::from_slice(&hash)
        .ok_or_else(|| sqlx::Error::Protocol("the log head's hash is not 32 bytes".into()))?;
    Ok(Head { position, hash })
}

pub(super) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|error| error.is_unique_violation())
}

/// Whether the database refused the data itself: a data exception (SQLSTATE class 22, such as
/// a NUL in `jsonb` or a number out of range), a check constraint, or a value too large to
/// index. Such an error belongs to one request, not to the batch.
pub(super) fn is_data_error(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code.starts_with("22") || code == "23514" || code == "54000")
}

/// The record of `key` in `scope`, if it was used.
pub async fn find_idempotency_key(
    executor: impl sqlx::PgExecutor<'_>,
    scope: &str,
    key: &str,
) -> crate::Result<Option<IdempotencyRecord>> {
    let record = sqlx::query_as::<_, KeyRow>(
        "select request_hash, stream_id, stream_version, first_position, last_position \
           from idempotency_keys where scope = $1 and key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(executor)
    .await?;
    Ok(record.map(IdempotencyRecord::from))
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_hash: Vec<u8>,
    stream_id: String,
    stream_version: i64,
    first_position: Option<i64>,
    last_position: Option<i64>,
}

impl From<KeyRow> for IdempotencyRecord {
    fn from(row: KeyRow) -> IdempotencyRecord {
        IdempotencyRecord {
            request_hash: row.request_hash,
            stream_id: row.stream_id,
            stream_version: row.stream_version,
            first_position: row.first_position,
            last_position: row.last_position,
        }
    }
}

/// Which of `keys` were used in `scope`: one read for a caller that would otherwise send each
/// request only to have it answered from its key.
pub async fn used_idempotency_keys(
    executor: impl sqlx::PgExecutor<'_>,
    scope: &str,
    keys: &[&str],
) -> crate::Result<HashSet<String>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let used: Vec<(String,)> = sqlx::query_as("select key from idempotency_keys where scope = $1 and key = any($2)")
        .bind(scope)
        .bind(keys)
        .fetch_all(executor)
        .await?;
    Ok(used.into_iter().map(|(key,)| key).collect())
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    kind: String,
    a: String,
    b: Option<String>,
    version: Option<i64>,
    hash: Option<Vec<u8>>,
    first: Option<i64>,
    last: Option<i64>,
    stream: Option<String>,
}

/// One round trip: the current version of every stream in the batch, the idempotency keys it
/// claims that are known already, and which of its first event ids are in the log.
pub(super) async fn lookup<P: std::borrow::Borrow<AppendRequest>>(
    executor: impl sqlx::PgExecutor<'_>,
    batch: &[P],
) -> Result<Found, sqlx::Error> {
    let requests = || batch.iter().map(|p| p.borrow());
    let mut streams: Vec<&str> =
        requests().flat_map(|request| &request.streams).map(|stream| stream.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let (scopes, keys): (Vec<&str>, Vec<&str>) = requests()
        .filter_map(|request| request.idempotency.as_ref())
        .map(|claim| (claim.scope.as_str(), claim.key.as_str()))
        .unzip();
    let event_ids: Vec<Uuid> = requests().filter_map(|request| request.first_event()).map(|e| e.event_id).collect();

    let rows: Vec<FoundRow> = sqlx::query_as(
        r#"
        select 'version' as kind, s.id as a, null::text as b,
               (select e.stream_version from events e where e.stream_id = s.id
                 order by e.stream_version desc limit 1) as version,
               null::bytea as hash, null::bigint as first, null::bigint as last,
               null::text as stream
          from unnest($1::text[]) as s(id)
        union all
        select 'key', k.scope, k.key, k.stream_version, k.request_hash, k.first_position,
               k.last_position, k.stream_id
          from idempotency_keys k
          join unnest($2::text[], $3::text[]) as c(scope, key) on k.scope = c.scope and k.key = c.key
        union all
        select 'event', e.event_id::text, e.stream_id, e.stream_version, null, e.position,
               e.position, null
          from events e where e.event_id = any($4::uuid[])
        "#,
    )
    .bind(&streams)
    .bind(&scopes)
    .bind(&keys)
    .bind(&event_ids)
    .fetch_all(executor)
    .await?;

    let mut found = Found::default();
    for row in rows {
        match row.kind.as_str() {
            "version" => {
                found.stream_versions.insert(row.a, row.version.unwrap_or(0));
            }
            "key" => {
                found.keys.insert(
                    (row.a, row.b.unwrap_or_default()),
                    IdempotencyRecord {
                        request_hash: row.hash.unwrap_or_default(),
                        stream_id: row.stream.unwrap_or_default(),
                        stream_version: row.version.unwrap_or(0),
                        first_position: row.first,
                        last_position: row.last,
                    },
                );
            }
            _ => {
                if let (Ok(id), Some(stream), Some(version), Some(position)) =
                    (row.a.parse(), row.b, row.version, row.first)
                {
                    found.event_ids.insert(id, (stream, version, position));
                }
            }
        }
    }
    Ok(found)
}

/// The one statement of a batch: moves the head from `old` to `new` and inserts `rows`. Returns
/// false when the head was not at `old` (position and hash) and nothing was written.
pub(super) async fn write(
    executor: impl sqlx::PgExecutor<'_>,
    old: Head,
    new: Head,
    rows: &Rows,
) -> Result<bool, sqlx::Error> {
    let moved: Option<(i64,)> = sqlx::query_as(
        r#"
        with head as (
            update log_head set position = $2, hash = $3
             where position = $1 and hash = $21
            returning position
        ), appended as (
            insert into events (position, stream_id, stream_version, event_id, event_type,
                                schema_version, payload, metadata, recorded_at, hash)
            select e.* from unnest($4::bigint[], $5::text[], $6::bigint[], $7::uuid[], $8::text[],
                                   $9::int[], $10::jsonb[], $11::jsonb[], $12::timestamptz[],
                                   $13::bytea[]) as e
             where exists (select 1 from head)
        ), claimed as (
            insert into idempotency_keys (scope, key, request_hash, stream_id, first_position,
                                          last_position, stream_version)
            select k.* from unnest($14::text[], $15::text[], $16::bytea[], $17::text[],
                                   $18::bigint[], $19::bigint[], $20::bigint[]) as k
             where exists (select 1 from head)
        ), traced as (
            insert into event_trace_context (position, traceparent)
            select t.* from unnest($22::bigint[], $23::text[]) as t
             where exists (select 1 from head)
        )
        select position from head
         where $2 = $1 or pg_notify($24, $2::text) is not null
        "#,
    )
    .bind(old.position)
    .bind(new.position)
    .bind(new.hash.0.to_vec())
    .bind(&rows.positions)
    .bind(&rows.stream_ids)
    .bind(&rows.stream_versions)
    .bind(&rows.event_ids)
    .bind(&rows.event_types)
    .bind(&rows.schema_versions)
    .bind(&rows.payloads)
    .bind(&rows.metadata)
    .bind(&rows.recorded_at)
    .bind(&rows.hashes)
    .bind(&rows.key_scopes)
    .bind(&rows.key_values)
    .bind(&rows.key_hashes)
    .bind(&rows.key_streams)
    .bind(&rows.key_first)
    .bind(&rows.key_last)
    .bind(&rows.key_versions)
    .bind(old.hash.0.to_vec())
    .bind(&rows.traced_positions)
    .bind(&rows.traceparents)
    .bind(crate::APPEND_CHANNEL)
    .fetch_optional(executor)
    .await?;
    Ok(moved.is_some())
}
