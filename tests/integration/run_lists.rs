//! What a console lists runs with: a workspace's runs newest first by the time they were
//! requested (their ids are the clients' and say nothing of time), filtered by status, workflow
//! and time, paged by cursor; usage by day; and each change of any run of the workspace, live.

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, workflow};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_listed_newest_first_filtered_and_paged_and_their_changes_arrive_live() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let (one, other) = (
        workflow(&app, workspace, json!([{"id": "a", "agent_id": echo}])).await,
        workflow(&app, workspace, json!([{"id": "b", "agent_id": echo}])).await,
    );
    let mut live = app
        .subscribe(
            Some(&alice),
            &format!("subscription {{ workspaceRunUpdated(workspaceId: \"{workspace}\") {{ eventType run {{ id status }} }} }}"),
        )
        .await
        .unwrap();
    // Ids that sort backwards: each run's id is smaller than the one before's.
    let runs: Vec<Uuid> = (0..5u128).map(|n| Uuid::from_u128(u128::MAX / 2 - n)).collect();
    let mut before_last = None;
    for (n, run) in runs.iter().enumerate() {
        if n == 4 {
            before_last = Some(chrono::Utc::now());
        }
        let flow = if n % 2 == 0 { one } else { other };
        app.ok(
            &alice,
            json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow, "budget": 10}}),
        )
        .await;
        finished(&app, *run).await;
    }
    let head = store::read_head(&app.db.pool).await.unwrap().position;

    // Each change of any run comes live, with the run's row.
    let mut heard: Vec<(String, String)> = Vec::new();
    while heard.iter().filter(|(event, _)| event == "RunSucceeded").count() < runs.len() {
        let message = live.next_json().await.expect("an update");
        let update = &message["payload"]["data"]["workspaceRunUpdated"];
        assert!(update["run"]["id"].is_string(), "{message}");
        heard.push((update["eventType"].as_str().unwrap().into(), update["run"]["id"].as_str().unwrap().into()));
    }
    assert_eq!(heard[0], ("RunRequested".to_owned(), runs[0].to_string()));

    let ids = |answer: &Value, list: &str| -> Vec<String> {
        let edges = answer["data"][list]["edges"].as_array().unwrap_or_else(|| panic!("{answer}"));
        edges.iter().map(|edge| edge["node"]["id"].as_str().unwrap().to_owned()).collect()
    };
    let newest: Vec<String> = runs.iter().rev().map(Uuid::to_string).collect();
    let page = |after: &str| {
        format!(
            "{{ runs(workspaceId: \"{workspace}\", order: NEWEST_FIRST, first: 2{after}) \
               {{ edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
    };
    let first = app.graphql(Some(&alice), &page(""), Some(head)).await;
    assert_eq!(ids(&first, "runs"), newest[..2]);
    assert_eq!(first["data"]["runs"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["data"]["runs"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let second = app.graphql(Some(&alice), &page(&format!(", after: \"{cursor}\"")), Some(head)).await;
    assert_eq!(ids(&second, "runs"), newest[2..4]);

    let from = before_last.unwrap().to_rfc3339();
    let filtered = app
        .graphql(
            Some(&alice),
            &format!(
                "{{ byId: runs(workspaceId: \"{workspace}\") {{ edges {{ node {{ id }} }} }} \
                   oldest: runs(workspaceId: \"{workspace}\", order: OLDEST_FIRST, workflowId: \"{one}\") {{ edges {{ node {{ id }} }} }} \
                   recent: runs(workspaceId: \"{workspace}\", order: NEWEST_FIRST, from: \"{from}\", status: SUCCEEDED) {{ edges {{ node {{ id }} }} }} \
                   none: runs(workspaceId: \"{workspace}\", order: NEWEST_FIRST, status: FAILED) {{ edges {{ node {{ id }} }} }} \
                   usageByDay(workspaceId: \"{workspace}\", from: \"2000-01-01\", to: \"2000-12-31\") {{ day }} \
                   today: usageByDay(workspaceId: \"{workspace}\", from: \"{today}\", to: \"{tomorrow}\") {{ day agentId attempts credits }} }}",
                today = chrono::Utc::now().date_naive(),
                tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1),
            ),
            Some(head),
        )
        .await;
    let mut by_id: Vec<String> = runs.iter().map(Uuid::to_string).collect();
    by_id.sort();
    assert_eq!(ids(&filtered, "byId"), by_id, "the default order is the ids', as before");
    assert_eq!(ids(&filtered, "oldest"), [runs[0].to_string(), runs[2].to_string(), runs[4].to_string()]);
    assert_eq!(ids(&filtered, "recent"), [runs[4].to_string()]);
    assert_eq!(ids(&filtered, "none"), Vec::<String>::new());
    assert_eq!(filtered["data"]["usageByDay"], json!([]));
    assert_eq!(
        filtered["data"]["today"],
        json!([{"day": chrono::Utc::now().date_naive().to_string(), "agentId": echo.to_string(), "attempts": 5, "credits": 10}])
    );

    // Bad cursors and ranges are the caller's mistake; a stranger sees nothing and hears nothing.
    let bad = app.graphql(Some(&alice), &page(", after: \"not-a-cursor\""), Some(head)).await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{bad}");
    let long =
        format!("{{ usageByDay(workspaceId: \"{workspace}\", from: \"2000-01-01\", to: \"2002-01-01\") {{ day }} }}");
    let long = app.graphql(Some(&alice), &long, Some(head)).await;
    assert_eq!(long["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{long}");
    let eve = app.token("eve");
    let theirs = app.graphql(Some(&eve), &page(""), Some(head)).await;
    assert_eq!(ids(&theirs, "runs"), Vec::<String>::new());
    let refused = app
        .subscribe(
            Some(&eve),
            &format!("subscription {{ workspaceRunUpdated(workspaceId: \"{workspace}\") {{ eventType }} }}"),
        )
        .await;
    let refused = match refused {
        Ok(mut subscription) => subscription.next_json().await.unwrap_or_default(),
        Err(error) => json!({"error": error}),
    };
    assert!(refused.to_string().contains("FORBIDDEN"), "{refused}");
}
