//! The Runs read models: each run with its steps (status, attempts, output, usage, cost), and
//! usage by workspace, agent and day.
//!
//! [`view`] is the rule, pure; [`bulk`] its adapter, which folds a batch in memory and writes
//! it once with the statements below, for the projector and the rebuild alike. Typed reads
//! for other crates follow.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use events::{RunId, WorkspaceId};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use view::{RunView, UsageKey};

pub mod bulk;
pub mod view;

pub use view::{ArtifactRow, RunRow, RunStatus, StepRow, StepStatus, Usage};

/// A run's row.
pub async fn run(executor: impl PgExecutor<'_>, run_id: RunId) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as(
        "select id, workspace_id, workflow_id, workflow_version, status, budget, credits_used, reason, input, \
                output, retry_of, started_by, requested_at, finished_at, updated_at, version from rm_runs where id = $1",
    )
    .bind(run_id.uuid())
    .fetch_optional(executor)
    .await
}

/// A run's steps in plan order.
pub async fn steps(executor: impl PgExecutor<'_>, run_id: RunId) -> sqlx::Result<Vec<StepRow>> {
    sqlx::query_as(
        "select run_id, step_id, ordinal, kind, agent_id, approvers, depends_on, status, attempts, output, error, \
                input_tokens, output_tokens, duration_ms, cost, input, deadline, retry_at, reused_from \
           from rm_run_steps where run_id = $1 order by ordinal",
    )
    .bind(run_id.uuid())
    .fetch_all(executor)
    .await
}

/// Which of a workspace's runs a list holds: of a status, of a workflow, requested in
/// `[from, to)`; each when given.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    pub workflow_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// How a list of runs is ordered, and where a page of it starts.
#[derive(Debug, Clone, Copy)]
pub enum RunsAfter {
    /// By id, after this one.
    Id(Uuid),
    /// By the time they were requested, then id, newest first: after this run, or from the
    /// newest when `None`.
    NewestFirst(Option<(DateTime<Utc>, Uuid)>),
    /// The same, oldest first.
    OldestFirst(Option<(DateTime<Utc>, Uuid)>),
}

/// Up to `limit` of a workspace's runs that `filter` keeps, in the order `after` names, after it.
pub async fn page(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    filter: &RunFilter,
    after: RunsAfter,
    limit: i64,
) -> sqlx::Result<Vec<RunRow>> {
    const SELECT: &str = "select id, workspace_id, workflow_id, workflow_version, status, budget, credits_used, \
          reason, input, output, retry_of, started_by, requested_at, finished_at, updated_at, version \
          from rm_runs where workspace_id = $1 and ($2::text is null or status = $2) \
           and ($3::uuid is null or workflow_id = $3) and ($4::timestamptz is null or requested_at >= $4) \
           and ($5::timestamptz is null or requested_at < $5)";
    let (order, after_at, after_id) = match after {
        RunsAfter::Id(id) => ("and id > $7 order by id limit $8", None, id),
        RunsAfter::NewestFirst(after) => (
            "and ($6::timestamptz is null or (requested_at, id) < ($6, $7)) order by requested_at desc, id desc limit $8",
            after.map(|(at, _)| at),
            after.map_or(Uuid::nil(), |(_, id)| id),
        ),
        RunsAfter::OldestFirst(after) => (
            "and ($6::timestamptz is null or (requested_at, id) > ($6, $7)) order by requested_at, id limit $8",
            after.map(|(at, _)| at),
            after.map_or(Uuid::nil(), |(_, id)| id),
        ),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} {order}")))
        .bind(workspace_id.uuid())
        .bind(filter.status.map(RunStatus::as_str))
        .bind(filter.workflow_id)
        .bind(filter.from)
        .bind(filter.to)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(executor)
        .await
}

