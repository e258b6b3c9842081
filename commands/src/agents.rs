//! The Agent aggregate: an AI agent or tool of a workspace, with its executor and price.
//! Admins register, update (each update a new version) and retire agents, and issue and revoke
//! the credentials with which an external agent's worker reports its steps. A webhook agent has
//! a secret with which its calls are signed; admins rotate it.

use std::collections::BTreeMap;

use base64::Engine;
use events::agents::{
    AgentEvent, AgentKind, AgentRegistered, AgentRetired, AgentUpdated, Builtin, Executor, Price, WebhookSecretIssued,
    WorkerCredentialIssued, WorkerCredentialRevoked,
};
use events::workspace::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Access;
use crate::{
    Aggregate, CommandContext, Decider, FieldError, Rejection, RejectionKind, Validate, command_enum, validate,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    pub workspace_id: Uuid,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    pub kind: AgentKind,
    pub executor: Executor,
    pub price: PriceOffer,
}

/// A price as a command states it: a fee per call and a rate for input and for output tokens.
/// For one release the single `per_1k_tokens` of before is still taken, for both rates where
/// they are not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceOffer {
    #[schemars(range(max = PRICE_MAX))]
    pub per_call: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = PRICE_MAX))]
    pub per_1k_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = PRICE_MAX))]
    pub per_1k_output_tokens: Option<u64>,
    /// Deprecated: both rates at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = PRICE_MAX))]
    pub per_1k_tokens: Option<u64>,
}

impl PriceOffer {
    pub fn price(self) -> Price {
        let both = self.per_1k_tokens.unwrap_or(0);
        Price {
            per_call: self.per_call,
            per_1k_input_tokens: self.per_1k_input_tokens.unwrap_or(both),
            per_1k_output_tokens: self.per_1k_output_tokens.unwrap_or(both),
        }
    }
}

impl From<Price> for PriceOffer {
    fn from(price: Price) -> PriceOffer {
        PriceOffer {
            per_call: price.per_call,
            per_1k_input_tokens: Some(price.per_1k_input_tokens),
            per_1k_output_tokens: Some(price.per_1k_output_tokens),
            per_1k_tokens: None,
        }
    }
}

/// Changes what is given; the rest stays. Each update that changes something is a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Option<AgentKind>,
    #[serde(default)]
    pub executor: Option<Executor>,
    #[serde(default)]
    pub price: Option<PriceOffer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireAgent {}

/// A credential for the agent's worker; the answer carries it, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueWorkerCredential {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeWorkerCredential {
    pub credential_id: Uuid,
}

/// A new secret for signing the agent's webhook calls; the answer carries it, once. The secret
/// it replaces still signs, beside it, for `grace_ms` (a day unless given), so that a receiver
/// can move over without refusing a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = WEBHOOK_SECRET_GRACE_MAX_MS))]
    pub grace_ms: Option<u64>,
}

command_enum! {
    /// Every command the Agent aggregate takes.
    pub enum AgentCommand {
        RegisterAgent,
        UpdateAgent,
        RetireAgent,
        IssueWorkerCredential,
        RevokeWorkerCredential,
        RotateWebhookSecret,
    }
}

/// How long a rotated-out webhook secret still signs unless the rotation says otherwise.
pub const WEBHOOK_SECRET_GRACE_MS: u64 = 86_400_000;
/// The longest a rotated-out webhook secret may still sign.
pub const WEBHOOK_SECRET_GRACE_MAX_MS: u64 = 7 * WEBHOOK_SECRET_GRACE_MS;

