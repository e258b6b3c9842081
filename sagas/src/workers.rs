//! The workers: they lease due work from `saga_work`, carry it out ([`crate::steps`]) while
//! renewing the lease, and record how it went. Leases are fair: the workspaces of one creator
//! hold no more than their share of them across every saga process, so a tenant's slow steps
//! queue behind each other and everyone else's work goes past them. Waits hold no worker: a
//! sleep goes back to the queue until it ends, and a webhook is given up at its step's deadline.

use std::sync::Arc;
use std::time::Duration;

use platform::metrics::Metrics;
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use crate::in_flight::InFlight;
use crate::queue::{self, Leased};
use crate::steps::{Progress, Steps, TryAgain};

/// How often the workers look again when the due work left belongs to creators at their
/// share of the leases.
const AT_SHARE_POLL: Duration = Duration::from_millis(100);

pub(crate) struct Workers {
    /// For leases and for marking work done, with `synchronous_commit` off: a crash may lose
    /// the last of these writes, which only means some work is done again, as it may be.
    bookkeeping: PgPool,
    steps: Steps,
    metrics: Metrics,
    /// Pieces of work carried out at once by this process.
    max_in_flight: usize,
    /// Pieces of work the workspaces of one creator may have under way at once, across every
    /// saga process.
    share: usize,
    /// Rung when there may be work to lease: new work planned in this process, or a worker
    /// slot freed.
    wake: Arc<Notify>,
    /// Work carried out and not deleted yet: the next lease deletes it in the same statement.
    finished: std::sync::Mutex<Vec<i64>>,
    /// The work under way, abandoned when it is made moot.
    in_flight: Arc<InFlight>,
}

impl Workers {
    pub fn new(
        bookkeeping: PgPool,
        steps: Steps,
        metrics: Metrics,
        max_in_flight: usize,
        share: usize,
        wake: Arc<Notify>,
        in_flight: Arc<InFlight>,
    ) -> Workers {
        Workers { bookkeeping, steps, metrics, max_in_flight, share, wake, finished: Default::default(), in_flight }
    }

