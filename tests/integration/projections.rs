//! `oxbow projections rebuild` and `diff`: a rebuild from the log under live traffic switches
//! over to exactly what the live projection holds, a damaged read model is found and repaired,
//! and a rebuild killed midway resumes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
use tests::TestApp;
use uuid::Uuid;

use crate::runs::{finished, five_step_workflow, funded_workspace, start_run};

async fn oxbow(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    tests::oxbow_output(&app.config, args).await
}

/// Waits until the live projection has applied the whole log.
async fn caught_up(app: &TestApp) -> i64 {
    let head = store::read_head(&app.db.pool).await.unwrap().position;
    for _ in 0..600 {
        if projections::status::position(&app.db.pool, projections::catalog::NAME).await.unwrap() >= head {
            return head;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the projection did not reach position {head}");
}

async fn redis_hash(app: &TestApp, key: &str) -> std::collections::HashMap<String, String> {
    let mut redis = platform::redis::connect(&app.config.redis_url).await.unwrap();
    redis::cmd("HGETALL").arg(format!("{}{key}", app.config.redis_prefix)).query_async(&mut redis).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_under_live_traffic_switches_over_and_repairs_a_damaged_read_model() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let (_, _, flow) = five_step_workflow(&app, workspace).await;
    let run = start_run(&app, workspace, flow, 100).await;
    finished(&app, run).await;
    caught_up(&app).await;

    // Commands keep arriving while the rebuild runs.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (stop, base, token) = (stop.clone(), app.base.clone(), app.operator());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"type": "GrantCredits", "id": workspace,
                    "payload": {"amount": 1, "reason": format!("grant {sent}")}});
                let response =
                    http.post(format!("{base}/v1/commands")).bearer_auth(&token).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 200);
                sent += 1;
            }
            sent
        })
    };
    let (code, stdout, stderr) = oxbow(&app, &["projections", "rebuild", "catalog"]).await;
    stop.store(true, Ordering::Relaxed);
    let sent = traffic.await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("rebuilt catalog:") && stdout.contains("switched over"), "{stdout}");
    assert!(sent > 0);

    caught_up(&app).await;
    let (code, stdout, stderr) = oxbow(&app, &["projections", "diff", "--all"]).await;
    assert_eq!((code, stdout.trim()), (0, "catalog: no differences"), "{stderr}");
    let (balance,): (i64,) = sqlx::query_as("select balance from rm_billing_accounts where workspace_id = $1")
        .bind(workspace)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let (credits_used,): (i64,) = sqlx::query_as("select credits_used from rm_runs where id = $1")
        .bind(run)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(balance, 1_000 + sent - credits_used, "every grant made during the rebuild counts once");

    // Damage the live read models and Redis: diff names the damage, a rebuild repairs it.
    sqlx::query("update rm_workspaces set name = 'damaged' where id = $1")
        .bind(workspace)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("delete from rm_run_steps where run_id = $1 and step_id = 'merge'")
        .bind(run)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (code, stdout, _) = oxbow(&app, &["projections", "diff", "catalog"]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("catalog.rm_workspaces: 1 rows only in the live projection, 1 only in the rebuild"));
    assert!(stdout.contains("- {") && stdout.contains("\"damaged\""), "{stdout}");
    assert!(stdout.contains("catalog.rm_run_steps: 0 rows only in the live projection, 1 only in the rebuild"));
    assert!(stdout.contains("\"merge\""), "{stdout}");

    let mut redis = platform::redis::connect(&app.config.redis_url).await.unwrap();
    let stray = format!("{}run:{}", app.config.redis_prefix, Uuid::now_v7());
    let _: () = redis::cmd("HSET").arg(&stray).arg("status").arg("RUNNING").query_async(&mut redis).await.unwrap();
    let (code, _, stderr) = oxbow(&app, &["projections", "rebuild", "--all"]).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = oxbow(&app, &["projections", "diff", "catalog"]).await;
    assert_eq!(code, 0, "{stdout}");
    let steps =
        app.graphql(Some(&app.token("alice")), &format!("{{ run(id: \"{run}\") {{ steps {{ id }} }} }}"), None).await;
    assert_eq!(steps["data"]["run"]["steps"].as_array().unwrap().len(), 5, "{steps}");
    assert_eq!(redis_hash(&app, &format!("workspace:{workspace}")).await["name"], "Runs");
    assert_eq!(redis_hash(&app, &format!("run:{run}")).await["status"], "SUCCEEDED");
    let exists: bool = redis::cmd("EXISTS").arg(&stray).query_async(&mut redis).await.unwrap();
    assert!(!exists, "a key the read models do not back is gone after the switchover");
}

