//! Appending to the log: the pure planning of a batch (`plan`), the group committer that owns
//! the append path of a process (`committer`), and its SQL (`sql`).

mod committer;
mod plan;
mod sql;

pub use committer::{BatchObserver, BatchWritten, CommitterConfig};
pub(crate) use committer::{CommitterHandle, spawn};
pub use plan::{
    AppendOutcome, AppendRequest, AppendedEvent, ExpectedVersion, IdempotencyClaim, IdempotencyRecord, StreamAppend,
};
pub(crate) use plan::{Found, plan};
pub use sql::{find_idempotency_key, used_idempotency_keys};
