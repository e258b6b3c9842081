//! The relay publishes every logged event to Kafka, even when it is killed mid-stream.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use events::NewEvent;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use serde_json::json;
use store::{AppendRequest, CommitterConfig, EventStore, ExpectedVersion};
use uuid::Uuid;

async fn append_events(store: &EventStore, streams: usize, per_stream: usize) {
    for round in 0..per_stream / 50 {
        let appends =
            (0..streams).map(|s| {
                store.append(AppendRequest::to_stream(format!("relaytest-{s}"), ExpectedVersion::Any, (0..50)
                    .map(|i| NewEvent {
                        event_id: Uuid::now_v7(),
                        event_type: "Ticked".into(),
                        schema_version: 1,
                        payload: json!({"round": round, "i": i}),
                        metadata: json!({"actor": "test", "correlation_id": Uuid::nil(), "causation_id": Uuid::nil()}),
                    })
                    .collect()))
            });
        for result in futures::future::join_all(appends).await {
            result.unwrap();
        }
    }
}

async fn checkpoint(pool: &sqlx::PgPool) -> i64 {
    let row: Option<(i64,)> =
        sqlx::query_as("select position from relay_checkpoints").fetch_optional(pool).await.unwrap();
    row.map_or(0, |(position,)| position)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_stream_loses_nothing() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    append_events(&store, 20, 1000).await;
    let first_head = store::read_head(&db.pool).await.unwrap().position;

    let mut relay = tests::oxbow_serve("relay", &config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while checkpoint(&db.pool).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the relay published nothing in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay.kill().await.unwrap(); // SIGKILL
    let at_kill = checkpoint(&db.pool).await;
    assert!(at_kill < first_head, "the relay should have been killed mid-stream ({at_kill} of {first_head})");

    // More events while no relay runs.
    append_events(&store, 20, 100).await;
    let head = store::read_head(&db.pool).await.unwrap().position;
    let _relay = tests::oxbow_serve("relay", &config);

    let consumer: StreamConsumer =
        platform::kafka::consumer_config(&config.kafka(), &tests::unique_name("reader")).create().unwrap();
    consumer.subscribe(&[&config.events_topic]).unwrap();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut order: HashMap<String, Vec<i64>> = HashMap::new();
    let mut duplicates = 0;
    while (seen.len() as i64) < head {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {head} events reached Kafka", seen.len()))
            .unwrap();
        let position: i64 = message
            .headers()
            .unwrap()
            .iter()
            .find(|h| h.key == platform::cloudevents::POSITION)
            .and_then(|h| h.value)
            .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap())
            .unwrap();
        let stream = std::str::from_utf8(message.key().unwrap()).unwrap().to_owned();
        if seen.insert(position) {
            order.entry(stream).or_default().push(position);
        } else {
            duplicates += 1;
        }
    }
    assert_eq!(seen.len() as i64, head, "every logged event reached Kafka");
    for (stream, positions) in order {
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{stream} arrived out of order");
    }
    // Duplicates are allowed (at least once) and consumers drop them by position.
    eprintln!("{duplicates} duplicates after the crash");
}

