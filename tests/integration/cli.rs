//! The `oxbow` binary: one clear line and a non-zero exit on bad input, never a panic; `log
//! verify` passes an untouched log and names the first bad position of a tampered one.

use serde_json::json;
use store::{CommitterConfig, EventStore, ExpectedVersion};
use uuid::Uuid;

async fn oxbow(args: &[&str], database_url: Option<&str>) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(tests::oxbow_bin());
    command.args(args).env_remove("DATABASE_URL").env("OXBOW_LOG", "error");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let output = command.output().await.expect("run oxbow");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.code().unwrap_or(-1), text(output.stdout), text(output.stderr))
}

#[track_caller]
fn assert_one_line_error(result: &(i32, String, String), mentions: &str) {
    let (code, _, stderr) = result;
    assert_ne!(*code, 0, "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line, got: {stderr}");
    assert!(stderr.starts_with("error"), "{stderr}");
    assert!(stderr.contains(mentions), "{stderr} should mention {mentions}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn bad_input_gets_one_line_and_a_non_zero_exit() {
    assert_one_line_error(&oxbow(&["serve", "--role", "kitchen"], None).await, "kitchen");
    assert_one_line_error(&oxbow(&["frobnicate"], None).await, "frobnicate");
    assert_one_line_error(&oxbow(&["log", "verify", "--from", "ten"], None).await, "ten");
    assert_one_line_error(
        &oxbow(&["log", "verify", "--from", "9", "--to", "2"], Some("postgres://x/y")).await,
        "--from",
    );
    assert_one_line_error(&oxbow(&["token", "--sub", " "], None).await, "--sub");
    assert_one_line_error(&oxbow(&["kafka", "republish", "--from", "0"], None).await, "--from");
    assert_one_line_error(&oxbow(&["kafka", "republish", "--from", "5", "--to", "2"], None).await, "--from");
    assert_one_line_error(&oxbow(&["kafka", "republish"], None).await, "--from");
    assert_one_line_error(&oxbow(&["migrate"], None).await, "DATABASE_URL");
    assert_one_line_error(&oxbow(&["log", "verify"], Some("postgres://nobody@127.0.0.1:1/none")).await, "PostgreSQL");
    let (code, stdout, _) = oxbow(&["--help"], None).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("serve"));
}

