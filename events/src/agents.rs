//! Events of the Agents context: the AI agents and tools a workspace runs, each with an
//! executor and a price. Every update is a new version of the agent.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The stream that holds an agent's events.
pub fn stream_id(agent_id: Uuid) -> String {
    crate::StreamId::new(crate::Category::Agent, agent_id).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Prompt,
    Model,
    Decision,
    Governance,
    Operations,
    Tool,
}

/// The deterministic built-in executors, for development, demos and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// Returns its input as output.
    Echo,
    /// Waits `config.ms` milliseconds.
    Sleep,
    /// Fails, retryably.
    Fail,
    /// Reports `config.tokens` tokens of usage.
    Usage,
}

/// Where a step's task is carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Executor {
    /// In-process.
    Builtin {
        name: Builtin,
        #[serde(default)]
        config: serde_json::Map<String, serde_json::Value>,
    },
    /// POSTs the task to `url` and waits at most `timeout_ms` for the result.
    Webhook { url: String, timeout_ms: u64 },
    /// A worker takes the task from Kafka and reports through the command endpoint.
    External,
}

/// Credits charged for each attempt that reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub per_call: u64,
    pub per_1k_tokens: u64,
}

impl Price {
    /// `per_call + ceil(tokens × per_1k_tokens / 1000)`, saturating.
    pub fn of_attempt(&self, tokens: u64) -> u64 {
        let per_tokens = (u128::from(tokens) * u128::from(self.per_1k_tokens)).div_ceil(1000);
        u64::try_from(per_tokens).unwrap_or(u64::MAX).saturating_add(self.per_call)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRegistered {
    pub agent_id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub kind: AgentKind,
    pub executor: Executor,
    pub price: Price,
}

/// The agent's whole definition as of `version` (the first version is the registration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdated {
    pub version: u32,
    pub name: String,
    pub kind: AgentKind,
    pub executor: Executor,
    pub price: Price,
}

/// A retired agent takes no new steps; workflows that name it can no longer be defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRetired {}

/// An admin issued a credential with which the agent's worker reports its steps. The secret
/// was shown once, to the admin; the log keeps only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerCredentialIssued {
    pub credential_id: Uuid,
    pub secret_sha256: String,
}

/// The credential reports nothing more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerCredentialRevoked {
    pub credential_id: Uuid,
}

crate::event_enum! {
    /// Every event of an agent's stream.
    pub enum AgentEvent {
        AgentRegistered,
        AgentUpdated,
        AgentRetired,
        WorkerCredentialIssued,
        WorkerCredentialRevoked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_costs_the_call_and_the_started_thousands_of_tokens() {
        let price = Price { per_call: 2, per_1k_tokens: 1 };
        assert_eq!(price.of_attempt(0), 2);
        assert_eq!(price.of_attempt(1), 3);
        assert_eq!(price.of_attempt(1000), 3);
        assert_eq!(price.of_attempt(1001), 4);
        assert_eq!(Price { per_call: u64::MAX, per_1k_tokens: u64::MAX }.of_attempt(u64::MAX), u64::MAX);
    }

    #[test]
    fn executors_have_the_contract_wire_shape() {
        let builtin: Executor =
            serde_json::from_value(serde_json::json!({"type": "builtin", "name": "sleep", "config": {"ms": 5}}))
                .unwrap();
        assert!(matches!(builtin, Executor::Builtin { name: Builtin::Sleep, .. }));
        let webhook: Executor =
            serde_json::from_value(serde_json::json!({"type": "webhook", "url": "http://x/y", "timeout_ms": 5000}))
                .unwrap();
        assert_eq!(webhook, Executor::Webhook { url: "http://x/y".into(), timeout_ms: 5000 });
        let external: Executor = serde_json::from_value(serde_json::json!({"type": "external"})).unwrap();
        assert_eq!(external, Executor::External);
    }
}
