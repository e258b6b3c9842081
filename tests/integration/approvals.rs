//! People in the loop: approval steps wait for a member of their role, signal steps for a member
//! or their agent's worker. Nothing is dispatched while they wait, they cost nothing, and a
//! deadline times them out. Against the real services.

use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, settlement, types, wait_for};

async fn define(app: &TestApp, workspace: Uuid, steps: Value, output: Option<Value>) -> Uuid {
    let id = Uuid::now_v7();
    let mut payload = json!({"workspace_id": workspace, "name": "reviewed", "steps": steps});
    if let Some(output) = output {
        payload["output"] = output;
    }
    app.ok(&app.token("alice"), json!({"type": "DefineWorkflow", "id": id, "payload": payload})).await;
    id
}

async fn start(app: &TestApp, workspace: Uuid, workflow: Uuid, input: Value) -> Uuid {
    let run = Uuid::now_v7();
    let payload = json!({"workspace_id": workspace, "workflow_id": workflow, "input": input, "budget": 20});
    app.ok(&app.token("alice"), json!({"type": "StartRun", "id": run, "payload": payload})).await;
    run
}

/// Waits until the run's step `step` waits for its answer; returns the `StepAwaiting` payload.
async fn awaiting(app: &TestApp, run: Uuid, step: &str) -> Value {
    let is_it = |e: &events::RecordedEvent| e.event_type == "StepAwaiting" && e.payload["step_id"] == step;
    let events = wait_for(app, &format!("run-{run}"), 60, |events| events.iter().any(is_it)).await;
    events.into_iter().find(is_it).unwrap().payload
}

/// How many events the run's stream holds: a refusal adds none.
pub(crate) async fn run_length(app: &TestApp, run: Uuid) -> usize {
    store::read_stream(&app.db.pool, &format!("run-{run}"), 0).await.unwrap().len()
}

fn answer(kind: &str, run: Uuid, payload: Value) -> Value {
    json!({"type": kind, "id": run, "payload": payload})
}

