//! What each aggregate's decisions need beyond its own stream, and the facts made from it.
//!
//! Pure, as the deciders are. An aggregate says what it [`needs`](DecisionFacts::needs) as
//! data (the workspace whose standing the caller's access comes from, the workflow version a
//! run follows, the agents a definition names, the sealed texts of its own state to reveal);
//! `load` reads all of it in one round trip where it can; [`facts`](DecisionFacts::facts)
//! turns what was [`Loaded`] into the decider's `Facts`. A need may depend on what was loaded
//! (the agents of a workflow), so `needs` sees what is loaded so far.

use std::collections::{BTreeMap, HashMap};

use commands::access::Access;
use commands::agents::{Agent, AgentCommand, AgentState};
use commands::billing::{Billing, BillingCommand};
use commands::runs::{PriorRun, RunAggregate, RunCommand, RunFacts, WorkflowSnapshot};
use commands::workflows::{AgentFacts, Definition, Workflow, WorkflowCommand, WorkflowFacts, WorkflowState};
use commands::workspace::{Invitees, Workspace, WorkspaceCommand};
use commands::{Aggregate, Decider, Principal};
use uuid::Uuid;

use crate::command::Caller;

pub(crate) type WorkspaceState = <Workspace as Decider>::State;

/// A workflow at a version: `None`, the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkflowAt {
    pub id: Uuid,
    pub version: Option<u32>,
}

/// What a decision needs from outside its own stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The workspace whose events give the caller's standing.
    pub workspace: Option<Uuid>,
    /// The workflow version a run follows.
    pub workflow: Option<WorkflowAt>,
    /// The agents a definition names.
    pub agents: Vec<Uuid>,
    /// Sealed texts of the command's own state to reveal (the open invitations' emails).
    pub revealed: Vec<String>,
    /// The run a retry retries, with its whole history.
    pub prior_run: Option<Uuid>,
}

impl Needs {
    /// Everything either asks for (`other`'s workspace and workflow where this names none).
    pub fn with(mut self, other: Needs) -> Needs {
        self.workspace = self.workspace.or(other.workspace);
        self.workflow = self.workflow.or(other.workflow);
        self.prior_run = self.prior_run.or(other.prior_run);
        for agent in other.agents {
            if !self.agents.contains(&agent) {
                self.agents.push(agent);
            }
        }
        for text in other.revealed {
            if !self.revealed.contains(&text) {
                self.revealed.push(text);
            }
        }
        self
    }
}

/// A workflow as loaded for a run: its current state, and its definition at the version asked
/// for (`None` when that version does not exist, or was not among the events read).
#[derive(Debug, Clone)]
pub(crate) struct LoadedWorkflow {
    pub at: WorkflowAt,
    pub current: WorkflowState,
    pub chosen: Option<Definition>,
    /// Whether every event of the workflow was read, so a version not found does not exist.
    pub whole_history: bool,
}

/// What was loaded for a decision, each up to date as of its read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loaded {
    pub workspace: Option<(Uuid, WorkspaceState)>,
    pub workflow: Option<LoadedWorkflow>,
    /// Every agent asked for, including those that do not exist.
    pub agents: BTreeMap<Uuid, AgentState>,
    /// Sealed text → what it reveals (or `[erased]`).
    pub revealed: HashMap<String, String>,
    /// The run a retry retries, as read: `None` inside when it was never requested.
    pub prior_run: Option<(Uuid, Option<PriorRun>)>,
}

/// A stream a decision's needs ask for that is not loaded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    Workspace(Uuid),
    Workflow(WorkflowAt),
    /// The workflow's whole history, for a version older than the kept state knows.
    WorkflowHistory(WorkflowAt),
    Agent(Uuid),
    PriorRun(Uuid),
}

