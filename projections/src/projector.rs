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

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::Touched;
use crate::catalog;
use crate::distinct;
use crate::live::Live;
use events::RecordedEvent;
use platform::metrics::Metrics;
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};

/// Events per transaction.
const CHUNK: i64 = 10_000;
/// How long the projector waits for an append notification before it looks anyway.
const POLL: Duration = Duration::from_millis(250);
/// How often, at most, it checks that Redis still holds what it serves.
const REDIS_CHECK: Duration = Duration::from_secs(1);
/// How often it deletes the trace context every reader of the log has passed.
const PRUNE_TRACES: Duration = Duration::from_secs(30);

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
        let mut traces_pruned = Instant::now();
        loop {
            let progress = self.catch_up().await?;
            if traces_pruned.elapsed() >= PRUNE_TRACES {
                traces_pruned = Instant::now();
                if let Err(error) = store::traces::prune(&self.pool, progress.position).await {
                    tracing::warn!(%error, "could not prune trace context");
                }
            }
            if redis_checked.is_none_or(|at| at.elapsed() >= REDIS_CHECK) {
                redis_checked = Some(Instant::now());
                if let Err(error) = self.live.refill_if_lost(&self.pool).await {
                    tracing::warn!(%error, "could not fill Redis in");
                }
                if let Err(error) = self.report_parked().await {
                    tracing::warn!(%error, "could not count parked events");
                }
            }
            if progress.behind() > 0 {
                continue;
            }
            // Appends this pass applied already wake it too: wait on past them.
            while store::wait_for_appends(&mut listener, POLL).await.is_some_and(|head| head <= progress.position) {}
        }
    }

    /// Applies the log from the watermark to the head, a chunk per transaction. Redis is
    /// written for one chunk while the next is applied; a chunk's watermark is announced once
    /// Redis holds it.
    async fn catch_up(&mut self) -> anyhow::Result<Progress> {
        let mut unrefreshed: Option<(Vec<Touched>, Progress)> = None;
        let progress = loop {
            let pool = &self.pool;
            let started = std::time::Instant::now();
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
            let Chunk { touched, applied, progress, newest, spans } = match applied {
                Ok(applied) => applied,
                Err(error) => {
                    if let Err(recording) = record_failure(&self.pool, &error).await {
                        tracing::warn!(%recording, "could not record the projection's failure");
                    }
                    return Err(error);
                }
            };
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
            self.metrics.observe(
                "oxbow_projection_apply_seconds",
                "How long a chunk of the log took to apply (with the previous chunk's Redis refresh).",
                &[("projection", catalog::NAME)],
                platform::metrics::SECONDS,
                started.elapsed().as_secs_f64(),
            );
            if let Some(newest) = newest {
                let lag = (chrono::Utc::now() - newest).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
                self.metrics.observe(
                    "oxbow_projection_lag_seconds",
                    "From the append of a chunk's newest event to the chunk's commit in the read models.",
                    &[("projection", catalog::NAME)],
                    platform::metrics::SECONDS,
                    lag.max(0.0),
                );
            }
            // The traced events' spans end with the commit that made them visible.
            drop(spans);
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

    /// Parked events by consumer, and whether the projection is failing, on `/metrics`.
    async fn report_parked(&self) -> sqlx::Result<()> {
        let counts = store::parked::counts(&self.pool).await?;
        for consumer in [catalog::NAME, "relay", "sagas"] {
            let count = counts.iter().find(|(name, _)| name == consumer).map_or(0, |(_, count)| *count);
            self.metrics.set(
                "oxbow_parked_events",
                "Events a consumer of the log has parked: failed, or waiting behind a failed one.",
                &[("consumer", consumer)],
                count as f64,
            );
        }
        let failing: Option<(bool,)> =
            sqlx::query_as("select last_error is not null from projection_checkpoints where name = $1")
                .bind(catalog::NAME)
                .fetch_optional(&self.pool)
                .await?;
        self.metrics.set(
            "oxbow_projection_failing",
            "1 while the projection's last try failed (its error is in `oxbow projections status`).",
            &[("projection", catalog::NAME)],
            if failing.is_some_and(|(failing,)| failing) { 1.0 } else { 0.0 },
        );
        Ok(())
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

/// Events per transaction while the projector looks for an event it keeps failing on.
const ISOLATING_CHUNK: i64 = 500;

/// Applies up to `chunk` events of the log after the catalog's watermark, in order, and moves
/// the watermark past them, on `connection` (the caller's transaction, in which it holds the
/// projection's lock exclusively). Returns what Redis needs to hear of, how many events it
/// applied, and the watermark with the head.
///
/// Events of parked streams are parked behind their stream's failed event, and count as
/// handled for the watermark. Streams an operator asked to retry are applied first. After
/// [`store::parked::TRIES`] failures in a row, the chunk is applied in isolation: the event
/// that fails is found and parked, and the rest applied.
/// What applying a chunk did.
pub struct Chunk {
    /// What Redis needs to hear of.
    pub touched: Vec<Touched>,
    /// How many events were applied (or parked).
    pub applied: usize,
    pub progress: Progress,
    /// When the chunk's newest event was appended.
    pub newest: Option<chrono::DateTime<chrono::Utc>>,
    /// A span for each traced event, continuing its trace; they end when dropped.
    pub spans: Vec<tracing::Span>,
}

pub async fn apply_log_chunk(connection: &mut PgConnection, chunk: i64) -> anyhow::Result<Chunk> {
    crate::rebuild::hold_apply_lock(&mut *connection).await?;
    let (from, failures, any_parked): (i64, i32, bool) = sqlx::query_as(concat!(
        "select position, failures, ",
        store::any_parked_sql!("$1"),
        " from projection_checkpoints where name = $1"
    ))
    .bind(catalog::NAME)
    .fetch_optional(&mut *connection)
    .await?
    .unwrap_or((0, 0, false));
    let (mut touched, mut applied, mut parked) = (Vec::new(), 0, HashSet::new());
    if any_parked {
        (touched, applied) = retry_parked(&mut *connection).await?;
        parked = store::parked::streams(&mut *connection, catalog::NAME).await?;
    }
    let isolating = failures >= store::parked::TRIES;
    let chunk = if isolating { chunk.min(ISOLATING_CHUNK) } else { chunk };
    let events = store::read_all(&mut *connection, from, chunk).await?;
    let Some(last) = events.last().map(|event| event.position) else {
        let head = store::read_head(&mut *connection).await?.position;
        let progress = Progress { position: from, head };
        return Ok(Chunk { touched, applied, progress, newest: None, spans: Vec::new() });
    };
    applied += events.len();
    let newest = events.last().map(|event| event.recorded_at);
    let spans = if platform::telemetry::enabled() {
        let traces = store::traces::read(&mut *connection, from, last).await?;
        events
            .iter()
            .filter_map(|event| {
                let traceparent = traces.get(&event.position)?;
                let span =
                    tracing::info_span!("project", oxbow.projection = catalog::NAME, oxbow.position = event.position);
                platform::telemetry::continue_trace(&span, Some(traceparent));
                Some(span)
            })
            .collect()
    } else {
        Vec::new()
    };
    let ready = hold_back(&mut *connection, events, &parked).await?;
    if isolating {
        touched.extend(apply_isolating(&mut *connection, ready, &mut parked).await?);
    } else {
        touched.extend(catalog::apply_new(&mut *connection, &ready).await?);
    }
    let (head,): (i64,) = sqlx::query_as(concat!(
        "update projection_checkpoints set position = $2, updated_at = now(), last_error = null, failures = 0 \
          where name = $1 returning ",
        store::head_position_sql!()
    ))
    .bind(catalog::NAME)
    .bind(last)
    .fetch_one(&mut *connection)
    .await?;
    Ok(Chunk { touched: distinct(touched), applied, progress: Progress { position: last, head }, newest, spans })
}

/// Records that applying the chunk after the watermark failed, outside the failed
/// transaction: `projections status` shows the error, and enough failures in a row make the
/// next try look for the failing event.
pub async fn record_failure(pool: &PgPool, error: &anyhow::Error) -> sqlx::Result<()> {
    sqlx::query("update projection_checkpoints set failures = failures + 1, last_error = $2, updated_at = now() where name = $1")
        .bind(catalog::NAME)
        .bind(format!("{error:#}"))
        .execute(pool)
        .await?;
    Ok(())
}

/// Parks the events of parked streams behind their stream's failed event; returns the rest.
async fn hold_back(
    connection: &mut PgConnection,
    events: Vec<RecordedEvent>,
    parked: &HashSet<String>,
) -> sqlx::Result<Vec<RecordedEvent>> {
    if parked.is_empty() {
        return Ok(events);
    }
    let (held, ready): (Vec<RecordedEvent>, Vec<RecordedEvent>) =
        events.into_iter().partition(|event| parked.contains(&event.stream_id));
    for event in &held {
        store::parked::park(&mut *connection, catalog::NAME, event, None).await?;
    }
    Ok(ready)
}

/// Applies, in order, the parked events of every stream an operator asked to retry. A stream
/// whose events apply is released; one that fails again stays parked with the new error.
async fn retry_parked(connection: &mut PgConnection) -> anyhow::Result<(Vec<Touched>, usize)> {
    let (mut touched, mut applied) = (Vec::new(), 0);
    for (stream_id, positions) in store::parked::due_for_retry(&mut *connection, catalog::NAME).await? {
        let events = store::read_positions(&mut *connection, &positions).await?;
        match try_apply(&mut *connection, &events, Keep::OnSuccess).await? {
            Ok(changed) => {
                store::parked::release(&mut *connection, catalog::NAME, &positions).await?;
                tracing::info!(stream = %stream_id, events = events.len(), "parked events applied on retry");
                touched.extend(changed);
                applied += events.len();
            }
            Err(error) => {
                tracing::warn!(stream = %stream_id, %error, "parked events failed again");
                store::parked::failed_again(&mut *connection, catalog::NAME, positions[0], &error).await?;
            }
        }
    }
    Ok((touched, applied))
}

/// Applies `events`, finding and parking each event that fails (and its stream's later events)
/// so that the others are applied. Each failure is found by halving: a prefix of the events is
/// applied in a savepoint and rolled back, O(log n) times.
async fn apply_isolating(
    connection: &mut PgConnection,
    events: Vec<RecordedEvent>,
    parked: &mut HashSet<String>,
) -> anyhow::Result<Vec<Touched>> {
    let mut touched = Vec::new();
    let mut pending = events;
    loop {
        pending = hold_back(&mut *connection, pending, parked).await?;
        if pending.is_empty() {
            return Ok(touched);
        }
        let first_error = match try_apply(&mut *connection, &pending, Keep::OnSuccess).await? {
            Ok(changed) => {
                touched.extend(changed);
                return Ok(touched);
            }
            Err(error) => error,
        };
        // The shortest failing prefix ends with the event to park: prefix `good` applies,
        // prefix `bad` fails.
        let (mut good, mut bad, mut error) = (0, pending.len(), first_error);
        while bad - good > 1 {
            let middle = good + (bad - good) / 2;
            match try_apply(&mut *connection, &pending[..middle], Keep::Never).await? {
                Ok(_) => good = middle,
                Err(failed) => (bad, error) = (middle, failed),
            }
        }
        touched.extend(catalog::apply_new(&mut *connection, &pending[..good]).await?);
        let poison = &pending[good];
        tracing::error!(position = poison.position, stream = %poison.stream_id, %error, "parking an event the catalog cannot apply");
        store::parked::park(&mut *connection, catalog::NAME, poison, Some(&error)).await?;
        parked.insert(poison.stream_id.clone());
        pending = pending.split_off(good + 1);
    }
}

/// Whether a trial application is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    OnSuccess,
    Never,
}

/// Applies `events` in a savepoint. The outer `Err` is a failure of the connection itself,
/// which parks nothing; the inner one is the events' own error, rolled back.
async fn try_apply(
    connection: &mut PgConnection,
    events: &[RecordedEvent],
    keep: Keep,
) -> anyhow::Result<Result<Vec<Touched>, String>> {
    let mut savepoint = connection.begin().await?;
    let applied = catalog::apply_new(&mut savepoint, events).await;
    match applied {
        Ok(touched) if keep == Keep::OnSuccess => {
            savepoint.commit().await?;
            Ok(Ok(touched))
        }
        Ok(touched) => {
            savepoint.rollback().await?;
            Ok(Ok(touched))
        }
        Err(error) if is_connection_failure(&error) => Err(error),
        Err(error) => {
            savepoint.rollback().await?;
            Ok(Err(format!("{error:#}")))
        }
    }
}

/// A failure of the database connection rather than of the events: nothing to park for.
fn is_connection_failure(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            )
        )
    })
}
