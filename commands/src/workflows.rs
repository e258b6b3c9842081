//! The Workflow aggregate: a versioned DAG of steps, each an agent's or one a person or an outside
//! system answers (approvals and signals). Admins define, revise and archive workflows; a
//! definition is refused when it has a cycle, an unknown dependency, a duplicate step id, an
//! unknown or retired agent, or more than [`MAX_STEPS`] steps.

use std::collections::{BTreeMap, HashMap, HashSet};

use events::template::{self, Reference, Source};
use events::workflows::{Step, StepKind, WorkflowArchived, WorkflowDefined, WorkflowEvent, WorkflowRevised};
use events::workspace::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Access;
use crate::{
    Aggregate, CommandContext, Decider, FieldError, Rejection, RejectionKind, Validate, command_enum, validate,
};

pub const MAX_STEPS: usize = 100;
pub const MAX_ATTEMPTS: u32 = 10;
pub const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;
/// The longest an approval or a signal may be waited for: 30 days.
pub const MAX_WAIT_MS: u64 = 30 * 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineWorkflow {
    pub workspace_id: Uuid,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(length(min = 1, max = MAX_STEPS))]
    pub steps: Vec<Step>,
    /// What a run produces, a template over `run.input` and `steps.<id>.output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

/// A new version: the whole new definition (the name stays when absent, and so does nothing
/// else: an absent `output` means none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseWorkflow {
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    #[schemars(length(min = 1, max = MAX_STEPS))]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveWorkflow {}

command_enum! {
    /// Every command the Workflow aggregate takes.
    pub enum WorkflowCommand {
        DefineWorkflow,
        ReviseWorkflow,
        ArchiveWorkflow,
    }
}

fn validate_steps(steps: &[Step]) -> Result<(), FieldError> {
    for (index, step) in steps.iter().enumerate() {
        let at = |field: &str| format!("/steps/{index}/{field}");
        if step.id.is_empty() || step.id.len() > 100 {
            return Err(FieldError::new(&at("id"), "must be 1 to 100 characters"));
        }
        if step.retry.max_attempts == 0 || step.retry.max_attempts > MAX_ATTEMPTS {
            return Err(FieldError::new(&at("retry/max_attempts"), format!("must be 1 to {MAX_ATTEMPTS}")));
        }
        if step.retry.backoff_ms > MAX_TIMEOUT_MS {
            return Err(FieldError::new(&at("retry/backoff_ms"), format!("must be at most {MAX_TIMEOUT_MS}")));
        }
        let longest = if step.kind.waits() { MAX_WAIT_MS } else { MAX_TIMEOUT_MS };
        if step.timeout_ms == Some(0) || step.timeout_ms() > longest {
            return Err(FieldError::new(&at("timeout_ms"), format!("must be 1 to {longest}")));
        }
        validate_kind(step, &at)?;
        if !step.input.is_object() {
            return Err(FieldError::new(&at("input"), "must be a JSON object"));
        }
        validate::json(&at("input"), &step.input)?;
        templates(&step.input, &at("input"))?;
    }
    Ok(())
}

/// The fields a step's kind needs, and none that another kind's.
fn validate_kind(step: &Step, at: &dyn Fn(&str) -> String) -> Result<(), FieldError> {
    let absent = |field: &str, present: bool| match present {
        true => Err(FieldError::new(&at(field), format!("is not a field of {} steps", step.kind.as_str()))),
        false => Ok(()),
    };
    let a_role = |field: &str, role: Option<Role>| match role {
        Some(Role::Viewer) => Err(FieldError::new(&at(field), "must be member, admin or owner")),
        _ => Ok(()),
    };
    match step.kind {
        StepKind::Agent => {
            if step.agent_id.is_none() {
                return Err(FieldError::new(&at("agent_id"), "an agent step names its agent"));
            }
            absent("approvers", step.approvers.is_some())?;
            absent("signalers", step.signalers.is_some())?;
            absent("signal_agent_id", step.signal_agent_id.is_some())
        }
        StepKind::Approval | StepKind::Signal => {
            absent("agent_id", step.agent_id.is_some())?;
            if step.retry.max_attempts != 1 {
                return Err(FieldError::new(&at("retry/max_attempts"), "a step a person answers is not retried"));
            }
            if step.kind == StepKind::Approval {
                absent("signalers", step.signalers.is_some())?;
                absent("signal_agent_id", step.signal_agent_id.is_some())?;
                a_role("approvers", step.approvers)
            } else {
                absent("approvers", step.approvers.is_some())?;
                a_role("signalers", step.signalers)
            }
        }
    }
}