impl Loaded {
    /// The streams `needs` asks for that are not loaded.
    pub fn missing(&self, needs: &Needs) -> Vec<Missing> {
        let mut missing = Vec::new();
        if let Some(id) = needs.workspace
            && self.workspace.as_ref().is_none_or(|(loaded, _)| *loaded != id)
        {
            missing.push(Missing::Workspace(id));
        }
        if let Some(at) = needs.workflow {
            match &self.workflow {
                Some(loaded) if loaded.at == at => {
                    if loaded.chosen.is_none() && at.version.is_some() && !loaded.whole_history {
                        missing.push(Missing::WorkflowHistory(at));
                    }
                }
                _ => missing.push(Missing::Workflow(at)),
            }
        }
        if let Some(id) = needs.prior_run
            && self.prior_run.as_ref().is_none_or(|(loaded, _)| *loaded != id)
        {
            missing.push(Missing::PriorRun(id));
        }
        for id in &needs.agents {
            let agent = Missing::Agent(*id);
            if !self.agents.contains_key(id) && !missing.contains(&agent) {
                missing.push(agent);
            }
        }
        missing
    }

    /// The texts `needs` asks to reveal that are not revealed yet.
    pub fn unrevealed<'a>(&self, needs: &'a Needs) -> Vec<&'a String> {
        needs.revealed.iter().filter(|text| !self.revealed.contains_key(*text)).collect()
    }
}

/// How an aggregate's decisions learn what lies beyond their stream.
pub(crate) trait DecisionFacts: Aggregate {
    /// What deciding `command` on `state` needs, given what is `loaded` so far.
    fn needs(id: Uuid, command: &Self::Command, state: &Self::State, loaded: &Loaded) -> Needs;

    /// The decider's facts, from what was loaded for [`Self::needs`].
    fn facts(id: Uuid, command: &Self::Command, state: &Self::State, caller: &Caller, loaded: &Loaded) -> Self::Facts;
}

/// The caller's standing in `workspace_id`, from the workspace's own events as loaded.
pub(crate) fn access(workspace_id: Option<Uuid>, caller: &Caller, loaded: &Loaded) -> Access {
    let Some(workspace_id) = workspace_id else {
        return Access::default();
    };
    let Some((_, workspace)) = loaded.workspace.as_ref().filter(|(id, _)| *id == workspace_id) else {
        return Access::default();
    };
    let role = match caller.principal {
        Principal::Saga if workspace.created => Some(events::workspace::Role::Owner),
        // An operator keeps whatever role they have as a person.
        Principal::User | Principal::Operator => workspace.role_of(&caller.user_id),
        // The payment provider and workers are no workspace's members.
        _ => None,
    };
    Access { role, suspended: workspace.suspended }
}

impl DecisionFacts for Workspace {
    /// The open invitations' emails, for the commands that compare them.
    fn needs(_id: Uuid, command: &WorkspaceCommand, state: &WorkspaceState, _loaded: &Loaded) -> Needs {
        if !matches!(command, WorkspaceCommand::InviteMember(_) | WorkspaceCommand::AcceptInvitation(_)) {
            return Needs::default();
        }
        let open = state.invitations.values().filter(|invitation| !invitation.accepted);
        Needs { revealed: open.map(|invitation| invitation.email.clone()).collect(), ..Needs::default() }
    }

    fn facts(
        _id: Uuid,
        command: &WorkspaceCommand,
        state: &WorkspaceState,
        _caller: &Caller,
        loaded: &Loaded,
    ) -> Invitees {
        if !matches!(command, WorkspaceCommand::InviteMember(_) | WorkspaceCommand::AcceptInvitation(_)) {
            return Invitees::new();
        }
        state
            .invitations
            .iter()
            .filter(|(_, invitation)| !invitation.accepted)
            .map(|(id, invitation)| {
                let email = loaded.revealed.get(&invitation.email).unwrap_or(&invitation.email);
                (*id, email.clone())
            })
            .collect()
    }
}

impl DecisionFacts for Agent {
    fn needs(_id: Uuid, command: &AgentCommand, state: &AgentState, _loaded: &Loaded) -> Needs {
        let workspace = match (&state.0, command) {
            (Some(agent), _) => Some(agent.workspace_id),
            (None, AgentCommand::RegisterAgent(register)) => Some(register.workspace_id),
            (None, _) => None,
        };
        Needs { workspace, ..Needs::default() }
    }

    fn facts(id: Uuid, command: &AgentCommand, state: &AgentState, caller: &Caller, loaded: &Loaded) -> Access {
        access(Self::needs(id, command, state, loaded).workspace, caller, loaded)
    }
}

