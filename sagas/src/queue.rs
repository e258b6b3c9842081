//! `saga_work`: the sagas' durable to-do list. Work is written with the event that asked for
//! it, leased by a worker while it is carried out, and deleted when done. A worker that dies
//! leaves its lease to run out; any worker then takes the work over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::plan::{KeyRange, Planned, Work};

/// How long a lease lasts; a worker renews it while the work goes on.
pub const LEASE: Duration = Duration::from_secs(10);

/// Work a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: i64,
    pub saga: String,
    pub work: Work,
    /// The work's kind, as its serde tag names it (`dispatch`, `settle`, …).
    pub kind: String,
    pub correlation_id: Uuid,
    /// How many times the work was leased, this time included.
    pub attempts: i32,
    /// The trace of the event that asked for it (W3C `traceparent`).
    pub trace_context: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    saga: String,
    work: serde_json::Value,
    correlation_id: Uuid,
    attempts: i32,
    trace_context: Option<String>,
}

/// What planned work carries on from the event that asked for it.
#[derive(Debug, Clone)]
pub struct Cause {
    pub correlation_id: Uuid,
    pub trace_context: Option<String>,
}

/// Adds planned work, each with its cause; work already planned under the same key is kept as
/// it is. Each piece's workspace creator is read from the log in the same statement (one index
/// lookup, `workspace_creator`): the leases are shared out by creator.
pub async fn enqueue(connection: &mut PgConnection, planned: &[Planned], causes: &[Cause]) -> sqlx::Result<()> {
    if planned.is_empty() {
        return Ok(());
    }
    let correlation_ids: Vec<Uuid> = causes.iter().map(|cause| cause.correlation_id).collect();
    let trace_contexts: Vec<Option<&str>> = causes.iter().map(|cause| cause.trace_context.as_deref()).collect();
    let sagas: Vec<&str> = planned.iter().map(|p| p.saga).collect();
    let keys: Vec<&str> = planned.iter().map(|p| p.key.as_str()).collect();
    let work: Vec<serde_json::Value> =
        planned.iter().map(|p| serde_json::to_value(&p.work).expect("work serializes")).collect();
    let due: Vec<DateTime<Utc>> = planned.iter().map(|p| p.due_at).collect();
    let workspaces: Vec<Option<Uuid>> = planned.iter().map(|p| p.workspace_id).collect();
    sqlx::query(
        "insert into saga_work (saga, key, work, correlation_id, due_at, workspace_id, trace_context, creator) \
         select w.*, workspace_creator(w.workspace_id) \
           from unnest($1::text[], $2::text[], $3::jsonb[], $4::uuid[], $5::timestamptz[], $6::uuid[], \
                       $7::text[]) as w(saga, key, work, correlation_id, due_at, workspace_id, trace_context) \
         on conflict (saga, key) do nothing",
    )
    .bind(&sagas)
    .bind(&keys)
    .bind(&work)
    .bind(&correlation_ids)
    .bind(&due)
    .bind(&workspaces)
    .bind(&trace_contexts)
    .execute(connection)
    .await?;
    Ok(())
}

/// Drops the work of `saga` whose keys are in any of `ranges`: one index range scan each. The
/// agent tasks the same events end ([`crate::tasks::ended_by`]) go in the same statement.
/// Returns the ids of the work dropped: any of it under way here is abandoned.
pub async fn drop_moot(
    connection: &mut PgConnection,
    saga: &str,
    ranges: &[KeyRange],
    ended_tasks: &[crate::tasks::Ended],
) -> sqlx::Result<Vec<i64>> {
    if ranges.is_empty() && ended_tasks.is_empty() {
        return Ok(Vec::new());
    }
    let (from, until): (Vec<&str>, Vec<&str>) =
        ranges.iter().map(|range| (range.from.as_str(), range.until.as_str())).unzip();
    let (runs, steps, attempts, whole_runs) = crate::tasks::ended_columns(ended_tasks);
    sqlx::query_scalar(concat!(
        "with ",
        crate::tasks::delete_ended_sql!(),
        " delete from saga_work w using unnest($6::text[], $7::text[]) as r(from_key, until_key) \
          where w.saga = $1 and w.key >= r.from_key and w.key < r.until_key returning w.id"
    ))
    .bind(saga)
    .bind(&runs)
    .bind(&steps)
    .bind(&attempts)
    .bind(&whole_runs)
    .bind(&from)
    .bind(&until)
    .fetch_all(connection)
    .await
}

