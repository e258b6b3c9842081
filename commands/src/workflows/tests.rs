//! Given/when/then tests of the Workflow decider and a property test of the DAG check.

use events::workflows::{RetryPolicy, StepKind};
use proptest::prelude::*;

use super::*;
use crate::testing::{context_of, given};

const WORKSPACE: Uuid = Uuid::from_u128(7);

fn agent(n: u128) -> Uuid {
    Uuid::from_u128(1000 + n)
}

fn step(id: &str, depends_on: &[&str]) -> Step {
    Step {
        id: id.into(),
        kind: StepKind::Agent,
        agent_id: Some(agent(1)),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        input: serde_json::json!({}),
        retry: RetryPolicy::default(),
        timeout_ms: Some(30_000),
        approvers: None,
        signalers: None,
        signal_agent_id: None,
    }
}

fn facts() -> WorkflowFacts {
    let mut agents = BTreeMap::new();
    agents.insert(agent(1), AgentFacts { workspace_id: WORKSPACE, retired: false, external: false });
    agents.insert(agent(2), AgentFacts { workspace_id: WORKSPACE, retired: true, external: false });
    agents.insert(agent(3), AgentFacts { workspace_id: Uuid::from_u128(8), retired: false, external: false });
    WorkflowFacts { access: Access::of(Role::Admin), agents }
}

fn define(steps: Vec<Step>) -> WorkflowCommand {
    WorkflowCommand::DefineWorkflow(DefineWorkflow {
        workspace_id: WORKSPACE,
        name: "Pipeline".into(),
        steps,
        output: None,
    })
}

fn defined(steps: Vec<Step>) -> WorkflowEvent {
    WorkflowDefined {
        workflow_id: context_of("alice").aggregate_id,
        workspace_id: WORKSPACE,
        name: "Pipeline".into(),
        steps,
        output: None,
    }
    .into()
}

#[track_caller]
fn refused(steps: Vec<Step>, error: WorkflowError) {
    given::<Workflow>([]).when_with(define(steps), &facts(), context_of("alice")).then_err(error);
}

#[test]
fn admins_define_a_dag_with_a_parallel_branch() {
    let steps =
        vec![step("fetch", &[]), step("left", &["fetch"]), step("right", &["fetch"]), step("join", &["left", "right"])];
    given::<Workflow>([]).when_with(define(steps.clone()), &facts(), context_of("alice")).then([defined(steps)]);
}

#[test]
fn members_may_not_define_workflows() {
    let facts = WorkflowFacts { access: Access::of(Role::Member), ..facts() };
    given::<Workflow>([])
        .when_with(define(vec![step("a", &[])]), &facts, context_of("alice"))
        .then_err(WorkflowError::RoleTooLow { required: Role::Admin });
}

#[test]
fn malformed_dags_are_refused_with_the_step_named() {
    refused(vec![], WorkflowError::NoSteps);
    refused(vec![step("a", &[]), step("a", &[])], WorkflowError::DuplicateStepId { step: "a".into() });
    refused(
        vec![step("a", &["ghost"])],
        WorkflowError::UnknownDependency { step: "a".into(), dependency: "ghost".into() },
    );
    refused(
        vec![step("a", &[]), step("b", &["a", "c"]), step("c", &["b"])],
        WorkflowError::Cycle { steps: vec!["b".into(), "c".into()] },
    );
    refused(vec![step("self", &["self"])], WorkflowError::Cycle { steps: vec!["self".into()] });
    let too_many: Vec<Step> = (0..=MAX_STEPS).map(|i| step(&format!("s{i}"), &[])).collect();
    refused(too_many, WorkflowError::TooManySteps { count: MAX_STEPS + 1 });
}

#[test]
fn unknown_retired_and_foreign_agents_are_refused() {
    let with_agent = |n| Step { agent_id: Some(agent(n)), ..step("a", &[]) };
    refused(vec![with_agent(2)], WorkflowError::RetiredAgent { step: "a".into(), agent_id: agent(2) });
    refused(vec![with_agent(3)], WorkflowError::UnknownAgent { step: "a".into(), agent_id: agent(3) });
    refused(vec![with_agent(9)], WorkflowError::UnknownAgent { step: "a".into(), agent_id: agent(9) });
}

