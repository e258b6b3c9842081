//! The Run aggregate: one run of a workflow version. Members start and cancel runs; workers
//! report their attempts; members (and a signal's agent) answer the steps that wait for a person
//! or an outside system; the run saga begins or rejects a run, fires timeouts and retries.
//!
//! Every rule of a run lives here: which steps are due once their dependencies succeed, what
//! an attempt costs (never more than what remains of the budget), when a failure is retried,
//! and when the run is over. Reports are idempotent per step attempt; a report for an attempt
//! that is not the step's current one is refused and changes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use events::agents::Executor;
use events::runs::{
    Artifact, PlannedStep, ReusedFrom, RunCancelled, RunEvent, RunFailed, RunRejected, RunRequested, RunStarted,
    RunSucceeded, StepAwaiting, StepFailed, StepRetryScheduled, StepReused, StepScheduled, StepStarted, StepSucceeded,
    StepTimedOut,
};
use events::template::{self, ResolveError, Source};
use events::workflows::StepKind;
use events::workspace::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Access;
use crate::{
    Aggregate, CommandContext, Decider, FieldError, Principal, Rejection, RejectionKind, Validate, command_enum,
    validate,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub workspace_id: Uuid,
    pub workflow_id: Uuid,
    /// The current version when absent.
    #[serde(default)]
    pub workflow_version: Option<u32>,
    #[serde(default)]
    pub input: serde_json::Value,
    /// The most credits the run may use.
    #[schemars(range(min = 1, max = crate::billing::AMOUNT_MAX))]
    pub budget: i64,
    /// A run of the same workflow that failed or was cancelled: the steps that succeeded there
    /// with the same input are reused, not run again. Without `input` (or with `null`), the
    /// retry takes that run's input; without `workflow_version`, its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRun {
    #[serde(default)]
    #[schemars(length(max = TEXT_MAX_CHARS))]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportStepStarted {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    pub attempt: u32,
}

/// What an attempt used: input and output tokens apart, as LLM platforms price them (and as
/// OpenTelemetry's GenAI conventions name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    #[serde(default)]
    #[schemars(range(max = TOKENS_MAX))]
    pub input_tokens: u64,
    #[serde(default)]
    #[schemars(range(max = TOKENS_MAX))]
    pub output_tokens: u64,
    /// Deprecated, taken for one release: counted as input tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(max = TOKENS_MAX))]
    pub tokens: u64,
    #[serde(default)]
    #[schemars(range(max = DURATION_MAX_MS))]
    pub duration_ms: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Usage {
    /// Input tokens, the deprecated `tokens` among them.
    pub fn input(&self) -> u64 {
        self.input_tokens.saturating_add(self.tokens)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    pub attempt: u32,
    #[serde(default)]
    pub output: serde_json::Value,
    #[serde(default)]
    pub usage: Usage,
    /// The files the attempt produced: their metadata, never their bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = validate::ARTIFACTS_MAX))]
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    pub attempt: u32,
    #[schemars(length(max = TEXT_MAX_CHARS))]
    pub error: String,
    pub retryable: bool,
}

/// Approves an approval step: it succeeds with `{"approved": true, "by", "comment"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = TEXT_MAX_CHARS))]
    pub comment: Option<String>,
}

/// Rejects an approval step: it fails, without a retry, and the run with it (`step_rejected`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    #[schemars(length(min = 1, max = TEXT_MAX_CHARS))]
    pub reason: String,
}

/// Answers a signal step: `payload` is its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    pub payload: serde_json::Value,
}

/// From the run saga: the budget is reserved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeginRun {
    pub reservation_id: Uuid,
}

/// From the run saga: credits are short or the workspace is suspended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRun {
    pub reason: String,
}

/// From the run saga: an attempt's deadline passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOutStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    pub attempt: u32,
}

/// From the run saga: a retry's backoff is over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryStep {
    #[schemars(length(min = 1, max = STEP_ID_MAX_CHARS))]
    pub step_id: String,
    pub attempt: u32,
}

command_enum! {
    /// Every command the Run aggregate takes.
    pub enum RunCommand {
        StartRun,
        CancelRun,
        ReportStepStarted,
        CompleteStep,
        FailStep,
        ApproveStep,
        RejectStep,
        SignalStep,
        BeginRun,
        RejectRun,
        TimeOutStep,
        RetryStep,
    }
}

impl RunCommand {
    /// The step a report is about: reports come from whoever runs the step.
    pub fn reported_step(&self) -> Option<&str> {
        match self {
            RunCommand::ReportStepStarted(report) => Some(&report.step_id),
            RunCommand::CompleteStep(report) => Some(&report.step_id),
            RunCommand::FailStep(report) => Some(&report.step_id),
            _ => None,
        }
    }

    /// The attempt a report is about.
    pub fn reported_attempt(&self) -> Option<(&str, u32)> {
        match self {
            RunCommand::ReportStepStarted(report) => Some((&report.step_id, report.attempt)),
            RunCommand::CompleteStep(report) => Some((&report.step_id, report.attempt)),
            RunCommand::FailStep(report) => Some((&report.step_id, report.attempt)),
            _ => None,
        }
    }

    /// The answer to a waiting step: an approval, a rejection or a signal.
    pub fn answer(&self) -> Option<Answer<'_>> {
        match self {
            RunCommand::ApproveStep(approve) => Some(Answer::Approve(approve)),
            RunCommand::RejectStep(reject) => Some(Answer::Reject(reject)),
            RunCommand::SignalStep(signal) => Some(Answer::Signal(signal)),
            _ => None,
        }
    }

    /// What a worker's credential may send: its agent's reports, and the signals its agent is
    /// named for.
    pub fn from_a_worker(&self) -> bool {
        self.reported_step().is_some() || matches!(self, RunCommand::SignalStep(_))
    }

    /// Commands that only the run saga sends.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            RunCommand::BeginRun(_) | RunCommand::RejectRun(_) | RunCommand::TimeOutStep(_) | RunCommand::RetryStep(_)
        )
    }
}

