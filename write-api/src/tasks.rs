//! `POST /v1/tasks/lease` and `POST /v1/tasks/extend`: an external agent's workers take that
//! agent's tasks, and only that agent's, with the worker credential an admin issued for it.
//! A worker reports each task through `POST /v1/commands` (`ReportStepStarted`, `CompleteStep`,
//! `FailStep`), which ends its lease; a lease it neither reports nor extends runs out after
//! 30 s, and the task is offered again.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use app::Caller;
use commands::Principal;
use sagas::tasks::{Attempt, LeasedTask, MAX_PER_LEASE, TaskBell};
use sqlx::PgPool;

use crate::problem::Problem;

/// The longest a lease waits for a task.
pub const MAX_WAIT_MS: u64 = 30_000;

/// A lease's request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// The most tasks to take: 1 to 100, 1 by default.
    #[serde(default = "one")]
    pub max: i64,
    /// How long to wait for a task when there is none: 0 to 30,000 ms, 0 by default.
    #[serde(default)]
    pub wait_ms: u64,
}

fn one() -> i64 {
    1
}

/// An extension's request: the attempt whose lease to extend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    pub run_id: Uuid,
    pub step_id: String,
    pub attempt: u32,
}

/// The agent whose tasks `caller` may take: a worker's own.
fn agent_of(caller: &Caller) -> Result<Uuid, Problem> {
    match caller.principal {
        Principal::Worker { agent_id, .. } => Ok(agent_id),
        _ => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "worker_credential_required",
            "Only an agent's worker takes tasks",
            "lease and extend tasks with the agent's worker credential (oxw.…)",
        )),
    }
}

/// Leases up to `max` of the caller's agent's tasks, waiting up to `wait_ms` for one.
pub async fn lease(pool: &PgPool, bell: &TaskBell, caller: &Caller, request: LeaseRequest) -> Result<Value, Problem> {
    let agent_id = agent_of(caller)?;
    if !(1..=MAX_PER_LEASE).contains(&request.max) {
        return Err(Problem::invalid_field("/max", "must be 1 to 100"));
    }
    if request.wait_ms > MAX_WAIT_MS {
        return Err(Problem::invalid_field("/wait_ms", "must be 0 to 30000"));
    }
    let until = Instant::now() + Duration::from_millis(request.wait_ms);
    loop {
        let tasks: Vec<LeasedTask> = sagas::tasks::lease(pool, agent_id, request.max).await.map_err(|error| {
            tracing::error!(error = format!("{error:#}"), "leasing tasks failed");
            Problem::unavailable("the tasks could not be read; try again")
        })?;
        let left = until.saturating_duration_since(Instant::now());
        if !tasks.is_empty() || left.is_zero() {
            return Ok(json!({"tasks": tasks}));
        }
        // Woken when a task of this agent is offered; looks again each second in case an
        // announcement was lost.
        bell.wait(agent_id, left.min(Duration::from_secs(1))).await;
    }
}

/// Extends the caller's lease of one attempt.
pub async fn extend(pool: &PgPool, caller: &Caller, request: ExtendRequest) -> Result<Value, Problem> {
    let agent_id = agent_of(caller)?;
    let attempt = Attempt { run_id: request.run_id, step_id: request.step_id, attempt: request.attempt };
    let extended: Option<DateTime<Utc>> = sagas::tasks::extend(pool, agent_id, &attempt).await.map_err(|error| {
        tracing::error!(%error, "extending a lease failed");
        Problem::unavailable("the lease could not be extended; try again")
    })?;
    match extended {
        Some(lease_expires_at) => Ok(json!({"lease_expires_at": lease_expires_at})),
        None => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attempt_over",
            "The attempt is over",
            "the attempt was started, ended, timed out or cancelled, or is no task of this agent's",
        )),
    }
}

/// The attempt a worker's command reports on, if it is a report.
pub fn report_of(caller: &Caller, request: &app::CommandRequest) -> Option<Attempt> {
    let (Principal::Worker { .. }, app::Command::Run(command)) = (caller.principal, &request.command) else {
        return None;
    };
    let (step_id, attempt) = command.reported_attempt()?;
    Some(Attempt { run_id: request.id, step_id: step_id.to_owned(), attempt })
}

/// Ends the task of a worker's accepted report: the worker has it, or is done with it. Only
/// a saving: a task left behind runs out at its deadline, and its run refuses stale reports.
pub async fn reported(pool: &PgPool, attempt: &Attempt) {
    if let Err(error) = sagas::tasks::reported(pool, attempt).await {
        tracing::warn!(%error, "could not end a reported task's lease; it runs out");
    }
}
