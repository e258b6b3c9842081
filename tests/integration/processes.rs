//! Oxbow as a deployment runs it: one role per process, each with its own readiness, and a
//! SIGTERM that lets the requests in flight finish.

use std::time::Duration;

/// The first answer of `url`, waiting for the process to listen.
/// Each role is ready when what it needs is: a projector without a broker, and a relay only
/// with one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_ready_when_what_it_needs_is() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let no_broker = ("KAFKA_BROKERS", "127.0.0.1:9");
    let (projector_port, relay_port) = (tests::free_port(), tests::free_port());
    let health = |port: u16| format!("127.0.0.1:{port}");
    let _projector =
        tests::oxbow_serve_with("projector", &config, &[("OXBOW_HEALTH_ADDR", &health(projector_port)), no_broker]);
    let _relay = tests::oxbow_serve_with("relay", &config, &[("OXBOW_HEALTH_ADDR", &health(relay_port)), no_broker]);
    let projector = tests::first_answer(&format!("http://127.0.0.1:{projector_port}/readyz")).await;
    assert_eq!(projector.status(), 200, "a projector needs no broker");
    let relay = tests::first_answer(&format!("http://127.0.0.1:{relay_port}/readyz")).await;
    assert_eq!(relay.status(), 503, "a relay without its broker is not ready");
    let body: serde_json::Value = relay.json().await.unwrap();
    assert_eq!((body["postgres"].clone(), body["kafka"].clone()), (true.into(), false.into()), "{body}");
    let metrics = tests::first_answer(&format!("http://127.0.0.1:{projector_port}/metrics")).await;
    assert!(metrics.text().await.unwrap().contains("oxbow_"), "the projector's own metrics");
}

/// SIGTERM: the server stops taking connections, answers the request it is serving, and closes
/// its subscriptions with "going away".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_requests_in_flight_finish_and_closes_subscriptions_going_away() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let port = tests::free_port();
    let address = format!("127.0.0.1:{port}");
    let mut server = tests::oxbow_serve_with(
        "read-api",
        &config,
        &[("OXBOW_HTTP_ADDR", &address), ("OXBOW_MIN_POSITION_TIMEOUT_MS", "3000")],
    );
    let base = format!("http://127.0.0.1:{port}");
    tests::first_answer(&format!("{base}/healthz")).await;
    let token = config.tokens().mint("alice", None, chrono::Duration::hours(1));
    // A read that waits for a position the log has not reached: it is in flight for 3 s.
    let waiting = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .header("x-oxbow-min-position", "1000000")
            .json(&serde_json::json!({"query": "{ projections { name } }"}))
            .send(),
    );
    // And an open subscription.
    let url = format!("ws://127.0.0.1:{port}/graphql/ws");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = serde_json::json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    futures::SinkExt::send(&mut socket, tokio_tungstenite::tungstenite::Message::text(init.to_string())).await.unwrap();
    let acked = futures::StreamExt::next(&mut socket).await.unwrap().unwrap();
    assert!(acked.to_text().unwrap().contains("connection_ack"), "{acked}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.id().expect("running").to_string();
    let signalled = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(signalled.success());
    // The subscription's connection is closed with 1001, going away: clients reconnect elsewhere.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match futures::StreamExt::next(&mut socket).await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame");
    assert_eq!(closed.map(|frame| u16::from(frame.code)), Some(1001));
    let answered = waiting.await.unwrap().expect("the request in flight is answered, not cut off");
    assert_eq!(answered.status(), 200);
    let status = tokio::time::timeout(Duration::from_secs(20), server.wait()).await.expect("it exits").unwrap();
    assert!(status.success(), "{status:?}");
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "no longer listening");
}

/// The test's view of one Oxbow process of the topology.
struct Process {
    child: tokio::process::Child,
    base: String,
}

fn start(config: &platform::Config, role: &str) -> Process {
    let port = tests::free_port();
    // An API process serves /healthz on its API's address; the others on a health address.
    let variable = if role.ends_with("-api") { "OXBOW_HTTP_ADDR" } else { "OXBOW_HEALTH_ADDR" };
    let base = format!("http://127.0.0.1:{port}");
    Process { child: tests::oxbow_serve_with(role, config, &[(variable, &format!("127.0.0.1:{port}"))]), base }
}

