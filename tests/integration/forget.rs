//! `oxbow log forget`: personal data is sealed in the log under a key per person; forgetting
//! the person destroys the key. Exports, GraphQL and rebuilt projections then show the data as
//! erased, and the log still verifies.

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

async fn oxbow(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    tests::oxbow_output(&app.config, args).await
}

/// The invitations' emails as GraphQL serves them to the owner.
async fn invited_emails(app: &TestApp, workspace: Uuid, position: Option<i64>) -> Vec<String> {
    let query = format!("{{ workspace(id: \"{workspace}\") {{ invitations {{ email }} }} }}");
    let response = app.graphql(Some(&app.token("alice")), &query, position).await;
    let invitations = response["data"]["workspace"]["invitations"].as_array().cloned().unwrap_or_default();
    assert!(!invitations.is_empty(), "{response}");
    invitations.iter().map(|i| i["email"].as_str().unwrap().to_owned()).collect()
}

/// The emails of the MemberInvited events in the workspace's export.
async fn exported_emails(app: &TestApp, workspace: Uuid) -> Vec<String> {
    let (code, stdout, stderr) = oxbow(app, &["log", "export", "--stream", &format!("workspace-{workspace}")]).await;
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record["event_type"] == "MemberInvited")
        .map(|record| record["payload"]["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_person_reads_as_erased_everywhere_and_the_log_still_verifies() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Private"}})).await;
    // cy is invited as cy@example.com and accepts; dee is invited and stays.
    app.join(&alice, workspace, "cy", "member").await;
    let invited = app
        .ok(
            &alice,
            json!({"type": "InviteMember", "id": workspace, "payload": {"email": "Dee@Example.com", "role": "viewer"}}),
        )
        .await;
    assert_eq!(invited["events"][0]["payload"]["email"], "dee@example.com", "the caller hears back what it sent");
    let position = invited["position"].as_i64();

    let (plain,): (i64,) = sqlx::query_as("select count(*) from events where payload::text like '%example.com%'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(plain, 0, "no email is stored in plain text in the log");
    assert_eq!(invited_emails(&app, workspace, position).await, ["cy@example.com", "dee@example.com"]);
    let (sealed,): (i64,) = sqlx::query_as("select count(*) from rm_workspace_invitations where email like 'pii:v1:%'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sealed, 2, "nor in the read model");
    assert_eq!(exported_emails(&app, workspace).await, ["cy@example.com", "dee@example.com"]);

    let (code, stdout, stderr) = oxbow(&app, &["log", "forget", "--subject", "cy"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("forgot cy: 1 key(s) destroyed"), "{stdout}");

    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]", "dee@example.com"]);
    assert_eq!(exported_emails(&app, workspace).await, ["[erased]", "dee@example.com"]);
    let trail = app
        .graphql(
            Some(&alice),
            &format!("{{ events(stream: \"workspace-{workspace}\") {{ edges {{ node {{ eventType payload }} }} }} }}"),
            None,
        )
        .await;
    let trail = trail["data"]["events"]["edges"].to_string();
    assert!(trail.contains("MemberInvited"), "{trail}");
    assert!(trail.contains("[erased]") && !trail.contains("cy@example.com"), "{trail}");
    let (code, stdout, _) =
        oxbow(&app, &["log", "state", "--stream", &format!("workspace-{workspace}"), "--position", "999999"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("[erased]") && !stdout.contains("cy@example.com"), "{stdout}");
    let (code, stdout, stderr) = oxbow(&app, &["log", "verify"]).await;
    assert_eq!(code, 0, "the chain covers the ciphertext, which is untouched: {stderr}");
    assert!(stdout.starts_with("ok:"), "{stdout}");

    // A projection rebuilt from the log cannot bring the data back.
    let (code, _, stderr) = oxbow(&app, &["projections", "rebuild", "catalog"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]", "dee@example.com"]);

    // By email too, and forgetting again changes nothing.
    let (code, stdout, _) = oxbow(&app, &["log", "forget", "--subject", "DEE@example.com"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("forgot DEE@example.com: 1 key(s)"), "{stdout}");
    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]", "[erased]"]);
    let (code, stdout, _) = oxbow(&app, &["log", "forget", "--subject", "cy"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("nothing to forget"), "{stdout}");
    let (code, _, stderr) = oxbow(&app, &["log", "forget", "--subject", " "]).await;
    assert_ne!(code, 0);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--subject"), "{stderr}");
}

/// No snapshot or cached state holds a person's email: a workspace's state keeps invitations
/// sealed as the log does, and is revealed only for the one decision that compares emails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_keep_invitation_emails_sealed_and_invitations_still_work() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Sealed"}})).await;
    let invite =
        |email: &str| json!({"type": "InviteMember", "id": workspace, "payload": {"email": email, "role": "member"}});
    let invited = app.ok(&alice, invite("cy@example.com")).await;
    let invitation = invited["events"][0]["payload"]["invitation_id"].clone();
    // Enough events after it for a snapshot (every 200).
    for n in 0..200 {
        app.ok(&alice, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": format!("S{n}")}})).await;
    }
    let stream = format!("workspace-{workspace}");
    let mut snapshot: Option<Value> = None;
    for _ in 0..100 {
        snapshot = sqlx::query_scalar("select state from snapshots where stream_id = $1")
            .bind(&stream)
            .fetch_optional(&app.db.pool)
            .await
            .unwrap();
        if snapshot.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let snapshot = snapshot.expect("a snapshot of the workspace").to_string();
    assert!(!snapshot.contains("cy@example.com"), "the snapshot holds the email: {snapshot}");
    assert!(snapshot.contains("pii:v1:"), "it holds the sealed one: {snapshot}");

    // The decisions that compare emails still see them: the same email is not invited twice,
    // another person cannot accept, and the invited one can.
    let (status, problem) = app.command(&alice, invite("CY@example.com")).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("already_invited")), "{problem}");
    let accept = json!({"type": "AcceptInvitation", "id": workspace, "payload": {"invitation_id": invitation}});
    let (status, problem) = app.command(&app.token("dee"), accept.clone()).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("invitation_for_another_email")), "{problem}");
    app.ok(&app.token("cy"), accept).await;
}
