//! Given/when/then tests of the Run decider, and a property test that drives generated runs to
//! their end and bills them the way the run saga does.

use events::agents::{Builtin, Executor, Price};
use events::workflows::RetryPolicy;
use proptest::prelude::*;

use super::*;
use crate::testing::{context_of, given};

const WORKSPACE: Uuid = Uuid::from_u128(7);

fn planned(id: &str, depends_on: &[&str], max_attempts: u32) -> PlannedStep {
    PlannedStep {
        id: id.into(),
        kind: StepKind::Agent,
        agent_id: Some(Uuid::from_u128(1)),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        input: serde_json::json!({}),
        retry: RetryPolicy { max_attempts, backoff_ms: 100 },
        timeout_ms: 1000,
        executor: Some(Executor::Builtin { name: Builtin::Echo, config: Default::default() }),
        price: Some(Price { per_call: 2, per_1k_input_tokens: 1, per_1k_output_tokens: 1 }),
        approvers: None,
        signalers: None,
        signal_agent_id: None,
    }
}

fn requested(steps: Vec<PlannedStep>, budget: i64) -> RunEvent {
    RunRequested {
        run_id: context_of("alice").aggregate_id,
        workspace_id: WORKSPACE,
        workflow_id: Uuid::from_u128(9),
        workflow_version: 1,
        input: serde_json::json!({}),
        budget,
        steps,
        output: None,
        retry_of: None,
    }
    .into()
}

fn system() -> RunFacts {
    RunFacts { access: Access::of(Role::Owner), workflow: None, prior: None }
}

/// Oxbow's executors report builtin and webhook steps through the saga.
fn by_saga() -> crate::CommandContext {
    crate::CommandContext { principal: crate::Principal::Saga, ..context_of("system:run-saga") }
}

fn scheduled(step: &str, attempt: u32) -> RunEvent {
    let context = context_of("alice");
    StepScheduled {
        step_id: step.into(),
        attempt,
        input: serde_json::json!({}),
        deadline: context.now + Duration::milliseconds(1000),
    }
    .into()
}

fn complete(step: &str, attempt: u32, tokens: u64) -> RunCommand {
    RunCommand::CompleteStep(CompleteStep {
        step_id: step.into(),
        attempt,
        output: serde_json::json!({"ok": true}),
        usage: Usage { input_tokens: tokens, duration_ms: 5, ..Usage::default() },
        artifacts: Vec::new(),
    })
}

fn succeeded(step: &str, attempt: u32, tokens: u64, cost: i64) -> RunEvent {
    StepSucceeded {
        step_id: step.into(),
        attempt,
        output: serde_json::json!({"ok": true}),
        input_tokens: tokens,
        output_tokens: 0,
        duration_ms: 5,
        cost,
        artifacts: Vec::new(),
    }
    .into()
}

fn diamond() -> Vec<PlannedStep> {
    vec![planned("a", &[], 1), planned("b", &["a"], 1), planned("c", &["a"], 1), planned("d", &["b", "c"], 1)]
}

#[test]
fn members_start_runs_of_existing_workflows() {
    let start = RunCommand::StartRun(StartRun {
        workspace_id: WORKSPACE,
        workflow_id: Uuid::from_u128(9),
        workflow_version: None,
        input: serde_json::json!({}),
        budget: 100,
        retry_of: None,
    });
    let workflow =
        WorkflowSnapshot { workspace_id: WORKSPACE, version: 1, archived: false, steps: diamond(), output: None };
    let facts = RunFacts { access: Access::of(Role::Member), workflow: Some(workflow.clone()), prior: None };
    given::<RunAggregate>([]).when_with(start.clone(), &facts, context_of("alice")).then([requested(diamond(), 100)]);
    let viewer = RunFacts { access: Access::of(Role::Viewer), ..facts.clone() };
    given::<RunAggregate>([])
        .when_with(start.clone(), &viewer, context_of("alice"))
        .then_err(RunError::RoleTooLow { required: Role::Member });
    let archived = RunFacts { workflow: Some(WorkflowSnapshot { archived: true, ..workflow }), ..facts };
    given::<RunAggregate>([]).when_with(start, &archived, context_of("alice")).then_err(RunError::WorkflowArchived);
}

#[test]
fn beginning_schedules_the_steps_without_dependencies() {
    let begin = RunCommand::BeginRun(BeginRun { reservation_id: Uuid::from_u128(5) });
    given::<RunAggregate>([requested(diamond(), 100)])
        .when_with(begin, &system(), by_saga())
        .then([RunStarted { reservation_id: Uuid::from_u128(5) }.into(), scheduled("a", 1)]);
}

#[test]
fn a_success_schedules_the_parallel_branch_and_the_last_one_ends_the_run() {
    let started = RunStarted { reservation_id: Uuid::from_u128(5) }.into();
    given::<RunAggregate>([requested(diamond(), 100), started, scheduled("a", 1)])
        .when_with(complete("a", 1, 1500), &system(), by_saga())
        .then([succeeded("a", 1, 1500, 4), scheduled("b", 1), scheduled("c", 1)]);
    let history = vec![
        requested(diamond(), 100),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
        succeeded("a", 1, 0, 2),
        scheduled("b", 1),
        scheduled("c", 1),
        succeeded("b", 1, 0, 2),
    ];
    // d waits for c too.
    given::<RunAggregate>(history.clone())
        .when_with(complete("c", 1, 0), &system(), by_saga())
        .then([succeeded("c", 1, 0, 2), scheduled("d", 1)]);
    let mut done = history;
    done.extend([succeeded("c", 1, 0, 2), scheduled("d", 1)]);
    given::<RunAggregate>(done)
        .when_with(complete("d", 1, 0), &system(), by_saga())
        .then([succeeded("d", 1, 0, 2), RunSucceeded { credits_used: 8, output: None }.into()]);
}

