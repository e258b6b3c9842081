//! The application service behind the command endpoint: load, decide, append.

use axum::http::StatusCode;
use chrono::Utc;
use std::collections::BTreeMap;

use commands::access::Access;
use commands::agents::{Agent, AgentCommand};
use commands::billing::{Billing, BillingCommand};
use commands::runs::{RunAggregate, RunCommand, RunFacts, WorkflowSnapshot};
use commands::workflows::{AgentFacts, Workflow, WorkflowCommand, WorkflowFacts};
use commands::workspace::{Workspace, WorkspaceCommand};
use commands::{Aggregate, CommandContext, Rejection, RejectionKind};
use events::{DomainEvent, Metadata, NewEvent, RecordedEvent};
use platform::metrics::Metrics;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use store::{AppendError, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, IdempotencyClaim};
use uuid::Uuid;

use crate::problem::Problem;
use crate::states::{Folded, States, Turns};

/// A stream is snapshotted each time it passes a multiple of this many events.
const SNAPSHOT_EVERY: i64 = 100;

/// How often a command without an expected version is decided again after another process
/// appended to its stream first.
const CONFLICT_ROUNDS: u32 = 5;

/// A command as the endpoint receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    pub command_type: String,
    pub id: Uuid,
    pub expected_version: Option<i64>,
    pub payload: Value,
}

/// Who sends the command: a person or worker, from their token, or one of Oxbow's sagas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub email: Option<String>,
    /// One of Oxbow's own sagas: it may send internal commands and acts as an owner.
    pub internal: bool,
}

impl Caller {
    pub fn user(user_id: impl Into<String>, email: Option<String>) -> Caller {
        Caller { user_id: user_id.into(), email, internal: false }
    }

    /// A saga, named for the audit trail (`system:run-saga`).
    pub fn saga(name: &str) -> Caller {
        Caller { user_id: format!("system:{name}"), email: None, internal: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptedEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: Uuid,
    pub position: i64,
    pub payload: Value,
}

/// The 200 response: the stream's new version, and the global position clients pass to the
/// read API for read-your-writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub stream: String,
    pub version: i64,
    pub position: i64,
    pub events: Vec<AcceptedEvent>,
}

#[derive(Clone)]
pub struct CommandService {
    store: EventStore,
    metrics: Metrics,
    states: States,
    turns: Turns,
}

impl CommandService {
    pub fn new(store: EventStore, metrics: Metrics) -> CommandService {
        CommandService { store, metrics, states: States::default(), turns: Turns::default() }
    }

    /// Runs one command. Nothing is appended unless every event of it is.
    pub async fn execute(
        &self,
        request: CommandRequest,
        caller: &Caller,
        idempotency_key: Option<&str>,
        correlation_id: Uuid,
    ) -> Result<Accepted, Problem> {
        let command_type = request.command_type.clone();
        let result = self.dispatch(&request, caller, idempotency_key, correlation_id).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(problem) => problem.code,
        };
        self.metrics.increment(
            "oxbow_commands_total",
            "Commands received, by type and outcome.",
            &[("type", &command_type), ("outcome", outcome)],
            1,
        );
        result
    }

