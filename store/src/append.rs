//! Group commit: many commands appended in one statement, each acknowledged after its commit.
//!
//! One committer task per process owns the append path. It takes whatever requests are waiting,
//! checks each against its stream's current version, hands out positions and chains hashes from
//! the head it remembers, then writes the whole batch in one autocommit statement. That
//! statement moves `log_head` with a compare-and-set on its position and hash: if anything else
//! appended in between, nothing is written and the batch is redone inside a transaction that
//! holds the head's row lock. So the common case takes one statement per batch, the only lock
//! is the head row's, held for that statement, and a conflict fails its own command alone.
//!
//! Why the checks may be made without the lock: the write succeeds only if the head is where
//! this committer left it, and every append moves the head, so a successful write proves that
//! nothing was appended since. Between its own writes the committer therefore knows the
//! version of every stream it appended to (`Known`), and a caller that read a stream after the
//! committer last took over the head (`observed_head`) saw its current version; only the rest
//! is read from the database. Streams assumed new, event ids and idempotency keys are guarded by
//! unique indexes: a violation sends the batch down the locked path, which reads everything.
//!
//! Writes may be pipelined (`pipeline_depth` > 1): while one batch's statement waits for its
//! commit, the next is planned on top of it and sent; its compare-and-set waits on the head's
//! row lock and succeeds only if the batch before it committed. Answers are released in batch
//! order. The default is 1: the head's lock is held through each commit, so overlapping writes
//! only wait, and on this hardware the smaller batches they make lowered throughput.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use events::NewEvent;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::AppendError;
use crate::read::Head;

/// What version the stream must be at for the append to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version.
    Any,
    /// The stream must have no events yet.
    NoStream,
    /// The stream's last event must have this version (0: no events).
    Exact(i64),
}

impl ExpectedVersion {
    fn admits(self, current: i64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(version) => current == version,
        }
    }
}

/// An Idempotency-Key to record with the append, so that a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Whose key it is (keys of different callers never collide).
    pub scope: String,
    pub key: String,
    /// A hash of the request; the same key with another request is refused.
    pub request_hash: Vec<u8>,
}

/// One command's events for one stream.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    /// May be empty: a command that changes nothing still checks its version and records its key.
    pub events: Vec<NewEvent>,
    pub idempotency: Option<IdempotencyClaim>,
    /// The log's head position at (or before) the snapshot in which the caller read the stream,
    /// from [`crate::load_stream`]. With it the committer can often check `expected` without
    /// reading the stream's version again.
    pub observed_head: Option<i64>,
    /// The W3C `traceparent` of the command's trace, kept beside the events (not in them) for
    /// the relay and the projector to continue the trace: [`crate::traces`].
    pub trace_context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub position: i64,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub stream_id: String,
    /// The stream's version after the append.
    pub stream_version: i64,
    /// The positions of the first and last event appended; `None` when there were none.
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
    /// The events appended now. Empty when `replayed`: read them by position instead.
    pub events: Vec<AppendedEvent>,
    /// True when these events were appended before, by an earlier request with the same
    /// idempotency key or event ids, and nothing was appended now.
    pub replayed: bool,
}

#[derive(Debug, Clone)]
pub struct CommitterConfig {
    /// The most requests written in one statement.
    pub max_batch: usize,
    /// How many requests may wait for the committer before appends push back.
    pub queue_capacity: usize,
    /// How many batch writes may be in flight at once.
    pub pipeline_depth: usize,
    pub observer: Option<BatchObserver>,
}

impl Default for CommitterConfig {
    fn default() -> Self {
        CommitterConfig { max_batch: 512, queue_capacity: 8192, pipeline_depth: 1, observer: None }
    }
}

/// One batch the committer wrote: how many events, and how long its statement took.
#[derive(Debug, Clone, Copy)]
pub struct BatchWritten {
    pub events: usize,
    pub seconds: f64,
}

/// Told of every batch written (the process's metrics); the store itself keeps no metrics.
#[derive(Clone)]
pub struct BatchObserver(pub std::sync::Arc<dyn Fn(BatchWritten) + Send + Sync>);

impl std::fmt::Debug for BatchObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchObserver")
    }
}

struct Pending {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, AppendError>>,
}

#[derive(Clone)]
pub(crate) struct CommitterHandle {
    queue: mpsc::Sender<Pending>,
}

