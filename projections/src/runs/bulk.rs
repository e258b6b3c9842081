//! The Runs read models folded in memory, for rebuilds: a rebuild reads runs by the hundred
//! thousand, and writing each event's change as its own statements would bound it by round
//! trips. The rules are those of the SQL in [`super::apply`], row for row (a rebuild followed
//! by `oxbow projections diff` checks that they agree); the live projector keeps the SQL.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use events::runs::RunEvent;
use events::{DomainEvent, RecordedEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use super::status;

/// One `rm_runs` row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Run {
    id: Uuid,
    workspace_id: Uuid,
    workflow_id: Uuid,
    workflow_version: i32,
    status: String,
    budget: i64,
    credits_used: i64,
    reason: Option<String>,
    input: serde_json::Value,
    started_by: String,
    requested_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    version: i64,
}

/// One `rm_run_steps` row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Step {
    run_id: Uuid,
    step_id: String,
    ordinal: i32,
    agent_id: Uuid,
    depends_on: Vec<String>,
    status: String,
    attempts: i32,
    output: Option<serde_json::Value>,
    error: Option<String>,
    tokens: i64,
    duration_ms: i64,
    cost: i64,
}

/// What one usage row gains.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    attempts: i64,
    tokens: i64,
    credits: i64,
}

/// Runs, their steps and usage, held in memory until [`Runs::write`].
#[derive(Default)]
pub struct Runs {
    runs: HashMap<Uuid, Run>,
    /// The runs read from the tables by [`Runs::load`]: their rows are replaced on write.
    loaded: Vec<Uuid>,
    /// Each run's steps in plan order.
    steps: HashMap<Uuid, Vec<Step>>,
    /// Increments to `rm_usage`, by (workspace, day, agent).
    usage: HashMap<(Uuid, NaiveDate, Uuid), Usage>,
}