impl Validate for StartRun {
    fn validate(&self) -> Result<(), FieldError> {
        if !(1..=crate::billing::AMOUNT_MAX).contains(&self.budget) {
            return Err(FieldError::new("/budget", "must be a positive number of credits"));
        }
        validate::json("/input", &self.input)
    }
}
/// The most tokens one attempt may report. Usage is summed per workspace, agent and day into
/// `bigint` columns; at this bound nine million reports a day still fit (and the sums saturate
/// rather than fail past that).
pub const TOKENS_MAX: u64 = 1_000_000_000_000;
/// The longest an attempt may say it took: a week, past any step's timeout.
pub const DURATION_MAX_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// The longest reason or error text a run or step records.
pub const TEXT_MAX_CHARS: usize = 2000;
/// As long as a workflow's step ids may be.
pub const STEP_ID_MAX_CHARS: usize = 100;

impl Validate for CancelRun {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/reason", &self.reason, TEXT_MAX_CHARS)
    }
}
impl Validate for ReportStepStarted {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/step_id", &self.step_id, STEP_ID_MAX_CHARS)
    }
}
impl Validate for CompleteStep {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/step_id", &self.step_id, STEP_ID_MAX_CHARS)?;
        validate::json("/output", &self.output)?;
        for (field, tokens) in [
            ("/usage/input_tokens", self.usage.input_tokens),
            ("/usage/output_tokens", self.usage.output_tokens),
            ("/usage/tokens", self.usage.tokens),
        ] {
            if tokens > TOKENS_MAX {
                return Err(FieldError::new(field, format!("must be at most {TOKENS_MAX}")));
            }
        }
        if self.usage.duration_ms > DURATION_MAX_MS {
            return Err(FieldError::new("/usage/duration_ms", format!("must be at most {DURATION_MAX_MS}")));
        }
        validate::artifacts("/artifacts", &self.artifacts)
    }
}
impl Validate for FailStep {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/step_id", &self.step_id, STEP_ID_MAX_CHARS)?;
        validate::text("/error", &self.error, TEXT_MAX_CHARS)
    }
}
impl Validate for ApproveStep {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/step_id", &self.step_id, STEP_ID_MAX_CHARS)?;
        validate::text("/comment", self.comment.as_deref().unwrap_or_default(), TEXT_MAX_CHARS)
    }
}
impl Validate for RejectStep {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/step_id", &self.step_id, STEP_ID_MAX_CHARS)?;
        if self.reason.trim().is_empty() {
            return Err(FieldError::new("/reason", "a rejection says why"));
        }
        validate::text("/reason", &self.reason, TEXT_MAX_CHARS)
    }
}
impl Validate for SignalStep {
    fn validate(&self) -> Result<(), FieldError> {
        validate::text("/step_id", &self.step_id, STEP_ID_MAX_CHARS)?;
        validate::json("/payload", &self.payload)
    }
}
impl Validate for BeginRun {}
impl Validate for RejectRun {}
impl Validate for TimeOutStep {}
impl Validate for RetryStep {}

/// The workflow version a run is to follow, with its agents' executors and prices, as the
/// caller looked them up.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowSnapshot {
    pub workspace_id: Uuid,
    pub version: u32,
    pub archived: bool,
    pub steps: Vec<PlannedStep>,
    /// The version's output template, if it has one.
    pub output: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFacts {
    pub access: Access,
    /// For StartRun: the workflow version, when it exists.
    pub workflow: Option<WorkflowSnapshot>,
    /// For StartRun with `retry_of`: that run, when it exists (in any workspace).
    pub prior: Option<PriorRun>,
}

/// A run as a retry of it needs it: what it was of, how it ended, and each step that succeeded
/// with the input it got and the output it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorRun {
    pub run_id: Uuid,
    pub workspace_id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_version: u32,
    pub input: serde_json::Value,
    pub status: RunStatus,
    pub succeeded: std::collections::BTreeMap<String, PriorStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PriorStep {
    pub kind: StepKind,
    pub agent_id: Option<Uuid>,
    pub input: serde_json::Value,
    pub output: serde_json::Value,
    /// The attempt that succeeded, or the one the step was reused from.
    pub from: ReusedFrom,
}

