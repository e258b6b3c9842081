//! Schema evolution end to end: a `WorkspaceRenamed` stored at version 1 (before it said what
//! the name was) reads in today's shape in the projection, the export, the audit trail and
//! `log state` and the activity feed, beside version 2 events written today.

use serde_json::{Value, json};
use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
use tests::TestApp;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_event_reads_in_todays_shape_everywhere() {
    let app = TestApp::start().await;
    let workspace = Uuid::now_v7();
    // Written as an older Oxbow wrote it: WorkspaceRenamed at schema version 1.
    let event = |event_type: &str, schema_version: i32, payload: Value| events::NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        schema_version,
        payload,
        metadata: json!({"actor": "alice", "workspace_id": workspace, "correlation_id": workspace,
            "causation_id": workspace}),
    };
    let store = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    let append = |expected, events| AppendRequest::to_stream(format!("workspace-{workspace}"), expected, events);
    let created = event("WorkspaceCreated", 1, json!({"workspace_id": workspace, "name": "Old", "owner_id": "alice"}));
    let created = store.append(append(ExpectedVersion::NoStream, vec![created])).await.unwrap();
    let alice = app.token("alice");
    // The activity feed shows the old event in today's shape too.
    let shown = app
        .graphql(Some(&alice), &format!("{{ workspace(id: \"{workspace}\") {{ name }} }}"), created.last_position)
        .await;
    assert_eq!(shown["data"]["workspace"]["name"], "Old", "{shown}");
    let mut activity = app
        .subscribe(
            Some(&alice),
            &format!(r#"subscription {{ workspaceActivity(workspaceId: "{workspace}") {{ eventType payload }} }}"#),
        )
        .await
        .expect("subscribe");
    let renamed = event("WorkspaceRenamed", 1, json!({"name": "Older"}));
    store.append(append(ExpectedVersion::Exact(1), vec![renamed])).await.unwrap();
    let pushed = loop {
        let message = activity.next_json().await.expect("the rename is pushed");
        let pushed = message["payload"]["data"]["workspaceActivity"].clone();
        if pushed["eventType"] == "WorkspaceRenamed" {
            break pushed;
        }
    };
    assert_eq!(pushed["payload"], json!({"name": "Older", "previous_name": null}));
    // And one written today, at version 2.
    let renamed =
        app.ok(&alice, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Today"}})).await;
    assert_eq!(renamed["events"][0]["payload"], json!({"name": "Today", "previous_name": "Older"}));

    // The projection read both.
    let query = format!("{{ workspace(id: \"{workspace}\") {{ name }} }}");
    let position = renamed["position"].as_i64();
    let response = app.graphql(Some(&alice), &query, position).await;
    assert_eq!(response["data"]["workspace"]["name"], "Today", "{response}");

    // The export and the audit trail show today's shape and version for both renames.
    let output = tests::oxbow_command(&app.config)
        .args(["log", "export", "--stream", &format!("workspace-{workspace}")])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let renames: Vec<(Value, Value)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record["event_type"] == "WorkspaceRenamed")
        .map(|record| (record["schema_version"].clone(), record["payload"].clone()))
        .collect();
    assert_eq!(
        renames,
        [
            (json!(2), json!({"name": "Older", "previous_name": null})),
            (json!(2), json!({"name": "Today", "previous_name": "Older"}))
        ]
    );
    let trail = app
        .graphql(
            Some(&alice),
            &format!(
                "{{ events(stream: \"workspace-{workspace}\") {{ edges {{ node {{ schemaVersion payload }} }} }} }}"
            ),
            None,
        )
        .await;
    assert_eq!(trail["data"]["events"]["edges"][1]["node"]["schemaVersion"], 2, "{trail}");
    assert_eq!(trail["data"]["events"]["edges"][1]["node"]["payload"]["previous_name"], Value::Null, "{trail}");

    // `log state` folds the old event with the decider's own evolve.
    let output = tests::oxbow_command(&app.config)
        .args(["log", "state", "--stream", &format!("workspace-{workspace}"), "--position", "999999999"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let state: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(state["state"]["name"], "Today", "{state}");

    // The log keeps what was written: the chain still verifies.
    let output = tests::oxbow_command(&app.config).args(["log", "verify"]).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
