//! Webhook calls are signed as Standard Webhooks specifies, with a secret per agent that the log
//! keeps sealed; a rotation keeps the old secret signing for a grace period. Checked by a
//! receiver that verifies with the `standardwebhooks` package from PyPI.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tests::TestApp;
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;

use crate::runs::{finished, funded_workspace, types, workflow};

/// The receiver, and the file of secrets it accepts.
struct Receiver {
    url: String,
    secrets: PathBuf,
    _process: tokio::process::Child,
}

impl Receiver {
    /// A receiver that verifies with `verifier`: `standardwebhooks`, or `oxbow` (the worker
    /// SDK's helper).
    async fn start(verifier: &str) -> Receiver {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let packages = root.join("../.oxbow/python");
        let path = std::env::join_paths([packages.clone(), root.join("../clients/python/oxbow-worker")]).unwrap();
        assert!(
            packages.join("standardwebhooks").is_dir(),
            "standardwebhooks is missing: python3 -m pip install --target .oxbow/python -r tests/python/requirements.txt (scripts/test does)"
        );
        let secrets = std::env::temp_dir().join(tests::unique_name("webhook-secrets"));
        std::fs::write(&secrets, "").unwrap();
        let mut process = tokio::process::Command::new("python3")
            .arg(root.join("python/webhook_receiver.py"))
            .arg(&secrets)
            .arg(verifier)
            .env("PYTHONPATH", path)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run python3");
        let mut lines = tokio::io::BufReader::new(process.stdout.take().unwrap()).lines();
        let port = lines.next_line().await.unwrap().expect("the receiver's port");
        Receiver { url: format!("http://127.0.0.1:{port}/run"), secrets, _process: process }
    }

    fn accept(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join("\n")).unwrap();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.secrets);
    }
}

fn secret_of(answer: &Value) -> String {
    let secret = answer["webhook_secret"].as_str().unwrap_or_else(|| panic!("a webhook secret: {answer}"));
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret.to_owned()
}