impl PriorRun {
    /// The run `run_id` from its history; `None` when it was never requested.
    pub fn from_history<'a>(run_id: Uuid, history: impl IntoIterator<Item = &'a RunEvent>) -> Option<PriorRun> {
        let mut prior: Option<PriorRun> = None;
        let mut agents = std::collections::BTreeMap::new();
        let mut inputs = std::collections::BTreeMap::new();
        for event in history {
            if let RunEvent::RunRequested(e) = event {
                agents = e.steps.iter().map(|step| (step.id.clone(), (step.kind, step.agent_id))).collect();
                prior = Some(PriorRun {
                    run_id,
                    workspace_id: e.workspace_id,
                    workflow_id: e.workflow_id,
                    workflow_version: e.workflow_version,
                    input: e.input.clone(),
                    status: RunStatus::Requested,
                    succeeded: Default::default(),
                });
                continue;
            }
            let Some(run) = prior.as_mut() else { continue };
            let step = |step_id: &str, input: Option<&serde_json::Value>, output: &serde_json::Value, from| {
                let ((kind, agent_id), input) = (*agents.get(step_id)?, input?.clone());
                Some(PriorStep { kind, agent_id, input, output: output.clone(), from })
            };
            match event {
                RunEvent::StepScheduled(e) => {
                    inputs.insert(e.step_id.clone(), e.input.clone());
                }
                RunEvent::StepAwaiting(e) => {
                    inputs.insert(e.step_id.clone(), e.input.clone());
                }
                RunEvent::StepSucceeded(e) => {
                    let from = ReusedFrom { run_id, attempt: e.attempt };
                    if let Some(done) = step(&e.step_id, inputs.get(&e.step_id), &e.output, from) {
                        run.succeeded.insert(e.step_id.clone(), done);
                    }
                }
                RunEvent::StepReused(e) => {
                    if let Some(done) = step(&e.step_id, Some(&e.input), &e.output, e.from) {
                        run.succeeded.insert(e.step_id.clone(), done);
                    }
                }
                RunEvent::RunStarted(_) => run.status = RunStatus::Running,
                RunEvent::RunRejected(_) => run.status = RunStatus::Rejected,
                RunEvent::RunSucceeded(_) => run.status = RunStatus::Succeeded,
                RunEvent::RunFailed(_) => run.status = RunStatus::Failed,
                RunEvent::RunCancelled(_) => run.status = RunStatus::Cancelled,
                _ => {}
            }
        }
        prior
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Requested,
    Rejected,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Requested | RunStatus::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Scheduled,
    Running,
    /// An approval or signal step, waiting for its answer.
    Waiting,
    /// Failed or timed out, and waiting for its next attempt.
    RetryWaiting,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl StepStatus {
    pub fn is_final(self) -> bool {
        matches!(self, StepStatus::Succeeded | StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub planned: PlannedStep,
    pub status: StepStatus,
    /// The current attempt (0 before the first).
    pub attempt: u32,
    /// When the current attempt times out, once it is scheduled.
    #[serde(default)]
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// What its attempts get: its input template resolved when it was first scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// Whether a template reads this step's output: only then is it kept.
    #[serde(default)]
    pub output_read: bool,
    /// Its output once it succeeded, when a template reads it or it is a signal's (a repeated
    /// signal is compared with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Arc<serde_json::Value>>,
    /// Who approved or rejected it, once someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub workspace_id: Uuid,
    /// The run's input, which templates read (shared: states are cloned per command).
    pub input: Arc<serde_json::Value>,
    /// The workflow's output template, resolved when the run succeeds.
    pub output_template: Option<serde_json::Value>,
    /// The reservation that holds the budget, once the run has begun.
    pub reservation_id: Option<Uuid>,
    pub budget: i64,
    pub used: i64,
    pub status: RunStatus,
    pub steps: Vec<StepState>,
}

impl Run {
    fn step(&self, id: &str) -> Option<&StepState> {
        self.steps.iter().find(|s| s.planned.id == id)
    }

    /// `template` with its references read from the run's input and its steps' outputs, and
    /// from `fresh`, an output the state does not hold yet (the report being decided).
    fn resolve(&self, template: &serde_json::Value, fresh: Fresh<'_>) -> Result<serde_json::Value, ResolveError> {
        template::resolve(template, &|source: &Source| match source {
            Source::RunInput => Some(&*self.input),
            Source::StepOutput(id) => match fresh {
                Some((step, output)) if step == id => Some(output),
                _ => self.step(id)?.output.as_deref(),
            },
        })
    }
}

/// A step's output that a decision has just been told of: (step id, output).
type Fresh<'a> = Option<(&'a str, &'a serde_json::Value)>;

/// The ids of the steps whose outputs `templates` read.
fn read_outputs<'a>(templates: impl Iterator<Item = &'a serde_json::Value>) -> BTreeSet<String> {
    templates
        .flat_map(|template| template::references(template, "").unwrap_or_default())
        .filter_map(|reference| match reference.source {
            Source::StepOutput(id) => Some(id),
            Source::RunInput => None,
        })
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState(pub Option<Run>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("no run has this id")]
    NotFound,
    #[error("a run with this id exists already")]
    AlreadyExists,
    #[error("the caller is not a member of this workspace")]
    NotAMember,
    #[error("this needs the {} role or higher", required.as_str())]
    RoleTooLow { required: Role },
    #[error("the workflow (or that version of it) does not exist in this workspace")]
    WorkflowNotFound,
    #[error("the workflow is archived")]
    WorkflowArchived,
    #[error("the run is over")]
    RunFinished,
    #[error("the run has not begun")]
    RunNotStarted,
    #[error("the run has no step `{step}`")]
    UnknownStep { step: String },
    #[error("attempt {attempt} of step `{step}` is not the current one, or is over")]
    StaleAttempt { step: String, attempt: u32 },
    /// Steps are reported by Oxbow's executors or by the worker of the step's external agent.
    #[error("a step is reported by its agent's worker, with the credential issued for that agent")]
    WorkerCredentialRequired,
    #[error("step `{step}` is not run by this credential's agent, or not by a worker")]
    NotThisWorkersStep { step: String },
    #[error("only a run that failed or was cancelled can be retried")]
    RunNotRetryable,
    #[error("a retry follows the workflow of the run it retries")]
    RetryOfOtherWorkflow,
    #[error("step `{step}` is not waiting for an answer")]
    StepNotWaiting { step: String },
    #[error("step `{step}` is a {} step, answered otherwise", kind.as_str())]
    WrongStepKind { step: String, kind: StepKind },
    #[error("the workspace is suspended: its runs' steps are not answered until it is reactivated")]
    WorkspaceSuspended,
}

crate::access::access_denied_into!(RunError);

impl Rejection for RunError {
    fn kind(&self) -> RejectionKind {
        use RunError::*;
        match self {
            NotFound => RejectionKind::NotFound,
            AlreadyExists => RejectionKind::AlreadyExists,
            NotAMember | RoleTooLow { .. } | WorkerCredentialRequired | NotThisWorkersStep { .. } => {
                RejectionKind::Forbidden
            }
            _ => RejectionKind::RuleViolated,
        }
    }

    fn code(&self) -> &'static str {
        use RunError::*;
        match self {
            NotFound => "run_not_found",
            AlreadyExists => "run_exists",
            NotAMember => "not_a_member",
            RoleTooLow { .. } => "role_too_low",
            WorkflowNotFound => "workflow_not_found",
            WorkflowArchived => "workflow_archived",
            RunFinished => "run_finished",
            RunNotStarted => "run_not_started",
            UnknownStep { .. } => "unknown_step",
            StaleAttempt { .. } => "stale_attempt",
            WorkerCredentialRequired => "worker_credential_required",
            NotThisWorkersStep { .. } => "not_this_workers_step",
            RunNotRetryable => "run_not_retryable",
            RetryOfOtherWorkflow => "retry_of_other_workflow",
            StepNotWaiting { .. } => "step_not_waiting",
            WrongStepKind { .. } => "wrong_step_kind",
            WorkspaceSuspended => "workspace_suspended",
        }
    }
}

/// The steps that become due once `done` has succeeded, in plan order.
fn newly_due(run: &Run, done: &str) -> Vec<usize> {
    run.steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == StepStatus::Pending && s.planned.depends_on.iter().any(|d| d == done))
        .filter(|(_, s)| {
            s.planned
                .depends_on
                .iter()
                .all(|d| d == done || run.step(d).is_some_and(|d| d.status == StepStatus::Succeeded))
        })
        .map(|(index, _)| index)
        .collect()
}

