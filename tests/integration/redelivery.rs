//! Duplicate delivery: every event published to Kafka a second time (`oxbow kafka republish`)
//! changes no read model and makes no saga act again.

use std::time::Duration;

use serde_json::json;
use tests::TestApp;
use uuid::Uuid;

async fn snapshot(pool: &sqlx::PgPool) -> serde_json::Value {
    let (value,): (serde_json::Value,) = sqlx::query_as(
        "select json_build_object(
           'workspaces', (select json_agg(w order by id) from (select id, name, suspended, version from rm_workspaces) w),
           'members', (select json_agg(m order by workspace_id, user_id) from rm_workspace_members m),
           'accounts', (select json_agg(a order by workspace_id) from (select workspace_id, balance, reserved, version from rm_billing_accounts) a),
           'invoices', (select json_agg(i order by invoice_id) from (select invoice_id, amount, paid from rm_invoices) i),
           'runs', (select json_agg(r order by id) from (select id, status, credits_used, version from rm_runs) r),
           'steps', (select json_agg(s order by run_id, step_id) from rm_run_steps s),
           'usage', (select json_agg(u order by agent_id, day) from rm_usage u))::jsonb",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_the_whole_log_again_changes_no_read_model_and_no_saga() {
    let app = TestApp::start().await;
    let owner = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&owner, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Billing"}})).await;
    app.ok(
        &owner,
        json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "team", "overdraft_limit": 0}}),
    )
    .await;
    for amount in [10, 20, 30] {
        app.grant(workspace, amount).await;
    }
    let payment = json!({"id": "pay_r", "type": "payment.succeeded", "workspace_id": workspace, "amount": 5});
    assert_eq!(app.deliver_payment(&payment, None).await.0, 200);
    // A run, billed through the saga: 2 credits for its one step.
    let agent = Uuid::now_v7();
    app.ok(
        &owner,
        json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "Echo",
            "kind": "tool", "executor": {"type": "builtin", "name": "echo"}, "price": {"per_call": 2, "per_1k_tokens": 0}}}),
    )
    .await;
    let workflow = Uuid::now_v7();
    app.ok(
        &owner,
        json!({"type": "DefineWorkflow", "id": workflow, "payload": {"workspace_id": workspace, "name": "One",
            "steps": [{"id": "only", "agent_id": agent}]}}),
    )
    .await;
    let run = Uuid::now_v7();
    app.ok(
        &owner,
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": workflow, "budget": 10}}),
    )
    .await;
    let billing = format!("billing-{workspace}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let last = loop {
        let events = store::read_stream(&app.db.pool, &billing, 0).await.unwrap();
        if events.iter().any(|e| e.event_type == "ReservationReleased") {
            break events.last().unwrap().position;
        }
        assert!(tokio::time::Instant::now() < deadline, "the run was not settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    app.graphql(Some(&owner), "{ projections { name } }", Some(last)).await;
    let before = snapshot(&app.db.pool).await;
    assert_eq!(before["accounts"][0]["balance"], 63, "{before}");
    assert_eq!(before["runs"][0]["status"], "SUCCEEDED", "{before}");
    let logged_before = store::read_head(&app.db.pool).await.unwrap().position;

    // Every logged event, once more, through the same topic: `oxbow kafka republish`.
    let republished = tokio::process::Command::new(tests::oxbow_bin())
        .args(["kafka", "republish", "--from", "1"])
        .env("DATABASE_URL", &app.db.url)
        .env("KAFKA_BROKERS", &app.config.kafka_brokers)
        .env("OXBOW_EVENTS_TOPIC", &app.config.events_topic)
        .env("OXBOW_LOG", "error")
        .output()
        .await
        .expect("run oxbow kafka republish");
    let said = String::from_utf8_lossy(&republished.stderr);
    assert!(republished.status.success(), "{said}");
    assert!(said.contains(&format!("republished {logged_before} events")), "{said}");
    // A marker after the duplicates: once it is applied, so are they (same partitions, in order).
    let marker = app.grant(workspace, 1).await;
    app.graphql(Some(&owner), "{ projections { name } }", marker["position"].as_i64()).await;
    // The sagas have read past the duplicates once they have handled the marker.
    let marker_version = marker["version"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (version,): (i64,) = sqlx::query_as(
            "select coalesce(max(version), 0) from projection_streams where projection = 'sagas' and stream_id = $1",
        )
        .bind(&billing)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if version >= marker_version {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sagas did not reach the marker");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut after = snapshot(&app.db.pool).await;
    assert_eq!(after["accounts"][0]["balance"], 64, "only the marker moved the balance: {after}");
    after["accounts"][0]["balance"] = json!(63);
    after["accounts"][0]["version"] = before["accounts"][0]["version"].clone();
    assert_eq!(after, before, "duplicates changed a read model");
    // No saga acted again: the marker is the only event since, and no work is waiting.
    let logged_after = store::read_head(&app.db.pool).await.unwrap().position;
    assert_eq!(logged_after, logged_before + 1, "a saga sent commands for duplicates");
    let (waiting,): (i64,) = sqlx::query_as("select count(*) from saga_work").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(waiting, 0, "a saga planned work for duplicates");
}
