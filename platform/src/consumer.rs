//! Reading the events topic in batches, and applying each event once in effect.
//!
//! Every consumer of the events topic (the sagas; the projector reads the log itself) keeps,
//! per stream, the last version it handled, in the same transaction as what it does with the
//! events: an event at or below it is a duplicate and is skipped; an event further ahead means
//! Kafka lost something, and the missing events are read from the log.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use events::RecordedEvent;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use sqlx::PgConnection;

/// A consumer-group member of the events topic that hands out decoded batches.
pub struct EventConsumer {
    consumer: StreamConsumer,
    max_batch: usize,
}

/// Events in topic order per partition, and the offsets to commit once they are handled.
pub struct Batch {
    pub events: Vec<RecordedEvent>,
    /// The trace each traced event's message continues (its `ce_traceparent`), by position.
    pub traces: store::traces::TraceContexts,
    offsets: BTreeMap<(String, i32), i64>,
}

impl EventConsumer {
    pub fn subscribe(
        kafka: &crate::kafka::KafkaSettings,
        group: &str,
        topic: &str,
        max_batch: usize,
    ) -> anyhow::Result<EventConsumer> {
        let consumer: StreamConsumer =
            crate::kafka::consumer_config(kafka, group).create().context("creating the Kafka consumer")?;
        consumer.subscribe(&[topic]).context("subscribing to the events topic")?;
        Ok(EventConsumer { consumer, max_batch })
    }

    /// The next batch: its first message and what had arrived with it. `None` when nothing
    /// arrived within `idle`.
    pub async fn next_batch(&self, idle: Duration) -> anyhow::Result<Option<Batch>> {
        let first = match tokio::time::timeout(idle, self.consumer.recv()).await {
            Ok(message) => message?,
            Err(_) => return Ok(None),
        };
        let mut batch =
            Batch { events: Vec::with_capacity(self.max_batch), traces: HashMap::new(), offsets: BTreeMap::new() };
        batch.take(&first);
        // Then whatever has already arrived (a fetch brings many at once), without waiting for
        // more: waiting would add its time to every event's trip when the log is quiet.
        let mut received = 1;
        while received < self.max_batch {
            match tokio::time::timeout(Duration::ZERO, self.consumer.recv()).await {
                Ok(message) => batch.take(&message?),
                Err(_) => break,
            }
            received += 1;
        }
        Ok(Some(batch))
    }

    /// Commits a handled batch's offsets. Offsets only save re-reading: what was handled is
    /// recorded with the handling, so a failed commit is harmless.
    pub fn commit(&self, batch: &Batch) {
        let mut partitions = TopicPartitionList::new();
        for ((topic, partition), offset) in &batch.offsets {
            if let Err(error) = partitions.add_partition_offset(topic, *partition, Offset::Offset(offset + 1)) {
                tracing::debug!(%error, "an offset could not be listed for commit");
            }
        }
        if let Err(error) = self.consumer.commit(&partitions, CommitMode::Async) {
            tracing::debug!(%error, "committing Kafka offsets failed; redelivery is harmless");
        }
    }
}

impl Batch {
    /// Decodes a message into the batch and notes its offset.
    fn take(&mut self, message: &BorrowedMessage<'_>) {
        self.offsets.insert((message.topic().to_owned(), message.partition()), message.offset());
        match crate::cloudevents::decode_message(message) {
            Ok(event) => {
                let traceparent = crate::cloudevents::header(message, crate::telemetry::KAFKA_HEADER)
                    .and_then(|value| std::str::from_utf8(value).ok());
                if let Some(traceparent) = traceparent {
                    self.traces.insert(event.position, traceparent.to_owned());
                }
                self.events.push(event);
            }
            // A message that is not an Oxbow event is not ours to apply; the log is the truth,
            // and gap filling fetches any event a message should have carried.
            Err(error) => tracing::warn!(%error, offset = message.offset(), "skipping a foreign message"),
        }
    }
}