/// An event the broker refuses (2 MB, past librdkafka's 1 MB message limit: written straight
/// into the log, as the command edge now refuses anything like it) is parked by the relay
/// after a few tries, with the stream's later event behind it; every other stream reaches
/// Kafka and the checkpoint reaches the head. Skipping it publishes what waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_broker_refuses_is_parked_and_the_relay_goes_on() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    let event = |payload: serde_json::Value| NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "Ticked".into(),
        schema_version: 1,
        payload,
        metadata: json!({"actor": "test", "correlation_id": Uuid::nil(), "causation_id": Uuid::nil()}),
    };
    let append = |stream: &str, payload: serde_json::Value| {
        store.append(AppendRequest::to_stream(stream.to_owned(), ExpectedVersion::Any, vec![event(payload)]))
    };
    append("relaytest-before", json!({"i": 0})).await.unwrap();
    let huge = append("relaytest-huge", json!({"text": "x".repeat(2_000_000)})).await.unwrap().last_position.unwrap();
    let behind = append("relaytest-huge", json!({"i": 1})).await.unwrap().last_position.unwrap();
    append_events(&store, 3, 50).await;
    let head = store::read_head(&db.pool).await.unwrap().position;

    let _relay = tests::oxbow_serve("relay", &config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while checkpoint(&db.pool).await < head {
        assert!(tokio::time::Instant::now() < deadline, "the relay did not get past the refused event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parked = store::parked::list(&db.pool, Some("relay")).await.unwrap();
    let positions: Vec<(i64, bool)> = parked.iter().map(|p| (p.position, p.error.is_some())).collect();
    assert_eq!(positions, [(huge, true), (behind, false)], "{parked:?}");
    assert!(parked[0].error.as_deref().unwrap().contains("too large"), "{parked:?}");

    // The events of every other stream are on Kafka; the huge stream's are not, yet.
    let consumer: StreamConsumer =
        platform::kafka::consumer_config(&config.kafka(), &tests::unique_name("reader")).create().unwrap();
    consumer.subscribe(&[&config.events_topic]).unwrap();
    let position_of = |message: &rdkafka::message::BorrowedMessage<'_>| -> i64 {
        let header = message.headers().unwrap().iter().find(|h| h.key == "oxbow_position").unwrap();
        std::str::from_utf8(header.value.unwrap()).unwrap().parse().unwrap()
    };
    let mut seen = HashSet::new();
    while (seen.len() as i64) < head - 2 {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("events").unwrap();
        seen.insert(position_of(&message));
    }
    assert!(!seen.contains(&huge) && !seen.contains(&behind));

    // Given up by an operator: recorded in the log, and the event behind it is published.
    let (code, stdout, stderr) = tests::oxbow_output(
        &config,
        &["projections", "skip", &huge.to_string(), "--consumer", "relay", "--reason", "too big", "--by", "ops"],
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(store::parked::list(&db.pool, Some("relay")).await.unwrap().is_empty());
    while !seen.contains(&behind) {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("events").unwrap();
        seen.insert(position_of(&message));
    }
    let decisions = store::read_stream(&db.pool, &events::operations::stream_id(), 0).await.unwrap();
    assert_eq!(
        (decisions[0].payload["consumer"].as_str(), decisions[0].payload["position"].as_i64()),
        (Some("relay"), Some(huge))
    );
}

/// A CloudEvents SDK reads Oxbow's attributes off the Kafka messages: the Python `cloudevents`
/// package's Kafka binding decodes each message the relay published, and the position, stream
/// version, hash, correlation and causation it hands its user are the log's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudevents_sdk_reads_the_logs_attributes_from_the_kafka_messages() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    let db = tests::database().await;
    let config = tests::config(&db.url);
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    append_events(&store, 3, 50).await;
    let logged = store::read_range(&db.pool, 1, 150).await.unwrap();
    let topics = config.topic_names();
    platform::kafka::ensure_topics(&config.kafka(), &topics, config.topics()).await.unwrap();
    let _relay = tests::oxbow_serve("relay", &config);

    let packages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.oxbow/python");
    assert!(
        packages.join("cloudevents").is_dir(),
        "the CloudEvents SDK is missing: python3 -m pip install --target .oxbow/python -r tests/python/requirements.txt (scripts/test does)"
    );
    let mut sdk = tokio::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/cloudevents_decode.py"))
        .env("PYTHONPATH", &packages)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run python3");
    let mut to_sdk = sdk.stdin.take().unwrap();
    let mut from_sdk = tokio::io::BufReader::new(sdk.stdout.take().unwrap()).lines();

    let consumer: StreamConsumer =
        platform::kafka::consumer_config(&config.kafka(), &tests::unique_name("sdk")).create().unwrap();
    consumer.subscribe(&[&config.events_topic]).unwrap();
    let mut decoded = HashMap::new();
    while decoded.len() < logged.len() {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("a message").unwrap();
        let text = |bytes: Option<&[u8]>| String::from_utf8(bytes.unwrap_or_default().to_vec()).unwrap();
        let headers: Vec<(String, String)> =
            message.headers().unwrap().iter().map(|h| (h.key.to_owned(), text(h.value))).collect();
        let line = json!({"headers": headers, "key": text(message.key()), "value": text(message.payload())});
        to_sdk.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let answer = from_sdk.next_line().await.unwrap().expect("the SDK decoded the message");
        let event: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let attributes = event["attributes"].clone();
        let position: i64 = attributes["oxbowposition"].as_str().expect("oxbowposition").parse().unwrap();
        decoded.insert(position, event);
    }
    for event in &logged {
        let sdk = &decoded[&event.position]["attributes"];
        assert_eq!(sdk["id"], event.event_id.to_string());
        assert_eq!(sdk["subject"], event.stream_id);
        assert_eq!(sdk["oxbowstreamversion"], event.stream_version.to_string());
        assert_eq!(sdk["oxbowhash"], event.hash.to_hex());
        assert_eq!(sdk["oxboweventtype"], event.event_type);
        assert_eq!(sdk["oxbowcorrelationid"], event.metadata["correlation_id"]);
        assert_eq!(sdk["oxbowcausationid"], event.metadata["causation_id"]);
        assert_eq!(decoded[&event.position]["data"], event.payload);
    }
}