#[test]
fn reports_are_idempotent_per_attempt_and_late_ones_are_refused() {
    let history = [
        requested(diamond(), 100),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
        succeeded("a", 1, 0, 2),
    ];
    given::<RunAggregate>(history.clone()).when_with(complete("a", 1, 0), &system(), by_saga()).then([]);
    given::<RunAggregate>(history)
        .when_with(complete("a", 2, 0), &system(), by_saga())
        .then_err(RunError::StaleAttempt { step: "a".into(), attempt: 2 });
    let timed_out = [
        requested(vec![planned("a", &[], 1)], 100),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
        StepTimedOut { step_id: "a".into(), attempt: 1 }.into(),
        RunFailed { reason: "step_timed_out".into(), credits_used: 0 }.into(),
    ];
    given::<RunAggregate>(timed_out)
        .when_with(complete("a", 1, 0), &system(), by_saga())
        .then_err(RunError::RunFinished);
}

#[test]
fn a_retryable_failure_waits_for_its_backoff_and_the_last_attempt_fails_the_run() {
    let steps = vec![planned("a", &[], 3)];
    let context = by_saga();
    let fail = |attempt| {
        RunCommand::FailStep(FailStep { step_id: "a".into(), attempt, error: "boom".into(), retryable: true })
    };
    let failed = |attempt| -> RunEvent {
        StepFailed { step_id: "a".into(), attempt, error: "boom".into(), retryable: true, cost: 2, by: None }.into()
    };
    let history =
        vec![requested(steps, 100), RunStarted { reservation_id: Uuid::from_u128(5) }.into(), scheduled("a", 1)];
    given::<RunAggregate>(history.clone()).when_with(fail(1), &system(), context.clone()).then([
        failed(1),
        StepRetryScheduled { step_id: "a".into(), attempt: 2, at: context.now + Duration::milliseconds(100) }.into(),
    ]);
    let mut second = history;
    second.extend([
        failed(1),
        StepRetryScheduled { step_id: "a".into(), attempt: 2, at: context.now }.into(),
        scheduled("a", 2),
    ]);
    // The backoff doubles.
    given::<RunAggregate>(second.clone()).when_with(fail(2), &system(), context.clone()).then([
        failed(2),
        StepRetryScheduled { step_id: "a".into(), attempt: 3, at: context.now + Duration::milliseconds(200) }.into(),
    ]);
    let mut third = second;
    third.extend([
        failed(2),
        StepRetryScheduled { step_id: "a".into(), attempt: 3, at: context.now }.into(),
        scheduled("a", 3),
    ]);
    given::<RunAggregate>(third)
        .when_with(fail(3), &system(), context)
        .then([failed(3), RunFailed { reason: "step_failed".into(), credits_used: 6 }.into()]);
}

#[test]
fn a_step_that_costs_more_than_what_remains_exhausts_the_budget() {
    let history = [
        requested(vec![planned("a", &[], 1), planned("b", &["a"], 1)], 5),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
    ];
    given::<RunAggregate>(history)
        .when_with(complete("a", 1, 10_000), &system(), by_saga())
        .then([succeeded("a", 1, 10_000, 5), RunFailed { reason: "budget_exhausted".into(), credits_used: 5 }.into()]);
}

#[test]
fn a_step_is_reported_by_its_runner_only() {
    let external = |id: &str, agent: u128| PlannedStep {
        agent_id: Some(Uuid::from_u128(agent)),
        executor: Some(Executor::External),
        ..planned(id, &[], 1)
    };
    let history = vec![
        requested(vec![external("a", 7), planned("b", &[], 1)], 100),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
        scheduled("b", 1),
    ];
    let worker_of = |agent: u128, workspace: Uuid| crate::CommandContext {
        principal: crate::Principal::Worker { agent_id: Uuid::from_u128(agent), workspace_id: workspace },
        ..context_of("worker:c1")
    };
    let none = RunFacts { access: Access::default(), workflow: None, prior: None };
    // A member, even the owner, reports nothing: the outcome sets the cost.
    given::<RunAggregate>(history.clone())
        .when_with(complete("a", 1, 0), &system(), context_of("alice"))
        .then_err(RunError::WorkerCredentialRequired);
    // The worker of agent 7 reports its external step "a", and nothing else.
    given::<RunAggregate>(history.clone())
        .when_with(complete("a", 1, 0), &none, worker_of(7, WORKSPACE))
        .then([succeeded("a", 1, 0, 2)]);
    given::<RunAggregate>(history.clone())
        .when_with(complete("b", 1, 0), &none, worker_of(7, WORKSPACE))
        .then_err(RunError::NotThisWorkersStep { step: "b".into() });
    given::<RunAggregate>(history.clone())
        .when_with(complete("a", 1, 0), &none, worker_of(8, WORKSPACE))
        .then_err(RunError::NotThisWorkersStep { step: "a".into() });
    given::<RunAggregate>(history.clone())
        .when_with(complete("a", 1, 0), &none, worker_of(7, Uuid::from_u128(99)))
        .then_err(RunError::NotAMember);
    // Nor may it cancel the run.
    given::<RunAggregate>(history)
        .when_with(RunCommand::CancelRun(CancelRun { reason: "x".into() }), &none, worker_of(7, WORKSPACE))
        .then_err(RunError::NotAMember);
}

/// What a worker, a person or a member does next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// An agent's step succeeds with these tokens; an approval is approved.
    Succeed(u64),
    /// An agent's step fails; an approval is rejected.
    Fail {
        retryable: bool,
    },
    TimeOut,
    /// A member cancels the run.
    Cancel,
}

fn arb_outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        8 => (0u64..5000).prop_map(Outcome::Succeed),
        2 => any::<bool>().prop_map(|retryable| Outcome::Fail { retryable }),
        2 => Just(Outcome::TimeOut),
        1 => Just(Outcome::Cancel),
    ]
}

/// Step `i` of a generated DAG: an approval, for one in four, else an agent's step.
fn generated_step(i: usize, depends_on: Vec<String>, attempts: u32, approval: bool) -> PlannedStep {
    let step = PlannedStep { depends_on, ..planned(&format!("s{i}"), &[], attempts) };
    match approval {
        true => PlannedStep {
            kind: StepKind::Approval,
            agent_id: None,
            executor: None,
            price: None,
            retry: RetryPolicy::default(),
            ..step
        },
        false => step,
    }
}

