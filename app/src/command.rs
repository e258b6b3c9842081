//! Commands as the service takes them: typed, addressed to an aggregate, from a caller.

use commands::agents::AgentCommand;
use commands::billing::BillingCommand;
use commands::runs::RunCommand;
use commands::workflows::WorkflowCommand;
use commands::workspace::WorkspaceCommand;
use commands::{FieldError, Principal};
use events::{AgentId, RunId, WorkflowId, WorkspaceId};
use serde_json::Value;
use uuid::Uuid;

/// Any command, by the aggregate that takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Workspace(WorkspaceCommand),
    Agent(AgentCommand),
    Workflow(WorkflowCommand),
    Billing(BillingCommand),
    Run(RunCommand),
}

impl Command {
    /// Reads `payload` as the command `command_type`. `None` when no aggregate takes that type;
    /// errors name the offending field by JSON pointer within the payload.
    pub fn parse(command_type: &str, payload: &Value) -> Option<Result<Command, FieldError>> {
        let parsed = WorkspaceCommand::parse(command_type, payload)
            .map(|parsed| parsed.map(Command::Workspace))
            .or_else(|| AgentCommand::parse(command_type, payload).map(|parsed| parsed.map(Command::Agent)))
            .or_else(|| WorkflowCommand::parse(command_type, payload).map(|parsed| parsed.map(Command::Workflow)))
            .or_else(|| BillingCommand::parse(command_type, payload).map(|parsed| parsed.map(Command::Billing)))
            .or_else(|| RunCommand::parse(command_type, payload).map(|parsed| parsed.map(Command::Run)))?;
        Some(parsed)
    }

    /// Checks the payload's fields, as [`Command::parse`] does.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Command::Workspace(command) => command.validate(),
            Command::Agent(command) => command.validate(),
            Command::Workflow(command) => command.validate(),
            Command::Billing(command) => command.validate(),
            Command::Run(command) => command.validate(),
        }
    }

    /// The type's wire name, e.g. `CaptureCredits`.
    pub fn command_type(&self) -> &'static str {
        match self {
            Command::Workspace(command) => command.command_type(),
            Command::Agent(command) => command.command_type(),
            Command::Workflow(command) => command.command_type(),
            Command::Billing(command) => command.command_type(),
            Command::Run(command) => command.command_type(),
        }
    }

    /// The payload as the command endpoint takes it.
    pub fn to_payload(&self) -> Value {
        match self {
            Command::Workspace(command) => command.to_payload(),
            Command::Agent(command) => command.to_payload(),
            Command::Workflow(command) => command.to_payload(),
            Command::Billing(command) => command.to_payload(),
            Command::Run(command) => command.to_payload(),
        }
    }
}

macro_rules! from_aggregate_commands {
    ($($command:ty => $variant:ident),+) => {
        $(impl From<$command> for Command {
            fn from(command: $command) -> Command {
                Command::$variant(command)
            }
        })+
    };
}

from_aggregate_commands!(
    WorkspaceCommand => Workspace,
    AgentCommand => Agent,
    WorkflowCommand => Workflow,
    BillingCommand => Billing,
    RunCommand => Run
);

/// A command addressed to its aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    /// The aggregate's id (a workspace's billing account has the workspace's).
    pub id: Uuid,
    /// Decide only on this version of the stream; a stale one is a conflict.
    pub expected_version: Option<i64>,
    pub command: Command,
    /// The payload as the caller sent it, which an idempotency key's request hash covers.
    pub payload: Value,
}

/// Typed commands, each to its aggregate's kind of id, decided on whatever version the stream
/// is at.
impl CommandRequest {
    pub fn workspace(id: WorkspaceId, command: WorkspaceCommand) -> CommandRequest {
        CommandRequest::typed(id.uuid(), Command::Workspace(command))
    }

    /// To the workspace's billing account, which has the workspace's id.
    pub fn billing(id: WorkspaceId, command: BillingCommand) -> CommandRequest {
        CommandRequest::typed(id.uuid(), Command::Billing(command))
    }

    pub fn agent(id: AgentId, command: AgentCommand) -> CommandRequest {
        CommandRequest::typed(id.uuid(), Command::Agent(command))
    }

    pub fn workflow(id: WorkflowId, command: WorkflowCommand) -> CommandRequest {
        CommandRequest::typed(id.uuid(), Command::Workflow(command))
    }

    pub fn run(id: RunId, command: RunCommand) -> CommandRequest {
        CommandRequest::typed(id.uuid(), Command::Run(command))
    }

    fn typed(id: Uuid, command: Command) -> CommandRequest {
        CommandRequest { id, expected_version: None, payload: command.to_payload(), command }
    }
}

/// Who sends the command: a person or worker, from their token or credential, the platform's
/// staff or payment provider, or one of Oxbow's sagas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub email: Option<String>,
    pub principal: Principal,
}

impl Caller {
    pub fn user(user_id: impl Into<String>, email: Option<String>) -> Caller {
        Caller { user_id: user_id.into(), email, principal: Principal::User }
    }

    /// One of the platform's operators, by their token.
    pub fn operator(user_id: impl Into<String>, email: Option<String>) -> Caller {
        Caller { user_id: user_id.into(), email, principal: Principal::Operator }
    }

    /// A saga, named for the audit trail (`system:run-saga`).
    pub fn saga(name: &str) -> Caller {
        Caller { user_id: format!("system:{name}"), email: None, principal: Principal::Saga }
    }

    /// The payment provider, by a webhook whose signature checked out.
    pub fn payments() -> Caller {
        Caller { user_id: "system:payments".into(), email: None, principal: Principal::Payments }
    }

    /// An agent's worker, by the credential `credential_id` issued for it.
    pub fn worker(agent_id: Uuid, workspace_id: Uuid, credential_id: Uuid) -> Caller {
        Caller {
            user_id: format!("worker:{credential_id}"),
            email: None,
            principal: Principal::Worker { agent_id, workspace_id },
        }
    }
}
