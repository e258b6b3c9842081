//! `agent_tasks`: external agents' attempts, offered to that agent's own workers, who lease
//! them over HTTP (`POST /v1/tasks/lease` in the write API) with the agent's worker credential.
//! A worker never sees another agent's tasks, so no tenant reads another's prompts; a shared
//! Kafka topic could not promise that (its ACLs cannot split one topic by key).
//!
//! A task is offered when its attempt is dispatched, leased for [`LEASE`] (a lease runs out
//! unless extended), and gone once the attempt is started, over or its run ended: the sagas
//! delete it in the transaction that plans the event saying so. Its input is not copied: the
//! row names the attempt's `StepScheduled`, which holds it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use events::runs::RunEvent;
use events::{DomainEvent, RecordedEvent};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

/// How long a lease lasts unless the worker reports or extends it.
pub const LEASE: Duration = Duration::from_secs(30);
/// The most tasks one lease takes.
pub const MAX_PER_LEASE: i64 = 100;
/// The channel a new task is announced on, with its agent's id.
pub const CHANNEL: &str = "oxbow_agent_tasks";

/// An attempt, named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attempt {
    pub run_id: Uuid,
    pub step_id: String,
    pub attempt: u32,
}

/// A task as its worker receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeasedTask {
    pub run_id: Uuid,
    pub workspace_id: Uuid,
    pub agent_id: Uuid,
    pub step_id: String,
    pub attempt: u32,
    pub input: serde_json::Value,
    /// The attempt times out at this moment; a report after it is refused.
    pub deadline: DateTime<Utc>,
    /// The lease ends then, unless the worker reports or extends it.
    pub lease_expires_at: DateTime<Utc>,
    /// The trace the task was offered in, for the worker to continue (its reports with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// Offers an attempt to its agent's workers, and wakes those waiting. Offering it again
/// changes nothing.
#[allow(clippy::too_many_arguments)]
pub async fn offer(
    pool: &PgPool,
    attempt: &Attempt,
    agent_id: Uuid,
    workspace_id: Uuid,
    scheduled_position: i64,
    deadline: DateTime<Utc>,
    trace_context: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "with offered as ( \
             insert into agent_tasks (run_id, step_id, attempt, agent_id, workspace_id, scheduled_position, deadline, \
                                      trace_context) \
             values ($1, $2, $3, $4, $5, $6, $7, $9) on conflict do nothing returning agent_id) \
         select pg_notify($8, agent_id::text) from offered",
    )
    .bind(attempt.run_id)
    .bind(&attempt.step_id)
    .bind(attempt.attempt as i32)
    .bind(agent_id)
    .bind(workspace_id)
    .bind(scheduled_position)
    .bind(deadline)
    .bind(CHANNEL)
    .bind(trace_context)
    .execute(pool)
    .await?;
    Ok(())
}

/// Leases up to `max` of `agent_id`'s tasks that are neither leased nor past their deadline,
/// oldest first, with their input read from the log.
pub async fn lease(pool: &PgPool, agent_id: Uuid, max: i64) -> anyhow::Result<Vec<LeasedTask>> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(Uuid, String, i32, Uuid, i64, DateTime<Utc>, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "with free as (select run_id, step_id, attempt from agent_tasks \
                        where agent_id = $1 and (leased_until is null or leased_until < now()) and deadline > now() \
                        order by offered_at limit $2 for update skip locked) \
         update agent_tasks t set leased_until = now() + make_interval(secs => $3) \
           from free where t.run_id = free.run_id and t.step_id = free.step_id and t.attempt = free.attempt \
         returning t.run_id, t.step_id, t.attempt, t.workspace_id, t.scheduled_position, t.deadline, t.leased_until, \
                   t.trace_context",
    )
    .bind(agent_id)
    .bind(max.clamp(1, MAX_PER_LEASE))
    .bind(LEASE.as_secs_f64())
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let positions: Vec<i64> = rows.iter().map(|row| row.4).collect();
    let scheduled = store::read_positions(pool, &positions).await?;
    let mut tasks = Vec::with_capacity(rows.len());
    for (run_id, step_id, attempt, workspace_id, position, deadline, leased_until, traceparent) in rows {
        let input = scheduled.iter().find(|event| event.position == position).and_then(|event| {
            match RunEvent::from_recorded(event) {
                Ok(RunEvent::StepScheduled(scheduled)) => Some(scheduled.input),
                _ => None,
            }
        });
        let Some(input) = input else {
            tracing::error!(position, %run_id, "a task's StepScheduled is not in the log");
            continue;
        };
        tasks.push(LeasedTask {
            run_id,
            workspace_id,
            agent_id,
            step_id,
            attempt: attempt as u32,
            input,
            deadline,
            lease_expires_at: leased_until,
            traceparent,
        });
    }
    Ok(tasks)
}

/// Extends `agent_id`'s lease of `attempt` by [`LEASE`] from now. `None` when the attempt is
/// no task of that agent's any more (started, over, its run ended) or past its deadline.
pub async fn extend(pool: &PgPool, agent_id: Uuid, attempt: &Attempt) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "update agent_tasks set leased_until = now() + make_interval(secs => $5) \
          where run_id = $1 and step_id = $2 and attempt = $3 and agent_id = $4 and deadline > now() \
          returning leased_until",
    )
    .bind(attempt.run_id)
    .bind(&attempt.step_id)
    .bind(attempt.attempt as i32)
    .bind(agent_id)
    .bind(LEASE.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// What an event ends of the tasks: an attempt (succeeded, failed, timed out), or every task of
/// its run (the run's end). A worker's report that it started ends its task in the write API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Attempt(Attempt),
    Run(Uuid),
}

