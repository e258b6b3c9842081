//! The relay: publishes the PostgreSQL log to Kafka, in log order, at least once.
//!
//! One relay publishes at a time (a PostgreSQL advisory lock elects it; others wait as
//! standbys). It reads the log after its checkpoint, produces each event keyed by its stream
//! (so a stream's events stay in order on one partition) with an idempotent producer, waits
//! until every message of the batch is acknowledged, and only then moves its checkpoint. After a
//! crash it publishes again from the checkpoint: consumers drop duplicates by position.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use events::RecordedEvent;
use platform::metrics::Metrics;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use store::traces::TraceContexts;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The checkpoint's name; one per target topic.
    pub name: String,
    pub kafka: platform::kafka::KafkaSettings,
    pub topic: String,
    pub batch_size: i64,
    /// How long to sleep without a notification before looking at the log anyway.
    pub poll_interval: Duration,
}

impl RelayConfig {
    pub fn new(kafka: &platform::kafka::KafkaSettings, topic: &str) -> RelayConfig {
        RelayConfig {
            name: format!("kafka:{topic}"),
            kafka: kafka.clone(),
            topic: topic.to_owned(),
            batch_size: 2_000,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Publishes `batch` in order, keyed by stream, as CloudEvents; returns once Kafka has
/// acknowledged every message.
/// A traced event's message carries its trace on, as the `ce_traceparent` header of the
/// CloudEvents Distributed Tracing extension and as `traceparent`, from a span that lasts
/// until the broker's acknowledgement.
pub async fn publish(
    producer: &FutureProducer,
    topic: &str,
    batch: &[RecordedEvent],
    traces: &TraceContexts,
) -> anyhow::Result<()> {
    let mut deliveries = Vec::with_capacity(batch.len());
    let mut spans = Vec::with_capacity(batch.len());
    for event in batch {
        let mut headers = OwnedHeaders::new_with_capacity(17);
        for (key, value) in platform::cloudevents::headers(event) {
            headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
        }
        let mut traced = None;
        if let Some(traceparent) = traces.get(&event.position) {
            // OpenTelemetry's messaging conventions for a Kafka producer.
            let span = tracing::info_span!(
                "send",
                otel.name = format!("send {topic}"),
                otel.kind = "producer",
                messaging.system = "kafka",
                messaging.operation.type = "send",
                messaging.operation.name = "send",
                messaging.destination.name = topic,
                messaging.kafka.message.key = %event.stream_id,
                messaging.destination.partition.id = tracing::field::Empty,
                messaging.kafka.offset = tracing::field::Empty,
                oxbow.position = event.position,
            );
            platform::telemetry::continue_trace(&span, Some(traceparent));
            // Under both names: OpenTelemetry's Kafka instrumentations read `traceparent`.
            if let Some(own) = platform::telemetry::traceparent_of(&span) {
                for key in [platform::telemetry::KAFKA_HEADER, "traceparent"] {
                    headers = headers.insert(Header { key, value: Some(own.as_bytes()) });
                }
            }
            traced = Some(span);
        }
        spans.push(traced);
        let payload = serde_json::to_vec(&event.payload)?;
        let record = FutureRecord::to(topic).key(&event.stream_id).payload(&payload).headers(headers);
        match producer.send_result(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err((error, _)) => anyhow::bail!("queueing position {} for Kafka: {error}", event.position),
        }
    }
    for ((event, delivery), span) in batch.iter().zip(deliveries).zip(&spans) {
        match delivery.await {
            Ok(Ok(delivered)) => {
                if let Some(span) = span {
                    span.record("messaging.destination.partition.id", delivered.partition.to_string());
                    span.record("messaging.kafka.offset", delivered.offset);
                }
            }
            Ok(Err((error, _))) => anyhow::bail!("Kafka refused position {}: {error}", event.position),
            Err(_) => anyhow::bail!("the Kafka producer dropped position {}", event.position),
        }
    }
    drop(spans);
    Ok(())
}

/// Refuses to publish to a topic that holds an event this log does not have (a position past
/// its head, or one with another hash). That is what a topic looks like to a log restored from
/// a backup: the positions after the restore point were published once and will be given out
/// again, and a consumer could not tell the old events from the new. So a restored deployment
/// publishes to a new topic; this check keeps one that was not told from mixing the two.
async fn check_topic_continues_log(pool: &PgPool, config: &RelayConfig) -> anyhow::Result<()> {
    let (kafka, topic) = (config.kafka.clone(), config.topic.clone());
    let last = tokio::task::spawn_blocking(move || last_published(&kafka, &topic)).await??;
    let positions: Vec<i64> = last.iter().map(|event| event.position).collect();
    let logged = store::hashes_at(pool, &positions).await?;
    for event in last {
        let differs = match logged.get(&event.position) {
            None => "does not have",
            Some(hash) if *hash != event.hash => "has with another hash",
            Some(_) => continue,
        };
        anyhow::bail!(
            "the topic {} already holds position {}, which this log {differs}: the log was restored from a backup, \
             or another deployment publishes there. Publish to a new topic (OXBOW_EVENTS_TOPIC) with a new saga \
             group (OXBOW_SAGA_GROUP); see the README's restore runbook",
            config.topic,
            event.position,
        );
    }
    Ok(())
}

/// The last event of each partition of `topic` (none for an empty or missing topic).
fn last_published(kafka: &platform::kafka::KafkaSettings, topic: &str) -> anyhow::Result<Vec<RecordedEvent>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let timeout = Duration::from_secs(10);
    let consumer: BaseConsumer = platform::kafka::consumer_config(kafka, "oxbow-relay-check")
        .create()
        .context("creating a Kafka consumer to check the topic")?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout).context("reading the topic's metadata")?;
    let Some(partitions) = metadata.topics().first().map(|topic| topic.partitions().len() as i32) else {
        return Ok(Vec::new());
    };
    let mut assignment = rdkafka::TopicPartitionList::new();
    for partition in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, timeout).unwrap_or((0, 0));
        if high > low {
            assignment.add_partition_offset(topic, partition, rdkafka::Offset::Offset(high - 1))?;
        }
    }
    let mut wanted = assignment.count();
    if wanted == 0 {
        return Ok(Vec::new());
    }
    consumer.assign(&assignment)?;
    let mut last = Vec::with_capacity(wanted);
    let deadline = std::time::Instant::now() + timeout;
    while wanted > 0 && std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = message.context("reading the topic's last events")?;
        wanted -= 1;
        if let Ok(event) = platform::cloudevents::decode_message(&message) {
            last.push(event);
        }
    }
    anyhow::ensure!(wanted == 0, "the topic's last events did not arrive within {timeout:?}");
    Ok(last)
}

