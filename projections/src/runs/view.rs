//! How the Runs read model changes with each event, as one pure rule: the run's rows as they
//! are, and an event, give the rows as they become ([`change`]). `runs::bulk` folds a batch of
//! events with it in memory and writes the result once, for the projector and the rebuild.
//!
//! The arithmetic is defined for every input: counters saturate at the largest value their
//! column holds, never wrapping or failing, so no event can stop the projection.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use events::runs::{RunEvent, RunRequested};
use events::{Category, DomainEvent, RecordedEvent, StreamId};
use uuid::Uuid;

/// A run's status, stored in `rm_runs.status` as the GraphQL enum's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Requested,
    Rejected,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// A step's status, stored in `rm_run_steps.status` as the GraphQL enum's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum StepStatus {
    /// Waiting for its dependencies, or for its next attempt.
    Pending,
    Scheduled,
    Running,
    /// An approval or signal step, waiting for its answer.
    Waiting,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

/// Declares the stored name of each variant once, for both directions.
macro_rules! stored_names {
    ($type:ident { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $name),* }
            }
        }

        impl FromStr for $type {
            type Err = UnknownStatus;
            fn from_str(text: &str) -> Result<Self, UnknownStatus> {
                match text {
                    $($name => Ok($type::$variant),)*
                    _ => Err(UnknownStatus(text.to_owned())),
                }
            }
        }

        impl TryFrom<String> for $type {
            type Error = UnknownStatus;
            fn try_from(text: String) -> Result<Self, UnknownStatus> {
                text.parse()
            }
        }
    };
}

stored_names!(RunStatus {
    Requested => "REQUESTED",
    Rejected => "REJECTED",
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
});

stored_names!(StepStatus {
    Pending => "PENDING",
    Scheduled => "SCHEDULED",
    Running => "RUNNING",
    Waiting => "WAITING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    TimedOut => "TIMED_OUT",
    Cancelled => "CANCELLED",
});

impl StepStatus {
    /// Still to finish: a run that ends cancels these.
    pub fn is_unfinished(self) -> bool {
        matches!(self, StepStatus::Pending | StepStatus::Scheduled | StepStatus::Running | StepStatus::Waiting)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown status `{0}` in the runs read model")]
pub struct UnknownStatus(String);

/// One `rm_runs` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_version: i32,
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    pub budget: i64,
    pub credits_used: i64,
    pub reason: Option<String>,
    pub input: serde_json::Value,
    /// What the run produced, once it succeeded with an output.
    pub output: Option<serde_json::Value>,
    /// The run this one retries.
    pub retry_of: Option<Uuid>,
    pub started_by: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The run stream's version last applied: only a newer event moves the run.
    pub version: i64,
}

/// One `rm_run_steps` row (also read as the row's JSON, by its column names).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Deserialize)]
pub struct StepRow {
    pub run_id: Uuid,
    pub step_id: String,
    /// The step's place in the workflow, for listing in plan order.
    pub ordinal: i32,
    /// What does its work: `agent`, or `approval` or `signal` for a step that waits for an
    /// answer.
    pub kind: String,
    /// The agent that does its work; a step of a kind a person answers has none.
    pub agent_id: Option<Uuid>,
    /// For a step a person answers, the least workspace role that may (its `approvers` or
    /// `signalers`).
    pub approvers: Option<String>,
    pub depends_on: Vec<String>,
    #[sqlx(try_from = "String")]
    pub status: StepStatus,
    pub attempts: i32,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub duration_ms: i64,
    pub cost: i64,
    /// What its current attempt got: its input template resolved.
    pub input: Option<serde_json::Value>,
    /// When its current attempt times out.
    pub deadline: Option<DateTime<Utc>>,
    /// When its next attempt is due, while it waits for one.
    pub retry_at: Option<DateTime<Utc>>,
    /// The run whose result it took over, when a retry reused it.
    pub reused_from: Option<Uuid>,
}

/// A run with its steps in plan order: what the rule reads.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub run: RunRow,
    pub steps: Vec<StepRow>,
}

