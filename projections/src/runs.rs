//! The Runs read models: each run with its steps (status, attempts, output, usage, cost), and
//! usage by workspace, agent and day.
//!
//! Every write is guarded by the run's stream version: the run row moves only when it is older
//! than the event, and the steps and usage move only when the run row did. So a replayed event
//! changes nothing, increments included.

use events::runs::RunEvent;
use events::{DomainEvent, RecordedEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalog::Touched;

pub mod bulk;

/// Statuses as the read model stores them (the GraphQL enums' names).
pub mod status {
    pub const REQUESTED: &str = "REQUESTED";
    pub const REJECTED: &str = "REJECTED";
    pub const RUNNING: &str = "RUNNING";
    pub const SUCCEEDED: &str = "SUCCEEDED";
    pub const FAILED: &str = "FAILED";
    pub const CANCELLED: &str = "CANCELLED";
    pub const PENDING: &str = "PENDING";
    pub const SCHEDULED: &str = "SCHEDULED";
    pub const TIMED_OUT: &str = "TIMED_OUT";
}

/// Moves the run row to this event's version (and `status`, when given). False when the row
/// has seen the event already.
async fn advance(
    connection: &mut PgConnection,
    run_id: Uuid,
    event: &RecordedEvent,
    status: Option<&str>,
) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "update rm_runs set version = $2, updated_at = $3, status = coalesce($4, status) \
          where id = $1 and version < $2",
    )
    .bind(run_id)
    .bind(event.stream_version)
    .bind(event.recorded_at)
    .bind(status)
    .execute(connection)
    .await?;
    Ok(moved.rows_affected() == 1)
}

async fn set_step(
    connection: &mut PgConnection,
    run_id: Uuid,
    step_id: &str,
    status: &str,
    attempt: u32,
) -> sqlx::Result<()> {
    sqlx::query("update rm_run_steps set status = $3, attempts = $4 where run_id = $1 and step_id = $2")
        .bind(run_id)
        .bind(step_id)
        .bind(status)
        .bind(attempt as i32)
        .execute(connection)
        .await?;
    Ok(())
}