/// The command that carries `outcome` out on `step`, with the facts and the caller it comes
/// from: the saga's reports and timers, a member's answers and cancels.
fn command_for(step: &StepState, outcome: Outcome) -> (RunCommand, RunFacts, crate::CommandContext) {
    let (id, attempt) = (step.planned.id.clone(), step.attempt);
    let by_member = |command| (command, member(Role::Admin), context_of("carol"));
    if outcome == Outcome::Cancel {
        return by_member(RunCommand::CancelRun(CancelRun { reason: "changed my mind".into() }));
    }
    if step.status == StepStatus::RetryWaiting {
        return (RunCommand::RetryStep(RetryStep { step_id: id, attempt: attempt + 1 }), system(), by_saga());
    }
    let command = match (step.status, outcome) {
        (StepStatus::Waiting, Outcome::Succeed(_)) => {
            return by_member(RunCommand::ApproveStep(ApproveStep { step_id: id, comment: None }));
        }
        (StepStatus::Waiting, Outcome::Fail { .. }) => {
            return by_member(RunCommand::RejectStep(RejectStep { step_id: id, reason: "no".into() }));
        }
        (_, Outcome::Succeed(tokens)) => RunCommand::CompleteStep(CompleteStep {
            step_id: id.clone(),
            attempt,
            output: serde_json::json!({"v": tokens, "by": id}),
            usage: Usage { input_tokens: tokens, output_tokens: tokens / 3, duration_ms: 1, tokens: 0 },
            artifacts: Vec::new(),
        }),
        (_, Outcome::Fail { retryable }) => {
            RunCommand::FailStep(FailStep { step_id: id, attempt, error: "x".into(), retryable })
        }
        (_, Outcome::TimeOut | Outcome::Cancel) => RunCommand::TimeOutStep(TimeOutStep { step_id: id, attempt }),
    };
    (command, system(), by_saga())
}

/// The step a driven run acts on next: one dispatched, waiting for an answer, or for its retry.
fn next_step(run: &Run) -> &StepState {
    run.steps
        .iter()
        .find(|s| matches!(s.status, StepStatus::Scheduled | StepStatus::Waiting | StepStatus::RetryWaiting))
        .expect("something to do")
}

fn arb_run() -> impl Strategy<Value = (Vec<PlannedStep>, i64, Vec<Outcome>)> {
    let spec = (prop::collection::vec(any::<prop::sample::Index>(), 0..3), 1u32..4, prop::bool::weighted(0.25));
    let steps = prop::collection::vec(spec, 1..8).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (picks, attempts, approval))| {
                let mut depends_on: Vec<String> =
                    if i == 0 { Vec::new() } else { picks.iter().map(|p| format!("s{}", p.index(i))).collect() };
                depends_on.sort();
                depends_on.dedup();
                generated_step(i, depends_on, attempts, approval)
            })
            .collect::<Vec<_>>()
    });
    (steps, 1i64..200, prop::collection::vec(arb_outcome(), 1..40))
}

fn apply(state: RunState, events: &[RunEvent]) -> RunState {
    events.iter().fold(state, RunAggregate::evolve)
}

/// The workspace's billing account, as the run saga moves it: `decide` then `evolve`.
struct Account(crate::billing::Account);

impl Account {
    fn send(&mut self, command: crate::billing::BillingCommand) -> Vec<events::billing::BillingEvent> {
        use crate::Decider;
        // The grant that funds the account is an operator's; the rest is the run saga's.
        let principal = match command {
            crate::billing::BillingCommand::GrantCredits(_) => crate::Principal::Operator,
            _ => crate::Principal::Saga,
        };
        let context = crate::CommandContext { principal, ..context_of("system:run-saga") };
        let events = crate::billing::Billing::decide(&command, &self.0, &Access::of(Role::Owner), &context)
            .unwrap_or_else(|error| panic!("billing refused {command:?}: {error}"));
        self.0 = events.iter().fold(self.0.clone(), crate::billing::Billing::evolve);
        events
    }
}

proptest! {
    /// Driven and billed the way the saga does it, any run of any DAG of agent and approval
    /// steps, with any pattern of successes, failures, timeouts, approvals, rejections and a
    /// cancel at any point, ends, with every step final, no more credits used than budgeted,
    /// and its reservation settled exactly: each costed attempt captured once, the rest
    /// released, captured + released = reserved. Approvals cost nothing.
    #[test]
    fn every_run_ends_with_every_step_final_and_is_billed_exactly((steps, budget, outcomes) in arb_run()) {
        use crate::billing::{BillingCommand, CaptureCredits, GrantCredits, OpenBillingAccount, ReleaseReservation, ReserveCredits};
        use events::billing::BillingEvent;
        let context = by_saga();
        let reservation_id = context.aggregate_id;
        let mut account = Account(Default::default());
        account.send(BillingCommand::OpenBillingAccount(OpenBillingAccount { plan: "p".into(), overdraft_limit: 0, low_balance_threshold: 0 }));
        account.send(BillingCommand::GrantCredits(GrantCredits { amount: 1_000, reason: "r".into() }));
        account.send(BillingCommand::ReserveCredits(ReserveCredits { reservation_id, amount: budget, purpose: String::new() }));

        let mut state = apply(RunState::default(), &[requested(steps, budget)]);
        let mut events = RunAggregate::decide(&RunCommand::BeginRun(BeginRun { reservation_id }), &state, &system(), &context).unwrap();
        state = apply(state, &events);
        let mut captured_attempts = std::collections::BTreeSet::new();
        let mut turn = 0;
        while !state.0.as_ref().unwrap().status.is_final() {
            prop_assert!(turn < 1000, "the run did not end");
            let run = state.0.clone().unwrap();
            let (command, facts, caller) = command_for(next_step(&run), outcomes[turn % outcomes.len()]);
            events = RunAggregate::decide(&command, &state, &facts, &caller).unwrap();
            state = apply(state, &events);
            // Usage is captured per attempt, under the attempt's key.
            for event in &events {
                let (step_id, attempt, cost) = match event {
                    RunEvent::StepSucceeded(e) => (&e.step_id, e.attempt, e.cost),
                    RunEvent::StepFailed(e) => (&e.step_id, e.attempt, e.cost),
                    _ => continue,
                };
                prop_assert!(captured_attempts.insert((step_id.clone(), attempt)), "attempt {attempt} of {step_id} costed twice");
                let waits = run.step(step_id).is_some_and(|step| step.planned.kind.waits());
                prop_assert!(!waits || cost == 0, "an answer to {step_id} cost {cost}");
                if cost > 0 {
                    account.send(BillingCommand::CaptureCredits(CaptureCredits { reservation_id, amount: cost }));
                }
            }
            turn += 1;
        }
        let released = account.send(BillingCommand::ReleaseReservation(ReleaseReservation { reservation_id }));
        let released = match released.as_slice() {
            [BillingEvent::ReservationReleased(e)] => e.amount,
            other => panic!("released with {other:?}"),
        };
        let captured = 1_000 - account.0.balance;
        prop_assert_eq!(captured + released, budget, "captured + released = reserved");
        prop_assert_eq!(account.0.reserved, 0);
        let run = state.0.unwrap();
        prop_assert!(run.steps.iter().all(|s| s.status.is_final()), "{:?}", run.steps);
        prop_assert!(run.used <= run.budget);
        let credits_used = match events.last() {
            Some(RunEvent::RunSucceeded(e)) => e.credits_used,
            Some(RunEvent::RunFailed(e)) => e.credits_used,
            Some(RunEvent::RunCancelled(e)) => e.credits_used,
            other => panic!("the run ended with {other:?}"),
        };
        prop_assert_eq!(credits_used, run.used, "the run settles exactly what its steps used");
        prop_assert_eq!(captured, credits_used, "billing captured what the run used");
    }
}

