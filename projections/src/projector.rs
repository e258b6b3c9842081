//! The projector: follows the log in PostgreSQL and applies it to the read models in order, a
//! chunk per transaction, the way a rebuild does.
//!
//! The checkpoint is a watermark: every event at or below it is applied. It is what
//! read-your-writes waits for and what subscriptions follow. Reading the log in position order
//! (positions are gap-free and commit-ordered) makes that exact without per-stream bookkeeping:
//! a chunk's effects and the watermark's move commit together, so nothing is applied twice or
//! skipped, whatever crashes.
//!
//! The projector wakes on the append notification, and looks again every [`POLL`] in case one
//! was lost. Kafka is not on its path: the log is in the same database as the read models, so
//! reading it costs less than decoding it from a broker, and a broker or relay that is down or
//! rebalancing delays no read. Several projector processes may run: each chunk holds the
//! projection's lock exclusively, so they take turns and the others find nothing left to do.

use std::time::{Duration, Instant};

use crate::Touched;
use crate::catalog;
use crate::live::Live;
use platform::metrics::Metrics;
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};

/// Events per transaction.
const CHUNK: i64 = 10_000;
/// How long the projector waits for an append notification before it looks anyway.
const POLL: Duration = Duration::from_millis(250);
/// How often, at most, it checks that Redis still holds what it serves.
const REDIS_CHECK: Duration = Duration::from_secs(1);

pub struct Projector {
    pool: PgPool,
    redis: ConnectionManager,
    keys: Keys,
    live: Live,
    metrics: Metrics,
}

impl Projector {
    pub fn new(pool: PgPool, redis: ConnectionManager, keys: Keys, metrics: Metrics) -> Self {
        let live = Live::new(redis.clone(), keys.clone());
        Projector { pool, redis, keys, live, metrics }
    }

    /// Runs until an error; the caller restarts it with backoff.
    pub async fn run(mut self) -> anyhow::Result<()> {
        sqlx::query("insert into projection_checkpoints (name) values ($1) on conflict do nothing")
            .bind(catalog::NAME)
            .execute(&self.pool)
            .await?;
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(store::APPEND_CHANNEL).await?;
        tracing::info!("projector following the log");
        let mut redis_checked: Option<Instant> = None;
        loop {
            let progress = self.catch_up().await?;
            if redis_checked.is_none_or(|at| at.elapsed() >= REDIS_CHECK) {
                redis_checked = Some(Instant::now());
                if let Err(error) = self.live.refill_if_lost(&self.pool).await {
                    tracing::warn!(%error, "could not fill Redis in");
                }
            }
            if progress.behind() > 0 {
                continue;
            }
            let _ = tokio::time::timeout(POLL, listener.try_recv()).await;
            while listener.next_buffered().is_some() {}
        }
    }

    /// Applies the log from the watermark to the head, a chunk per transaction. Redis is
    /// written for one chunk while the next is applied; a chunk's watermark is announced once
    /// Redis holds it.
    async fn catch_up(&mut self) -> anyhow::Result<Progress> {
        let mut unrefreshed: Option<(Vec<Touched>, Progress)> = None;
        let progress = loop {
            let pool = &self.pool;
            let apply = async {
                let mut transaction = pool.begin().await?;
                let applied = apply_log_chunk(&mut transaction, CHUNK).await?;
                transaction.commit().await?;
                anyhow::Ok(applied)
            };
            let refresh = async {
                if let Some((touched, _)) = &unrefreshed {
                    self.live.refresh(pool, touched).await;
                }
            };
            let (applied, ()) = tokio::join!(apply, refresh);
            let (touched, applied, progress) = applied?;
            if let Some((_, refreshed)) = unrefreshed.take() {
                self.announce(refreshed.position).await;
            }
            if applied == 0 {
                break progress;
            }
            self.metrics.increment(
                "oxbow_projection_events_total",
                "Events applied to a projection.",
                &[("projection", catalog::NAME)],
                applied as u64,
            );
            unrefreshed = Some((touched, progress));
            if progress.behind() == 0 {
                break progress;
            }
        };
        if let Some((touched, refreshed)) = unrefreshed {
            self.live.refresh(&self.pool, &touched).await;
            self.announce(refreshed.position).await;
        }
        Ok(progress)
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
    /// Events logged and not yet applied.
    pub fn behind(&self) -> i64 {
        self.head - self.position
    }
}

/// Applies up to `chunk` events of the log after the catalog's watermark, in order, and moves
/// the watermark past them, on `connection` (the caller's transaction, in which it holds the
/// projection's lock exclusively). Returns what Redis needs to hear of, how many events it
/// applied, and the watermark with the head.
pub async fn apply_log_chunk(
    connection: &mut PgConnection,
    chunk: i64,
) -> anyhow::Result<(Vec<Touched>, usize, Progress)> {
    crate::rebuild::hold_apply_lock(&mut *connection).await?;
    let from = crate::status::position(&mut *connection, catalog::NAME).await?;
    let events = store::read_all(&mut *connection, from, chunk).await?;
    let Some(last) = events.last().map(|event| event.position) else {
        let (head,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&mut *connection).await?;
        return Ok((Vec::new(), 0, Progress { position: from, head }));
    };
    let touched = catalog::apply_new(&mut *connection, &events).await?;
    let (head,): (i64,) = sqlx::query_as(
        "update projection_checkpoints set position = $2, updated_at = now(), last_error = null \
          where name = $1 returning (select position from log_head)",
    )
    .bind(catalog::NAME)
    .bind(last)
    .fetch_one(&mut *connection)
    .await?;
    Ok((touched, events.len(), Progress { position: last, head }))
}