/// The steps as a definition records them: each with the time it is given, its kind's default
/// when it named none.
fn with_timeouts(steps: &[Step]) -> Vec<Step> {
    steps.iter().map(|step| Step { timeout_ms: Some(step.timeout_ms()), ..step.clone() }).collect()
}

/// The references of a template, or the field of its first string that is not a template.
fn templates(value: &serde_json::Value, pointer: &str) -> Result<Vec<Reference>, FieldError> {
    template::references(value, pointer).map_err(|(field, error)| FieldError::template(&field, &error))
}

fn validate_output(output: Option<&serde_json::Value>) -> Result<(), FieldError> {
    if let Some(output) = output {
        validate::json("/output", output)?;
        templates(output, "/output")?;
    }
    Ok(())
}

impl Validate for DefineWorkflow {
    fn validate(&self) -> Result<(), FieldError> {
        validate::name("/name", &self.name)?;
        validate_steps(&self.steps)?;
        validate_output(self.output.as_ref())
    }
}

impl Validate for ReviseWorkflow {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(name) = &self.name {
            validate::name("/name", name)?;
        }
        validate_steps(&self.steps)?;
        validate_output(self.output.as_ref())
    }
}

impl Validate for ArchiveWorkflow {}

/// What the workflow's decisions need to know of the agents its steps name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentFacts {
    pub workspace_id: Uuid,
    pub retired: bool,
    /// Whether its steps are carried out by its own worker.
    pub external: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowFacts {
    pub access: Access,
    /// Every agent the command's steps name that exists; absent ones are unknown.
    pub agents: BTreeMap<Uuid, AgentFacts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub workspace_id: Uuid,
    pub version: u32,
    pub name: String,
    pub steps: Vec<Step>,
    pub output: Option<serde_json::Value>,
    pub archived: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowState(pub Option<Definition>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("no workflow has this id")]
    NotFound,
    #[error("a workflow with this id exists already")]
    AlreadyExists,
    #[error("the caller is not a member of this workspace")]
    NotAMember,
    #[error("managing workflows needs the {} role or higher", required.as_str())]
    RoleTooLow { required: Role },
    #[error("the workflow is archived")]
    Archived,
    #[error("a workflow needs at least one step")]
    NoSteps,
    #[error("a workflow has at most {MAX_STEPS} steps, not {count}")]
    TooManySteps { count: usize },
    #[error("step id `{step}` is used twice")]
    DuplicateStepId { step: String },
    #[error("step `{step}` depends on `{dependency}`, which is not a step of this workflow")]
    UnknownDependency { step: String, dependency: String },
    #[error("the steps {steps:?} depend on each other in a cycle")]
    Cycle { steps: Vec<String> },
    #[error("step `{step}` names agent {agent_id}, which this workspace does not have")]
    UnknownAgent { step: String, agent_id: Uuid },
    #[error("step `{step}` names agent {agent_id}, which is retired")]
    RetiredAgent { step: String, agent_id: Uuid },
    /// A signal's agent sends it through its worker: only an external agent has one.
    #[error("step `{step}` names agent {agent_id} to signal it, which is not an external agent")]
    AgentNotExternal { step: String, agent_id: Uuid },
    /// A template reads `run.input` and the outputs of steps that ran before: a step's
    /// ancestors, or any step for the workflow's output.
    #[error("{place} references `{reference}`, which is not the run's input nor the output of {}", match place.as_str() { "the output" => "a step of the workflow", _ => "a step it depends on" })]
    UnknownReference { place: String, reference: String },
}

crate::access::access_denied_into!(WorkflowError);

impl Rejection for WorkflowError {
    fn kind(&self) -> RejectionKind {
        use WorkflowError::*;
        match self {
            NotFound => RejectionKind::NotFound,
            AlreadyExists => RejectionKind::AlreadyExists,
            NotAMember | RoleTooLow { .. } => RejectionKind::Forbidden,
            _ => RejectionKind::RuleViolated,
        }
    }