    /// Parses the payload as its type's command and runs it on its aggregate.
    async fn dispatch(
        &self,
        request: &CommandRequest,
        caller: &Caller,
        idempotency_key: Option<&str>,
        correlation_id: Uuid,
    ) -> Result<Accepted, Problem> {
        let invalid = |e: commands::FieldError| Problem::invalid_field(&format!("/payload{}", e.path), &e.message);
        let (kind, payload) = (request.command_type.as_str(), &request.payload);
        if let Some(command) = WorkspaceCommand::parse(kind, payload) {
            let command = command.map_err(invalid)?;
            return self.handle::<Workspace>(request, command, caller, idempotency_key, correlation_id).await;
        }
        if let Some(command) = AgentCommand::parse(kind, payload) {
            let command = command.map_err(invalid)?;
            return self.handle::<Agent>(request, command, caller, idempotency_key, correlation_id).await;
        }
        if let Some(command) = WorkflowCommand::parse(kind, payload) {
            let command = command.map_err(invalid)?;
            return self.handle::<Workflow>(request, command, caller, idempotency_key, correlation_id).await;
        }
        if let Some(command) = BillingCommand::parse(kind, payload) {
            let command = command.map_err(invalid)?;
            return self.handle::<Billing>(request, command, caller, idempotency_key, correlation_id).await;
        }
        if let Some(command) = RunCommand::parse(kind, payload) {
            let command = command.map_err(invalid)?;
            if command.is_internal() && !caller.internal {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "internal_command",
                    "Only Oxbow's run saga sends this command",
                    format!("`{kind}` is sent by the run saga, not through this endpoint"),
                ));
            }
            return self.handle::<RunAggregate>(request, command, caller, idempotency_key, correlation_id).await;
        }
        Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "unknown_command_type",
            "Unknown command type",
            format!("`{kind}` is not a command this endpoint takes"),
        )
        .with("field", "/type"))
    }

    async fn handle<A>(
        &self,
        request: &CommandRequest,
        command: A::Command,
        caller: &Caller,
        idempotency_key: Option<&str>,
        correlation_id: Uuid,
    ) -> Result<Accepted, Problem>
    where
        A: LoadFacts,
        A::Event: DomainEvent,
    {
        let stream_id = A::stream_id(request.id);
        let claim = idempotency_key.map(|key| IdempotencyClaim {
            scope: caller.user_id.clone(),
            key: key.to_owned(),
            request_hash: request_hash(request),
        });
        // A retry must get the first answer even though the state has moved on since.
        if let Some(claim) = &claim
            && let Some(answer) = self.earlier_answer(claim).await?
        {
            return Ok(answer);
        }
        // A creating command needs no history: it is decided against the empty state, and the
        // log refuses it if the stream exists after all (then the real state says why).
        let creating = A::creates(&command) && request.expected_version.unwrap_or(0) == 0;
        if creating {
            return self.attempt::<A>(request, &command, caller, claim, correlation_id, &stream_id, true).await;
        }
        // Commands on one stream take turns in this process, so they do not race each other;
        // a race with another process is decided again on the new state, unless the caller
        // named the version it decided on.
        let mut rounds = 0;
        loop {
            let turn = self.turns.of(&stream_id).lock().await;
            let outcome =
                self.attempt::<A>(request, &command, caller, claim.clone(), correlation_id, &stream_id, false).await;
            drop(turn);
            match outcome {
                Err(problem)
                    if problem.code == "version_conflict"
                        && request.expected_version.is_none()
                        && rounds < CONFLICT_ROUNDS =>
                {
                    rounds += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Loads, decides and appends once.
    #[allow(clippy::too_many_arguments)]
    async fn attempt<A>(
        &self,
        request: &CommandRequest,
        command: &A::Command,
        caller: &Caller,
        claim: Option<IdempotencyClaim>,
        correlation_id: Uuid,
        stream_id: &str,
        creating: bool,
    ) -> Result<Accepted, Problem>
    where
        A: LoadFacts,
        A::Event: DomainEvent,
    {
        let stream_id = stream_id.to_owned();
        let (current, observed_head) = if creating {
            (Folded { state: A::State::default(), version: 0, last_position: 0 }, None)
        } else {
            let (current, head) = self.current::<A>(&stream_id).await?;
            (current, Some(head))
        };
        let Folded { state, version, last_position } = current;
        if let Some(expected) = request.expected_version
            && expected != version
        {
            return Err(Problem::conflict(version));
        }
        let facts = A::load_facts(self, request.id, command, &state, caller).await?;
        let context = CommandContext {
            aggregate_id: request.id,
            actor: caller.user_id.clone(),
            actor_email: caller.email.clone(),
            now: Utc::now(),
            new_id: Uuid::now_v7(),
            internal: caller.internal,
        };
        let decided =
            A::decide(command, &state, &facts, &context).map_err(|rejection| rejected(&rejection, version))?;
        let mut after = state.clone();
        for event in &decided {
            after = A::evolve(after, event);
        }
        let metadata = Metadata {
            actor: caller.user_id.clone(),
            workspace_id: A::workspace_id(request.id, &after),
            correlation_id,
            causation_id: Uuid::now_v7(),
        };
        let mut new_events: Vec<NewEvent> =
            decided.iter().map(|event| NewEvent::from_domain(Uuid::now_v7(), event, &metadata)).collect();
        // The caller hears back what it sent; the log only ever holds personal data sealed.
        let payloads: Vec<Value> = new_events.iter().map(|e| e.payload.clone()).collect();
        store::personal::seal(self.store.pool(), &mut new_events).await.map_err(unavailable)?;

        let appended = self
            .store
            .append(AppendRequest {
                stream_id: stream_id.clone(),
                expected: if creating { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) },
                events: new_events,
                idempotency: claim,
                observed_head,
            })
            .await;
        let outcome = match appended {
            Ok(outcome) => outcome,
            Err(AppendError::Conflict { current }) if creating => {
                return Err(self.explain_taken::<A>(&stream_id, command, &facts, &context, current).await);
            }
            Err(AppendError::Conflict { current }) => return Err(Problem::conflict(current)),
            Err(AppendError::IdempotencyKeyReused) => return Err(key_reused()),
            Err(AppendError::Unavailable(reason)) => return Err(Problem::unavailable(reason)),
        };
        if outcome.replayed {
            return self.replayed(&outcome).await;
        }
        if let Some(position) = outcome.last_position {
            let folded = Folded { state: after, version: outcome.stream_version, last_position: position };
            self.maybe_snapshot::<A>(&stream_id, version, &folded);
            self.states.put(&stream_id, folded);
        }
        Ok(Accepted {
            stream: stream_id,
            version: outcome.stream_version,
            position: outcome.last_position.unwrap_or(last_position),
            events: outcome
                .events
                .into_iter()
                .zip(payloads)
                .map(|(event, payload)| AcceptedEvent {
                    event_type: event.event_type,
                    id: event.event_id,
                    position: event.position,
                    payload,
                })
                .collect(),
        })
    }

    /// The stream's current state: the kept one, brought up to date with the events since.
    /// Also the log's head as of that read, for the committer.
    async fn current<A>(&self, stream_id: &str) -> Result<(Folded<A::State>, i64), Problem>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let mut folded = match self.states.get::<A::State>(stream_id) {
            Some(kept) => kept,
            None => self.snapshot::<A>(stream_id).await,
        };
        let (mut newer, head) =
            store::load_stream(self.store.pool(), stream_id, folded.version).await.map_err(unavailable)?;
        store::personal::reveal(self.store.pool(), &mut newer).await.map_err(unavailable)?;
        let Some(last) = newer.last() else {
            return Ok((folded, head));
        };
        let (version, last_position) = (last.stream_version, last.position);
        folded = Folded { state: fold_onto::<A>(folded.state, &newer)?, version, last_position };
        let kept = Folded { state: folded.state.clone(), version, last_position };
        self.states.put(stream_id, kept);
        Ok((folded, head))
    }

    /// The stream's snapshot, or the empty state when there is none (or none this code can
    /// read: then the events are folded from the start).
    async fn snapshot<A>(&self, stream_id: &str) -> Folded<A::State>
    where
        A: Aggregate,
    {
        let empty = Folded { state: A::State::default(), version: 0, last_position: 0 };
        match store::load_snapshot(self.store.pool(), stream_id, A::STATE_VERSION).await {
            Ok(Some(snapshot)) => match serde_json::from_value::<A::State>(snapshot.state) {
                Ok(state) => Folded { state, version: snapshot.version, last_position: snapshot.last_position },
                Err(error) => {
                    tracing::warn!(%error, stream_id, "a snapshot this code cannot read; folding from the start");
                    empty
                }
            },
            Ok(None) => empty,
            Err(error) => {
                tracing::warn!(%error, stream_id, "could not read a snapshot; folding from the start");
                empty
            }
        }
    }

    /// Snapshots a long stream every `SNAPSHOT_EVERY` events, in the background: a snapshot
    /// only saves reading, so failing to take one changes nothing.
    fn maybe_snapshot<A>(&self, stream_id: &str, before: i64, folded: &Folded<A::State>)
    where
        A: Aggregate,
    {
        if folded.version / SNAPSHOT_EVERY == before / SNAPSHOT_EVERY {
            return;
        }
        let snapshot = store::Snapshot {
            version: folded.version,
            last_position: folded.last_position,
            state: serde_json::to_value(&folded.state).expect("states serialize"),
        };
        let (pool, stream_id) = (self.store.pool().clone(), stream_id.to_owned());
        tokio::spawn(async move {
            if let Err(error) = store::save_snapshot(&pool, &stream_id, A::STATE_VERSION, &snapshot).await {
                tracing::warn!(%error, stream_id, "could not save a snapshot");
            }
        });
    }

    /// The caller's standing in `workspace_id`, from the workspace's own events.
    async fn access(&self, workspace_id: Option<Uuid>, caller: &Caller) -> Result<Access, Problem> {
        let Some(workspace_id) = workspace_id else {
            return Ok(Access::default());
        };
        let (Folded { state: workspace, .. }, _) =
            self.current::<Workspace>(&Workspace::stream_id(workspace_id)).await?;
        let role = match caller.internal {
            true if workspace.created => Some(events::workspace::Role::Owner),
            _ => workspace.role_of(&caller.user_id),
        };
        Ok(Access { role, suspended: workspace.suspended })
    }

    /// The current definitions of the agents that exist among `ids`, read in one query.
    async fn agents(
        &self,
        ids: impl Iterator<Item = Uuid>,
    ) -> Result<BTreeMap<Uuid, commands::agents::Definition>, Problem> {
        let mut streams: Vec<String> = ids.map(Agent::stream_id).collect();
        streams.sort_unstable();
        streams.dedup();
        let history = store::read_streams(self.store.pool(), &streams).await.map_err(unavailable)?;
        let mut agents = BTreeMap::new();
        for stream in history.chunk_by(|a, b| a.stream_id == b.stream_id) {
            if let Some(agent) = fold::<Agent>(stream)?.0 {
                agents.insert(agent.agent_id, agent);
            }
        }
        Ok(agents)
    }

    /// A workflow version (the current one by default) with its agents' executors and prices
    /// as they are now; `None` when the workflow or that version does not exist.
    async fn workflow_snapshot(
        &self,
        workflow_id: Uuid,
        version: Option<u32>,
    ) -> Result<Option<WorkflowSnapshot>, Problem> {
        let history =
            store::read_stream(self.store.pool(), &Workflow::stream_id(workflow_id), 0).await.map_err(unavailable)?;
        let mut state = <Workflow as commands::Decider>::State::default();
        let mut chosen = None;
        for recorded in &history {
            let event = events::workflows::WorkflowEvent::from_recorded(recorded).map_err(|error| {
                tracing::error!(%error, position = recorded.position, "a stored event cannot be read");
                Problem::unavailable("a stored event of this workflow cannot be read")
            })?;
            state = <Workflow as commands::Decider>::evolve(state, &event);
            if let Some(definition) = &state.0
                && version.is_some_and(|version| version == definition.version)
            {
                chosen = Some(definition.clone());
            }
        }
        let Some(definition) = (if version.is_some() { chosen } else { state.0.clone() }) else {
            return Ok(None);
        };
        let archived = state.0.as_ref().is_some_and(|current| current.archived);
        let agents = self.agents(definition.steps.iter().map(|step| step.agent_id)).await?;
        let mut steps = Vec::with_capacity(definition.steps.len());
        for step in definition.steps {
            let Some(agent) = agents.get(&step.agent_id) else {
                return Ok(None);
            };
            steps.push(events::runs::PlannedStep {
                id: step.id,
                agent_id: step.agent_id,
                depends_on: step.depends_on,
                input: step.input,
                retry: step.retry,
                timeout_ms: step.timeout_ms,
                executor: agent.executor.clone(),
                price: agent.price,
            });
        }
        Ok(Some(WorkflowSnapshot {
            workspace_id: definition.workspace_id,
            version: definition.version,
            archived,
            steps,
        }))
    }

    /// Why a creating command found its stream taken: the decider's answer on the real state.
    async fn explain_taken<A>(
        &self,
        stream_id: &str,
        command: &A::Command,
        facts: &A::Facts,
        context: &CommandContext,
        current: i64,
    ) -> Problem
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let mut history = match store::read_stream(self.store.pool(), stream_id, 0).await {
            Ok(history) => history,
            Err(error) => return unavailable(error),
        };
        if let Err(error) = store::personal::reveal(self.store.pool(), &mut history).await {
            return unavailable(error);
        }
        match fold::<A>(&history).map(|state| A::decide(command, &state, facts, context)) {
            Ok(Err(rejection)) => rejected(&rejection, current),
            Ok(Ok(_)) => Problem::conflict(current),
            Err(problem) => problem,
        }
    }

    async fn earlier_answer(&self, claim: &IdempotencyClaim) -> Result<Option<Accepted>, Problem> {
        let Some(record) =
            store::find_idempotency_key(self.store.pool(), &claim.scope, &claim.key).await.map_err(unavailable)?
        else {
            return Ok(None);
        };
        if record.request_hash != claim.request_hash {
            return Err(key_reused());
        }
        let outcome = AppendOutcome {
            stream_id: record.stream_id,
            stream_version: record.stream_version,
            first_position: record.first_position,
            last_position: record.last_position,
            events: Vec::new(),
            replayed: true,
        };
        self.replayed(&outcome).await.map(Some)
    }

    /// The answer to a request whose events were appended before: read back from the log.
    async fn replayed(&self, outcome: &AppendOutcome) -> Result<Accepted, Problem> {
        let mut events: Vec<RecordedEvent> = match (outcome.first_position, outcome.last_position) {
            (Some(first), Some(last)) => {
                store::read_range(self.store.pool(), first, last).await.map_err(unavailable)?
            }
            _ => Vec::new(),
        };
        store::personal::reveal(self.store.pool(), &mut events).await.map_err(unavailable)?;
        let position = match outcome.last_position {
            Some(position) => position,
            None => store::read_stream(self.store.pool(), &outcome.stream_id, outcome.stream_version - 1)
                .await
                .map_err(unavailable)?
                .last()
                .map_or(0, |e| e.position),
        };
        Ok(Accepted {
            stream: outcome.stream_id.clone(),
            version: outcome.stream_version,
            position,
            events: events
                .into_iter()
                .map(|e| AcceptedEvent {
                    event_type: e.event_type,
                    id: e.event_id,
                    position: e.position,
                    payload: e.payload,
                })
                .collect(),
        })
    }
}

