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
        let appends = (0..streams).map(|s| {
            store.append(AppendRequest {
                stream_id: format!("relaytest-{s}"),
                expected: ExpectedVersion::Any,
                events: (0..50)
                    .map(|i| NewEvent {
                        event_id: Uuid::now_v7(),
                        event_type: "Ticked".into(),
                        schema_version: 1,
                        payload: json!({"round": round, "i": i}),
                        metadata: json!({"actor": "test", "correlation_id": Uuid::nil(), "causation_id": Uuid::nil()}),
                    })
                    .collect(),
                idempotency: None,
                observed_head: None,
            })
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
    let config = tests::config(&db);
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
        platform::kafka::consumer_config(&config.kafka_brokers, &tests::unique_name("reader")).create().unwrap();
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
            .find(|h| h.key == "oxbow_position")
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