/// The next notification about `run` on the notifications topic.
async fn notice_of(consumer: &StreamConsumer, run: Uuid) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("a notice").unwrap();
        let notice: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        if notice["run_id"] == json!(run) {
            // CloudEvents in binary mode: the body is the notice, the attributes are headers.
            let header = |name: &str| {
                platform::cloudevents::header(&message, name).map(|value| String::from_utf8_lossy(value).into_owned())
            };
            let kind = notice["type"].as_str().unwrap();
            assert_eq!(header("ce_specversion").as_deref(), Some("1.0"));
            assert_eq!(header("ce_type"), Some(format!("oxbow.notifications.{kind}.v1")));
            assert_eq!(header("ce_source").as_deref(), Some("/oxbow/notifications"));
            assert_eq!(header("ce_subject"), Some(run.to_string()));
            assert_eq!(header("content-type").as_deref(), Some("application/json"));
            assert!(header("ce_id").is_some_and(|id| id.len() == 32) && header("ce_time").is_some());
            tests::contracts::check_message(&format!("notifications.{kind}"), &notice);
            return notice;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_waits_for_a_member_of_its_role_who_approves_or_rejects_it_before_its_deadline() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    app.join(&alice, workspace, "bob", "member").await;
    app.join(&alice, workspace, "carol", "admin").await;
    let (bob, carol) = (app.token("bob"), app.token("carol"));
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let steps = json!([
        {"id": "draft", "agent_id": echo, "input": {"topic": "{{ run.input.topic }}"}},
        {"id": "review", "kind": "approval", "approvers": "admin", "depends_on": ["draft"],
         "input": {"draft": "{{ steps.draft.output }}"}},
        {"id": "publish", "agent_id": echo, "depends_on": ["review"], "input": {"review": "{{ steps.review.output }}"}},
    ]);
    let flow = define(&app, workspace, steps, Some(json!("{{ steps.review.output.comment }}"))).await;
    let notifications: StreamConsumer =
        platform::kafka::consumer_config(&app.config.kafka(), &tests::unique_name("reviewers")).create().unwrap();
    notifications.subscribe(&[&app.config.notifications_topic]).unwrap();

    let run = start(&app, workspace, flow, json!({"topic": "otters"})).await;
    let waiting = awaiting(&app, run, "review").await;
    assert_eq!((waiting["kind"].clone(), waiting["attempt"].clone()), (json!("approval"), json!(1)));
    assert_eq!(waiting["input"], json!({"draft": {"topic": "otters"}}), "the reviewer sees the draft");
    // Whoever may answer hears of it, on a topic every workspace shares: never the input.
    let notice = notice_of(&notifications, run).await;
    assert_eq!(
        notice,
        json!({"type": "approval_requested", "workspace_id": workspace, "run_id": run, "step_id": "review",
            "approvers": "admin", "deadline": waiting["deadline"]})
    );
    let head = store::read_head(&app.db.pool).await.unwrap().position;
    let recorded = run_length(&app, run).await;
    let query = format!("{{ run(id: \"{run}\") {{ steps {{ id kind status approvers agentId input }} }} }}");
    let answer_json = app.graphql(Some(&bob), &query, Some(head)).await;
    assert_eq!(
        answer_json["data"]["run"]["steps"][1],
        json!({"id": "review", "kind": "APPROVAL", "status": "WAITING", "approvers": "ADMIN", "agentId": null,
            "input": {"draft": {"topic": "otters"}}}),
        "{answer_json}"
    );

    // Refusals change nothing.
    let approve = |comment: &str| answer("ApproveStep", run, json!({"step_id": "review", "comment": comment}));
    let refusals = [
        (&bob, approve("fine"), 403, "role_too_low"),
        (&app.token("eve"), approve("fine"), 403, "not_a_member"),
        (&carol, answer("ApproveStep", run, json!({"step_id": "draft"})), 422, "wrong_step_kind"),
        (&carol, answer("ApproveStep", run, json!({"step_id": "nope"})), 422, "unknown_step"),
        (&carol, answer("RejectStep", run, json!({"step_id": "review", "reason": " "})), 400, "invalid_payload"),
        (&carol, answer("SignalStep", run, json!({"step_id": "review", "payload": {}})), 422, "wrong_step_kind"),
    ];
    for (token, command, status, code) in refusals {
        let (got, problem) = app.command(token, command.clone()).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{command} → {problem}");
    }
    assert_eq!(run_length(&app, run).await, recorded, "a refusal appended nothing");

    // An admin approves: the run goes on, the approval is the next step's input, and it cost nothing.
    let approved = app.ok(&carol, approve("ship it")).await;
    let verdict = json!({"approved": true, "by": "carol", "comment": "ship it"});
    assert_eq!(approved["events"][0]["payload"]["output"], verdict, "{approved}");
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    assert_eq!(events.last().unwrap().payload["output"], "ship it");
    let published = events.iter().find(|e| e.event_type == "StepScheduled" && e.payload["step_id"] == "publish");
    assert_eq!(published.unwrap().payload["input"], json!({"review": verdict}));
    assert_eq!(settlement(&app, workspace, run).await, (20, 4, 16), "two echo calls; the approval is free");
    // The same verdict again by the same person is accepted and appends nothing.
    let recorded = run_length(&app, run).await;
    let again = app.ok(&carol, approve("ship it")).await;
    assert_eq!(again["events"], json!([]), "{again}");
    assert_eq!(run_length(&app, run).await, recorded);
    let (status, problem) = app.command(&alice, approve("me too")).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("step_not_waiting")), "{problem}");

    // A rejection fails the run, with the reason, and publish never runs.
    let rejected_run = start(&app, workspace, flow, json!({"topic": "seals"})).await;
    awaiting(&app, rejected_run, "review").await;
    let reject = answer("RejectStep", rejected_run, json!({"step_id": "review", "reason": "off topic"}));
    app.ok(&carol, reject).await;
    let events = finished(&app, rejected_run).await;
    let last = events.last().unwrap();
    assert_eq!((last.event_type.as_str(), &last.payload["reason"]), ("RunFailed", &json!("step_rejected")));
    let failed = events.iter().find(|e| e.event_type == "StepFailed").unwrap();
    assert_eq!(failed.payload["error"], "rejected: off topic");
    assert_eq!(failed.payload["retryable"], false);
    assert!(!events.iter().any(|e| e.payload["step_id"] == "publish"), "{:?}", types(&events));
    assert_eq!(settlement(&app, workspace, rejected_run).await, (20, 2, 18));

    // Nobody answers: the deadline times the approval out, without a retry.
    let hurried = define(
        &app,
        workspace,
        json!([{"id": "review", "kind": "approval", "timeout_ms": 1_000}, {"id": "after", "agent_id": echo, "depends_on": ["review"]}]),
        None,
    )
    .await;
    let unanswered = start(&app, workspace, hurried, json!({})).await;
    let events = finished(&app, unanswered).await;
    assert_eq!(types(&events)[types(&events).len() - 2..], ["StepTimedOut", "RunFailed"], "{:?}", types(&events));
    assert_eq!(events.last().unwrap().payload["reason"], "step_timed_out");
    assert_eq!(settlement(&app, workspace, unanswered).await, (20, 0, 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_comes_from_its_agents_worker_or_a_member_and_becomes_the_steps_output() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    app.join(&alice, workspace, "bob", "member").await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let external = agent(&app, workspace, json!({"type": "external"}), 1, 0).await;
    let other = agent(&app, workspace, json!({"type": "external"}), 1, 0).await;
    let (worker, stranger) = (credential(&app, external).await, credential(&app, other).await);
    // Only an external agent has a worker to send a signal.
    let (status, problem) = app
        .command(
            &alice,
            json!({"type": "DefineWorkflow", "id": Uuid::now_v7(), "payload": {"workspace_id": workspace, "name": "x",
                "steps": [{"id": "wait", "kind": "signal", "signal_agent_id": echo}]}}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("agent_not_external")), "{problem}");
    let flow = define(
        &app,
        workspace,
        json!([
            {"id": "wait", "kind": "signal", "signal_agent_id": external, "input": {"callback_for": "{{ run.input.order }}"}},
            {"id": "after", "agent_id": echo, "depends_on": ["wait"], "input": {"got": "{{ steps.wait.output.status }}"}},
        ]),
        None,
    )
    .await;

    let signal =
        |run: Uuid, status: &str| answer("SignalStep", run, json!({"step_id": "wait", "payload": {"status": status}}));
    let run = start(&app, workspace, flow, json!({"order": 7})).await;
    assert_eq!(awaiting(&app, run, "wait").await["input"], json!({"callback_for": 7}));
    // Another agent's worker may not; the named agent's worker may.
    let (status, problem) = app.command(&stranger, signal(run, "paid")).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_this_workers_step")), "{problem}");
    app.ok(&worker, signal(run, "paid")).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let after = events.iter().find(|e| e.event_type == "StepScheduled" && e.payload["step_id"] == "after").unwrap();
    assert_eq!(after.payload["input"], json!({"got": "paid"}));
    // The same signal again changes nothing; a different one comes too late.
    assert_eq!(app.ok(&worker, signal(run, "paid")).await["events"], json!([]));
    let (status, problem) = app.command(&worker, signal(run, "refunded")).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("step_not_waiting")), "{problem}");
    assert_eq!(settlement(&app, workspace, run).await, (20, 1, 19));

    // A member may send it too.
    let by_member = start(&app, workspace, flow, json!({"order": 8})).await;
    awaiting(&app, by_member, "wait").await;
    app.ok(&app.token("bob"), signal(by_member, "shipped")).await;
    let events = finished(&app, by_member).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
}

