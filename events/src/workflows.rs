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

/// One step of a workflow: an agent, the steps it waits for, and its input template.
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDefined {
    pub workflow_id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub steps: Vec<Step>,
}

/// The workflow's whole definition as of `version` (the first version is the definition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRevised {
    pub version: u32,
    pub name: String,
    pub steps: Vec<Step>,
}

/// An archived workflow starts no new runs and takes no revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowArchived {}

crate::event_enum! {
    /// Every event of a workflow's stream.
    pub enum WorkflowEvent {
        WorkflowDefined,
        WorkflowRevised,
        WorkflowArchived,
    }
}
