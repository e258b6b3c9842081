//! Every error the command endpoint can give in this slice: problem+json with a stable code,
//! and nothing appended.

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

async fn head(app: &TestApp) -> i64 {
    store::read_head(&app.db.pool).await.unwrap().position
}

#[track_caller]
fn assert_problem(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], expected_status, "{body}");
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)), "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problem_json_and_change_nothing() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let id = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "R"}})).await;
    let before = head(&app).await;

    // Not JSON at all.
    let response = app
        .http
        .post(format!("{}/v1/commands", app.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let status = response.status().as_u16();
    assert_problem(status, &response.json().await.unwrap(), 400, "malformed_request");

    let cases = [
        (
            json!({"type": "RenameWorkspace", "id": "not-a-uuid", "payload": {"name": "X"}}),
            "malformed_request",
            Some("/id"),
        ),
        (json!({"type": "RenameWorkspace", "id": id, "payload": {"name": "X"}, "extra": 1}), "malformed_request", None),
        (
            json!({"type": "RenameWorkspace", "id": id, "payload": {"name": ""}}),
            "invalid_payload",
            Some("/payload/name"),
        ),
        (json!({"type": "RenameWorkspace", "id": id, "payload": {"nam": "X"}}), "invalid_payload", None),
        (json!({"type": "RenameWorkspace", "id": id, "payload": [1]}), "invalid_payload", Some("/payload")),
        (
            json!({"type": "InviteMember", "id": id, "payload": {"email": "nope", "role": "member"}}),
            "invalid_payload",
            Some("/payload/email"),
        ),
        (
            json!({"type": "InviteMember", "id": id, "payload": {"email": "a@b.c", "role": "king"}}),
            "invalid_payload",
            Some("/payload/role"),
        ),
        (json!({"type": "LaunchRocket", "id": id, "payload": {}}), "unknown_command_type", Some("/type")),
    ];
    for (body, code, field) in cases {
        let (status, problem) = app.command(&alice, body.clone()).await;
        assert_problem(status, &problem, 400, code);
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{body} → {problem}");
        }
    }
    assert_eq!(head(&app).await, before, "no bad request appended anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_roles_existence_and_rules_are_enforced() {
    let app = TestApp::start().await;
    let (alice, bo) = (app.token("alice"), app.token("bo"));
    let id = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "R"}})).await;
    let before = head(&app).await;
    let rename = json!({"type": "RenameWorkspace", "id": id, "payload": {"name": "X"}});

    let (status, problem) = app.command("not-a-token", rename.clone()).await;
    assert_problem(status, &problem, 401, "unauthenticated");
    let other_secret = platform::auth::Tokens::new("another-secret").mint("alice", None, chrono::Duration::hours(1));
    let (status, problem) = app.command(&other_secret, rename.clone()).await;
    assert_problem(status, &problem, 401, "unauthenticated");
    let response = app.http.post(format!("{}/v1/commands", app.base)).json(&rename).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Oxbow's own roles act as `system:…`; a token cannot speak for them, even well signed.
    let saga = app.token_with_email("system:run-saga", None, None);
    let (status, problem) = app.command(&saga, rename.clone()).await;
    assert_problem(status, &problem, 401, "unauthenticated");

    // bo is no member: 403, nothing leaks but the refusal.
    let (status, problem) = app.command(&bo, rename.clone()).await;
    assert_problem(status, &problem, 403, "not_a_member");

    let (status, problem) =
        app.command(&alice, json!({"type": "RenameWorkspace", "id": Uuid::now_v7(), "payload": {"name": "X"}})).await;
    assert_problem(status, &problem, 404, "workspace_not_found");

    let (status, problem) =
        app.command(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "Again"}})).await;
    assert_problem(status, &problem, 409, "workspace_exists");

    let (status, problem) = app
        .command(&alice, json!({"type": "RenameWorkspace", "id": id, "expected_version": 7, "payload": {"name": "X"}}))
        .await;
    assert_problem(status, &problem, 409, "version_conflict");
    assert_eq!(problem["current_version"], 1);

    let (status, problem) =
        app.command(&alice, json!({"type": "RemoveMember", "id": id, "payload": {"user_id": "alice"}})).await;
    assert_problem(status, &problem, 422, "last_owner");
    assert_eq!(problem["rule"], "last_owner");

    let (status, problem) =
        app.command(&app.operator(), json!({"type": "ReactivateWorkspace", "id": id, "payload": {}})).await;
    assert_problem(status, &problem, 422, "workspace_not_suspended");

    assert_eq!(head(&app).await, before, "no refused command appended anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_boundaries_hold_for_every_role() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let id = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "R"}})).await;
    for (user, role) in [("ad", "admin"), ("me", "member"), ("vi", "viewer")] {
        app.join(&alice, id, user, role).await;
    }
    let invite = |email: &str| json!({"type": "InviteMember", "id": id, "payload": {"email": email, "role": "viewer"}});
    // Inviting needs admin: admin yes, member and viewer no.
    app.ok(&app.token("ad"), invite("x1@example.com")).await;
    for user in ["me", "vi"] {
        let (status, problem) = app.command(&app.token(user), invite("x2@example.com")).await;
        assert_problem(status, &problem, 403, "role_too_low");
    }
    // Suspending is the platform's: not even the owner.
    for user in ["alice", "ad"] {
        let (status, problem) =
            app.command(&app.token(user), json!({"type": "SuspendWorkspace", "id": id, "payload": {}})).await;
        assert_problem(status, &problem, 403, "operator_required");
    }
    // An admin may not hand out the owner role.
    let (status, problem) = app
        .command(
            &app.token("ad"),
            json!({"type": "ChangeMemberRole", "id": id, "payload": {"user_id": "me", "role": "owner"}}),
        )
        .await;
    assert_problem(status, &problem, 403, "owner_role_needs_owner");
    // Accepting an invitation meant for someone else.
    let invited = app.ok(&alice, invite("zed@example.com")).await;
    let (status, problem) = app
        .command(
            &app.token("eve"),
            json!({"type": "AcceptInvitation", "id": id, "payload": {"invitation_id": invited["events"][0]["payload"]["invitation_id"]}}),
        )
        .await;
    assert_problem(status, &problem, 403, "invitation_for_another_email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_returns_the_first_response_and_refuses_another_body() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let id = Uuid::now_v7();
    let create = json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "R"}});
    let key = [("Idempotency-Key", "create-r-1")];
    let (status, first) = app.command_with(&alice, create.clone(), &key).await;
    assert_eq!(status, 200, "{first}");
    // A retry after the state moved on still gets the first answer, not "exists".
    let (status, again) = app.command_with(&alice, create.clone(), &key).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
    assert_eq!(head(&app).await, 1);

    let other = json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "Other"}});
    let (status, problem) = app.command_with(&alice, other, &key).await;
    assert_problem(status, &problem, 422, "idempotency_key_reused");
    // Keys are per caller: bo's identical key is his own.
    let (status, _) = app
        .command_with(
            &app.token("bo"),
            json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "B"}}),
            &key,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commands_on_one_version_have_exactly_one_winner() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let id = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "R"}})).await;
    let attempts = (0..16).map(|i| {
        let body =
            json!({"type": "RenameWorkspace", "id": id, "expected_version": 1, "payload": {"name": format!("N{i}")}});
        app.command(&alice, body)
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(winners, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
        assert_problem(*status, body, 409, "version_conflict");
        assert_eq!(body["current_version"], 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.max_body_bytes = 1024).await;
    let alice = app.token("alice");
    let body = json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "x".repeat(4096)}});
    let (status, problem) = app.command(&alice, body).await;
    assert_problem(status, &problem, 413, "body_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_the_rate_limit_gets_429() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |config| {
        config.rate_limit_per_second = 1;
        config.rate_limit_burst = 2;
    })
    .await;
    let alice = app.token("alice");
    let create = || json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "R"}});
    app.ok(&alice, create()).await;
    app.ok(&alice, create()).await;
    let (status, problem) = app.command(&alice, create()).await;
    assert_problem(status, &problem, 429, "rate_limited");
    // Others are not held back.
    app.ok(&app.token("bo"), create()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_cannot_be_reached_gives_503() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let alice = app.token("alice");
    let database = app.db.url.rsplit('/').next().unwrap().to_owned();
    // Shut the database to everyone, as an outage would.
    let admin = sqlx::PgPool::connect(&std::env::var("DATABASE_URL").unwrap()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "alter database {database} with allow_connections false; \
         select pg_terminate_backend(pid) from pg_stat_activity where datname = '{database}';"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let (status, problem) =
        app.command(&alice, json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "R"}})).await;
    assert_problem(status, &problem, 503, "log_unavailable");
    // The database's own error text (which names it) stays in the server's log.
    let detail = problem["detail"].as_str().unwrap();
    assert!(!detail.contains(&database) && !detail.contains("connection"), "{detail}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("alter database {database} with allow_connections true")))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_stream_all_land_unless_they_name_a_version() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let owner = app.token("alice");
    let workspace = uuid::Uuid::now_v7();
    app.ok(&owner, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Hot"}})).await;
    app.ok(
        &owner,
        json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "p", "overdraft_limit": 0}}),
    )
    .await;
    let operator = app.operator();
    let grants = (1..=24).map(|amount| {
        app.command(
            &operator,
            json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": amount, "reason": "r"}}),
        )
    });
    let answers = futures::future::join_all(grants).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let events = store::read_stream(&app.db.pool, &format!("billing-{workspace}"), 0).await.unwrap();
    let granted: i64 = events.iter().filter_map(|e| e.payload["amount"].as_i64()).sum();
    assert_eq!(granted, (1..=24).sum::<i64>());

    // Naming the version decided on keeps optimistic concurrency: one of two wins.
    let version = events.len();
    let named = |amount: i64| {
        app.command(
            &operator,
            json!({"type": "GrantCredits", "id": workspace, "expected_version": version,
            "payload": {"amount": amount, "reason": "r"}}),
        )
    };
    let (first, second) = tokio::join!(named(1), named(2));
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{first:?} {second:?}");
}