/// The attempt `attempt` of `step`, with its input: resolved for the first attempt, the first
/// attempt's for a retry. An agent's step is scheduled; one a person or an outside system
/// answers waits. `Err` says why the input cannot be made, as the step's error.
fn schedule(
    run: &Run,
    step: &StepState,
    attempt: u32,
    fresh: Fresh<'_>,
    context: &CommandContext,
) -> Result<RunEvent, String> {
    let input = match &step.input {
        Some(input) if attempt > 1 => input.clone(),
        _ => run.resolve(&step.planned.input, fresh).map_err(|error| error.to_string())?,
    };
    crate::validate::json("", &input).map_err(|error| format!("input_invalid: {}", error.message))?;
    let (step_id, kind) = (step.planned.id.clone(), step.planned.kind);
    let deadline = context.now + Duration::milliseconds(step.planned.timeout_ms.min(i64::MAX as u64) as i64);
    let (event, bytes) = if kind.waits() {
        let awaiting = StepAwaiting { step_id, attempt, kind, input, deadline };
        let bytes = serde_json::to_vec(&awaiting).map_or(usize::MAX, |json| json.len());
        (RunEvent::from(awaiting), bytes)
    } else {
        let scheduled = StepScheduled { step_id, attempt, input, deadline };
        let bytes = serde_json::to_vec(&scheduled).map_or(usize::MAX, |json| json.len());
        (RunEvent::from(scheduled), bytes)
    };
    if bytes > context.max_event_bytes {
        return Err(format!(
            "input_too_large: the input would be {bytes} bytes; events may be at most {}",
            context.max_event_bytes
        ));
    }
    Ok(event)
}

/// Attempts `attempt` of the steps at `due`, or, when one's input cannot be made, that step
/// failed for good (attempt 1, nothing to pay: it never ran) and the run with it. Nothing else
/// is scheduled then.
fn schedule_all(
    run: &Run,
    due: &[usize],
    attempt: u32,
    fresh: Fresh<'_>,
    used: i64,
    context: &CommandContext,
) -> Vec<RunEvent> {
    let mut scheduled = Vec::with_capacity(due.len());
    for &index in due {
        let step = &run.steps[index];
        match schedule(run, step, attempt, fresh, context) {
            Ok(event) => scheduled.push(event),
            Err(error) => {
                let error = error.chars().take(TEXT_MAX_CHARS).collect();
                let step_id = step.planned.id.clone();
                return vec![
                    StepFailed { step_id, attempt, error, retryable: false, cost: 0, by: None }.into(),
                    RunFailed { reason: "step_failed".into(), credits_used: used }.into(),
                ];
            }
        }
    }
    scheduled
}

/// The end of a run whose steps all succeeded: its output resolved, or, when the output cannot
/// be made, a failure (never a silent null).
fn succeeded(run: &Run, used: i64, fresh: Fresh<'_>) -> RunEvent {
    match run.output_template.as_ref().map(|output| run.resolve(output, fresh)) {
        None => RunSucceeded { credits_used: used, output: None }.into(),
        Some(Ok(output)) if crate::validate::json("", &output).is_ok() => {
            RunSucceeded { credits_used: used, output: Some(output) }.into()
        }
        Some(_) => RunFailed { reason: "output_invalid".into(), credits_used: used }.into(),
    }
}