#[test]
fn revisions_are_new_versions_until_the_workflow_is_archived() {
    let v1 = vec![step("a", &[])];
    let v2 = vec![step("a", &[]), step("b", &["a"])];
    let revise = |steps| WorkflowCommand::ReviseWorkflow(ReviseWorkflow { name: None, steps, output: None });
    given::<Workflow>([defined(v1.clone())])
        .when_with(revise(v2.clone()), &facts(), context_of("alice"))
        .then([WorkflowRevised { version: 2, name: "Pipeline".into(), steps: v2.clone(), output: None }.into()]);
    given::<Workflow>([defined(v1.clone())]).when_with(revise(v1.clone()), &facts(), context_of("alice")).then([]);
    given::<Workflow>([defined(v1), WorkflowArchived {}.into()])
        .when_with(revise(v2), &facts(), context_of("alice"))
        .then_err(WorkflowError::Archived);
}

#[test]
fn step_fields_are_validated_with_their_path() {
    let payload = serde_json::json!({"workspace_id": WORKSPACE, "name": "P", "steps": [
        {"id": "a", "agent_id": agent(1), "retry": {"max_attempts": 0, "backoff_ms": 0}}]});
    let error = WorkflowCommand::parse("DefineWorkflow", &payload).unwrap().unwrap_err();
    assert_eq!(error.path, "/steps/0/retry/max_attempts");
}

#[test]
fn templates_are_checked_where_they_are_written() {
    let parse = |payload: serde_json::Value| WorkflowCommand::parse("DefineWorkflow", &payload).unwrap();
    let error = parse(serde_json::json!({"workspace_id": WORKSPACE, "name": "P", "steps": [
        {"id": "a", "agent_id": agent(1), "input": {"ok": "{{ run.input }}", "list": ["x", "{{ steps.a.output"]}}]}))
    .unwrap_err();
    assert_eq!((error.path.as_str(), error.code), ("/steps/0/input/list/1", "invalid_template"));
    let error = parse(serde_json::json!({"workspace_id": WORKSPACE, "name": "P", "output": {"r": "{{ run.inputs }}"},
        "steps": [{"id": "a", "agent_id": agent(1)}]}))
    .unwrap_err();
    assert_eq!((error.path.as_str(), error.code), ("/output/r", "invalid_template"));
}

#[test]
fn a_template_reads_only_the_run_input_and_what_ran_before() {
    let reads = |id: &str, depends_on: &[&str], text: &str| Step {
        input: serde_json::json!({"in": text}),
        ..step(id, depends_on)
    };
    let steps = vec![
        step("a", &[]),
        reads("b", &["a"], "{{ steps.a.output }}"),
        reads("c", &["b"], "{{ steps.a.output.x }} {{ run.input.y }}"),
    ];
    given::<Workflow>([]).when_with(define(steps.clone()), &facts(), context_of("alice")).then([defined(steps)]);
    // A sibling, itself, a later step or no step at all: not ancestors.
    for (text, reference) in [
        ("{{ steps.c.output }}", "steps.c.output"),
        ("{{ steps.b.output }}", "steps.b.output"),
        ("{{steps.z.output.q}}", "steps.z.output.q"),
    ] {
        let steps = vec![step("a", &[]), reads("b", &["a"], text), step("c", &["a"])];
        refused(steps, WorkflowError::UnknownReference { place: "step `b`".into(), reference: reference.into() });
    }
    // The output reads any step, and nothing else.
    let with_output = |output: serde_json::Value| {
        WorkflowCommand::DefineWorkflow(DefineWorkflow {
            workspace_id: WORKSPACE,
            name: "P".into(),
            steps: vec![step("a", &[]), step("b", &[])],
            output: Some(output),
        })
    };
    let facts = facts();
    let fine = Workflow::decide(
        &with_output(serde_json::json!(["{{ steps.a.output }}", "{{ steps.b.output }}"])),
        &WorkflowState::default(),
        &facts,
        &context_of("alice"),
    );
    assert!(fine.is_ok(), "{fine:?}");
    given::<Workflow>([])
        .when_with(with_output(serde_json::json!("{{ steps.c.output }}")), &facts, context_of("alice"))
        .then_err(WorkflowError::UnknownReference { place: "the output".into(), reference: "steps.c.output".into() });
}