/// fetch → summarize, where summarize reads fetch's output and the run's input, and the run's
/// output reads both steps.
fn piped(output: Option<serde_json::Value>) -> RunEvent {
    let fetch = PlannedStep { input: serde_json::json!({"url": "{{ run.input.url }}"}), ..planned("fetch", &[], 2) };
    let summarize = PlannedStep {
        input: serde_json::json!({"text": "{{ steps.fetch.output.body }}", "say": "about {{ run.input.url }}: {{ steps.fetch.output.n }}"}),
        ..planned("summarize", &["fetch"], 1)
    };
    let RunEvent::RunRequested(requested) = requested(vec![fetch, summarize], 100) else { unreachable!() };
    RunRequested { input: serde_json::json!({"url": "https://a.example"}), output, ..requested }.into()
}

fn scheduled_with(step: &str, attempt: u32, input: serde_json::Value) -> RunEvent {
    let RunEvent::StepScheduled(event) = scheduled(step, attempt) else { unreachable!() };
    StepScheduled { input, ..event }.into()
}

fn completed_with(step: &str, output: serde_json::Value) -> RunCommand {
    RunCommand::CompleteStep(CompleteStep {
        step_id: step.into(),
        attempt: 1,
        output,
        usage: Usage { duration_ms: 5, ..Usage::default() },
        artifacts: Vec::new(),
    })
}

#[test]
fn a_step_is_scheduled_with_its_input_resolved_from_the_run_and_its_ancestors() {
    let begin = RunCommand::BeginRun(BeginRun { reservation_id: Uuid::from_u128(5) });
    let started: RunEvent = RunStarted { reservation_id: Uuid::from_u128(5) }.into();
    let fetch_input = serde_json::json!({"url": "https://a.example"});
    given::<RunAggregate>([piped(None)])
        .when_with(begin, &system(), by_saga())
        .then([started.clone(), scheduled_with("fetch", 1, fetch_input.clone())]);
    let output = serde_json::json!({"body": {"words": ["otters"]}, "n": 3});
    let mut succeeded_fetch = succeeded("fetch", 1, 0, 2);
    if let RunEvent::StepSucceeded(event) = &mut succeeded_fetch {
        event.output = output.clone();
    }
    given::<RunAggregate>([piped(None), started.clone(), scheduled_with("fetch", 1, fetch_input.clone())])
        .when_with(completed_with("fetch", output.clone()), &system(), by_saga())
        .then([
            succeeded_fetch.clone(),
            scheduled_with(
                "summarize",
                1,
                serde_json::json!({"text": {"words": ["otters"]}, "say": "about https://a.example: 3"}),
            ),
        ]);
    // The run's output is resolved when it succeeds, from the state's outputs and the last one.
    let history = vec![
        piped(Some(
            serde_json::json!({"from": "{{ steps.fetch.output.n }}", "summary": "{{ steps.summarize.output }}"}),
        )),
        started,
        scheduled_with("fetch", 1, fetch_input),
        succeeded_fetch,
        scheduled_with("summarize", 1, serde_json::json!({})),
    ];
    let mut done = succeeded("summarize", 1, 0, 2);
    if let RunEvent::StepSucceeded(event) = &mut done {
        event.output = serde_json::json!("short");
    }
    given::<RunAggregate>(history.clone())
        .when_with(completed_with("summarize", serde_json::json!("short")), &system(), by_saga())
        .then([
            done,
            RunSucceeded { credits_used: 4, output: Some(serde_json::json!({"from": 3, "summary": "short"})) }.into(),
        ]);
}

#[test]
fn an_input_or_output_that_cannot_be_made_fails_the_step_or_the_run_and_costs_nothing() {
    let started: RunEvent = RunStarted { reservation_id: Uuid::from_u128(5) }.into();
    let fetched = || vec![piped(None), started.clone(), scheduled_with("fetch", 1, serde_json::json!({}))];
    // The report is taken; the step that cannot get its input fails for good, and the run.
    let mut taken = succeeded("fetch", 1, 0, 2);
    if let RunEvent::StepSucceeded(event) = &mut taken {
        event.output = serde_json::json!({"n": 1});
    }
    given::<RunAggregate>(fetched())
        .when_with(completed_with("fetch", serde_json::json!({"n": 1})), &system(), by_saga())
        .then([
            taken,
            StepFailed {
                step_id: "summarize".into(),
                attempt: 1,
                error: "input_reference_missing: steps.fetch.output.body".into(),
                retryable: false,
                cost: 0,
                by: None,
            }
            .into(),
            RunFailed { reason: "step_failed".into(), credits_used: 2 }.into(),
        ]);
    // An input past the event size limit is refused the same way.
    let small = crate::CommandContext { max_event_bytes: 200, ..by_saga() };
    let big = serde_json::json!({"body": "x".repeat(300), "n": 1});
    let state = RunAggregate::fold(fetched().iter());
    let events = RunAggregate::decide(&completed_with("fetch", big), &state, &system(), &small).expect("taken");
    let RunEvent::StepFailed(failed) = &events[1] else { panic!("{events:?}") };
    assert!(failed.error.starts_with("input_too_large"), "{}", failed.error);
    // An output that reads what is not there fails the run: never a silent null.
    let mut history = vec![
        piped(Some(serde_json::json!("{{ steps.fetch.output.missing }}"))),
        started.clone(),
        scheduled_with("fetch", 1, serde_json::json!({})),
        succeeded("fetch", 1, 0, 2),
    ];
    history.push(scheduled_with("summarize", 1, serde_json::json!({})));
    given::<RunAggregate>(history)
        .when_with(completed_with("summarize", serde_json::json!(null)), &system(), by_saga())
        .then([
            succeeded_with_output("summarize", serde_json::json!(null)),
            RunFailed { reason: "output_invalid".into(), credits_used: 4 }.into(),
        ]);
}