/// How a webhook secret is shown, as Standard Webhooks writes it: `whsec_` and the key's bytes
/// in base64. `secret` is the decision's fresh secret, in hex.
pub fn webhook_secret(secret: &str) -> String {
    let bytes = hex::decode(secret).unwrap_or_else(|_| secret.as_bytes().to_vec());
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The most credentials one agent may hold at once.
pub const WORKER_CREDENTIALS_MAX: usize = 16;

/// What a worker presents as its bearer token: `oxw.<agent id>.<credential id>.<secret>`.
pub fn worker_credential(agent_id: Uuid, credential_id: Uuid, secret: &str) -> String {
    format!("{WORKER_CREDENTIAL_PREFIX}{agent_id}.{credential_id}.{secret}")
}

/// How a worker credential begins, unlike any JWT.
pub const WORKER_CREDENTIAL_PREFIX: &str = "oxw.";

/// The agent, credential and secret a worker credential names; `None` when it is not one.
pub fn parse_worker_credential(credential: &str) -> Option<(Uuid, Uuid, &str)> {
    let mut parts = credential.strip_prefix(WORKER_CREDENTIAL_PREFIX)?.splitn(3, '.');
    let agent_id = parts.next()?.parse().ok()?;
    let credential_id = parts.next()?.parse().ok()?;
    let secret = parts.next().filter(|secret| !secret.is_empty())?;
    Some((agent_id, credential_id, secret))
}

/// The SHA-256 of a credential's secret, as the log keeps it.
pub fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The longest a webhook may be given to answer.
pub const WEBHOOK_TIMEOUT_MAX_MS: u64 = 300_000;
/// The most credits one call or one thousand tokens may cost.
pub const PRICE_MAX: u64 = 1_000_000_000;

fn validate_executor(path: &str, executor: &Executor) -> Result<(), FieldError> {
    match executor {
        Executor::Webhook { url, timeout_ms } => {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
                return Err(FieldError::new(&format!("{path}/url"), "must be an http(s) URL"));
            }
            if *timeout_ms == 0 || *timeout_ms > WEBHOOK_TIMEOUT_MAX_MS {
                return Err(FieldError::new(
                    &format!("{path}/timeout_ms"),
                    format!("must be 1 to {WEBHOOK_TIMEOUT_MAX_MS}"),
                ));
            }
            Ok(())
        }
        Executor::Builtin { name: Builtin::Sleep, config } => match config.get("ms") {
            Some(ms) if ms.as_u64().is_some_and(|ms| ms <= WEBHOOK_TIMEOUT_MAX_MS) => Ok(()),
            _ => Err(FieldError::new(&format!("{path}/config/ms"), "sleep needs ms, 0 to 300000")),
        },
        // `input_tokens` and `output_tokens` (or, from before they were told apart, `tokens`).
        Executor::Builtin { name: Builtin::Usage, config } => {
            let counts = ["input_tokens", "output_tokens", "tokens"];
            let bad = |field: &str| {
                FieldError::new(
                    &format!("{path}/config/{field}"),
                    format!("usage needs whole numbers of tokens, at most {}", crate::runs::TOKENS_MAX),
                )
            };
            for field in counts {
                if config.get(field).is_some_and(|n| n.as_u64().is_none_or(|n| n > crate::runs::TOKENS_MAX)) {
                    return Err(bad(field));
                }
            }
            match counts.iter().any(|field| config.get(*field).is_some()) {
                true => Ok(()),
                false => Err(bad("input_tokens")),
            }
        }
        // `artifacts`: what each call reports it produced, as a worker would.
        Executor::Builtin { name: Builtin::Echo, config } => match config.get("artifacts") {
            None => Ok(()),
            Some(artifacts) => {
                let at = format!("{path}/config/artifacts");
                let artifacts: Vec<events::runs::Artifact> = serde_json::from_value(artifacts.clone())
                    .map_err(|error| FieldError::new(&at, format!("must be a list of artifacts: {error}")))?;
                crate::validate::artifacts(&at, &artifacts)
            }
        },
        Executor::Builtin { .. } | Executor::External => Ok(()),
    }
}

fn validate_price(path: &str, offer: &PriceOffer) -> Result<(), FieldError> {
    let price = offer.price();
    if [price.per_call, price.per_1k_input_tokens, price.per_1k_output_tokens].iter().any(|rate| *rate > PRICE_MAX) {
        return Err(FieldError::new(path, format!("prices are at most {PRICE_MAX} credits")));
    }
    Ok(())
}

