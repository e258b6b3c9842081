//! The projector: consumes the events topic and applies each event to the read models once in
//! effect, however often Kafka delivers it (see `platform::consumer`).
//!
//! The checkpoint is a watermark: the highest position at or below which every event of the log
//! is applied, whatever partition it came from. It is what read-your-writes waits for and what
//! subscriptions follow.
//!
//! Kafka is how the projector hears of new events, not what bounds its speed: when it finds
//! itself more than `catch_up_lag` events behind the log's head (a cold start, a backlog, a
//! burst beyond what per-batch bookkeeping keeps up with), or behind at all while Kafka brings
//! nothing (a rebalance, a broker or relay that is down), it reads the log itself, in order, a
//! chunk per transaction, the way a rebuild does, and moves the watermark with each chunk.
//! Reading in order needs no per-stream bookkeeping; the exclusive hold on the projection's
//! lock keeps any other projector of the group from applying in between.

use std::collections::HashMap;
use std::time::Duration;

use crate::Touched;
use crate::catalog;
use crate::live::Live;
use events::RecordedEvent;
use platform::consumer::{Batch, EventConsumer, distinct};
use platform::metrics::Metrics;
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::{PgConnection, PgPool};

#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub max_batch: usize,
    /// Events behind the log's head past which the projector reads the log itself.
    pub catch_up_lag: i64,
}

/// How far past the watermark one advance looks.
const WATERMARK_WINDOW: i64 = 10_000;
/// Events per transaction while reading the log.
const CATCH_UP_CHUNK: i64 = 10_000;
/// Events Kafka delivers during a catch-up that are kept for afterwards (those the log has
/// not given yet); past this, the consumer is left to wait.
const HELD_EVENTS: usize = 20_000;

pub struct Projector {
    pool: PgPool,
    redis: ConnectionManager,
    keys: Keys,
    live: Live,
    metrics: Metrics,
    config: ProjectorConfig,
}

impl Projector {
    pub fn new(pool: PgPool, redis: ConnectionManager, keys: Keys, metrics: Metrics, config: ProjectorConfig) -> Self {
        let live = Live::new(redis.clone(), keys.clone());
        Projector { pool, redis, keys, live, metrics, config }
    }

    /// Runs until an error; the caller restarts it with backoff.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let consumer = EventConsumer::subscribe(
            &self.config.brokers,
            &self.config.group,
            &self.config.topic,
            self.config.max_batch,
        )?;
        sqlx::query("insert into projection_checkpoints (name) values ($1) on conflict do nothing")
            .bind(catalog::NAME)
            .execute(&self.pool)
            .await?;
        tracing::info!(topic = %self.config.topic, group = %self.config.group, "projector consuming");
        let mut progress = progress(&self.pool, catalog::NAME).await?;
        loop {
            if progress.behind() > self.config.catch_up_lag {
                progress = self.catch_up(&consumer, progress).await?;
                continue;
            }
            let Some(batch) = consumer.next_batch(Duration::from_millis(250)).await? else {
                // Nothing arrived: the watermark may still move (other processes' work), and
                // Redis may have lost what it serves.
                if let Err(error) = self.live.refill_if_lost(&self.pool).await {
                    tracing::warn!(%error, "could not fill Redis in");
                }
                let mut connection = self.pool.acquire().await?;
                progress = advance_watermark(&mut connection, catalog::NAME).await?;
                drop(connection);
                // The log moved on and Kafka brought nothing (a rebalance, a broker or relay
                // that is down or behind): the log itself has it.
                if progress.behind() > 0 {
                    progress = self.catch_up(&consumer, progress).await?;
                }
                self.announce(progress.position).await;
                continue;
            };
            progress = self.apply(&batch.events, progress).await?;
            self.announce(progress.position).await;
            consumer.commit(&batch);
        }
    }

    /// Applies a batch from Kafka in one transaction and returns the new watermark. `seen` is
    /// a watermark seen before: events at or below it need no transaction.
    async fn apply(&mut self, batch: &[RecordedEvent], seen: Progress) -> anyhow::Result<Progress> {
        self.count(batch.len());
        if batch.iter().all(|event| event.position <= seen.position) {
            return Ok(seen);
        }
        let mut transaction = self.pool.begin().await?;
        crate::rebuild::hold_apply_lock(&mut transaction).await?;
        // Read under the lock, so that no catch-up moves it before this transaction ends.
        let applied_through = crate::status::position(&mut *transaction, catalog::NAME).await?;
        let touched = catalog::apply_batch(&mut transaction, catalog::NAME, applied_through, batch).await?;
        let progress = advance_watermark(&mut transaction, catalog::NAME).await?;
        transaction.commit().await?;
        self.live.refresh(&self.pool, &touched).await;
        Ok(progress)
    }

    /// Reads the log in order from the watermark until it is near the head. Redis is written
    /// for one chunk while the next is applied; a chunk's watermark is announced once Redis
    /// holds it. What Kafka delivers meanwhile is drained, so that the consumer stays in its
    /// group: what the log has already given is dropped undecoded, the rest applied afterwards.
    async fn catch_up(&mut self, consumer: &EventConsumer, mut progress: Progress) -> anyhow::Result<Progress> {
        if progress.behind() > self.config.catch_up_lag {
            tracing::info!(behind = progress.behind(), "reading the log to catch up");
        }
        let mut held: Vec<Batch> = Vec::new();
        let mut unrefreshed: Option<(Vec<Touched>, Progress)> = None;
        loop {
            let pool = &self.pool;
            let apply = async {
                let mut transaction = pool.begin().await?;
                let applied = apply_log_chunk(&mut transaction, CATCH_UP_CHUNK).await?;
                transaction.commit().await?;
                anyhow::Ok(applied)
            };
            let refresh = async {
                if let Some((touched, _)) = &unrefreshed {
                    self.live.refresh(pool, touched).await;
                }
            };
            let started = std::time::Instant::now();
            let (applied, ()) = tokio::join!(apply, refresh);
            let (touched, read) = applied?;
            tracing::debug!(position = read.position, head = read.head, elapsed = ?started.elapsed(), "read a chunk of the log");
            if let Some((_, refreshed)) = unrefreshed.replace((touched, read)) {
                self.announce(refreshed.position).await;
            }
            self.metrics.increment(
                "oxbow_projection_log_reads_total",
                "Events a projection read from the log itself to catch up.",
                &[("projection", catalog::NAME)],
                (read.position - progress.position).max(0) as u64,
            );
            progress = read;
            let mut waiting = 0;
            for batch in &mut held {
                batch.events.retain(|event| event.position > progress.position);
                waiting += batch.events.len();
            }
            while waiting < HELD_EVENTS {
                let Some(batch) = consumer.next_batch_after(Duration::ZERO, progress.position).await? else {
                    break;
                };
                self.count(batch.events.len());
                waiting += batch.events.len();
                held.push(batch);
            }
            if progress.behind() <= self.config.catch_up_lag / 2 {
                break;
            }
        }
        if let Some((touched, refreshed)) = unrefreshed {
            self.live.refresh(&self.pool, &touched).await;
            self.announce(refreshed.position).await;
        }
        for batch in held {
            progress = self.apply(&batch.events, progress).await?;
            self.announce(progress.position).await;
            consumer.commit(&batch);
        }
        Ok(progress)
    }

    fn count(&self, events: usize) {
        self.metrics.increment(
            "oxbow_projection_events_total",
            "Events delivered to a projection (duplicates included).",
            &[("projection", catalog::NAME)],
            events as u64,
        );
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

/// A projection's watermark, and the log's head when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub position: i64,
    pub head: i64,
}

