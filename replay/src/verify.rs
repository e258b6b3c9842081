//! `oxbow log verify`: recomputes the hash chain and checks that positions are gap-free.

use events::{ChainHash, GENESIS_HASH};
use futures::TryStreamExt;
use sqlx::PgPool;

/// What a verification covers: positions `from..=to` (the whole log by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// A verified stretch of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("position {expected} is missing (the next event has position {found})")]
    Gap { expected: i64, found: i64 },
    #[error("position {position}: the stored hash does not match the event's content and chain")]
    HashMismatch { position: i64 },
    #[error("the log head says position {head_position}, but the last event is at {last_position}")]
    HeadPosition { head_position: i64, last_position: i64 },
    #[error("position {position}: the log head's hash does not match the last event's")]
    HeadHash { position: i64 },
}

impl Broken {
    /// The first position at which the log is wrong.
    pub fn position(&self) -> i64 {
        match self {
            Broken::Gap { expected, .. } => *expected,
            Broken::HashMismatch { position } | Broken::HeadHash { position } => *position,
            Broken::HeadPosition { head_position, last_position } => (*head_position).min(*last_position + 1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Broken(#[from] Broken),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks `range` of the log, calling `progress` with the last position checked now and then.
pub async fn verify(pool: &PgPool, range: Range, mut progress: impl FnMut(i64)) -> Result<Verified, Error> {
    // The head and the last event as of one snapshot: an append moves both in one statement,
    // so they agree unless the log is broken, however busy it is. Later appends are not
    // this verification's business.
    let store::HeadBesideLast { position: head_position, hash, last_logged } =
        store::read_head_beside_last(pool).await?;
    if last_logged.unwrap_or(0) != head_position {
        let last_position = last_logged.unwrap_or(0);
        return Err(Broken::HeadPosition { head_position, last_position }.into());
    }
    let head = store::Head { position: head_position, hash: hash.ok_or(Broken::HeadHash { position: head_position })? };
    let from = range.from.unwrap_or(1).max(1);
    let to = range.to.unwrap_or(head.position).min(head.position);
    let mut previous_hash = if from == 1 { GENESIS_HASH } else { hash_at(pool, from - 1).await? };
    let mut expected = from;
    let mut scratch = Vec::with_capacity(2048);
    let mut rows = store::stream_range(pool, from, to);
    while let Some(event) = rows.try_next().await? {
        if event.position != expected {
            return Err(Broken::Gap { expected, found: event.position }.into());
        }
        if !events::hash_matches(&event, &previous_hash, &mut scratch) {
            return Err(Broken::HashMismatch { position: event.position }.into());
        }
        previous_hash = event.hash;
        expected += 1;
        if event.position % 65_536 == 0 {
            progress(event.position);
        }
    }
    drop(rows);
    let last = expected - 1;
    if last < to {
        return Err(Broken::Gap { expected, found: to + 1 }.into());
    }
    if to == head.position && last >= from && previous_hash != head.hash {
        return Err(Broken::HeadHash { position: last }.into());
    }
    progress(last);
    let events = (last - from + 1).max(0) as u64;
    Ok(Verified { events, first: (events > 0).then_some(from), last: (events > 0).then_some(last) })
}

async fn hash_at(pool: &PgPool, position: i64) -> Result<ChainHash, Error> {
    match store::hashes_at(pool, &[position]).await?.remove(&position) {
        Some(hash) => Ok(hash),
        None => Err(Broken::Gap { expected: position, found: position + 1 }.into()),
    }
}
