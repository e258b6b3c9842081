//! Data between steps: a step's input is a template over the run's input and its ancestors'
//! outputs, resolved when the step is scheduled; a workflow's output is resolved when its run
//! succeeds. Against the real services, through a webhook agent served by the test.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, start_run, types};

/// A webhook that answers `/fetch` with a document and records what `/summarize` received.
async fn pipeline_server() -> (String, Arc<Mutex<Vec<Value>>>, tokio::task::JoinHandle<()>) {
    use axum::Json;
    use axum::routing::post;
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let recorded = received.clone();
    let app = axum::Router::new()
        .route(
            "/fetch",
            post(|Json(task): Json<Value>| async move {
                let url = task["input"]["url"].as_str().unwrap_or_default().to_owned();
                Json(json!({"output": {"url": url, "items": [{"title": "Otters hold hands"}], "count": 1}}))
            }),
        )
        .route(
            "/summarize",
            post(move |Json(task): Json<Value>| {
                recorded.lock().unwrap().push(task["input"].clone());
                async { Json(json!({"output": {"summary": "short"}})) }
            }),
        );
    let (base, server) = tests::serve_locally(app).await;
    (base, received, server)
}

async fn define(app: &TestApp, workspace: Uuid, steps: Value, output: Option<Value>) -> (u16, Value, Uuid) {
    let id = Uuid::now_v7();
    let mut payload = json!({"workspace_id": workspace, "name": "pipeline", "steps": steps});
    if let Some(output) = output {
        payload["output"] = output;
    }
    let (status, body) =
        app.command(&app.token("alice"), json!({"type": "DefineWorkflow", "id": id, "payload": payload})).await;
    (status, body, id)
}

