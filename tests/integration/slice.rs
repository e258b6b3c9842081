//! The Workspaces slice through every layer: command endpoint → log → relay → Kafka →
//! projector → PostgreSQL and Redis → GraphQL queries and subscriptions.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

fn create(id: Uuid, name: &str) -> Value {
    json!({"type": "CreateWorkspace", "id": id, "payload": {"name": name}})
}

fn position(response: &Value) -> i64 {
    response["position"].as_i64().expect("a position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workspaces_command_shows_in_graphql_with_read_your_writes() {
    let app = TestApp::start().await;
    let (alice, bo) = (app.token("alice"), app.token("bo"));
    let id = Uuid::now_v7();

    let created = app.ok(&alice, create(id, "Research")).await;
    assert_eq!(created["stream"], format!("workspace-{id}"));
    assert_eq!(created["version"], 1);
    assert_eq!(created["events"][0]["type"], "WorkspaceCreated");

    let invited = app
        .ok(&alice, json!({"type": "InviteMember", "id": id, "payload": {"email": "bo@example.com", "role": "member"}}))
        .await;
    let invitation_id = invited["events"][0]["payload"]["invitation_id"].as_str().expect("a server-made invitation id");
    app.ok(&bo, json!({"type": "AcceptInvitation", "id": id, "payload": {"invitation_id": invitation_id}})).await;
    app.ok(&alice, json!({"type": "ChangeMemberRole", "id": id, "payload": {"user_id": "bo", "role": "admin"}})).await;
    app.ok(&alice, json!({"type": "RenameWorkspace", "id": id, "expected_version": 4, "payload": {"name": "Lab"}}))
        .await;
    app.ok(&app.operator(), json!({"type": "SuspendWorkspace", "id": id, "payload": {"reason": "audit"}})).await;
    app.ok(&app.operator(), json!({"type": "ReactivateWorkspace", "id": id, "payload": {}})).await;
    let last = app.ok(&bo, json!({"type": "RemoveMember", "id": id, "payload": {"user_id": "bo"}})).await;
    assert_eq!(last["version"], 8);

    let query = format!(
        r#"{{ workspace(id: "{id}") {{ id name suspended version memberCount members {{ userId role }} }}
             workspaces {{ edges {{ cursor node {{ name }} }} pageInfo {{ hasNextPage }} }} }}"#
    );
    let response = app.graphql(Some(&alice), &query, Some(position(&last))).await;
    assert!(response.get("errors").is_none(), "{response}");
    assert!(response.get("extensions").is_none(), "the wait was satisfied: {response}");
    let workspace = &response["data"]["workspace"];
    assert_eq!(workspace["name"], "Lab");
    assert_eq!(workspace["suspended"], false);
    assert_eq!(workspace["version"], 8);
    assert_eq!(workspace["members"], json!([{"userId": "alice", "role": "OWNER"}]));
    assert_eq!(response["data"]["workspaces"]["edges"][0]["node"]["name"], "Lab");

    // Redis holds the summary too (written right after the read model's commit).
    let mut member_count = Value::Null;
    for _ in 0..50 {
        member_count = app.graphql(Some(&alice), &query, None).await["data"]["workspace"]["memberCount"].clone();
        if member_count == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(member_count, 1);
    let mut redis = platform::redis::connect(&app.config.redis_url).await.unwrap();
    let summary: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{}workspace:{id}", app.config.redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(summary.get("name").map(String::as_str), Some("Lab"));
    assert_eq!(summary.get("version").map(String::as_str), Some("8"));

    // The audit trail and projection status.
    let trail = app
        .graphql(
            Some(&alice),
            &format!(r#"{{ events(stream: "workspace-{id}") {{ edges {{ node {{ position eventType actor }} }} }} projections {{ name position lag }} }}"#),
            None,
        )
        .await;
    let types: Vec<&str> = trail["data"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "WorkspaceCreated",
            "MemberInvited",
            "InvitationAccepted",
            "MemberRoleChanged",
            "WorkspaceRenamed",
            "WorkspaceSuspended",
            "WorkspaceReactivated",
            "MemberRemoved"
        ]
    );
    assert_eq!(trail["data"]["projections"][0]["name"], "catalog");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_receives_every_change_in_log_order_after_the_read_model_shows_it() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let id = Uuid::now_v7();
    let created = app.ok(&alice, create(id, "Research")).await;
    // Once the read model shows the workspace, a subscription starts after its creation.
    app.graphql(Some(&alice), "{ projections { name } }", Some(position(&created))).await;

    let mut subscription = app
        .subscribe(
            Some(&alice),
            &format!(r#"subscription {{ workspaceActivity(workspaceId: "{id}") {{ position eventType }} }}"#),
        )
        .await
        .expect("subscribe");
    // Another workspace's events must not reach this subscriber.
    let other = Uuid::now_v7();
    app.ok(&alice, create(other, "Other")).await;
    let mut sent = Vec::new();
    for i in 0..10 {
        let response = app
            .ok(&alice, json!({"type": "RenameWorkspace", "id": id, "payload": {"name": format!("Name {i}")}}))
            .await;
        app.ok(&alice, json!({"type": "RenameWorkspace", "id": other, "payload": {"name": format!("Other {i}")}}))
            .await;
        sent.push(position(&response));
    }
    let mut received = Vec::new();
    while received.len() < sent.len() {
        let message = subscription.next_json().await.expect("a subscription message");
        assert_eq!(message["type"], "next", "{message}");
        let activity = &message["payload"]["data"]["workspaceActivity"];
        let at = activity["position"].as_i64().expect("a position");
        if at <= position(&created) {
            // The feed may still be passing the creation when the subscription starts.
            continue;
        }
        assert_eq!(activity["eventType"], "WorkspaceRenamed", "{message}");
        // The read model already shows this change, without waiting.
        let shown = app.graphql(Some(&alice), &format!(r#"{{ workspace(id: "{id}") {{ position }} }}"#), None).await;
        assert!(
            shown["data"]["workspace"]["position"].as_i64().unwrap() >= at,
            "pushed before the read model: {shown}"
        );
        received.push(at);
    }
    assert_eq!(received, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_topic_carries_cloudevents_keyed_by_stream_in_log_order() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let mut expected: HashMap<String, Vec<i64>> = HashMap::new();
    for _ in 0..3 {
        let id = Uuid::now_v7();
        let mut response = app.ok(&alice, create(id, "W")).await;
        expected.entry(format!("workspace-{id}")).or_default().push(position(&response));
        for i in 0..3 {
            response = app
                .ok(&alice, json!({"type": "RenameWorkspace", "id": id, "payload": {"name": format!("W{i}")}}))
                .await;
            expected.entry(format!("workspace-{id}")).or_default().push(position(&response));
        }
    }
    let total: usize = expected.values().map(Vec::len).sum();

    let consumer: StreamConsumer =
        platform::kafka::consumer_config(&app.config.kafka(), &tests::unique_name("reader")).create().unwrap();
    consumer.subscribe(&[&app.config.events_topic]).unwrap();
    let mut seen: HashMap<String, Vec<i64>> = HashMap::new();
    let mut count = 0;
    while count < total {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("the relay publishes within 30 s")
            .unwrap();
        let headers = message.headers().unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8(v.to_vec()).unwrap())
                .unwrap_or_else(|| panic!("header {name} is missing"))
        };
        assert_eq!(header("ce_specversion"), "1.0");
        assert_eq!(header("content-type"), "application/json");
        assert!(header("ce_type").starts_with("oxbow.workspaces.Workspace"), "{}", header("ce_type"));
        assert!(header("ce_source").starts_with("/oxbow/"));
        for name in ["ce_id", "ce_time", "oxbow_stream_version", "oxbow_correlation_id", "oxbow_causation_id"] {
            assert!(!header(name).is_empty(), "{name}");
        }
        let key = std::str::from_utf8(message.key().unwrap()).unwrap().to_owned();
        assert_eq!(key, header("ce_subject"));
        let payload: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        assert!(payload.get("name").is_some());
        let position: i64 = header("oxbow_position").parse().unwrap();
        let positions = seen.entry(key).or_default();
        if !positions.contains(&position) {
            positions.push(position);
            count += 1;
        }
    }
    assert_eq!(seen, expected, "each stream's events arrive in log order");
}
