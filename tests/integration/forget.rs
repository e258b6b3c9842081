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

    let (code, stdout, stderr) = oxbow(&app, &["log", "forget", "--subject", "cy", "--by", "dpo"]).await;
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
    let (code, stdout, _) = oxbow(&app, &["log", "forget", "--subject", "DEE@example.com", "--by", "dpo"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("forgot DEE@example.com: 1 key(s)"), "{stdout}");
    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]", "[erased]"]);
    let (code, stdout, _) = oxbow(&app, &["log", "forget", "--subject", "cy", "--by", "dpo"]).await;
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

/// The key a MemberInvited of `workspace` sealed its email under, with the key's bytes and the
/// hash that named its subject: what a restored database would hold again.
async fn invitation_key(app: &TestApp, workspace: Uuid) -> (Uuid, Vec<u8>, Vec<u8>) {
    let (sealed,): (String,) =
        sqlx::query_as("select payload->>'email' from events where stream_id = $1 and event_type = 'MemberInvited'")
            .bind(format!("workspace-{workspace}"))
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let key_id = store::personal::key_id_of(&sealed).expect("the email is sealed");
    let (key, hash): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("select key, subject_hash from personal_data_keys where key_id = $1")
            .bind(key_id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    (key_id, key, hash)
}

/// Puts the key back as it was before the erasure: what a point-in-time restore to a moment
/// before the key was destroyed (or a copy of the keys older than the log) brings back.
async fn restore_key(app: &TestApp, (key_id, key, hash): &(Uuid, Vec<u8>, Vec<u8>)) {
    sqlx::query("update personal_data_keys set key = $2, subject_hash = $3, forgotten_at = null where key_id = $1")
        .bind(key_id)
        .bind(key)
        .bind(hash)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// An erasure is an event of the log (`SubjectForgotten`: the key ids and who decided, never
/// the email), so it outlives a restore that brings the key back: `oxbow migrate` and
/// `oxbow serve` destroy it again. (It used to be a row update alone, and a restore brought the
/// person back.) Keys forgotten after the restore point are forgotten again by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_is_in_the_log_and_outlives_a_restore() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Private"}})).await;
    let invite =
        json!({"type": "InviteMember", "id": workspace, "payload": {"email": "eve@example.com", "role": "viewer"}});
    app.ok(&alice, invite).await;
    let key = invitation_key(&app, workspace).await;

    let (code, stdout, stderr) = oxbow(&app, &["log", "forget", "--subject", "eve@example.com", "--by", "dpo"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("forgot eve@example.com: 1 key(s) destroyed"), "{stdout}");
    let decisions = store::read_stream(&app.db.pool, &events::operations::stream_id(), 0).await.unwrap();
    let erasure = decisions.last().expect("the erasure is in the log");
    assert_eq!(erasure.event_type, "SubjectForgotten");
    assert_eq!(erasure.payload, json!({"key_ids": [key.0]}));
    assert_eq!(erasure.metadata["actor"], "operator:dpo");
    assert!(!erasure.payload.to_string().contains("eve"), "the log names no one");
    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]"]);

    // A restore brings the key back; migrating destroys it again, and says so.
    restore_key(&app, &key).await;
    assert_eq!(invited_emails(&app, workspace, None).await, ["eve@example.com"], "the restore brought eve back");
    let (code, stdout, stderr) = oxbow(&app, &["migrate"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("destroyed again 1 key(s)"), "{stdout}");
    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]"]);

    // So does starting a process over the restored database.
    restore_key(&app, &key).await;
    let server = oxbow::serve::start(app.config.clone(), &[oxbow::Role::Projector]).await.expect("start");
    server.stop();
    assert_eq!(invited_emails(&app, workspace, None).await, ["[erased]"]);

    // An erasure made after the restore point is not in the restored log: the runbook forgets
    // its keys again by id, from the old events topic's SubjectForgotten.
    let second = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": second, "payload": {"name": "Later"}})).await;
    let invite =
        json!({"type": "InviteMember", "id": second, "payload": {"email": "fay@example.com", "role": "viewer"}});
    app.ok(&alice, invite).await;
    let (key_id, _, _) = invitation_key(&app, second).await;
    let (code, stdout, stderr) = oxbow(&app, &["log", "forget", "--key-id", &key_id.to_string(), "--by", "dpo"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("forgot 1 key(s): 1 key(s) destroyed"), "{stdout}");
    assert_eq!(invited_emails(&app, second, None).await, ["[erased]"]);
    let (code, stdout, _) = oxbow(&app, &["log", "forget", "--key-id", &key_id.to_string(), "--by", "dpo"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("nothing to forget"), "{stdout}");
    // One way to name what to forget.
    let (code, _, stderr) =
        oxbow(&app, &["log", "forget", "--subject", "x@example.com", "--key-id", &key_id.to_string()]).await;
    assert_ne!(code, 0, "{stderr}");
}