/// How the command service looks up what an aggregate's decisions need beyond its stream.
pub(crate) trait LoadFacts: Aggregate {
    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        command: &Self::Command,
        state: &Self::State,
        caller: &Caller,
    ) -> Result<Self::Facts, Problem>;
}

impl LoadFacts for Workspace {
    async fn load_facts(
        _service: &CommandService,
        _id: Uuid,
        _command: &WorkspaceCommand,
        _state: &<Workspace as commands::Decider>::State,
        _caller: &Caller,
    ) -> Result<(), Problem> {
        Ok(())
    }
}

impl LoadFacts for Agent {
    async fn load_facts(
        service: &CommandService,
        _id: Uuid,
        command: &AgentCommand,
        state: &<Agent as commands::Decider>::State,
        caller: &Caller,
    ) -> Result<Access, Problem> {
        let workspace_id = match (&state.0, command) {
            (Some(agent), _) => Some(agent.workspace_id),
            (None, AgentCommand::RegisterAgent(register)) => Some(register.workspace_id),
            (None, _) => None,
        };
        service.access(workspace_id, caller).await
    }
}

impl LoadFacts for Billing {
    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        _command: &BillingCommand,
        _state: &<Billing as commands::Decider>::State,
        caller: &Caller,
    ) -> Result<Access, Problem> {
        // A workspace's billing account has the workspace's id.
        service.access(Some(id), caller).await
    }
}

