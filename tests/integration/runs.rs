//! Runs end to end: the run saga reserves the budget, dispatches each step to its executor
//! (built-in, a webhook served by the test, an external worker reading the tasks topic),
//! retries, times out, and settles the run's credits exactly once, even across a kill -9.

use std::collections::BTreeMap;
use std::time::Duration;

use events::RecordedEvent;
use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

/// A workspace owned by `alice` with a billing account holding `credits`.
pub(crate) async fn funded_workspace(app: &TestApp, credits: i64) -> Uuid {
    workspace_with_account(app, credits, json!({"plan": "team", "overdraft_limit": 0})).await
}

/// The owner opens the account; an operator sets its overdraft, if any, and grants `credits`.
pub(crate) async fn workspace_with_account(app: &TestApp, credits: i64, mut account: Value) -> Uuid {
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Runs"}})).await;
    let overdraft = account.as_object_mut().and_then(|account| account.remove("overdraft_limit")).unwrap_or_default();
    app.ok(&alice, json!({"type": "OpenBillingAccount", "id": workspace, "payload": account})).await;
    if overdraft.as_i64().is_some_and(|limit| limit > 0) {
        let set = json!({"type": "SetOverdraftLimit", "id": workspace, "payload": {"overdraft_limit": overdraft}});
        app.ok(&app.operator(), set).await;
    }
    app.grant(workspace, credits).await;
    workspace
}

pub(crate) async fn agent(app: &TestApp, workspace: Uuid, executor: Value, per_call: u64, per_1k_tokens: u64) -> Uuid {
    let id = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "RegisterAgent", "id": id, "payload": {"workspace_id": workspace, "name": format!("agent {id}"),
            "kind": "tool", "executor": executor, "price": {"per_call": per_call, "per_1k_tokens": per_1k_tokens}}}),
    )
    .await;
    id
}

pub(crate) fn builtin(name: &str, config: Value) -> Value {
    json!({"type": "builtin", "name": name, "config": config})
}

pub(crate) async fn workflow(app: &TestApp, workspace: Uuid, steps: Value) -> Uuid {
    let id = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "DefineWorkflow", "id": id, "payload": {"workspace_id": workspace, "name": "flow", "steps": steps}}),
    )
    .await;
    id
}

pub(crate) async fn start_run(app: &TestApp, workspace: Uuid, workflow: Uuid, budget: i64) -> Uuid {
    let run = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": workflow,
            "input": {"topic": "otters"}, "budget": budget}}),
    )
    .await;
    run
}

async fn stream(app: &TestApp, stream_id: &str) -> Vec<RecordedEvent> {
    store::read_stream(&app.db.pool, stream_id, 0).await.unwrap()
}

/// Waits until `done` holds of the stream's events, for at most `seconds`.
pub(crate) async fn wait_for(
    app: &TestApp,
    stream_id: &str,
    seconds: u64,
    done: impl Fn(&[RecordedEvent]) -> bool,
) -> Vec<RecordedEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let events = stream(app, stream_id).await;
        if done(&events) {
            return events;
        }
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert!(tokio::time::Instant::now() < deadline, "{stream_id} did not get there: {types:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has(events: &[RecordedEvent], event_type: &str) -> bool {
    events.iter().any(|e| e.event_type == event_type)
}