/// Records what an attempt cost, on its step, its run and the day's usage of its agent.
#[allow(clippy::too_many_arguments)]
async fn charge(
    connection: &mut PgConnection,
    run_id: Uuid,
    event: &RecordedEvent,
    step_id: &str,
    tokens: u64,
    duration_ms: u64,
    cost: i64,
) -> sqlx::Result<()> {
    let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
    let duration_ms = i64::try_from(duration_ms).unwrap_or(i64::MAX);
    sqlx::query(
        "with step as ( \
             update rm_run_steps set tokens = tokens + $3, duration_ms = duration_ms + $4, cost = cost + $5 \
              where run_id = $1 and step_id = $2 returning agent_id), \
         run as (update rm_runs set credits_used = credits_used + $5 where id = $1 returning workspace_id) \
         insert into rm_usage (workspace_id, agent_id, day, attempts, tokens, credits) \
         select run.workspace_id, step.agent_id, ($6::timestamptz at time zone 'UTC')::date, 1, $3, $5 \
           from run, step \
         on conflict (workspace_id, day, agent_id) do update set attempts = rm_usage.attempts + 1, \
            tokens = rm_usage.tokens + excluded.tokens, credits = rm_usage.credits + excluded.credits",
    )
    .bind(run_id)
    .bind(step_id)
    .bind(tokens)
    .bind(duration_ms)
    .bind(cost)
    .bind(event.recorded_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// The run is over (its status is set): its reason, and every step still waiting is cancelled.
async fn finish(
    connection: &mut PgConnection,
    run_id: Uuid,
    event: &RecordedEvent,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("update rm_runs set reason = $2, finished_at = $3 where id = $1")
        .bind(run_id)
        .bind(reason)
        .bind(event.recorded_at)
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "update rm_run_steps set status = $2 where run_id = $1 and status in ('PENDING', 'SCHEDULED', 'RUNNING')",
    )
    .bind(run_id)
    .bind(status::CANCELLED)
    .execute(connection)
    .await?;
    Ok(())
}

/// Writes one run event; says which run changed, if it did.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Touched>> {
    let Some(id) = event.stream_id.strip_prefix("run-") else {
        return Ok(None);
    };
    let run_id: Uuid = id.parse()?;
    let decoded = RunEvent::from_recorded(event)?;
    if let RunEvent::RunRequested(e) = &decoded {
        let inserted = sqlx::query(
            "insert into rm_runs (id, workspace_id, workflow_id, workflow_version, status, budget, input, \
                                  started_by, requested_at, updated_at, version) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) on conflict (id) do nothing",
        )
        .bind(run_id)
        .bind(e.workspace_id)
        .bind(e.workflow_id)
        .bind(e.workflow_version as i32)
        .bind(status::REQUESTED)
        .bind(e.budget)
        .bind(&e.input)
        .bind(event.metadata.get("actor").and_then(|a| a.as_str()).unwrap_or_default())
        .bind(event.recorded_at)
        .bind(event.stream_version)
        .execute(&mut *connection)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        let ids: Vec<&str> = e.steps.iter().map(|s| s.id.as_str()).collect();
        let ordinals: Vec<i32> = (0..e.steps.len() as i32).collect();
        let agents: Vec<Uuid> = e.steps.iter().map(|s| s.agent_id).collect();
        // PostgreSQL has no arrays of arrays of different lengths: dependencies go as JSON.
        let depends_on: Vec<serde_json::Value> = e.steps.iter().map(|s| serde_json::json!(s.depends_on)).collect();
        sqlx::query(
            "insert into rm_run_steps (run_id, step_id, ordinal, agent_id, depends_on, status) \
             select $1, s.id, s.ordinal, s.agent_id, array(select jsonb_array_elements_text(s.depends_on)), $6 \
               from unnest($2::text[], $3::int[], $4::uuid[], $5::jsonb[]) as s(id, ordinal, agent_id, depends_on) \
             on conflict do nothing",
        )
        .bind(run_id)
        .bind(&ids)
        .bind(&ordinals)
        .bind(&agents)
        .bind(&depends_on)
        .bind(status::PENDING)
        .execute(&mut *connection)
        .await?;
        return Ok(Some(Touched::Run { workspace_id: e.workspace_id, run_id }));
    }

    let run_status = match &decoded {
        RunEvent::RunRejected(_) => Some(status::REJECTED),
        RunEvent::RunStarted(_) => Some(status::RUNNING),
        RunEvent::RunSucceeded(_) => Some(status::SUCCEEDED),
        RunEvent::RunFailed(_) => Some(status::FAILED),
        RunEvent::RunCancelled(_) => Some(status::CANCELLED),
        _ => None,
    };
    if !advance(connection, run_id, event, run_status).await? {
        return Ok(None);
    }
    match decoded {
        RunEvent::RunRequested(_) | RunEvent::RunStarted(_) => {}
        RunEvent::StepScheduled(e) => set_step(connection, run_id, &e.step_id, status::SCHEDULED, e.attempt).await?,
        RunEvent::StepStarted(e) => set_step(connection, run_id, &e.step_id, status::RUNNING, e.attempt).await?,
        RunEvent::StepSucceeded(e) => {
            set_step(connection, run_id, &e.step_id, status::SUCCEEDED, e.attempt).await?;
            sqlx::query("update rm_run_steps set output = $3, error = null where run_id = $1 and step_id = $2")
                .bind(run_id)
                .bind(&e.step_id)
                .bind(&e.output)
                .execute(&mut *connection)
                .await?;
            charge(connection, run_id, event, &e.step_id, e.tokens, e.duration_ms, e.cost).await?;
        }
        RunEvent::StepFailed(e) => {
            set_step(connection, run_id, &e.step_id, status::FAILED, e.attempt).await?;
            sqlx::query("update rm_run_steps set error = $3 where run_id = $1 and step_id = $2")
                .bind(run_id)
                .bind(&e.step_id)
                .bind(&e.error)
                .execute(&mut *connection)
                .await?;
            charge(connection, run_id, event, &e.step_id, 0, 0, e.cost).await?;
        }
        RunEvent::StepTimedOut(e) => set_step(connection, run_id, &e.step_id, status::TIMED_OUT, e.attempt).await?,
        // Waiting for its next attempt: pending again, its attempts so far counted.
        RunEvent::StepRetryScheduled(e) => {
            set_step(connection, run_id, &e.step_id, status::PENDING, e.attempt - 1).await?
        }
        RunEvent::RunRejected(e) => finish(connection, run_id, event, Some(&e.reason)).await?,
        RunEvent::RunSucceeded(e) => {
            finish(connection, run_id, event, None).await?;
            settle_used(connection, run_id, e.credits_used).await?;
        }
        RunEvent::RunFailed(e) => {
            finish(connection, run_id, event, Some(&e.reason)).await?;
            settle_used(connection, run_id, e.credits_used).await?;
        }
        RunEvent::RunCancelled(e) => {
            finish(connection, run_id, event, Some(&e.reason)).await?;
            settle_used(connection, run_id, e.credits_used).await?;
        }
    }
    let (workspace_id,): (Uuid,) =
        sqlx::query_as("select workspace_id from rm_runs where id = $1").bind(run_id).fetch_one(connection).await?;
    Ok(Some(Touched::Run { workspace_id, run_id }))
}

/// The run's own account of what it used is the last word.
async fn settle_used(connection: &mut PgConnection, run_id: Uuid, credits_used: i64) -> sqlx::Result<()> {
    sqlx::query("update rm_runs set credits_used = $2 where id = $1")
        .bind(run_id)
        .bind(credits_used)
        .execute(connection)
        .await?;
    Ok(())
}