    fn code(&self) -> &'static str {
        use WorkflowError::*;
        match self {
            NotFound => "workflow_not_found",
            AlreadyExists => "workflow_exists",
            NotAMember => "not_a_member",
            RoleTooLow { .. } => "role_too_low",
            Archived => "workflow_archived",
            NoSteps => "no_steps",
            TooManySteps { .. } => "too_many_steps",
            DuplicateStepId { .. } => "duplicate_step_id",
            UnknownDependency { .. } => "unknown_dependency",
            Cycle { .. } => "cycle",
            UnknownAgent { .. } => "unknown_agent",
            RetiredAgent { .. } => "retired_agent",
            AgentNotExternal { .. } => "agent_not_external",
            UnknownReference { .. } => "unknown_reference",
        }
    }
}

/// Checks that every template reads only what will have run: a step's input its ancestors'
/// outputs, the workflow's output any step's. Run on a DAG (see [`check_dag`]).
pub fn check_references(steps: &[Step], output: Option<&serde_json::Value>) -> Result<(), WorkflowError> {
    let by_id: HashMap<&str, &Step> = steps.iter().map(|step| (step.id.as_str(), step)).collect();
    let ancestors = |id: &str| {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> =
            by_id.get(id).map_or_else(Vec::new, |s| s.depends_on.iter().map(String::as_str).collect());
        while let Some(next) = stack.pop() {
            if seen.insert(next) {
                stack.extend(by_id.get(next).into_iter().flat_map(|s| s.depends_on.iter().map(String::as_str)));
            }
        }
        seen
    };
    let reads = |value: &serde_json::Value| template::references(value, "").unwrap_or_default();
    for step in steps {
        let allowed = ancestors(&step.id);
        for reference in reads(&step.input) {
            if let Source::StepOutput(id) = &reference.source
                && !allowed.contains(id.as_str())
            {
                let place = format!("step `{}`", step.id);
                return Err(WorkflowError::UnknownReference { place, reference: reference.text });
            }
        }
    }
    for reference in output.map(reads).unwrap_or_default() {
        if let Source::StepOutput(id) = &reference.source
            && !by_id.contains_key(id.as_str())
        {
            return Err(WorkflowError::UnknownReference { place: "the output".into(), reference: reference.text });
        }
    }
    Ok(())
}

/// Checks that `steps` form a DAG of this workspace's active agents.
pub fn check_dag(steps: &[Step], workspace_id: Uuid, agents: &BTreeMap<Uuid, AgentFacts>) -> Result<(), WorkflowError> {
    if steps.is_empty() {
        return Err(WorkflowError::NoSteps);
    }
    if steps.len() > MAX_STEPS {
        return Err(WorkflowError::TooManySteps { count: steps.len() });
    }
    let mut ids = HashSet::new();
    for step in steps {
        if !ids.insert(step.id.as_str()) {
            return Err(WorkflowError::DuplicateStepId { step: step.id.clone() });
        }
    }
    for step in steps {
        for dependency in &step.depends_on {
            if !ids.contains(dependency.as_str()) {
                return Err(WorkflowError::UnknownDependency { step: step.id.clone(), dependency: dependency.clone() });
            }
        }
        // The agent that does the step, or the one whose worker signals it.
        let named = [(step.agent_id, false), (step.signal_agent_id, true)];
        for (agent_id, signals) in named.into_iter().filter_map(|(id, signals)| Some((id?, signals))) {
            let step = step.id.clone();
            match agents.get(&agent_id) {
                Some(agent) if agent.workspace_id == workspace_id && agent.retired => {
                    return Err(WorkflowError::RetiredAgent { step, agent_id });
                }
                Some(agent) if agent.workspace_id == workspace_id => {
                    if signals && !agent.external {
                        return Err(WorkflowError::AgentNotExternal { step, agent_id });
                    }
                }
                _ => return Err(WorkflowError::UnknownAgent { step, agent_id }),
            }
        }
    }
    // Kahn's algorithm: whatever cannot be ordered is on or behind a cycle.
    let mut waiting_on: HashMap<&str, usize> = steps.iter().map(|s| (s.id.as_str(), s.depends_on.len())).collect();
    let mut ready: Vec<&str> = steps.iter().filter(|s| s.depends_on.is_empty()).map(|s| s.id.as_str()).collect();
    let mut ordered = 0;
    while let Some(done) = ready.pop() {
        ordered += 1;
        for step in steps.iter().filter(|s| s.depends_on.iter().any(|d| d == done)) {
            let count = waiting_on.get_mut(step.id.as_str()).expect("every step is counted");
            *count -= step.depends_on.iter().filter(|d| *d == done).count();
            if *count == 0 {
                ready.push(step.id.as_str());
            }
        }
    }
    if ordered < steps.len() {
        let mut cycle: Vec<String> =
            waiting_on.into_iter().filter(|(_, count)| *count > 0).map(|(id, _)| id.to_owned()).collect();
        cycle.sort();
        return Err(WorkflowError::Cycle { steps: cycle });
    }
    Ok(())
}

