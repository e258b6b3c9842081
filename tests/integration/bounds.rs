//! What one tenant sends cannot stop the others: everything that reaches the log is bounded at
//! the command edge and on what executors return, so no event can fail a shared batch, a
//! projection or the relay.

use std::time::Duration;

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, settlement, start_run, step, types, workflow};

async fn head(app: &TestApp) -> i64 {
    store::read_head(&app.db.pool).await.unwrap().position
}

#[track_caller]
fn assert_refused(status: u16, body: &Value, expected_status: u16, code: &str, field: Option<&str>) {
    assert_eq!((status, body["code"].as_str()), (expected_status, Some(code)), "{body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_the_log_cannot_store_and_numbers_past_their_read_models_are_refused_at_the_edge() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let run = Uuid::now_v7();
    let before = head(&app).await;
    let cases = [
        (
            json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "a\u{0}b"}}),
            "nul_character",
            "/payload/name",
        ),
        (
            json!({"type": "StartRun", "id": run, "payload": {"workspace_id": Uuid::now_v7(), "workflow_id": Uuid::now_v7(),
                "input": {"deep": [{"k\u{0}": 1}]}, "budget": 5}}),
            "nul_character",
            "/payload/input/deep/0/k\u{0}",
        ),
        // The overflowing usage report: u64::MAX tokens was summed into a bigint before.
        (
            json!({"type": "CompleteStep", "id": run, "payload": {"step_id": "s", "attempt": 1, "output": null,
                "usage": {"tokens": u64::MAX}}}),
            "invalid_payload",
            "/payload/usage/tokens",
        ),
        (
            json!({"type": "CompleteStep", "id": run, "payload": {"step_id": "s", "attempt": 1, "output": "\u{0}"}}),
            "nul_character",
            "/payload/output",
        ),
        (
            json!({"type": "FailStep", "id": run, "payload": {"step_id": "s", "attempt": 1, "error": "e".repeat(5000),
                "retryable": false}}),
            "invalid_payload",
            "/payload/error",
        ),
        (
            json!({"type": "CancelRun", "id": run, "payload": {"reason": "r".repeat(5000)}}),
            "invalid_payload",
            "/payload/reason",
        ),
    ];
    for (command, code, field) in cases {
        let (status, body) = app.command(&alice, command).await;
        assert_refused(status, &body, 400, code, Some(field));
    }
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    let nested = json!({"type": "StartRun", "id": run, "payload": {"workspace_id": Uuid::now_v7(),
        "workflow_id": Uuid::now_v7(), "input": deep, "budget": 5}});
    let (status, body) = app.command(&alice, nested).await;
    assert_refused(status, &body, 400, "invalid_payload", None);
    assert_eq!(head(&app).await, before, "nothing was appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_size_limit_is_refused_with_413() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.max_event_bytes = 4096).await;
    let workspace = funded_workspace(&app, 100).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let before = head(&app).await;
    let steps: Vec<Value> =
        (0..4).map(|i| json!({"id": format!("s{i}"), "agent_id": echo, "input": {"text": "x".repeat(1500)}})).collect();
    let define = json!({"type": "DefineWorkflow", "id": Uuid::now_v7(),
        "payload": {"workspace_id": workspace, "name": "big", "steps": steps}});
    let (status, body) = app.command(&app.token("alice"), define).await;
    assert_refused(status, &body, 413, "event_too_large", None);
    assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");
    assert_eq!(head(&app).await, before);
}