/// Up to `limit` of the runs that retry `run_id`, after `after` (by id, oldest first).
pub async fn retries(
    executor: impl PgExecutor<'_>,
    run_id: RunId,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as(
        "select id, workspace_id, workflow_id, workflow_version, status, budget, credits_used, reason, input, \
                output, retry_of, started_by, requested_at, finished_at, updated_at, version \
           from rm_runs where retry_of = $1 and id > $2 order by id limit $3",
    )
    .bind(run_id.uuid())
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// What each agent used from `from` up to and excluding `to` (UTC days), most credits first.
pub async fn usage_by_agent(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Vec<(Uuid, Usage)>> {
    let rows: Vec<(Uuid, i64, i64, i64, i64)> = sqlx::query_as(
        "select agent_id, sum(attempts)::bigint as attempts, sum(input_tokens)::bigint as input_tokens, \
                sum(output_tokens)::bigint as output_tokens, sum(credits)::bigint as credits \
           from rm_usage where workspace_id = $1 and day >= $2 and day < $3 \
          group by agent_id order by credits desc, agent_id",
    )
    .bind(workspace_id.uuid())
    .bind(from)
    .bind(to)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(agent, attempts, input_tokens, output_tokens, credits)| {
            (agent, Usage { attempts, input_tokens, output_tokens, credits })
        })
        .collect())
}

/// What each agent used on each day from `from` up to and excluding `to` (UTC days), by day
/// then agent.
pub async fn usage_by_day(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Vec<(NaiveDate, Uuid, Usage)>> {
    let rows: Vec<(NaiveDate, Uuid, i64, i64, i64, i64)> = sqlx::query_as(
        "select day, agent_id, attempts, input_tokens, output_tokens, credits \
           from rm_usage where workspace_id = $1 and day >= $2 and day < $3 order by day, agent_id",
    )
    .bind(workspace_id.uuid())
    .bind(from)
    .bind(to)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(day, agent, attempts, input_tokens, output_tokens, credits)| {
            (day, agent, Usage { attempts, input_tokens, output_tokens, credits })
        })
        .collect())
}

/// A workspace's runs by status.
pub async fn counts(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<Vec<(RunStatus, i64)>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from rm_runs where workspace_id = $1 group by status")
            .bind(workspace_id.uuid())
            .fetch_all(executor)
            .await?;
    Ok(rows.into_iter().filter_map(|(status, count)| Some((status.parse().ok()?, count))).collect())
}

