//! Events of the Workflows context: DAGs of agent steps, versioned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::workspace::Role;

/// The stream that holds a workflow's events.
pub fn stream_id(workflow_id: Uuid) -> String {
    crate::StreamId::new(crate::Category::Workflow, workflow_id).to_string()
}

/// How often a step is tried, and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// 1 to 10; 1 means no retry.
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each further one (at most an hour).
    #[schemars(range(max = 86_400_000))]
    pub backoff_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 1, backoff_ms: 0 }
    }
}

/// What does a step's work: an agent (the default), or a person or an outside system whose
/// answer the run waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    #[default]
    Agent,
    /// A member of the workspace approves or rejects what the step's input shows.
    Approval,
    /// A member, or the worker of one external agent, sends the step's output.
    Signal,
}

impl StepKind {
    pub fn is_agent(&self) -> bool {
        *self == StepKind::Agent
    }

    /// Whether the run waits for an answer instead of dispatching the step.
    pub fn waits(&self) -> bool {
        !self.is_agent()
    }

    /// The kind named by [`StepKind::as_str`].
    pub fn parse(text: &str) -> Option<StepKind> {
        [StepKind::Agent, StepKind::Approval, StepKind::Signal].into_iter().find(|kind| kind.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Agent => "agent",
            StepKind::Approval => "approval",
            StepKind::Signal => "signal",
        }
    }

    /// How long a step of this kind is given when its definition says nothing: 30 s for an
    /// agent, 7 days for a person.
    pub fn default_timeout_ms(self) -> u64 {
        match self {
            StepKind::Agent => 30_000,
            StepKind::Approval | StepKind::Signal => 7 * 24 * 60 * 60 * 1000,
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// One step of a workflow: what does it (an agent, or a person or system the run waits for),
/// the steps it waits for, and its input: a template over the run's input and its ancestors'
/// outputs (see [`crate::template`]). Fields an agent step does not use are left out, so an
/// agent step reads as it always did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[schemars(length(min = 1, max = 100))]
    pub id: String,
    #[serde(default, skip_serializing_if = "StepKind::is_agent")]
    pub kind: StepKind,
    /// The agent of an agent step; approval and signal steps have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Uuid>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default = "empty_object")]
    pub input: serde_json::Value,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// The kind's default when absent (see [`StepKind::default_timeout_ms`]); a recorded
    /// definition always holds the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2_592_000_000u64))]
    pub timeout_ms: Option<u64>,
    /// An approval's least role that may answer it (`member` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Role>,
    /// A signal's least role that may send it (`member` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signalers: Option<Role>,
    /// The external agent whose worker may send a signal too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_agent_id: Option<Uuid>,
}

impl Step {
    /// The time the step is given: its own, or its kind's default.
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or_else(|| self.kind.default_timeout_ms())
    }
}

/// Schema version 2: step inputs are templates. Version 1's were taken literally; they are
/// read with every `{{` escaped (see [`inputs_v1_to_v2`]), so they mean what they meant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDefined {
    pub workflow_id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub steps: Vec<Step>,
    /// What a run of this version produces: a template over the run's input and its steps'
    /// outputs, resolved when the run succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

/// Upcasts a stored `WorkflowDefined` or `WorkflowRevised` payload to version 2: each step's
/// input, taken literally then, becomes a template that says the same.
pub fn inputs_v1_to_v2(stored_version: i32, mut payload: serde_json::Value) -> Result<serde_json::Value, String> {
    if stored_version != 1 {
        return Err(format!("a workflow definition has no schema version {stored_version}"));
    }
    let steps = payload.get_mut("steps").and_then(serde_json::Value::as_array_mut);
    for step in steps.ok_or("a version 1 workflow definition has steps")? {
        if let Some(input) = step.get_mut("input") {
            crate::template::escape(input);
        }
    }
    Ok(payload)
}

/// The workflow's whole definition as of `version` (the first version is the definition).
/// Schema version 2, as [`WorkflowDefined`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRevised {
    pub version: u32,
    pub name: String,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

/// An archived workflow starts no new runs and takes no revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowArchived {}

crate::event_enum! {
    /// Every event of a workflow's stream.
    pub enum WorkflowEvent {
        WorkflowDefined = 2 via inputs_v1_to_v2,
        WorkflowRevised = 2 via inputs_v1_to_v2,
        WorkflowArchived,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_version_1_definition_keeps_its_literal_inputs() {
        let stored = json!({"workflow_id": Uuid::nil(), "workspace_id": Uuid::nil(), "name": "Old", "steps": [
            {"id": "a", "agent_id": Uuid::nil(), "input": {"prompt": "Say {{ name }}", "n": 1}}]});
        let upcast = inputs_v1_to_v2(1, stored).unwrap();
        assert_eq!(upcast["steps"][0]["input"], json!({"prompt": "Say \\{{ name }}", "n": 1}));
        let resolved = crate::template::resolve(&upcast["steps"][0]["input"], &|_| None).unwrap();
        assert_eq!(resolved, json!({"prompt": "Say {{ name }}", "n": 1}));
        assert!(inputs_v1_to_v2(3, json!({})).is_err());
    }
}