/// The steps of `steps` a retry of `prior` with `input` takes over, in plan order: each
/// succeeded there with the same agent, everything it depends on is taken over too, and its
/// input resolves now to exactly what it got then.
fn reusable(steps: &[PlannedStep], input: &serde_json::Value, prior: &PriorRun) -> Vec<StepReused> {
    let mut reused: std::collections::BTreeMap<&str, &PriorStep> = Default::default();
    // A pass per level of the DAG: each takes over the steps whose dependencies are taken.
    for _ in 0..steps.len() {
        let before = reused.len();
        for step in steps {
            if reused.contains_key(step.id.as_str()) || !step.depends_on.iter().all(|d| reused.contains_key(d.as_str()))
            {
                continue;
            }
            let Some(old) =
                prior.succeeded.get(&step.id).filter(|old| old.agent_id == step.agent_id && old.kind == step.kind)
            else {
                continue;
            };
            let now = template::resolve(&step.input, &|source: &Source| match source {
                Source::RunInput => Some(input),
                Source::StepOutput(id) => reused.get(id.as_str()).map(|old| &old.output),
            });
            if now.as_ref() == Ok(&old.input) {
                reused.insert(step.id.as_str(), old);
            }
        }
        if reused.len() == before {
            break;
        }
    }
    let taken = |step: &PlannedStep| {
        let old = reused.get(step.id.as_str())?;
        let (input, output) = (old.input.clone(), old.output.clone());
        Some(StepReused { step_id: step.id.clone(), input, output, from: old.from })
    };
    steps.iter().filter_map(taken).collect()
}

/// The longest a retry waits.
const BACKOFF_MAX_MS: u64 = 3_600_000;

/// What follows a failed or timed-out attempt: its retry, or the end of the run. The backoff
/// doubles with each attempt: `backoff_ms`, then twice that, four times, up to an hour.
fn after_failure(step: &StepState, used: i64, reason: &str, context: &CommandContext) -> RunEvent {
    if step.attempt < step.planned.retry.max_attempts {
        let factor = 1u64 << step.attempt.saturating_sub(1).min(20);
        let backoff_ms = step.planned.retry.backoff_ms.saturating_mul(factor).min(BACKOFF_MAX_MS);
        let backoff = Duration::milliseconds(backoff_ms as i64);
        return StepRetryScheduled {
            step_id: step.planned.id.clone(),
            attempt: step.attempt + 1,
            at: context.now + backoff,
        }
        .into();
    }
    RunFailed { reason: reason.into(), credits_used: used }.into()
}

/// What follows `step_id`'s success with `output`, the run having used `used`: the steps now
/// due, or the run's end.
fn after_success(
    run: &Run,
    step_id: &str,
    output: &serde_json::Value,
    used: i64,
    context: &CommandContext,
) -> Vec<RunEvent> {
    let fresh = Some((step_id, output));
    let succeeded = run.steps.iter().filter(|s| s.status == StepStatus::Succeeded).count() + 1;
    if succeeded == run.steps.len() {
        return vec![self::succeeded(run, used, fresh)];
    }
    schedule_all(run, &newly_due(run, step_id), 1, fresh, used, context)
}

/// An answer to a step that waits for a person or an outside system.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    Approve(&'a ApproveStep),
    Reject(&'a RejectStep),
    Signal(&'a SignalStep),
}

impl Answer<'_> {
    fn step_id(&self) -> &str {
        match self {
            Answer::Approve(approve) => &approve.step_id,
            Answer::Reject(reject) => &reject.step_id,
            Answer::Signal(signal) => &signal.step_id,
        }
    }

    /// The kind of step it answers.
    fn answers(&self) -> StepKind {
        match self {
            Answer::Approve(_) | Answer::Reject(_) => StepKind::Approval,
            Answer::Signal(_) => StepKind::Signal,
        }
    }

    /// Whether `step` already took this answer from `actor`: it is accepted again and appends
    /// nothing.
    fn repeats(&self, step: &StepState, actor: &str) -> bool {
        let by_actor = step.answered_by.as_deref() == Some(actor);
        match self {
            Answer::Approve(_) => step.status == StepStatus::Succeeded && by_actor,
            Answer::Reject(_) => step.status == StepStatus::Failed && by_actor,
            Answer::Signal(signal) => {
                step.status == StepStatus::Succeeded && step.output.as_deref() == Some(&signal.payload)
            }
        }
    }
}

/// Who may answer: for an approval, a member whose role is at least the step's `approvers`;
/// for a signal, one at least its `signalers`, or the worker of its `signal_agent_id`. Never a
/// saga, and an operator only through their own membership. Returns the step answered.
fn authorize_answer<'a>(
    run: &'a Run,
    answer: Answer<'_>,
    facts: &RunFacts,
    context: &CommandContext,
) -> Result<&'a StepState, RunError> {
    let step_id = answer.step_id();
    match context.principal {
        Principal::Worker { agent_id, workspace_id } => {
            let signals = matches!(answer, Answer::Signal(_)) && workspace_id == run.workspace_id;
            run.step(step_id)
                .filter(|step| signals && step.planned.signal_agent_id == Some(agent_id))
                .ok_or_else(|| RunError::NotThisWorkersStep { step: step_id.to_owned() })
        }
        Principal::User | Principal::Operator => {
            // A stranger learns nothing of the run's steps.
            facts.access.require(Role::Viewer)?;
            let step = run.step(step_id).ok_or_else(|| RunError::UnknownStep { step: step_id.to_owned() })?;
            let least = match answer {
                Answer::Signal(_) => step.planned.signalers,
                Answer::Approve(_) | Answer::Reject(_) => step.planned.approvers,
            };
            facts.access.require(least.unwrap_or(Role::Member))?;
            Ok(step)
        }
        Principal::Saga | Principal::Payments => Err(RunError::NotAMember),
    }
}