/// The relay's name in the dead letter (`store::parked`).
pub const CONSUMER: &str = "relay";

/// Events published one at a time while the relay looks for one the broker keeps refusing.
const ISOLATING_BATCH: i64 = 100;

/// Runs the relay until an error; the caller restarts it with backoff.
///
/// A batch the broker refuses is tried again with backoff. After [`store::parked::TRIES`]
/// refusals in a row, the relay publishes one event at a time: an event the broker refuses
/// while later events of other streams go through is the event's fault (too large, say), not
/// the broker's, and it is parked with its error; its stream's later events are parked behind
/// it and every other stream flows on. When nothing goes through, the broker is down: nothing
/// is parked, and the relay keeps trying.
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

    check_topic_continues_log(&pool, &config).await?;
    let producer: FutureProducer =
        platform::kafka::producer_config(&config.kafka).create().context("creating the Kafka producer")?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(store::APPEND_CHANNEL).await?;
    let store::RelayCheckpoint { position: mut checkpoint, mut any_parked } =
        store::open_relay_checkpoint(&pool, &config.name, CONSUMER).await?;
    let mut failures = 0;
    // The head the last wake-up announced: the log is read only when it may hold more.
    let mut announced: Option<i64> = None;

    loop {
        let mut parked = HashSet::new();
        if any_parked {
            retry_parked(&pool, &producer, &config.topic).await?;
            parked = store::parked::streams(&pool, CONSUMER).await?;
        }
        let isolating = failures >= store::parked::TRIES;
        let batch = if announced.is_some_and(|head| head <= checkpoint) {
            Vec::new()
        } else {
            store::read_all(&pool, checkpoint, if isolating { ISOLATING_BATCH } else { config.batch_size }).await?
        };
        let Some(last) = batch.last().map(|event| event.position) else {
            // Wake on the next append, or look again after the poll interval.
            announced = store::wait_for_appends(&mut listener, config.poll_interval).await;
            let head = match announced {
                Some(head) => head,
                None => store::read_head(&pool).await?.position,
            };
            metrics.set(
                "oxbow_relay_lag_events",
                "Events logged but not yet published.",
                &[],
                (head - checkpoint) as f64,
            );
            continue;
        };
        let traces = if platform::telemetry::enabled() {
            store::traces::read(&pool, checkpoint, last).await?
        } else {
            TraceContexts::new()
        };
        let (held, ready): (Vec<RecordedEvent>, Vec<RecordedEvent>) =
            batch.into_iter().partition(|event| parked.contains(&event.stream_id));
        // Events held back behind a parked one are not published, and not counted.
        let published = ready.len();
        let newest = ready.last().map(|event| event.recorded_at);
        let outcome = if isolating {
            publish_isolating(&pool, &producer, &config.topic, ready, &traces).await
        } else {
            publish(&producer, &config.topic, &ready, &traces).await
        };
        if let Err(error) = outcome {
            failures += 1;
            let backoff = Duration::from_millis(200 * 2u64.pow(failures.min(5) as u32));
            tracing::warn!(error = format!("{error:#}"), failures, ?backoff, "publishing failed; trying again");
            tokio::time::sleep(backoff).await;
            continue;
        }
        failures = 0;
        for event in &held {
            store::parked::park(&pool, CONSUMER, event, None).await?;
        }
        any_parked = store::advance_relay_checkpoint(&pool, &config.name, last, CONSUMER).await?.any_parked;
        checkpoint = last;
        metrics.increment("oxbow_relay_published_total", "Events published to Kafka.", &[], published as u64);
        if let Some(newest) = newest {
            let lag = (chrono::Utc::now() - newest).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
            metrics.observe(
                "oxbow_relay_lag_seconds",
                "From an event's append to its batch's acknowledgement by the broker.",
                &[],
                platform::metrics::SECONDS,
                lag.max(0.0),
            );
        }
        metrics.set("oxbow_relay_position", "The last log position published to Kafka.", &[], last as f64);
    }
}

