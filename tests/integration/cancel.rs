//! Cancel reaches the work: when a run ends, what it left under way learns it is over. A webhook
//! call in flight is cut off, a sleeping builtin ends, an external worker's lease answers
//! `attempt_over` and the shared tasks topic says `cancel`; billing stays exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::{Value, json};
use tests::TestApp;

use crate::runs::{agent, builtin, funded_workspace, settlement, start_run, wait_for, workflow};

/// Sets its flag when dropped: an axum handler's future is dropped when its client goes away.
struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A webhook that never answers: `called` is set when a call comes in, `abandoned` when its
/// caller hangs up.
async fn hanging_webhook() -> (String, Arc<AtomicBool>, Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let (called, abandoned) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (on_call, on_hang_up) = (called.clone(), abandoned.clone());
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let (called, guard) = (on_call.clone(), OnDrop(on_hang_up.clone()));
            async move {
                called.store(true, Ordering::SeqCst);
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(600)).await;
                axum::Json(json!({"output": "too late"}))
            }
        }),
    );
    let (base, server) = tests::serve_locally(app).await;
    (base, called, abandoned, server)
}

async fn eventually(what: &str, flag: &AtomicBool) {
    for _ in 0..300 {
        if flag.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_cuts_off_a_webhook_call_ends_a_sleep_and_tells_the_external_worker() {
    let (base, called, abandoned, server) = hanging_webhook().await;
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.tasks_topic = Some(format!("{}.tasks", config.events_topic.trim_end_matches(".events")))
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    let hook = agent(&app, workspace, json!({"type": "webhook", "url": base, "timeout_ms": 300_000}), 5, 0).await;
    let sleeper = agent(&app, workspace, builtin("sleep", json!({"ms": 300_000})), 5, 0).await;
    let external = agent(&app, workspace, json!({"type": "external"}), 5, 0).await;
    let issued = app.ok(&alice, json!({"type": "IssueWorkerCredential", "id": external, "payload": {}})).await;
    let worker = issued["worker_credential"].as_str().unwrap().to_owned();
    let flow = workflow(
        &app,
        workspace,
        json!([{"id": "call", "agent_id": hook, "timeout_ms": 600_000},
               {"id": "nap", "agent_id": sleeper, "timeout_ms": 600_000},
               {"id": "think", "agent_id": external, "timeout_ms": 600_000}]),
    )
    .await;
    let tasks: StreamConsumer =
        platform::kafka::consumer_config(&app.config.kafka(), &tests::unique_name("workers")).create().unwrap();
    tasks.subscribe(&[app.config.tasks_topic.as_deref().unwrap()]).unwrap();

    let run = start_run(&app, workspace, flow, 30).await;
    // Everything is under way: the call is in flight, the task offered and leased.
    eventually("the webhook call", &called).await;
    let next_message = || async {
        let message = tokio::time::timeout(Duration::from_secs(60), tasks.recv()).await.expect("a message").unwrap();
        let body = serde_json::from_slice::<Value>(message.payload().unwrap()).unwrap();
        // CloudEvents in binary mode: the body is the task as before, the attributes headers.
        let header = |name: &str| {
            platform::cloudevents::header(&message, name).map(|value| String::from_utf8_lossy(value).into_owned())
        };
        let kind = body["type"].as_str().unwrap();
        let id =
            format!("{}:{}:{}", body["run_id"].as_str().unwrap(), body["step_id"].as_str().unwrap(), body["attempt"]);
        assert_eq!(header("ce_type"), Some(format!("oxbow.tasks.{kind}.v1")));
        assert_eq!(header("ce_id"), Some(if kind == "task" { id } else { format!("{id}:cancel") }));
        assert_eq!(header("ce_subject").as_deref(), body["run_id"].as_str());
        assert_eq!(header("ce_specversion").as_deref(), Some("1.0"));
        tests::contracts::check_message(&format!("tasks.{kind}"), &body);
        body
    };
    let task = next_message().await;
    assert_eq!((task["type"].clone(), task["step_id"].clone()), (json!("task"), json!("think")), "{task}");
    let http = reqwest::Client::new();
    let post = |path: &'static str, body: Value| {
        let request = http.post(format!("{}{path}", app.base)).bearer_auth(&worker).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or_default())
        }
    };
    let (status, leased) = post("/v1/tasks/lease", json!({"max": 1, "wait_ms": 30_000})).await;
    assert_eq!((status, leased["tasks"][0]["step_id"].clone()), (200, json!("think")), "{leased}");
    let nap = format!("dispatch:{run}:nap:1");
    let dispatches = || async {
        let keys: Vec<String> =
            sqlx::query_scalar("select key from saga_work where key like 'dispatch:' || $1 || ':%'")
                .bind(run.to_string())
                .fetch_all(&app.db.pool)
                .await
                .unwrap();
        keys
    };
    assert!(dispatches().await.contains(&nap), "the sleep waits in the queue, holding no worker");
    assert!(!abandoned.load(Ordering::SeqCst));

    app.ok(&alice, json!({"type": "CancelRun", "id": run, "payload": {"reason": "changed my mind"}})).await;
    // The call is cut off, the sleep's dispatch is gone, the worker hears of it both ways.
    eventually("the webhook call being cut off", &abandoned).await;
    wait_for(&app, &format!("run-{run}"), 30, |events| events.last().is_some_and(|e| e.event_type == "RunCancelled"))
        .await;
    assert_eq!(dispatches().await, Vec::<String>::new(), "no dispatch of the run is left");
    let cancel = next_message().await;
    assert_eq!(
        cancel,
        json!({"type": "cancel", "run_id": run, "workspace_id": workspace, "agent_id": external, "step_id": "think",
            "attempt": 1})
    );
    let attempt = json!({"run_id": run, "step_id": "think", "attempt": 1});
    let (status, problem) = post("/v1/tasks/extend", attempt).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("attempt_over")), "{problem}");
    let (status, problem) =
        post("/v1/commands", json!({"type": "CompleteStep", "id": run, "payload": {"step_id": "think", "attempt": 1}}))
            .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("run_finished")), "{problem}");
    // Nothing was reported, so nothing is charged: the whole budget goes back.
    assert_eq!(settlement(&app, workspace, run).await, (30, 0, 30));
    server.abort();
}