#[tokio::test]
async fn log_verify_passes_an_untouched_log_and_names_the_first_tampered_position() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    for i in 0..4 {
        store.append(tests::append_request(&format!("s-{i}"), ExpectedVersion::NoStream, 3)).await.unwrap();
    }
    let (code, stdout, stderr) = oxbow(&["log", "verify"], Some(&db.url)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("ok: 12 events verified"), "{stdout}");

    sqlx::raw_sql(
        "set session_replication_role = replica; \
         update events set metadata = '{\"actor\": \"mallory\"}' where position = 7; \
         set session_replication_role = origin;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let result = oxbow(&["log", "verify"], Some(&db.url)).await;
    assert_one_line_error(&result, "position 7");
    let (code, _, _) = oxbow(&["log", "verify", "--to", "6"], Some(&db.url)).await;
    assert_eq!(code, 0, "the stretch before the edit still verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_export_writes_a_streams_or_a_workspaces_trail_as_jsonl_or_csv() {
    let app = tests::TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let owner = app.token("alice");
    let (workspace, other) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, name) in [(workspace, "Audit"), (other, "Other")] {
        app.ok(&owner, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": name}})).await;
    }
    app.ok(&owner, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Audit, \"2\""}})).await;
    app.ok(
        &owner,
        json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "p", "overdraft_limit": 0}}),
    )
    .await;
    let url = Some(app.db.url.as_str());
    let stream = format!("workspace-{workspace}");

    let (code, stdout, stderr) = oxbow(&["log", "export", "--stream", &stream], url).await;
    assert_eq!(code, 0, "{stderr}");
    let records: Vec<serde_json::Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let types: Vec<&str> = records.iter().map(|r| r["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["WorkspaceCreated", "WorkspaceRenamed"]);
    assert_eq!(records[1]["actor"], "alice");
    assert_eq!(records[1]["stream_version"], 2);
    assert_eq!(records[1]["schema_version"], 2);
    assert_eq!(records[1]["workspace_id"], workspace.to_string());
    assert!(records[1]["correlation_id"].is_string() && records[1]["causation_id"].is_string());
    assert_eq!(records[1]["payload"]["name"], "Audit, \"2\"");
    assert!(records[0]["position"].as_i64() < records[1]["position"].as_i64());

    // The workspace's trail has its billing account too, and nothing of the other workspace.
    let (code, stdout, stderr) =
        oxbow(&["log", "export", "--workspace", &workspace.to_string(), "--format", "csv"], url).await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], replay::export::FIELDS.join(","));
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[3].contains(&format!("billing-{workspace}")) && lines[3].contains("BillingAccountOpened"));
    assert!(lines[2].contains(r#""{""name"":""Audit, \""2\"""",""previous_name"":""Audit""}""#), "{}", lines[2]);
    assert!(!stdout.contains(&other.to_string()));

    // A time window: nothing was recorded before 2000.
    let (code, stdout, _) = oxbow(&["log", "export", "--stream", &stream, "--to", "2000-01-01T00:00:00Z"], url).await;
    assert_eq!((code, stdout.as_str()), (0, ""));

    assert_one_line_error(&oxbow(&["log", "export"], url).await, "--stream");
    assert_one_line_error(
        &oxbow(&["log", "export", "--stream", &stream, "--workspace", &workspace.to_string()], url).await,
        "--workspace",
    );
    assert_one_line_error(&oxbow(&["log", "export", "--workspace", "acme"], url).await, "acme");
    assert_one_line_error(
        &oxbow(&["log", "export", "--stream", &stream, "--from", "yesterday"], url).await,
        "yesterday",
    );
    assert_one_line_error(&oxbow(&["log", "export", "--stream", &stream, "--format", "xml"], url).await, "xml");
    assert_one_line_error(
        &oxbow(
            &["log", "export", "--stream", &stream, "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"],
            url,
        )
        .await,
        "--from",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_status_tells_position_lag_and_state() {
    let app = tests::TestApp::start().await;
    let owner = app.token("alice");
    let created =
        app.ok(&owner, json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "Status"}})).await;
    let position = created["position"].as_i64().unwrap();
    app.graphql(Some(&owner), "{ projections { name } }", Some(position)).await;
    let url = Some(app.db.url.as_str());

    let (code, stdout, stderr) = oxbow(&["projections", "status", "--json"], url).await;
    assert_eq!(code, 0, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let catalog = &status["projections"][0];
    assert_eq!(catalog["name"], "catalog", "{status}");
    assert!(catalog["position"].as_i64().unwrap() >= position, "{status}");
    assert_eq!(catalog["last_error"], serde_json::Value::Null);
    assert!(["caught up", "behind"].contains(&catalog["state"].as_str().unwrap()), "{status}");
    assert!(status["sagas"]["waiting"].as_i64().is_some(), "{status}");

    let (code, stdout, _) = oxbow(&["projections", "status"], url).await;
    assert_eq!(code, 0);
    assert!(stdout.lines().any(|line| line.starts_with("catalog")), "{stdout}");
    assert_one_line_error(&oxbow(&["projections", "status", "--verbose"], url).await, "--verbose");
    assert_one_line_error(&oxbow(&["projections", "status"], None).await, "DATABASE_URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_state_shows_an_aggregate_as_it_was_at_a_position_or_a_time() {
    let app = tests::TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let owner = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&owner, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "First"}})).await;
    let renamed =
        app.ok(&owner, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Second"}})).await;
    app.ok(&owner, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Third"}})).await;
    let (url, stream) = (Some(app.db.url.as_str()), format!("workspace-{workspace}"));
    let position = renamed["position"].as_i64().unwrap().to_string();

    let (code, stdout, stderr) = oxbow(&["log", "state", "--stream", &stream, "--position", &position], url).await;
    assert_eq!(code, 0, "{stderr}");
    let then: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((then["version"].clone(), then["state"]["name"].clone()), (json!(2), json!("Second")), "{then}");
    assert_eq!(then["state"]["members"]["alice"], "owner");

    let now = chrono::Utc::now().to_rfc3339();
    let (code, stdout, _) = oxbow(&["log", "state", "--stream", &stream, "--at", &now], url).await;
    assert_eq!(code, 0);
    let latest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((latest["version"].clone(), latest["state"]["name"].clone()), (json!(3), json!("Third")));

    assert_one_line_error(
        &oxbow(&["log", "state", "--stream", &stream, "--at", "2000-01-01T00:00:00Z"], url).await,
        "no events",
    );
    assert_one_line_error(&oxbow(&["log", "state", "--stream", "kettle-1", "--position", "5"], url).await, "kettle-1");
    assert_one_line_error(&oxbow(&["log", "state", "--stream", &stream], url).await, "--at");
    assert_one_line_error(
        &oxbow(&["log", "state", "--stream", &stream, "--at", &now, "--position", "3"], url).await,
        "--position",
    );
    assert_one_line_error(&oxbow(&["log", "state", "--stream", &stream, "--position", "0"], url).await, "--position");
}

/// `serve` refuses the public development secret unless told it runs on a development
/// machine, even when it is set explicitly; refuses a secret too short for HS256; and refuses an
/// identity provider's keys without the issuer and audience that tell this deployment's tokens
/// from the ones the provider signs for other applications.
#[tokio::test]
async fn serve_needs_a_real_jwt_secret_and_an_identity_providers_issuer_and_audience() {
    let serve = |args: &[&str], variables: &[(&str, &str)]| {
        let mut command = tokio::process::Command::new(tests::oxbow_bin());
        command
            .args(["serve", "--role", "write-api"])
            .args(args)
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("OXBOW_LOG", "error");
        for name in ["OXBOW_JWT_SECRET", "OXBOW_JWKS", "OXBOW_JWT_ISSUER", "OXBOW_JWT_AUDIENCE"] {
            command.env_remove(name);
        }
        command.envs(variables.iter().copied());
        async move {
            let output = command.output().await.expect("run oxbow");
            let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
            (output.status.code().unwrap_or(-1), text(output.stdout), text(output.stderr))
        }
    };
    let public = platform::config::DEVELOPMENT_JWT_SECRET;
    assert_one_line_error(&serve(&[], &[]).await, "OXBOW_JWT_SECRET is not set");
    assert_one_line_error(&serve(&[], &[("OXBOW_JWT_SECRET", "short")]).await, "at least 32");
    assert_one_line_error(&serve(&[], &[("OXBOW_JWT_SECRET", public)]).await, "the public development secret");
    let jwks = ("OXBOW_JWKS", "/etc/oxbow/jwks.json");
    let issuer = ("OXBOW_JWT_ISSUER", "https://id.example.com");
    for variables in [vec![jwks], vec![jwks, issuer], vec![jwks, ("OXBOW_JWT_AUDIENCE", "oxbow")]] {
        assert_one_line_error(&serve(&[], &variables).await, "OXBOW_JWT_AUDIENCE");
    }
    // What passes the checks gets as far as the database (which is not there).
    assert_one_line_error(&serve(&[], &[("OXBOW_JWT_SECRET", &"k".repeat(32))]).await, "PostgreSQL");
    assert_one_line_error(&serve(&["--dev"], &[("OXBOW_JWT_SECRET", public)]).await, "PostgreSQL");
}
