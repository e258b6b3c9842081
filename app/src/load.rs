//! Loading a command's stream and everything its facts need, in as few round trips as the
//! states kept in memory allow.
//!
//! A command's own state and the states its facts come from are kept ([`States`]) or start from
//! a snapshot, and are brought up to date by one [`EventLog::load_streams`]: each stream's
//! events since its kept version, at one head. What the kept states name is asked for in that
//! same round trip (a kept workflow names the agents a run needs), so the common command reads
//! the log once; a need learnt only from what was read (a workflow not kept, or revised since)
//! costs one more.

use commands::Aggregate;
use commands::agents::Agent;
use commands::runs::{PriorRun, RunAggregate};
use commands::workflows::{Workflow, WorkflowState};
use commands::workspace::Workspace;
use events::runs::RunEvent;
use events::{DomainEvent, RecordedEvent};
use store::{EventLog, KeyStore};
use tracing::Instrument;
use uuid::Uuid;

use crate::error::CommandError;
use crate::facts::{DecisionFacts, Loaded, LoadedWorkflow, Missing, Needs};
use crate::states::{Folded, States};

/// Rounds of reads one command may take: its stream with what kept states name (and a retried
/// run), what that read named, a workflow's whole history for an old version, and its agents.
const MAX_ROUNDS: usize = 4;

/// A command's stream as loaded, with what its facts need.
pub(crate) struct ForCommand<S> {
    pub own: Folded<S>,
    /// The log's head as of the read of the own stream (`None`: it was not read, the command
    /// creates it), for the committer.
    pub observed_head: Option<i64>,
    pub loaded: Loaded,
}

/// Whether a stream's kept state may come from its snapshot when it is not kept in memory.
#[derive(Clone, Copy)]
enum Start {
    /// The kept state or the snapshot: for the command's own stream and workspaces, which grow.
    KeptOrSnapshot,
    /// The kept state or the beginning: for agents and workflows, which stay short.
    KeptOrEmpty,
}

#[derive(Clone)]
pub(crate) struct Loader<L> {
    log: L,
    states: States,
}

impl<L: EventLog + KeyStore> Loader<L> {
    pub fn new(log: L) -> Loader<L> {
        Loader { log, states: States::default() }
    }