/// A webhook agent that answers 2 MB for `/huge`, a NUL for `/nul` and a small answer for `/ok`.
async fn careless_webhooks() -> (String, tokio::task::JoinHandle<()>) {
    use axum::Json;
    use axum::routing::post;
    let app = axum::Router::new()
        .route("/huge", post(|| async { Json(json!({"output": "x".repeat(2_000_000)})) }))
        .route("/nul", post(|| async { Json(json!({"output": {"text": "a\u{0}b"}})) }))
        .route("/ok", post(|| async { Json(json!({"output": "fine", "usage": {"tokens": 10}})) }));
    tests::serve_locally(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_the_log_cannot_take_fails_its_step_for_good_and_other_tenants_run_on() {
    let (base, server) = careless_webhooks().await;
    let app = TestApp::start().await;
    let careless = funded_workspace(&app, 1_000).await;
    let webhook = |path: &str| json!({"type": "webhook", "url": format!("{base}{path}"), "timeout_ms": 5_000});
    let retried =
        |agent: Uuid| json!([{"id": "answer", "agent_id": agent, "retry": {"max_attempts": 3, "backoff_ms": 10}}]);
    let huge = workflow(&app, careless, retried(agent(&app, careless, webhook("/huge"), 1, 0).await)).await;
    let nul = workflow(&app, careless, retried(agent(&app, careless, webhook("/nul"), 1, 0).await)).await;
    let (huge_run, nul_run) = (start_run(&app, careless, huge, 20).await, start_run(&app, careless, nul, 20).await);

    for (run, code) in [(huge_run, "answer_too_large"), (nul_run, "answer_invalid")] {
        let events = finished(&app, run).await;
        assert_eq!(events.last().unwrap().event_type, "RunFailed", "{:?}", types(&events));
        let failed: Vec<&Value> = events.iter().filter(|e| e.event_type == "StepFailed").map(|e| &e.payload).collect();
        assert_eq!(failed.len(), 1, "not retried: {failed:?}");
        assert!(failed[0]["error"].as_str().unwrap().starts_with(code), "{failed:?}");
        assert_eq!(failed[0]["retryable"], false);
        assert_eq!(settlement(&app, careless, run).await, (20, 1, 19));
    }

    // Another tenant's run goes through every stage, the relay included.
    let other = funded_workspace(&app, 1_000).await;
    let ok = agent(&app, other, webhook("/ok"), 1, 0).await;
    let flow = workflow(&app, other, json!([step("one", ok, &[])])).await;
    let run = start_run(&app, other, flow, 20).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let last = events.last().unwrap().position;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while relayed(&app).await < last {
        assert!(tokio::time::Instant::now() < deadline, "the relay did not get past the careless tenant's runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.abort();
}

async fn relayed(app: &TestApp) -> i64 {
    sqlx::query_scalar("select coalesce(max(position), 0) from relay_checkpoints")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// A sleep is a wait, not work: sleepers hold no worker, so six of them in one workspace with a
/// share of two all end about when they should (they used to take turns, two at a time), and
/// the waiting is not counted as a failed try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_steps_hold_no_worker() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.saga_concurrency = 4;
        config.saga_share = 2;
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    let sleeper = agent(&app, workspace, builtin("sleep", json!({"ms": 2_000})), 1, 0).await;
    let flow = workflow(&app, workspace, json!([step("nap", sleeper, &[])])).await;
    let naps = futures::future::join_all((0..6).map(|_| start_run(&app, workspace, flow, 10))).await;
    for nap in naps {
        let events = finished(&app, nap).await;
        assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
        let at = |event_type: &str| events.iter().find(|e| e.event_type == event_type).unwrap().recorded_at;
        let slept = at("StepSucceeded") - at("StepScheduled");
        // Taking turns two at a time, the last pair would end six seconds in.
        assert!(slept >= chrono::Duration::seconds(2), "woke early: {slept}");
        assert!(slept < chrono::Duration::seconds(4), "waited for a worker: {slept}");
    }
}

/// An event of a run the sagas cannot read (written straight into the log) is parked for an
/// operator to see, not dropped in silence, and the sagas go on with other runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_sagas_cannot_read_is_parked_and_other_runs_go_on() {
    use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
    let app = TestApp::start().await;
    let store = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    let broken = store
        .append(AppendRequest::to_stream(
            format!("run-{}", Uuid::now_v7()),
            ExpectedVersion::Any,
            vec![events::NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "RunRequested".into(),
                schema_version: 1,
                payload: json!({"nonsense": true}),
                metadata: json!({"actor": "x", "correlation_id": Uuid::now_v7(), "causation_id": Uuid::now_v7()}),
            }],
        ))
        .await
        .unwrap()
        .last_position
        .unwrap();
    let workspace = funded_workspace(&app, 100).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let flow = workflow(&app, workspace, json!([step("one", echo, &[])])).await;
    let run = start_run(&app, workspace, flow, 10).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let parked = store::parked::list(&app.db.pool, Some("sagas")).await.unwrap();
        if let Some(parked) = parked.first() {
            assert_eq!(parked.position, broken);
            assert!(parked.error.as_deref().unwrap().contains("RunRequested"), "{parked:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sagas did not park the unreadable event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