fn succeeded_with_output(step: &str, output: serde_json::Value) -> RunEvent {
    let mut event = succeeded(step, 1, 0, 2);
    if let RunEvent::StepSucceeded(succeeded) = &mut event {
        succeeded.output = output;
    }
    event
}

#[test]
fn a_retry_gets_the_input_of_the_first_attempt() {
    let input = serde_json::json!({"url": "https://a.example"});
    let history = vec![
        piped(None),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled_with("fetch", 1, input.clone()),
        StepTimedOut { step_id: "fetch".into(), attempt: 1 }.into(),
        StepRetryScheduled { step_id: "fetch".into(), attempt: 2, at: context_of("alice").now }.into(),
    ];
    given::<RunAggregate>(history)
        .when_with(RunCommand::RetryStep(RetryStep { step_id: "fetch".into(), attempt: 2 }), &system(), by_saga())
        .then([scheduled_with("fetch", 2, input)]);
}

/// The diamond a → (b ∥ c) → d where b reads the run's input; a run of it in which a and b
/// succeeded and c failed.
fn failed_diamond() -> (Vec<PlannedStep>, PriorRun) {
    let mut steps = diamond();
    steps[1].input = serde_json::json!({"topic": "{{ run.input.topic }}", "from": "{{ steps.a.output }}"});
    let old = Uuid::from_u128(0x01d);
    let history: Vec<RunEvent> = vec![
        RunRequested {
            run_id: old,
            workspace_id: WORKSPACE,
            workflow_id: Uuid::from_u128(9),
            workflow_version: 1,
            input: serde_json::json!({"topic": "otters"}),
            budget: 100,
            steps: steps.clone(),
            output: None,
            retry_of: None,
        }
        .into(),
        RunStarted { reservation_id: old }.into(),
        scheduled_with("a", 1, serde_json::json!({})),
        succeeded_with_output("a", serde_json::json!({"ok": true})),
        scheduled_with("b", 1, serde_json::json!({"topic": "otters", "from": {"ok": true}})),
        scheduled_with("c", 1, serde_json::json!({})),
        succeeded_with_output("b", serde_json::json!("b's")),
        StepFailed { step_id: "c".into(), attempt: 1, error: "boom".into(), retryable: false, cost: 2, by: None }
            .into(),
        RunFailed { reason: "step_failed".into(), credits_used: 6 }.into(),
    ];
    (steps.clone(), PriorRun::from_history(old, &history).unwrap())
}

/// The steps a retry's decision takes over: every event after its request is a `StepReused`.
fn reused_after_request(events: &[RunEvent]) -> Vec<&str> {
    events[1..]
        .iter()
        .map(|e| match e {
            RunEvent::StepReused(r) => r.step_id.as_str(),
            _ => panic!("{e:?}"),
        })
        .collect()
}

/// A member's retry of `prior` with `input`, on a workflow version of `steps`.
fn decide_retry(steps: Vec<PlannedStep>, prior: &PriorRun, input: serde_json::Value) -> Vec<RunEvent> {
    let workflow = WorkflowSnapshot { workspace_id: WORKSPACE, version: 1, archived: false, steps, output: None };
    let facts = RunFacts { access: Access::of(Role::Member), workflow: Some(workflow), prior: Some(prior.clone()) };
    RunAggregate::decide(&retry(input, prior.run_id), &RunState::default(), &facts, &context_of("alice")).unwrap()
}

fn retry(input: serde_json::Value, retry_of: Uuid) -> RunCommand {
    RunCommand::StartRun(StartRun {
        workspace_id: WORKSPACE,
        workflow_id: Uuid::from_u128(9),
        workflow_version: None,
        input,
        budget: 100,
        retry_of: Some(retry_of),
    })
}