fn decide_answer(
    run: &Run,
    answer: Answer<'_>,
    facts: &RunFacts,
    context: &CommandContext,
) -> Result<Vec<RunEvent>, RunError> {
    let step = authorize_answer(run, answer, facts, context)?;
    let step_id = answer.step_id();
    if step.planned.kind != answer.answers() {
        return Err(RunError::WrongStepKind { step: step_id.to_owned(), kind: step.planned.kind });
    }
    if answer.repeats(step, &context.actor) {
        return Ok(Vec::new());
    }
    if step.status != StepStatus::Waiting || run.status.is_final() {
        return Err(RunError::StepNotWaiting { step: step_id.to_owned() });
    }
    // The deadline keeps running meanwhile.
    if facts.access.suspended {
        return Err(RunError::WorkspaceSuspended);
    }
    let (step_id, attempt) = (step_id.to_owned(), step.attempt);
    let succeeded = |output: serde_json::Value| -> Vec<RunEvent> {
        let mut events: Vec<RunEvent> = vec![
            StepSucceeded {
                step_id: step_id.clone(),
                attempt,
                output: output.clone(),
                input_tokens: 0,
                output_tokens: 0,
                duration_ms: 0,
                cost: 0,
                artifacts: Vec::new(),
            }
            .into(),
        ];
        events.extend(after_success(run, &step_id, &output, run.used, context));
        events
    };
    Ok(match answer {
        Answer::Approve(approve) => {
            succeeded(serde_json::json!({"approved": true, "by": context.actor, "comment": approve.comment}))
        }
        Answer::Signal(signal) => succeeded(signal.payload.clone()),
        Answer::Reject(reject) => {
            let error = format!("rejected: {}", reject.reason).chars().take(TEXT_MAX_CHARS).collect();
            let by = Some(context.actor.clone());
            vec![
                StepFailed { step_id, attempt, error, retryable: false, cost: 0, by }.into(),
                RunFailed { reason: "step_rejected".into(), credits_used: run.used }.into(),
            ]
        }
    })
}

pub struct RunAggregate;

impl Decider for RunAggregate {
    type Command = RunCommand;
    type Event = RunEvent;
    type State = RunState;
    type Facts = RunFacts;
    type Error = RunError;