    /// Leases due work and carries it out, several pieces at once. Runs until an error.
    pub async fn work(self: Arc<Self>) -> anyhow::Result<()> {
        let permits = Arc::new(Semaphore::new(self.max_in_flight));
        loop {
            let free = permits.available_permits();
            let share = self.share.max(1) as i64;
            let finished = std::mem::take(&mut *self.finished.lock().expect("finished work"));
            let leased = if free > 0 || !finished.is_empty() {
                match queue::lease(&self.bookkeeping, free as i64, share, &finished).await {
                    Ok(leased) => leased,
                    Err(error) => {
                        self.finished.lock().expect("finished work").extend(finished);
                        return Err(error.into());
                    }
                }
            } else {
                Vec::new()
            };
            let busy = leased.len() == free && free > 0;
            let leased_some = !leased.is_empty();
            for work in leased {
                let permit = permits.clone().acquire_owned().await?;
                let workers = self.clone();
                tokio::spawn(async move {
                    workers.carry_out(work).await;
                    drop(permit);
                    // A permit is free: the loop may lease more.
                    workers.wake.notify_one();
                });
            }
            if busy {
                continue;
            }
            // With every slot taken, only a freed slot helps. Work that is due but was not
            // leased belongs to creators at their share: a slot of theirs frees up when
            // their work ends (here, or in another process: hence a short poll). While work
            // goes on here, its ends wake the loop anyway; only an idle loop asks when the
            // next work falls due.
            let wait = if free == 0 {
                Duration::from_secs(1)
            } else if leased_some {
                AT_SHARE_POLL
            } else {
                let due_in = queue::next_due_in(&self.bookkeeping).await?.unwrap_or(Duration::from_secs(1));
                if due_in.is_zero() { AT_SHARE_POLL } else { due_in }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait.min(Duration::from_secs(1))) => {}
            }
        }
    }

    /// Carries out one piece of work, renewing its lease meanwhile, and records how it went.
    async fn carry_out(&self, leased: Leased) {
        let pool = &self.bookkeeping;
        let started = std::time::Instant::now();
        let kind = leased.kind.as_str();
        let span = platform::traced_span!(
            "saga work",
            otel.name = format!("{} {kind}", leased.saga),
            oxbow.attempt = leased.attempts,
            trace_id = tracing::field::Empty,
        );
        platform::telemetry::continue_trace(&span, leased.trace_context.as_deref());
        platform::telemetry::record_trace_id(&span);
        let work = self.steps.perform(&leased.work, leased.correlation_id).instrument(span);
        tokio::pin!(work);
        let mut renew = tokio::time::interval(queue::LEASE / 3);
        renew.tick().await;
        let dropped = self.in_flight.start(leased.id);
        // Work made moot while under way (its attempt timed out, its run ended) is abandoned:
        // at once when this process dropped it, else when renewing finds its row gone. A
        // webhook call is cut off, a sleep ends; what it would have reported is refused anyway.
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break Some(outcome),
                _ = dropped.notified() => break None,
                _ = renew.tick() => match queue::renew(pool, leased.id).await {
                    Ok(true) => {}
                    Ok(false) => break None,
                    Err(error) => tracing::warn!(%error, id = leased.id, "could not renew a saga lease"),
                },
            }
        };
        self.in_flight.end(leased.id);
        let Some(outcome) = outcome else {
            self.count(&leased, "abandoned");
            return;
        };
        let outcome_label = match &outcome {
            Ok(Progress::Done) => "done",
            Ok(Progress::WakeAt(_)) => "waiting",
            Err(_) if leased.attempts >= queue::TRIES => "set_aside",
            Err(_) => "retry",
        };
        let recorded = match &outcome {
            // Deleted by the next lease, with whatever else finished meanwhile.
            Ok(Progress::Done) => {
                self.finished.lock().expect("finished work").push(leased.id);
                Ok(())
            }
            // Back in the queue until then; this process looks at the queue again then, and
            // any other process would take it over if this one is gone.
            Ok(Progress::WakeAt(at)) => {
                let wake = self.wake.clone();
                let after = (*at - chrono::Utc::now()).to_std().unwrap_or_default();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    wake.notify_one();
                });
                queue::wait_until(pool, leased.id, *at).await
            }
            Err(TryAgain(reason)) if leased.attempts >= queue::TRIES => {
                tracing::error!(saga = %leased.saga, work = kind, %reason, id = leased.id, "saga work set aside");
                queue::set_aside(pool, leased.id, reason).await
            }
            Err(TryAgain(reason)) => {
                let delay = Duration::from_millis(200 * 2u64.pow(leased.attempts.clamp(1, 8) as u32 - 1));
                tracing::warn!(saga = %leased.saga, work = kind, %reason, ?delay, "saga work will be tried again");
                queue::postpone(pool, leased.id, delay, reason).await
            }
        };
        if let Err(error) = recorded {
            // The lease runs out and the work is done again, which it tolerates.
            tracing::warn!(%error, id = leased.id, "could not record the outcome of saga work");
        }
        self.count(&leased, outcome_label);
        self.metrics.observe(
            "oxbow_saga_work_duration_seconds",
            "How long one piece of saga work took to carry out, by saga and kind.",
            &[("saga", &leased.saga), ("work", kind)],
            platform::metrics::SECONDS,
            started.elapsed().as_secs_f64(),
        );
    }

    /// Counts a piece of work by how it ended.
    fn count(&self, leased: &Leased, outcome: &str) {
        self.metrics.increment(
            "oxbow_saga_work_total",
            "Saga work carried out, by saga, kind and outcome (done, retry, set_aside after failing too often, or abandoned once moot).",
            &[("saga", &leased.saga), ("work", leased.kind.as_str()), ("outcome", outcome)],
            1,
        );
    }
}