#[test]
fn a_retry_takes_over_what_succeeded_with_the_same_input_and_runs_the_rest() {
    let (steps, prior) = failed_diamond();
    // Without an input, the old one: a and b are taken over, c and d run.
    let events = decide_retry(steps.clone(), &prior, serde_json::Value::Null);
    let RunEvent::RunRequested(requested) = &events[0] else { panic!("{events:?}") };
    assert_eq!((requested.retry_of, &requested.input), (Some(prior.run_id), &serde_json::json!({"topic": "otters"})));
    assert_eq!(reused_after_request(&events), ["a", "b"]);
    let RunEvent::StepReused(b) = &events[2] else { unreachable!() };
    assert_eq!((&b.output, b.from), (&serde_json::json!("b's"), ReusedFrom { run_id: prior.run_id, attempt: 1 }));
    // Begun, it schedules c, whose dependency was taken over, and nothing that waits on c.
    let begin = RunCommand::BeginRun(BeginRun { reservation_id: Uuid::from_u128(5) });
    let state = RunAggregate::fold(events.iter());
    let begun = RunAggregate::decide(&begin, &state, &system(), &by_saga()).unwrap();
    let scheduled: Vec<&str> = begun
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepScheduled(s) => Some(s.step_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(scheduled, ["c"]);

    // A new input reruns what reads it (b), and what follows; a is still taken over.
    let events = decide_retry(steps, &prior, serde_json::json!({"topic": "seals"}));
    assert_eq!(reused_after_request(&events), ["a"]);
}

#[test]
fn only_a_failed_or_cancelled_run_of_the_workspace_and_workflow_is_retried() {
    let (steps, prior) = failed_diamond();
    let workflow = WorkflowSnapshot { workspace_id: WORKSPACE, version: 1, archived: false, steps, output: None };
    let facts = |prior: Option<PriorRun>| RunFacts {
        access: Access::of(Role::Member),
        workflow: Some(workflow.clone()),
        prior,
    };
    let decide = |facts: RunFacts| {
        RunAggregate::decide(
            &retry(serde_json::Value::Null, prior.run_id),
            &RunState::default(),
            &facts,
            &context_of("alice"),
        )
    };
    assert_eq!(decide(facts(None)), Err(RunError::NotFound));
    let elsewhere = PriorRun { workspace_id: Uuid::from_u128(8), ..prior.clone() };
    assert_eq!(decide(facts(Some(elsewhere))), Err(RunError::NotFound));
    let running = PriorRun { status: RunStatus::Running, ..prior.clone() };
    assert_eq!(decide(facts(Some(running))), Err(RunError::RunNotRetryable));
    let succeeded = PriorRun { status: RunStatus::Succeeded, ..prior.clone() };
    assert_eq!(decide(facts(Some(succeeded))), Err(RunError::RunNotRetryable));
    let other = PriorRun { workflow_id: Uuid::from_u128(10), ..prior.clone() };
    assert_eq!(decide(facts(Some(other))), Err(RunError::RetryOfOtherWorkflow));
    let cancelled = PriorRun { status: RunStatus::Cancelled, ..prior };
    assert!(decide(facts(Some(cancelled))).is_ok());
}

#[test]
fn a_retry_with_nothing_left_to_do_succeeds_when_it_begins() {
    let (steps, mut prior) = failed_diamond();
    for id in ["c", "d"] {
        let step = PriorStep {
            kind: StepKind::Agent,
            agent_id: Some(Uuid::from_u128(1)),
            input: serde_json::json!({}),
            output: serde_json::json!(id),
            from: ReusedFrom { run_id: prior.run_id, attempt: 1 },
        };
        prior.succeeded.insert(id.into(), step);
    }
    let requested = decide_retry(steps, &prior, serde_json::Value::Null);
    assert_eq!(requested.len(), 5, "{requested:?}");
    let begin = RunCommand::BeginRun(BeginRun { reservation_id: Uuid::from_u128(5) });
    let begun = RunAggregate::decide(&begin, &RunAggregate::fold(requested.iter()), &system(), &by_saga()).unwrap();
    assert_eq!(begun[1], RunSucceeded { credits_used: 0, output: None }.into());
}

/// A DAG whose steps read the run's input and their dependencies' outputs (whole, embedded,
/// and, for some, a path no output has).
fn arb_templated_run() -> impl Strategy<Value = (Vec<PlannedStep>, Vec<Outcome>, Vec<Outcome>)> {
    let steps = prop::collection::vec(
        (
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            1u32..3,
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.2),
        ),
        1..7,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (picks, attempts, reads_missing, approval))| {
                let mut depends_on: Vec<String> =
                    if i == 0 { Vec::new() } else { picks.iter().map(|p| format!("s{}", p.index(i))).collect() };
                depends_on.sort();
                depends_on.dedup();
                let mut input = serde_json::json!({
                    "topic": "{{ run.input.topic }}",
                    "deps": depends_on.iter().map(|d| format!("{{{{ steps.{d}.output }}}}")).collect::<Vec<_>>(),
                    "said": depends_on.iter().map(|d| format!("{d} said {{{{ steps.{d}.output.v }}}}")).collect::<String>(),
                });
                if reads_missing && let Some(first) = depends_on.first() {
                    input["missing"] = serde_json::json!(format!("{{{{ steps.{first}.output.nope }}}}"));
                }
                PlannedStep { input, ..generated_step(i, depends_on, attempts, approval) }
            })
            .collect::<Vec<_>>()
    });
    (steps, prop::collection::vec(arb_outcome(), 1..30), prop::collection::vec(arb_outcome(), 1..30))
}

/// Drives a requested run to its end as the saga would, billing each attempt on its own
/// account; checks captured + released = reserved, and returns the run's whole history.
fn drive(requested: Vec<RunEvent>, budget: i64, outcomes: &[Outcome]) -> Result<Vec<RunEvent>, TestCaseError> {
    use crate::billing::{
        BillingCommand, CaptureCredits, GrantCredits, OpenBillingAccount, ReleaseReservation, ReserveCredits,
    };
    use events::billing::BillingEvent;
    let context = by_saga();
    let reservation_id = context.aggregate_id;
    let mut account = Account(Default::default());
    account.send(BillingCommand::OpenBillingAccount(OpenBillingAccount {
        plan: "p".into(),
        overdraft_limit: 0,
        low_balance_threshold: 0,
    }));
    account.send(BillingCommand::GrantCredits(GrantCredits { amount: 1_000, reason: "r".into() }));
    account.send(BillingCommand::ReserveCredits(ReserveCredits {
        reservation_id,
        amount: budget,
        purpose: String::new(),
    }));
    let mut history = requested;
    let mut state = apply(RunState::default(), &history);
    let begun =
        RunAggregate::decide(&RunCommand::BeginRun(BeginRun { reservation_id }), &state, &system(), &context).unwrap();
    state = apply(state, &begun);
    history.extend(begun.iter().cloned());
    let mut pending = begun;
    let mut turn = 0;
    loop {
        for event in &pending {
            let cost = match event {
                RunEvent::StepSucceeded(e) => e.cost,
                RunEvent::StepFailed(e) => e.cost,
                _ => continue,
            };
            if cost > 0 {
                account.send(BillingCommand::CaptureCredits(CaptureCredits { reservation_id, amount: cost }));
            }
        }
        let run = state.0.clone().unwrap();
        if run.status.is_final() {
            break;
        }
        prop_assert!(turn < 500, "the run did not end");
        let (command, facts, caller) = command_for(next_step(&run), outcomes[turn % outcomes.len()]);
        pending = RunAggregate::decide(&command, &state, &facts, &caller).unwrap();
        state = apply(state, &pending);
        history.extend(pending.iter().cloned());
        turn += 1;
    }
    let released =
        match account.send(BillingCommand::ReleaseReservation(ReleaseReservation { reservation_id })).as_slice() {
            [BillingEvent::ReservationReleased(e)] => e.amount,
            other => panic!("released with {other:?}"),
        };
    let captured = 1_000 - account.0.balance;
    prop_assert_eq!(captured + released, budget, "captured + released = reserved");
    prop_assert_eq!(captured, state.0.unwrap().used, "billing captured what the run used");
    Ok(history)
}