impl LoadFacts for RunAggregate {
    async fn load_facts(
        service: &CommandService,
        _id: Uuid,
        command: &RunCommand,
        state: &<RunAggregate as commands::Decider>::State,
        caller: &Caller,
    ) -> Result<RunFacts, Problem> {
        let start = match command {
            RunCommand::StartRun(start) => Some(start),
            _ => None,
        };
        let workspace_id = state.0.as_ref().map(|run| run.workspace_id).or(start.map(|start| start.workspace_id));
        let access = service.access(workspace_id, caller).await?;
        let workflow = match start {
            Some(start) => service.workflow_snapshot(start.workflow_id, start.workflow_version).await?,
            None => None,
        };
        Ok(RunFacts { access, workflow })
    }
}

impl LoadFacts for Workflow {
    async fn load_facts(
        service: &CommandService,
        _id: Uuid,
        command: &WorkflowCommand,
        state: &<Workflow as commands::Decider>::State,
        caller: &Caller,
    ) -> Result<WorkflowFacts, Problem> {
        let (workspace_id, steps) = match (&state.0, command) {
            (Some(workflow), WorkflowCommand::ReviseWorkflow(revise)) => {
                (Some(workflow.workspace_id), &revise.steps[..])
            }
            (Some(workflow), _) => (Some(workflow.workspace_id), &[][..]),
            (None, WorkflowCommand::DefineWorkflow(define)) => (Some(define.workspace_id), &define.steps[..]),
            (None, _) => (None, &[][..]),
        };
        let access = service.access(workspace_id, caller).await?;
        let agents = service
            .agents(steps.iter().map(|step| step.agent_id))
            .await?
            .into_iter()
            .map(|(id, agent)| (id, AgentFacts { workspace_id: agent.workspace_id, retired: agent.retired }))
            .collect();
        Ok(WorkflowFacts { access, agents })
    }
}

