//! What every resolver shares: the read models' pool, Redis, the watermark and the activity feed.

use std::time::Duration;

use platform::auth::Operators;
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::activity::ActivityFeed;
use crate::progress::Progress;

/// What resolvers share.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub keys: Keys,
    pub progress: Progress,
    pub activity: ActivityFeed,
    pub min_position_timeout: Duration,
    /// Who sees operators' details (the dead letter).
    pub operators: Operators,
    /// The largest answer one request may build.
    pub max_response_bytes: usize,
    /// Where operations are counted, by name (see `operations`).
    pub metrics: platform::metrics::Metrics,
}