/// Every input the run recorded (scheduled or reused) is its step's template applied to the
/// run's input and the outputs its steps actually gave.
fn inputs_follow_their_templates(history: &[RunEvent]) -> Result<(), TestCaseError> {
    let Some(RunEvent::RunRequested(requested)) = history.first() else { panic!("{history:?}") };
    let mut outputs = std::collections::BTreeMap::new();
    for event in history {
        match event {
            RunEvent::StepSucceeded(e) => outputs.insert(e.step_id.clone(), e.output.clone()),
            RunEvent::StepReused(e) => outputs.insert(e.step_id.clone(), e.output.clone()),
            _ => None,
        };
    }
    let expected = |step_id: &str| {
        let step = requested.steps.iter().find(|s| s.id == step_id).unwrap();
        template::resolve(&step.input, &|source: &Source| match source {
            Source::RunInput => Some(&requested.input),
            Source::StepOutput(id) => outputs.get(id),
        })
    };
    for event in history {
        let (step_id, input) = match event {
            RunEvent::StepScheduled(e) => (&e.step_id, &e.input),
            RunEvent::StepAwaiting(e) => (&e.step_id, &e.input),
            RunEvent::StepReused(e) => (&e.step_id, &e.input),
            RunEvent::StepFailed(e) if e.error.starts_with("input_reference_missing") => {
                prop_assert!(expected(&e.step_id).is_err(), "{} failed though its input resolves", e.step_id);
                continue;
            }
            _ => continue,
        };
        let resolved = expected(step_id);
        prop_assert_eq!(resolved.as_ref(), Ok(input), "step {}", step_id);
    }
    Ok(())
}

proptest! {
    /// Runs of DAGs whose steps pass data along, with failures, timeouts and missing paths, and
    /// a retry of each run that failed: every run is billed exactly, every recorded input is
    /// its template applied to the outputs that actually ran, and a retry reruns nothing it
    /// could take over.
    #[test]
    fn data_flows_as_recorded_and_retries_bill_only_what_runs((steps, first, second) in arb_templated_run()) {
        let requested = |run_id: Uuid, retry_of: Option<Uuid>| RunRequested {
            run_id,
            workspace_id: WORKSPACE,
            workflow_id: Uuid::from_u128(9),
            workflow_version: 1,
            input: serde_json::json!({"topic": "otters"}),
            budget: 150,
            steps: steps.clone(),
            output: None,
            retry_of,
        };
        let old = Uuid::from_u128(0x01d);
        let history = drive(vec![requested(old, None).into()], 150, &first)?;
        inputs_follow_their_templates(&history)?;
        let Some(RunEvent::RunFailed(_)) = history.last() else { return Ok(()) };
        // The retry, decided as StartRun decides it, from what the first run recorded.
        let prior = PriorRun::from_history(old, &history).unwrap();
        let workflow = WorkflowSnapshot { workspace_id: WORKSPACE, version: 1, archived: false, steps: steps.clone(), output: None };
        let facts = RunFacts { access: Access::of(Role::Member), workflow: Some(workflow), prior: Some(prior.clone()) };
        let start = RunCommand::StartRun(StartRun { workspace_id: WORKSPACE, workflow_id: Uuid::from_u128(9), workflow_version: None, input: serde_json::Value::Null, budget: 150, retry_of: Some(old) });
        let requested = RunAggregate::decide(&start, &RunState::default(), &facts, &context_of("alice")).unwrap();
        let reused: Vec<String> = requested.iter().filter_map(|e| match e { RunEvent::StepReused(r) => Some(r.step_id.clone()), _ => None }).collect();
        // With the same input, everything that succeeded before and depends only on such steps
        // is taken over.
        for step in &steps {
            let taken = prior.succeeded.contains_key(&step.id) && step.depends_on.iter().all(|d| reused.contains(d));
            prop_assert_eq!(reused.contains(&step.id), taken, "step {}", step.id);
        }
        let retried = drive(requested, 150, &second)?;
        inputs_follow_their_templates(&retried)?;
        let ran_again: Vec<&String> = retried.iter().filter_map(|e| match e { RunEvent::StepScheduled(s) => Some(&s.step_id), _ => None }).collect();
        prop_assert!(ran_again.iter().all(|id| !reused.contains(id)), "a reused step ran again");
    }
}

/// An approval step after `a`, for admins, and a signal step after it that a member or the
/// worker of agent 7 sends.
fn with_a_person() -> Vec<PlannedStep> {
    let waits = |id: &str, depends_on: &[&str], kind| PlannedStep {
        kind,
        agent_id: None,
        executor: None,
        price: None,
        timeout_ms: 5_000,
        input: serde_json::json!({"draft": "{{ steps.a.output }}"}),
        ..planned(id, depends_on, 1)
    };
    vec![
        planned("a", &[], 1),
        PlannedStep { approvers: Some(Role::Admin), ..waits("review", &["a"], StepKind::Approval) },
        PlannedStep { signal_agent_id: Some(Uuid::from_u128(7)), ..waits("callback", &["review"], StepKind::Signal) },
    ]
}

fn awaiting(step: &str, kind: StepKind, input: serde_json::Value) -> RunEvent {
    let context = context_of("alice");
    StepAwaiting {
        step_id: step.into(),
        attempt: 1,
        kind,
        input,
        deadline: context.now + Duration::milliseconds(5_000),
    }
    .into()
}

fn member(role: Role) -> RunFacts {
    RunFacts { access: Access::of(role), workflow: None, prior: None }
}

fn approve(step: &str) -> RunCommand {
    RunCommand::ApproveStep(ApproveStep { step_id: step.into(), comment: Some("looks right".into()) })
}