impl CommitterHandle {
    pub(crate) async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || AppendError::Unavailable("the committer has stopped".into());
        self.queue.send(Pending { request, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

pub(crate) fn spawn(pool: PgPool, config: CommitterConfig) -> CommitterHandle {
    let (queue, requests) = mpsc::channel(config.queue_capacity);
    tokio::spawn(Committer { pool, config, known: None }.run(requests));
    CommitterHandle { queue }
}

struct Committer {
    pool: PgPool,
    config: CommitterConfig,
    /// The log as this committer left it; `None` when it must be read again.
    known: Option<Known>,
}

/// What a committer knows of the log after its own writes. It stays true only while no other
/// process appends; every append moves the head, and the optimistic write goes through only if
/// the head is where this committer left it, so a stale `Known` can never be acted on.
struct Known {
    head: Head,
    /// Every append after this position was made by this committer...
    own_since: i64,
    /// ...so this holds the current version of every stream appended to since then.
    versions: HashMap<String, i64>,
}

/// How many stream versions a committer remembers before it starts over.
const KNOWN_VERSIONS_CAPACITY: usize = 250_000;

impl Known {
    fn fresh(head: Head) -> Known {
        Known { head, own_since: head.position, versions: HashMap::new() }
    }

    /// The stream's current version, when this committer can tell without reading it.
    fn version_of(&self, request: &AppendRequest) -> Option<i64> {
        if let Some(version) = self.versions.get(&request.stream_id) {
            return Some(*version);
        }
        match (request.expected, request.observed_head) {
            // Not appended to since `own_since`, and the caller read it after that: what the
            // caller saw is current.
            (ExpectedVersion::Exact(version), Some(observed)) if observed >= self.own_since => Some(version),
            // A new stream: assume it is new. If it is not, the unique index on
            // (stream_id, stream_version) refuses the write, and the locked path finds out.
            (ExpectedVersion::NoStream, _) => Some(0),
            _ => None,
        }
    }

    fn record(&mut self, plan: &Plan) {
        self.head = plan.new_head;
        if self.versions.len() + plan.versions.len() > KNOWN_VERSIONS_CAPACITY {
            self.versions.clear();
            self.own_since = plan.new_head.position;
            return;
        }
        self.versions.extend(plan.versions.iter().map(|(stream, version)| (stream.clone(), *version)));
    }
}

impl Committer {
    /// Takes requests in batches and keeps up to `pipeline_depth` batch writes in flight: the
    /// next batch is planned on top of the ones still being written, and its statement waits on
    /// the head's row lock until they commit. Answers go out in batch order, each only after
    /// its own write (and so every earlier one) committed.
    async fn run(mut self, mut requests: mpsc::Receiver<Pending>) {
        let mut waiting: Vec<Pending> = Vec::new();
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut open = true;
        loop {
            while in_flight.len() < self.config.pipeline_depth.max(1) {
                let mut batch = std::mem::take(&mut waiting);
                while batch.len() < self.config.max_batch {
                    match requests.try_recv() {
                        Ok(pending) => batch.push(pending),
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                self.launch(batch, &mut in_flight, &mut waiting).await;
            }
            if in_flight.is_empty() {
                if !open {
                    return;
                }
                match requests.recv().await {
                    Some(pending) => waiting.push(pending),
                    None => open = false,
                }
                continue;
            }
            let room = in_flight.len() < self.config.pipeline_depth.max(1);
            let front = in_flight.front_mut().expect("not empty");
            tokio::select! {
                biased;
                written = front.written() => {
                    let front = in_flight.pop_front().expect("not empty");
                    self.settle(front, written, &mut in_flight, &mut waiting).await;
                }
                pending = requests.recv(), if room && open => match pending {
                    Some(pending) => waiting.push(pending),
                    None => open = false,
                },
            }
        }
    }

    /// Plans `batch` on top of the batches in flight and sends its write.
    async fn launch(&mut self, batch: Vec<Pending>, in_flight: &mut VecDeque<InFlight>, waiting: &mut Vec<Pending>) {
        let Some(mut known) = self.known.take() else {
            // The head is unknown: settle what is in flight, then go under the lock.
            while let Some(mut front) = in_flight.pop_front() {
                let written = front.written().await;
                self.settle(front, written, in_flight, waiting).await;
            }
            let batch = std::mem::take(waiting).into_iter().chain(batch).collect();
            waiting.extend(self.commit_under_lock(batch).await);
            return;
        };
        let unknown = batch.iter().any(|p| known.version_of(&p.request).is_none());
        let found = if unknown {
            match lookup(&self.pool, &batch).await {
                Ok(found) => found,
                Err(error) => {
                    self.known = Some(known);
                    fail_all(batch, &error.to_string());
                    return;
                }
            }
        } else {
            Found::default()
        };
        let mut plan = plan(batch, known.head, &found, Some(&known), now_micros());
        waiting.append(&mut plan.deferred);
        let suspects = std::mem::take(&mut plan.suspects);
        let write = if plan.appends.is_empty() {
            None
        } else {
            let (pool, old, new, rows) = (self.pool.clone(), known.head, plan.new_head, std::mem::take(&mut plan.rows));
            known.record(&plan);
            let observer = self.config.observer.clone();
            Some(tokio::spawn(async move {
                let started = std::time::Instant::now();
                let written = write(&pool, old, new, &rows).await;
                if let (Ok(true), Some(observer)) = (&written, observer) {
                    (observer.0)(BatchWritten {
                        events: rows.positions.len(),
                        seconds: started.elapsed().as_secs_f64(),
                    });
                }
                written
            }))
        };
        in_flight.push_back(InFlight { plan, write });
        if suspects.is_empty() {
            self.known = Some(known);
        } else {
            // Refusals are checked under the lock: the next launch drains the pipeline first.
            waiting.extend(suspects);
        }
    }

    /// Answers a batch whose write is done. A batch that was not written takes every later one
    /// in flight down with it (their writes expected its head); they are checked again under
    /// the lock.
    async fn settle(
        &mut self,
        batch: InFlight,
        written: Result<bool, sqlx::Error>,
        in_flight: &mut VecDeque<InFlight>,
        waiting: &mut Vec<Pending>,
    ) {
        let mut retry = match written {
            Ok(true) => {
                batch.plan.answer();
                return;
            }
            // The head moved under us (another process), or a stream assumed new, an event id
            // or an idempotency key met a unique index: check everything under the lock.
            // One request's data refused by the database is found and failed alone under the
            // lock, too.
            Ok(false) => batch.plan.into_batch(),
            Err(error) if is_unique_violation(&error) || is_data_error(&error) => batch.plan.into_batch(),
            Err(error) => batch.plan.fail(&error),
        };
        while let Some(mut later) = in_flight.pop_front() {
            match later.written().await {
                // Only possible when the failed write did commit after all (a lost reply).
                Ok(true) => later.plan.answer(),
                _ => retry.extend(later.plan.into_batch()),
            }
        }
        self.known = None;
        retry.append(waiting);
        waiting.extend(self.commit_under_lock(retry).await);
    }

    /// The checks and the write inside a transaction that holds the head's row lock throughout.
    async fn commit_under_lock(&mut self, batch: Vec<Pending>) -> Vec<Pending> {
        if batch.is_empty() {
            return batch;
        }
        let mut transaction = match self.pool.begin().await {
            Ok(transaction) => transaction,
            Err(error) => return fail_all(batch, &error.to_string()),
        };
        let head = match read_head_for_update(&mut *transaction).await {
            Ok(head) => head,
            Err(error) => return fail_all(batch, &error.to_string()),
        };
        let found = match lookup(&mut *transaction, &batch).await {
            Ok(found) => found,
            Err(error) => return fail_all(batch, &error.to_string()),
        };
        let mut plan = plan(batch, head, &found, None, now_micros());
        let deferred = std::mem::take(&mut plan.deferred);
        if plan.appends.is_empty() {
            self.known = transaction.commit().await.ok().map(|_| Known::fresh(head));
            plan.answer();
            return deferred;
        }
        let started = std::time::Instant::now();
        let written = match write(&mut *transaction, head, plan.new_head, &plan.rows).await {
            Ok(true) => transaction.commit().await.inspect(|()| {
                if let Some(observer) = &self.config.observer {
                    (observer.0)(BatchWritten {
                        events: plan.rows.positions.len(),
                        seconds: started.elapsed().as_secs_f64(),
                    });
                }
            }),
            Ok(false) => {
                let _ = transaction.rollback().await;
                Err(sqlx::Error::Protocol("the locked log head moved".into()))
            }
            Err(error) => {
                let _ = transaction.rollback().await;
                Err(error)
            }
        };
        match written {
            Ok(()) => {
                let mut known = Known::fresh(head);
                known.record(&plan);
                self.known = Some(known);
                plan.answer();
                deferred
            }
            // The database refused one request's data (a NUL the checks missed, a number out of
            // range): nothing was written, so each request goes again alone, and only the
            // offending one fails. Another tenant's command in the same batch is appended.
            Err(error) if is_data_error(&error) && plan.appends.len() > 1 => {
                tracing::warn!(%error, requests = plan.appends.len(), "a batch's data was refused; appending each alone");
                let mut deferred = deferred;
                for pending in plan.into_batch() {
                    deferred.extend(Box::pin(self.commit_under_lock(vec![pending])).await);
                }
                deferred
            }
            Err(error) => {
                let mut deferred = deferred;
                deferred.extend(plan.fail(&error));
                deferred
            }
        }
    }
}

/// A planned batch and its write, if it has anything to write.
struct InFlight {
    plan: Plan,
    write: Option<JoinHandle<Result<bool, sqlx::Error>>>,
}

impl InFlight {
    /// Whether the batch was written; a batch with nothing to write counts as written.
    async fn written(&mut self) -> Result<bool, sqlx::Error> {
        match &mut self.write {
            None => Ok(true),
            Some(write) => write.await.unwrap_or_else(|error| Err(sqlx::Error::Protocol(error.to_string()))),
        }
    }
}

async fn read_head_for_update(executor: impl sqlx::PgExecutor<'_>) -> Result<Head, sqlx::Error> {
    let (position, hash): (i64, Vec<u8>) =
        sqlx::query_as("select position, hash from log_head for update").fetch_one(executor).await?;
    let hash = events::ChainHash::from_slice(&hash)
        .ok_or_else(|| sqlx::Error::Protocol("the log head's hash is not 32 bytes".into()))?;
    Ok(Head { position, hash })
}

fn fail_all(batch: Vec<Pending>, reason: &str) -> Vec<Pending> {
    for pending in batch {
        let _ = pending.reply.send(Err(AppendError::Unavailable(reason.to_owned())));
    }
    Vec::new()
}

fn now_micros() -> DateTime<Utc> {
    // PostgreSQL keeps microseconds; hash what it will give back.
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|error| error.is_unique_violation())
}

/// Whether the database refused the data itself: a data exception (SQLSTATE class 22, such as
/// a NUL in `jsonb` or a number out of range), a check constraint, or a value too large to
/// index. Such an error belongs to one request, not to the batch.
fn is_data_error(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code.starts_with("22") || code == "23514" || code == "54000")
}

/// What the log already holds that a batch must be checked against.
#[derive(Default)]
struct Found {
    stream_versions: HashMap<String, i64>,
    keys: HashMap<(String, String), IdempotencyRecord>,
    /// Event id → (stream, version, position) of events already in the log.
    event_ids: HashMap<Uuid, (String, i64, i64)>,
}

/// What an idempotency key answered the first time.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdempotencyRecord {
    pub request_hash: Vec<u8>,
    pub stream_id: String,
    pub stream_version: i64,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
}

/// The record of `key` in `scope`, if it was used.
pub async fn find_idempotency_key(
    executor: impl sqlx::PgExecutor<'_>,
    scope: &str,
    key: &str,
) -> crate::Result<Option<IdempotencyRecord>> {
    let record = sqlx::query_as::<_, IdempotencyRecord>(
        "select request_hash, stream_id, stream_version, first_position, last_position \
           from idempotency_keys where scope = $1 and key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Which of `keys` were used in `scope`: one read for a caller that would otherwise send each
/// request only to have it answered from its key.
pub async fn used_idempotency_keys(
    executor: impl sqlx::PgExecutor<'_>,
    scope: &str,
    keys: &[&str],
) -> crate::Result<HashSet<String>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let used: Vec<(String,)> = sqlx::query_as("select key from idempotency_keys where scope = $1 and key = any($2)")
        .bind(scope)
        .bind(keys)
        .fetch_all(executor)
        .await?;
    Ok(used.into_iter().map(|(key,)| key).collect())
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    kind: String,
    a: String,
    b: Option<String>,
    version: Option<i64>,
    hash: Option<Vec<u8>>,
    first: Option<i64>,
    last: Option<i64>,
    stream: Option<String>,
}

/// One round trip: the current version of every stream in the batch, the idempotency keys it
/// claims that are known already, and which of its first event ids are in the log.
async fn lookup(executor: impl sqlx::PgExecutor<'_>, batch: &[Pending]) -> Result<Found, sqlx::Error> {
    let mut streams: Vec<&str> = batch.iter().map(|p| p.request.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let (scopes, keys): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .filter_map(|p| p.request.idempotency.as_ref())
        .map(|claim| (claim.scope.as_str(), claim.key.as_str()))
        .unzip();
    let event_ids: Vec<Uuid> = batch.iter().filter_map(|p| p.request.events.first()).map(|e| e.event_id).collect();

    let rows: Vec<FoundRow> = sqlx::query_as(
        r#"
        select 'version' as kind, s.id as a, null::text as b,
               (select e.stream_version from events e where e.stream_id = s.id
                 order by e.stream_version desc limit 1) as version,
               null::bytea as hash, null::bigint as first, null::bigint as last,
               null::text as stream
          from unnest($1::text[]) as s(id)
        union all
        select 'key', k.scope, k.key, k.stream_version, k.request_hash, k.first_position,
               k.last_position, k.stream_id
          from idempotency_keys k
          join unnest($2::text[], $3::text[]) as c(scope, key) on k.scope = c.scope and k.key = c.key
        union all
        select 'event', e.event_id::text, e.stream_id, e.stream_version, null, e.position,
               e.position, null
          from events e where e.event_id = any($4::uuid[])
        "#,
    )
    .bind(&streams)
    .bind(&scopes)
    .bind(&keys)
    .bind(&event_ids)
    .fetch_all(executor)
    .await?;

    let mut found = Found::default();
    for row in rows {
        match row.kind.as_str() {
            "version" => {
                found.stream_versions.insert(row.a, row.version.unwrap_or(0));
            }
            "key" => {
                found.keys.insert(
                    (row.a, row.b.unwrap_or_default()),
                    IdempotencyRecord {
                        request_hash: row.hash.unwrap_or_default(),
                        stream_id: row.stream.unwrap_or_default(),
                        stream_version: row.version.unwrap_or(0),
                        first_position: row.first,
                        last_position: row.last,
                    },
                );
            }
            _ => {
                if let (Ok(id), Some(stream), Some(version), Some(position)) =
                    (row.a.parse(), row.b, row.version, row.first)
                {
                    found.event_ids.insert(id, (stream, version, position));
                }
            }
        }
    }
    Ok(found)
}

/// The rows of one batch statement, column by column.
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    stream_ids: Vec<String>,
    stream_versions: Vec<i64>,
    event_ids: Vec<Uuid>,
    event_types: Vec<String>,
    schema_versions: Vec<i32>,
    payloads: Vec<serde_json::Value>,
    metadata: Vec<serde_json::Value>,
    recorded_at: Vec<DateTime<Utc>>,
    hashes: Vec<Vec<u8>>,
    key_scopes: Vec<String>,
    key_values: Vec<String>,
    key_hashes: Vec<Vec<u8>>,
    key_streams: Vec<String>,
    key_first: Vec<Option<i64>>,
    key_last: Vec<Option<i64>>,
    key_versions: Vec<i64>,
    traced_positions: Vec<i64>,
    traceparents: Vec<String>,
}

struct Plan {
    appends: Vec<(Pending, AppendOutcome)>,
    /// Requests answered without appending (conflicts, replays, reused keys). The answers are
    /// held until the batches before this one are written, since they were decided on top of
    /// them.
    answered: Vec<(Pending, Result<AppendOutcome, AppendError>)>,
    deferred: Vec<Pending>,
    /// Requests refused on versions the committer remembers rather than read under the lock.
    /// Memory is good enough to admit an append (the compare-and-set guards the write), not to
    /// refuse one: these are checked again under the lock.
    suspects: Vec<Pending>,
    rows: Rows,
    new_head: Head,
    /// The version each stream of the batch is at after it.
    versions: HashMap<String, i64>,
}

impl Plan {
    /// The batch was written: acknowledge every request.
    fn answer(self) {
        for (pending, answer) in self.answered {
            let _ = pending.reply.send(answer);
        }
        for (pending, outcome) in self.appends {
            let _ = pending.reply.send(Ok(outcome));
        }
    }

    /// The write failed and nothing of it was kept: its appends fail (refused, when the
    /// database refused their data); the requests answered without appending are returned to
    /// be checked again.
    fn fail(self, error: &sqlx::Error) -> Vec<Pending> {
        tracing::warn!(%error, "append failed; nothing of the batch was written");
        let refused = is_data_error(error);
        for (pending, _) in self.appends {
            let reason =
                error.as_database_error().map_or_else(|| error.to_string(), |error| error.message().to_owned());
            let answer = if refused { AppendError::Refused(reason) } else { AppendError::Unavailable(reason) };
            let _ = pending.reply.send(Err(answer));
        }
        self.answered.into_iter().map(|(pending, _)| pending).chain(self.deferred).chain(self.suspects).collect()
    }

    /// Every request of the batch, to check again from a newer head.
    fn into_batch(self) -> Vec<Pending> {
        let appends = self.appends.into_iter().map(|(pending, _)| pending);
        let answered = self.answered.into_iter().map(|(pending, _)| pending);
        appends.chain(answered).chain(self.deferred).chain(self.suspects).collect()
    }
}

/// Decides each request of the batch: answered (conflict, reused key, replay), deferred,
/// suspect, or appended at the positions and hashes this plan gives it. With `known`, versions
/// come partly from the committer's memory, and refusals become suspects.
fn plan(batch: Vec<Pending>, head: Head, found: &Found, known: Option<&Known>, recorded_at: DateTime<Utc>) -> Plan {
    let mut versions: HashMap<String, i64> = HashMap::new();
    let mut claimed: HashSet<(String, String)> = HashSet::new();
    let mut first_ids: HashSet<Uuid> = HashSet::new();
    let mut rows = Rows::default();
    let mut appends = Vec::with_capacity(batch.len());
    let mut answered = Vec::new();
    let mut deferred = Vec::new();
    let mut suspects = Vec::new();
    let mut position = head.position;
    let mut hash = head.hash;
    let mut scratch = Vec::with_capacity(1024);

    for pending in batch {
        let request = &pending.request;
        if let Some(claim) = &request.idempotency {
            let id = (claim.scope.clone(), claim.key.clone());
            if let Some(known) = found.keys.get(&id) {
                let answer = if known.request_hash == claim.request_hash {
                    Ok(AppendOutcome {
                        stream_id: known.stream_id.clone(),
                        stream_version: known.stream_version,
                        first_position: known.first_position,
                        last_position: known.last_position,
                        events: Vec::new(),
                        replayed: true,
                    })
                } else {
                    Err(AppendError::IdempotencyKeyReused)
                };
                answered.push((pending, answer));
                continue;
            }
            if claimed.contains(&id) {
                deferred.push(pending);
                continue;
            }
        }
        if let Some(first) = request.events.first() {
            if let Some((stream_id, version, first_position)) = found.event_ids.get(&first.event_id) {
                let count = request.events.len() as i64;
                let replay = AppendOutcome {
                    stream_id: stream_id.clone(),
                    stream_version: version + count - 1,
                    first_position: Some(*first_position),
                    last_position: Some(first_position + count - 1),
                    events: Vec::new(),
                    replayed: true,
                };
                answered.push((pending, Ok(replay)));
                continue;
            }
            if first_ids.contains(&first.event_id) {
                deferred.push(pending);
                continue;
            }
        }

        // This batch's own appends first, then the committer's own earlier appends (some maybe
        // still in flight, so newer than anything read), then what was read, then what the
        // caller's snapshot tells.
        let current = versions
            .get(&request.stream_id)
            .or_else(|| known.and_then(|known| known.versions.get(&request.stream_id)))
            .or_else(|| found.stream_versions.get(&request.stream_id))
            .copied()
            .or_else(|| known.and_then(|known| known.version_of(request)))
            .unwrap_or(0);
        if !request.expected.admits(current) {
            if known.is_some() {
                suspects.push(pending);
            } else {
                answered.push((pending, Err(AppendError::Conflict { current })));
            }
            continue;
        }

        let mut appended = Vec::with_capacity(request.events.len());
        for (index, event) in request.events.iter().enumerate() {
            position += 1;
            let stream_version = current + index as i64 + 1;
            hash = events::hash::HashedFields {
                position,
                stream_id: &request.stream_id,
                stream_version,
                event_id: event.event_id,
                event_type: &event.event_type,
                schema_version: event.schema_version,
                payload: &event.payload,
                metadata: &event.metadata,
                recorded_at_micros: recorded_at.timestamp_micros(),
            }
            .chain(&hash, &mut scratch);
            rows.positions.push(position);
            rows.stream_ids.push(request.stream_id.clone());
            rows.stream_versions.push(stream_version);
            rows.event_ids.push(event.event_id);
            rows.event_types.push(event.event_type.clone());
            rows.schema_versions.push(event.schema_version);
            rows.payloads.push(event.payload.clone());
            rows.metadata.push(event.metadata.clone());
            rows.recorded_at.push(recorded_at);
            rows.hashes.push(hash.0.to_vec());
            appended.push(AppendedEvent { event_id: event.event_id, event_type: event.event_type.clone(), position });
            if let Some(traceparent) = &request.trace_context {
                rows.traced_positions.push(position);
                rows.traceparents.push(traceparent.clone());
            }
        }
        let stream_version = current + request.events.len() as i64;
        versions.insert(request.stream_id.clone(), stream_version);
        let first_position = appended.first().map(|e| e.position);
        let last_position = appended.last().map(|e| e.position);
        if let Some(first) = request.events.first() {
            first_ids.insert(first.event_id);
        }
        if let Some(claim) = &request.idempotency {
            claimed.insert((claim.scope.clone(), claim.key.clone()));
            rows.key_scopes.push(claim.scope.clone());
            rows.key_values.push(claim.key.clone());
            rows.key_hashes.push(claim.request_hash.clone());
            rows.key_streams.push(request.stream_id.clone());
            rows.key_first.push(first_position);
            rows.key_last.push(last_position);
            rows.key_versions.push(stream_version);
        }
        let outcome = AppendOutcome {
            stream_id: request.stream_id.clone(),
            stream_version,
            first_position,
            last_position,
            events: appended,
            replayed: false,
        };
        appends.push((pending, outcome));
    }
    Plan { appends, answered, deferred, suspects, rows, new_head: Head { position, hash }, versions }
}

/// The one statement of a batch: moves the head from `old` to `new` and inserts `rows`. Returns
/// false when the head was not at `old` (position and hash) and nothing was written.
async fn write(executor: impl sqlx::PgExecutor<'_>, old: Head, new: Head, rows: &Rows) -> Result<bool, sqlx::Error> {
    let moved: Option<(i64,)> = sqlx::query_as(
        r#"
        with head as (
            update log_head set position = $2, hash = $3
             where position = $1 and hash = $21
            returning position
        ), appended as (
            insert into events (position, stream_id, stream_version, event_id, event_type,
                                schema_version, payload, metadata, recorded_at, hash)
            select e.* from unnest($4::bigint[], $5::text[], $6::bigint[], $7::uuid[], $8::text[],
                                   $9::int[], $10::jsonb[], $11::jsonb[], $12::timestamptz[],
                                   $13::bytea[]) as e
             where exists (select 1 from head)
        ), claimed as (
            insert into idempotency_keys (scope, key, request_hash, stream_id, first_position,
                                          last_position, stream_version)
            select k.* from unnest($14::text[], $15::text[], $16::bytea[], $17::text[],
                                   $18::bigint[], $19::bigint[], $20::bigint[]) as k
             where exists (select 1 from head)
        ), traced as (
            insert into event_trace_context (position, traceparent)
            select t.* from unnest($22::bigint[], $23::text[]) as t
             where exists (select 1 from head)
        )
        select position from head
         where $2 = $1 or pg_notify('oxbow_events', $2::text) is not null
        "#,
    )
    .bind(old.position)
    .bind(new.position)
    .bind(new.hash.0.to_vec())
    .bind(&rows.positions)
    .bind(&rows.stream_ids)
    .bind(&rows.stream_versions)
    .bind(&rows.event_ids)
    .bind(&rows.event_types)
    .bind(&rows.schema_versions)
    .bind(&rows.payloads)
    .bind(&rows.metadata)
    .bind(&rows.recorded_at)
    .bind(&rows.hashes)
    .bind(&rows.key_scopes)
    .bind(&rows.key_values)
    .bind(&rows.key_hashes)
    .bind(&rows.key_streams)
    .bind(&rows.key_first)
    .bind(&rows.key_last)
    .bind(&rows.key_versions)
    .bind(old.hash.0.to_vec())
    .bind(&rows.traced_positions)
    .bind(&rows.traceparents)
    .fetch_optional(executor)
    .await?;
    Ok(moved.is_some())
}
