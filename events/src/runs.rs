//! Events of the Runs context: one run of a workflow, its steps' attempts, and how the run
//! ended. Timers (step deadlines, retry backoff) are recorded here as times, so a restart or
//! a replay takes the same decisions.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agents::{Executor, Price};
use crate::workflows::{RetryPolicy, StepKind};
use crate::workspace::Role;

/// The stream that holds a run's events.
pub fn stream_id(run_id: Uuid) -> String {
    crate::StreamId::new(crate::Category::Run, run_id).to_string()
}

/// A step as the run will carry it out: the workflow's step with its agent's executor and price
/// as they were when the run was requested. A step a person or an outside system answers has
/// no agent, executor or price; the fields it does not use are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedStep {
    pub id: String,
    #[serde(default, skip_serializing_if = "StepKind::is_agent")]
    pub kind: StepKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Uuid>,
    pub depends_on: Vec<String>,
    pub input: serde_json::Value,
    pub retry: RetryPolicy,
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Executor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signalers: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_agent_id: Option<Uuid>,
}

impl PlannedStep {
    /// What an attempt that used these tokens costs: nothing for a step without a price.
    pub fn cost_of_attempt(&self, input_tokens: u64, output_tokens: u64) -> u64 {
        self.price.map_or(0, |price| price.of_attempt(input_tokens, output_tokens))
    }

    /// What a failed attempt costs: its call.
    pub fn cost_of_call(&self) -> u64 {
        self.price.map_or(0, |price| price.per_call)
    }
}

/// Schema version 2: the steps' inputs are templates (see [`crate::template`]), resolved as
/// each step is scheduled; version 1's were taken literally, and are read with every `{{`
/// escaped. Version 3: the steps' prices rate input and output tokens apart (see
/// [`requested_to_v3`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequested {
    pub run_id: Uuid,
    pub workspace_id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_version: u32,
    pub input: serde_json::Value,
    pub budget: i64,
    pub steps: Vec<PlannedStep>,
    /// The workflow's output template, resolved when the run succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// The failed or cancelled run this one retries: its steps that succeeded with the same
    /// input are reused ([`StepReused`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<Uuid>,
}

/// Where a reused step's output comes from: an attempt of an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReusedFrom {
    pub run_id: Uuid,
    pub attempt: u32,
}

/// A retry takes a step's result from the run it retries, without a call or a cost: the step
/// succeeded there with the same agent and this very `input`, and so did everything it depends
/// on. Recorded with `RunRequested`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReused {
    pub step_id: String,
    pub input: serde_json::Value,
    pub output: serde_json::Value,
    pub from: ReusedFrom,
}

/// Upcasts a stored `RunRequested` payload to version 3: version 1's inputs escaped (see
/// [`crate::workflows::inputs_v1_to_v2`]), then every step's price split (see
/// [`crate::agents::upcast_price`]).
pub fn requested_to_v3(stored_version: i32, payload: serde_json::Value) -> Result<serde_json::Value, String> {
    let mut payload = match stored_version {
        1 => crate::workflows::inputs_v1_to_v2(1, payload)?,
        2 => payload,
        other => return Err(format!("RunRequested has no schema version {other}")),
    };
    let steps = payload.get_mut("steps").and_then(serde_json::Value::as_array_mut);
    for step in steps.ok_or("a RunRequested has steps")? {
        if let Some(price) = step.get_mut("price") {
            crate::agents::upcast_price(price);
        }
    }
    Ok(payload)
}

/// Upcasts a stored `StepSucceeded` payload to version 2: its `tokens` were all counted as
/// input tokens.
pub fn succeeded_v1_to_v2(stored_version: i32, mut payload: serde_json::Value) -> Result<serde_json::Value, String> {
    if stored_version != 1 {
        return Err(format!("StepSucceeded has no schema version {stored_version}"));
    }
    let fields = payload.as_object_mut().ok_or("a version 1 StepSucceeded is an object")?;
    let tokens = fields.remove("tokens").unwrap_or(serde_json::Value::from(0));
    fields.insert("input_tokens".into(), tokens);
    fields.insert("output_tokens".into(), serde_json::Value::from(0));
    Ok(payload)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRejected {
    pub reason: String,
}

/// The budget is reserved under `reservation_id`; the run's first steps follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStarted {
    pub reservation_id: Uuid,
}

/// An attempt is due; it times out at `deadline`. `input` is what the agent gets: the step's
/// template resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepScheduled {
    pub step_id: String,
    pub attempt: u32,
    pub input: serde_json::Value,
    pub deadline: DateTime<Utc>,
}

/// An approval or signal step waits for its answer until `deadline`: nothing is dispatched.
/// `input` is what the person answering is shown: the step's template resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepAwaiting {
    pub step_id: String,
    pub attempt: u32,
    pub kind: StepKind,
    pub input: serde_json::Value,
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepStarted {
    pub step_id: String,
    pub attempt: u32,
}

/// A file a step produced, as metadata: the bytes stay in the user's object storage, at `uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Unique within the step; versioned within the workspace.
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    #[schemars(length(min = 1, max = 255))]
    pub media_type: String,
    #[schemars(range(max = 9_007_199_254_740_991u64))]
    pub size: u64,
    /// The content's SHA-256, 64 lower-case hex digits.
    #[schemars(regex(pattern = r"^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
    /// `s3://`, `gs://`, `az://` or `https://`, never signed: the log keeps it for ever.
    #[schemars(length(max = 2048), regex(pattern = r"^(s3|gs|az|https)://"))]
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSucceeded {
    pub step_id: String,
    pub attempt: u32,
    pub output: serde_json::Value,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub duration_ms: u64,
    /// Credits this attempt cost.
    pub cost: i64,
    /// The files it produced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepFailed {
    pub step_id: String,
    pub attempt: u32,
    pub error: String,
    pub retryable: bool,
    pub cost: i64,
    /// Who rejected an approval step; absent for every other failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The next attempt is due at `at` (the retry backoff, as a durable timer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRetryScheduled {
    pub step_id: String,
    pub attempt: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepTimedOut {
    pub step_id: String,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSucceeded {
    pub credits_used: i64,
    /// What the run produced: the workflow's output template resolved, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunFailed {
    /// `step_failed`, `step_rejected`, `step_timed_out`, `budget_exhausted` or
    /// `output_invalid`.
    pub reason: String,
    pub credits_used: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCancelled {
    pub reason: String,
    pub credits_used: i64,
}

crate::event_enum! {
    /// Every event of a run's stream.
    pub enum RunEvent {
        RunRequested = 3 via requested_to_v3,
        RunRejected,
        RunStarted,
        StepReused,
        StepScheduled,
        StepAwaiting,
        StepStarted,
        StepSucceeded = 2 via succeeded_v1_to_v2,
        StepFailed,
        StepRetryScheduled,
        StepTimedOut,
        RunSucceeded,
        RunFailed,
        RunCancelled,
    }
}