/// Sends `body` to the first of `bases` that answers, under `key`: a command that reached a
/// process killed before it answered is sent again to another, and lands once.
async fn command(
    http: &reqwest::Client,
    bases: &[String],
    token: &str,
    key: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    for attempt in 0..40 {
        let base = &bases[attempt % bases.len()];
        let sent = http
            .post(format!("{base}/v1/commands"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(response) = sent {
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            if status.is_success() {
                return answer;
            }
            assert!(status.is_server_error(), "{body} → {status} {answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no write API took {body}");
}

async fn scalar(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(sql).fetch_one(pool).await.unwrap().unwrap_or(0)
}

/// Two processes of every role over the same services; under a load of runs, one of each is
/// killed, read API included. Nothing is lost or applied twice: every command lands once, every
/// run settles and is billed exactly, the read models equal a rebuild, and reads and
/// subscriptions work through the surviving read API. The survivors take over; the test prints
/// how long each took, from the log's head after the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_of_every_role_survive_losing_one_of_each_under_load() {
    use futures::{SinkExt, StreamExt};

    let db = tests::database().await;
    let config = tests::config(&db.url);
    let topics = config.topic_names();
    platform::kafka::ensure_topics(&config.kafka(), &topics, config.topics()).await.unwrap();
    let roles = ["write-api", "read-api", "projector", "saga", "relay"];
    let mut first: Vec<Process> = roles.iter().map(|role| start(&config, role)).collect();
    let second: Vec<Process> = roles.iter().map(|role| start(&config, role)).collect();
    let writes = vec![first[0].base.clone(), second[0].base.clone()];
    let reads = [first[1].base.clone(), second[1].base.clone()];
    for process in first.iter().chain(&second) {
        tests::first_answer(&format!("{}/healthz", process.base)).await;
    }

    let http = reqwest::Client::new();
    let tokens = config.tokens();
    let alice = tokens.mint("alice", Some("alice@example.com"), chrono::Duration::hours(1));
    let operator = tokens.mint_with_roles("ops", None, &["operator"], chrono::Duration::hours(1));
    let (workspace, agent, flow) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let setup = [
        (&alice, serde_json::json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Topology"}})),
        (&alice, serde_json::json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "team"}})),
        (
            &operator,
            serde_json::json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1_000_000, "reason": "load"}}),
        ),
        (
            &alice,
            serde_json::json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace,
            "name": "Echo", "kind": "tool", "executor": {"type": "builtin", "name": "echo"}, "price": {"per_call": 1, "per_1k_tokens": 0}}}),
        ),
        (
            &alice,
            serde_json::json!({"type": "DefineWorkflow", "id": flow, "payload": {"workspace_id": workspace, "name": "Two",
            "steps": [{"id": "a", "agent_id": agent}, {"id": "b", "agent_id": agent, "depends_on": ["a"]}]}}),
        ),
    ];
    for (n, (token, body)) in setup.iter().enumerate() {
        command(&http, &writes, token, &format!("setup-{n}"), body).await;
    }

    // Runs through both write APIs, one at a time each, for twelve seconds.
    let started = std::time::Instant::now();
    let load = {
        let (http, writes, alice) = (http.clone(), writes.clone(), alice.clone());
        tokio::spawn(async move {
            let mut runs = Vec::new();
            while started.elapsed() < Duration::from_secs(12) {
                let run = uuid::Uuid::now_v7();
                let body = serde_json::json!({"type": "StartRun", "id": run,
                    "payload": {"workspace_id": workspace, "workflow_id": flow, "budget": 5}});
                let rotated: Vec<String> = writes.iter().cycle().skip(runs.len() % 2).take(2).cloned().collect();
                let accepted = command(&http, &rotated, &alice, &format!("run-{run}"), &body).await;
                runs.push((run, std::time::Instant::now(), accepted["position"].as_i64().unwrap()));
            }
            runs
        })
    };
    tokio::time::sleep(Duration::from_secs(4)).await;
    for process in &mut first {
        process.child.kill().await.unwrap(); // SIGKILL, one of every role
    }
    let (killed, killed_at) = (std::time::Instant::now(), chrono::Utc::now());
    // Each role's takeover is timed from what the log holds after the kills: what a killed
    // process had done before it died does not count as a survivor's.
    let head_after_kill = scalar(&db.pool, "select max(position) from events").await;
    let mut took = std::collections::BTreeMap::new();
    let read = |base: String| {
        let (http, alice) = (http.clone(), alice.clone());
        async move {
            let answer = http
                .post(format!("{base}/graphql"))
                .bearer_auth(&alice)
                .json(&serde_json::json!({"query": "{ __typename }"}))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            answer.is_ok_and(|response| response.status().is_success())
        }
    };
    while took.len() < 3 {
        let applied = scalar(&db.pool, "select max(position) from projection_checkpoints where name = 'catalog'").await;
        if applied > head_after_kill {
            took.entry("projector").or_insert(killed.elapsed());
        }
        let published = scalar(&db.pool, "select max(position) from relay_checkpoints").await;
        if published > head_after_kill {
            took.entry("relay").or_insert(killed.elapsed());
        }
        // A client of the read APIs tries the killed one first, then the survivor.
        if !took.contains_key("read API") && (read(reads[0].clone()).await || read(reads[1].clone()).await) {
            took.insert("read API", killed.elapsed());
        }
        assert!(killed.elapsed() < Duration::from_secs(60), "no survivor took over: {took:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!read(reads[0].clone()).await, "the killed read API still answers");
    let runs = load.await.unwrap();
    assert!(runs.len() > 10, "only {} runs under load", runs.len());
    // The write API: the first command taken after the kill, through whichever answered.
    let accepted_after = runs.iter().find(|(_, at, position)| *at > killed && *position > head_after_kill);
    took.insert("write API", accepted_after.expect("a run accepted after the kill").1 - killed);

    // Every run ends, billed exactly: what it used was captured, the rest released.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let open = scalar(&db.pool, "select count(*) from events e where e.event_type = 'RunRequested' and not exists \
            (select from events f where f.stream_id = e.stream_id and f.event_type in ('RunSucceeded', 'RunFailed', 'RunRejected', 'RunCancelled'))").await;
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} runs never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let succeeded = scalar(&db.pool, "select count(*) from events where event_type = 'RunSucceeded'").await;
    assert_eq!(succeeded, runs.len() as i64, "every run succeeded once");
    let first_after_kill = runs.iter().find(|(_, at, _)| *at > killed).expect("runs after the kill");
    let run_after = format!("run-{}", first_after_kill.0);
    let ended: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select recorded_at from events where stream_id = $1 and event_type = 'RunSucceeded'")
            .bind(&run_after)
            .fetch_optional(&db.pool)
            .await
            .unwrap();
    let ended = ended.expect("a run started after the kill succeeded");
    // The slowest run started in the second after the kill: the sagas' consumer group
    // rebalancing the killed member's partitions.
    let rebalanced: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from max(s.recorded_at - r.recorded_at))::float8 from events r \
           join events s on s.stream_id = r.stream_id and s.event_type = 'RunSucceeded' \
          where r.event_type = 'RunRequested' and r.recorded_at between $1 and $1 + interval '1 second'",
    )
    .bind(killed_at)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // Settled: every reservation released once, after its captures.
    loop {
        let released = scalar(&db.pool, "select count(*) from events where event_type = 'ReservationReleased'").await;
        assert!(released <= runs.len() as i64, "a reservation was released twice");
        if released == runs.len() as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{released} of {} runs settled", runs.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let captured = scalar(
        &db.pool,
        "select sum((payload->>'amount')::bigint)::bigint from events where event_type = 'CreditsCaptured'",
    )
    .await;
    assert_eq!(captured, 2 * runs.len() as i64, "each run's two steps were captured once");
    let last = runs.last().unwrap().2;

    // Read your writes, and subscriptions, through the surviving read API.
    let query = format!(r#"{{ billingAccount(workspaceId: "{workspace}") {{ balance reserved }} }}"#);
    let settled = scalar(&db.pool, "select max(position) from events").await.max(last);
    for base in &reads[1..] {
        let response: serde_json::Value = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&alice)
            .header("x-oxbow-min-position", settled.to_string())
            .json(&serde_json::json!({"query": query}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            response["data"]["billingAccount"],
            serde_json::json!({"balance": 1_000_000 - captured, "reserved": 0}),
            "{base}: {response}"
        );
        let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let send = |value: serde_json::Value| tokio_tungstenite::tungstenite::Message::text(value.to_string());
        socket
            .send(send(
                serde_json::json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {alice}")}}),
            ))
            .await
            .unwrap();
        let subscription =
            format!(r#"subscription {{ workspaceActivity(workspaceId: "{workspace}") {{ eventType }} }}"#);
        socket
            .send(send(serde_json::json!({"id": "1", "type": "subscribe", "payload": {"query": subscription}})))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let name = format!("Renamed via {base}");
        let rename = serde_json::json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": name}});
        command(&http, &writes, &alice, &format!("rename-{base}"), &rename).await;
        let heard = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(Ok(message)) = socket.next().await {
                if message.to_text().unwrap_or_default().contains("WorkspaceRenamed") {
                    return;
                }
            }
        })
        .await;
        assert!(heard.is_ok(), "{base} delivered no subscription message");
    }

    // Each survivor's latencies are in its own /metrics, as histograms that observed something,
    // beside its process metrics.
    for (process, histogram) in [
        (&second[2], "oxbow_projection_apply_seconds_count"),
        (&second[2], "oxbow_projection_lag_seconds_count"),
        (&second[3], "oxbow_saga_work_duration_seconds_count"),
        (&second[3], "oxbow_append_batch_events_count"),
        (&second[4], "oxbow_relay_lag_seconds_count"),
        (&second[0], "oxbow_command_duration_seconds_count"),
        (&second[0], "oxbow_append_batch_seconds_count"),
        (&second[0], "oxbow_command_event_bytes_count"),
        (&second[4], "process_resident_memory_bytes"),
    ] {
        let metrics = http.get(format!("{}/metrics", process.base)).send().await.unwrap().text().await.unwrap();
        let observed: f64 = metrics
            .lines()
            .filter(|line| line.starts_with(histogram))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(observed > 0.0, "{} has no {histogram}", process.base);
    }

    // The read models are what a rebuild from the log makes of it.
    let (code, stdout, stderr) = tests::oxbow_output(&config, &["projections", "diff", "catalog"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    eprintln!(
        "after SIGKILL of one process of every role: the log applied past the head after the kill in {:?}, \
         published past it in {:?}; a command taken in {:?}, a read answered in {:?}; the first run \
         started after the kill succeeded {:.2} s after the kill, the slowest run of that second took {:.2} s; {} runs",
        took["projector"],
        took["relay"],
        took["write API"],
        took["read API"],
        (ended - killed_at).num_milliseconds() as f64 / 1000.0,
        rebalanced.unwrap_or_default(),
        runs.len()
    );
}

/// With a health address, an API process serves /readyz and /metrics there and not on its public
/// port (the platform's volumes are nobody's business outside). And /readyz probes the
/// dependencies at most once a second, however many ask: each probe of a broker that does not
/// answer held a blocking thread for two seconds, per request, for anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_metrics_are_served_apart_and_probed_once_for_many_callers() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let (public, health) = (format!("127.0.0.1:{}", tests::free_port()), format!("127.0.0.1:{}", tests::free_port()));
    let _api =
        tests::oxbow_serve_with("write-api", &config, &[("OXBOW_HTTP_ADDR", &public), ("OXBOW_HEALTH_ADDR", &health)]);
    assert_eq!(tests::first_answer(&format!("http://{public}/healthz")).await.status(), 200);
    for path in ["readyz", "metrics"] {
        assert_eq!(tests::first_answer(&format!("http://{public}/{path}")).await.status(), 404, "public /{path}");
        assert_eq!(tests::first_answer(&format!("http://{health}/{path}")).await.status(), 200, "health /{path}");
    }

    // A saga process whose broker is not there: every probe fails on Kafka.
    let saga_health = format!("127.0.0.1:{}", tests::free_port());
    let _saga = tests::oxbow_serve_with(
        "saga",
        &config,
        &[("OXBOW_HEALTH_ADDR", &saga_health), ("KAFKA_BROKERS", "127.0.0.1:9")],
    );
    tests::first_answer(&format!("http://{saga_health}/healthz")).await;
    let http = reqwest::Client::new();
    let asks = (0..40).map(|_| {
        let (http, url) = (http.clone(), format!("http://{saga_health}/readyz"));
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    });
    let answers = futures::future::join_all(asks).await;
    assert!(answers.iter().all(|status| *status == 503), "{answers:?}");
    let metrics = http.get(format!("http://{saga_health}/metrics")).send().await.unwrap().text().await.unwrap();
    let probes: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("oxbow_readiness_probes_total "))
        .expect("the probes are counted")
        .parse()
        .unwrap();
    assert!((1.0..=2.0).contains(&probes), "40 callers at once cost {probes} probes");
}
