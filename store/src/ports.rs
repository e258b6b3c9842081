//! The log as the command path sees it, behind two traits: [`EventLog`] (reads, the append,
//! idempotency keys and snapshots) and [`KeyStore`] (sealing and revealing personal data).
//! [`crate::EventStore`] is PostgreSQL behind both; [`crate::memory::MemoryLog`] is a small
//! in-memory log that plans its appends with the same rules, for unit tests of what stands on
//! the log.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use events::{NewEvent, RecordedEvent};

use crate::{AppendError, AppendOutcome, AppendRequest, IdempotencyRecord, Result, Snapshot};

/// Streams by id, each with its events in order.
pub type StreamEvents = HashMap<String, Vec<RecordedEvent>>;

/// The event log a command service decides and appends on.
pub trait EventLog: Clone + Send + Sync + 'static {
    /// Appends one command's events; returns once they are committed, or why not.
    fn append(&self, request: AppendRequest) -> impl Future<Output = Result<AppendOutcome, AppendError>> + Send;

    /// Each stream's events after its version, and the head as of the same snapshot, in one
    /// round trip: see [`crate::load_streams`].
    fn load_streams(&self, streams: &[(&str, i64)]) -> impl Future<Output = Result<(StreamEvents, i64)>> + Send;

    /// A stream's events after `after_version`, in order.
    fn read_stream(
        &self,
        stream_id: &str,
        after_version: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// The events at positions `first..=last`.
    fn read_range(&self, first: i64, last: i64) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// What `key` of `scope` answered the first time, if it was used.
    fn find_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send;

    /// Which of `keys` were used in `scope`.
    fn used_idempotency_keys(&self, scope: &str, keys: &[&str])
    -> impl Future<Output = Result<HashSet<String>>> + Send;

    /// The stream's snapshot taken with `state_version`, if there is one.
    fn load_snapshot(
        &self,
        stream_id: &str,
        state_version: i32,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send;

    /// Keeps `snapshot` unless a later one of the same state version is kept already.
    fn save_snapshot(
        &self,
        stream_id: &str,
        state_version: i32,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Where people's keys are: personal fields are sealed before they are appended and revealed
/// for whoever shows them (see [`crate::personal`]).
pub trait KeyStore: Clone + Send + Sync + 'static {
    /// Seals every personal field of `events` under its subject's key, making keys as needed,
    /// and every secret field under a key of its own (see [`crate::secrets`]).
    fn seal(&self, events: &mut [NewEvent]) -> impl Future<Output = Result<()>> + Send;

    /// Replaces each sealed string with its plain text, or with [`crate::personal::ERASED`];
    /// other strings are left as they are.
    fn reveal_texts(&self, texts: Vec<&mut String>) -> impl Future<Output = Result<()>> + Send;

    /// Reveals every sealed personal field of `events`.
    fn reveal(&self, events: &mut [RecordedEvent]) -> impl Future<Output = Result<()>> + Send {
        self.reveal_texts(crate::personal::sealed_texts(events))
    }
}

impl EventLog for crate::EventStore {
    fn append(&self, request: AppendRequest) -> impl Future<Output = Result<AppendOutcome, AppendError>> + Send {
        self.committer.append(request)
    }

    fn load_streams(&self, streams: &[(&str, i64)]) -> impl Future<Output = Result<(StreamEvents, i64)>> + Send {
        crate::load_streams(&self.pool, streams)
    }

    fn read_stream(
        &self,
        stream_id: &str,
        after_version: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send {
        crate::read_stream(&self.pool, stream_id, after_version)
    }

    fn read_range(&self, first: i64, last: i64) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send {
        crate::read_range(&self.pool, first, last)
    }

    fn find_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send {
        crate::find_idempotency_key(&self.pool, scope, key)
    }

    fn used_idempotency_keys(
        &self,
        scope: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<HashSet<String>>> + Send {
        crate::used_idempotency_keys(&self.pool, scope, keys)
    }

    fn load_snapshot(
        &self,
        stream_id: &str,
        state_version: i32,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send {
        crate::load_snapshot(&self.pool, stream_id, state_version)
    }

    fn save_snapshot(
        &self,
        stream_id: &str,
        state_version: i32,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<()>> + Send {
        crate::save_snapshot(&self.pool, stream_id, state_version, snapshot)
    }
}

impl KeyStore for crate::EventStore {
    async fn seal(&self, events: &mut [NewEvent]) -> Result<()> {
        crate::personal::seal(&self.pool, events).await?;
        crate::secrets::seal(&self.pool, events).await
    }

    fn reveal_texts(&self, texts: Vec<&mut String>) -> impl Future<Output = Result<()>> + Send {
        crate::personal::reveal_texts(&self.pool, texts)
    }
}
