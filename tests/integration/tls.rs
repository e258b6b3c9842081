//! Every service over TLS, as managed PostgreSQL, Redis and Kafka serve it: a throwaway CA made
//! by the test setup (`scripts/lib/services.sh`, `oxbow_start_tls_services`), PostgreSQL with
//! `sslmode=verify-full`, `rediss://`, Kafka through a TLS terminator (stunnel: Tansu serves no
//! TLS itself) with librdkafka's `security.protocol=SSL`, and a webhook agent over https.

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use serde_json::json;
use tests::TestApp;

use crate::runs::{agent, finished, funded_workspace, start_run, step, workflow};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: scripts/test starts the TLS services"))
}

/// `base` (http) behind stunnel, as https on a port of its own, with the test CA's certificate.
fn https_in_front_of(base: &str, ca: &str) -> (String, std::process::Child) {
    let dir = std::path::Path::new(ca).parent().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let inner = base.trim_start_matches("http://");
    let conf = dir.join(format!("https-{port}.conf"));
    let text = format!(
        "foreground = yes\npid =\n[https]\naccept = 127.0.0.1:{port}\nconnect = {inner}\ncert = {}\n",
        dir.join("stunnel.pem").display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = std::process::Command::new("stunnel")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run stunnel (scripts/test installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (format!("https://127.0.0.1:{port}"), child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_is_reached_over_tls_and_a_webhook_agent_over_https() {
    let ca = env("OXBOW_TEST_CA");
    let (kafka_brokers, redis_url) = (env("OXBOW_TEST_TLS_KAFKA_BROKERS"), env("OXBOW_TEST_TLS_REDIS_URL"));
    let kafka_tls =
        vec![("security.protocol".to_owned(), "SSL".to_owned()), ("ssl.ca.location".to_owned(), ca.clone())];
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.database_url = format!("{}?sslmode=verify-full&sslrootcert={ca}", config.database_url);
        config.redis_url = redis_url.clone();
        config.kafka_brokers = kafka_brokers.clone();
        config.kafka_client = kafka_tls.clone();
        config.tls_ca_file = Some(ca.clone());
    })
    .await;

    // A run whose one step is a webhook agent served over https.
    let (base, _server) = crate::runs::webhook_server().await;
    let (https, mut stunnel) = https_in_front_of(&base, &ca);
    let workspace = funded_workspace(&app, 1_000).await;
    let remote =
        agent(&app, workspace, json!({"type": "webhook", "url": format!("{https}/ok"), "timeout_ms": 5000}), 1, 1)
            .await;
    let flow = workflow(&app, workspace, json!([step("call", remote, &[])])).await;
    let run = start_run(&app, workspace, flow, 100).await;
    let events = finished(&app, run).await;
    stunnel.kill().ok();
    let succeeded = events.iter().find(|e| e.event_type == "StepSucceeded").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(succeeded.payload["output"], json!({"summary": "read \"call\""}));

    // Read your writes: the projector wrote PostgreSQL and announced it on Redis, both over TLS.
    let last = events.last().unwrap().position;
    let query = format!(r#"{{ run(id: "{run}") {{ status }} }}"#);
    let response = app.graphql(Some(&app.token("alice")), &query, Some(last)).await;
    assert_eq!(response["data"]["run"]["status"], "SUCCEEDED", "{response}");

    // Every connection Oxbow holds to its database is encrypted.
    let database = app.config.database_url.split('?').next().unwrap().rsplit('/').next().unwrap().to_owned();
    let (encrypted, plain): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where s.ssl), count(*) filter (where not s.ssl and a.pid <> pg_backend_pid()) \
           from pg_stat_activity a join pg_stat_ssl s using (pid) where a.datname = $1",
    )
    .bind(&database)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(encrypted > 0, "no encrypted connection");
    let ours = app.db.pool.size() as i64;
    assert!(plain <= ours, "{plain} plain connections besides the test's own {ours}");

    // The relay published through the TLS broker: a TLS consumer reads the run's events there.
    let kafka = platform::kafka::KafkaSettings { brokers: kafka_brokers.clone(), client: kafka_tls.clone() };
    let consumer: StreamConsumer =
        platform::kafka::consumer_config(&kafka, &tests::unique_name("tls-reader")).create().unwrap();
    consumer.subscribe(&[&app.config.events_topic]).unwrap();
    let stream = format!("run-{run}");
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("an event").unwrap();
        if message.key() == Some(stream.as_bytes()) {
            break;
        }
    }

    // A certificate the client does not trust is refused: verify-full against another CA.
    let untrusted = format!("{}?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt", app.db.url);
    assert!(sqlx::PgPool::connect(&untrusted).await.is_err(), "a server certificate from an unknown CA was accepted");
}
