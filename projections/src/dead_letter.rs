//! An operator's hands on a dead letter (the catalog projection's, or the relay's): apply a
//! parked stream again (after a fix), or give up its failed event, which is recorded in the
//! log. The consumer does the applying, in order (the projector under the projection's lock);
//! these only ask and then watch.

use std::time::Duration;

use anyhow::Context;
use events::operations::{OperationsEvent, ParkedEventSkipped};
use events::{Metadata, NewEvent};
use sqlx::PgPool;
use store::parked::Parked;
use store::{AppendRequest, EventStore, ExpectedVersion};
use uuid::Uuid;

use crate::catalog;

/// How a retry went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The stream's parked events are applied, and the stream flows again.
    Applied,
    /// The first of them failed again; the stream stays parked.
    FailedAgain(String),
    /// The consumer did not take it up in time; a running one will at its next batch.
    Pending,
}

/// What an operator asked that cannot be done: the same answer to the same question, so the
/// HTTP endpoint tells it apart from a failure of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownConsumer(String),
    NotParked {
        consumer: String,
        position: i64,
    },
    /// The event waits behind the failed one at `first` (a position, or "an earlier event").
    NotFailed {
        position: i64,
        first: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::UnknownConsumer(consumer) => {
                write!(f, "there is no consumer named {consumer:?} (known: {})", CONSUMERS.join(", "))
            }
            Refusal::NotParked { consumer, position } => {
                write!(f, "{consumer} has no event parked at position {position} (see `oxbow projections status`)")
            }
            Refusal::NotFailed { position, first } => write!(
                f,
                "the event at position {position} did not fail: it waits behind {first} of its stream; skip that one"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The consumers with a dead letter of events: the catalog projection, the relay, and the
/// sagas (events they cannot read; their work has a dead letter of its own, `saga_work`).
pub const CONSUMERS: [&str; 3] = [catalog::NAME, "relay", "sagas"];

/// Every event `consumer` parked.
async fn parked_by(pool: &PgPool, consumer: &str) -> anyhow::Result<Vec<Parked>> {
    if !CONSUMERS.contains(&consumer) {
        return Err(Refusal::UnknownConsumer(consumer.to_owned()).into());
    }
    Ok(store::parked::list(pool, Some(consumer)).await?)
}

/// The event of `parked` (what `consumer` parked) at `position`.
fn parked_at(parked: &[Parked], consumer: &str, position: i64) -> anyhow::Result<Parked> {
    let found = parked.iter().find(|parked| parked.position == position).cloned();
    found.ok_or_else(|| Refusal::NotParked { consumer: consumer.to_owned(), position }.into())
}

/// Asks `consumer` to apply the stream of the event parked at `position` again, from its
/// first parked event. Returns the stream.
pub async fn retry(pool: &PgPool, consumer: &str, position: i64) -> anyhow::Result<String> {
    let parked = parked_at(&parked_by(pool, consumer).await?, consumer, position)?;
    store::parked::request_retry(pool, consumer, &parked.stream_id).await?;
    wake_consumers(pool).await?;
    Ok(parked.stream_id)
}

/// Gives up the failed event parked at `position`: records the decision in the log as
/// `ParkedEventSkipped` by `actor`, and lets the events that waited behind it flow on.
pub async fn skip(pool: &PgPool, consumer: &str, position: i64, reason: &str, actor: &str) -> anyhow::Result<String> {
    let all = parked_by(pool, consumer).await?;
    let parked = parked_at(&all, consumer, position)?;
    let Some(error) = parked.error.clone() else {
        let first = all
            .iter()
            .find(|other| other.stream_id == parked.stream_id && other.error.is_some())
            .map_or_else(|| "an earlier event".to_owned(), |first| format!("position {}", first.position));
        return Err(Refusal::NotFailed { position, first }.into());
    };
    // The log first: a skip that is not recorded must not happen; one recorded twice (a rerun
    // after a crash in between) is harmless.
    let decision = OperationsEvent::from(ParkedEventSkipped {
        consumer: consumer.to_owned(),
        position,
        stream_id: parked.stream_id.clone(),
        event_type: parked.event_type.clone(),
        error: Some(error),
        reason: reason.to_owned(),
    });
    let metadata = Metadata {
        actor: actor.to_owned(),
        workspace_id: None,
        correlation_id: Uuid::now_v7(),
        causation_id: Uuid::now_v7(),
    };
    let store = EventStore::new(pool.clone(), store::CommitterConfig::default());
    store
        .append(AppendRequest::to_stream(
            events::operations::stream_id(),
            ExpectedVersion::Any,
            vec![NewEvent::from_domain(Uuid::now_v7(), &decision, &metadata)],
        ))
        .await
        .context("recording the decision in the log")?;
    let mut transaction = pool.begin().await?;
    crate::rebuild::hold_apply_lock(&mut transaction).await?;
    store::parked::release(&mut *transaction, consumer, &[position]).await?;
    store::parked::request_retry(&mut *transaction, consumer, &parked.stream_id).await?;
    transaction.commit().await?;
    wake_consumers(pool).await?;
    Ok(parked.stream_id)
}

/// Watches `stream_id`'s parked events until `consumer` has applied them or failed on them
/// again, for at most `patience`.
pub async fn settled(pool: &PgPool, consumer: &str, stream_id: &str, patience: Duration) -> anyhow::Result<Settled> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let parked: Vec<Parked> = store::parked::list(pool, Some(consumer))
            .await?
            .into_iter()
            .filter(|parked| parked.stream_id == stream_id)
            .collect();
        if parked.is_empty() {
            return Ok(Settled::Applied);
        }
        if parked.iter().all(|parked| !parked.retry_requested) {
            let error = parked.iter().find_map(|parked| parked.error.clone()).unwrap_or_default();
            return Ok(Settled::FailedAgain(error));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Settled::Pending);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The projector and the relay wake on the append notification.
async fn wake_consumers(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("select pg_notify($1, '')").bind(store::APPEND_CHANNEL).execute(pool).await?;
    Ok(())
}