/// The tasks `event` ends, if any. Pure.
pub fn ended_by(event: &RecordedEvent) -> Option<Ended> {
    let run_id = event.aggregate_id(events::Category::Run)?;
    let attempt =
        |step_id: &str, attempt: u32| Ended::Attempt(Attempt { run_id, step_id: step_id.to_owned(), attempt });
    match RunEvent::from_recorded(event).ok()? {
        RunEvent::StepSucceeded(e) => Some(attempt(&e.step_id, e.attempt)),
        RunEvent::StepFailed(e) => Some(attempt(&e.step_id, e.attempt)),
        RunEvent::StepTimedOut(e) => Some(attempt(&e.step_id, e.attempt)),
        RunEvent::RunSucceeded(_) | RunEvent::RunFailed(_) | RunEvent::RunCancelled(_) => Some(Ended::Run(run_id)),
        _ => None,
    }
}

/// The tasks `ended` names, as the columns [`delete_ended_sql!`] binds: runs, steps and attempts
/// of ended attempts, then whole runs.
pub(crate) fn ended_columns(ended: &[Ended]) -> (Vec<Uuid>, Vec<&str>, Vec<i32>, Vec<Uuid>) {
    let (mut runs, mut steps, mut attempts, mut whole_runs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ended in ended {
        match ended {
            Ended::Attempt(attempt) => {
                runs.push(attempt.run_id);
                steps.push(attempt.step_id.as_str());
                attempts.push(attempt.attempt as i32);
            }
            Ended::Run(run_id) => whole_runs.push(*run_id),
        }
    }
    (runs, steps, attempts, whole_runs)
}

/// A CTE that deletes ended tasks, for a statement of the planner's (the events that end tasks
/// make saga work moot too, so one statement does both). Binds $2..$5 as [`ended_columns`].
macro_rules! delete_ended_sql {
    () => {
        "ended_tasks as (delete from agent_tasks t \
           where t.run_id = any($5) \
              or (t.run_id, t.step_id, t.attempt) in (select * from unnest($2::uuid[], $3::text[], $4::int[])))"
    };
}
pub(crate) use delete_ended_sql;

/// Ends the task of a worker's reported attempt: the worker has it, or is done with it.
pub async fn reported(pool: &PgPool, attempt: &Attempt) -> sqlx::Result<()> {
    sqlx::query("delete from agent_tasks where run_id = $1 and step_id = $2 and attempt = $3")
        .bind(attempt.run_id)
        .bind(&attempt.step_id)
        .bind(attempt.attempt as i32)
        .execute(pool)
        .await?;
    Ok(())
}

/// Wakes waiting leases when a task is offered, in this process or another: one listener per
/// process hands each announcement (an agent's id) to every lease waiting.
#[derive(Clone)]
pub struct TaskBell {
    sender: broadcast::Sender<Uuid>,
}

impl TaskBell {
    /// Starts listening on [`CHANNEL`]; reconnects after a failure. A lease also looks again
    /// every second, so a lost announcement only delays it.
    pub fn spawn(pool: PgPool) -> TaskBell {
        let (sender, _) = broadcast::channel(1024);
        let bell = TaskBell { sender: sender.clone() };
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&pool, &sender).await {
                    tracing::warn!(%error, "the task bell lost its listener; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        bell
    }

    /// Waits until a task of `agent_id` is offered, or `timeout` passes.
    pub async fn wait(&self, agent_id: Uuid, timeout: Duration) {
        let mut announced = self.sender.subscribe();
        let _ = tokio::time::timeout(timeout, async {
            loop {
                match announced.recv().await {
                    Ok(agent) if agent == agent_id => return,
                    Ok(_) => continue,
                    // Missed some: one of them may be this agent's.
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        })
        .await;
    }

    /// A bell that only a subscriber's own timeout ends, where nothing announces (tests).
    pub fn silent() -> TaskBell {
        TaskBell { sender: broadcast::channel(1).0 }
    }
}

async fn listen(pool: &PgPool, sender: &broadcast::Sender<Uuid>) -> sqlx::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notification = listener.recv().await?;
        if let Ok(agent) = notification.payload().parse() {
            let _ = sender.send(agent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_event(event_type: &str, payload: serde_json::Value) -> RecordedEvent {
        RecordedEvent {
            position: 7,
            stream_id: format!("run-{}", Uuid::nil()),
            stream_version: 3,
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            payload,
            metadata: json!({}),
            recorded_at: Utc::now(),
            hash: events::GENESIS_HASH,
        }
    }

    #[test]
    fn an_event_that_ends_a_task_makes_saga_work_moot_too() {
        // One statement deletes both: every event that ends a task must reach it.
        for (event_type, payload) in [
            (
                "StepSucceeded",
                json!({"step_id": "a", "attempt": 1, "output": {}, "tokens": 0, "duration_ms": 1, "cost": 0}),
            ),
            ("StepFailed", json!({"step_id": "a", "attempt": 1, "error": "x", "retryable": false, "cost": 0})),
            ("StepTimedOut", json!({"step_id": "a", "attempt": 1})),
            ("RunCancelled", json!({"reason": "by the owner", "credits_used": 0})),
        ] {
            let event = run_event(event_type, payload);
            RunEvent::from_recorded(&event).unwrap_or_else(|error| panic!("{event_type}: {error}"));
            assert!(ended_by(&event).is_some(), "{event_type} ends a task");
            assert!(!crate::plan::moot(&event).is_empty(), "{event_type} makes work moot");
        }
        let started = run_event("StepStarted", json!({"step_id": "a", "attempt": 1}));
        assert_eq!(ended_by(&started), None, "a start ends the task where the worker reports it");
    }
}