pub struct Workflow;

impl Decider for Workflow {
    type Command = WorkflowCommand;
    type Event = WorkflowEvent;
    type State = WorkflowState;
    type Facts = WorkflowFacts;
    type Error = WorkflowError;

    fn decide(
        command: &WorkflowCommand,
        state: &WorkflowState,
        facts: &WorkflowFacts,
        context: &CommandContext,
    ) -> Result<Vec<WorkflowEvent>, WorkflowError> {
        if let WorkflowCommand::DefineWorkflow(command) = command {
            if state.0.is_some() {
                return Err(WorkflowError::AlreadyExists);
            }
            facts.access.require(Role::Admin)?;
            check_dag(&command.steps, command.workspace_id, &facts.agents)?;
            check_references(&command.steps, command.output.as_ref())?;
            return Ok(vec![
                WorkflowDefined {
                    workflow_id: context.aggregate_id,
                    workspace_id: command.workspace_id,
                    name: command.name.trim().to_owned(),
                    steps: with_timeouts(&command.steps),
                    output: command.output.clone(),
                }
                .into(),
            ]);
        }
        let workflow = state.0.as_ref().ok_or(WorkflowError::NotFound)?;
        facts.access.require(Role::Admin)?;
        if workflow.archived {
            return Err(WorkflowError::Archived);
        }
        match command {
            WorkflowCommand::DefineWorkflow(_) => unreachable!("handled above"),
            WorkflowCommand::ReviseWorkflow(revision) => {
                check_dag(&revision.steps, workflow.workspace_id, &facts.agents)?;
                check_references(&revision.steps, revision.output.as_ref())?;
                let name = revision.name.as_deref().map_or(workflow.name.clone(), |name| name.trim().to_owned());
                let steps = with_timeouts(&revision.steps);
                if name == workflow.name && steps == workflow.steps && revision.output == workflow.output {
                    return Ok(Vec::new());
                }
                let output = revision.output.clone();
                Ok(vec![WorkflowRevised { version: workflow.version + 1, name, steps, output }.into()])
            }
            WorkflowCommand::ArchiveWorkflow(_) => Ok(vec![WorkflowArchived {}.into()]),
        }
    }

    fn evolve(state: WorkflowState, event: &WorkflowEvent) -> WorkflowState {
        let definition = match (state.0, event) {
            (_, WorkflowEvent::WorkflowDefined(e)) => Definition {
                workspace_id: e.workspace_id,
                version: 1,
                name: e.name.clone(),
                steps: e.steps.clone(),
                output: e.output.clone(),
                archived: false,
            },
            (Some(current), WorkflowEvent::WorkflowRevised(e)) => Definition {
                version: e.version,
                name: e.name.clone(),
                steps: e.steps.clone(),
                output: e.output.clone(),
                ..current
            },
            (Some(current), WorkflowEvent::WorkflowArchived(_)) => Definition { archived: true, ..current },
            (None, _) => return WorkflowState(None),
        };
        WorkflowState(Some(definition))
    }
}

impl Aggregate for Workflow {
    const CATEGORY: events::Category = events::Category::Workflow;
    /// 2: inputs are templates (a state folded from version 1 events before their upcaster
    /// holds them unescaped), and a definition has an output.
    const STATE_VERSION: i32 = 2;

    fn workspace_id(_id: Uuid, state: &WorkflowState) -> Option<Uuid> {
        state.0.as_ref().map(|workflow| workflow.workspace_id)
    }

    fn creates(command: &WorkflowCommand) -> bool {
        matches!(command, WorkflowCommand::DefineWorkflow(_))
    }
}

#[cfg(test)]
mod tests;
