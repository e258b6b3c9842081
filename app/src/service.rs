//! The command service: load → facts → decide → seal → append, for every caller.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

use commands::agents::Agent;
use commands::billing::Billing;
use commands::runs::RunAggregate;
use commands::workflows::Workflow;
use commands::workspace::Workspace;
use commands::{Aggregate, CommandContext, NewSecret, Principal, RejectionKind};
use events::{DomainEvent, Metadata, NewEvent, RecordedEvent};
use platform::metrics::Metrics;
use store::{AppendError, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, IdempotencyClaim};

use crate::command::{Caller, Command, CommandRequest};
use crate::error::CommandError;
use crate::facts::{LoadFacts, WorkspaceRead};
use crate::idempotency::request_hash;
use crate::states::{Folded, States, Turns};

/// A stream is snapshotted each time it passes a multiple of this many events.
const SNAPSHOT_EVERY: i64 = 100;

/// How often a command without an expected version is decided again after another process
/// appended to its stream first.
const CONFLICT_ROUNDS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptedEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: Uuid,
    pub position: i64,
    pub payload: Value,
}

/// What a command appended: the stream's new version, and the global position clients pass
/// to the read API for read-your-writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub stream: String,
    pub version: i64,
    pub position: i64,
    pub events: Vec<AcceptedEvent>,
    /// The credential an `IssueWorkerCredential` made, shown this once: the log keeps only
    /// its secret's hash, and a retry under the same idempotency key does not show it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_credential: Option<String>,
}

/// What one command appended, as told to a follower of this process's appends: its stream
/// and the positions of its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub stream: String,
    pub first: i64,
    pub last: i64,
}

/// 244 random bits, as 64 hex digits, from a CSPRNG the operating system seeds.
fn random_secret() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// The largest event payload a command may record unless configured otherwise.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct CommandService {
    pub(crate) store: EventStore,
    metrics: Metrics,
    states: States,
    turns: Turns,
    appended: Option<tokio::sync::mpsc::Sender<Appended>>,
    max_event_bytes: usize,
}

impl CommandService {
    pub fn new(store: EventStore, metrics: Metrics) -> CommandService {
        CommandService {
            store,
            metrics,
            states: States::default(),
            turns: Turns::default(),
            appended: None,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }

    /// Refuses commands whose events' payloads would be larger than `bytes`.
    pub fn limiting_events_to(mut self, bytes: usize) -> CommandService {
        self.max_event_bytes = bytes;
        self
    }

    /// Tells `follower` of every accepted command's events (the sagas in this process react to
    /// them at once instead of after their trip through Kafka). Only a shortcut: when the
    /// follower falls behind and the channel is full, it is not told, and nothing waits.
    pub fn telling_appends_to(mut self, follower: tokio::sync::mpsc::Sender<Appended>) -> CommandService {
        self.appended = Some(follower);
        self
    }

    /// Runs one command. Nothing is appended unless every event of it is.
    pub async fn execute(
        &self,
        request: CommandRequest,
        caller: &Caller,
        idempotency_key: Option<&str>,
        correlation_id: Uuid,
    ) -> Result<Accepted, CommandError> {
        let started = std::time::Instant::now();
        // Parsing checked the endpoint's commands already; the sagas' are built in code, from
        // what executors returned.
        // Spans only where traces are exported: the command path is the hottest there is.
        let span = platform::traced_span!(
            "command",
            otel.name = request.command.command_type(),
            oxbow.correlation_id = %correlation_id,
        );
        let result = match request.command.validate() {
            Ok(()) => self.dispatch(&request, caller, idempotency_key, correlation_id).instrument(span).await,
            Err(error) => Err(CommandError::invalid(&error)),
        };
        if let (Ok(accepted), Some(follower)) = (&result, &self.appended)
            && let (Some(first), Some(last)) = (accepted.events.first(), accepted.events.last())
        {
            let appended = Appended { stream: accepted.stream.clone(), first: first.position, last: last.position };
            let _ = follower.try_send(appended);
        }
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(error) => error.code(),
        };
        self.metrics.increment(
            "oxbow_commands_total",
            "Commands received, by type and outcome.",
            &[("type", request.command.command_type()), ("outcome", outcome)],
            1,
        );
        self.metrics.observe(
            "oxbow_command_duration_seconds",
            "From a command's arrival at the service to its answer, by type.",
            &[("type", request.command.command_type())],
            platform::metrics::SECONDS,
            started.elapsed().as_secs_f64(),
        );
        result
    }