/// The aggregate's state after `history`.
fn fold<A>(history: &[RecordedEvent]) -> Result<A::State, Problem>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    fold_onto::<A>(A::State::default(), history)
}

/// `state` moved on by `events`.
fn fold_onto<A>(state: A::State, events: &[RecordedEvent]) -> Result<A::State, Problem>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    A::fold_recorded(state, events).map_err(|error| {
        tracing::error!(%error, "a stored event cannot be read");
        Problem::unavailable("a stored event of this aggregate cannot be read")
    })
}

/// What makes two requests "the same" for an idempotency key: type, id, expected version and
/// the payload in canonical form (so white space and key order do not count).
fn request_hash(request: &CommandRequest) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(request.command_type.as_bytes());
    hasher.update([0]);
    hasher.update(request.id.as_bytes());
    hasher.update(request.expected_version.unwrap_or(-1).to_be_bytes());
    hasher.update(events::canonical::to_vec(&request.payload));
    hasher.finalize().to_vec()
}

fn unavailable(error: store::Error) -> Problem {
    tracing::error!(%error, "the log could not be read");
    Problem::unavailable("the event log could not be read")
}

fn key_reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "The idempotency key was used with another request",
        "an Idempotency-Key may only be retried with the same request body",
    )
}

fn rejected<R: Rejection>(rejection: &R, version: i64) -> Problem {
    let detail = rejection.to_string();
    match rejection.kind() {
        RejectionKind::NotFound => Problem::new(StatusCode::NOT_FOUND, rejection.code(), "Not found", detail),
        RejectionKind::AlreadyExists => Problem::new(StatusCode::CONFLICT, rejection.code(), "Already exists", detail)
            .with("current_version", version),
        RejectionKind::Forbidden => Problem::new(StatusCode::FORBIDDEN, rejection.code(), "Forbidden", detail),
        RejectionKind::RuleViolated => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            rejection.code(),
            "A business rule refused the command",
            detail,
        )
        .with("rule", rejection.code()),
    }
}
