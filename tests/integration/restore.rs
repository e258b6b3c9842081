//! The backup and restore drill, as the README's runbook has an operator do it: a primary that
//! archives its WAL, a base backup taken while commands keep coming, a restore point, more
//! commands, then the primary is lost. A fresh cluster is restored to the restore point from
//! the base backup and the archive; the log is verified, the projections rebuilt (which refills
//! Redis), and the deployment starts again on new topics and a new saga group, because the
//! positions after the restore point are given out again. No event from after the restore point
//! reaches a saga or a projection. Prints the RPO and RTO it measured.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// Runs `script` with the backup functions of `scripts/lib`; returns its output's last line.
fn shell(script: &str) -> String {
    let root = root();
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail; source scripts/lib/services.sh; source scripts/lib/backup.sh; {script}"))
        .current_dir(&root)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{script}: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
    stdout.lines().last().unwrap_or_default().trim().to_owned()
}

/// The drill's clusters, stopped (as a crash would) however the test ends.
struct Clusters {
    dir: PathBuf,
    data: Vec<String>,
}

impl Drop for Clusters {
    fn drop(&mut self) {
        for data in &self.data {
            let _ = std::panic::catch_unwind(|| shell(&format!("oxbow_stop_cluster '{data}' immediate")));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        for data in &self.data {
            let _ = std::fs::remove_dir_all(data);
        }
    }
}

async fn wait_ready(base: &str) {
    for _ in 0..600 {
        if let Ok(response) = reqwest::get(format!("{base}/readyz")).await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

async fn scalar<T>(pool: &sqlx::PgPool, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(pool).await.unwrap()
}

/// Sends a command; true when accepted. During the drill the primary may vanish under it.
async fn command(http: &reqwest::Client, base: &str, token: &str, body: &Value) -> bool {
    let sent = http.post(format!("{base}/v1/commands")).bearer_auth(token).json(body).send().await;
    matches!(sent, Ok(response) if response.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_in_time_restore_brings_back_the_log_and_nothing_after_the_restore_point_reaches_the_sagas() {
    tests::init_logging();
    platform::tls::install();
    let dir = root().join(".oxbow").join(tests::unique_name("drill"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let (primary_port, restored_port) = (tests::free_port(), tests::free_port());
    let mut clusters = Clusters { dir: dir.clone(), data: Vec::new() };
    let primary =
        shell(&format!("oxbow_archiving_postgres '{}' {primary_port} '{}' oxbow", path("primary"), path("wal")));
    clusters.data.push(primary.clone());
    let archive = shell(&format!("oxbow_pg_datadir '{}'", path("wal")));

    // The deployment on the primary: every role in one process.
    let url = format!("postgres://postgres@127.0.0.1:{primary_port}/oxbow");
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    let config = tests::config(&url);
    let topics = config.topic_names();
    platform::kafka::ensure_topics(&config.kafka(), &topics, config.topics()).await.unwrap();
    let address = format!("127.0.0.1:{}", tests::free_port());
    let base = format!("http://{address}");
    let mut serving =
        tests::oxbow_serve_with("write-api,read-api,projector,saga,relay", &config, &[("OXBOW_HTTP_ADDR", &address)]);
    wait_ready(&base).await;

    let http = reqwest::Client::new();
    let tokens = config.tokens();
    let alice = tokens.mint("alice", Some("alice@example.com"), chrono::Duration::hours(1));
    let operator = tokens.mint_with_roles("ops", None, &["operator"], chrono::Duration::hours(1));
    let (workspace, agent, flow) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for (token, body) in [
        (&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Drill"}})),
        (&alice, json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "team"}})),
        (
            &operator,
            json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1_000_000, "reason": "drill"}}),
        ),
        (
            &alice,
            json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "Echo",
                "kind": "tool", "executor": {"type": "builtin", "name": "echo"}, "price": {"per_call": 1, "per_1k_tokens": 0}}}),
        ),
        (
            &alice,
            json!({"type": "DefineWorkflow", "id": flow, "payload": {"workspace_id": workspace, "name": "One",
                "steps": [{"id": "a", "agent_id": agent}]}}),
        ),
    ] {
        assert!(command(&http, &base, token, &body).await, "{body}");
    }

    // Commands keep coming through the whole drill: a workspace and a run at a time, each
    // workspace named for the phase it was created in.
    let phase = std::sync::Arc::new(std::sync::Mutex::new("before"));
    let writer = {
        let (http, base, alice, phase) = (http.clone(), base.clone(), alice.clone(), phase.clone());
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let name = format!("{}-{n}", *phase.lock().unwrap());
                let created = json!({"type": "CreateWorkspace", "id": uuid::Uuid::now_v7(), "payload": {"name": name}});
                let run = json!({"type": "StartRun", "id": uuid::Uuid::now_v7(),
                    "payload": {"workspace_id": workspace, "workflow_id": flow, "budget": 3}});
                if !command(&http, &base, &alice, &created).await || !command(&http, &base, &alice, &run).await {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                n += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let backup = shell(&format!("oxbow_base_backup {primary_port} '{}'", path("base")));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The restore point: every commit before it comes back, none after. Positions appended
    // around it tell which side they fall on.
    let at_least: i64 = scalar(&pool, "select position from log_head").await;
    let _: String = scalar(&pool, "select pg_create_restore_point('drill')::text").await;
    *phase.lock().unwrap() = "lost";
    let at_most: i64 = scalar(&pool, "select position from log_head").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The primary is lost while commands still come. First, what a crash-restore would lose:
    // how long ago the archive last took a segment.
    let archive_lag: f64 = scalar(
        &pool,
        "select coalesce(extract(epoch from now() - last_archived_time), 0)::float8 from pg_stat_archiver",
    )
    .await;
    let hashes: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("select position, hash from events where position between $1 and $2 order by position")
            .bind(at_least)
            .bind(at_most)
            .fetch_all(&pool)
            .await
            .unwrap();
    let lost_head: i64 = scalar(&pool, "select position from log_head").await;
    // Let the relay publish the lost events to the old topic: they are there for a consumer
    // of that topic to find.
    for _ in 0..100 {
        let published: i64 = scalar(&pool, "select coalesce(max(position), 0) from relay_checkpoints").await;
        if published >= lost_head {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lost_workspaces: i64 = scalar(
        &pool,
        "select count(*) from events where event_type = 'WorkspaceCreated' and payload->>'name' like 'lost-%'",
    )
    .await;
    assert!(lost_workspaces > 0, "commands went on after the restore point");
    pool.close().await;
    shell(&format!("oxbow_stop_cluster '{primary}' immediate"));
    serving.kill().await.unwrap();
    writer.abort();

    // The restore, timed: a fresh cluster to the restore point, the log verified, the
    // projections rebuilt (Redis with them), the deployment on new topics.
    let started = Instant::now();
    let restored =
        shell(&format!("oxbow_restore_postgres '{backup}' '{archive}' '{}' {restored_port} drill", path("restored")));
    clusters.data.push(restored);
    let recovered = started.elapsed();
    let url = format!("postgres://postgres@127.0.0.1:{restored_port}/oxbow");
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    // The restored head, before the restored deployment appends (it carries on the runs that
    // were under way at the restore point).
    let head: i64 = scalar(&pool, "select position from log_head").await;
    let mut restored_config = tests::config(&url);
    restored_config.redis_prefix = config.redis_prefix.clone();
    let (code, out, err) = tests::oxbow_output(&restored_config, &["log", "verify"]).await;
    assert_eq!(code, 0, "log verify: {out}{err}");
    let verified = started.elapsed();
    let (code, out, err) = tests::oxbow_output(&restored_config, &["projections", "rebuild", "--all"]).await;
    assert_eq!(code, 0, "projections rebuild: {out}{err}");
    let rebuilt = started.elapsed();
    let address = format!("127.0.0.1:{}", tests::free_port());
    let base = format!("http://{address}");
    let _serving = tests::oxbow_serve_with(
        "write-api,read-api,projector,saga,relay",
        &restored_config,
        &[("OXBOW_HTTP_ADDR", &address)],
    );
    wait_ready(&base).await;
    let ready = started.elapsed();

    // The log is the primary's, exactly, up to a position the restore point allows.
    assert!((at_least..=at_most).contains(&head), "restored to {head}, outside {at_least}..={at_most}");
    let hash: Vec<u8> = scalar(&pool, &format!("select hash from events where position = {head}")).await;
    assert_eq!(Some(&hash), hashes.iter().find(|(position, _)| *position == head).map(|(_, hash)| hash));
    let lost_in_log: i64 = scalar(&pool, "select count(*) from events where payload->>'name' like 'lost-%'").await;
    assert_eq!(lost_in_log, 0, "nothing after the restore point is in the log");

    // The restored deployment takes commands; their positions are the lost ones again, and
    // sagas run them through (on the new topic).
    let alice = restored_config.tokens().mint("alice", Some("alice@example.com"), chrono::Duration::hours(1));
    let run = uuid::Uuid::now_v7();
    let body = json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow, "budget": 3}});
    assert!(command(&http, &base, &alice, &body).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done: i64 = scalar(
            &pool,
            &format!("select count(*) from events where stream_id = 'run-{run}' and event_type = 'RunSucceeded'"),
        )
        .await;
        if done == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "a run on the restored deployment never succeeded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_head: i64 = scalar(&pool, "select position from log_head").await;
    assert!(new_head > head && head < lost_head, "positions {}..={new_head} are given out again", head + 1);

    // No event from after the restore point reached a saga or a projection: the sagas' and the
    // projections' bookkeeping and the read models know only the restored log's streams.
    let unknown_streams: i64 = scalar(
        &pool,
        "select count(*) from projection_streams p where not exists (select from events e where e.stream_id = p.stream_id)",
    )
    .await;
    assert_eq!(unknown_streams, 0, "a saga or projection handled a stream the log does not have");
    let lost_read: i64 = scalar(&pool, "select count(*) from rm_workspaces where name like 'lost-%'").await;
    assert_eq!(lost_read, 0);
    let unknown_work: i64 = scalar(
        &pool,
        "select count(*) from saga_work w where w.work ? 'run_id' \
           and not exists (select from events e where e.stream_id = 'run-' || (w.work->>'run_id'))",
    )
    .await;
    assert_eq!(unknown_work, 0, "saga work for a run the log does not have");
    let (code, out, err) = tests::oxbow_output(&restored_config, &["projections", "diff", "--all"]).await;
    assert_eq!(code, 0, "the read models equal a rebuild: {out}{err}");

    // A relay told nothing of the restore (the old topic) refuses to publish there: the topic
    // holds positions this log does not have.
    let mut stale = config.clone();
    stale.database_url = url.clone();
    let checkpoint =
        format!("select coalesce(max(position), 0) from relay_checkpoints where name = '{}'", stale.events_topic);
    let before: i64 = scalar(&pool, &checkpoint).await;
    let mut relay =
        tests::oxbow_serve_command("relay", &stale, &[]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(relay.stderr.take().unwrap()));
    let refusal = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("restored from a backup") {
                return line;
            }
        }
        panic!("the relay exited without a word");
    })
    .await
    .expect("the relay refuses the old topic");
    let named: i64 = refusal
        .split("already holds position ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("{refusal}"));
    assert!(named > head, "a lost position: {refusal}");
    relay.kill().await.unwrap();
    let after: i64 = scalar(&pool, &checkpoint).await;
    assert_eq!(after, before, "nothing was published to the old topic");

    // Nor does a saga told nothing of the restore take the old topic's lost events for this
    // log's: read from the start (a new group), they are skipped as another history's.
    stale.saga_group = tests::unique_name("stale");
    let health = format!("127.0.0.1:{}", tests::free_port());
    let _stale_saga = tests::oxbow_serve_with("saga", &stale, &[("OXBOW_HEALTH_ADDR", &health)]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = match reqwest::get(format!("http://{health}/metrics")).await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let skipped: f64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix("oxbow_saga_foreign_events_total ")?.parse().ok())
            .unwrap_or(0.0);
        if skipped > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the saga never met the old topic's lost events");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let unknown: i64 = scalar(
        &pool,
        "select count(*) from projection_streams p where not exists (select from events e where e.stream_id = p.stream_id)",
    )
    .await;
    assert_eq!(unknown, 0, "the stale saga handled a lost stream");

    println!(
        "restore drill: RPO to the restore point 0 events ({} later events lost by choice; archive lag at the loss {archive_lag:.1} s, \
         the crash-restore RPO bound with archive_timeout = 1 s); RTO {:.1} s (WAL recovery {:.1} s, log verify {:.1} s, \
         rebuild and Redis {:.1} s, roles ready {:.1} s); {head} events restored",
        lost_head - head,
        ready.as_secs_f64(),
        recovered.as_secs_f64(),
        (verified - recovered).as_secs_f64(),
        (rebuilt - verified).as_secs_f64(),
        (ready - rebuilt).as_secs_f64(),
    );
}