/// The runs the read model holds among `run_ids`, with their steps in plan order.
pub async fn load(connection: &mut PgConnection, run_ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, RunView>> {
    /// A run and its steps, read in one statement.
    #[derive(sqlx::FromRow)]
    struct Stored {
        #[sqlx(flatten)]
        run: RunRow,
        steps: sqlx::types::Json<Vec<StepRow>>,
    }
    let stored: Vec<Stored> = sqlx::query_as(
        "select r.id, r.workspace_id, r.workflow_id, r.workflow_version, r.status, r.budget, r.credits_used, \
                r.reason, r.input, r.output, r.retry_of, r.started_by, r.requested_at, r.finished_at, r.updated_at, r.version, \
                (select coalesce(jsonb_agg(to_jsonb(s) order by s.ordinal), '[]') \
                   from rm_run_steps s where s.run_id = r.id) as steps \
           from rm_runs r where r.id = any($1)",
    )
    .bind(run_ids)
    .fetch_all(connection)
    .await?;
    Ok(stored.into_iter().map(|Stored { run, steps }| (run.id, RunView { run, steps: steps.0 })).collect())
}

/// Writes run rows: new ones, or newer versions of those there (an older row never replaces a
/// newer one, so a replay cannot move a run back).
async fn put_runs(connection: &mut PgConnection, runs: &[RunRow]) -> sqlx::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&RunRow) -> i64| runs.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "insert into rm_runs (id, workspace_id, workflow_id, workflow_version, status, budget, credits_used, \
                              reason, input, started_by, requested_at, finished_at, updated_at, version, output, \
                              retry_of) \
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::bigint[], \
                              $7::bigint[], $8::text[], $9::jsonb[], $10::text[], $11::timestamptz[], \
                              $12::timestamptz[], $13::timestamptz[], $14::bigint[], $15::jsonb[], $16::uuid[]) \
         on conflict (id) do update set status = excluded.status, credits_used = excluded.credits_used, \
            reason = excluded.reason, finished_at = excluded.finished_at, updated_at = excluded.updated_at, \
            version = excluded.version, output = excluded.output \
          where rm_runs.version < excluded.version",
    )
    .bind(runs.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.workspace_id).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.workflow_id).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.workflow_version).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
    .bind(column(|r| r.budget))
    .bind(column(|r| r.credits_used))
    .bind(runs.iter().map(|r| r.reason.as_deref()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| &r.input).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.started_by.as_str()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.requested_at).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.finished_at).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .bind(column(|r| r.version))
    .bind(runs.iter().map(|r| r.output.as_ref()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.retry_of).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

/// Writes step rows, new or changed.
async fn put_steps(connection: &mut PgConnection, steps: &[StepRow]) -> sqlx::Result<()> {
    if steps.is_empty() {
        return Ok(());
    }
    // PostgreSQL has no arrays of arrays of different lengths: each step's dependencies go
    // as the text of an array.
    let depends_on: Vec<String> = steps.iter().map(|s| array_text(&s.depends_on)).collect();
    sqlx::query(
        "insert into rm_run_steps (run_id, step_id, ordinal, agent_id, depends_on, status, attempts, output, \
                                   error, input_tokens, duration_ms, cost, input, deadline, retry_at, \
                                   reused_from, output_tokens, kind, approvers) \
         select s.run_id, s.step_id, s.ordinal, s.agent_id, s.depends_on::text[], s.status, s.attempts, \
                s.output, s.error, s.input_tokens, s.duration_ms, s.cost, s.input, s.deadline, s.retry_at, \
                s.reused_from, s.output_tokens, s.kind, s.approvers \
           from unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::text[], $7::int[], \
                       $8::jsonb[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::jsonb[], \
                       $14::timestamptz[], $15::timestamptz[], $16::uuid[], $17::bigint[], $18::text[], \
                       $19::text[]) \
             as s(run_id, step_id, ordinal, agent_id, depends_on, status, attempts, output, error, input_tokens, \
                  duration_ms, cost, input, deadline, retry_at, reused_from, output_tokens, kind, approvers) \
         on conflict (run_id, step_id) do update set status = excluded.status, attempts = excluded.attempts, \
            output = excluded.output, error = excluded.error, input_tokens = excluded.input_tokens, \
            output_tokens = excluded.output_tokens, \
            duration_ms = excluded.duration_ms, cost = excluded.cost, input = excluded.input, \
            deadline = excluded.deadline, retry_at = excluded.retry_at, reused_from = excluded.reused_from",
    )
    .bind(steps.iter().map(|s| s.run_id).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.step_id.as_str()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.ordinal).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.agent_id).collect::<Vec<_>>())
    .bind(&depends_on)
    .bind(steps.iter().map(|s| s.status.as_str()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.attempts).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.output.as_ref()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.error.as_deref()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.input_tokens).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.duration_ms).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.cost).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.input.as_ref()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.deadline).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.retry_at).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.reused_from).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.output_tokens).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.approvers.as_deref()).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

