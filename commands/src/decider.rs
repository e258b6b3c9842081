//! The shape every aggregate's decision logic takes.

use chrono::{DateTime, Utc};
use events::{Category, DomainEvent, RecordedEvent, StreamId};
use uuid::Uuid;

/// What a decision may know beyond the command and the state: who asks, when, and a fresh id.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandContext {
    /// The id of the aggregate the command is addressed to.
    pub aggregate_id: Uuid,
    /// The `sub` of the caller's token.
    pub actor: String,
    /// The caller's email, when their token carries one.
    pub actor_email: Option<String>,
    pub now: DateTime<Utc>,
    /// A fresh id for whatever the decision needs to name (an invitation, say).
    pub new_id: Uuid,
    /// A fresh random secret for a credential the decision issues.
    pub new_secret: NewSecret,
    /// What the platform, rather than the workspace, lets the caller do.
    pub principal: Principal,
    /// The largest event payload the log takes: a decision that builds a payload from others
    /// (a step's input from its ancestors' outputs) checks it.
    pub max_event_bytes: usize,
}

impl CommandContext {
    /// Sent by one of Oxbow's own sagas.
    pub fn by_saga(&self) -> bool {
        self.principal == Principal::Saga
    }

    pub fn by_operator(&self) -> bool {
        self.principal == Principal::Operator
    }
}

/// A fresh random secret, made the first time a decision asks for it (by the source its caller
/// gave), so that the commands that issue no credential pay nothing for one, and the caller
/// learns whether one was issued.
#[derive(Debug, Clone)]
pub struct NewSecret {
    make: fn() -> String,
    made: std::sync::OnceLock<String>,
}

impl NewSecret {
    /// A secret `make` makes, when first asked for.
    pub fn from(make: fn() -> String) -> NewSecret {
        NewSecret { make, made: std::sync::OnceLock::new() }
    }

    /// This secret (for tests).
    pub fn fixed(secret: &str) -> NewSecret {
        let made = std::sync::OnceLock::new();
        let _ = made.set(secret.to_owned());
        NewSecret { make: String::new, made }
    }

    pub fn get(&self) -> &str {
        self.made.get_or_init(self.make)
    }

    /// The secret, if the decision asked for one.
    pub fn made(&self) -> Option<&str> {
        self.made.get().map(String::as_str)
    }
}

impl PartialEq for NewSecret {
    fn eq(&self, other: &NewSecret) -> bool {
        self.made == other.made
    }
}

/// Who sends a command, as the platform sees them. A workspace's own events say what a user
/// may do in it; the other principals are the parties outside the tenant, each with a narrow
/// set of commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Principal {
    /// A person, by their token; their role in the workspace decides.
    #[default]
    User,
    /// The platform's staff (`oxbow_roles: ["operator"]` in a token, or `OXBOW_OPERATORS`):
    /// money from outside the tenant (grants, overdrafts, payments) and manual suspension, in
    /// any workspace, without being a member.
    Operator,
    /// One of Oxbow's own sagas: an owner's rights in every workspace, and the commands no one
    /// else sends (reservations, timers). Never from a token.
    Saga,
    /// The payment provider, through the signed payment webhook: purchases and payments.
    Payments,
    /// An agent's worker, by the credential an admin issued for that agent: it reports that
    /// agent's external steps in that workspace, nothing else.
    Worker { agent_id: Uuid, workspace_id: Uuid },
}

/// An aggregate's decision logic: which events a command produces from the current state, and
/// how each event changes that state.
pub trait Decider {
    type Command;
    type Event: Clone;
    /// Serializable, so `oxbow log state` can show it and snapshots can keep it.
    type State: Default + Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static;
    /// What a decision needs to know beyond its own stream (the caller's role in the
    /// workspace, the agents a workflow names), looked up by the caller before deciding.
    type Facts;
    type Error: crate::Rejection;

    fn decide(
        command: &Self::Command,
        state: &Self::State,
        facts: &Self::Facts,
        context: &CommandContext,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events.into_iter().fold(Self::State::default(), Self::evolve)
    }
}

/// A decider whose events live in one stream per aggregate id.
pub trait Aggregate: Decider {
    /// The stream category, e.g. `Category::Workspace` for `workspace-<id>`.
    const CATEGORY: Category;

    /// The shape of `State` and the `evolve` that builds it. Bump it when either changes: the
    /// snapshots taken before are then thrown away and states are folded from the events again.
    const STATE_VERSION: i32 = 1;

    fn stream_id(id: Uuid) -> String {
        StreamId::new(Self::CATEGORY, id).to_string()
    }

    /// The workspace (tenant) the aggregate belongs to, once known.
    fn workspace_id(id: Uuid, state: &Self::State) -> Option<Uuid>;

    /// Whether the command creates the aggregate. Such a command is decided against the empty
    /// state without reading the stream; the log refuses it if the stream exists after all.
    fn creates(command: &Self::Command) -> bool;

    /// `state` moved on by stored events, each read back in today's shape.
    fn fold_recorded(mut state: Self::State, events: &[RecordedEvent]) -> Result<Self::State, Unreadable>
    where
        Self::Event: DomainEvent,
    {
        for recorded in events {
            let event = Self::Event::from_recorded(recorded)
                .map_err(|source| Unreadable { position: recorded.position, source })?;
            state = Self::evolve(state, &event);
        }
        Ok(state)
    }
}

/// A stored event this code cannot read.
#[derive(Debug, thiserror::Error)]
#[error("the event at position {position} cannot be read: {source}")]
pub struct Unreadable {
    pub position: i64,
    pub source: events::Error,
}