/// Publishes `events` one at a time. An event the broker refuses while a later one of another
/// stream goes through is parked with its error, and its stream's later events behind it. An
/// error when nothing went through: the broker, not the events.
async fn publish_isolating(
    pool: &PgPool,
    producer: &FutureProducer,
    topic: &str,
    events: Vec<RecordedEvent>,
    traces: &TraceContexts,
) -> anyhow::Result<()> {
    let (mut refused, mut behind, mut went_through) = (Vec::new(), Vec::new(), 0);
    let mut refused_streams = HashSet::new();
    for event in events {
        if refused_streams.contains(&event.stream_id) {
            behind.push(event);
            continue;
        }
        match publish(producer, topic, std::slice::from_ref(&event), traces).await {
            Ok(()) => went_through += 1,
            Err(error) => {
                refused_streams.insert(event.stream_id.clone());
                refused.push((event, format!("{error:#}")));
            }
        }
    }
    if let Some((event, error)) = refused.first()
        && went_through == 0
    {
        anyhow::bail!("nothing went through; the first refusal, at position {}: {error}", event.position);
    }
    for (event, error) in &refused {
        tracing::error!(position = event.position, stream = %event.stream_id, %error, "parking an event the broker refuses");
        store::parked::park(pool, CONSUMER, event, Some(error)).await?;
    }
    for event in &behind {
        store::parked::park(pool, CONSUMER, event, None).await?;
    }
    Ok(())
}

/// Publishes, in order, the parked events of every stream an operator asked to retry. A stream
/// whose events all go through is released; at the first refusal it stays parked.
async fn retry_parked(pool: &PgPool, producer: &FutureProducer, topic: &str) -> anyhow::Result<()> {
    for (stream_id, positions) in store::parked::due_for_retry(pool, CONSUMER).await? {
        let events = store::read_positions(pool, &positions).await?;
        let mut refusal = None;
        for event in &events {
            if let Err(error) = publish(producer, topic, std::slice::from_ref(event), &TraceContexts::new()).await {
                refusal = Some((event.position, format!("{error:#}")));
                break;
            }
        }
        match refusal {
            None => {
                store::parked::release(pool, CONSUMER, &positions).await?;
                tracing::info!(stream = %stream_id, events = events.len(), "parked events published on retry");
            }
            Some((position, error)) => {
                tracing::warn!(stream = %stream_id, %error, "parked events refused again");
                store::parked::failed_again(pool, CONSUMER, position, &error).await?;
            }
        }
    }
    Ok(())
}