/// The `rm_usage` row an attempt's cost is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    pub workspace_id: Uuid,
    pub day: NaiveDate,
    pub agent_id: Uuid,
}

/// Counts of an `rm_usage` row, or what an attempt adds to them. Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub attempts: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub credits: i64,
}

impl Usage {
    /// Adds saturating at `i64::MAX`; since counts are never negative, adding in any grouping
    /// and order gives the same total. `runs::add_usage` does the same in SQL.
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            attempts: self.attempts.saturating_add(other.attempts),
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            credits: self.credits.saturating_add(other.credits),
        }
    }
}

/// What one event does to the read model.
#[derive(Debug, Clone, PartialEq)]
pub enum RunChange {
    /// A new run with its steps.
    Insert(RunView),
    /// The run's row as it becomes, the steps that changed as they become, what to add to an
    /// agent's usage, and the artifacts a step produced (numbered when written: see
    /// [`number_artifacts`]).
    Update { run: RunRow, steps: Vec<StepRow>, usage: Option<(UsageKey, Usage)>, artifacts: Vec<ArtifactRow> },
}

/// One `rm_artifacts` row: a file a step produced, the `version`th of its name in its workspace.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArtifactRow {
    pub workspace_id: Uuid,
    pub name: String,
    /// 0 until [`number_artifacts`] gives it its number.
    pub version: i32,
    pub run_id: Uuid,
    pub step_id: String,
    pub attempt: i32,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub uri: String,
    /// The log position of the event that recorded it, and its place in that event's list:
    /// newest first is by these, the same after any rebuild.
    pub position: i64,
    pub ordinal: i32,
    pub created_at: DateTime<Utc>,
}

/// Numbers artifacts in log order: each is 1 + the highest version of its name in its
/// workspace so far, `highest` holding what the table had. The same log numbers the same way
/// however it is batched.
pub fn number_artifacts(highest: &mut HashMap<(Uuid, String), i32>, artifacts: &mut [ArtifactRow]) {
    for artifact in artifacts {
        let version = highest.entry((artifact.workspace_id, artifact.name.clone())).or_insert(0);
        *version = version.saturating_add(1);
        artifact.version = *version;
    }
}

impl RunChange {
    /// The run the change is about.
    pub fn run(&self) -> &RunRow {
        match self {
            RunChange::Insert(view) => &view.run,
            RunChange::Update { run, .. } => run,
        }
    }
}

/// The run an event's stream holds, when it is a run's.
pub fn run_of(event: &RecordedEvent) -> Option<Uuid> {
    StreamId::id_of(&event.stream_id, Category::Run)
}