/// A worker credential for an external agent, issued by the workspace's owner.
async fn credential(app: &TestApp, agent: Uuid) -> String {
    let issued =
        app.ok(&app.token("alice"), json!({"type": "IssueWorkerCredential", "id": agent, "payload": {}})).await;
    issued["worker_credential"].as_str().unwrap().to_owned()
}

/// Approvals wait without holding anything: with two saga workers and another creator's forty
/// runs waiting for people, a tenant's run goes through, and no waiting run's work is due
/// before its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_waiting_approvals_holds_no_saga_worker_from_another_tenant() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.saga_concurrency = 2;
        config.saga_share = 1;
    })
    .await;
    // Mallory's workspace: forty runs that each wait for an approval.
    let mallory = app.token("mallory");
    let flooded = Uuid::now_v7();
    app.ok(&mallory, json!({"type": "CreateWorkspace", "id": flooded, "payload": {"name": "Flood"}})).await;
    app.ok(&mallory, json!({"type": "OpenBillingAccount", "id": flooded, "payload": {"plan": "team"}})).await;
    app.grant(flooded, 10_000).await;
    let wait = Uuid::now_v7();
    let waits = json!({"type": "DefineWorkflow", "id": wait, "payload": {"workspace_id": flooded, "name": "wait",
        "steps": [{"id": "review", "kind": "approval"}]}});
    app.ok(&mallory, waits).await;
    let mut runs = Vec::new();
    for _ in 0..40 {
        let run = Uuid::now_v7();
        let payload = json!({"workspace_id": flooded, "workflow_id": wait, "budget": 1});
        app.ok(&mallory, json!({"type": "StartRun", "id": run, "payload": payload})).await;
        runs.push(run);
    }
    for run in &runs {
        awaiting(&app, *run, "review").await;
    }

    // Alice's run goes through the same two workers.
    let workspace = funded_workspace(&app, 1_000).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let flow = define(
        &app,
        workspace,
        json!([{"id": "a", "agent_id": echo}, {"id": "b", "agent_id": echo, "depends_on": ["a"]}]),
        None,
    )
    .await;
    let run = start(&app, workspace, flow, json!({})).await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));

    // What the waiting runs leave in the queue once their notices are out: a timeout each, due
    // in a week, and nothing else.
    let mut waiting: Vec<(String, bool)> = Vec::new();
    for _ in 0..300 {
        waiting = sqlx::query_as(
            "select key, due_at > now() + interval '6 days' from saga_work where key like any($1) order by key",
        )
        .bind(runs.iter().map(|run| format!("%{run}%")).collect::<Vec<_>>())
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        if waiting.iter().all(|(key, _)| key.starts_with("timeout:")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(waiting.len(), runs.len(), "{waiting:?}");
    assert!(waiting.iter().all(|(key, later)| key.starts_with("timeout:") && *later), "{waiting:?}");
}