impl Progress {
    /// Events logged and not yet known to be applied.
    pub fn behind(&self) -> i64 {
        self.head - self.position
    }
}

/// Where `projection`'s watermark is, and the log's head.
pub async fn progress(pool: &PgPool, projection: &str) -> sqlx::Result<Progress> {
    let (position, head): (i64, i64) = sqlx::query_as(
        "select coalesce((select position from projection_checkpoints where name = $1), 0), \
                (select position from log_head)",
    )
    .bind(projection)
    .fetch_one(pool)
    .await?;
    Ok(Progress { position, head })
}

/// Applies up to `chunk` events of the log after the catalog's watermark, in order, and moves
/// the watermark past them, on `connection` (the caller's transaction, which it holds the
/// projection's lock in exclusively). Events the Kafka path applied beyond the watermark are
/// known by their streams' versions and skipped. Returns what Redis needs to hear of.
pub async fn apply_log_chunk(connection: &mut PgConnection, chunk: i64) -> anyhow::Result<(Vec<Touched>, Progress)> {
    crate::rebuild::hold_apply_lock_exclusively(&mut *connection).await?;
    let from = crate::status::position(&mut *connection, catalog::NAME).await?;
    let events = store::read_all(&mut *connection, from, chunk).await?;
    let Some(last) = events.last().map(|event| event.position) else {
        let (head,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&mut *connection).await?;
        return Ok((Vec::new(), Progress { position: from, head }));
    };
    let streams = distinct(events.iter().map(|event| event.stream_id.clone()).collect());
    let known: HashMap<String, i64> = sqlx::query_as(
        "select stream_id, version from projection_streams where projection = $1 and stream_id = any($2)",
    )
    .bind(catalog::NAME)
    .bind(&streams)
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .collect();
    let new: Vec<RecordedEvent> = events
        .into_iter()
        .filter(|event| event.stream_version > known.get(&event.stream_id).copied().unwrap_or(0))
        .collect();
    let touched = catalog::apply_new(&mut *connection, &new).await?;
    let (head,): (i64,) = sqlx::query_as(
        "update projection_checkpoints set position = $2, updated_at = now(), last_error = null \
          where name = $1 returning (select position from log_head)",
    )
    .bind(catalog::NAME)
    .bind(last)
    .fetch_one(&mut *connection)
    .await?;
    Ok((touched, Progress { position: last, head }))
}

/// Moves the projection's watermark to just below the first event it has not applied. Events
/// at or below the watermark are applied; above it, an event is applied when its stream's
/// recorded version has reached it. The scan walks forward in log order and stops at the first
/// event that is not, so it costs what the watermark moves, not the window.
pub async fn advance_watermark(connection: &mut PgConnection, projection: &str) -> sqlx::Result<Progress> {
    let (position, head): (i64, i64) = sqlx::query_as(
        "with first_missing as ( \
             select e.position from projection_checkpoints c \
               join events e on e.position > c.position and e.position <= c.position + $2 \
               left join projection_streams s on s.projection = c.name and s.stream_id = e.stream_id \
              where c.name = $1 and coalesce(s.version, 0) < e.stream_version \
              order by e.position limit 1) \
         update projection_checkpoints c set position = greatest(c.position, coalesce( \
             (select position - 1 from first_missing), \
             least((select position from log_head), c.position + $2))), \
           updated_at = now(), last_error = null \
         where c.name = $1 returning c.position, (select position from log_head)",
    )
    .bind(projection)
    .bind(WATERMARK_WINDOW)
    .fetch_one(connection)
    .await?;
    Ok(Progress { position, head })
}
