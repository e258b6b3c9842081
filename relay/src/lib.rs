//! The relay: publishes the PostgreSQL log to Kafka, in log order, at least once.
//!
//! One relay publishes at a time (a PostgreSQL advisory lock elects it; others wait as
//! standbys). It reads the log after its checkpoint, produces each event keyed by its stream
//! (so a stream's events stay in order on one partition) with an idempotent producer, waits
//! until every message of the batch is acknowledged, and only then moves its checkpoint. After a
//! crash it publishes again from the checkpoint: consumers drop duplicates by position.

use std::time::Duration;

use anyhow::Context;
use events::RecordedEvent;
use platform::metrics::Metrics;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use sqlx::postgres::PgListener;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The checkpoint's name; one per target topic.
    pub name: String,
    pub brokers: String,
    pub topic: String,
    pub batch_size: i64,
    /// How long to sleep without a notification before looking at the log anyway.
    pub poll_interval: Duration,
}

impl RelayConfig {
    pub fn new(brokers: &str, topic: &str) -> RelayConfig {
        RelayConfig {
            name: format!("kafka:{topic}"),
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            batch_size: 2_000,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Publishes `batch` in order, keyed by stream, as CloudEvents; returns once Kafka has
/// acknowledged every message.
pub async fn publish(producer: &FutureProducer, topic: &str, batch: &[RecordedEvent]) -> anyhow::Result<()> {
    let mut deliveries = Vec::with_capacity(batch.len());
    for event in batch {
        let mut headers = OwnedHeaders::new_with_capacity(16);
        for (key, value) in platform::cloudevents::headers(event) {
            headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
        }
        let payload = serde_json::to_vec(&event.payload)?;
        let record = FutureRecord::to(topic).key(&event.stream_id).payload(&payload).headers(headers);
        match producer.send_result(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err((error, _)) => anyhow::bail!("queueing position {} for Kafka: {error}", event.position),
        }
    }
    for (event, delivery) in batch.iter().zip(deliveries) {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => anyhow::bail!("Kafka refused position {}: {error}", event.position),
            Err(_) => anyhow::bail!("the Kafka producer dropped position {}", event.position),
        }
    }
    Ok(())
}

/// Runs the relay until an error; the caller restarts it with backoff.
pub async fn run(pool: PgPool, config: RelayConfig, metrics: Metrics) -> anyhow::Result<()> {
    let mut leader = pool.acquire().await.context("connecting the relay")?.detach();
    let lock_key = format!("oxbow-relay:{}", config.name);
    loop {
        let (won,): (bool,) =
            sqlx::query_as("select pg_try_advisory_lock(hashtext($1))").bind(&lock_key).fetch_one(&mut leader).await?;
        if won {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tracing::info!(topic = %config.topic, "relay elected; publishing the log");

    let producer: FutureProducer =
        platform::kafka::producer_config(&config.brokers).create().context("creating the Kafka producer")?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(store::APPEND_CHANNEL).await?;
    sqlx::query("insert into relay_checkpoints (name, position) values ($1, 0) on conflict do nothing")
        .bind(&config.name)
        .execute(&pool)
        .await?;
    let (mut checkpoint,): (i64,) = sqlx::query_as("select position from relay_checkpoints where name = $1")
        .bind(&config.name)
        .fetch_one(&pool)
        .await?;

    loop {
        let batch = store::read_all(&pool, checkpoint, config.batch_size).await?;
        if batch.is_empty() {
            // Wake on the next append, or look again after the poll interval.
            let _ = tokio::time::timeout(config.poll_interval, listener.try_recv()).await;
            while listener.next_buffered().is_some() {}
            let head = store::read_head(&pool).await?.position;
            metrics.set(
                "oxbow_relay_lag_events",
                "Events logged but not yet published.",
                &[],
                (head - checkpoint) as f64,
            );
            continue;
        }
        publish(&producer, &config.topic, &batch).await?;
        let last = batch.last().map_or(checkpoint, |e| e.position);
        sqlx::query("update relay_checkpoints set position = $2 where name = $1 and position < $2")
            .bind(&config.name)
            .bind(last)
            .execute(&pool)
            .await?;
        checkpoint = last;
        metrics.increment("oxbow_relay_published_total", "Events published to Kafka.", &[], batch.len() as u64);
        metrics.set("oxbow_relay_position", "The last log position published to Kafka.", &[], last as f64);
    }
}