impl DecisionFacts for Billing {
    /// A workspace's billing account has the workspace's id.
    fn needs(id: Uuid, _command: &BillingCommand, _state: &<Billing as Decider>::State, _loaded: &Loaded) -> Needs {
        Needs { workspace: Some(id), ..Needs::default() }
    }

    fn facts(
        id: Uuid,
        _command: &BillingCommand,
        _state: &<Billing as Decider>::State,
        caller: &Caller,
        loaded: &Loaded,
    ) -> Access {
        access(Some(id), caller, loaded)
    }
}

impl DecisionFacts for RunAggregate {
    /// The run's workspace (or the one a `StartRun` names); for a `StartRun`, the workflow
    /// version and, once it is loaded, the agents its steps name.
    fn needs(_id: Uuid, command: &RunCommand, state: &<RunAggregate as Decider>::State, loaded: &Loaded) -> Needs {
        let (workspace, workflow, prior_run) = match (&state.0, command) {
            (Some(run), _) => (Some(run.workspace_id), None, None),
            (None, RunCommand::StartRun(start)) => {
                // A retry follows the version of the run it retries unless told otherwise: that
                // version is known once the run is read.
                let prior = loaded.prior_run.as_ref().filter(|(id, _)| Some(*id) == start.retry_of);
                let version = match (start.workflow_version, start.retry_of, prior) {
                    (Some(version), _, _) => Some(Some(version)),
                    (None, None, _) => Some(None),
                    (None, Some(_), Some((_, Some(prior)))) => Some(Some(prior.workflow_version)),
                    // Not read yet, or not there (the decision refuses it).
                    (None, Some(_), _) => None,
                };
                let at = version.map(|version| WorkflowAt { id: start.workflow_id, version });
                (Some(start.workspace_id), at, start.retry_of)
            }
            (None, _) => (None, None, None),
        };
        let chosen = workflow
            .and_then(|at| loaded.workflow.as_ref().filter(|loaded| loaded.at == at))
            .and_then(|loaded| loaded.chosen.as_ref());
        let mut agents: Vec<Uuid> =
            chosen.iter().flat_map(|definition| &definition.steps).filter_map(|step| step.agent_id).collect();
        agents.sort_unstable();
        agents.dedup();
        Needs { workspace, workflow, agents, prior_run, ..Needs::default() }
    }

    fn facts(
        id: Uuid,
        command: &RunCommand,
        state: &<RunAggregate as Decider>::State,
        caller: &Caller,
        loaded: &Loaded,
    ) -> RunFacts {
        let needs = Self::needs(id, command, state, loaded);
        RunFacts {
            access: access(needs.workspace, caller, loaded),
            workflow: needs.workflow.and_then(|at| workflow_snapshot(at, loaded)),
            prior: loaded
                .prior_run
                .as_ref()
                .filter(|(id, _)| Some(*id) == needs.prior_run)
                .and_then(|(_, run)| run.clone()),
        }
    }
}

/// A workflow version with its agents' executors and prices as they are now; `None` when the
/// workflow, that version or one of its agents does not exist.
fn workflow_snapshot(at: WorkflowAt, loaded: &Loaded) -> Option<WorkflowSnapshot> {
    let workflow = loaded.workflow.as_ref().filter(|loaded| loaded.at == at)?;
    let definition = workflow.chosen.as_ref()?;
    let mut steps = Vec::with_capacity(definition.steps.len());
    for step in &definition.steps {
        let agent = match step.agent_id {
            Some(agent_id) => Some(loaded.agents.get(&agent_id)?.0.as_ref()?),
            None => None,
        };
        steps.push(events::runs::PlannedStep {
            id: step.id.clone(),
            kind: step.kind,
            agent_id: step.agent_id,
            depends_on: step.depends_on.clone(),
            input: step.input.clone(),
            retry: step.retry,
            timeout_ms: step.timeout_ms(),
            executor: agent.map(|agent| agent.executor.clone()),
            price: agent.map(|agent| agent.price),
            approvers: step.approvers,
            signalers: step.signalers,
            signal_agent_id: step.signal_agent_id,
        });
    }
    Some(WorkflowSnapshot {
        workspace_id: definition.workspace_id,
        version: definition.version,
        archived: workflow.current.0.as_ref().is_some_and(|current| current.archived),
        steps,
        output: definition.output.clone(),
    })
}

