//! Artifacts: the files steps produce, recorded as metadata on `StepSucceeded` and versioned by
//! name within a workspace. From a builtin, a worker and a webhook, against the real services.

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, start_run, types, wait_for, workflow};

fn artifact(name: &str, digit: char, uri: &str) -> Value {
    json!({"name": name, "media_type": "application/pdf", "size": 1024, "sha256": digit.to_string().repeat(64), "uri": uri})
}

/// A webhook agent whose answer lists an artifact at a presigned URL.
async fn signing_webhook() -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|| async {
            axum::Json(json!({"output": {}, "artifacts": [artifact("leak.pdf", 'a',
                "https://bucket.s3.amazonaws.com/leak.pdf?X-Amz-Expires=3600&X-Amz-Signature=deadbeef")]}))
        }),
    );
    tests::serve_locally(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_record_artifacts_versioned_by_name_which_only_members_see() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    let register = |config: Value| {
        json!({"type": "RegisterAgent", "id": Uuid::now_v7(), "payload": {"workspace_id": workspace,
            "name": "renderer", "kind": "tool", "executor": builtin("echo", config), "price": {"per_call": 1}}})
    };
    // A builtin's artifacts are checked when it is registered.
    let (status, problem) = app
        .command(&alice, register(json!({"artifacts": [artifact("report.pdf", 'A', "ftp://files/report.pdf")]})))
        .await;
    assert_eq!(
        (status, problem["code"].as_str(), problem["field"].as_str()),
        (400, Some("invalid_payload"), Some("/payload/executor/config/artifacts/0/uri")),
        "{problem}"
    );
    let renderer = agent(
        &app,
        workspace,
        builtin("echo", json!({"artifacts": [artifact("report.pdf", 'A', "s3://docs/report-1.pdf")]})),
        1,
        0,
    )
    .await;
    let external = agent(&app, workspace, json!({"type": "external"}), 1, 0).await;
    let issued = app.ok(&alice, json!({"type": "IssueWorkerCredential", "id": external, "payload": {}})).await;
    let worker = issued["worker_credential"].as_str().unwrap().to_owned();
    let flow = workflow(
        &app,
        workspace,
        json!([{"id": "render", "agent_id": renderer}, {"id": "publish", "agent_id": external, "depends_on": ["render"]}]),
    )
    .await;

    let run = start_run(&app, workspace, flow, 20).await;
    let scheduled = |e: &events::RecordedEvent| e.event_type == "StepScheduled" && e.payload["step_id"] == "publish";
    wait_for(&app, &format!("run-{run}"), 60, |events| events.iter().any(scheduled)).await;
    let complete = |artifacts: Value| json!({"type": "CompleteStep", "id": run, "payload": {"step_id": "publish", "attempt": 1, "artifacts": artifacts}});
    // Out of bounds, or a presigned URL (a credential the log would keep for ever): refused, and
    // nothing is recorded.
    let recorded = crate::approvals::run_length(&app, run).await;
    let signed = "https://storage.googleapis.com/b/report.pdf?X-Goog-Algorithm=GOOG4&X-Goog-Signature=00ff";
    for (artifacts, field) in [
        (json!([artifact("report.pdf", 'B', signed)]), "/payload/artifacts/0/uri"),
        (json!([artifact("../report.pdf", 'B', "s3://docs/r.pdf")]), "/payload/artifacts/0/name"),
        (
            json!([{"name": "r", "media_type": "pdf", "size": 1, "sha256": "b".repeat(64), "uri": "s3://d/r"}]),
            "/payload/artifacts/0/media_type",
        ),
        (json!([artifact("r", 'g', "s3://docs/r.pdf")]), "/payload/artifacts/0/sha256"),
        (
            json!([artifact("r", 'b', "s3://docs/r.pdf"), artifact("r", 'c', "s3://docs/r2.pdf")]),
            "/payload/artifacts/1/name",
        ),
    ] {
        let (status, problem) = app.command(&worker, complete(artifacts.clone())).await;
        assert_eq!(
            (status, problem["code"].as_str(), problem["field"].as_str()),
            (400, Some("invalid_payload"), Some(field)),
            "{artifacts} → {problem}"
        );
    }
    assert_eq!(crate::approvals::run_length(&app, run).await, recorded, "a refusal appended nothing");
    app.ok(
        &worker,
        complete(json!([
            artifact("report.pdf", 'B', "s3://docs/report-2.pdf"),
            artifact("data/raw.csv", 'C', "gs://raw/data.csv")
        ])),
    )
    .await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let last = events.last().unwrap().position;

    // Versions by name, in log order; newest first; the latest or a named version.
    let query = format!(
        "{{ run(id: \"{run}\") {{ steps {{ id artifacts {{ name version mediaType size sha256 uri }} }} }} \
           reports: artifacts(workspaceId: \"{workspace}\", name: \"report.pdf\") {{ edges {{ node {{ version uri stepId }} }} }} \
           all: artifacts(workspaceId: \"{workspace}\", first: 2) {{ edges {{ node {{ name version }} }} pageInfo {{ hasNextPage }} }} \
           latest: artifact(workspaceId: \"{workspace}\", name: \"report.pdf\") {{ version }} \
           first: artifact(workspaceId: \"{workspace}\", name: \"report.pdf\", version: 1) {{ uri }} }}"
    );
    let answer = app.graphql(Some(&alice), &query, Some(last)).await;
    let data = &answer["data"];
    assert_eq!(
        data["run"]["steps"][0]["artifacts"],
        json!([{"name": "report.pdf", "version": 1, "mediaType": "application/pdf", "size": 1024,
            "sha256": "a".repeat(64), "uri": "s3://docs/report-1.pdf"}]),
        "{answer}"
    );
    assert_eq!(data["run"]["steps"][1]["artifacts"][0]["sha256"], "b".repeat(64), "stored lower-case: {answer}");
    assert_eq!(
        data["reports"]["edges"],
        json!([{"node": {"version": 2, "uri": "s3://docs/report-2.pdf", "stepId": "publish"}},
            {"node": {"version": 1, "uri": "s3://docs/report-1.pdf", "stepId": "render"}}]),
        "{answer}"
    );
    assert_eq!(
        data["all"],
        json!({"edges": [{"node": {"name": "data/raw.csv", "version": 1}}, {"node": {"name": "report.pdf", "version": 2}}],
            "pageInfo": {"hasNextPage": true}}),
        "{answer}"
    );
    assert_eq!(
        (data["latest"]["version"].clone(), data["first"]["uri"].clone()),
        (json!(2), json!("s3://docs/report-1.pdf"))
    );

    // A stranger sees nothing.
    let answer = app.graphql(Some(&app.token("eve")), &query, Some(last)).await;
    assert_eq!(
        answer["data"],
        json!({"run": null, "reports": {"edges": []}, "all": {"edges": [], "pageInfo": {"hasNextPage": false}},
            "latest": null, "first": null}),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_with_a_signed_url_fails_the_attempt_for_good() {
    let (base, server) = signing_webhook().await;
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let hook = agent(&app, workspace, json!({"type": "webhook", "url": base, "timeout_ms": 2_000}), 1, 0).await;
    let flow = workflow(
        &app,
        workspace,
        json!([{"id": "call", "agent_id": hook, "retry": {"max_attempts": 3, "backoff_ms": 0}}]),
    )
    .await;
    let run = start_run(&app, workspace, flow, 10).await;
    let events = finished(&app, run).await;
    let failed: Vec<&events::RecordedEvent> = events.iter().filter(|e| e.event_type == "StepFailed").collect();
    assert_eq!(failed.len(), 1, "not retried: {:?}", types(&events));
    let error = failed[0].payload["error"].as_str().unwrap();
    assert!(error.starts_with("answer_invalid: /artifacts/0/uri"), "{error}");
    assert!(!events.iter().any(|e| e.payload.to_string().contains("X-Amz-Signature")), "the log keeps no credential");
    server.abort();
}
