//! The projector: consumes the events topic and applies each event to the read models once in
//! effect, however often Kafka delivers it.
//!
//! For every stream the projection keeps the last version it applied, in the same transaction
//! as the read-model writes: an event at or below it is a duplicate and is skipped; an event
//! further ahead means Kafka lost something, and the missing events are read from the log.
//! The checkpoint is a watermark: the highest position at or below which every event of the log
//! is applied, whatever partition it came from. It is what read-your-writes waits for and what
//! subscriptions follow.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use events::RecordedEvent;
use platform::metrics::Metrics;
use platform::redis::Keys;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use redis::aio::ConnectionManager;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{catalog, workspaces};

#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub max_batch: usize,
}

/// How far past the watermark one advance looks.
const WATERMARK_WINDOW: i64 = 10_000;

pub struct Projector {
    pool: PgPool,
    redis: ConnectionManager,
    keys: Keys,
    /// Loaded once; Redis runs it by its hash afterwards.
    summary_script: redis::Script,
    metrics: Metrics,
    config: ProjectorConfig,
}

impl Projector {
    pub fn new(pool: PgPool, redis: ConnectionManager, keys: Keys, metrics: Metrics, config: ProjectorConfig) -> Self {
        let summary_script = redis::Script::new(workspaces::SUMMARY_SCRIPT);
        Projector { pool, redis, keys, summary_script, metrics, config }
    }

    /// Runs until an error; the caller restarts it with backoff.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let consumer: StreamConsumer = platform::kafka::consumer_config(&self.config.brokers, &self.config.group)
            .create()
            .context("creating the Kafka consumer")?;
        consumer.subscribe(&[&self.config.topic]).context("subscribing to the events topic")?;
        sqlx::query("insert into projection_checkpoints (name) values ($1) on conflict do nothing")
            .bind(catalog::NAME)
            .execute(&self.pool)
            .await?;
        tracing::info!(topic = %self.config.topic, group = %self.config.group, "projector consuming");
        let mut idle = tokio::time::interval(Duration::from_millis(250));
        loop {
            let first = tokio::select! {
                message = consumer.recv() => message?,
                _ = idle.tick() => {
                    // Nothing arrived: the watermark may still move (other processes' work).
                    let mut connection = self.pool.acquire().await?;
                    let position = advance_watermark(&mut connection, catalog::NAME).await?;
                    self.announce(position).await;
                    continue;
                }
            };
            let mut batch = Vec::with_capacity(self.config.max_batch);
            let mut offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
            take(&first, &mut batch, &mut offsets);
            let mut received = 1;
            let deadline = tokio::time::Instant::now() + Duration::from_millis(5);
            while received < self.config.max_batch {
                match tokio::time::timeout_at(deadline, consumer.recv()).await {
                    Ok(message) => take(&message?, &mut batch, &mut offsets),
                    Err(_) => break,
                }
                received += 1;
            }
            let position = self.apply(&batch).await?;
            self.announce(position).await;

            let mut partitions = TopicPartitionList::new();
            for ((topic, partition), offset) in offsets {
                partitions.add_partition_offset(&topic, partition, Offset::Offset(offset + 1))?;
            }
            if let Err(error) = consumer.commit(&partitions, CommitMode::Async) {
                tracing::debug!(%error, "committing Kafka offsets failed; redelivery is harmless");
            }
        }
    }

    /// Applies a batch in one transaction and returns the new watermark.
    async fn apply(&mut self, batch: &[RecordedEvent]) -> anyhow::Result<i64> {
        let mut transaction = self.pool.begin().await?;
        let touched = apply_events(&mut transaction, catalog::NAME, batch).await?;
        let position = advance_watermark(&mut transaction, catalog::NAME).await?;
        transaction.commit().await?;
        self.metrics.increment(
            "oxbow_projection_events_total",
            "Events delivered to a projection (duplicates included).",
            &[("projection", catalog::NAME)],
            batch.len() as u64,
        );
        self.refresh_summaries(&touched).await;
        Ok(position)
    }

    /// Rewrites the Redis summaries of the workspaces a batch touched. Redis holds nothing that
    /// cannot be rebuilt, so a failure here is logged, not fatal.
    async fn refresh_summaries(&mut self, workspaces: &[Uuid]) {
        for workspace_id in workspaces {
            let written =
                write_summary(&self.pool, &mut self.redis, &self.keys, &self.summary_script, *workspace_id).await;
            if let Err(error) = written {
                tracing::warn!(%error, %workspace_id, "could not refresh the workspace summary in Redis");
            }
        }
    }

    async fn announce(&mut self, position: i64) {
        self.metrics.set(
            "oxbow_projection_position",
            "Every event at or below this position is applied.",
            &[("projection", catalog::NAME)],
            position as f64,
        );
        let message = format!("{} {position}", catalog::NAME);
        let published: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(self.keys.progress_channel()).arg(message).query_async(&mut self.redis).await;
        if let Err(error) = published {
            tracing::warn!(%error, "could not announce projection progress on Redis");
        }
    }
}