/// The rule: what `event` changes in the run as `view` shows it (`None`: not in the read model
/// yet). `None` when it changes nothing: an event the run has seen, or a run never requested.
pub fn change(view: Option<&RunView>, event: &RecordedEvent) -> Result<Option<RunChange>, events::Error> {
    let Some(run_id) = run_of(event) else { return Ok(None) };
    let decoded = RunEvent::from_recorded(event)?;
    let view = match (view, decoded) {
        (None, RunEvent::RunRequested(requested)) => return Ok(Some(requested_run(run_id, event, requested))),
        (Some(view), decoded) if view.run.version < event.stream_version => (view, decoded),
        _ => return Ok(None),
    };
    let (view, decoded) = view;
    let at = event.recorded_at;
    let mut run = view.run.clone();
    run.version = event.stream_version;
    run.updated_at = at;
    // The step an event names, as it becomes; an unknown step changes nothing but the run.
    let step = |step_id: &str, status: StepStatus, attempt: u32| {
        let step = view.steps.iter().find(|s| s.step_id == step_id)?;
        Some(StepRow { status, attempts: clamp_i32(attempt.into()), ..step.clone() })
    };
    let mut steps = Vec::new();
    let mut usage = None;
    let mut artifacts = Vec::new();
    match decoded {
        // A run is requested once: its stream's first event.
        RunEvent::RunRequested(_) => return Ok(None),
        RunEvent::RunStarted(_) => run.status = RunStatus::Running,
        RunEvent::StepScheduled(e) => {
            steps.extend(step(&e.step_id, StepStatus::Scheduled, e.attempt).map(|step| StepRow {
                input: Some(e.input),
                deadline: Some(e.deadline),
                retry_at: None,
                ..step
            }))
        }
        RunEvent::StepAwaiting(e) => {
            steps.extend(step(&e.step_id, StepStatus::Waiting, e.attempt).map(|step| StepRow {
                input: Some(e.input),
                deadline: Some(e.deadline),
                retry_at: None,
                ..step
            }))
        }
        RunEvent::StepStarted(e) => steps.extend(step(&e.step_id, StepStatus::Running, e.attempt)),
        // Taken over from the run retried: done, with no attempt and no cost of its own.
        RunEvent::StepReused(e) => steps.extend(step(&e.step_id, StepStatus::Succeeded, 0).map(|step| StepRow {
            input: Some(e.input),
            output: Some(e.output),
            reused_from: Some(e.from.run_id),
            ..step
        })),
        RunEvent::StepSucceeded(e) => {
            artifacts = e
                .artifacts
                .into_iter()
                .enumerate()
                .map(|(ordinal, artifact)| ArtifactRow {
                    workspace_id: run.workspace_id,
                    name: artifact.name,
                    version: 0,
                    run_id,
                    step_id: e.step_id.clone(),
                    attempt: clamp_i32(e.attempt.into()),
                    media_type: artifact.media_type,
                    size: clamp_i64(artifact.size),
                    sha256: artifact.sha256,
                    uri: artifact.uri,
                    position: event.position,
                    ordinal: clamp_i32(ordinal as u64),
                    created_at: at,
                })
                .collect();
            let charge = Usage {
                attempts: 1,
                input_tokens: clamp_i64(e.input_tokens),
                output_tokens: clamp_i64(e.output_tokens),
                credits: e.cost,
            };
            let succeeded = step(&e.step_id, StepStatus::Succeeded, e.attempt).map(|step| StepRow {
                output: Some(e.output),
                error: None,
                ..step
            });
            usage = charge_attempt(&mut run, succeeded, charge, clamp_i64(e.duration_ms), at, &mut steps);
        }
        RunEvent::StepFailed(e) => {
            // A step whose input could not be made fails before any attempt was dispatched:
            // usage counts no attempt for it.
            let dispatched = view.steps.iter().any(|s| s.step_id == e.step_id && s.status != StepStatus::Pending);
            let charge = Usage { attempts: i64::from(dispatched), credits: e.cost, ..Usage::default() };
            let failed =
                step(&e.step_id, StepStatus::Failed, e.attempt).map(|step| StepRow { error: Some(e.error), ..step });
            usage = charge_attempt(&mut run, failed, charge, 0, at, &mut steps);
        }
        RunEvent::StepTimedOut(e) => steps.extend(step(&e.step_id, StepStatus::TimedOut, e.attempt)),
        // Waiting for its next attempt: pending again, its attempts so far counted.
        RunEvent::StepRetryScheduled(e) => steps.extend(
            step(&e.step_id, StepStatus::Pending, e.attempt.saturating_sub(1))
                .map(|step| StepRow { retry_at: Some(e.at), ..step }),
        ),
        RunEvent::RunRejected(e) => steps = finish(&mut run, view, RunStatus::Rejected, Some(e.reason), None, at),
        // The run's own account of what it used is the last word.
        RunEvent::RunSucceeded(e) => {
            run.output = e.output;
            steps = finish(&mut run, view, RunStatus::Succeeded, None, Some(e.credits_used), at)
        }
        RunEvent::RunFailed(e) => {
            steps = finish(&mut run, view, RunStatus::Failed, Some(e.reason), Some(e.credits_used), at)
        }
        RunEvent::RunCancelled(e) => {
            steps = finish(&mut run, view, RunStatus::Cancelled, Some(e.reason), Some(e.credits_used), at)
        }
    }
    Ok(Some(RunChange::Update { run, steps, usage, artifacts }))
}