/// Deletes the work `finished` (carried out), then leases up to `limit` pieces of due work, the
/// longest due first, without letting the workspaces of any one creator hold more than `share`
/// leases at once (across every saga process): a tenant's slow steps wait behind each other,
/// however many workspaces they are spread over, and everyone else's work goes past them. One
/// statement, so finishing work costs no round trip of its own.
pub async fn lease(pool: &PgPool, limit: i64, share: i64, finished: &[i64]) -> sqlx::Result<Vec<Leased>> {
    // `finished` is deleted; the rest of the statement still sees those rows (one snapshot),
    // so `held` leaves them out. `held`: the leases each share holds now. `due`: the longest
    // due work of shares below their limit, a few times what is asked for. `fair`: of those,
    // each share's first ones up to its limit. Then lock what no other worker took meanwhile.
    let rows: Vec<Row> = sqlx::query_as(
        "with finished as (delete from saga_work where id = any($4)), \
              held as (select share_key, count(*) as leases from saga_work \
                        where leased_until >= now() and share_key is not null and id <> all($4) \
                        group by share_key), \
              due as (select id, share_key, due_at from saga_work \
                       where due_at <= now() and (leased_until is null or leased_until < now()) and not set_aside \
                         and (share_key is null \
                              or share_key not in (select share_key from held where leases >= $3)) \
                       order by due_at limit $1 * 8), \
              fair as (select d.id, d.due_at \
                         from (select *, row_number() over (partition by share_key order by due_at) as nth \
                                 from due) d \
                         left join held h on h.share_key = d.share_key \
                        where d.share_key is null or coalesce(h.leases, 0) + d.nth <= $3 \
                        order by d.due_at limit $1), \
              locked as (select id from saga_work where id in (select id from fair) for update skip locked) \
         update saga_work w set leased_until = now() + make_interval(secs => $2), attempts = w.attempts + 1 \
           from locked where w.id = locked.id \
         returning w.id, w.saga, w.work, w.correlation_id, w.attempts, w.trace_context",
    )
    .bind(limit)
    .bind(LEASE.as_secs_f64())
    .bind(share)
    .bind(finished)
    .fetch_all(pool)
    .await?;
    let mut leased = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = row.work.get("type").and_then(|kind| kind.as_str()).unwrap_or_default().to_owned();
        match serde_json::from_value(row.work) {
            Ok(work) => leased.push(Leased {
                id: row.id,
                saga: row.saga,
                work,
                kind,
                correlation_id: row.correlation_id,
                attempts: row.attempts,
                trace_context: row.trace_context,
            }),
            // Work this build cannot read stays for one that can, out of the way.
            Err(error) => {
                tracing::error!(id = row.id, %error, "saga work this build cannot read");
                postpone(pool, row.id, Duration::from_secs(3600), &format!("unreadable: {error}")).await?;
            }
        }
    }
    Ok(leased)
}

/// Keeps holding the lease of work still going on.
/// Extends a lease; `false` when the work is gone: made moot (its attempt or its run ended)
/// while it was carried out.
pub async fn renew(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let renewed = sqlx::query("update saga_work set leased_until = now() + make_interval(secs => $2) where id = $1")
        .bind(id)
        .bind(LEASE.as_secs_f64())
        .execute(pool)
        .await?;
    Ok(renewed.rows_affected() > 0)
}

/// How many times in a row work may fail before it is set aside.
pub const TRIES: i32 = 10;

/// Sets work aside after it failed [`TRIES`] times: it is not leased again until an operator
/// retries it.
pub async fn set_aside(pool: &PgPool, id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query("update saga_work set leased_until = null, set_aside = true, last_error = $2 where id = $1")
        .bind(id)
        .bind(error)
        .execute(pool)
        .await?;
    Ok(())
}

/// Work set aside, for operators to see.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SetAside {
    pub id: i64,
    pub saga: String,
    pub key: String,
    pub workspace_id: Option<Uuid>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

pub async fn set_aside_work(pool: &PgPool) -> sqlx::Result<Vec<SetAside>> {
    sqlx::query_as(
        "select id, saga, key, workspace_id, attempts, last_error from saga_work where set_aside order by id",
    )
    .fetch_all(pool)
    .await
}

/// Makes set-aside work due again, with a fresh count of tries. False when no work with this
/// id is set aside.
pub async fn retry_set_aside(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query("update saga_work set set_aside = false, attempts = 0, due_at = now() where id = $1 and set_aside")
            .bind(id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Gives back work that waits for a moment (a sleep), due again `at`: waiting is not a try,
/// so it does not count towards [`TRIES`], and it holds no worker meanwhile.
pub async fn wait_until(pool: &PgPool, id: i64, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("update saga_work set leased_until = null, due_at = $2, attempts = attempts - 1 where id = $1")
        .bind(id)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

/// Gives the work back, due again after `delay`, with why it failed.
pub async fn postpone(pool: &PgPool, id: i64, delay: Duration, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update saga_work set leased_until = null, due_at = now() + make_interval(secs => $2), last_error = $3 \
          where id = $1",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// How much work the sagas have: all of it, what is due now, and what failed before.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub waiting: i64,
    pub due: i64,
    pub retrying: i64,
    /// Set aside after failing too often; an operator retries them.
    pub set_aside: i64,
    pub oldest_due_at: Option<DateTime<Utc>>,
}

pub async fn waiting(pool: &PgPool) -> sqlx::Result<Waiting> {
    sqlx::query_as(
        "select count(*) filter (where not set_aside) as waiting, \
                count(*) filter (where due_at <= now() and not set_aside) as due, \
                count(*) filter (where last_error is not null and not set_aside) as retrying, \
                count(*) filter (where set_aside) as set_aside, \
                min(due_at) filter (where due_at <= now() and not set_aside) as oldest_due_at \
           from saga_work",
    )
    .fetch_one(pool)
    .await
}

/// How long until the next piece of work falls due (or a lease runs out), if any is waiting.
/// Two index reads: the earliest due of the work not leased, the earliest end of a lease.
pub async fn next_due_in(pool: &PgPool) -> sqlx::Result<Option<Duration>> {
    let (seconds,): (Option<f64>,) = sqlx::query_as(
        "select extract(epoch from least( \
                  (select min(due_at) from saga_work where leased_until is null and not set_aside), \
                  (select min(leased_until) from saga_work where leased_until is not null and not set_aside) \
                ) - now())::float8",
    )
    .fetch_one(pool)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}