async fn run_with_input(app: &TestApp, workspace: Uuid, workflow: Uuid, input: Value) -> Uuid {
    let run = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": workflow,
            "input": input, "budget": 20}}),
    )
    .await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_gets_its_ancestors_outputs_and_the_run_its_output() {
    let (base, received, server) = pipeline_server().await;
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    let webhook = |path: &str| json!({"type": "webhook", "url": format!("{base}/{path}"), "timeout_ms": 2_000});
    let fetch = agent(&app, workspace, webhook("fetch"), 1, 0).await;
    let summarize = agent(&app, workspace, webhook("summarize"), 1, 0).await;
    let steps = json!([
        {"id": "fetch", "agent_id": fetch, "input": {"url": "{{ run.input.url }}"}},
        {"id": "summarize", "agent_id": summarize, "depends_on": ["fetch"], "input": {
            "items": "{{ steps.fetch.output.items }}",
            "title": "{{steps.fetch.output.items.0.title}}",
            "prompt": "Summarize {{ steps.fetch.output.count }} item(s) from {{ run.input.url }} for {{ run.input }}",
            "literal": "\\{{ run.input }}",
        }},
    ]);
    let output = json!({"summary": "{{ steps.summarize.output.summary }}", "source": "{{ steps.fetch.output.url }}"});
    let (status, body, flow) = define(&app, workspace, steps, Some(output.clone())).await;
    assert_eq!(status, 200, "{body}");

    let run = run_with_input(&app, workspace, flow, json!({"url": "https://news.example/otters"})).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let got = received.lock().unwrap().clone();
    assert_eq!(
        got,
        [json!({
            "items": [{"title": "Otters hold hands"}],
            "title": "Otters hold hands",
            "prompt": "Summarize 1 item(s) from https://news.example/otters for {\"url\":\"https://news.example/otters\"}",
            "literal": "{{ run.input }}",
        })]
    );
    // The log shows what each agent got, and what the run produced.
    let scheduled: Vec<&Value> =
        events.iter().filter(|e| e.event_type == "StepScheduled").map(|e| &e.payload["input"]).collect();
    assert_eq!(scheduled[0], &json!({"url": "https://news.example/otters"}));
    assert_eq!(scheduled[1], &got[0]);
    let produced = json!({"summary": "short", "source": "https://news.example/otters"});
    assert_eq!(events.last().unwrap().payload["output"], produced);
    let last = events.last().unwrap().position;
    let query = format!(
        "{{ run(id: \"{run}\") {{ output steps {{ id agentId input }} }} \
           workflow(id: \"{flow}\") {{ output versions {{ output }} }} }}"
    );
    let answer = app.graphql(Some(&app.token("alice")), &query, Some(last)).await;
    assert_eq!(answer["data"]["run"]["output"], produced, "{answer}");
    assert_eq!(answer["data"]["run"]["steps"][1]["input"], got[0], "{answer}");
    assert_eq!(answer["data"]["run"]["steps"][1]["agentId"], json!(summarize.to_string()), "{answer}");
    // The workflow shows its output template, as defined, in each version.
    assert_eq!(answer["data"]["workflow"]["output"], output, "{answer}");
    assert_eq!(answer["data"]["workflow"]["versions"], json!([{"output": output}]), "{answer}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_templates_are_refused_and_what_is_missing_fails_the_step_for_nothing() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let before = store::read_head(&app.db.pool).await.unwrap().position;
    // Malformed: 400 with the field; a reference to a step that does not run before: 422.
    let (status, body, _) =
        define(&app, workspace, json!([{"id": "a", "agent_id": echo, "input": {"q": ["ok", "{{ run.input"]}}]), None)
            .await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (400, Some("invalid_template"), Some("/payload/steps/0/input/q/1")),
        "{body}"
    );
    let (status, body, _) = define(
        &app,
        workspace,
        json!([{"id": "a", "agent_id": echo, "input": {"q": "{{ steps.b.output }}"}}, {"id": "b", "agent_id": echo}]),
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("unknown_reference")), "{body}");
    let (status, body, _) =
        define(&app, workspace, json!([{"id": "a", "agent_id": echo}]), Some(json!("{{ steps.z.output }}"))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("unknown_reference")), "{body}");
    assert_eq!(store::read_head(&app.db.pool).await.unwrap().position, before, "a refusal appended nothing");

    // At run time, a path the output does not have fails the step that reads it, without a
    // call or a cost, and the run with it.
    let steps = json!([
        {"id": "a", "agent_id": echo, "input": {"n": 1}},
        {"id": "b", "agent_id": echo, "depends_on": ["a"], "input": {"x": "{{ steps.a.output.missing.0 }}"}},
    ]);
    let (status, body, flow) = define(&app, workspace, steps, None).await;
    assert_eq!(status, 200, "{body}");
    let run = run_with_input(&app, workspace, flow, json!({})).await;
    let events = finished(&app, run).await;
    assert_eq!(types(&events)[types(&events).len() - 2..], ["StepFailed", "RunFailed"], "{:?}", types(&events));
    let failed = &events[events.len() - 2].payload;
    assert_eq!(
        (failed["step_id"].as_str(), failed["error"].as_str(), failed["cost"].as_i64(), failed["retryable"].as_bool()),
        (Some("b"), Some("input_reference_missing: steps.a.output.missing.0"), Some(0), Some(false))
    );
    assert_eq!(events.last().unwrap().payload, json!({"reason": "step_failed", "credits_used": 2}));
    assert_eq!(events.iter().filter(|e| e.event_type == "StepScheduled").count(), 1, "b was never dispatched");
    // Usage counts the one attempt that ran.
    let last = events.last().unwrap().position;
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let query = format!(
        "{{ usage(workspaceId: \"{workspace}\", from: \"{today}\", to: \"{tomorrow}\") {{ attempts credits }} }}"
    );
    let answer = app.graphql(Some(&app.token("alice")), &query, Some(last)).await;
    assert_eq!(answer["data"]["usage"], json!([{"attempts": 1, "credits": 2}]), "{answer}");

    // An output the run cannot make fails the run: never a silent null.
    let (_, _, flow) = define(
        &app,
        workspace,
        json!([{"id": "a", "agent_id": echo}]),
        Some(json!({"r": "{{ steps.a.output.nope }}"})),
    )
    .await;
    let run = run_with_input(&app, workspace, flow, json!({})).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().payload, json!({"reason": "output_invalid", "credits_used": 2}));
}