impl Validate for RegisterAgent {
    fn validate(&self) -> Result<(), FieldError> {
        validate::name("/name", &self.name)?;
        validate_executor("/executor", &self.executor)?;
        validate_price("/price", &self.price)
    }
}

impl Validate for UpdateAgent {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(name) = &self.name {
            validate::name("/name", name)?;
        }
        if let Some(executor) = &self.executor {
            validate_executor("/executor", executor)?;
        }
        if let Some(price) = &self.price {
            validate_price("/price", price)?;
        }
        Ok(())
    }
}

impl Validate for RetireAgent {}
impl Validate for IssueWorkerCredential {}
impl Validate for RevokeWorkerCredential {}

impl Validate for RotateWebhookSecret {
    fn validate(&self) -> Result<(), FieldError> {
        match self.grace_ms {
            Some(grace) if grace > WEBHOOK_SECRET_GRACE_MAX_MS => Err(FieldError::new(
                "/grace_ms",
                format!("a rotated-out secret signs at most {WEBHOOK_SECRET_GRACE_MAX_MS} ms more"),
            )),
            _ => Ok(()),
        }
    }
}

/// An agent's current definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub agent_id: Uuid,
    pub workspace_id: Uuid,
    pub version: u32,
    pub name: String,
    pub kind: AgentKind,
    pub executor: Executor,
    pub price: Price,
    pub retired: bool,
    /// The SHA-256 of each credential's secret, by credential id: the ones not revoked.
    /// Retiring the agent revokes them all.
    #[serde(default)]
    pub worker_credentials: BTreeMap<Uuid, String>,
    /// Whether its webhook calls have a secret to be signed with (agents registered before
    /// calls were signed have none until one is rotated in).
    #[serde(default)]
    pub webhook_secret: bool,
}

