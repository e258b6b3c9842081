//! The group committer: many commands appended in one statement, each acknowledged after its
//! commit.
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

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::plan::{AppendOutcome, AppendRequest, Found, Known, Plan, plan};
use super::sql::{is_data_error, is_unique_violation, lookup, read_head_for_update, write};
use crate::error::AppendError;

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

pub(crate) struct Pending {
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

impl std::borrow::Borrow<AppendRequest> for Pending {
    fn borrow(&self) -> &AppendRequest {
        &self.request
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
        let unknown = batch.iter().any(|p| !known.knows(&p.request));
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
    plan: Plan<Pending>,
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

impl Plan<Pending> {
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
}