    /// Keeps the state a command left its stream in, for the next command.
    pub fn keep<S: Send + Sync + 'static>(&self, stream_id: &str, folded: Folded<S>) {
        self.states.put(stream_id, folded);
    }

    /// The stream's current state, and the log's head as of that read.
    pub async fn current<A>(&self, stream_id: &str) -> Result<(Folded<A::State>, i64), CommandError>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        let kept = self.kept::<A>(stream_id, Start::KeptOrSnapshot).await;
        let (mut newer, head) = self
            .log
            .load_streams(&[(stream_id, kept.version)])
            .instrument(platform::db_span!("SELECT", "events"))
            .await
            .map_err(CommandError::unavailable)?;
        let folded = self.bring_up_to_date::<A>(stream_id, kept, newer.remove(stream_id).unwrap_or_default())?;
        Ok((folded, head))
    }

    /// The command's own stream (unless `creating`: then the empty state, unread) and
    /// everything its facts need.
    pub async fn for_command<A>(
        &self,
        id: Uuid,
        command: &A::Command,
        creating: bool,
    ) -> Result<ForCommand<A::State>, CommandError>
    where
        A: DecisionFacts,
        A::Event: DomainEvent,
    {
        let stream_id = A::stream_id(id);
        let empty = || Folded { state: A::State::default(), version: 0, last_position: 0 };
        let mut own = if creating { empty() } else { self.kept::<A>(&stream_id, Start::KeptOrSnapshot).await };
        let mut own_unread = !creating;
        let mut observed_head = None;
        let mut loaded = Loaded::default();
        for _ in 0..MAX_ROUNDS {
            let mut needs = A::needs(id, command, &own.state, &loaded);
            // What a kept workflow names (its agents) is read in the same round trip.
            if let Some(guess) = self.kept_workflow(&loaded.missing(&needs)) {
                let loaded_workflow = loaded.workflow.replace(guess);
                needs = needs.with(A::needs(id, command, &own.state, &loaded));
                loaded.workflow = loaded_workflow;
            }
            let missing = loaded.missing(&needs);
            if missing.is_empty() && !own_unread {
                break;
            }
            let own_stream = own_unread.then_some((stream_id.as_str(), own.version));
            let (newer_own, head) = self.read_round(own_stream, &missing, &mut loaded).await?;
            if own_unread {
                own = self.bring_up_to_date::<A>(&stream_id, own, newer_own)?;
                observed_head = Some(head);
                own_unread = false;
            }
        }
        let needs = A::needs(id, command, &own.state, &loaded);
        self.reveal(&needs, &mut loaded).await?;
        Ok(ForCommand { own, observed_head, loaded })
    }

    /// The workflow among `missing` as kept in memory: a guess at what the round's read will
    /// find, to learn what else to ask for in it. Nothing is read.
    fn kept_workflow(&self, missing: &[Missing]) -> Option<LoadedWorkflow> {
        missing.iter().find_map(|missing| match missing {
            Missing::Workflow(at) => {
                let kept = self.states.get::<WorkflowState>(&Workflow::stream_id(at.id))?;
                let chosen = chosen_at(at.version, &kept.state);
                Some(LoadedWorkflow { at: *at, current: kept.state, chosen, whole_history: false })
            }
            _ => None,
        })
    }

    /// One round trip: the own stream's newer events (when asked) and every missing stream,
    /// folded into `loaded`. Returns the own stream's newer events and the head.
    async fn read_round(
        &self,
        own: Option<(&str, i64)>,
        missing: &[Missing],
        loaded: &mut Loaded,
    ) -> Result<(Vec<RecordedEvent>, i64), CommandError> {
        let mut kept_workspace = None;
        let mut kept_workflow = None;
        let mut kept_agents = Vec::new();
        let mut prior_run = None;
        let mut wanted: Vec<(String, i64)> =
            own.iter().map(|(stream, version)| ((*stream).to_owned(), *version)).collect();
        for missing in missing {
            match *missing {
                Missing::Workspace(id) => {
                    let stream = Workspace::stream_id(id);
                    let kept = self.kept::<Workspace>(&stream, Start::KeptOrSnapshot).await;
                    wanted.push((stream, kept.version));
                    kept_workspace = Some((id, kept));
                }
                Missing::Workflow(at) => {
                    let stream = Workflow::stream_id(at.id);
                    let kept = self.kept::<Workflow>(&stream, Start::KeptOrEmpty).await;
                    wanted.push((stream, kept.version));
                    // Read from the beginning, it is the whole history.
                    let whole_history = kept.version == 0;
                    kept_workflow = Some((at, kept, whole_history));
                }
                Missing::WorkflowHistory(at) => {
                    wanted.push((Workflow::stream_id(at.id), 0));
                    kept_workflow =
                        Some((at, Folded { state: WorkflowState::default(), version: 0, last_position: 0 }, true));
                }
                Missing::Agent(id) => {
                    let stream = Agent::stream_id(id);
                    let kept = self.kept::<Agent>(&stream, Start::KeptOrEmpty).await;
                    wanted.push((stream, kept.version));
                    kept_agents.push((id, kept));
                }
                // Its whole history: what each step got and gave is in its events, not its state.
                Missing::PriorRun(id) => {
                    wanted.push((RunAggregate::stream_id(id), 0));
                    prior_run = Some(id);
                }
            }
        }
        let streams: Vec<(&str, i64)> = wanted.iter().map(|(stream, version)| (stream.as_str(), *version)).collect();
        let (mut newer, head) = self
            .log
            .load_streams(&streams)
            .instrument(platform::db_span!("SELECT", "events"))
            .await
            .map_err(CommandError::unavailable)?;
        let mut newer_of = |stream: &str| newer.remove(stream).unwrap_or_default();
        let newer_own = own.map(|(stream, _)| newer_of(stream)).unwrap_or_default();
        if let Some((id, kept)) = kept_workspace {
            let stream = Workspace::stream_id(id);
            let state = self.bring_up_to_date::<Workspace>(&stream, kept, newer_of(&stream))?.state;
            loaded.workspace = Some((id, state));
        }
        if let Some((at, kept, whole_history)) = kept_workflow {
            let stream = Workflow::stream_id(at.id);
            // The version asked for is the kept one, or one the newer events pass through.
            let mut chosen = chosen_at(at.version, &kept.state);
            let mut current = kept;
            for event in newer_of(&stream) {
                current = fold_newer::<Workflow>(current, std::slice::from_ref(&event))?;
                if at.version.is_none() || current.state.0.as_ref().is_some_and(|d| Some(d.version) == at.version) {
                    chosen = current.state.0.clone();
                }
            }
            self.states.put(&stream, current.clone());
            loaded.workflow = Some(LoadedWorkflow { at, current: current.state, chosen, whole_history });
        }
        if let Some(id) = prior_run {
            let history = newer_of(&RunAggregate::stream_id(id));
            let events: Vec<RunEvent> =
                history.iter().filter_map(|event| RunEvent::from_recorded(event).ok()).collect();
            loaded.prior_run = Some((id, PriorRun::from_history(id, &events)));
        }
        for (id, kept) in kept_agents {
            let stream = Agent::stream_id(id);
            let state = self.bring_up_to_date::<Agent>(&stream, kept, newer_of(&stream))?.state;
            loaded.agents.insert(id, state);
        }
        Ok((newer_own, head))
    }

    /// Reveals the sealed texts `needs` asks for, in one round trip.
    async fn reveal(&self, needs: &Needs, loaded: &mut Loaded) -> Result<(), CommandError> {
        let sealed: Vec<String> = loaded.unrevealed(needs).into_iter().cloned().collect();
        if sealed.is_empty() {
            return Ok(());
        }
        let mut plain = sealed.clone();
        self.log.reveal_texts(plain.iter_mut().collect()).await.map_err(CommandError::unavailable)?;
        loaded.revealed.extend(sealed.into_iter().zip(plain));
        Ok(())
    }

    /// The state kept of the stream, or where `start` says to begin: what the events since are
    /// folded onto.
    async fn kept<A>(&self, stream_id: &str, start: Start) -> Folded<A::State>
    where
        A: Aggregate,
    {
        if let Some(kept) = self.states.get::<A::State>(stream_id) {
            return kept;
        }
        let empty = Folded { state: A::State::default(), version: 0, last_position: 0 };
        if let Start::KeptOrEmpty = start {
            return empty;
        }
        match self.log.load_snapshot(stream_id, A::STATE_VERSION).await {
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
        if newer.is_empty() {
            return Ok(folded);
        }
        let folded = fold_newer::<A>(folded, &newer)?;
        self.states.put(stream_id, folded.clone());
        Ok(folded)
    }
}

/// `folded` with `newer` (the stream's events since) folded on.
fn fold_newer<A>(folded: Folded<A::State>, newer: &[RecordedEvent]) -> Result<Folded<A::State>, CommandError>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    let Some(last) = newer.last() else {
        return Ok(folded);
    };
    let (version, last_position) = (last.stream_version, last.position);
    Ok(Folded { state: fold_onto::<A>(folded.state, newer)?, version, last_position })
}

/// The definition `state` holds when it is at `version` (any version when `None`).
fn chosen_at(version: Option<u32>, state: &WorkflowState) -> Option<commands::workflows::Definition> {
    state.0.as_ref().filter(|definition| version.is_none_or(|version| version == definition.version)).cloned()
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