/// A definition written before templates (schema version 1) held `{{` as text: it still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_definition_holding_braces_runs_them_literally() {
    use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let flow = Uuid::now_v7();
    let prompt = "Write {{ a poem }} about {{ run.input }}";
    let log = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    log.append(AppendRequest::to_stream(
        format!("workflow-{flow}"),
        ExpectedVersion::NoStream,
        vec![events::NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "WorkflowDefined".into(),
            schema_version: 1,
            payload: json!({"workflow_id": flow, "workspace_id": workspace, "name": "old", "steps": [
                {"id": "poem", "agent_id": echo, "depends_on": [], "input": {"prompt": prompt},
                 "retry": {"max_attempts": 1, "backoff_ms": 0}, "timeout_ms": 30000}]}),
            metadata: json!({"actor": "alice", "workspace_id": workspace, "correlation_id": flow, "causation_id": flow}),
        }],
    ))
    .await
    .unwrap();
    let run = start_run(&app, workspace, flow, 10).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let scheduled = events.iter().find(|e| e.event_type == "StepScheduled").unwrap();
    assert_eq!(scheduled.payload["input"], json!({"prompt": prompt}));
}

async fn start(app: &TestApp, payload: Value) -> (u16, Value, Uuid) {
    let run = Uuid::now_v7();
    let (status, body) =
        app.command(&app.token("alice"), json!({"type": "StartRun", "id": run, "payload": payload})).await;
    (status, body, run)
}

fn billed(events: &[events::RecordedEvent]) -> Vec<(String, i64)> {
    events
        .iter()
        .filter(|e| matches!(e.event_type.as_str(), "StepSucceeded" | "StepFailed"))
        .map(|e| (e.payload["step_id"].as_str().unwrap().to_owned(), e.payload["cost"].as_i64().unwrap()))
        .collect()
}