proptest! {
    /// Steps that only depend on earlier steps always form a DAG; adding an edge from the first
    /// step back to the last always makes a cycle.
    #[test]
    fn forward_edges_make_a_dag_and_a_back_edge_a_cycle(
        edges in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), 2..30)
    ) {
        let mut steps: Vec<Step> = Vec::new();
        for (i, picks) in edges.iter().enumerate() {
            let mut depends_on: Vec<String> = if i == 0 {
                Vec::new()
            } else {
                picks.iter().map(|pick| format!("s{}", pick.index(i))).collect()
            };
            depends_on.sort();
            depends_on.dedup();
            if i > 0 && !depends_on.contains(&format!("s{}", i - 1)) {
                depends_on.push(format!("s{}", i - 1));
            }
            steps.push(Step { depends_on, ..step(&format!("s{i}"), &[]) });
        }
        prop_assert_eq!(check_dag(&steps, WORKSPACE, &facts().agents), Ok(()));
        let last = format!("s{}", steps.len() - 1);
        steps[0].depends_on.push(last);
        let cyclic = matches!(check_dag(&steps, WORKSPACE, &facts().agents), Err(WorkflowError::Cycle { .. }));
        prop_assert!(cyclic, "a back edge must make a cycle");
    }
}

#[test]
fn steps_a_person_answers_have_no_agent_and_are_given_days() {
    let parse = |steps: serde_json::Value| {
        let payload = serde_json::json!({"workspace_id": WORKSPACE, "name": "P", "steps": steps});
        WorkflowCommand::parse("DefineWorkflow", &payload).unwrap().map_err(|error| error.path)
    };
    let review = |extra: serde_json::Value| {
        let mut step = serde_json::json!({"id": "review", "kind": "approval"});
        step.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::json!([step])
    };
    assert_eq!(parse(serde_json::json!([{"id": "a"}])).unwrap_err(), "/steps/0/agent_id");
    assert_eq!(parse(review(serde_json::json!({"agent_id": agent(1)}))).unwrap_err(), "/steps/0/agent_id");
    assert_eq!(parse(review(serde_json::json!({"approvers": "viewer"}))).unwrap_err(), "/steps/0/approvers");
    assert_eq!(parse(review(serde_json::json!({"signalers": "admin"}))).unwrap_err(), "/steps/0/signalers");
    let days = |n: u64| n * 24 * 60 * 60 * 1000;
    assert_eq!(parse(review(serde_json::json!({"timeout_ms": days(31)}))).unwrap_err(), "/steps/0/timeout_ms");
    assert!(parse(review(serde_json::json!({"timeout_ms": days(30)}))).is_ok());
    assert_eq!(
        parse(review(serde_json::json!({"retry": {"max_attempts": 2, "backoff_ms": 0}}))).unwrap_err(),
        "/steps/0/retry/max_attempts"
    );
    let agent_step = serde_json::json!([{"id": "a", "agent_id": agent(1), "timeout_ms": days(2)}]);
    assert_eq!(parse(agent_step).unwrap_err(), "/steps/0/timeout_ms");

    // The definition records each step's time: an approval's 7 days, an agent's 30 s.
    let approval = Step { kind: StepKind::Approval, agent_id: None, timeout_ms: None, ..step("review", &["a"]) };
    let unset = Step { timeout_ms: None, ..step("a", &[]) };
    let recorded = vec![step("a", &[]), Step { timeout_ms: Some(days(7)), ..approval.clone() }];
    given::<Workflow>([])
        .when_with(define(vec![unset, approval]), &facts(), context_of("alice"))
        .then([defined(recorded)]);
}

#[test]
fn a_signal_is_sent_by_a_member_or_an_external_agents_worker() {
    let signal = |agent_id| Step {
        kind: StepKind::Signal,
        agent_id: None,
        signal_agent_id: Some(agent_id),
        timeout_ms: None,
        ..step("callback", &[])
    };
    // agent(1) is a builtin: it has no worker to send the signal.
    refused(vec![signal(agent(1))], WorkflowError::AgentNotExternal { step: "callback".into(), agent_id: agent(1) });
    refused(vec![signal(agent(2))], WorkflowError::RetiredAgent { step: "callback".into(), agent_id: agent(2) });
    let mut facts = facts();
    facts.agents.insert(agent(4), AgentFacts { workspace_id: WORKSPACE, retired: false, external: true });
    given::<Workflow>([])
        .when_with(define(vec![signal(agent(4))]), &facts, context_of("alice"))
        .then([defined(vec![Step { timeout_ms: Some(7 * 24 * 60 * 60 * 1000), ..signal(agent(4)) }])]);
}