    /// Runs the command on its aggregate.
    async fn dispatch(
        &self,
        request: &CommandRequest,
        caller: &Caller,
        idempotency_key: Option<&str>,
        correlation_id: Uuid,
    ) -> Result<Accepted, CommandError> {
        let key = idempotency_key;
        match &request.command {
            Command::Workspace(command) => {
                self.handle::<Workspace>(request, command, caller, key, correlation_id).await
            }
            Command::Agent(command) => self.handle::<Agent>(request, command, caller, key, correlation_id).await,
            Command::Workflow(command) => self.handle::<Workflow>(request, command, caller, key, correlation_id).await,
            Command::Billing(command) => self.handle::<Billing>(request, command, caller, key, correlation_id).await,
            Command::Run(command) if command.is_internal() && caller.principal != Principal::Saga => {
                Err(CommandError::Rejected {
                    kind: RejectionKind::Forbidden,
                    code: "internal_command",
                    detail: format!("`{}` is sent by the run saga, not through this endpoint", command.command_type()),
                    version: 0,
                })
            }
            Command::Run(command) => self.handle::<RunAggregate>(request, command, caller, key, correlation_id).await,
        }
    }

    async fn handle<A>(
        &self,
        request: &CommandRequest,
        command: &A::Command,
        caller: &Caller,
        idempotency_key: Option<&str>,
        correlation_id: Uuid,
    ) -> Result<Accepted, CommandError>
    where
        A: LoadFacts,
        A::Event: DomainEvent,
    {
        let stream_id = A::stream_id(request.id);
        let claim = idempotency_key.map(|key| IdempotencyClaim {
            scope: caller.user_id.clone(),
            key: key.to_owned(),
            request_hash: request_hash(
                request.command.command_type(),
                request.id,
                request.expected_version,
                &request.payload,
            ),
        });
        // A retry must get the first answer even though the state has moved on since.
        if let Some(claim) = &claim
            && let Some(answer) = self.earlier_answer(claim).await?
        {
            return Ok(answer);
        }
        // A creating command needs no history: it is decided against the empty state, and the
        // log refuses it if the stream exists after all (then the real state says why).
        let creating = A::creates(command) && request.expected_version.unwrap_or(0) == 0;
        if creating {
            return self.attempt::<A>(request, command, caller, claim, correlation_id, &stream_id, true).await;
        }
        // Commands on one stream take turns in this process, so they do not race each other;
        // a race with another process is decided again on the new state, unless the caller
        // named the version it decided on.
        let mut rounds = 0;
        loop {
            let turn = self.turns.of(&stream_id).lock().await;
            let outcome =
                self.attempt::<A>(request, command, caller, claim.clone(), correlation_id, &stream_id, false).await;
            drop(turn);
            match outcome {
                Err(CommandError::Conflict { .. })
                    if request.expected_version.is_none() && rounds < CONFLICT_ROUNDS =>
                {
                    rounds += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// The last check before the log: every event fits what the log, the broker and the read
    /// models hold, whatever the deciders let through. One command's oversized or unstorable
    /// event is refused here, before it can fail a group-commit batch or halt a consumer.
    /// Returns the payloads' size in bytes.
    fn check_bounds(&self, events: &[NewEvent], version: i64) -> Result<usize, CommandError> {
        let mut total = 0;
        for event in events {
            let bytes = json_size(&event.payload);
            total += bytes;
            if bytes > self.max_event_bytes {
                return Err(CommandError::Rejected {
                    kind: RejectionKind::TooLarge,
                    code: "event_too_large",
                    detail: format!(
                        "the {} event would be {bytes} bytes; events may be at most {} bytes",
                        event.event_type, self.max_event_bytes
                    ),
                    version,
                });
            }
            if let Err(error) = commands::validate::json("", &event.payload) {
                return Err(CommandError::Rejected {
                    kind: RejectionKind::Invalid,
                    code: error.code,
                    detail: format!("the {} event: {error}", event.event_type),
                    version,
                });
            }
        }
        Ok(total)
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
    ) -> Result<Accepted, CommandError>
    where
        A: LoadFacts,
        A::Event: DomainEvent,
    {
        let stream_id = stream_id.to_owned();
        // The workspace the command's facts come from is read with the stream when the command
        // or the kept state names it: one round trip instead of two.
        let (current, observed_head, beside) = if creating {
            (Folded { state: A::State::default(), version: 0, last_position: 0 }, None, None)
        } else {
            let kept = self.kept::<A>(&stream_id).await;
            let workspace = A::workspace_of(request.id, command, &kept.state);
            let (current, head, beside) = self.current_beside::<A>(&stream_id, kept, workspace).await?;
            (current, Some(head), beside)
        };
        let Folded { state, version, last_position } = current;
        if let Some(expected) = request.expected_version
            && expected != version
        {
            return Err(CommandError::Conflict { current: version });
        }
        let facts = A::load_facts(self, request.id, command, &state, caller, beside.as_ref()).await?;
        let context = CommandContext {
            aggregate_id: request.id,
            actor: caller.user_id.clone(),
            actor_email: caller.email.clone(),
            now: Utc::now(),
            new_id: Uuid::now_v7(),
            new_secret: NewSecret::from(random_secret),
            principal: caller.principal,
        };
        let decided = A::decide(command, &state, &facts, &context)
            .map_err(|rejection| CommandError::rejected(&rejection, version))?;
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
        let bytes = self.check_bounds(&new_events, version)?;
        self.metrics.observe(
            "oxbow_command_event_bytes",
            "The JSON size of the payloads a decided command would append, by command type.",
            &[("type", request.command.command_type())],
            platform::metrics::BYTES,
            bytes as f64,
        );
        // The caller hears back what it sent; the log only ever holds personal data sealed.
        let payloads: Vec<Value> = new_events.iter().map(|e| e.payload.clone()).collect();
        store::personal::seal(self.store.pool(), &mut new_events).await.map_err(CommandError::unavailable)?;
        // States are kept as the log holds them, personal data sealed: no cached state or
        // snapshot holds a person's email, and forgetting them needs nothing else undone.
        if new_events.iter().any(|event| !events::personal_fields(&event.event_type).is_empty()) {
            after = state.clone();
            for event in &new_events {
                let sealed = A::Event::from_stored(&event.event_type, event.schema_version, &event.payload).map_err(
                    |error| CommandError::Unavailable(format!("a sealed event does not read back: {error}")),
                )?;
                after = A::evolve(after, &sealed);
            }
        }

        // The relay and the projector continue the trace from the append.
        let span = platform::traced_span!("append", oxbow.stream = %stream_id, oxbow.events = new_events.len());
        let trace_context = platform::telemetry::traceparent_of(&span);
        let appended = self
            .store
            .append(AppendRequest {
                stream_id: stream_id.clone(),
                expected: if creating { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) },
                events: new_events,
                idempotency: claim,
                observed_head,
                trace_context,
            })
            .instrument(span)
            .await;
        let outcome = match appended {
            Ok(outcome) => outcome,
            Err(AppendError::Conflict { current }) if creating => {
                return Err(self.explain_taken::<A>(&stream_id, command, &facts, &context, current).await);
            }
            Err(AppendError::Conflict { current }) => return Err(CommandError::Conflict { current }),
            Err(AppendError::IdempotencyKeyReused) => return Err(CommandError::IdempotencyKeyReused),
            // The database's own words stay in the log of the server, not in the answer.
            Err(AppendError::Unavailable(reason)) => {
                tracing::error!(%reason, stream = %stream_id, "an append failed");
                return Err(CommandError::Unavailable("the event log could not be written; try again".into()));
            }
            Err(AppendError::Refused(reason)) => {
                tracing::warn!(%reason, stream = %stream_id, "the database refused a command's events");
                return Err(CommandError::Rejected {
                    kind: RejectionKind::Invalid,
                    code: "unstorable_data",
                    detail: "the log cannot store a value of this command's events".into(),
                    version,
                });
            }
        };
        if outcome.replayed {
            return self.replayed(&outcome).await;
        }
        if let Some(position) = outcome.last_position {
            let folded = Folded { state: after, version: outcome.stream_version, last_position: position };
            self.maybe_snapshot::<A>(&stream_id, version, &folded);
            self.states.put(&stream_id, folded);
        }
        // A decision that issued a credential asked for a secret: the caller sees it this once.
        let worker_credential = context
            .new_secret
            .made()
            .map(|secret| commands::agents::worker_credential(request.id, context.new_id, secret));
        Ok(Accepted {
            worker_credential,
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
    pub(crate) async fn current<A>(&self, stream_id: &str) -> Result<(Folded<A::State>, i64), CommandError>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let kept = self.kept::<A>(stream_id).await;
        let (folded, head, _) = self.current_beside::<A>(stream_id, kept, None).await?;
        Ok((folded, head))
    }

    /// The state kept of the stream, or its snapshot: what the events since are folded onto.
    async fn kept<A>(&self, stream_id: &str) -> Folded<A::State>
    where
        A: Aggregate,
    {
        match self.states.get::<A::State>(stream_id) {
            Some(kept) => kept,
            None => self.snapshot::<A>(stream_id).await,
        }
    }

    /// [`Self::current`] from `kept`, and the current state of `workspace` beside it when it
    /// names one: both brought up to date by one read, at one head.
    async fn current_beside<A>(
        &self,
        stream_id: &str,
        kept: Folded<A::State>,
        workspace: Option<Uuid>,
    ) -> Result<(Folded<A::State>, i64, Option<WorkspaceRead>), CommandError>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let workspace = match workspace {
            Some(id) => {
                let stream = Workspace::stream_id(id);
                let kept = self.kept::<Workspace>(&stream).await;
                Some((id, stream, kept))
            }
            None => None,
        };
        let mut wanted = vec![(stream_id, kept.version)];
        wanted.extend(workspace.as_ref().map(|(_, stream, kept)| (stream.as_str(), kept.version)));
        let (mut newer, head) =
            store::load_streams(self.store.pool(), &wanted).await.map_err(CommandError::unavailable)?;
        let folded = self.bring_up_to_date::<A>(stream_id, kept, newer.remove(stream_id).unwrap_or_default())?;
        let workspace = match workspace {
            Some((id, stream, kept)) => {
                let newer = newer.remove(&stream).unwrap_or_default();
                Some(WorkspaceRead { id, state: self.bring_up_to_date::<Workspace>(&stream, kept, newer)?.state })
            }
            None => None,
        };
        Ok((folded, head, workspace))
    }

    /// `folded` with `newer` (the stream's events since) folded on, kept for the next command.
    fn bring_up_to_date<A>(
        &self,
        stream_id: &str,
        folded: Folded<A::State>,
        newer: Vec<RecordedEvent>,
    ) -> Result<Folded<A::State>, CommandError>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let Some(last) = newer.last() else {
            return Ok(folded);
        };
        let (version, last_position) = (last.stream_version, last.position);
        let state = fold_onto::<A>(folded.state, &newer)?;
        self.states.put(stream_id, Folded { state: state.clone(), version, last_position });
        Ok(Folded { state, version, last_position })
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

    /// Why a creating command found its stream taken: the decider's answer on the real state.
    async fn explain_taken<A>(
        &self,
        stream_id: &str,
        command: &A::Command,
        facts: &A::Facts,
        context: &CommandContext,
        current: i64,
    ) -> CommandError
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let history = match store::read_stream(self.store.pool(), stream_id, 0).await {
            Ok(history) => history,
            Err(error) => return CommandError::unavailable(error),
        };
        match fold::<A>(&history).map(|state| A::decide(command, &state, facts, context)) {
            Ok(Err(rejection)) => CommandError::rejected(&rejection, current),
            Ok(Ok(_)) => CommandError::Conflict { current },
            Err(error) => error,
        }
    }

    /// Which of `keys` `caller` has used: requests under them would only be answered from the
    /// log, which a caller that needs no answer can skip.
    pub async fn used_keys(
        &self,
        caller: &Caller,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>, CommandError> {
        store::used_idempotency_keys(self.store.pool(), &caller.user_id, keys).await.map_err(CommandError::unavailable)
    }

    async fn earlier_answer(&self, claim: &IdempotencyClaim) -> Result<Option<Accepted>, CommandError> {
        let Some(record) = store::find_idempotency_key(self.store.pool(), &claim.scope, &claim.key)
            .await
            .map_err(CommandError::unavailable)?
        else {
            return Ok(None);
        };
        if record.request_hash != claim.request_hash {
            return Err(CommandError::IdempotencyKeyReused);
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
    async fn replayed(&self, outcome: &AppendOutcome) -> Result<Accepted, CommandError> {
        let mut events: Vec<RecordedEvent> = match (outcome.first_position, outcome.last_position) {
            (Some(first), Some(last)) => {
                store::read_range(self.store.pool(), first, last).await.map_err(CommandError::unavailable)?
            }
            _ => Vec::new(),
        };
        store::personal::reveal(self.store.pool(), &mut events).await.map_err(CommandError::unavailable)?;
        let position = match outcome.last_position {
            Some(position) => position,
            None => store::read_stream(self.store.pool(), &outcome.stream_id, outcome.stream_version - 1)
                .await
                .map_err(CommandError::unavailable)?
                .last()
                .map_or(0, |e| e.position),
        };
        Ok(Accepted {
            worker_credential: None,
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

/// The aggregate's state after `history`.
pub(crate) fn fold<A>(history: &[RecordedEvent]) -> Result<A::State, CommandError>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    fold_onto::<A>(A::State::default(), history)
}

/// `state` moved on by `events`.
fn fold_onto<A>(state: A::State, events: &[RecordedEvent]) -> Result<A::State, CommandError>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    A::fold_recorded(state, events).map_err(|error| {
        tracing::error!(%error, "a stored event cannot be read");
        CommandError::Unavailable("a stored event of this aggregate cannot be read".into())
    })
}

/// The length of `value` as JSON, without keeping the text.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).expect("a JSON value always serializes");
    counter.0
}
