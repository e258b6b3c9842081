//! The projector: consumes the events topic and applies each event to the read models once in
//! effect, however often Kafka delivers it (see [`crate::consumer`]).
//!
//! The checkpoint is a watermark: the highest position at or below which every event of the log
//! is applied, whatever partition it came from. It is what read-your-writes waits for and what
//! subscriptions follow.

use std::time::Duration;

use crate::catalog;
use crate::live::Live;
use events::RecordedEvent;
use platform::consumer::EventConsumer;
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
}

/// How far past the watermark one advance looks.
const WATERMARK_WINDOW: i64 = 10_000;

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
        loop {
            let Some(batch) = consumer.next_batch(Duration::from_millis(250)).await? else {
                // Nothing arrived: the watermark may still move (other processes' work), and
                // Redis may have lost what it serves.
                if let Err(error) = self.live.refill_if_lost(&self.pool).await {
                    tracing::warn!(%error, "could not fill Redis in");
                }
                let mut connection = self.pool.acquire().await?;
                let position = advance_watermark(&mut connection, catalog::NAME).await?;
                self.announce(position).await;
                continue;
            };
            let position = self.apply(&batch.events).await?;
            self.announce(position).await;
            consumer.commit(&batch);
        }
    }

    /// Applies a batch in one transaction and returns the new watermark.
    async fn apply(&mut self, batch: &[RecordedEvent]) -> anyhow::Result<i64> {
        let mut transaction = self.pool.begin().await?;
        crate::rebuild::hold_apply_lock(&mut transaction).await?;
        let touched = catalog::apply_batch(&mut transaction, catalog::NAME, batch).await?;
        let position = advance_watermark(&mut transaction, catalog::NAME).await?;
        transaction.commit().await?;
        self.metrics.increment(
            "oxbow_projection_events_total",
            "Events delivered to a projection (duplicates included).",
            &[("projection", catalog::NAME)],
            batch.len() as u64,
        );
        self.live.refresh(&self.pool, &touched).await;
        Ok(position)
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
