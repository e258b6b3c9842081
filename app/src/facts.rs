//! What each aggregate's decisions need beyond its own stream, looked up before deciding: the
//! caller's standing in the workspace (from the workspace's own events), the agents a workflow
//! names, the workflow version a run follows.

use std::collections::BTreeMap;

use commands::access::Access;
use commands::agents::{Agent, AgentCommand};
use commands::billing::{Billing, BillingCommand};
use commands::runs::{RunAggregate, RunCommand, RunFacts, WorkflowSnapshot};
use commands::workflows::{AgentFacts, Workflow, WorkflowCommand, WorkflowFacts};
use commands::workspace::{Invitees, Workspace, WorkspaceCommand};
use commands::{Aggregate, Principal};
use events::DomainEvent;
use uuid::Uuid;

use crate::command::Caller;
use crate::error::CommandError;
use crate::service::{CommandService, fold};

/// A workspace's current state, read together with a command's own stream.
pub(crate) struct WorkspaceRead {
    pub id: Uuid,
    pub state: <Workspace as commands::Decider>::State,
}

/// How the command service looks up what an aggregate's decisions need beyond its stream.
pub(crate) trait LoadFacts: Aggregate {
    /// The workspace whose standing the command's facts need, as the command and `state` tell.
    /// Asked of the kept state before the stream is read, so that the workspace is read in the
    /// same round trip, and of the current state for the facts: a kept state that named another
    /// (or none) costs only a read of its own.
    fn workspace_of(_id: Uuid, _command: &Self::Command, _state: &Self::State) -> Option<Uuid> {
        None
    }

    /// `workspace`: read with the stream, when [`Self::workspace_of`] named one.
    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        command: &Self::Command,
        state: &Self::State,
        caller: &Caller,
        workspace: Option<&WorkspaceRead>,
    ) -> Result<Self::Facts, CommandError>;
}

impl LoadFacts for Workspace {
    /// The open invitations' emails, revealed, for the commands that compare them.
    async fn load_facts(
        service: &CommandService,
        _id: Uuid,
        command: &WorkspaceCommand,
        state: &<Workspace as commands::Decider>::State,
        _caller: &Caller,
        _workspace: Option<&WorkspaceRead>,
    ) -> Result<Invitees, CommandError> {
        if !matches!(command, WorkspaceCommand::InviteMember(_) | WorkspaceCommand::AcceptInvitation(_)) {
            return Ok(Invitees::new());
        }
        let mut invitees: Invitees = state
            .invitations
            .iter()
            .filter(|(_, invitation)| !invitation.accepted)
            .map(|(id, invitation)| (*id, invitation.email.clone()))
            .collect();
        store::personal::reveal_texts(service.store.pool(), invitees.values_mut().collect())
            .await
            .map_err(CommandError::unavailable)?;
        Ok(invitees)
    }
}

impl LoadFacts for Agent {
    fn workspace_of(_id: Uuid, command: &AgentCommand, state: &<Agent as commands::Decider>::State) -> Option<Uuid> {
        match (&state.0, command) {
            (Some(agent), _) => Some(agent.workspace_id),
            (None, AgentCommand::RegisterAgent(register)) => Some(register.workspace_id),
            (None, _) => None,
        }
    }

    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        command: &AgentCommand,
        state: &<Agent as commands::Decider>::State,
        caller: &Caller,
        workspace: Option<&WorkspaceRead>,
    ) -> Result<Access, CommandError> {
        service.access(Self::workspace_of(id, command, state), caller, workspace).await
    }
}

impl LoadFacts for Billing {
    /// A workspace's billing account has the workspace's id.
    fn workspace_of(
        id: Uuid,
        _command: &BillingCommand,
        _state: &<Billing as commands::Decider>::State,
    ) -> Option<Uuid> {
        Some(id)
    }

    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        command: &BillingCommand,
        state: &<Billing as commands::Decider>::State,
        caller: &Caller,
        workspace: Option<&WorkspaceRead>,
    ) -> Result<Access, CommandError> {
        service.access(Self::workspace_of(id, command, state), caller, workspace).await
    }
}

impl LoadFacts for RunAggregate {
    /// The run's, or the one a `StartRun` names.
    fn workspace_of(
        _id: Uuid,
        command: &RunCommand,
        state: &<RunAggregate as commands::Decider>::State,
    ) -> Option<Uuid> {
        match (&state.0, command) {
            (Some(run), _) => Some(run.workspace_id),
            (None, RunCommand::StartRun(start)) => Some(start.workspace_id),
            (None, _) => None,
        }
    }

    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        command: &RunCommand,
        state: &<RunAggregate as commands::Decider>::State,
        caller: &Caller,
        workspace: Option<&WorkspaceRead>,
    ) -> Result<RunFacts, CommandError> {
        let access = service.access(Self::workspace_of(id, command, state), caller, workspace).await?;
        let workflow = match command {
            RunCommand::StartRun(start) => service.workflow_snapshot(start.workflow_id, start.workflow_version).await?,
            _ => None,
        };
        Ok(RunFacts { access, workflow })
    }
}