fn requested_run(run_id: Uuid, event: &RecordedEvent, requested: RunRequested) -> RunChange {
    let steps = requested
        .steps
        .into_iter()
        .enumerate()
        .map(|(ordinal, step)| StepRow {
            run_id,
            step_id: step.id,
            ordinal: clamp_i32(ordinal as u64),
            kind: step.kind.as_str().to_owned(),
            agent_id: step.agent_id,
            approvers: step.approvers.or(step.signalers).map(|role| role.as_str().to_owned()),
            depends_on: step.depends_on,
            status: StepStatus::Pending,
            attempts: 0,
            output: None,
            error: None,
            input_tokens: 0,
            output_tokens: 0,
            duration_ms: 0,
            cost: 0,
            input: None,
            deadline: None,
            retry_at: None,
            reused_from: None,
        })
        .collect();
    let run = RunRow {
        id: run_id,
        workspace_id: requested.workspace_id,
        workflow_id: requested.workflow_id,
        workflow_version: clamp_i32(requested.workflow_version.into()),
        status: RunStatus::Requested,
        budget: requested.budget,
        credits_used: 0,
        reason: None,
        input: requested.input,
        output: None,
        retry_of: requested.retry_of,
        started_by: event.actor().unwrap_or_default().to_owned(),
        requested_at: event.recorded_at,
        finished_at: None,
        updated_at: event.recorded_at,
        version: event.stream_version,
    };
    RunChange::Insert(RunView { run, steps })
}

/// An attempt ended and cost `charge.credits`: the run pays it, and when the step is known,
/// the step and its agent's usage for the day count it.
fn charge_attempt(
    run: &mut RunRow,
    step: Option<StepRow>,
    charge: Usage,
    duration_ms: i64,
    at: DateTime<Utc>,
    steps: &mut Vec<StepRow>,
) -> Option<(UsageKey, Usage)> {
    run.credits_used = run.credits_used.saturating_add(charge.credits);
    let mut step = step?;
    step.input_tokens = step.input_tokens.saturating_add(charge.input_tokens);
    step.output_tokens = step.output_tokens.saturating_add(charge.output_tokens);
    step.duration_ms = step.duration_ms.saturating_add(duration_ms);
    step.cost = step.cost.saturating_add(charge.credits);
    let agent_id = step.agent_id;
    steps.push(step);
    let key = UsageKey { workspace_id: run.workspace_id, day: at.date_naive(), agent_id: agent_id? };
    // Usage counts what was charged; a negative cost, which no decider records, counts as none.
    Some((key, Usage { credits: charge.credits.max(0), ..charge }))
}

/// The run is over: its status, its reason, and (but for a rejection) its own account of what
/// it used. Returns its waiting steps, cancelled.
fn finish(
    run: &mut RunRow,
    view: &RunView,
    status: RunStatus,
    reason: Option<String>,
    used: Option<i64>,
    at: DateTime<Utc>,
) -> Vec<StepRow> {
    run.status = status;
    run.reason = reason;
    run.finished_at = Some(at);
    if let Some(used) = used {
        run.credits_used = used;
    }
    let unfinished = view.steps.iter().filter(|step| step.status.is_unfinished());
    unfinished.map(|step| StepRow { status: StepStatus::Cancelled, ..step.clone() }).collect()
}

impl RunChange {
    /// Applies the change to runs held in memory (the rule made it from the view they hold),
    /// and returns what it adds to usage.
    pub fn apply_to(self, views: &mut HashMap<Uuid, RunView>) -> Option<(UsageKey, Usage)> {
        match self {
            RunChange::Insert(view) => {
                views.entry(view.run.id).or_insert(view);
                None
            }
            RunChange::Update { run, steps, usage, .. } => {
                let view = views.get_mut(&run.id)?;
                view.run = run;
                for step in steps {
                    if let Some(slot) = view.steps.iter_mut().find(|s| s.step_id == step.step_id) {
                        *slot = step;
                    }
                }
                usage
            }
        }
    }
}

fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn clamp_i32(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