/// The projector follows the log itself: with no broker reachable at all, commands are
/// applied to the read models and read back with read-your-writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_side_needs_no_broker() {
    use oxbow::Role;
    let app = TestApp::start_with(&[Role::WriteApi, Role::ReadApi, Role::Projector], |config| {
        // Nothing listens on the discard port.
        config.kafka_brokers = "127.0.0.1:9".into();
    })
    .await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Before"}})).await;
    let renamed =
        app.ok(&alice, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "After"}})).await;
    let position = renamed["position"].as_i64().unwrap();
    let read = app
        .graphql(Some(&alice), &format!("{{ workspace(id: \"{workspace}\") {{ name memberCount }} }}"), Some(position))
        .await;
    assert_eq!(read["data"]["workspace"], json!({"name": "After", "memberCount": 1}), "{read}");
    assert!(read.get("extensions").is_none(), "the read waited for the position and got it: {read}");
    assert_eq!(redis_hash(&app, &format!("workspace:{workspace}")).await["name"], "After");
}

/// Two projector processes follow the same log under traffic: they take turns, and the read
/// models end as a rebuild from the log would leave them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projectors_take_turns_and_apply_each_event_once() {
    let app = TestApp::start().await;
    let health = format!("127.0.0.1:{}", tests::free_port());
    let mut second = tests::oxbow_serve_with("projector", &app.config, &[("OXBOW_HEALTH_ADDR", &health)]);
    let workspace = funded_workspace(&app, 10_000).await;
    let (_, _, flow) = five_step_workflow(&app, workspace).await;
    let runs = futures::future::join_all((0..4).map(|_| start_run(&app, workspace, flow, 100))).await;
    let operator = app.operator();
    for burst in 0..5 {
        futures::future::join_all((0..20).map(|grant| {
            let body = json!({"type": "GrantCredits", "id": workspace,
                "payload": {"amount": 1, "reason": format!("grant {burst}.{grant}")}});
            app.command(&operator, body)
        }))
        .await
        .into_iter()
        .for_each(|(status, body)| assert_eq!(status, 200, "{body}"));
    }
    for run in &runs {
        finished(&app, *run).await;
    }
    caught_up(&app).await;
    assert!(second.try_wait().unwrap().is_none(), "the second projector is still running");
    // Turns, not a standby: the second process applied some of the log itself.
    let metrics = reqwest::get(format!("http://{health}/metrics")).await.unwrap().text().await.unwrap();
    let applied: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("oxbow_projection_apply_seconds_count"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(applied > 0.0, "the second projector applied nothing:\n{metrics}");
    second.kill().await.unwrap();

    let (code, stdout, stderr) = oxbow(&app, &["projections", "diff", "--all"]).await;
    assert_eq!((code, stdout.trim()), (0, "catalog: no differences"), "{stderr}");
    let (balance, used): (i64, i64) = sqlx::query_as(
        "select (select balance from rm_billing_accounts where workspace_id = $1), \
                (select sum(credits_used)::bigint from rm_runs where workspace_id = $1)",
    )
    .bind(workspace)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(balance, 10_000 + 100 - used, "every grant counts once");
    for run in runs {
        assert_eq!(redis_hash(&app, &format!("run:{run}")).await["status"], "SUCCEEDED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_killed_midway_resumes_where_it_stopped() {
    let app = TestApp::start().await;
    // Enough events that the rebuild takes a few batches: 24 workspaces renamed 500 times.
    let store = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    let event = |event_type: &str, payload: serde_json::Value, id: Uuid| events::NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        schema_version: 1,
        payload,
        metadata: json!({"actor": "alice", "workspace_id": id, "correlation_id": id, "causation_id": id}),
    };
    for _ in 0..24 {
        let id = Uuid::now_v7();
        let created = event("WorkspaceCreated", json!({"workspace_id": id, "name": "w", "owner_id": "alice"}), id);
        let renames = (0..500).map(|n| event("WorkspaceRenamed", json!({"name": format!("w{n}")}), id));
        let request = AppendRequest::to_stream(
            format!("workspace-{id}"),
            ExpectedVersion::NoStream,
            std::iter::once(created).chain(renames).collect(),
        );
        store.append(request).await.unwrap();
    }
    let head = caught_up(&app).await;

    // Small transactions, so the kill lands between two of them.
    let mut rebuild = tests::oxbow_command(&app.config)
        .args(["projections", "rebuild", "catalog"])
        .env("OXBOW_REBUILD_BATCH", "2000")
        .spawn()
        .unwrap();
    let mut reached = 0;
    for _ in 0..2_000 {
        let state: Result<(i64,), _> =
            sqlx::query_as("select position from rebuild_catalog.rebuild_state").fetch_one(&app.db.pool).await;
        if let Ok((position,)) = state
            && position > 0
        {
            reached = position;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rebuild.start_kill().unwrap();
    rebuild.wait().await.unwrap();
    assert!(reached > 0 && reached < head, "killed midway: {reached} of {head}");

    let (code, stdout, stderr) = oxbow(&app, &["projections", "rebuild", "catalog"]).await;
    assert_eq!(code, 0, "{stderr}");
    let resumed_at: i64 = stderr
        .split("resuming the rebuild of catalog at position ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|position| position.parse().ok())
        .unwrap_or_else(|| panic!("the rebuild resumes: {stderr}"));
    assert!(resumed_at >= reached, "{stderr}");
    assert!(stdout.contains("switched over"), "{stdout}");
    let (count,): (i64,) = sqlx::query_as("select count(*) from rm_workspaces").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 24);
    let (code, stdout, _) = oxbow(&app, &["projections", "diff", "catalog"]).await;
    assert_eq!(code, 0, "{stdout}");
    let leftover: Option<(String,)> =
        sqlx::query_as("select nspname::text from pg_namespace where nspname = 'rebuild_catalog'")
            .fetch_optional(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(leftover, None, "a finished rebuild leaves nothing behind");
}

#[tokio::test]
async fn projections_commands_refuse_bad_input_in_one_line() {
    let app = TestApp::start_with(&[], |_| {}).await;
    for (args, mentions) in [
        (&["projections", "rebuild"][..], "required"),
        (&["projections", "rebuild", "nonesuch"], "nonesuch"),
        (&["projections", "diff", "catalog", "--all"], "--all"),
        (&["projections", "diff", "nonesuch"], "known: catalog"),
    ] {
        let (code, _, stderr) = oxbow(&app, args).await;
        assert_ne!(code, 0, "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error") && stderr.contains(mentions), "{args:?}: {stderr}");
    }
}

/// An event the projection cannot apply, written straight into the log (the command edge
/// refuses anything like it), is parked after a few tries with its error; its stream's later
/// event waits behind it; every other tenant's writes are read without waiting. A retry fails
/// again and says so; a skip is recorded in the log and lets the waiting event through, and a
/// rebuild sets aside the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_projection_cannot_apply_is_parked_and_every_other_stream_flows_on() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.operators = vec!["ops".into()]).await;
    let (alice, bob) = (app.token("alice"), app.token("bob"));
    let careless = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": careless, "payload": {"name": "Before"}})).await;
    let store = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    let raw = |event_type: &str, payload: Value| {
        AppendRequest::to_stream(
            format!("workspace-{careless}"),
            ExpectedVersion::Any,
            vec![events::NewEvent {
                event_id: Uuid::now_v7(),
                event_type: event_type.into(),
                schema_version: 1,
                payload,
                metadata: json!({"actor": "alice", "workspace_id": careless, "correlation_id": Uuid::now_v7(),
                "causation_id": Uuid::now_v7()}),
            }],
        )
    };
    let poison = store.append(raw("WorkspaceRenamed", json!({"name": 42}))).await.unwrap().last_position.unwrap();
    let behind = store.append(raw("WorkspaceRenamed", json!({"name": "After"}))).await.unwrap().last_position.unwrap();

    // Another tenant reads its own write without waiting on the poisoned stream.
    let other = Uuid::now_v7();
    let created = app.ok(&bob, json!({"type": "CreateWorkspace", "id": other, "payload": {"name": "Bob's"}})).await;
    let read = app
        .graphql(Some(&bob), &format!("{{ workspace(id: \"{other}\") {{ name }} }}"), created["position"].as_i64())
        .await;
    assert_eq!(read["data"]["workspace"]["name"], "Bob's", "{read}");
    assert!(read.get("extensions").is_none(), "the read waited for its position and got it: {read}");

    let (code, stdout, stderr) = oxbow(&app, &["projections", "status", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    let parked = status["parked"].as_array().unwrap();
    assert_eq!(parked.len(), 2, "{status}");
    assert_eq!((parked[0]["position"].as_i64(), parked[1]["position"].as_i64()), (Some(poison), Some(behind)));
    assert!(parked[0]["error"].as_str().unwrap().contains("WorkspaceRenamed"), "{status}");
    assert!(parked[1]["error"].is_null(), "the later event only waits: {status}");
    assert_eq!(status["projections"][0]["state"], "parked", "{status}");
    assert_eq!(status["projections"][0]["lag"], 0, "parked events count as handled: {status}");
    // The dead letter names other tenants' streams: operators see it, tenants do not.
    let query = "{ projections { name lastError parked { position streamId error } } }";
    let tenant = app.graphql(Some(&bob), query, None).await["data"]["projections"][0].clone();
    assert_eq!((&tenant["parked"], &tenant["lastError"]), (&json!([]), &Value::Null), "{tenant}");
    let operator = app.graphql(Some(&app.token("ops")), query, None).await["data"]["projections"][0].clone();
    assert_eq!(operator["parked"][0]["position"], poison, "{operator}");
    assert_eq!(operator["parked"][1]["streamId"], format!("workspace-{careless}"), "{operator}");
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("oxbow_parked_events{consumer=\"catalog\"} 2"), "{metrics}");

    // Nothing was fixed: a retry fails again, says why, and the stream stays parked.
    let (code, _, stderr) = oxbow(&app, &["projections", "retry", &poison.to_string()]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("failed again"), "{stderr}");
    let query = format!("{{ workspace(id: \"{careless}\") {{ name }} }}");
    assert_eq!(app.graphql(Some(&alice), &query, None).await["data"]["workspace"]["name"], "Before");

    // Only the failed event can be skipped; then the waiting rename goes through.
    let (code, _, stderr) =
        oxbow(&app, &["projections", "skip", &behind.to_string(), "--reason", "x", "--by", "ops"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("waits behind position {poison}")), "{stderr}");
    let (code, stdout, stderr) =
        oxbow(&app, &["projections", "skip", &poison.to_string(), "--reason", "a bad import", "--by", "ops"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(app.graphql(Some(&alice), &query, None).await["data"]["workspace"]["name"], "After");
    let decisions = store::read_stream(&app.db.pool, &events::operations::stream_id(), 0).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].event_type, "ParkedEventSkipped");
    assert_eq!(decisions[0].payload["position"], poison);
    assert_eq!(decisions[0].payload["reason"], "a bad import");
    assert_eq!(decisions[0].metadata["actor"], "operator:ops");
    assert!(store::parked::list(&app.db.pool, None).await.unwrap().is_empty());

    let (code, stdout, stderr) = oxbow(&app, &["projections", "diff", "--all"]).await;
    assert_eq!((code, stdout.trim()), (0, "catalog: no differences"), "{stderr}");
}

/// The shape of a development log after a few minutes of load: a workspace per event, hundreds
/// of thousands of them, written by the benchmark's generator. The rebuild's last step puts what
/// Redis serves in place in bounded steps (a stretch of workspaces without runs writes nothing
/// to Redis, which once failed the rebuild with "empty command"), and every workspace's summary
/// is there after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_of_a_log_of_many_small_workspaces_replaces_redis_in_bounded_steps() {
    const WORKSPACES: usize = 250_000;
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let generated = bench::log::generate(&db.url, WORKSPACES, bench::log::Shape::Workspaces).await.unwrap();
    assert_eq!(generated["events"], WORKSPACES);
    // The live projection follows the log; then the rebuild replaces it, and Redis, whole.
    let projector = tests::oxbow_serve("projector", &config);
    let started = std::time::Instant::now();
    while projections::status::position(&db.pool, projections::catalog::NAME).await.unwrap() < WORKSPACES as i64 {
        assert!(started.elapsed() < Duration::from_secs(300), "the projector did not catch up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(projector);
    let (code, stdout, stderr) = tests::oxbow_output(&config, &["projections", "rebuild", "catalog", "--fresh"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let steps = WORKSPACES.div_ceil(projections::live::SWAP_STEP);
    assert!(
        stdout.contains(&format!(
            "Redis: {WORKSPACES} keys replaced in {steps} steps of at most {}",
            projections::live::SWAP_STEP
        )),
        "{stdout}"
    );
    assert!(!stderr.contains('\u{1b}'), "no colour codes where stderr is not a terminal: {stderr:?}");

    let mut redis = platform::redis::connect(&config.redis_url).await.unwrap();
    let workspaces: Vec<uuid::Uuid> = sqlx::query_scalar("select id from rm_workspaces order by random() limit 50")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(workspaces.len(), 50);
    for workspace in workspaces {
        let key = format!("{}workspace:{workspace}", config.redis_prefix);
        let name: Option<String> = redis::cmd("HGET").arg(&key).arg("name").query_async(&mut redis).await.unwrap();
        assert_eq!(name.as_deref(), Some("Bench"), "{key}");
    }
    // SCAN, in steps: one KEYS over every test's keys may outlast the client's timeout.
    let (mut cursor, mut staged) = (0u64, Vec::<String>::new());
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}live:staging:*", config.redis_prefix))
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut redis)
            .await
            .unwrap();
        staged.extend(keys);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(staged.is_empty(), "nothing is left staged");
    let (count,): (i64,) = sqlx::query_as("select count(*) from rm_workspaces").fetch_one(&db.pool).await.unwrap();
    assert_eq!(count, WORKSPACES as i64);
}

/// The dead letter's retry and skip over HTTP, for operators only: a refused request changes
/// nothing, a skip is recorded in the log with the operator as its actor, and the stream flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_retry_and_skip_parked_events_over_http() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.operators = vec!["ops".into()]).await;
    let alice = app.token("alice");
    let careless = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": careless, "payload": {"name": "Before"}})).await;
    let store = EventStore::new(app.db.pool.clone(), CommitterConfig::default());
    let raw = |payload: Value| {
        AppendRequest::to_stream(
            format!("workspace-{careless}"),
            ExpectedVersion::Any,
            vec![events::NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "WorkspaceRenamed".into(),
                schema_version: 1,
                payload,
                metadata: json!({"actor": "alice", "workspace_id": careless, "correlation_id": Uuid::now_v7(),
                    "causation_id": Uuid::now_v7()}),
            }],
        )
    };
    let poison = store.append(raw(json!({"name": 42}))).await.unwrap().last_position.unwrap();
    let behind = store.append(raw(json!({"name": "After"}))).await.unwrap().last_position.unwrap();
    let parked = || async {
        let parked = store::parked::list(&app.db.pool, Some("catalog")).await.unwrap();
        parked.into_iter().map(|parked| parked.position).collect::<Vec<i64>>()
    };
    while parked().await != [poison, behind] {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let post = |token: String, path: &'static str, body: Value| {
        let request = app.http.post(format!("{}/v1/operations/{path}", app.base)).bearer_auth(token).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or_default())
        }
    };
    let ops = app.token("ops");
    let skip = |position: i64| json!({"consumer": "catalog", "position": position, "reason": "a bad import"});
    let head = store::read_head(&app.db.pool).await.unwrap().position;
    for (token, path, body, status, code) in [
        (alice.clone(), "parked/skip", skip(poison), 403, "operator_only"),
        (ops.clone(), "parked/skip", skip(behind), 422, "not_failed"),
        (ops.clone(), "parked/skip", skip(head + 100), 404, "not_parked"),
        (ops.clone(), "parked/skip", json!({"consumer": "catalog", "position": poison}), 400, "invalid_payload"),
        (ops.clone(), "parked/retry", json!({"consumer": "nobody", "position": poison}), 400, "invalid_payload"),
        (ops.clone(), "saga-work/retry", json!({"id": 123456}), 404, "not_set_aside"),
    ] {
        let (got, problem) = post(token, path, body.clone()).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{path} {body}: {problem}");
    }
    assert_eq!(store::read_head(&app.db.pool).await.unwrap().position, head, "refusals append nothing");
    assert_eq!(parked().await, [poison, behind]);
    let list = |token: String| {
        let request = app.http.get(format!("{}/v1/operations/dead-letters", app.base)).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or_default())
        }
    };
    assert_eq!(list(alice.clone()).await.0, 403, "the dead letters name other tenants' streams");
    let (status, letters) = list(ops.clone()).await;
    assert_eq!(status, 200, "{letters}");
    let positions: Vec<i64> =
        letters["parked"].as_array().unwrap().iter().map(|p| p["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [poison, behind], "{letters}");
    assert!(letters["parked"][0]["error"].as_str().unwrap().contains("WorkspaceRenamed"), "{letters}");

    // A retry of a stream that still fails says so; a skip gives the event up, in the log.
    let (status, retried) = post(ops.clone(), "parked/retry", json!({"consumer": "catalog", "position": poison})).await;
    assert_eq!((status, retried["settled"].as_str()), (200, Some("failed_again")), "{retried}");
    let (status, skipped) = post(ops.clone(), "parked/skip", skip(poison)).await;
    assert_eq!((status, skipped["settled"].as_str()), (200, Some("applied")), "{skipped}");
    let decisions = store::read_stream(&app.db.pool, &events::operations::stream_id(), 0).await.unwrap();
    let decision = decisions.iter().find(|event| event.event_type == "ParkedEventSkipped").expect("the skip is logged");
    assert_eq!(decision.payload["position"], poison);
    assert_eq!(decision.metadata["actor"], "operator:ops");
    let read =
        app.graphql(Some(&alice), &format!("{{ workspace(id: \"{careless}\") {{ name }} }}"), Some(behind)).await;
    assert_eq!(read["data"]["workspace"]["name"], "After", "the stream flows on: {read}");

    // Set-aside saga work is made due again, with a fresh count of tries.
    let (id,): (i64,) = sqlx::query_as(
        "insert into saga_work (saga, key, work, correlation_id, due_at, attempts, set_aside) \
         values ($1, 'settle:operations-test', $2, $3, now() + interval '1 hour', $4, true) returning id",
    )
    .bind(sagas::plan::RUN_SAGA)
    .bind(json!({"type": "settle", "run_id": Uuid::now_v7()}))
    .bind(Uuid::now_v7())
    .bind(sagas::queue::TRIES)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let (status, retried) = post(alice, "saga-work/retry", json!({"id": id})).await;
    assert_eq!((status, retried["code"].as_str()), (403, Some("operator_only")), "{retried}");
    let (status, retried) = post(ops, "saga-work/retry", json!({"id": id})).await;
    assert_eq!((status, retried), (200, json!({"id": id, "settled": "due"})));
    let set_aside: bool = sqlx::query_scalar("select set_aside from saga_work where id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(!set_aside);
}