impl Runs {
    /// Reads the rows these runs already have, so that their events carry on from them.
    pub async fn load(&mut self, connection: &mut PgConnection, run_ids: &[Uuid]) -> sqlx::Result<()> {
        let missing: Vec<Uuid> = run_ids.iter().copied().filter(|id| !self.runs.contains_key(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let runs: Vec<Run> = sqlx::query_as(
            "select id, workspace_id, workflow_id, workflow_version, status, budget, credits_used, reason, input, \
                    started_by, requested_at, finished_at, updated_at, version from rm_runs where id = any($1)",
        )
        .bind(&missing)
        .fetch_all(&mut *connection)
        .await?;
        let steps: Vec<Step> = sqlx::query_as(
            "select run_id, step_id, ordinal, agent_id, depends_on, status, attempts, output, error, tokens, \
                    duration_ms, cost from rm_run_steps where run_id = any($1) order by run_id, ordinal",
        )
        .bind(&missing)
        .fetch_all(&mut *connection)
        .await?;
        for step in steps {
            self.steps.entry(step.run_id).or_default().push(step);
        }
        self.loaded.extend(runs.iter().map(|run| run.id));
        self.runs.extend(runs.into_iter().map(|run| (run.id, run)));
        Ok(())
    }

    /// Applies one run event, as [`super::apply`] would.
    pub fn apply(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let Some(id) = event.stream_id.strip_prefix("run-") else {
            return Ok(());
        };
        let run_id: Uuid = id.parse()?;
        let decoded = RunEvent::from_recorded(event)?;
        let at = event.recorded_at;
        if let RunEvent::RunRequested(e) = decoded {
            if self.runs.contains_key(&run_id) {
                return Ok(());
            }
            let started_by = event.metadata.get("actor").and_then(|a| a.as_str()).unwrap_or_default().to_owned();
            let steps = e
                .steps
                .iter()
                .enumerate()
                .map(|(ordinal, step)| Step {
                    run_id,
                    step_id: step.id.clone(),
                    ordinal: ordinal as i32,
                    agent_id: step.agent_id,
                    depends_on: step.depends_on.clone(),
                    status: status::PENDING.into(),
                    attempts: 0,
                    output: None,
                    error: None,
                    tokens: 0,
                    duration_ms: 0,
                    cost: 0,
                })
                .collect();
            self.steps.insert(run_id, steps);
            self.runs.insert(
                run_id,
                Run {
                    id: run_id,
                    workspace_id: e.workspace_id,
                    workflow_id: e.workflow_id,
                    workflow_version: e.workflow_version as i32,
                    status: status::REQUESTED.into(),
                    budget: e.budget,
                    credits_used: 0,
                    reason: None,
                    input: e.input,
                    started_by,
                    requested_at: at,
                    finished_at: None,
                    updated_at: at,
                    version: event.stream_version,
                },
            );
            return Ok(());
        }
        let run_status = match &decoded {
            RunEvent::RunRejected(_) => Some(status::REJECTED),
            RunEvent::RunStarted(_) => Some(status::RUNNING),
            RunEvent::RunSucceeded(_) => Some(status::SUCCEEDED),
            RunEvent::RunFailed(_) => Some(status::FAILED),
            RunEvent::RunCancelled(_) => Some(status::CANCELLED),
            _ => None,
        };
        // The run row moves only when it is older than the event; the rest only when it did.
        let Some(run) = self.runs.get_mut(&run_id).filter(|run| run.version < event.stream_version) else {
            return Ok(());
        };
        run.version = event.stream_version;
        run.updated_at = at;
        if let Some(run_status) = run_status {
            run.status = run_status.into();
        }
        let steps = self.steps.entry(run_id).or_default();
        let step = |steps: &mut Vec<Step>, step_id: &str| steps.iter_mut().position(|s| s.step_id == step_id);
        let mut set = |step_id: &str, status: &str, attempt: i64| {
            if let Some(i) = step(steps, step_id) {
                steps[i].status = status.into();
                steps[i].attempts = attempt as i32;
            }
            step(steps, step_id)
        };
        let mut charged = None;
        match decoded {
            RunEvent::RunRequested(_) | RunEvent::RunStarted(_) => {}
            RunEvent::StepScheduled(e) => {
                set(&e.step_id, status::SCHEDULED, e.attempt.into());
            }
            RunEvent::StepStarted(e) => {
                set(&e.step_id, status::RUNNING, e.attempt.into());
            }
            RunEvent::StepSucceeded(e) => {
                let found = set(&e.step_id, status::SUCCEEDED, e.attempt.into());
                if let Some(i) = found {
                    steps[i].output = Some(e.output);
                    steps[i].error = None;
                }
                charged = Some((found, saturating(e.tokens), saturating(e.duration_ms), e.cost));
            }
            RunEvent::StepFailed(e) => {
                let found = set(&e.step_id, status::FAILED, e.attempt.into());
                if let Some(i) = found {
                    steps[i].error = Some(e.error);
                }
                charged = Some((found, 0, 0, e.cost));
            }
            RunEvent::StepTimedOut(e) => {
                set(&e.step_id, status::TIMED_OUT, e.attempt.into());
            }
            RunEvent::StepRetryScheduled(e) => {
                set(&e.step_id, status::PENDING, i64::from(e.attempt) - 1);
            }
            RunEvent::RunRejected(e) => finish(run, steps, at, Some(e.reason), None),
            RunEvent::RunSucceeded(e) => finish(run, steps, at, None, Some(e.credits_used)),
            RunEvent::RunFailed(e) => finish(run, steps, at, Some(e.reason), Some(e.credits_used)),
            RunEvent::RunCancelled(e) => finish(run, steps, at, Some(e.reason), Some(e.credits_used)),
        }
        if let Some((found, tokens, duration_ms, cost)) = charged {
            run.credits_used += cost;
            if let Some(i) = found {
                let step = &mut steps[i];
                step.tokens += tokens;
                step.duration_ms += duration_ms;
                step.cost += cost;
                let usage = self.usage.entry((run.workspace_id, at.date_naive(), step.agent_id)).or_default();
                usage.attempts += 1;
                usage.tokens += tokens;
                usage.credits += cost;
            }
        }
        Ok(())
    }

    /// Writes what is held (replacing the rows of the runs loaded, adding to usage) and forgets it.
    pub async fn write(&mut self, connection: &mut PgConnection) -> sqlx::Result<()> {
        let runs: Vec<Run> = self.runs.drain().map(|(_, run)| run).collect();
        let steps: Vec<Step> = self.steps.drain().flat_map(|(_, steps)| steps).collect();
        let ids: Vec<Uuid> = runs.iter().map(|run| run.id).collect();
        let loaded = std::mem::take(&mut self.loaded);
        sqlx::query("delete from rm_run_steps where run_id = any($1)").bind(&loaded).execute(&mut *connection).await?;
        sqlx::query("delete from rm_runs where id = any($1)").bind(&loaded).execute(&mut *connection).await?;
        let column = |f: fn(&Run) -> _| runs.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "insert into rm_runs (id, workspace_id, workflow_id, workflow_version, status, budget, credits_used, \
                                  reason, input, started_by, requested_at, finished_at, updated_at, version) \
             select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::bigint[], \
                                  $7::bigint[], $8::text[], $9::jsonb[], $10::text[], $11::timestamptz[], \
                                  $12::timestamptz[], $13::timestamptz[], $14::bigint[])",
        )
        .bind(&ids)
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
        .execute(&mut *connection)
        .await?;
        // PostgreSQL has no arrays of arrays of different lengths: each step's dependencies go
        // as the text of an array.
        let depends_on: Vec<String> = steps.iter().map(|s| array_text(&s.depends_on)).collect();
        sqlx::query(
            "insert into rm_run_steps (run_id, step_id, ordinal, agent_id, depends_on, status, attempts, output, \
                                       error, tokens, duration_ms, cost) \
             select s.run_id, s.step_id, s.ordinal, s.agent_id, s.depends_on::text[], s.status, s.attempts, \
                    s.output, s.error, s.tokens, s.duration_ms, s.cost \
               from unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::text[], $7::int[], \
                           $8::jsonb[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[]) \
                 as s(run_id, step_id, ordinal, agent_id, depends_on, status, attempts, output, error, tokens, \
                      duration_ms, cost)",
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
        .bind(steps.iter().map(|s| s.tokens).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.duration_ms).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.cost).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
        let usage: Vec<((Uuid, NaiveDate, Uuid), Usage)> = self.usage.drain().collect();
        sqlx::query(
            "insert into rm_usage (workspace_id, day, agent_id, attempts, tokens, credits) \
             select * from unnest($1::uuid[], $2::date[], $3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[]) \
             on conflict (workspace_id, day, agent_id) do update set attempts = rm_usage.attempts + excluded.attempts, \
                tokens = rm_usage.tokens + excluded.tokens, credits = rm_usage.credits + excluded.credits",
        )
        .bind(usage.iter().map(|((workspace, _, _), _)| *workspace).collect::<Vec<_>>())
        .bind(usage.iter().map(|((_, day, _), _)| *day).collect::<Vec<_>>())
        .bind(usage.iter().map(|((_, _, agent), _)| *agent).collect::<Vec<_>>())
        .bind(usage.iter().map(|(_, u)| u.attempts).collect::<Vec<_>>())
        .bind(usage.iter().map(|(_, u)| u.tokens).collect::<Vec<_>>())
        .bind(usage.iter().map(|(_, u)| u.credits).collect::<Vec<_>>())
        .execute(connection)
        .await?;
        Ok(())
    }
}

/// The run is over: its reason, its own account of what it used, and every step still waiting
/// is cancelled.
fn finish(run: &mut Run, steps: &mut [Step], at: DateTime<Utc>, reason: Option<String>, used: Option<i64>) {
    run.reason = reason;
    run.finished_at = Some(at);
    if let Some(used) = used {
        run.credits_used = used;
    }
    for step in steps {
        if [status::PENDING, status::SCHEDULED, status::RUNNING].contains(&step.status.as_str()) {
            step.status = status::CANCELLED.into();
        }
    }
}

/// A text array as PostgreSQL reads it: `{"a","b"}`.
fn array_text(elements: &[String]) -> String {
    let quoted: Vec<String> =
        elements.iter().map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("{{{}}}", quoted.join(","))
}

fn saturating(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
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