/// The events of `events` that are in this log, as they are in it; the others (and how many)
/// come from another history of it: a topic the log was restored behind, whose positions after
/// the restore point were given out again. Checked by position and hash, one read per batch.
pub async fn of_this_log(
    executor: impl sqlx::PgExecutor<'_>,
    events: Vec<RecordedEvent>,
) -> sqlx::Result<(Vec<RecordedEvent>, usize)> {
    if events.is_empty() {
        return Ok((events, 0));
    }
    let positions: Vec<i64> = events.iter().map(|event| event.position).collect();
    let logged: Vec<(i64, Vec<u8>)> = sqlx::query_as("select position, hash from events where position = any($1)")
        .bind(&positions)
        .fetch_all(executor)
        .await?;
    let logged: HashMap<i64, Vec<u8>> = logged.into_iter().collect();
    let (ours, foreign): (Vec<RecordedEvent>, Vec<RecordedEvent>) = events
        .into_iter()
        .partition(|event| logged.get(&event.position).is_some_and(|hash| hash.as_slice() == event.hash.0.as_slice()));
    if let Some(first) = foreign.first() {
        tracing::error!(
            position = first.position,
            count = foreign.len(),
            "skipping events this log does not have: the topic holds another history of the log (restored from a backup?)"
        );
    }
    Ok((ours, foreign.len()))
}

/// The events of `batch` that `consumer` may not have handled yet, read without a lock or a
/// transaction. Versions only go up, so an event at or below its stream's committed version is
/// handled for good. Filtering first keeps [`handle_once`] from locking streams it has nothing
/// to do for: for the sagas, whose shortcut handles most events before Kafka brings them, that
/// is most streams, and taking their locks would queue the consumer and the shortcut behind
/// each other.
pub async fn not_yet_handled(
    executor: impl sqlx::PgExecutor<'_>,
    consumer: &str,
    batch: &[&RecordedEvent],
) -> sqlx::Result<Vec<RecordedEvent>> {
    let mut streams: Vec<&str> = batch.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let handled: Vec<(String, i64)> = sqlx::query_as(
        "select stream_id, version from projection_streams where projection = $1 and stream_id = any($2)",
    )
    .bind(consumer)
    .bind(&streams)
    .fetch_all(executor)
    .await?;
    let handled: HashMap<String, i64> = handled.into_iter().collect();
    Ok(batch
        .iter()
        .filter(|e| handled.get(&e.stream_id).is_none_or(|known| e.stream_version > *known))
        .map(|e| (*e).clone())
        .collect())
}

/// Hands `handle` each event that `consumer` has not handled yet, in stream order, filling any
/// gap from the log, and records the streams' new versions, all on `connection` (the caller's
/// transaction). Returns what `handle` returned for the events it was given.
pub async fn handle_once<T>(
    connection: &mut PgConnection,
    consumer: &str,
    batch: &[RecordedEvent],
    mut handle: impl AsyncFnMut(&mut PgConnection, &RecordedEvent) -> anyhow::Result<Option<T>>,
) -> anyhow::Result<Vec<T>> {
    let mut streams: Vec<&str> = batch.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    // One statement makes each stream's row, locks it and reads its version. The rows are
    // locked in a fixed order, so consumers that overlap (a rebalance, the sagas' own shortcut)
    // take turns instead of interleaving or deadlocking.
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "insert into projection_streams (projection, stream_id, version) \
         select $1, s, 0 from unnest($2::text[]) as s order by s \
         on conflict (projection, stream_id) do update set version = projection_streams.version \
         returning stream_id, version",
    )
    .bind(consumer)
    .bind(&streams)
    .fetch_all(&mut *connection)
    .await?;
    let mut versions: HashMap<String, i64> = rows.into_iter().collect();

    let mut results = Vec::new();
    for event in batch {
        let known = versions.get(&event.stream_id).copied().unwrap_or(0);
        if event.stream_version <= known {
            continue;
        }
        let mut pending = Vec::new();
        if event.stream_version > known + 1 {
            let missing = store::read_stream(&mut *connection, &event.stream_id, known).await?;
            pending.extend(missing.into_iter().filter(|e| e.stream_version < event.stream_version));
            // Routine for the sagas, which handle their own commands' events before Kafka
            // brings the ones in between.
            tracing::debug!(stream = %event.stream_id, known, next = event.stream_version, "filled a gap from the log");
        }
        pending.push(event.clone());
        for event in &pending {
            results.extend(handle(connection, event).await?);
        }
        versions.insert(event.stream_id.clone(), event.stream_version);
    }
    let (ids, new_versions): (Vec<String>, Vec<i64>) = versions.into_iter().unzip();
    sqlx::query(
        "update projection_streams p set version = v.version \
           from unnest($2::text[], $3::bigint[]) as v(stream_id, version) \
          where p.projection = $1 and p.stream_id = v.stream_id and p.version < v.version",
    )
    .bind(consumer)
    .bind(&ids)
    .bind(&new_versions)
    .execute(&mut *connection)
    .await?;
    Ok(results)
}

/// Each once.
pub fn distinct<T: Ord>(mut touched: Vec<T>) -> Vec<T> {
    touched.sort_unstable();
    touched.dedup();
    touched
}