/// A webhook that fails each task it gets, but only once the run's step `b` has succeeded: the
/// failing branch ends after the other one, however slow the machine.
async fn failing_after_b(pool: sqlx::PgPool) -> (String, tokio::task::JoinHandle<()>) {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/",
        post(move |Json(task): Json<Value>| async move {
            let stream = format!("run-{}", task["run_id"].as_str().unwrap_or_default());
            for _ in 0..1_200 {
                let events = store::read_stream(&pool, &stream, 0).await.unwrap_or_default();
                if events.iter().any(|e| e.event_type == "StepSucceeded" && e.payload["step_id"] == "b") {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": "broken"})))
        }),
    );
    tests::serve_locally(app).await
}

/// A run fails in one of two parallel branches; its retry, on a fixed revision, takes over the
/// other branch and the step before them, without a call or a cost, and bills only what ran.
/// A retry with a new input reruns exactly what reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_takes_over_what_succeeded_and_bills_only_what_runs_again() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let (base, server) = failing_after_b(app.db.pool.clone()).await;
    let broken = agent(&app, workspace, json!({"type": "webhook", "url": base, "timeout_ms": 60_000}), 1, 0).await;
    let steps = |c_agent: Uuid| {
        json!([
            {"id": "a", "agent_id": echo, "input": {"n": 1}},
            {"id": "b", "agent_id": echo, "depends_on": ["a"], "input": {"topic": "{{ run.input.topic }}", "a": "{{ steps.a.output }}"}},
            {"id": "c", "agent_id": c_agent, "depends_on": ["a"], "timeout_ms": 60_000},
            {"id": "d", "agent_id": echo, "depends_on": ["b", "c"], "input": {"b": "{{ steps.b.output }}"}},
        ])
    };
    let (status, body, flow) =
        define(&app, workspace, steps(broken), Some(json!("{{ steps.d.output.b.topic }}"))).await;
    assert_eq!(status, 200, "{body}");
    let first = run_with_input(&app, workspace, flow, json!({"topic": "otters"})).await;
    let events = finished(&app, first).await;
    assert_eq!(events.last().unwrap().event_type, "RunFailed", "{:?}", types(&events));

    // Fix c in a revision and retry on it: a and b are taken over; c and d run.
    let revise = json!({"type": "ReviseWorkflow", "id": flow, "payload": {"steps": steps(echo),
        "output": "{{ steps.d.output.b.topic }}"}});
    app.ok(&app.token("alice"), revise).await;
    let (status, body, retry) = start(
        &app,
        json!({"workspace_id": workspace, "workflow_id": flow, "workflow_version": 2, "budget": 20, "retry_of": first}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let events = finished(&app, retry).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let reused: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "StepReused")
        .map(|e| e.payload["step_id"].as_str().unwrap())
        .collect();
    assert_eq!(reused, ["a", "b"]);
    assert_eq!(billed(&events), [("c".to_owned(), 2), ("d".to_owned(), 2)], "only what ran is billed");
    assert_eq!(events.last().unwrap().payload, json!({"credits_used": 4, "output": "otters"}));
    assert_eq!(crate::runs::settlement(&app, workspace, retry).await, (20, 4, 16));
    let last = events.last().unwrap().position;
    let query = format!(
        "{{ run(id: \"{retry}\") {{ retryOf steps {{ id reusedFrom attempts cost }} }} \
           old: run(id: \"{first}\") {{ retries {{ id }} }} }}"
    );
    let answer = app.graphql(Some(&app.token("alice")), &query, Some(last)).await;
    assert_eq!(answer["data"]["run"]["retryOf"], json!(first.to_string()), "{answer}");
    assert_eq!(
        answer["data"]["run"]["steps"][0],
        json!({"id": "a", "reusedFrom": first.to_string(), "attempts": 0, "cost": 0})
    );
    assert_eq!(answer["data"]["run"]["steps"][2]["reusedFrom"], Value::Null, "{answer}");
    assert_eq!(answer["data"]["old"]["retries"], json!([{"id": retry.to_string()}]), "{answer}");

    // A new input reruns b, which reads it, and what follows; a is still taken over.
    let (status, body, again) = start(
        &app,
        json!({"workspace_id": workspace, "workflow_id": flow, "workflow_version": 2,
        "input": {"topic": "seals"}, "budget": 20, "retry_of": first}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let events = finished(&app, again).await;
    let reused: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "StepReused")
        .map(|e| e.payload["step_id"].as_str().unwrap())
        .collect();
    assert_eq!(reused, ["a"]);
    assert_eq!(events.last().unwrap().payload["output"], "seals");
    // Its settlement is the last thing anyone appends: then the log stands still.
    crate::runs::settlement(&app, workspace, again).await;

    // What cannot be retried, and a retry nobody may see.
    let head = store::read_head(&app.db.pool).await.unwrap().position;
    let refused = |retry_of: Uuid, workflow: Uuid| json!({"workspace_id": workspace, "workflow_id": workflow, "budget": 20, "retry_of": retry_of});
    let (status, body, _) = start(&app, refused(retry, flow)).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("run_not_retryable")), "{body}");
    let (status, body, _) = start(&app, refused(Uuid::now_v7(), flow)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("run_not_found")), "{body}");
    let other_flow = { define(&app, workspace, json!([{"id": "x", "agent_id": echo}]), None).await.2 };
    let head = head.max(store::read_head(&app.db.pool).await.unwrap().position);
    let (status, body, _) = start(&app, refused(first, other_flow)).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("retry_of_other_workflow")), "{body}");
    assert_eq!(store::read_head(&app.db.pool).await.unwrap().position, head, "a refusal appended nothing");
    server.abort();
}
