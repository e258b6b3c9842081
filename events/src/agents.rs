//! Events of the Agents context: the AI agents and tools a workspace runs, each with an
//! executor and a price. Every update is a new version of the agent.

use chrono::{DateTime, Utc};
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
    Webhook {
        #[schemars(length(max = 2048), regex(pattern = r"^https?://\S+$"))]
        url: String,
        #[schemars(range(min = 1, max = 300_000))]
        timeout_ms: u64,
    },
    /// A worker takes the task from Kafka and reports through the command endpoint.
    External,
}

/// Credits charged for each attempt that reaches the agent: a fee per call, and input and
/// output tokens each at their own rate (LLM platforms price them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[schemars(range(max = 1_000_000_000))]
    pub per_call: u64,
    #[schemars(range(max = 1_000_000_000))]
    pub per_1k_input_tokens: u64,
    #[schemars(range(max = 1_000_000_000))]
    pub per_1k_output_tokens: u64,
}

impl Price {
    /// `per_call + ceil((input × per_1k_input_tokens + output × per_1k_output_tokens) / 1000)`,
    /// saturating. With one rate for both (an upcast old price), the old formula's cost.
    pub fn of_attempt(&self, input_tokens: u64, output_tokens: u64) -> u64 {
        let input = u128::from(input_tokens) * u128::from(self.per_1k_input_tokens);
        let output = u128::from(output_tokens) * u128::from(self.per_1k_output_tokens);
        let per_tokens = input.saturating_add(output).div_ceil(1000);
        u64::try_from(per_tokens).unwrap_or(u64::MAX).saturating_add(self.per_call)
    }
}

/// A version 1 price (`{per_call, per_1k_tokens}`) as today's: its one rate for input and
/// output tokens alike, so no agent's cost changes.
pub fn upcast_price(price: &mut serde_json::Value) {
    if let Some(fields) = price.as_object_mut()
        && let Some(rate) = fields.remove("per_1k_tokens")
    {
        fields.insert("per_1k_input_tokens".into(), rate.clone());
        fields.insert("per_1k_output_tokens".into(), rate);
    }
}

/// Upcasts a stored `AgentRegistered` or `AgentUpdated` payload to version 2 (see
/// [`upcast_price`]).
pub fn price_v1_to_v2(stored_version: i32, mut payload: serde_json::Value) -> Result<serde_json::Value, String> {
    if stored_version != 1 {
        return Err(format!("an agent's definition has no schema version {stored_version}"));
    }
    upcast_price(payload.get_mut("price").ok_or("a version 1 agent definition has a price")?);
    Ok(payload)
}

/// Schema version 2: prices rate input and output tokens apart (see [`price_v1_to_v2`]).
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
/// Schema version 2, as [`AgentRegistered`].
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

/// A new secret with which Oxbow signs its calls to the agent's webhook, as Standard Webhooks
/// specifies. The answer of the command that issued it shows it once, as `whsec_…`; the log
/// holds it sealed (see [`crate::secret_fields`]) and no read path reveals it. The secret
/// before it still signs, beside it, until `previous_valid_until`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSecretIssued {
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_valid_until: Option<DateTime<Utc>>,
}

crate::event_enum! {
    /// Every event of an agent's stream.
    pub enum AgentEvent {
        AgentRegistered = 2 via price_v1_to_v2,
        AgentUpdated = 2 via price_v1_to_v2,
        AgentRetired,
        WorkerCredentialIssued,
        WorkerCredentialRevoked,
        WebhookSecretIssued,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_price_is_one_rate_for_input_and_output_and_costs_what_it_did() {
        let mut stored = serde_json::json!({"agent_id": Uuid::nil(), "workspace_id": Uuid::nil(), "name": "a",
            "kind": "tool", "executor": {"type": "external"}, "price": {"per_call": 2, "per_1k_tokens": 3}});
        stored = price_v1_to_v2(1, stored).unwrap();
        let registered: AgentRegistered = serde_json::from_value(stored).unwrap();
        assert_eq!(registered.price, Price { per_call: 2, per_1k_input_tokens: 3, per_1k_output_tokens: 3 });
        // Old usage was all input tokens: the same cost as the old formula's.
        assert_eq!(registered.price.of_attempt(1500, 0), 2 + 5);
    }

    #[test]
    fn an_attempt_costs_the_call_and_the_started_thousands_of_tokens() {
        let price = Price { per_call: 2, per_1k_input_tokens: 1, per_1k_output_tokens: 1 };
        assert_eq!(price.of_attempt(0, 0), 2);
        assert_eq!(price.of_attempt(1, 0), 3);
        assert_eq!(price.of_attempt(1000, 0), 3);
        assert_eq!(price.of_attempt(1001, 0), 4);
        // Input and output at their own rates, the thousands started counted once.
        let split = Price { per_call: 1, per_1k_input_tokens: 1, per_1k_output_tokens: 4 };
        assert_eq!(split.of_attempt(1500, 500), 1 + 4);
        assert_eq!(split.of_attempt(0, 1), 1 + 1);
        assert_eq!(
            Price { per_call: u64::MAX, per_1k_input_tokens: u64::MAX, per_1k_output_tokens: u64::MAX }
                .of_attempt(u64::MAX, u64::MAX),
            u64::MAX
        );
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