#[test]
fn an_approval_waits_for_a_member_of_its_role_and_costs_nothing() {
    let history = vec![
        requested(with_a_person(), 100),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
    ];
    // a's success makes the approval wait, with its input resolved: nothing is dispatched.
    let review = awaiting("review", StepKind::Approval, serde_json::json!({"draft": {"ok": true}}));
    given::<RunAggregate>(history.clone())
        .when_with(complete("a", 1, 0), &system(), by_saga())
        .then([succeeded("a", 1, 0, 2), review.clone()]);

    let waiting = [history, vec![succeeded("a", 1, 0, 2), review]].concat();
    given::<RunAggregate>(waiting.clone())
        .when_with(approve("review"), &member(Role::Member), context_of("bob"))
        .then_err(RunError::RoleTooLow { required: Role::Admin });
    given::<RunAggregate>(waiting.clone())
        .when_with(approve("review"), &member(Role::Owner), by_saga())
        .then_err(RunError::NotAMember);
    given::<RunAggregate>(waiting.clone())
        .when_with(approve("review"), &RunFacts { access: Access::default(), ..system() }, context_of("eve"))
        .then_err(RunError::NotAMember);
    let signal = RunCommand::SignalStep(SignalStep { step_id: "review".into(), payload: serde_json::json!(1) });
    given::<RunAggregate>(waiting.clone())
        .when_with(signal, &member(Role::Owner), context_of("carol"))
        .then_err(RunError::WrongStepKind { step: "review".into(), kind: StepKind::Approval });
    let suspended = RunFacts { access: Access { role: Some(Role::Admin), suspended: true }, ..system() };
    given::<RunAggregate>(waiting.clone())
        .when_with(approve("review"), &suspended, context_of("carol"))
        .then_err(RunError::WorkspaceSuspended);

    // An admin approves: the step succeeds for nothing and the signal step waits next.
    let approved: RunEvent = StepSucceeded {
        step_id: "review".into(),
        attempt: 1,
        output: serde_json::json!({"approved": true, "by": "carol", "comment": "looks right"}),
        input_tokens: 0,
        output_tokens: 0,
        duration_ms: 0,
        cost: 0,
        artifacts: Vec::new(),
    }
    .into();
    let callback = awaiting("callback", StepKind::Signal, serde_json::json!({"draft": {"ok": true}}));
    given::<RunAggregate>(waiting.clone())
        .when_with(approve("review"), &member(Role::Admin), context_of("carol"))
        .then([approved.clone(), callback.clone()]);
    // The same verdict again by the same person appends nothing; anyone else's is too late.
    let answered = [waiting.clone(), vec![approved, callback]].concat();
    given::<RunAggregate>(answered.clone())
        .when_with(approve("review"), &member(Role::Admin), context_of("carol"))
        .then([]);
    given::<RunAggregate>(answered.clone())
        .when_with(approve("review"), &member(Role::Owner), context_of("dave"))
        .then_err(RunError::StepNotWaiting { step: "review".into() });
    // Nobody completes a step a person answers.
    given::<RunAggregate>(answered.clone())
        .when_with(complete("callback", 1, 0), &system(), by_saga())
        .then_err(RunError::StaleAttempt { step: "callback".into(), attempt: 1 });

    // The signal's agent's worker sends the last output: the run succeeds having paid for a.
    let worker_of = |agent: u128| crate::CommandContext {
        principal: crate::Principal::Worker { agent_id: Uuid::from_u128(agent), workspace_id: WORKSPACE },
        ..context_of("worker:c1")
    };
    let signal = |payload| RunCommand::SignalStep(SignalStep { step_id: "callback".into(), payload });
    given::<RunAggregate>(answered.clone())
        .when_with(signal(serde_json::json!({"published": true})), &RunFacts::default(), worker_of(8))
        .then_err(RunError::NotThisWorkersStep { step: "callback".into() });
    let signalled: RunEvent = StepSucceeded {
        step_id: "callback".into(),
        attempt: 1,
        output: serde_json::json!({"published": true}),
        input_tokens: 0,
        output_tokens: 0,
        duration_ms: 0,
        cost: 0,
        artifacts: Vec::new(),
    }
    .into();
    given::<RunAggregate>(answered.clone())
        .when_with(signal(serde_json::json!({"published": true})), &RunFacts::default(), worker_of(7))
        .then([signalled.clone(), RunSucceeded { credits_used: 2, output: None }.into()]);
    let done = [answered, vec![signalled, RunSucceeded { credits_used: 2, output: None }.into()]].concat();
    given::<RunAggregate>(done.clone())
        .when_with(signal(serde_json::json!({"published": true})), &member(Role::Member), context_of("bob"))
        .then([]);
    given::<RunAggregate>(done)
        .when_with(signal(serde_json::json!({"published": false})), &member(Role::Member), context_of("bob"))
        .then_err(RunError::StepNotWaiting { step: "callback".into() });
}

#[test]
fn a_rejection_fails_the_run_and_a_deadline_times_the_approval_out_without_retry() {
    let waiting = vec![
        requested(with_a_person(), 100),
        RunStarted { reservation_id: Uuid::from_u128(5) }.into(),
        scheduled("a", 1),
        succeeded("a", 1, 0, 2),
        awaiting("review", StepKind::Approval, serde_json::json!({"draft": {"ok": true}})),
    ];
    let reject = RunCommand::RejectStep(RejectStep { step_id: "review".into(), reason: "off topic".into() });
    let rejected = vec![
        StepFailed {
            step_id: "review".into(),
            attempt: 1,
            error: "rejected: off topic".into(),
            retryable: false,
            cost: 0,
            by: Some("carol".into()),
        }
        .into(),
        RunFailed { reason: "step_rejected".into(), credits_used: 2 }.into(),
    ];
    given::<RunAggregate>(waiting.clone())
        .when_with(reject.clone(), &member(Role::Admin), context_of("carol"))
        .then(rejected.clone());
    let over = [waiting.clone(), rejected].concat();
    given::<RunAggregate>(over.clone()).when_with(reject.clone(), &member(Role::Admin), context_of("carol")).then([]);
    given::<RunAggregate>(over)
        .when_with(approve("review"), &member(Role::Admin), context_of("carol"))
        .then_err(RunError::StepNotWaiting { step: "review".into() });

    let timer = RunCommand::TimeOutStep(TimeOutStep { step_id: "review".into(), attempt: 1 });
    given::<RunAggregate>(waiting).when_with(timer, &system(), by_saga()).then([
        StepTimedOut { step_id: "review".into(), attempt: 1 }.into(),
        RunFailed { reason: "step_timed_out".into(), credits_used: 2 }.into(),
    ]);
}