impl LoadFacts for Workflow {
    fn workspace_of(
        _id: Uuid,
        command: &WorkflowCommand,
        state: &<Workflow as commands::Decider>::State,
    ) -> Option<Uuid> {
        match (&state.0, command) {
            (Some(workflow), _) => Some(workflow.workspace_id),
            (None, WorkflowCommand::DefineWorkflow(define)) => Some(define.workspace_id),
            (None, _) => None,
        }
    }

    async fn load_facts(
        service: &CommandService,
        id: Uuid,
        command: &WorkflowCommand,
        state: &<Workflow as commands::Decider>::State,
        caller: &Caller,
        workspace: Option<&WorkspaceRead>,
    ) -> Result<WorkflowFacts, CommandError> {
        // The agents a revision or a new workflow's definition names.
        let steps = match command {
            WorkflowCommand::ReviseWorkflow(revise) if state.0.is_some() => &revise.steps[..],
            WorkflowCommand::DefineWorkflow(define) if state.0.is_none() => &define.steps[..],
            _ => &[][..],
        };
        let access = service.access(Self::workspace_of(id, command, state), caller, workspace).await?;
        let agents = service
            .agents(steps.iter().map(|step| step.agent_id))
            .await?
            .into_iter()
            .map(|(id, agent)| (id, AgentFacts { workspace_id: agent.workspace_id, retired: agent.retired }))
            .collect();
        Ok(WorkflowFacts { access, agents })
    }
}

impl CommandService {
    /// The worker a credential names, when the credential is in force: its agent exists, is
    /// not retired, and holds it (read from the agent's stream, so a revocation made by any
    /// process counts at once).
    pub async fn worker(&self, credential: &str) -> Result<Option<Caller>, CommandError> {
        let Some((agent_id, credential_id, secret)) = commands::agents::parse_worker_credential(credential) else {
            return Ok(None);
        };
        let (folded, _) = self.current::<Agent>(&Agent::stream_id(agent_id)).await?;
        Ok(folded
            .state
            .0
            .filter(|agent| agent.accepts(credential_id, secret))
            .map(|agent| Caller::worker(agent_id, agent.workspace_id, credential_id)))
    }

    /// The caller's standing in `workspace_id`, from the workspace's own events.
    /// `read`: the workspace's state if it was read with the command's stream already.
    pub(crate) async fn access(
        &self,
        workspace_id: Option<Uuid>,
        caller: &Caller,
        read: Option<&WorkspaceRead>,
    ) -> Result<Access, CommandError> {
        let Some(workspace_id) = workspace_id else {
            return Ok(Access::default());
        };
        let current;
        let workspace = match read {
            Some(read) if read.id == workspace_id => &read.state,
            _ => {
                current = self.current::<Workspace>(&Workspace::stream_id(workspace_id)).await?.0.state;
                &current
            }
        };
        let role = match caller.principal {
            Principal::Saga if workspace.created => Some(events::workspace::Role::Owner),
            // An operator keeps whatever role they have as a person.
            Principal::User | Principal::Operator => workspace.role_of(&caller.user_id),
            // The payment provider and workers are no workspace's members.
            _ => None,
        };
        Ok(Access { role, suspended: workspace.suspended })
    }

    /// The current definitions of the agents that exist among `ids`, read in one query.
    pub(crate) async fn agents(
        &self,
        ids: impl Iterator<Item = Uuid>,
    ) -> Result<BTreeMap<Uuid, commands::agents::Definition>, CommandError> {
        let mut streams: Vec<String> = ids.map(Agent::stream_id).collect();
        streams.sort_unstable();
        streams.dedup();
        let history = store::read_streams(self.store.pool(), &streams).await.map_err(CommandError::unavailable)?;
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
    pub(crate) async fn workflow_snapshot(
        &self,
        workflow_id: Uuid,
        version: Option<u32>,
    ) -> Result<Option<WorkflowSnapshot>, CommandError> {
        let history = store::read_stream(self.store.pool(), &Workflow::stream_id(workflow_id), 0)
            .await
            .map_err(CommandError::unavailable)?;
        let mut state = <Workflow as commands::Decider>::State::default();
        let mut chosen = None;
        for recorded in &history {
            let event = events::workflows::WorkflowEvent::from_recorded(recorded).map_err(|error| {
                tracing::error!(%error, position = recorded.position, "a stored event cannot be read");
                CommandError::Unavailable("a stored event of this workflow cannot be read".into())
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
}