impl Definition {
    /// Whether `secret` is the secret of the agent's credential `credential_id`, still in force.
    pub fn accepts(&self, credential_id: Uuid, secret: &str) -> bool {
        let Some(expected) = self.worker_credentials.get(&credential_id) else {
            return false;
        };
        // Compared as hashes, every byte, so the time taken says nothing of the secret.
        let actual = secret_sha256(secret);
        !self.retired
            && expected.len() == actual.len()
            && expected.bytes().zip(actual.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

/// `None` until registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentState(pub Option<Definition>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// No agent has this id.
    #[error("no agent has this id")]
    NotFound,
    /// An agent with this id exists already.
    #[error("an agent with this id exists already")]
    AlreadyExists,
    /// The caller is not a member of the agent's workspace (or it does not exist).
    #[error("the caller is not a member of this workspace")]
    NotAMember,
    /// Managing agents needs the admin role.
    #[error("managing agents needs the {} role or higher", required.as_str())]
    RoleTooLow { required: Role },
    /// The agent is retired.
    #[error("the agent is retired")]
    Retired,
    /// Only an external agent's steps are reported by a worker.
    #[error("only an external agent has a worker; this agent's steps are run by Oxbow")]
    NotExternal,
    #[error("no credential in force has this id")]
    CredentialNotFound,
    #[error("an agent holds at most {WORKER_CREDENTIALS_MAX} credentials; revoke one first")]
    TooManyCredentials,
    /// Only a webhook agent's calls are signed.
    #[error("only a webhook agent has a webhook secret")]
    NotAWebhook,
}

crate::access::access_denied_into!(AgentError);

impl Rejection for AgentError {
    fn kind(&self) -> RejectionKind {
        match self {
            AgentError::NotFound => RejectionKind::NotFound,
            AgentError::AlreadyExists => RejectionKind::AlreadyExists,
            AgentError::NotAMember | AgentError::RoleTooLow { .. } => RejectionKind::Forbidden,
            AgentError::Retired
            | AgentError::NotExternal
            | AgentError::TooManyCredentials
            | AgentError::NotAWebhook => RejectionKind::RuleViolated,
            AgentError::CredentialNotFound => RejectionKind::NotFound,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AgentError::NotFound => "agent_not_found",
            AgentError::AlreadyExists => "agent_exists",
            AgentError::NotAMember => "not_a_member",
            AgentError::RoleTooLow { .. } => "role_too_low",
            AgentError::Retired => "agent_retired",
            AgentError::NotExternal => "agent_not_external",
            AgentError::CredentialNotFound => "credential_not_found",
            AgentError::TooManyCredentials => "too_many_credentials",
            AgentError::NotAWebhook => "agent_not_webhook",
        }
    }
}

pub struct Agent;

impl Decider for Agent {
    type Command = AgentCommand;
    type Event = AgentEvent;
    type State = AgentState;
    type Facts = Access;
    type Error = AgentError;

    fn decide(
        command: &AgentCommand,
        state: &AgentState,
        access: &Access,
        context: &CommandContext,
    ) -> Result<Vec<AgentEvent>, AgentError> {
        if let AgentCommand::RegisterAgent(command) = command {
            if state.0.is_some() {
                return Err(AgentError::AlreadyExists);
            }
            access.require(Role::Admin)?;
            let registered = AgentRegistered {
                agent_id: context.aggregate_id,
                workspace_id: command.workspace_id,
                name: command.name.trim().to_owned(),
                kind: command.kind,
                executor: command.executor.clone(),
                price: command.price.price(),
            };
            let secret =
                matches!(command.executor, Executor::Webhook { .. }).then(|| new_webhook_secret(context, None));
            return Ok(std::iter::once(registered.into()).chain(secret).collect());
        }
        let agent = state.0.as_ref().ok_or(AgentError::NotFound)?;
        access.require(Role::Admin)?;
        if agent.retired {
            return Err(AgentError::Retired);
        }
        match command {
            AgentCommand::RegisterAgent(_) => unreachable!("handled above"),
            AgentCommand::UpdateAgent(update) => {
                let name = update.name.as_deref().map_or(agent.name.clone(), |name| name.trim().to_owned());
                let kind = update.kind.unwrap_or(agent.kind);
                let executor = update.executor.clone().unwrap_or_else(|| agent.executor.clone());
                let price = update.price.map_or(agent.price, PriceOffer::price);
                if name == agent.name && kind == agent.kind && executor == agent.executor && price == agent.price {
                    return Ok(Vec::new());
                }
                // A webhook without a secret gets one: its calls are signed from now on.
                let secret = (matches!(executor, Executor::Webhook { .. }) && !agent.webhook_secret)
                    .then(|| new_webhook_secret(context, None));
                let updated = AgentUpdated { version: agent.version + 1, name, kind, executor, price };
                Ok(std::iter::once(updated.into()).chain(secret).collect())
            }
            AgentCommand::RotateWebhookSecret(rotate) => {
                if !matches!(agent.executor, Executor::Webhook { .. }) {
                    return Err(AgentError::NotAWebhook);
                }
                let grace = rotate.grace_ms.unwrap_or(WEBHOOK_SECRET_GRACE_MS).min(WEBHOOK_SECRET_GRACE_MAX_MS);
                let until = (agent.webhook_secret && grace > 0)
                    .then(|| context.now + chrono::Duration::milliseconds(grace as i64));
                Ok(vec![new_webhook_secret(context, until)])
            }
            AgentCommand::RetireAgent(_) => Ok(vec![AgentRetired {}.into()]),
            AgentCommand::IssueWorkerCredential(_) => {
                if agent.executor != Executor::External {
                    return Err(AgentError::NotExternal);
                }
                if agent.worker_credentials.len() >= WORKER_CREDENTIALS_MAX {
                    return Err(AgentError::TooManyCredentials);
                }
                Ok(vec![
                    WorkerCredentialIssued {
                        credential_id: context.new_id,
                        secret_sha256: secret_sha256(context.new_secret.get()),
                    }
                    .into(),
                ])
            }
            AgentCommand::RevokeWorkerCredential(revoke) => {
                if !agent.worker_credentials.contains_key(&revoke.credential_id) {
                    return Err(AgentError::CredentialNotFound);
                }
                Ok(vec![WorkerCredentialRevoked { credential_id: revoke.credential_id }.into()])
            }
        }
    }

    fn evolve(state: AgentState, event: &AgentEvent) -> AgentState {
        let definition = match (state.0, event) {
            (_, AgentEvent::AgentRegistered(e)) => Definition {
                agent_id: e.agent_id,
                workspace_id: e.workspace_id,
                version: 1,
                name: e.name.clone(),
                kind: e.kind,
                executor: e.executor.clone(),
                price: e.price,
                retired: false,
                worker_credentials: BTreeMap::new(),
                webhook_secret: false,
            },
            (Some(current), AgentEvent::AgentUpdated(e)) => Definition {
                version: e.version,
                name: e.name.clone(),
                kind: e.kind,
                executor: e.executor.clone(),
                price: e.price,
                ..current
            },
            (Some(current), AgentEvent::AgentRetired(_)) => {
                Definition { retired: true, worker_credentials: BTreeMap::new(), ..current }
            }
            (Some(mut current), AgentEvent::WorkerCredentialIssued(e)) => {
                current.worker_credentials.insert(e.credential_id, e.secret_sha256.clone());
                current
            }
            (Some(mut current), AgentEvent::WorkerCredentialRevoked(e)) => {
                current.worker_credentials.remove(&e.credential_id);
                current
            }
            (Some(current), AgentEvent::WebhookSecretIssued(_)) => Definition { webhook_secret: true, ..current },
            // An update or retirement before registration cannot be in a valid stream.
            (None, _) => return AgentState(None),
        };
        AgentState(Some(definition))
    }
}

/// A webhook secret made of the decision's fresh secret, in the clear: the service seals it
/// before it is appended and shows it to the caller this once.
fn new_webhook_secret(
    context: &CommandContext,
    previous_valid_until: Option<chrono::DateTime<chrono::Utc>>,
) -> AgentEvent {
    WebhookSecretIssued { secret: webhook_secret(context.new_secret.get()), previous_valid_until }.into()
}

impl Aggregate for Agent {
    const CATEGORY: events::Category = events::Category::Agent;

    fn workspace_id(_id: Uuid, state: &AgentState) -> Option<Uuid> {
        state.0.as_ref().map(|agent| agent.workspace_id)
    }

    fn creates(command: &AgentCommand) -> bool {
        matches!(command, AgentCommand::RegisterAgent(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{context_of, given};

    fn echo() -> Executor {
        Executor::Builtin { name: Builtin::Echo, config: Default::default() }
    }

    fn register() -> AgentCommand {
        AgentCommand::RegisterAgent(RegisterAgent {
            workspace_id: Uuid::nil(),
            name: "Echo".into(),
            kind: AgentKind::Tool,
            executor: echo(),
            price: Price { per_call: 2, per_1k_input_tokens: 1, per_1k_output_tokens: 1 }.into(),
        })
    }

    fn registered() -> AgentEvent {
        AgentRegistered {
            agent_id: context_of("alice").aggregate_id,
            workspace_id: Uuid::nil(),
            name: "Echo".into(),
            kind: AgentKind::Tool,
            executor: echo(),
            price: Price { per_call: 2, per_1k_input_tokens: 1, per_1k_output_tokens: 1 },
        }
        .into()
    }

    #[test]
    fn admins_register_agents_and_members_may_not() {
        given::<Agent>([]).when_with(register(), &Access::of(Role::Admin), context_of("alice")).then([registered()]);
        given::<Agent>([])
            .when_with(register(), &Access::of(Role::Member), context_of("alice"))
            .then_err(AgentError::RoleTooLow { required: Role::Admin });
        given::<Agent>([]).when(register()).then_err(AgentError::NotAMember);
        given::<Agent>([registered()])
            .when_with(register(), &Access::of(Role::Owner), context_of("alice"))
            .then_err(AgentError::AlreadyExists);
    }

    #[test]
    fn each_update_that_changes_something_is_a_new_version() {
        let update = |price| AgentCommand::UpdateAgent(UpdateAgent { name: None, kind: None, executor: None, price });
        let admin = Access::of(Role::Admin);
        given::<Agent>([registered()])
            .when_with(
                update(Some(Price { per_call: 5, per_1k_input_tokens: 1, per_1k_output_tokens: 1 }.into())),
                &admin,
                context_of("alice"),
            )
            .then([AgentUpdated {
                version: 2,
                name: "Echo".into(),
                kind: AgentKind::Tool,
                executor: echo(),
                price: Price { per_call: 5, per_1k_input_tokens: 1, per_1k_output_tokens: 1 },
            }
            .into()]);
        given::<Agent>([registered()]).when_with(update(None), &admin, context_of("alice")).then([]);
    }

    #[test]
    fn a_retired_agent_takes_no_updates_and_unknown_agents_are_not_found() {
        let admin = Access::of(Role::Admin);
        let retire = AgentCommand::RetireAgent(RetireAgent {});
        given::<Agent>([registered()])
            .when_with(retire.clone(), &admin, context_of("alice"))
            .then([AgentRetired {}.into()]);
        given::<Agent>([registered(), AgentRetired {}.into()])
            .when_with(retire.clone(), &admin, context_of("alice"))
            .then_err(AgentError::Retired);
        given::<Agent>([]).when_with(retire, &admin, context_of("alice")).then_err(AgentError::NotFound);
    }

    #[test]
    fn executors_and_prices_are_validated_with_the_field_named() {
        let parse = |payload| AgentCommand::parse("RegisterAgent", &payload).unwrap();
        let base = serde_json::json!({"workspace_id": Uuid::nil(), "name": "A", "kind": "tool",
            "executor": {"type": "webhook", "url": "ftp://x", "timeout_ms": 10}, "price": {"per_call": 1, "per_1k_tokens": 0}});
        assert_eq!(parse(base.clone()).unwrap_err().path, "/executor/url");
        let mut sleep = base.clone();
        sleep["executor"] = serde_json::json!({"type": "builtin", "name": "sleep"});
        assert_eq!(parse(sleep).unwrap_err().path, "/executor/config/ms");
        let mut kind = base;
        kind["kind"] = serde_json::json!("wizard");
        assert_eq!(parse(kind).unwrap_err().path, "/kind");
    }

    #[test]
    fn a_worker_credential_is_issued_to_external_agents_kept_hashed_and_revoked_with_the_agent() {
        let external = AgentEvent::from(AgentRegistered { executor: Executor::External, ..registered_with_echo() });
        let admin = Access::of(Role::Admin);
        let context = context_of("alice");
        let issue = AgentCommand::IssueWorkerCredential(IssueWorkerCredential {});
        let issued: AgentEvent = WorkerCredentialIssued {
            credential_id: context.new_id,
            secret_sha256: secret_sha256(context.new_secret.get()),
        }
        .into();
        given::<Agent>([external.clone()]).when_with(issue.clone(), &admin, context.clone()).then([issued.clone()]);
        given::<Agent>([registered()])
            .when_with(issue.clone(), &admin, context.clone())
            .then_err(AgentError::NotExternal);
        given::<Agent>([external.clone()])
            .when_with(issue, &Access::of(Role::Member), context.clone())
            .then_err(AgentError::RoleTooLow { required: Role::Admin });

        let state = Agent::fold([external.clone(), issued.clone()].iter());
        let agent = state.0.as_ref().unwrap();
        assert!(agent.accepts(context.new_id, context.new_secret.get()));
        assert!(!agent.accepts(context.new_id, "another secret"));
        assert!(!agent.accepts(Uuid::nil(), context.new_secret.get()));
        let retired = Agent::fold([external.clone(), issued.clone(), AgentRetired {}.into()].iter());
        assert!(!retired.0.unwrap().accepts(context.new_id, context.new_secret.get()));
        let revoked =
            Agent::fold([external, issued, WorkerCredentialRevoked { credential_id: context.new_id }.into()].iter());
        assert!(!revoked.0.unwrap().accepts(context.new_id, context.new_secret.get()));
        let credential = worker_credential(Uuid::nil(), context.new_id, context.new_secret.get());
        assert_eq!(parse_worker_credential(&credential), Some((Uuid::nil(), context.new_id, context.new_secret.get())));
        assert_eq!(parse_worker_credential("eyJhbGciOi.x.y"), None);
    }

    #[test]
    fn a_webhook_agent_gets_a_signing_secret_that_rotations_replace_after_a_grace() {
        let webhook = Executor::Webhook { url: "https://agent.example/run".into(), timeout_ms: 5000 };
        let admin = Access::of(Role::Admin);
        let context = context_of("alice");
        let secret = webhook_secret(context.new_secret.get());
        assert!(secret.starts_with("whsec_") && secret.len() == "whsec_".len() + 44, "{secret}");
        let issued = |previous_valid_until| {
            AgentEvent::from(WebhookSecretIssued { secret: secret.clone(), previous_valid_until })
        };
        let RegisterAgent { workspace_id, name, kind, price, .. } = match register() {
            AgentCommand::RegisterAgent(register) => register,
            _ => unreachable!(),
        };
        let register_webhook = RegisterAgent { workspace_id, name, kind, price, executor: webhook.clone() };
        let registered_webhook =
            AgentEvent::from(AgentRegistered { executor: webhook.clone(), ..registered_with_echo() });
        given::<Agent>([])
            .when_with(register_webhook.into(), &admin, context.clone())
            .then([registered_webhook.clone(), issued(None)]);
        // Other executors have nothing to sign.
        given::<Agent>([]).when_with(register(), &admin, context.clone()).then([registered()]);

        let rotate = |grace_ms| AgentCommand::RotateWebhookSecret(RotateWebhookSecret { grace_ms });
        let signed = [registered_webhook.clone(), issued(None)];
        let a_day_later = context.now + chrono::Duration::milliseconds(WEBHOOK_SECRET_GRACE_MS as i64);
        given::<Agent>(signed.clone())
            .when_with(rotate(None), &admin, context.clone())
            .then([issued(Some(a_day_later))]);
        given::<Agent>(signed.clone()).when_with(rotate(Some(0)), &admin, context.clone()).then([issued(None)]);
        given::<Agent>(signed.clone())
            .when_with(rotate(None), &Access::of(Role::Member), context.clone())
            .then_err(AgentError::RoleTooLow { required: Role::Admin });
        given::<Agent>([registered()])
            .when_with(rotate(None), &admin, context.clone())
            .then_err(AgentError::NotAWebhook);
        assert!(RotateWebhookSecret { grace_ms: Some(WEBHOOK_SECRET_GRACE_MAX_MS + 1) }.validate().is_err());

        // A webhook registered before calls were signed gets a secret with its next update, and
        // the first rotation of such an agent has nothing to keep signing with.
        let unsigned = [registered_webhook];
        let rename = AgentCommand::UpdateAgent(UpdateAgent {
            name: Some("Renamed".into()),
            kind: None,
            executor: None,
            price: None,
        });
        let events = Agent::decide(&rename, &Agent::fold(unsigned.iter()), &admin, &context).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1], issued(None));
        let events = Agent::decide(&rename, &Agent::fold(signed.iter()), &admin, &context).unwrap();
        assert_eq!(events.len(), 1, "an agent with a secret keeps it");
        given::<Agent>(unsigned).when_with(rotate(None), &admin, context).then([issued(None)]);
    }

    fn registered_with_echo() -> AgentRegistered {
        match registered() {
            AgentEvent::AgentRegistered(registered) => registered,
            _ => unreachable!(),
        }
    }
}