    fn decide(
        command: &RunCommand,
        state: &RunState,
        facts: &RunFacts,
        context: &CommandContext,
    ) -> Result<Vec<RunEvent>, RunError> {
        if let RunCommand::StartRun(start) = command {
            if state.0.is_some() {
                return Err(RunError::AlreadyExists);
            }
            facts.access.require(Role::Member)?;
            let prior = match start.retry_of {
                None => None,
                Some(_) => {
                    // Another workspace's run is as unknown as one that does not exist.
                    let prior = facts
                        .prior
                        .as_ref()
                        .filter(|p| p.workspace_id == start.workspace_id)
                        .ok_or(RunError::NotFound)?;
                    if !matches!(prior.status, RunStatus::Failed | RunStatus::Cancelled) {
                        return Err(RunError::RunNotRetryable);
                    }
                    if prior.workflow_id != start.workflow_id {
                        return Err(RunError::RetryOfOtherWorkflow);
                    }
                    Some(prior)
                }
            };
            let workflow = facts
                .workflow
                .as_ref()
                .filter(|w| w.workspace_id == start.workspace_id)
                .ok_or(RunError::WorkflowNotFound)?;
            if workflow.archived {
                return Err(RunError::WorkflowArchived);
            }
            let input = match (&start.input, prior) {
                (serde_json::Value::Null, Some(prior)) => prior.input.clone(),
                (input, _) => input.clone(),
            };
            let reused = prior.map(|prior| reusable(&workflow.steps, &input, prior)).unwrap_or_default();
            let mut events: Vec<RunEvent> = vec![
                RunRequested {
                    run_id: context.aggregate_id,
                    workspace_id: start.workspace_id,
                    workflow_id: start.workflow_id,
                    workflow_version: workflow.version,
                    input,
                    budget: start.budget,
                    steps: workflow.steps.clone(),
                    output: workflow.output.clone(),
                    retry_of: start.retry_of,
                }
                .into(),
            ];
            events.extend(reused.into_iter().map(RunEvent::from));
            return Ok(events);
        }
        let run = state.0.as_ref().ok_or(RunError::NotFound)?;
        if let Some(answer) = command.answer() {
            return decide_answer(run, answer, facts, context);
        }
        match command.reported_step() {
            Some(step) => authorize_report(run, step, facts, context)?,
            None => facts.access.require(if command.is_internal() { Role::Owner } else { Role::Member })?,
        }
        if run.status.is_final() {
            // A timer or a retry that arrives after the end changes nothing.
            return if matches!(command, RunCommand::TimeOutStep(_) | RunCommand::RetryStep(_)) {
                Ok(Vec::new())
            } else {
                Err(RunError::RunFinished)
            };
        }
        let remaining = run.budget - run.used;
        match command {
            RunCommand::StartRun(_) => unreachable!("handled above"),
            RunCommand::ApproveStep(_) | RunCommand::RejectStep(_) | RunCommand::SignalStep(_) => {
                unreachable!("answers are decided above")
            }
            RunCommand::BeginRun(begin) => {
                if run.status != RunStatus::Requested {
                    return Ok(Vec::new());
                }
                let mut events = vec![RunStarted { reservation_id: begin.reservation_id }.into()];
                // Every step whose dependencies are done: the roots, and after the steps a
                // retry reused, the steps that follow them. A retry with nothing left is done.
                let done = |id: &String| run.step(id).is_some_and(|step| step.status == StepStatus::Succeeded);
                let ready: Vec<usize> = (0..run.steps.len())
                    .filter(|&i| run.steps[i].status == StepStatus::Pending)
                    .filter(|&i| run.steps[i].planned.depends_on.iter().all(done))
                    .collect();
                if run.steps.iter().all(|step| step.status == StepStatus::Succeeded) {
                    events.push(succeeded(run, run.used, None));
                    return Ok(events);
                }
                events.extend(schedule_all(run, &ready, 1, None, run.used, context));
                Ok(events)
            }
            RunCommand::RejectRun(reject) => {
                if run.status != RunStatus::Requested {
                    return Ok(Vec::new());
                }
                Ok(vec![RunRejected { reason: reject.reason.clone() }.into()])
            }
            RunCommand::CancelRun(cancel) => {
                Ok(vec![RunCancelled { reason: cancel.reason.clone(), credits_used: run.used }.into()])
            }
            RunCommand::ReportStepStarted(report) => {
                let step = current_attempt(run, &report.step_id, report.attempt)?;
                match step.status {
                    StepStatus::Scheduled => {
                        Ok(vec![StepStarted { step_id: report.step_id.clone(), attempt: report.attempt }.into()])
                    }
                    _ => Ok(Vec::new()),
                }
            }
            RunCommand::CompleteStep(report) => {
                let step = match current_attempt(run, &report.step_id, report.attempt) {
                    Ok(step) => step,
                    // The same report again: it changed what it changes once.
                    Err(_)
                        if run
                            .step(&report.step_id)
                            .is_some_and(|s| s.attempt == report.attempt && s.status == StepStatus::Succeeded) =>
                    {
                        return Ok(Vec::new());
                    }
                    Err(error) => return Err(error),
                };
                let (input_tokens, output_tokens) = (report.usage.input(), report.usage.output_tokens);
                let cost = i64::try_from(step.planned.cost_of_attempt(input_tokens, output_tokens)).unwrap_or(i64::MAX);
                let mut events: Vec<RunEvent> = vec![
                    StepSucceeded {
                        step_id: report.step_id.clone(),
                        attempt: report.attempt,
                        output: report.output.clone(),
                        input_tokens,
                        output_tokens,
                        duration_ms: report.usage.duration_ms,
                        cost: cost.min(remaining),
                        artifacts: report
                            .artifacts
                            .iter()
                            .map(|artifact| Artifact {
                                sha256: artifact.sha256.to_ascii_lowercase(),
                                ..artifact.clone()
                            })
                            .collect(),
                    }
                    .into(),
                ];
                if cost > remaining {
                    events.push(RunFailed { reason: "budget_exhausted".into(), credits_used: run.budget }.into());
                    return Ok(events);
                }
                events.extend(after_success(run, &report.step_id, &report.output, run.used + cost, context));
                Ok(events)
            }
            RunCommand::FailStep(report) => {
                let step = current_attempt(run, &report.step_id, report.attempt)?;
                let cost = i64::try_from(step.planned.cost_of_call()).unwrap_or(i64::MAX);
                let mut events: Vec<RunEvent> = vec![
                    StepFailed {
                        step_id: report.step_id.clone(),
                        attempt: report.attempt,
                        error: report.error.clone(),
                        retryable: report.retryable,
                        cost: cost.min(remaining),
                        by: None,
                    }
                    .into(),
                ];
                if cost > remaining {
                    events.push(RunFailed { reason: "budget_exhausted".into(), credits_used: run.budget }.into());
                } else if report.retryable {
                    events.push(after_failure(step, run.used + cost, "step_failed", context));
                } else {
                    events.push(RunFailed { reason: "step_failed".into(), credits_used: run.used + cost }.into());
                }
                Ok(events)
            }
            RunCommand::TimeOutStep(timer) => match unfinished_attempt(run, &timer.step_id, timer.attempt) {
                Some(step) => Ok(vec![
                    StepTimedOut { step_id: timer.step_id.clone(), attempt: timer.attempt }.into(),
                    after_failure(step, run.used, "step_timed_out", context),
                ]),
                // The attempt finished before its deadline: nothing to do.
                None => Ok(Vec::new()),
            },
            RunCommand::RetryStep(timer) => match run.steps.iter().position(|s| s.planned.id == timer.step_id) {
                Some(index)
                    if run.steps[index].status == StepStatus::RetryWaiting
                        && run.steps[index].attempt + 1 == timer.attempt =>
                {
                    Ok(schedule_all(run, &[index], timer.attempt, None, run.used, context))
                }
                _ => Ok(Vec::new()),
            },
        }
    }

