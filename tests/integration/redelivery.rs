//! Duplicate delivery: every event published to Kafka a second time (`oxbow kafka republish`)
//! makes no saga act again. (Only the sagas read the topic: the read side follows the log, see
//! `projections::the_read_side_needs_no_broker`, so duplicates there cannot reach a read model.)

use std::time::Duration;

use serde_json::json;
use tests::TestApp;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_the_whole_log_again_makes_no_saga_act_again() {
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
    loop {
        let events = store::read_stream(&app.db.pool, &billing, 0).await.unwrap();
        if events.iter().any(|e| e.event_type == "ReservationReleased") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the run was not settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    // The sagas have consumed every duplicate once their group's committed offsets are at the
    // topic's end, as Kafka itself says (not a row that the in-process shortcut also moves).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !tests::group_has_consumed_everything(&app.config, &app.config.saga_group, &app.config.events_topic).await {
        assert!(tokio::time::Instant::now() < deadline, "the sagas did not consume the duplicates");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // No saga acted again: no command since, and no work planned or under way.
    let logged_after = store::read_head(&app.db.pool).await.unwrap().position;
    assert_eq!(logged_after, logged_before, "a saga sent commands for duplicates");
    let (waiting,): (i64,) = sqlx::query_as("select count(*) from saga_work").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(waiting, 0, "a saga planned work for duplicates");
}