pub(crate) fn types(events: &[RecordedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

/// Waits for the run's end.
pub(crate) async fn finished(app: &TestApp, run: Uuid) -> Vec<RecordedEvent> {
    let ends = ["RunSucceeded", "RunFailed", "RunCancelled", "RunRejected"];
    wait_for(app, &format!("run-{run}"), 60, |events| events.iter().any(|e| ends.contains(&e.event_type.as_str())))
        .await
}

/// The run's reservation once released: (reserved, captured, released), and every capture's
/// amount, after checking that each happened as often as it should.
pub(crate) async fn settlement(app: &TestApp, workspace: Uuid, run: Uuid) -> (i64, i64, i64) {
    let events = wait_for(app, &format!("billing-{workspace}"), 30, |events| {
        events.iter().any(|e| e.event_type == "ReservationReleased" && e.payload["reservation_id"] == json!(run))
    })
    .await;
    let of_run: Vec<&RecordedEvent> = events.iter().filter(|e| e.payload["reservation_id"] == json!(run)).collect();
    let sum = |event_type: &str| -> i64 {
        of_run.iter().filter(|e| e.event_type == event_type).map(|e| e.payload["amount"].as_i64().unwrap()).sum()
    };
    let count = |event_type: &str| of_run.iter().filter(|e| e.event_type == event_type).count();
    assert_eq!(count("CreditsReserved"), 1, "reserved once");
    assert_eq!(count("ReservationReleased"), 1, "released once");
    (sum("CreditsReserved"), sum("CreditsCaptured"), sum("ReservationReleased"))
}

fn credits_used(events: &[RecordedEvent]) -> i64 {
    events.last().unwrap().payload["credits_used"].as_i64().unwrap()
}

/// Each attempt's cost, by step and attempt, from the run's events.
fn attempt_costs(events: &[RecordedEvent]) -> BTreeMap<(String, u64), i64> {
    events
        .iter()
        .filter(|e| matches!(e.event_type.as_str(), "StepSucceeded" | "StepFailed"))
        .map(|e| {
            let key = (e.payload["step_id"].as_str().unwrap().to_owned(), e.payload["attempt"].as_u64().unwrap());
            (key, e.payload["cost"].as_i64().unwrap())
        })
        .collect()
}

pub(crate) fn step(id: &str, agent: Uuid, depends_on: &[&str]) -> Value {
    json!({"id": id, "agent_id": agent, "depends_on": depends_on, "input": {"step": id}})
}

/// An echo agent (2 credits a call), a usage agent (1,500 tokens: 1 + 3 credits) and the
/// workflow fetch → (clean ∥ summarize) → merge → report. Returns their ids.
pub(crate) async fn five_step_workflow(app: &TestApp, workspace: Uuid) -> (Uuid, Uuid, Uuid) {
    let echo = agent(app, workspace, builtin("echo", json!({})), 2, 0).await;
    let usage = agent(app, workspace, builtin("usage", json!({"tokens": 1500})), 1, 2).await;
    let flow = workflow(
        app,
        workspace,
        json!([
            step("fetch", echo, &[]),
            step("clean", echo, &["fetch"]),
            step("summarize", usage, &["fetch"]),
            step("merge", echo, &["clean", "summarize"]),
            step("report", echo, &["merge"])
        ]),
    )
    .await;
    (echo, usage, flow)
}

/// A rebuild from the log (runs folded in memory, see `projections::runs::bulk`) holds exactly
/// what the live projection built event by event.
async fn rebuild_agrees(app: &TestApp) {
    let (code, stdout, stderr) = tests::oxbow_output(&app.config, &["projections", "diff", "catalog"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_step_run_with_a_parallel_branch_succeeds_and_is_billed_once() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let (_, _, flow) = five_step_workflow(&app, workspace).await;
    let run = start_run(&app, workspace, flow, 100).await;

    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    // echo: 2 per call, four times; usage: 1 + ceil(1500 × 2 / 1000) = 4.
    assert_eq!(credits_used(&events), 12);
    // The two branches after `fetch` are scheduled together, before either is done.
    let scheduled: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "StepScheduled")
        .map(|e| e.payload["step_id"].as_str().unwrap())
        .collect();
    assert_eq!(scheduled, ["fetch", "clean", "summarize", "merge", "report"]);
    let position_of = |event_type: &str, step: &str| {
        events.iter().find(|e| e.event_type == event_type && e.payload["step_id"] == step).unwrap().stream_version
    };
    assert!(position_of("StepScheduled", "summarize") < position_of("StepSucceeded", "clean"));
    assert_eq!(
        events.iter().find(|e| e.event_type == "StepSucceeded").unwrap().payload["output"],
        json!({"step": "fetch"})
    );

    let (reserved, captured, released) = settlement(&app, workspace, run).await;
    assert_eq!((reserved, captured, released), (100, 12, 88));
    let billing = stream(&app, &format!("billing-{workspace}")).await;
    let captures: Vec<i64> = billing
        .iter()
        .filter(|e| e.event_type == "CreditsCaptured")
        .map(|e| e.payload["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(captures.iter().sum::<i64>(), 12, "usage is captured per step: {captures:?}");
    assert_eq!(captures.len(), 5);
    // The saga acts under its own name, for the audit trail.
    assert_eq!(billing.last().unwrap().metadata["actor"], "system:run-saga");
    rebuild_agrees(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_backoff_then_fail_the_run_and_timeouts_end_slow_steps() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let fail = agent(&app, workspace, builtin("fail", json!({"error": "model overloaded"})), 3, 0).await;
    let slow = agent(&app, workspace, builtin("sleep", json!({"ms": 2_000})), 1, 0).await;
    let failing = workflow(
        &app,
        workspace,
        json!([{"id": "flaky", "agent_id": fail, "retry": {"max_attempts": 3, "backoff_ms": 100}}]),
    )
    .await;
    let timing_out = workflow(
        &app,
        workspace,
        json!([{"id": "slow", "agent_id": slow, "timeout_ms": 300, "retry": {"max_attempts": 1, "backoff_ms": 0}}]),
    )
    .await;
    let (run, slow_run) =
        (start_run(&app, workspace, failing, 50).await, start_run(&app, workspace, timing_out, 50).await);

    let events = finished(&app, run).await;
    assert_eq!(
        types(&events),
        [
            "RunRequested",
            "RunStarted",
            "StepScheduled",
            "StepFailed",
            "StepRetryScheduled",
            "StepScheduled",
            "StepFailed",
            "StepRetryScheduled",
            "StepScheduled",
            "StepFailed",
            "RunFailed"
        ]
    );
    assert_eq!(events.last().unwrap().payload["reason"], "step_failed");
    assert_eq!(events[3].payload["error"], "model overloaded");
    // The retry waited its backoff: planned 100 ms after the failure was decided (which is a
    // little before it was recorded), and not scheduled before then.
    let (failed_at, rescheduled_at) = (events[3].recorded_at, events[5].recorded_at);
    let retry_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(events[4].payload["at"].clone()).unwrap();
    assert!(retry_at - failed_at >= chrono::Duration::milliseconds(50), "{failed_at} → {retry_at}");
    assert!(rescheduled_at >= retry_at, "{retry_at} → {rescheduled_at}");
    assert_eq!(settlement(&app, workspace, run).await, (50, 9, 41));

    let events = finished(&app, slow_run).await;
    assert_eq!(types(&events), ["RunRequested", "RunStarted", "StepScheduled", "StepTimedOut", "RunFailed"]);
    assert_eq!(events.last().unwrap().payload["reason"], "step_timed_out");
    assert_eq!(settlement(&app, workspace, slow_run).await, (50, 0, 50));
    // The sleeper's report arrives after the deadline and is refused: nothing more is recorded.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(stream(&app, &format!("run-{slow_run}")).await.len(), events.len());
    rebuild_agrees(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_credits_and_a_suspended_workspace_reject_runs_and_cancel_settles() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 100).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let sleeper = agent(&app, workspace, builtin("sleep", json!({"ms": 60_000})), 1, 0).await;
    let quick = workflow(&app, workspace, json!([step("only", echo, &[])])).await;
    let slow = workflow(&app, workspace, json!([step("first", echo, &[]), step("wait", sleeper, &["first"])])).await;

    let greedy = start_run(&app, workspace, quick, 101).await;
    let events = finished(&app, greedy).await;
    assert_eq!(types(&events), ["RunRequested", "RunRejected"]);
    assert_eq!(events[1].payload["reason"], "insufficient_credits");

    // Cancelling a running run stops it and gives back what it did not use.
    let cancelled = start_run(&app, workspace, slow, 60).await;
    wait_for(&app, &format!("run-{cancelled}"), 30, |events| {
        events.iter().any(|e| e.event_type == "StepScheduled" && e.payload["step_id"] == "wait")
    })
    .await;
    app.ok(
        &app.token("alice"),
        json!({"type": "CancelRun", "id": cancelled, "payload": {"reason": "changed my mind"}}),
    )
    .await;
    let events = finished(&app, cancelled).await;
    assert_eq!(events.last().unwrap().event_type, "RunCancelled");
    assert_eq!(settlement(&app, workspace, cancelled).await, (60, 1, 59));
    let (status, problem) =
        app.command(&app.token("alice"), json!({"type": "CancelRun", "id": cancelled, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("run_finished")), "{problem}");

    app.ok(&app.operator(), json!({"type": "SuspendWorkspace", "id": workspace, "payload": {"reason": "audit"}})).await;
    let blocked = start_run(&app, workspace, quick, 10).await;
    let events = finished(&app, blocked).await;
    assert_eq!(types(&events), ["RunRequested", "RunRejected"]);
    assert_eq!(events[1].payload["reason"], "workspace_suspended");
    let billing = stream(&app, &format!("billing-{workspace}")).await;
    assert!(
        !billing
            .iter()
            .any(|e| e.payload["reservation_id"] == json!(blocked) || e.payload["reservation_id"] == json!(greedy))
    );
    rebuild_agrees(&app).await;
}

/// A webhook agent: answers `{"output", "usage"}` for `/ok`, and never in time for `/slow`.
pub(crate) async fn webhook_server() -> (String, tokio::task::JoinHandle<()>) {
    use axum::Json;
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/ok",
            post(|Json(task): Json<Value>| async move {
                Json(json!({"output": {"summary": format!("read {}", task["input"]["step"])}, "usage": {"tokens": 2000}}))
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Json(json!({"output": null}))
            }),
        );
    tests::serve_locally(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_agents_are_called_with_their_timeout() {
    let (base, server) = webhook_server().await;
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let ok = agent(&app, workspace, json!({"type": "webhook", "url": format!("{base}/ok"), "timeout_ms": 2_000}), 1, 1)
        .await;
    let slow =
        agent(&app, workspace, json!({"type": "webhook", "url": format!("{base}/slow"), "timeout_ms": 200}), 1, 0)
            .await;
    let good = workflow(&app, workspace, json!([step("read", ok, &[])])).await;
    let bad = workflow(
        &app,
        workspace,
        json!([{"id": "wait", "agent_id": slow, "retry": {"max_attempts": 2, "backoff_ms": 50}}]),
    )
    .await;
    let (good_run, bad_run) = (start_run(&app, workspace, good, 20).await, start_run(&app, workspace, bad, 20).await);

    let events = finished(&app, good_run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let succeeded = events.iter().find(|e| e.event_type == "StepSucceeded").unwrap();
    assert_eq!(succeeded.payload["output"], json!({"summary": "read \"read\""}));
    assert_eq!(
        (succeeded.payload["input_tokens"].as_u64(), succeeded.payload["output_tokens"].as_u64()),
        (Some(2000), Some(0))
    );
    assert_eq!(credits_used(&events), 3);

    let events = finished(&app, bad_run).await;
    assert_eq!(events.last().unwrap().event_type, "RunFailed", "{:?}", types(&events));
    let errors: Vec<&str> =
        events.iter().filter(|e| e.event_type == "StepFailed").map(|e| e.payload["error"].as_str().unwrap()).collect();
    assert_eq!(errors, ["no answer within 200 ms", "no answer within 200 ms"]);
    assert_eq!(settlement(&app, workspace, bad_run).await, (20, 2, 18));
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_worker_takes_its_task_from_kafka_and_reports_over_http() {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::Message;

    // A deployment whose workers are all its own opts in to the shared tasks topic.
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.tasks_topic = Some(format!("{}.tasks", config.events_topic.trim_end_matches(".events")))
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    app.join(&app.token("alice"), workspace, "worker", "member").await;
    let external = agent(&app, workspace, json!({"type": "external"}), 5, 1).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let flow = workflow(&app, workspace, json!([step("think", external, &[]), step("tell", echo, &["think"])])).await;

    let worker: StreamConsumer =
        platform::kafka::consumer_config(&app.config.kafka(), &tests::unique_name("worker")).create().unwrap();
    worker.subscribe(&[app.config.tasks_topic.as_deref().unwrap()]).unwrap();
    let run = start_run(&app, workspace, flow, 50).await;

    let message = tokio::time::timeout(Duration::from_secs(60), worker.recv()).await.expect("a task").unwrap();
    let task: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
    assert_eq!(
        (task["run_id"].clone(), task["step_id"].clone(), task["attempt"].clone()),
        (json!(run), json!("think"), json!(1))
    );
    assert_eq!(task["input"], json!({"step": "think"}));
    assert_eq!(message.key(), Some(run.to_string().as_bytes()));

    // The owner issues the external agent a worker credential, shown once.
    let alice = app.token("alice");
    let issue = |agent: Uuid| json!({"type": "IssueWorkerCredential", "id": agent, "payload": {}});
    let issued = app.ok(&alice, issue(external)).await;
    let token = issued["worker_credential"].as_str().expect("the credential, once").to_owned();
    assert!(token.starts_with(&format!("oxw.{external}.")), "{issued}");
    let logged = stream(&app, &format!("agent-{external}")).await;
    let secret = token.rsplit('.').next().unwrap();
    assert!(logged.iter().all(|event| !event.payload.to_string().contains(secret)), "the log keeps no secret");
    let (status, problem) = app.command(&alice, issue(echo)).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("agent_not_external")), "{problem}");

    let report = |kind: &str, extra: Value| {
        let mut payload = json!({"step_id": "think", "attempt": 1});
        payload.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"type": kind, "id": run, "payload": payload})
    };
    // A member's token reports nothing: the report sets what the run costs.
    let (status, problem) = app.command(&app.token("worker"), report("ReportStepStarted", json!({}))).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("worker_credential_required")), "{problem}");
    app.ok(&token, report("ReportStepStarted", json!({}))).await;
    // A report for another attempt is refused.
    let (status, problem) = app
        .command(
            &token,
            json!({"type": "FailStep", "id": run, "payload": {"step_id": "think", "attempt": 2,
            "error": "late", "retryable": false}}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("stale_attempt")), "{problem}");
    // The credential reports its own agent's steps only, and sends nothing else.
    let (status, problem) = app
        .command(&token, json!({"type": "CompleteStep", "id": run, "payload": {"step_id": "tell", "attempt": 1}}))
        .await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_this_workers_step")), "{problem}");
    let (status, problem) = app.command(&token, json!({"type": "CancelRun", "id": run, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("worker_reports_only")), "{problem}");
    let complete =
        report("CompleteStep", json!({"output": {"answer": 42}, "usage": {"tokens": 1000, "duration_ms": 7}}));
    let completed = app.ok(&token, complete.clone()).await;
    // The same report again changes nothing (the run may have ended meanwhile: the next step
    // is built in and quick).
    let (status, again) = app.command(&token, complete).await;
    match status {
        200 => assert!(again["events"].as_array().unwrap().is_empty(), "{again}"),
        _ => assert_eq!((status, again["code"].as_str()), (422, Some("run_finished")), "{again}"),
    }

    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    assert_eq!(credits_used(&events), 7);
    assert_eq!(settlement(&app, workspace, run).await, (50, 7, 43));
    let step_report = events.iter().find(|e| e.event_type == "StepSucceeded").unwrap();
    assert_eq!(
        step_report.metadata["actor"].as_str().unwrap(),
        format!("worker:{}", issued["events"][0]["payload"]["credential_id"].as_str().unwrap())
    );

    // Admins list the credentials in force, without their secrets; members see none.
    let query = format!(r#"{{ agent(id: "{external}") {{ workerCredentials {{ id issuedBy }} }} }}"#);
    let listed = app.graphql(Some(&alice), &query, completed["position"].as_i64()).await;
    let credential_id = issued["events"][0]["payload"]["credential_id"].clone();
    assert_eq!(listed["data"]["agent"]["workerCredentials"], json!([{"id": credential_id, "issuedBy": "alice"}]));
    let hidden = app.graphql(Some(&app.token("worker")), &query, None).await;
    assert_eq!(hidden["data"]["agent"]["workerCredentials"], json!([]), "{hidden}");

    // Revoked, it is refused at once; a second credential dies with its agent's retirement.
    let revoke = json!({"type": "RevokeWorkerCredential", "id": external, "payload": {"credential_id": credential_id}});
    app.ok(&alice, revoke).await;
    let started = report("ReportStepStarted", json!({}));
    assert_eq!(app.command(&token, started.clone()).await.0, 401);
    let second = app.ok(&alice, issue(external)).await["worker_credential"].as_str().unwrap().to_owned();
    assert_eq!(app.command(&second, started.clone()).await.1["code"], "run_finished");
    app.ok(&alice, json!({"type": "RetireAgent", "id": external, "payload": {}})).await;
    assert_eq!(app.command(&second, started).await.0, 401);
    // Nor does a made-up one pass.
    let forged = format!("oxw.{external}.{}.{}", Uuid::now_v7(), "0".repeat(64));
    assert_eq!(app.command(&forged, report("ReportStepStarted", json!({}))).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_a_kill_of_its_saga_and_is_billed_exactly_once() {
    use oxbow::Role;
    let app = TestApp::start_with(&[Role::WriteApi, Role::Relay], |_| {}).await;
    let mut saga = tests::oxbow_serve("saga", &app.config);
    let workspace = funded_workspace(&app, 1_000).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let sleeper = agent(&app, workspace, builtin("sleep", json!({"ms": 1_500})), 3, 0).await;
    let flow = workflow(
        &app,
        workspace,
        json!([
            step("a", echo, &[]),
            step("b", sleeper, &["a"]),
            step("c", sleeper, &["a"]),
            step("d", echo, &["b", "c"])
        ]),
    )
    .await;
    let run = start_run(&app, workspace, flow, 40).await;

    // Kill the saga while both sleepers are at work.
    wait_for(&app, &format!("run-{run}"), 60, |events| {
        events.iter().filter(|e| e.event_type == "StepScheduled").count() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    saga.kill().await.unwrap();
    let at_kill = stream(&app, &format!("run-{run}")).await;
    assert!(!has(&at_kill, "RunSucceeded"), "the run should still be going: {:?}", types(&at_kill));

    let _restarted = tests::oxbow_serve("saga", &app.config);
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    assert_eq!(credits_used(&events), 10);
    let costs = attempt_costs(&events);
    assert_eq!(costs.len(), 4, "one attempt per step: {costs:?}");
    assert_eq!(settlement(&app, workspace, run).await, (40, 10, 30));
    let billing = stream(&app, &format!("billing-{workspace}")).await;
    assert_eq!(billing.iter().filter(|e| e.event_type == "CreditsCaptured").count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_saga_warns_of_a_low_balance_suspends_for_an_overdue_invoice_and_reactivates_on_payment() {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::Message;

    let app = TestApp::start().await;
    let account = json!({"plan": "team", "overdraft_limit": 100, "low_balance_threshold": 5});
    let workspace = workspace_with_account(&app, 10, account).await;
    let pricey = agent(&app, workspace, builtin("echo", json!({})), 30, 0).await;
    let flow = workflow(&app, workspace, json!([step("only", pricey, &[])])).await;
    let notifications: StreamConsumer =
        platform::kafka::consumer_config(&app.config.kafka(), &tests::unique_name("mailer")).create().unwrap();
    notifications.subscribe(&[&app.config.notifications_topic]).unwrap();

    // 30 credits from a balance of 10: the overdraft comes into use, and the owners hear of it.
    let run = start_run(&app, workspace, flow, 40).await;
    assert_eq!(finished(&app, run).await.last().unwrap().event_type, "RunSucceeded");
    assert_eq!(settlement(&app, workspace, run).await, (40, 30, 10));
    let billing = stream(&app, &format!("billing-{workspace}")).await;
    let low = billing.iter().find(|e| e.event_type == "BalanceLow").expect("a low-balance event");
    assert_eq!(low.payload, json!({"balance": -20, "threshold": 5}));
    let message = tokio::time::timeout(Duration::from_secs(60), notifications.recv()).await.expect("a notice").unwrap();
    let notice: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
    assert_eq!(notice, json!({"type": "low_balance", "workspace_id": workspace, "balance": -20, "threshold": 5}));

    // The invoice for the overdraft falls due at once and stays unpaid: the workspace is suspended.
    let alice = app.token("alice");
    let closed =
        app.ok(&alice, json!({"type": "CloseBillingPeriod", "id": workspace, "payload": {"due_in_days": 0}})).await;
    let invoice = closed["events"][0]["payload"]["invoice_id"].clone();
    assert_eq!(closed["events"][0]["payload"]["amount"], 20);
    let suspended =
        wait_for(&app, &format!("workspace-{workspace}"), 30, |events| has(events, "WorkspaceSuspended")).await;
    let suspension = suspended.last().unwrap();
    assert_eq!(suspension.payload["reason"], "invoice_overdue");
    assert_eq!(suspension.metadata["actor"], "system:billing-saga");
    let blocked = start_run(&app, workspace, flow, 10).await;
    assert_eq!(finished(&app, blocked).await.last().unwrap().payload["reason"], "workspace_suspended");
    // The owner cannot lift it, nor impose one like it: paying lifts it.
    let (status, problem) =
        app.command(&alice, json!({"type": "ReactivateWorkspace", "id": workspace, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("overdue_suspension_is_billings")), "{problem}");

    // Nor record a payment of it: payments come from the provider or an operator.
    let pay = |amount: i64| json!({"type": "RecordPayment", "id": workspace, "payload": {"invoice_id": invoice, "amount": amount}});
    let (status, problem) = app.command(&alice, pay(5)).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("operator_required")), "{problem}");
    // Part of the money is not enough, however often the provider repeats its confirmation;
    // all of it reactivates the workspace.
    let payment = json!({"id": "pay_part", "type": "payment.succeeded", "workspace_id": workspace, "amount": 5,
        "invoice_id": invoice});
    for _ in 0..3 {
        let (status, answer) = app.deliver_payment(&payment, None).await;
        assert_eq!(status, 200, "{answer}");
    }
    let billing = stream(&app, &format!("billing-{workspace}")).await;
    let paid: Vec<&RecordedEvent> = billing.iter().filter(|e| e.event_type == "PaymentRecorded").collect();
    assert_eq!(paid.len(), 1, "the provider's repeats are one payment");
    // The billing saga looked at the account after the payment (its work for it is done) and
    // left the workspace suspended.
    let looked = format!("paid:{}", paid[0].event_id);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (handled, pending): (i64, i64) = sqlx::query_as(
            "select (select coalesce(max(version), 0) from projection_streams \
                      where projection = 'sagas' and stream_id = $1), \
                    (select count(*) from saga_work where key = $2)",
        )
        .bind(format!("billing-{workspace}"))
        .bind(&looked)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if handled >= paid[0].stream_version && pending == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the billing saga did not look at the partial payment");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let still = stream(&app, &format!("workspace-{workspace}")).await;
    assert_eq!(still.last().unwrap().event_type, "WorkspaceSuspended", "part of the money lifted the suspension");
    app.ok(&app.operator(), pay(15)).await;
    let events =
        wait_for(&app, &format!("workspace-{workspace}"), 30, |events| has(events, "WorkspaceReactivated")).await;
    assert_eq!(types(&events).iter().filter(|t| **t == "WorkspaceReactivated").count(), 1);
    // Running again; a budget of 10 does not cover a 30-credit step, so the run takes what it
    // was given and stops.
    let run = start_run(&app, workspace, flow, 10).await;
    let ended = finished(&app, run).await;
    assert_eq!(ended.last().unwrap().payload, json!({"reason": "budget_exhausted", "credits_used": 10}));
    assert_eq!(settlement(&app, workspace, run).await, (10, 10, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_serves_runs_with_their_steps_usage_and_live_updates_and_redis_refills_itself() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    app.join(&app.token("alice"), workspace, "vic", "viewer").await;
    let (echo, usage, flow) = five_step_workflow(&app, workspace).await;
    let viewer = app.token("vic");
    let run = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow,
                "input": {"topic": "otters"}, "budget": 100}}),
    )
    .await;
    let mut updates = app
        .subscribe(
            Some(&viewer),
            &format!(
                "subscription {{ runUpdated(runId: \"{run}\") {{ position eventType run {{ status creditsUsed }} }} }}"
            ),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(message) = updates.next_json().await {
        let update = &message["payload"]["data"]["runUpdated"];
        assert!(update.is_object(), "{message}");
        seen.push((update["eventType"].as_str().unwrap().to_owned(), update["run"]["status"].clone()));
        if update["eventType"] == "RunSucceeded" {
            assert_eq!(update["run"], json!({"status": "SUCCEEDED", "creditsUsed": 12}));
            break;
        }
    }
    // Every event of the run, from its first, once each.
    assert_eq!(seen[0].0, "RunRequested", "{seen:?}");
    assert_eq!(seen.iter().filter(|(t, _)| t == "StepSucceeded").count(), 5, "{seen:?}");
    assert_eq!(seen.len(), 13, "{seen:?}");

    let events = finished(&app, run).await;
    let query = format!(
        "{{ run(id: \"{run}\") {{ status budget creditsUsed workflowVersion startedBy steps {{ id status attempts output usage {{ tokens }} cost }} }} \
           runs(workspaceId: \"{workspace}\", status: SUCCEEDED) {{ edges {{ node {{ id }} }} }} \
           failed: runs(workspaceId: \"{workspace}\", status: FAILED) {{ edges {{ node {{ id }} }} }} \
           workspace(id: \"{workspace}\") {{ runCounts {{ succeeded running }} }} \
           usage(workspaceId: \"{workspace}\", from: \"2000-01-01\", to: \"2100-01-01\") {{ agentId attempts tokens credits }} }}"
    );
    let answer = app.graphql(Some(&viewer), &query, Some(events.last().unwrap().position)).await;
    let data = &answer["data"];
    assert_eq!(data["run"]["status"], "SUCCEEDED", "{answer}");
    assert_eq!((data["run"]["budget"].clone(), data["run"]["creditsUsed"].clone()), (json!(100), json!(12)));
    assert_eq!(data["run"]["startedBy"], "alice");
    let steps = data["run"]["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["fetch", "clean", "summarize", "merge", "report"]);
    assert!(steps.iter().all(|s| s["status"] == "SUCCEEDED" && s["attempts"] == 1));
    assert_eq!(steps[2]["usage"]["tokens"], 1500);
    assert_eq!(steps[2]["cost"], 4);
    assert_eq!(steps[0]["output"], json!({"step": "fetch"}));
    assert_eq!(data["runs"]["edges"], json!([{"node": {"id": run.to_string()}}]));
    assert_eq!(data["failed"]["edges"], json!([]));
    assert_eq!(data["workspace"]["runCounts"], json!({"succeeded": 1, "running": 0}));
    let usage_rows = data["usage"].as_array().unwrap();
    assert_eq!(usage_rows.len(), 2);
    assert_eq!(usage_rows[0], json!({"agentId": echo.to_string(), "attempts": 4, "tokens": 0, "credits": 8}));
    assert_eq!(usage_rows[1], json!({"agentId": usage.to_string(), "attempts": 1, "tokens": 1500, "credits": 4}));

    // Outsiders see nothing and cannot follow the run: to them it does not exist.
    let outsider = app.token("mallory");
    let answer = app.graphql(Some(&outsider), &format!("{{ run(id: \"{run}\") {{ status }} }}"), None).await;
    assert_eq!(answer["data"]["run"], Value::Null, "{answer}");
    let mut refused = app
        .subscribe(Some(&outsider), &format!("subscription {{ runUpdated(runId: \"{run}\") {{ position }} }}"))
        .await
        .unwrap();
    let message = refused.next_json().await.unwrap();
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{message}");

    // Redis loses what it serves; the projector fills it in again from the read models.
    let mut redis =
        redis::Client::open(app.config.redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let prefix = &app.config.redis_prefix;
    let counters = format!("{prefix}workspace:{workspace}:runs");
    let live = format!("{prefix}run:{run}");
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}live:filled"))
        .arg(&counters)
        .arg(&live)
        .query_async(&mut redis)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status: Option<String> = redis::cmd("HGET").arg(&live).arg("status").query_async(&mut redis).await.unwrap();
        let succeeded: Option<i64> =
            redis::cmd("HGET").arg(&counters).arg("SUCCEEDED").query_async(&mut redis).await.unwrap();
        if (status.as_deref(), succeeded) == (Some("SUCCEEDED"), Some(1)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "Redis was not filled in again: {status:?} {succeeded:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Input and output tokens are priced apart; an agent registered with the single rate of
/// before (a version 1 event in the log, or a command that still sends `per_1k_tokens`) costs
/// what it did, and the read side shows both counts and their sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_and_output_tokens_are_priced_apart_and_old_prices_cost_what_they_did() {
    use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    let llm = Uuid::now_v7();
    app.ok(
        &alice,
        json!({"type": "RegisterAgent", "id": llm, "payload": {"workspace_id": workspace, "name": "llm",
        "kind": "model", "executor": builtin("usage", json!({"input_tokens": 1500, "output_tokens": 500})),
        "price": {"per_call": 1, "per_1k_input_tokens": 1, "per_1k_output_tokens": 4}}}),
    )
    .await;
    // An agent registered before prices were split: its event says `per_1k_tokens`.
    let old = Uuid::now_v7();
    let log = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    log.append(AppendRequest::to_stream(
        format!("agent-{old}"),
        ExpectedVersion::NoStream,
        vec![events::NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "AgentRegistered".into(),
            schema_version: 1,
            payload: json!({"agent_id": old, "workspace_id": workspace, "name": "old", "kind": "tool",
                "executor": builtin("usage", json!({"tokens": 1500})), "price": {"per_call": 1, "per_1k_tokens": 2}}),
            metadata: json!({"actor": "alice", "workspace_id": workspace, "correlation_id": old, "causation_id": old}),
        }],
    ))
    .await
    .unwrap();
    let flow = workflow(&app, workspace, json!([step("think", llm, &[]), step("tool", old, &["think"])])).await;
    let run = start_run(&app, workspace, flow, 50).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let costs: Vec<(i64, u64, u64)> = events
        .iter()
        .filter(|e| e.event_type == "StepSucceeded")
        .map(|e| {
            let p = &e.payload;
            (p["cost"].as_i64().unwrap(), p["input_tokens"].as_u64().unwrap(), p["output_tokens"].as_u64().unwrap())
        })
        .collect();
    // 1 + ceil((1500 × 1 + 500 × 4) / 1000) = 5; the old agent: 1 + ceil(1500 × 2 / 1000) = 4, as before.
    assert_eq!(costs, [(5, 1500, 500), (4, 1500, 0)]);

    let last = events.last().unwrap().position;
    let today = chrono::Utc::now().date_naive();
    let query = format!(
        "{{ agent(id: \"{old}\") {{ price {{ perCall per1kInputTokens per1kOutputTokens }} }} \
           run(id: \"{run}\") {{ steps {{ usage {{ tokens inputTokens outputTokens }} }} }} \
           usage(workspaceId: \"{workspace}\", from: \"{today}\", to: \"{}\") {{ agentId tokens inputTokens outputTokens credits }} }}",
        today.succ_opt().unwrap()
    );
    let answer = app.graphql(Some(&alice), &query, Some(last)).await;
    assert_eq!(
        answer["data"]["agent"]["price"],
        json!({"perCall": 1, "per1kInputTokens": 2, "per1kOutputTokens": 2}),
        "{answer}"
    );
    assert_eq!(
        answer["data"]["run"]["steps"],
        json!([{"usage": {"tokens": 2000, "inputTokens": 1500, "outputTokens": 500}},
               {"usage": {"tokens": 1500, "inputTokens": 1500, "outputTokens": 0}}]),
        "{answer}"
    );
    let usage = answer["data"]["usage"].as_array().unwrap();
    assert!(
        usage.contains(
            &json!({"agentId": llm.to_string(), "tokens": 2000, "inputTokens": 1500, "outputTokens": 500, "credits": 5})
        ),
        "{answer}"
    );

    // A command that still sends the single rate sets both.
    let older = Uuid::now_v7();
    app.ok(
        &alice,
        json!({"type": "RegisterAgent", "id": older, "payload": {"workspace_id": workspace, "name": "older",
        "kind": "tool", "executor": builtin("echo", json!({})), "price": {"per_call": 0, "per_1k_tokens": 3}}}),
    )
    .await;
    let registered = store::read_stream(&app.db.pool, &format!("agent-{older}"), 0).await.unwrap();
    assert_eq!(
        registered[0].payload["price"],
        json!({"per_call": 0, "per_1k_input_tokens": 3, "per_1k_output_tokens": 3})
    );
}