/// Runs the one-step workflow; its step's output, or the run's failure.
async fn run_once(app: &TestApp, workspace: Uuid, flow: Uuid) -> Result<Value, String> {
    let run = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow,
            "input": {}, "budget": 10}}),
    )
    .await;
    let events = finished(app, run).await;
    // Settled too, so that nothing more of this run is appended after it is answered.
    crate::runs::settlement(app, workspace, run).await;
    let last = events.last().unwrap();
    match last.event_type.as_str() {
        "RunSucceeded" => {
            let done = events.iter().find(|e| e.event_type == "StepSucceeded").unwrap();
            assert_eq!(done.payload["output"]["webhook_id"], json!(format!("{run}:call:1")));
            Ok(done.payload["output"].clone())
        }
        _ => {
            let failed = events.iter().find(|e| e.event_type == "StepFailed").map(|e| e.payload["error"].to_string());
            Err(format!("{:?}: {failed:?}", types(&events)))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_calls_are_signed_with_a_sealed_secret_that_rotates_with_a_grace_period() {
    let receiver = Receiver::start("standardwebhooks").await;
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    let agent = Uuid::now_v7();
    let registered = app
        .ok(
            &alice,
            json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "signed",
                "kind": "tool", "executor": {"type": "webhook", "url": receiver.url, "timeout_ms": 5_000},
                "price": {"per_call": 1, "per_1k_tokens": 0}}}),
        )
        .await;
    let first = secret_of(&registered);
    assert_eq!(registered["events"][1]["type"], "WebhookSecretIssued");
    assert_eq!(registered["events"][1]["payload"]["secret"], "[hidden]", "shown once, beside the events");
    let flow = workflow(&app, workspace, json!([{"id": "call", "agent_id": agent}])).await;

    // A receiver without the secret refuses the call; with it, verifies it.
    let refused = run_once(&app, workspace, flow).await.expect_err("an unknown secret does not verify");
    assert!(refused.contains("HTTP 401"), "{refused}");
    receiver.accept(&[&first]);
    assert_eq!(run_once(&app, workspace, flow).await.unwrap()["verified_with"], 0);

    // A rotation: the old secret keeps signing beside the new one for the grace period, so a
    // receiver that holds either accepts the call.
    let rotate = |grace_ms: Option<u64>| {
        let payload = grace_ms.map_or(json!({}), |grace_ms| json!({"grace_ms": grace_ms}));
        json!({"type": "RotateWebhookSecret", "id": agent, "payload": payload})
    };
    let key = Uuid::now_v7().to_string();
    let (status, rotated) = app.command_with(&alice, rotate(None), &[("idempotency-key", &key)]).await;
    assert_eq!(status, 200, "{rotated}");
    let second = secret_of(&rotated);
    assert_ne!(second, first);
    let (status, again) = app.command_with(&alice, rotate(None), &[("idempotency-key", &key)]).await;
    assert_eq!((status, again.get("webhook_secret")), (200, None), "a retry does not show the secret again: {again}");
    assert_eq!(run_once(&app, workspace, flow).await.unwrap()["verified_with"], 0, "the old secret still signs");
    receiver.accept(&[&second]);
    assert_eq!(run_once(&app, workspace, flow).await.unwrap()["verified_with"], 0, "and so does the new one");

    // Without a grace period the old secret stops signing at once.
    let third = secret_of(&app.ok(&alice, rotate(Some(0))).await);
    let refused = run_once(&app, workspace, flow).await.expect_err("the old secret no longer signs");
    assert!(refused.contains("HTTP 401"), "{refused}");
    receiver.accept(&[&second, &third]);
    assert_eq!(run_once(&app, workspace, flow).await.unwrap()["verified_with"], 1);

    // Refusals append nothing.
    app.join(&alice, workspace, "bob", "member").await;
    let head = store::read_head(&app.db.pool).await.unwrap().position;
    let (status, body) = app.command(&app.token("bob"), rotate(None)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("role_too_low")), "{body}");
    assert_eq!(store::read_head(&app.db.pool).await.unwrap().position, head);
    let echo = crate::runs::agent(&app, workspace, crate::runs::builtin("echo", json!({})), 1, 0).await;
    let head = store::read_head(&app.db.pool).await.unwrap().position;
    let (status, body) = app.command(&alice, json!({"type": "RotateWebhookSecret", "id": echo, "payload": {}})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("agent_not_webhook")), "{body}");
    let (status, body) = app.command(&alice, rotate(Some(8 * 86_400_000))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_payload")), "{body}");
    assert_eq!(store::read_head(&app.db.pool).await.unwrap().position, head);

    // The log, and so every export, feed and topic made of it, holds the secrets sealed only.
    let log = store::read_range(&app.db.pool, 1, head).await.unwrap();
    let text = serde_json::to_string(&log.iter().map(|e| &e.payload).collect::<Vec<_>>()).unwrap();
    for secret in [&first, &second, &third] {
        let key = secret.trim_start_matches("whsec_");
        assert!(!text.contains(key), "the log holds a secret in the clear");
    }
    let issued: Vec<&str> = log
        .iter()
        .filter(|e| e.event_type == "WebhookSecretIssued")
        .map(|e| e.payload["secret"].as_str().unwrap())
        .collect();
    assert_eq!(issued.len(), 3);
    assert!(issued.iter().all(|sealed| store::secrets::is_sealed(sealed)), "{issued:?}");
    // The audit trail shows the seal, as the log holds it.
    let query = format!("{{ events(stream: \"agent-{agent}\") {{ nodes {{ eventType payload }} }} }}");
    let answer = app.graphql(Some(&alice), &query, Some(head)).await;
    let audited: Vec<&Value> = answer["data"]["events"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .filter(|node| node["eventType"] == "WebhookSecretIssued")
        .map(|node| &node["payload"]["secret"])
        .collect();
    assert_eq!(audited, issued.iter().map(|sealed| json!(sealed)).collect::<Vec<_>>().iter().collect::<Vec<_>>());
}

/// The worker SDK's helper verifies what Oxbow signs, and refuses what another secret signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sdks_helper_verifies_real_calls() {
    let receiver = Receiver::start("oxbow").await;
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let workspace = funded_workspace(&app, 1_000).await;
    let agent = Uuid::now_v7();
    let registered = app
        .ok(
            &app.token("alice"),
            json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "helped",
                "kind": "tool", "executor": {"type": "webhook", "url": receiver.url, "timeout_ms": 5_000},
                "price": {"per_call": 1}}}),
        )
        .await;
    let flow = workflow(&app, workspace, json!([{"id": "call", "agent_id": agent}])).await;
    receiver.accept(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]);
    let refused = run_once(&app, workspace, flow).await.expect_err("another secret does not verify");
    assert!(refused.contains("HTTP 401"), "{refused}");
    receiver.accept(&[&secret_of(&registered)]);
    assert_eq!(run_once(&app, workspace, flow).await.unwrap()["verified_with"], 0);
}
