//! The events topic as the sagas read it: decoded batches from a consumer group, their offsets
//! committed once handled, and each event checked against the log it claims to come from.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use events::RecordedEvent;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

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
        kafka: &platform::kafka::KafkaSettings,
        group: &str,
        topic: &str,
        max_batch: usize,
    ) -> anyhow::Result<EventConsumer> {
        let consumer: StreamConsumer =
            platform::kafka::consumer_config(kafka, group).create().context("creating the Kafka consumer")?;
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
        match platform::cloudevents::decode_message(message) {
            Ok(event) => {
                let traceparent = platform::cloudevents::header(message, platform::telemetry::KAFKA_HEADER)
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

/// The events of `events` that are in this log, as the log holds them (its rows, not the
/// copies Kafka brought), and how many are not: those come from another history of the log (a
/// topic the log was restored behind, whose positions after the restore point were given out
/// again) or were forged by someone who may produce to the topic. Only a copy's position and
/// hash are taken from Kafka; stream, version, payload and metadata come from the log. One read
/// per batch.
pub async fn of_this_log(
    executor: impl sqlx::PgExecutor<'_>,
    events: Vec<RecordedEvent>,
) -> store::Result<(Vec<RecordedEvent>, usize)> {
    if events.is_empty() {
        return Ok((events, 0));
    }
    let mut positions: Vec<i64> = events.iter().map(|event| event.position).collect();
    positions.sort_unstable();
    positions.dedup();
    let logged: HashMap<i64, RecordedEvent> =
        store::read_positions(executor, &positions).await?.into_iter().map(|event| (event.position, event)).collect();
    let (mut ours, mut foreign) = (Vec::with_capacity(events.len()), Vec::new());
    let mut taken = std::collections::HashSet::new();
    for copy in events {
        match logged.get(&copy.position) {
            Some(row) if row.hash == copy.hash => {
                if taken.insert(row.position) {
                    ours.push(row.clone());
                }
            }
            _ => foreign.push(copy),
        }
    }
    if let Some(first) = foreign.first() {
        tracing::error!(
            position = first.position,
            count = foreign.len(),
            "skipping events this log does not have: the topic holds another history of the log (restored from a backup?) or forged ones"
        );
    }
    Ok((ours, foreign.len()))
}