impl DecisionFacts for Workflow {
    /// The workflow's workspace (or the one a definition names), and the agents a revision or
    /// a new workflow's definition names.
    fn needs(_id: Uuid, command: &WorkflowCommand, state: &WorkflowState, _loaded: &Loaded) -> Needs {
        let workspace = match (&state.0, command) {
            (Some(workflow), _) => Some(workflow.workspace_id),
            (None, WorkflowCommand::DefineWorkflow(define)) => Some(define.workspace_id),
            (None, _) => None,
        };
        let steps = match command {
            WorkflowCommand::ReviseWorkflow(revise) if state.0.is_some() => &revise.steps[..],
            WorkflowCommand::DefineWorkflow(define) if state.0.is_none() => &define.steps[..],
            _ => &[][..],
        };
        let mut agents: Vec<Uuid> =
            steps.iter().flat_map(|step| step.agent_id.into_iter().chain(step.signal_agent_id)).collect();
        agents.sort_unstable();
        agents.dedup();
        Needs { workspace, agents, ..Needs::default() }
    }

    fn facts(
        id: Uuid,
        command: &WorkflowCommand,
        state: &WorkflowState,
        caller: &Caller,
        loaded: &Loaded,
    ) -> WorkflowFacts {
        let needs = Self::needs(id, command, state, loaded);
        let agents = needs
            .agents
            .iter()
            .filter_map(|id| loaded.agents.get(id)?.0.as_ref())
            .map(|agent| {
                let external = agent.executor == events::agents::Executor::External;
                (agent.agent_id, AgentFacts { workspace_id: agent.workspace_id, retired: agent.retired, external })
            })
            .collect();
        WorkflowFacts { access: access(needs.workspace, caller, loaded), agents }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commands::runs::StartRun;

    fn start(version: Option<u32>) -> RunCommand {
        let payload = serde_json::json!({
            "workspace_id": Uuid::nil(), "workflow_id": Uuid::max(), "budget": 10,
            "workflow_version": version,
        });
        RunCommand::StartRun(serde_json::from_value::<StartRun>(payload).unwrap())
    }

    #[test]
    fn a_new_run_needs_its_workspace_and_workflow_then_the_agents_the_version_names() {
        let none = Default::default();
        let needs = RunAggregate::needs(Uuid::nil(), &start(Some(2)), &none, &Loaded::default());
        assert_eq!(needs.workspace, Some(Uuid::nil()));
        assert_eq!(needs.workflow, Some(WorkflowAt { id: Uuid::max(), version: Some(2) }));
        assert!(needs.agents.is_empty(), "the agents are known once the workflow is");
        let loaded = Loaded::default();
        assert_eq!(
            loaded.missing(&needs),
            [Missing::Workspace(Uuid::nil()), Missing::Workflow(WorkflowAt { id: Uuid::max(), version: Some(2) })]
        );
    }

    #[test]
    fn an_older_version_than_the_loaded_events_show_asks_for_the_whole_history_once() {
        let at = WorkflowAt { id: Uuid::max(), version: Some(1) };
        let needs = Needs { workflow: Some(at), ..Needs::default() };
        let mut loaded = Loaded {
            workflow: Some(LoadedWorkflow { at, current: Default::default(), chosen: None, whole_history: false }),
            ..Loaded::default()
        };
        assert_eq!(loaded.missing(&needs), [Missing::WorkflowHistory(at)]);
        loaded.workflow.as_mut().unwrap().whole_history = true;
        assert!(loaded.missing(&needs).is_empty(), "a version missing from the whole history does not exist");
    }

    #[test]
    fn a_saga_acts_as_an_owner_and_a_worker_as_no_member() {
        let workspace = Uuid::now_v7();
        let created = WorkspaceState { created: true, ..Default::default() };
        let loaded = Loaded { workspace: Some((workspace, created)), ..Loaded::default() };
        let saga = access(Some(workspace), &Caller::saga("run-saga"), &loaded);
        assert_eq!(saga.role, Some(events::workspace::Role::Owner));
        let worker = access(Some(workspace), &Caller::worker(Uuid::nil(), workspace, Uuid::nil()), &loaded);
        assert_eq!(worker.role, None);
        assert_eq!(access(Some(Uuid::max()), &Caller::saga("run-saga"), &loaded), Access::default(), "not loaded");
    }
}
