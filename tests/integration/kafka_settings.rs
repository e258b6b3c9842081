//! Kafka as a deployment configures it: librdkafka settings from `OXBOW_KAFKA_*`, topics that
//! must already exist, and a clear refusal when they are not what the configuration says.

use std::time::Duration;

/// `oxbow serve --role <role>` over `config` with `env`; its exit code and standard error if it
/// stops within `wait`, `None` if it is still running then.
async fn serve(config: &platform::Config, role: &str, env: &[(&str, &str)], wait: Duration) -> Option<(i32, String)> {
    let mut command = tests::oxbow_serve_command(role, config, env);
    command.env("OXBOW_LOG", "error").stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("start oxbow");
    match tokio::time::timeout(wait, child.wait()).await {
        Ok(status) => {
            let mut stderr = String::new();
            use tokio::io::AsyncReadExt;
            child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
            Some((status.unwrap().code().unwrap_or(-1), stderr))
        }
        Err(_) => {
            child.kill().await.ok();
            None
        }
    }
}

#[track_caller]
fn refused(outcome: Option<(i32, String)>, mentions: &str) {
    let (code, stderr) = outcome.expect("oxbow should have refused to start");
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(mentions), "{stderr} should mention {mentions}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_settings_come_from_the_environment_and_topics_must_match_the_configuration() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let topics = config.topic_names();
    let three = platform::kafka::TopicSettings { partitions: 3, replication_factor: 1, create: true };
    platform::kafka::ensure_topics(&config.kafka(), &topics, three).await.unwrap();
    let wait = Duration::from_secs(20);

    // What correctness rests on cannot be changed; what librdkafka does not know is named.
    refused(serve(&config, "relay", &[("OXBOW_KAFKA_ACKS", "1")], wait).await, "OXBOW_KAFKA_ACKS");
    refused(serve(&config, "relay", &[("OXBOW_KAFKA_NOT_A_SETTING", "1")], wait).await, "not.a.setting");
    // A topic with another partition count, or none without the right to create it.
    refused(serve(&config, "relay", &[("OXBOW_TOPIC_PARTITIONS", "5")], wait).await, "has 3 partitions");
    let missing = tests::unique_name("missing");
    let without_creating = [("OXBOW_CREATE_TOPICS", "false"), ("OXBOW_TOPIC_PARTITIONS", "3")];
    let mut elsewhere = without_creating.to_vec();
    elsewhere.push(("OXBOW_EVENTS_TOPIC", &missing));
    refused(serve(&config, "saga", &elsewhere, wait).await, "does not exist");
    // Topics made beforehand, with their partitions, and a setting passed through: it runs.
    let mut passing = without_creating.to_vec();
    passing.push(("OXBOW_KAFKA_CLIENT_ID", "oxbow-relay-test"));
    assert_eq!(serve(&config, "relay", &passing, Duration::from_secs(5)).await, None, "the relay should run");
}

/// A write API needs no broker: it is ready, and takes commands, while Kafka is unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_api_is_ready_without_a_broker() {
    let app = tests::TestApp::start_with(&[oxbow::Role::WriteApi], |config| {
        config.kafka_brokers = "127.0.0.1:9".into();
    })
    .await;
    let ready = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true, "{body}");
    let create =
        serde_json::json!({"type": "CreateWorkspace", "id": uuid::Uuid::now_v7(), "payload": {"name": "No broker"}});
    app.ok(&app.token("alice"), create).await;
}