    fn evolve(state: RunState, event: &RunEvent) -> RunState {
        let Some(mut run) = state.0 else {
            return match event {
                RunEvent::RunRequested(e) => {
                    let read = read_outputs(e.steps.iter().map(|step| &step.input).chain(e.output.as_ref()));
                    RunState(Some(Run {
                        workspace_id: e.workspace_id,
                        input: Arc::new(e.input.clone()),
                        output_template: e.output.clone(),
                        reservation_id: None,
                        budget: e.budget,
                        used: 0,
                        status: RunStatus::Requested,
                        steps: e
                            .steps
                            .iter()
                            .map(|planned| StepState {
                                planned: planned.clone(),
                                status: StepStatus::Pending,
                                attempt: 0,
                                deadline: None,
                                input: None,
                                output_read: read.contains(&planned.id),
                                output: None,
                                answered_by: None,
                            })
                            .collect(),
                    }))
                }
                _ => RunState(None),
            };
        };
        let set = |run: &mut Run, id: &str, status: StepStatus, attempt: u32| {
            if let Some(step) = run.steps.iter_mut().find(|s| s.planned.id == id) {
                step.status = status;
                step.attempt = attempt;
            }
        };
        let finish = |run: &mut Run, status: RunStatus| {
            run.status = status;
            for step in run.steps.iter_mut().filter(|s| !s.status.is_final()) {
                step.status = StepStatus::Cancelled;
            }
        };
        match event {
            RunEvent::RunRequested(_) => {}
            RunEvent::RunRejected(_) => finish(&mut run, RunStatus::Rejected),
            RunEvent::RunStarted(e) => {
                run.status = RunStatus::Running;
                run.reservation_id = Some(e.reservation_id);
            }
            RunEvent::StepScheduled(e) => {
                set(&mut run, &e.step_id, StepStatus::Scheduled, e.attempt);
                if let Some(step) = run.steps.iter_mut().find(|s| s.planned.id == e.step_id) {
                    step.deadline = Some(e.deadline);
                    step.input = Some(e.input.clone());
                }
            }
            RunEvent::StepAwaiting(e) => {
                set(&mut run, &e.step_id, StepStatus::Waiting, e.attempt);
                if let Some(step) = run.steps.iter_mut().find(|s| s.planned.id == e.step_id) {
                    step.deadline = Some(e.deadline);
                    step.input = Some(e.input.clone());
                }
            }
            RunEvent::StepStarted(e) => set(&mut run, &e.step_id, StepStatus::Running, e.attempt),
            RunEvent::StepReused(e) => {
                set(&mut run, &e.step_id, StepStatus::Succeeded, 0);
                if let Some(step) = run.steps.iter_mut().find(|s| s.planned.id == e.step_id) {
                    step.input = Some(e.input.clone());
                    if step.output_read {
                        step.output = Some(Arc::new(e.output.clone()));
                    }
                }
            }
            RunEvent::StepSucceeded(e) => {
                run.used += e.cost;
                set(&mut run, &e.step_id, StepStatus::Succeeded, e.attempt);
                if let Some(step) = run.steps.iter_mut().find(|s| s.planned.id == e.step_id) {
                    if step.output_read || step.planned.kind == StepKind::Signal {
                        step.output = Some(Arc::new(e.output.clone()));
                    }
                    if step.planned.kind == StepKind::Approval {
                        step.answered_by = e.output["by"].as_str().map(str::to_owned);
                    }
                }
            }
            RunEvent::StepFailed(e) => {
                run.used += e.cost;
                set(&mut run, &e.step_id, StepStatus::Failed, e.attempt);
                if let Some(step) = run.steps.iter_mut().find(|s| s.planned.id == e.step_id) {
                    step.answered_by = e.by.clone();
                }
            }
            RunEvent::StepTimedOut(e) => set(&mut run, &e.step_id, StepStatus::TimedOut, e.attempt),
            RunEvent::StepRetryScheduled(e) => set(&mut run, &e.step_id, StepStatus::RetryWaiting, e.attempt - 1),
            RunEvent::RunSucceeded(_) => finish(&mut run, RunStatus::Succeeded),
            RunEvent::RunFailed(_) => finish(&mut run, RunStatus::Failed),
            RunEvent::RunCancelled(_) => finish(&mut run, RunStatus::Cancelled),
        }
        RunState(Some(run))
    }
}

/// The step when `attempt` is its current, unfinished attempt.
/// A step's outcome sets what the run costs, so only its runner reports it: Oxbow's own
/// executors (the saga), or the worker of the step's external agent, by that agent's credential.
fn authorize_report(run: &Run, step_id: &str, facts: &RunFacts, context: &CommandContext) -> Result<(), RunError> {
    match context.principal {
        Principal::Saga => Ok(facts.access.require(Role::Owner)?),
        Principal::Worker { agent_id, workspace_id } => {
            if workspace_id != run.workspace_id {
                return Err(RunError::NotAMember);
            }
            match run.step(step_id) {
                Some(step)
                    if step.planned.agent_id == Some(agent_id) && step.planned.executor == Some(Executor::External) =>
                {
                    Ok(())
                }
                _ => Err(RunError::NotThisWorkersStep { step: step_id.to_owned() }),
            }
        }
        _ => Err(RunError::WorkerCredentialRequired),
    }
}

/// The step when `attempt` is its current attempt and is not over: dispatched, or waiting for
/// an answer. A timer for anything else is late.
fn unfinished_attempt<'a>(run: &'a Run, step_id: &str, attempt: u32) -> Option<&'a StepState> {
    let step = run.step(step_id)?;
    let unfinished = matches!(step.status, StepStatus::Scheduled | StepStatus::Running | StepStatus::Waiting);
    (step.attempt == attempt && unfinished).then_some(step)
}

fn current_attempt<'a>(run: &'a Run, step_id: &str, attempt: u32) -> Result<&'a StepState, RunError> {
    if run.status == RunStatus::Requested {
        return Err(RunError::RunNotStarted);
    }
    let step = run.step(step_id).ok_or_else(|| RunError::UnknownStep { step: step_id.to_owned() })?;
    if step.attempt == attempt && matches!(step.status, StepStatus::Scheduled | StepStatus::Running) {
        Ok(step)
    } else {
        Err(RunError::StaleAttempt { step: step_id.to_owned(), attempt })
    }
}

impl Aggregate for RunAggregate {
    const CATEGORY: events::Category = events::Category::Run;
    /// 2: steps keep their attempt's deadline. 3: the run keeps its input and output template,
    /// steps their resolved input and the outputs templates read. 4: steps may wait for an
    /// answer, and keep who gave it.
    const STATE_VERSION: i32 = 4;

    fn workspace_id(_id: Uuid, state: &RunState) -> Option<Uuid> {
        state.0.as_ref().map(|run| run.workspace_id)
    }

    fn creates(command: &RunCommand) -> bool {
        matches!(command, RunCommand::StartRun(_))
    }
}

#[cfg(test)]
mod tests;
