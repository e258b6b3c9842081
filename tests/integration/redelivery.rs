//! Duplicate delivery: every event published to Kafka a second time changes no read model.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use tests::TestApp;
use uuid::Uuid;

async fn snapshot(pool: &sqlx::PgPool) -> serde_json::Value {
    let (value,): (serde_json::Value,) = sqlx::query_as(
        "select json_build_object(
           'workspaces', (select json_agg(w order by id) from (select id, name, suspended, version from rm_workspaces) w),
           'members', (select json_agg(m order by workspace_id, user_id) from rm_workspace_members m),
           'accounts', (select json_agg(a order by workspace_id) from (select workspace_id, balance, reserved, version from rm_billing_accounts) a),
           'invoices', (select json_agg(i order by invoice_id) from (select invoice_id, amount, paid from rm_invoices) i))::jsonb",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_the_whole_log_again_changes_no_read_model() {
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
        app.ok(&owner, json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": amount, "reason": "r"}}))
            .await;
    }
    let reservation = Uuid::now_v7();
    app.ok(
        &owner,
        json!({"type": "ReserveCredits", "id": workspace, "payload": {"reservation_id": reservation, "amount": 25}}),
    )
    .await;
    let last = app
        .ok(
            &owner,
            json!({"type": "CaptureCredits", "id": workspace, "payload": {"reservation_id": reservation, "amount": 5}}),
        )
        .await;
    app.graphql(Some(&owner), "{ projections { name } }", last["position"].as_i64()).await;
    let before = snapshot(&app.db.pool).await;
    assert_eq!(before["accounts"][0]["balance"], 55, "{before}");

    // Every logged event, once more, through the same topic.
    let producer: FutureProducer = platform::kafka::producer_config(&app.config.kafka_brokers).create().unwrap();
    let log = store::read_all(&app.db.pool, 0, 10_000).await.unwrap();
    for event in &log {
        let mut headers = OwnedHeaders::new();
        for (key, value) in platform::cloudevents::headers(event) {
            headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
        }
        let payload = serde_json::to_vec(&event.payload).unwrap();
        let record =
            FutureRecord::to(&app.config.events_topic).key(&event.stream_id).payload(&payload).headers(headers);
        producer.send(record, Duration::from_secs(10)).await.map_err(|(error, _)| error).unwrap();
    }
    // A marker after the duplicates: once it is applied, so are they (same partitions, in order).
    let marker = app
        .ok(&owner, json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1, "reason": "marker"}}))
        .await;
    app.graphql(Some(&owner), "{ projections { name } }", marker["position"].as_i64()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut after = snapshot(&app.db.pool).await;
    assert_eq!(after["accounts"][0]["balance"], 56, "only the marker moved the balance: {after}");
    after["accounts"][0]["balance"] = json!(55);
    after["accounts"][0]["version"] = before["accounts"][0]["version"].clone();
    assert_eq!(after, before, "duplicates changed a read model");
}
