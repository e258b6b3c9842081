//! Events of the Workflows context: DAGs of agent steps, versioned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The stream that holds a workflow's events.
pub fn stream_id(workflow_id: Uuid) -> String {
    crate::StreamId::new(crate::Category::Workflow, workflow_id).to_string()
}

/// How often a step is tried, and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// 1 to 10; 1 means no retry.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each further one (at most an hour).
    pub backoff_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 1, backoff_ms: 0 }
    }
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// One step of a workflow: an agent, the steps it waits for, and its input: a template over
/// the run's input and its ancestors' outputs (see [`crate::template`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    pub agent_id: Uuid,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default = "empty_object")]
    pub input: serde_json::Value,
    #[serde(default)]
    pub retry: RetryPolicy,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
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