/// A write API in its own process, so its state cache starts empty.
async fn fresh_write_api(database_url: &str) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(tests::oxbow_bin())
        .args(["serve", "--role", "write-api"])
        .env("DATABASE_URL", database_url)
        .env("OXBOW_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("OXBOW_JWT_SECRET", "a-test-secret-of-at-least-32-bytes")
        .env("OXBOW_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .expect("start oxbow serve --role write-api");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_streams_are_snapshotted_and_a_snapshot_this_code_cannot_use_is_ignored() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let owner = app.token("alice");
    let workspace = uuid::Uuid::now_v7();
    app.ok(&owner, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Long"}})).await;
    let rename = |name: String| json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": name}});
    for n in 2..=250 {
        app.ok(&owner, rename(format!("N{n}"))).await;
    }
    let stream = format!("workspace-{workspace}");
    let snapshot = || async {
        let row: Option<(i64, i32, serde_json::Value)> =
            sqlx::query_as("select version, state_version, state from snapshots where stream_id = $1")
                .bind(&stream)
                .fetch_optional(&app.db.pool)
                .await
                .unwrap();
        row
    };
    let mut taken = snapshot().await;
    for _ in 0..50 {
        if taken.as_ref().is_some_and(|(version, _, _)| *version == 200) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        taken = snapshot().await;
    }
    let (version, state_version, state) = taken.expect("a snapshot of the long stream");
    assert_eq!((version, state_version, state["name"].clone()), (200, 2, json!("N200")), "{state}");

    // A fresh process starts from the snapshot and folds the 50 events after it: renaming to
    // the name the last of them gave changes nothing, and the stream is at version 250.
    let unchanged = |base: String| {
        let (body, owner) = (rename("N250".into()), owner.clone());
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/v1/commands"))
                .bearer_auth(owner)
                .json(&body)
                .send()
                .await
                .unwrap();
            let accepted: serde_json::Value = response.json().await.unwrap();
            assert_eq!(
                (accepted["events"].clone(), accepted["version"].clone()),
                (json!([]), json!(250)),
                "{accepted}"
            );
        }
    };
    let (_first, base) = fresh_write_api(&app.db.url).await;
    unchanged(base).await;

    // Snapshots of another state version, or that do not parse, are not used. Each stands at
    // the head, so one that was used would answer for the whole stream: the stale one, a state
    // this code parses but of another version, says the name is "Stale", and renaming to N250
    // would record a rename.
    let mut stale = state.clone();
    stale["name"] = json!("Stale");
    for (state_version, state) in [(1, stale), (2, json!("not a workspace"))] {
        sqlx::query("update snapshots set version = 250, state_version = $2, state = $3 where stream_id = $1")
            .bind(&stream)
            .bind(state_version)
            .bind(state)
            .execute(&app.db.pool)
            .await
            .unwrap();
        let (_process, base) = fresh_write_api(&app.db.url).await;
        unchanged(base).await;
    }
}