/// Decodes a message into `batch` and notes its offset.
fn take(
    message: &rdkafka::message::BorrowedMessage<'_>,
    batch: &mut Vec<RecordedEvent>,
    offsets: &mut BTreeMap<(String, i32), i64>,
) {
    offsets.insert((message.topic().to_owned(), message.partition()), message.offset());
    let header = |name: &str| {
        message
            .headers()
            .and_then(|headers| headers.iter().find(|header| header.key == name).and_then(|header| header.value))
    };
    match platform::cloudevents::decode(header, message.payload()) {
        Ok(event) => batch.push(event),
        // A message that is not an Oxbow event is not ours to apply; the log is the truth, and
        // gap filling fetches any event a message should have carried.
        Err(error) => {
            tracing::warn!(%error, offset = message.offset(), "skipping a foreign message")
        }
    }
}

/// Applies each event that the projection has not applied yet, filling any gap from the log,
/// and records the streams' new versions. Returns the workspaces touched.
pub async fn apply_events(
    connection: &mut PgConnection,
    projection: &str,
    batch: &[RecordedEvent],
) -> anyhow::Result<Vec<Uuid>> {
    let mut streams: Vec<&str> = batch.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    // Lock the streams' rows in a fixed order, so projectors that overlap during a rebalance
    // take turns instead of interleaving or deadlocking.
    sqlx::query(
        "insert into projection_streams (projection, stream_id, version) \
         select $1, s, 0 from unnest($2::text[]) as s on conflict do nothing",
    )
    .bind(projection)
    .bind(&streams)
    .execute(&mut *connection)
    .await?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select stream_id, version from projection_streams where projection = $1 and stream_id = any($2) \
         order by stream_id for update",
    )
    .bind(projection)
    .bind(&streams)
    .fetch_all(&mut *connection)
    .await?;
    let mut versions: HashMap<String, i64> = rows.into_iter().collect();

    let mut touched = Vec::new();
    for event in batch {
        let known = versions.get(&event.stream_id).copied().unwrap_or(0);
        if event.stream_version <= known {
            continue;
        }
        let mut pending = Vec::new();
        if event.stream_version > known + 1 {
            let missing = store::read_stream(&mut *connection, &event.stream_id, known).await?;
            pending.extend(missing.into_iter().filter(|e| e.stream_version < event.stream_version));
            tracing::warn!(stream = %event.stream_id, known, next = event.stream_version, "filled a gap from the log");
        }
        pending.push(event.clone());
        for event in &pending {
            if let Some(workspace_id) = catalog::apply(connection, event).await?
                && !touched.contains(&workspace_id)
            {
                touched.push(workspace_id);
            }
        }
        versions.insert(event.stream_id.clone(), event.stream_version);
    }
    let (ids, new_versions): (Vec<String>, Vec<i64>) = versions.into_iter().unzip();
    sqlx::query(
        "update projection_streams p set version = v.version \
           from unnest($2::text[], $3::bigint[]) as v(stream_id, version) \
          where p.projection = $1 and p.stream_id = v.stream_id and p.version < v.version",
    )
    .bind(projection)
    .bind(&ids)
    .bind(&new_versions)
    .execute(&mut *connection)
    .await?;
    Ok(touched)
}

/// Moves the projection's watermark to just below the first event it has not applied.
pub async fn advance_watermark(connection: &mut PgConnection, projection: &str) -> sqlx::Result<i64> {
    let (position,): (i64,) = sqlx::query_as(
        "update projection_checkpoints c set position = greatest(c.position, coalesce(( \
             select min(e.position) - 1 from events e \
               left join projection_streams s on s.projection = c.name and s.stream_id = e.stream_id \
              where e.position > c.position and e.position <= c.position + $2 \
                and coalesce(s.version, 0) < e.stream_version), \
             least((select position from log_head), c.position + $2))), \
           updated_at = now(), last_error = null \
         where c.name = $1 returning c.position",
    )
    .bind(projection)
    .bind(WATERMARK_WINDOW)
    .fetch_one(connection)
    .await?;
    Ok(position)
}

async fn write_summary(
    pool: &PgPool,
    redis: &mut ConnectionManager,
    keys: &Keys,
    script: &redis::Script,
    workspace_id: Uuid,
) -> anyhow::Result<()> {
    let row: Option<(String, bool, i64, i64)> = sqlx::query_as(
        "select w.name, w.suspended, w.version, (select count(*) from rm_workspace_members m where m.workspace_id = w.id) \
           from rm_workspaces w where w.id = $1",
    )
    .bind(workspace_id)
    .fetch_optional(pool)
    .await?;
    let Some((name, suspended, version, members)) = row else {
        return Ok(());
    };
    let _: i64 = script
        .key(keys.key(&format!("workspace:{workspace_id}")))
        .arg(version)
        .arg(name)
        .arg(if suspended { 1 } else { 0 })
        .arg(members)
        .invoke_async(redis)
        .await?;
    Ok(())
}
