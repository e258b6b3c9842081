//! The command service: load → facts → decide → seal → append, for every caller.

use chrono::Utc;
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

use commands::agents::Agent;
use commands::billing::Billing;
use commands::runs::RunAggregate;
use commands::workflows::Workflow;
use commands::workspace::Workspace;
use commands::{CommandContext, NewSecret, Principal, RejectionKind};
use events::{DomainEvent, Metadata, NewEvent};
use platform::metrics::Metrics;
use store::{AppendError, AppendRequest, EventLog, EventStore, ExpectedVersion, IdempotencyClaim, KeyStore};

use crate::answers::{self, Accepted, AcceptedEvent};
use crate::command::{Caller, Command, CommandRequest};
use crate::error::CommandError;
use crate::facts::DecisionFacts;
use crate::idempotency::request_hash;
use crate::load::{ForCommand, Loader, fold};
use crate::states::{Folded, Turns};

/// A stream is snapshotted each time it passes a multiple of this many events.
const SNAPSHOT_EVERY: i64 = 100;

/// How often a command without an expected version is decided again after another process
/// appended to its stream first.
const CONFLICT_ROUNDS: u32 = 5;

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

/// The command path of every caller, over a log: PostgreSQL's ([`EventStore`]) in every role
/// that serves, [`store::memory::MemoryLog`] in unit tests.
#[derive(Clone)]
pub struct CommandService<L = EventStore> {
    log: L,
    loader: Loader<L>,
    metrics: Metrics,
    turns: Turns,
    appended: Option<tokio::sync::mpsc::Sender<Appended>>,
    max_event_bytes: usize,
}

impl<L: EventLog + KeyStore> CommandService<L> {
    pub fn new(log: L, metrics: Metrics) -> CommandService<L> {
        CommandService {
            loader: Loader::new(log.clone()),
            log,
            metrics,
            turns: Turns::default(),
            appended: None,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }

    /// Refuses commands whose events' payloads would be larger than `bytes`.
    pub fn limiting_events_to(mut self, bytes: usize) -> CommandService<L> {
        self.max_event_bytes = bytes;
        self
    }

    /// Tells `follower` of every accepted command's events (the sagas in this process react to
    /// them at once instead of after their trip through Kafka). Only a shortcut: when the
    /// follower falls behind and the channel is full, it is not told, and nothing waits.
    pub fn telling_appends_to(mut self, follower: tokio::sync::mpsc::Sender<Appended>) -> CommandService<L> {
        self.appended = Some(follower);
        self
    }

    /// The worker a credential names, when the credential is in force: its agent exists, is
    /// not retired, and holds it.
    pub async fn worker(&self, credential: &str) -> Result<crate::Worker, CommandError> {
        crate::credentials::worker(&self.loader, credential).await
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
        // A worker's credential reports its agent's steps and does nothing else, whatever the
        // aggregate's own rules would let a caller with no role do.
        let report = matches!(&request.command, Command::Run(command) if command.from_a_worker());
        if matches!(caller.principal, Principal::Worker { .. }) && !report {
            return Err(CommandError::Rejected {
                kind: RejectionKind::Forbidden,
                code: "worker_reports_only",
                detail: format!(
                    "a worker credential only reports its agent's steps; `{}` needs a user's token",
                    request.command.command_type()
                ),
                version: 0,
            });
        }
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
        A: DecisionFacts,
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
            && let Some(answer) = answers::earlier_answer(&self.log, claim).await?
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
        A: DecisionFacts,
        A::Event: DomainEvent,
    {
        let stream_id = stream_id.to_owned();
        let ForCommand { own, observed_head, loaded } =
            self.loader.for_command::<A>(request.id, command, creating).await?;
        let Folded { state, version, last_position } = own;
        if let Some(expected) = request.expected_version
            && expected != version
        {
            return Err(CommandError::Conflict { current: version });
        }
        let facts = A::facts(request.id, command, &state, caller, &loaded);
        let context = CommandContext {
            aggregate_id: request.id,
            actor: caller.user_id.clone(),
            actor_email: caller.email.clone(),
            now: Utc::now(),
            new_id: Uuid::now_v7(),
            new_secret: NewSecret::from(random_secret),
            principal: caller.principal,
            max_event_bytes: self.max_event_bytes,
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
        // The caller hears back what it sent; the log only ever holds personal data sealed. A
        // secret the decision made is shown once, beside the events, never inside them.
        let issued_credential = new_events.iter().any(|event| event.event_type == "WorkerCredentialIssued");
        let webhook_secret = new_events.iter().find_map(|event| {
            let field = events::secret_fields(&event.event_type).first()?;
            event.payload.get(*field)?.as_str().map(str::to_owned)
        });
        let payloads: Vec<Value> = new_events
            .iter()
            .map(|event| {
                let mut payload = event.payload.clone();
                events::hide_secret_fields(&event.event_type, &mut payload);
                payload
            })
            .collect();
        self.log.seal(&mut new_events).await.map_err(CommandError::unavailable)?;
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
        let span = platform::db_span!("INSERT", "events", oxbow.stream = %stream_id, oxbow.events = new_events.len());
        let trace_context = platform::telemetry::traceparent_of(&span);
        let expected = if creating { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        let appended = self
            .log
            .append(AppendRequest {
                idempotency: claim,
                observed_head,
                trace_context,
                ..AppendRequest::to_stream(stream_id.clone(), expected, new_events)
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
            return answers::replayed(&self.log, &outcome).await;
        }
        if let Some(position) = outcome.last_position {
            let folded = Folded { state: after, version: outcome.stream_version, last_position: position };
            self.maybe_snapshot::<A>(&stream_id, version, &folded);
            self.loader.keep(&stream_id, folded);
        }
        // A decision that issued a credential asked for a secret: the caller sees it this once.
        let worker_credential = context
            .new_secret
            .made()
            .filter(|_| issued_credential)
            .map(|secret| commands::agents::worker_credential(request.id, context.new_id, secret));
        Ok(Accepted {
            worker_credential,
            webhook_secret,
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

    /// Snapshots a long stream every `SNAPSHOT_EVERY` events, in the background: a snapshot
    /// only saves reading, so failing to take one changes nothing.
    fn maybe_snapshot<A>(&self, stream_id: &str, before: i64, folded: &Folded<A::State>)
    where
        A: DecisionFacts,
    {
        if folded.version / SNAPSHOT_EVERY == before / SNAPSHOT_EVERY {
            return;
        }
        let snapshot = store::Snapshot {
            version: folded.version,
            last_position: folded.last_position,
            state: serde_json::to_value(&folded.state).expect("states serialize"),
        };
        let (log, stream_id) = (self.log.clone(), stream_id.to_owned());
        tokio::spawn(async move {
            if let Err(error) = log.save_snapshot(&stream_id, A::STATE_VERSION, &snapshot).await {
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
        A: DecisionFacts,
        A::Event: DomainEvent,
    {
        let history = match self.log.read_stream(stream_id, 0).await {
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
        self.log.used_idempotency_keys(&caller.user_id, keys).await.map_err(CommandError::unavailable)
    }
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

#[cfg(test)]
mod tests;