/// Adds to usage rows as [`Usage::plus`] does: saturating at the largest bigint.
async fn add_usage(connection: &mut PgConnection, usage: &[(UsageKey, Usage)]) -> sqlx::Result<()> {
    if usage.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into rm_usage (workspace_id, day, agent_id, attempts, input_tokens, output_tokens, credits) \
         select * from unnest($1::uuid[], $2::date[], $3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[], \
                              $7::bigint[]) \
         on conflict (workspace_id, day, agent_id) do update set \
            attempts = least(rm_usage.attempts::numeric + excluded.attempts, 9223372036854775807)::bigint, \
            input_tokens = least(rm_usage.input_tokens::numeric + excluded.input_tokens, 9223372036854775807)::bigint, \
            output_tokens = \
              least(rm_usage.output_tokens::numeric + excluded.output_tokens, 9223372036854775807)::bigint, \
            credits = least(rm_usage.credits::numeric + excluded.credits, 9223372036854775807)::bigint",
    )
    .bind(usage.iter().map(|(key, _)| key.workspace_id).collect::<Vec<_>>())
    .bind(usage.iter().map(|(key, _)| key.day).collect::<Vec<_>>())
    .bind(usage.iter().map(|(key, _)| key.agent_id).collect::<Vec<_>>())
    .bind(usage.iter().map(|(_, u)| u.attempts).collect::<Vec<_>>())
    .bind(usage.iter().map(|(_, u)| u.input_tokens).collect::<Vec<_>>())
    .bind(usage.iter().map(|(_, u)| u.output_tokens).collect::<Vec<_>>())
    .bind(usage.iter().map(|(_, u)| u.credits).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

/// A text array as PostgreSQL reads it: `{"a","b"}`.
/// Numbers `artifacts` after the highest versions their names have (one read for the batch)
/// and inserts them.
async fn put_artifacts(connection: &mut PgConnection, mut artifacts: Vec<ArtifactRow>) -> sqlx::Result<()> {
    if artifacts.is_empty() {
        return Ok(());
    }
    let highest: Vec<(Uuid, String, i32)> = sqlx::query_as(
        "select a.workspace_id, a.name, max(a.version) from rm_artifacts a \
           join unnest($1::uuid[], $2::text[]) as n(workspace_id, name) using (workspace_id, name) \
          group by a.workspace_id, a.name",
    )
    .bind(artifacts.iter().map(|a| a.workspace_id).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *connection)
    .await?;
    let mut highest = highest.into_iter().map(|(workspace, name, version)| ((workspace, name), version)).collect();
    view::number_artifacts(&mut highest, &mut artifacts);
    sqlx::query(
        "insert into rm_artifacts (workspace_id, name, version, run_id, step_id, attempt, media_type, size, sha256, \
                                   uri, position, ordinal, created_at) \
         select * from unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::int[], $7::text[], \
                              $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::int[], $13::timestamptz[]) \
         on conflict do nothing",
    )
    .bind(artifacts.iter().map(|a| a.workspace_id).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.version).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.run_id).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.step_id.as_str()).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.attempt).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.media_type.as_str()).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.size).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.sha256.as_str()).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.uri.as_str()).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.position).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.ordinal).collect::<Vec<_>>())
    .bind(artifacts.iter().map(|a| a.created_at).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

/// The artifacts a run's step produced, in the order it listed them.
pub async fn step_artifacts(
    executor: impl PgExecutor<'_>,
    run_id: RunId,
    step_id: &str,
) -> sqlx::Result<Vec<ArtifactRow>> {
    sqlx::query_as("select * from rm_artifacts where run_id = $1 and step_id = $2 order by position, ordinal")
        .bind(run_id.uuid())
        .bind(step_id)
        .fetch_all(executor)
        .await
}

/// Up to `limit` of a workspace's artifacts (of one name, when given), newest first, from
/// before `before` (a `(position, ordinal)` cursor).
pub async fn artifacts_page(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    name: Option<&str>,
    before: (i64, i32),
    limit: i64,
) -> sqlx::Result<Vec<ArtifactRow>> {
    sqlx::query_as(
        "select * from rm_artifacts where workspace_id = $1 and ($2::text is null or name = $2) \
            and (position, ordinal) < ($3, $4) order by position desc, ordinal desc limit $5",
    )
    .bind(workspace_id.uuid())
    .bind(name)
    .bind(before.0)
    .bind(before.1)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// A workspace's artifact by name: `version`, or the latest.
pub async fn artifact(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    name: &str,
    version: Option<i32>,
) -> sqlx::Result<Option<ArtifactRow>> {
    sqlx::query_as(
        "select * from rm_artifacts where workspace_id = $1 and name = $2 and ($3::int is null or version = $3) \
          order by version desc limit 1",
    )
    .bind(workspace_id.uuid())
    .bind(name)
    .bind(version)
    .fetch_optional(executor)
    .await
}

fn array_text(elements: &[String]) -> String {
    let quoted: Vec<String> =
        elements.iter().map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("{{{}}}", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_written_as_postgres_array_text() {
        assert_eq!(array_text(&[]), "{}");
        assert_eq!(array_text(&["fetch".into(), "a \"b\" \\c,d".into()]), r#"{"fetch","a \"b\" \\c,d"}"#);
    }
}
