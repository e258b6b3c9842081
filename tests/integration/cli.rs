//! The `oxbow` binary: one clear line and a non-zero exit on bad input, never a panic; `log
//! verify` passes an untouched log and names the first bad position of a tampered one.

use serde_json::json;
use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
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
        store
            .append(AppendRequest {
                stream_id: format!("s-{i}"),
                expected: ExpectedVersion::NoStream,
                events: (0..3)
                    .map(|n| events::NewEvent {
                        event_id: Uuid::now_v7(),
                        event_type: "Happened".into(),
                        schema_version: 1,
                        payload: json!({"n": n}),
                        metadata: json!({"actor": "test"}),
                    })
                    .collect(),
                idempotency: None,
                observed_head: None,
            })
            .await
            .unwrap();
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
