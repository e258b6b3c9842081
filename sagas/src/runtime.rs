//! The sagas at work: one loop consumes the events topic and plans work, another leases due
//! work and carries it out through the command service, as the saga's own caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::{Appended, Caller, CommandError, CommandRequest, CommandService};
use commands::billing::{Billing, BillingCommand, CaptureCredits, ReleaseReservation, ReserveCredits};
use commands::runs::{
    BeginRun, CompleteStep, FailStep, RejectRun, RetryStep, RunAggregate, RunCommand, RunStatus, StepStatus,
    TimeOutStep,
};
use commands::workspace::{ReactivateWorkspace, SuspendWorkspace, Workspace, WorkspaceCommand};
use commands::{Aggregate, Decider, RejectionKind};
use events::{DomainEvent, RecordedEvent, RunId, StreamId, WorkspaceId};
use platform::consumer::{EventConsumer, handle_once, not_yet_handled, of_this_log};
use platform::metrics::Metrics;
use sqlx::PgPool;
use store::traces::TraceContexts;
use tokio::sync::{Notify, Semaphore, mpsc};
use tracing::Instrument;
use uuid::Uuid;

use crate::egress::Egress;
use crate::executors::{Executors, Outcome, Task};
use crate::plan::{self, BILLING_SAGA, KeyRange, Planned, RUN_SAGA, Work};
use crate::queue::{self, Cause, Leased};

/// The name under which the sagas record the stream versions they have handled.
pub const CONSUMER: &str = "sagas";

/// How often the workers look again when the due work left belongs to workspaces at their
/// share of the leases.
const AT_SHARE_POLL: Duration = Duration::from_millis(100);

/// How many commands' appends the shortcut plans in one transaction at most.
const OWN_APPENDS_AT_ONCE: usize = 256;

#[derive(Debug, Clone)]
pub struct SagaConfig {
    pub kafka: platform::kafka::KafkaSettings,
    pub topic: String,
    pub group: String,
    pub tasks_topic: String,
    pub notifications_topic: String,
    /// Pieces of work carried out at once by one process.
    pub max_in_flight: usize,
    /// Pieces of work one workspace may have under way at once, across every saga process.
    pub workspace_share: usize,
    /// The largest webhook answer read (the event limit: the answer becomes an event).
    pub max_answer_bytes: usize,
    /// Networks webhooks may be called in besides the public internet.
    pub webhook_allow: Vec<ipnet::IpNet>,
}

#[derive(Clone)]
pub struct Sagas {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// For leases and for marking work done, with `synchronous_commit` off: a crash may lose
    /// the last of these writes, which only means some work is done again, as it may be.
    bookkeeping: PgPool,
    service: CommandService,
    executors: Executors,
    metrics: Metrics,
    config: SagaConfig,
    /// Rung when there may be work to lease: new work planned in this process, or a worker
    /// slot freed.
    wake: Notify,
    /// What this process's command service appended, to react to before Kafka brings it.
    own_appends: tokio::sync::Mutex<mpsc::Receiver<Appended>>,
    /// Work carried out and not deleted yet: the next lease deletes it in the same statement.
    finished: std::sync::Mutex<Vec<i64>>,
}

/// Why a piece of work did not finish: to be tried again later.
#[derive(Debug)]
struct TryAgain(String);

impl From<CommandError> for TryAgain {
    fn from(error: CommandError) -> TryAgain {
        TryAgain(format!("{}: {error}", error.code()))
    }
}

impl From<anyhow::Error> for TryAgain {
    fn from(error: anyhow::Error) -> TryAgain {
        TryAgain(format!("{error:#}"))
    }
}

impl Sagas {
    /// The sagas, sending their commands through `service`. Give the same service a sender of
    /// `own_appends` ([`CommandService::telling_appends_to`]): the sagas then react to what this
    /// process appends (their own commands' events, and the endpoint's) without waiting for
    /// Kafka to bring it.
    pub fn new(
        pool: PgPool,
        service: CommandService,
        own_appends: mpsc::Receiver<Appended>,
        metrics: Metrics,
        config: SagaConfig,
    ) -> anyhow::Result<Sagas> {
        let executors = Executors::new(
            &config.kafka,
            &config.tasks_topic,
            &config.notifications_topic,
            config.max_answer_bytes,
            Egress::new(config.webhook_allow.clone()),
        )?;
        let options = pool.connect_options().as_ref().clone().options([("synchronous_commit", "off")]);
        let bookkeeping = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect_lazy_with(options);
        let own_appends = tokio::sync::Mutex::new(own_appends);
        let inner = Inner {
            pool,
            bookkeeping,
            service,
            executors,
            metrics,
            config,
            wake: Notify::new(),
            own_appends,
            finished: Default::default(),
        };
        Ok(Sagas { inner: Arc::new(inner) })
    }

    /// Consumes the events topic and plans each event's work once in effect. Runs until an
    /// error; the caller restarts it with backoff.
    pub async fn consume(self) -> anyhow::Result<()> {
        let inner = &self.inner;
        let consumer = EventConsumer::subscribe(&inner.config.kafka, &inner.config.group, &inner.config.topic, 500)?;
        tracing::info!(topic = %inner.config.topic, group = %inner.config.group, "sagas consuming");
        loop {
            let Some(batch) = consumer.next_batch(Duration::from_secs(1)).await? else {
                continue;
            };
            self.react(&batch.events, &batch.traces).await?;
            consumer.commit(&batch);
            if let Some(position) = batch.events.iter().map(|e| e.position).max() {
                inner.metrics.set(
                    "oxbow_saga_position",
                    "The latest log position the sagas have received from Kafka.",
                    &[],
                    position as f64,
                );
            }
        }
    }

    /// Plans the work `events` ask for, each event once in effect, in one transaction. Events
    /// of streams the sagas never react to, and events handled already (by the shortcut, when
    /// Kafka brings them), are left out before a transaction begins.
    async fn react(&self, events: &[RecordedEvent], traces: &TraceContexts) -> anyhow::Result<()> {
        let concerned: Vec<&RecordedEvent> = events.iter().filter(|event| plan::concerns(event)).collect();
        if concerned.is_empty() {
            return Ok(());
        }
        let events = not_yet_handled(&self.inner.pool, CONSUMER, &concerned).await?;
        let (events, foreign) = of_this_log(&self.inner.pool, events).await?;
        if foreign > 0 {
            self.inner.metrics.increment(
                "oxbow_saga_foreign_events_total",
                "Events from Kafka that this log does not have (a topic the log was restored behind), skipped.",
                &[],
                foreign as u64,
            );
        }
        self.plan_once(&events, traces).await
    }

    /// Plans the work `events` ask for, each event once in effect, in one transaction. The
    /// work of a traced event continues its trace.
    async fn plan_once(&self, events: &[RecordedEvent], traces: &TraceContexts) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let spans: HashMap<i64, (tracing::Span, Option<String>)> = events
            .iter()
            .filter_map(|event| {
                let span = tracing::info_span!(
                    "react",
                    otel.name = format!("react {}", event.event_type),
                    oxbow.position = event.position
                );
                platform::telemetry::continue_trace(&span, Some(traces.get(&event.position)?));
                let own = platform::telemetry::traceparent_of(&span);
                Some((event.position, (span, own)))
            })
            .collect();
        let mut transaction = self.inner.pool.begin().await?;
        let reactions = handle_once(&mut transaction, CONSUMER, events, async |connection, event: &RecordedEvent| {
            let cause = (event.position, correlation_of(event));
            match plan::plan(event) {
                Ok(planned) => Ok(Some((planned, cause, plan::moot(event)))),
                // Planning is a function of the event alone, so the stream's later events
                // need not wait behind it: it is parked for an operator to see, and handled.
                Err(error) => {
                    tracing::error!(%error, position = event.position, "parking an event the sagas cannot read");
                    store::parked::park(connection, CONSUMER, event, Some(&error.to_string())).await?;
                    Ok(None)
                }
            }
        })
        .await?;
        let (mut planned, mut causes, mut moot): (Vec<Planned>, Vec<Cause>, Vec<KeyRange>) = Default::default();
        for (work, (position, correlation_id), ranges) in reactions {
            let trace_context = spans.get(&position).and_then(|(_, own)| own.clone());
            causes.extend(std::iter::repeat_n(Cause { correlation_id, trace_context }, work.len()));
            planned.extend(work);
            moot.extend(ranges);
        }
        // Planned, then dropped: an event only makes moot what earlier events planned
        // (attempts only go up, and nothing follows a run's end).
        queue::enqueue(&mut transaction, &planned, &causes).await?;
        queue::drop_moot(&mut transaction, RUN_SAGA, &moot).await?;
        transaction.commit().await?;
        drop(spans);
        if !planned.is_empty() {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    /// Reacts to what this process appended as soon as it is appended, several commands'
    /// events per transaction when they come faster than they are planned. Only a shortcut:
    /// Kafka brings the same events, finds them handled, and plans whatever this missed.
    pub async fn follow_own_appends(self) -> anyhow::Result<()> {
        let mut own_appends = self.inner.own_appends.lock().await;
        let mut appended = Vec::with_capacity(OWN_APPENDS_AT_ONCE);
        while own_appends.recv_many(&mut appended, OWN_APPENDS_AT_ONCE).await > 0 {
            let positions: Vec<i64> = appended
                .drain(..)
                .filter(|appended| plan::concerns_stream(&appended.stream))
                .flat_map(|appended| appended.first..=appended.last)
                .collect();
            if positions.is_empty() {
                continue;
            }
            // Its own events are new: no need to ask whether they were handled.
            let reacted = async {
                let events = store::read_positions(&self.inner.pool, &positions).await?;
                let traces = if platform::telemetry::enabled() {
                    store::traces::read_positions(&self.inner.pool, &positions).await?
                } else {
                    TraceContexts::new()
                };
                self.plan_once(&events, &traces).await
            }
            .await;
            if let Err(error) = reacted {
                tracing::debug!(error = format!("{error:#}"), "reacting to own events failed; Kafka will bring them");
            }
        }
        Ok(())
    }

    /// Leases due work and carries it out, several pieces at once. Runs until an error.
    pub async fn work(self) -> anyhow::Result<()> {
        let permits = Arc::new(Semaphore::new(self.inner.config.max_in_flight));
        loop {
            let free = permits.available_permits();
            let share = self.inner.config.workspace_share.max(1) as i64;
            let finished = std::mem::take(&mut *self.inner.finished.lock().expect("finished work"));
            let leased = if free > 0 || !finished.is_empty() {
                match queue::lease(&self.inner.bookkeeping, free as i64, share, &finished).await {
                    Ok(leased) => leased,
                    Err(error) => {
                        self.inner.finished.lock().expect("finished work").extend(finished);
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
                let sagas = self.clone();
                tokio::spawn(async move {
                    sagas.carry_out(work).await;
                    drop(permit);
                    // A permit is free: the loop may lease more.
                    sagas.inner.wake.notify_one();
                });
            }
            if busy {
                continue;
            }
            // With every slot taken, only a freed slot helps. Work that is due but was not
            // leased belongs to workspaces at their share: a slot of theirs frees up when
            // their work ends (here, or in another process: hence a short poll). While work
            // goes on here, its ends wake the loop anyway; only an idle loop asks when the
            // next work falls due.
            let wait = if free == 0 {
                Duration::from_secs(1)
            } else if leased_some {
                AT_SHARE_POLL
            } else {
                let due_in = queue::next_due_in(&self.inner.bookkeeping).await?.unwrap_or(Duration::from_secs(1));
                if due_in.is_zero() { AT_SHARE_POLL } else { due_in }
            };
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait.min(Duration::from_secs(1))) => {}
            }
        }
    }

    /// Carries out one piece of work, renewing its lease meanwhile, and records how it went.
    async fn carry_out(&self, leased: Leased) {
        let pool = &self.inner.bookkeeping;
        let started = std::time::Instant::now();
        let kind = work_kind(&leased.work);
        let span = platform::traced_span!(
            "saga work",
            otel.name = format!("{} {kind}", leased.saga),
            oxbow.attempt = leased.attempts,
            trace_id = tracing::field::Empty,
        );
        platform::telemetry::continue_trace(&span, leased.trace_context.as_deref());
        platform::telemetry::record_trace_id(&span);
        let work = self.perform(&leased.work, leased.correlation_id).instrument(span);
        tokio::pin!(work);
        let mut renew = tokio::time::interval(queue::LEASE / 3);
        renew.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = renew.tick() => {
                    if let Err(error) = queue::renew(pool, leased.id).await {
                        tracing::warn!(%error, id = leased.id, "could not renew a saga lease");
                    }
                }
            }
        };
        let outcome_label = match &outcome {
            Ok(()) => "done",
            Err(_) if leased.attempts >= queue::TRIES => "set_aside",
            Err(_) => "retry",
        };
        let recorded = match &outcome {
            // Deleted by the next lease, with whatever else finished meanwhile.
            Ok(()) => {
                self.inner.finished.lock().expect("finished work").push(leased.id);
                Ok(())
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
        self.inner.metrics.increment(
            "oxbow_saga_work_total",
            "Saga work carried out, by saga, kind and outcome (done, retry, or set_aside after failing too often).",
            &[("saga", &leased.saga), ("work", kind), ("outcome", outcome_label)],
            1,
        );
        self.inner.metrics.observe(
            "oxbow_saga_work_duration_seconds",
            "How long one piece of saga work took to carry out, by saga and kind.",
            &[("saga", &leased.saga), ("work", kind)],
            platform::metrics::SECONDS,
            started.elapsed().as_secs_f64(),
        );
    }

    async fn perform(&self, work: &Work, correlation_id: Uuid) -> Result<(), TryAgain> {
        let run_saga = Caller::saga(RUN_SAGA);
        let billing_saga = Caller::saga(BILLING_SAGA);
        let send = |caller, command, key| self.send(caller, command, key, correlation_id);
        match work {
            Work::ReserveBudget { run_id } => self.reserve_budget(*run_id, &run_saga, correlation_id).await,
            Work::Dispatch { run_id, step_id, attempt } => {
                self.dispatch(*run_id, step_id, *attempt, &run_saga, correlation_id).await
            }
            Work::TimeOutStep { run_id, step_id, attempt } => {
                let timer = TimeOutStep { step_id: step_id.clone(), attempt: *attempt };
                send(&run_saga, CommandRequest::run(*run_id, RunCommand::from(timer)), None).await.map(drop)
            }
            Work::RetryStep { run_id, step_id, attempt } => {
                let timer = RetryStep { step_id: step_id.clone(), attempt: *attempt };
                send(&run_saga, CommandRequest::run(*run_id, RunCommand::from(timer)), None).await.map(drop)
            }
            Work::CaptureUsage { run_id, workspace_id, step_id, attempt, amount } => {
                let capture = CaptureCredits { reservation_id: run_id.uuid(), amount: *amount };
                let capture = CommandRequest::billing(*workspace_id, BillingCommand::from(capture));
                send(&run_saga, capture, Some(plan::capture_key(*run_id, step_id, *attempt))).await.map(drop)
            }
            Work::Settle { run_id } => self.settle(*run_id, &run_saga, correlation_id).await,
            Work::SuspendIfUnpaid { workspace_id, invoice_id } => {
                let account = self.load::<Billing>(workspace_id.billing_stream()).await?;
                let unpaid = account.invoices.get(invoice_id).is_some_and(|invoice| invoice.paid < invoice.amount);
                if !unpaid {
                    return Ok(());
                }
                let suspend = SuspendWorkspace { reason: Some(OVERDUE.into()) };
                let command = CommandRequest::workspace(*workspace_id, WorkspaceCommand::from(suspend));
                send(&billing_saga, command, Some(format!("suspend:{invoice_id}"))).await.map(drop)
            }
            Work::ReactivateIfPaid { workspace_id } => {
                let account = self.load::<Billing>(workspace_id.billing_stream()).await?;
                if account.invoices.values().any(|invoice| invoice.paid < invoice.amount) {
                    return Ok(());
                }
                let workspace = self.load::<Workspace>(workspace_id.stream()).await?;
                // Only a suspension for an overdue invoice is the billing saga's to lift.
                if !workspace.suspended || workspace.suspension_reason.as_deref() != Some(OVERDUE) {
                    return Ok(());
                }
                let command = CommandRequest::workspace(*workspace_id, WorkspaceCommand::from(ReactivateWorkspace {}));
                send(&billing_saga, command, None).await.map(drop)
            }
            Work::NotifyLowBalance { workspace_id, balance, threshold } => {
                let notification = serde_json::json!({
                    "type": "low_balance",
                    "workspace_id": workspace_id,
                    "balance": balance,
                    "threshold": threshold,
                });
                Ok(self.inner.executors.notify(workspace_id.uuid(), &notification).await?)
            }
        }
    }

    /// Reserves the run's budget (the reservation has the run's id), then begins the run; or
    /// rejects it when the reservation is refused.
    async fn reserve_budget(&self, run_id: RunId, caller: &Caller, correlation_id: Uuid) -> Result<(), TryAgain> {
        let state = self.load::<RunAggregate>(run_id.stream()).await?;
        let Some(run) = state.0.filter(|run| run.status == RunStatus::Requested) else {
            return Ok(());
        };
        let reserve =
            ReserveCredits { reservation_id: run_id.uuid(), amount: run.budget, purpose: format!("run {run_id}") };
        let reserve = CommandRequest::billing(WorkspaceId(run.workspace_id), BillingCommand::from(reserve));
        match self.send(caller, reserve, Some(format!("reserve:{run_id}")), correlation_id).await? {
            Sent::Refused(refusal) => {
                let reject = RejectRun { reason: refusal.code().to_owned() };
                self.send(caller, CommandRequest::run(run_id, RunCommand::from(reject)), None, correlation_id).await?;
                return Ok(());
            }
            Sent::Accepted => {}
        }
        let begin = RunCommand::from(BeginRun { reservation_id: run_id.uuid() });
        if let Sent::Refused(refusal) =
            self.send(caller, CommandRequest::run(run_id, begin), None, correlation_id).await?
        {
            // Cancelled meanwhile: the budget goes back.
            tracing::info!(%run_id, code = refusal.code(), "the run ended before it began; releasing its budget");
            self.release(run_id, WorkspaceId(run.workspace_id), caller, correlation_id).await?;
        }
        Ok(())
    }

    /// Hands the attempt to its executor, if it is still the step's current one, and reports
    /// what the executor said.
    async fn dispatch(
        &self,
        run_id: RunId,
        step_id: &str,
        attempt: u32,
        caller: &Caller,
        correlation_id: Uuid,
    ) -> Result<(), TryAgain> {
        let state = self.load::<RunAggregate>(run_id.stream()).await?;
        let Some(run) = state.0.as_ref().filter(|run| !run.status.is_final()) else {
            return Ok(());
        };
        let Some(step) = run.steps.iter().find(|s| {
            s.planned.id == step_id
                && s.attempt == attempt
                && matches!(s.status, StepStatus::Scheduled | StepStatus::Running)
        }) else {
            return Ok(());
        };
        let deadline = step.deadline.unwrap_or_else(chrono::Utc::now);
        let task = Task {
            run_id: run_id.uuid(),
            workspace_id: run.workspace_id,
            step_id: step_id.to_owned(),
            attempt,
            agent_id: step.planned.agent_id,
            input: step.planned.input.clone(),
            deadline,
        };
        let report = match self.inner.executors.run(&step.planned.executor, &task).await? {
            Outcome::HandedOver => return Ok(()),
            Outcome::Completed { output, usage } => {
                RunCommand::from(CompleteStep { step_id: step_id.to_owned(), attempt, output, usage })
            }
            Outcome::Failed { error, retryable } => {
                let error = error.chars().take(commands::runs::TEXT_MAX_CHARS).collect();
                RunCommand::from(FailStep { step_id: step_id.to_owned(), attempt, error, retryable })
            }
        };
        let report = CommandRequest::run(run_id, report);
        match self.send(caller, report, None, correlation_id).await? {
            // What the executor returned cannot be recorded (an event over the size limit):
            // the attempt fails for good, with the reason.
            Sent::Refused(CommandError::Rejected {
                kind: RejectionKind::Invalid | RejectionKind::TooLarge,
                code,
                detail,
                ..
            }) => {
                let error = format!("{code}: {detail}").chars().take(commands::runs::TEXT_MAX_CHARS).collect();
                let fail = FailStep { step_id: step_id.to_owned(), attempt, error, retryable: false };
                self.send(caller, CommandRequest::run(run_id, RunCommand::from(fail)), None, correlation_id)
                    .await
                    .map(drop)
            }
            // Otherwise a refusal means the attempt timed out or the run ended meanwhile.
            Sent::Accepted | Sent::Refused(_) => Ok(()),
        }
    }

    /// Captures every attempt's cost that is not captured yet, then releases what remains.
    /// The idempotency keys are the ones the per-attempt captures use, so nothing is captured
    /// twice whichever runs first; those done already are skipped after one read of the keys.
    async fn settle(&self, run_id: RunId, caller: &Caller, correlation_id: Uuid) -> Result<(), TryAgain> {
        let history = self.history(run_id.stream()).await?;
        let Some(run) = fold::<RunAggregate>(&history)?.0 else {
            return Ok(());
        };
        let mut captures = Vec::new();
        for recorded in &history {
            let (step_id, attempt, amount) = match <RunAggregate as Decider>::Event::from_recorded(recorded) {
                Ok(events::runs::RunEvent::StepSucceeded(e)) => (e.step_id, e.attempt, e.cost),
                Ok(events::runs::RunEvent::StepFailed(e)) => (e.step_id, e.attempt, e.cost),
                _ => continue,
            };
            if amount > 0 {
                captures.push((plan::capture_key(run_id, &step_id, attempt), amount));
            }
        }
        let keys: Vec<&str> = captures.iter().map(|(key, _)| key.as_str()).collect();
        let captured = self.inner.service.used_keys(caller, &keys).await?;
        for (key, amount) in captures {
            if captured.contains(&key) {
                continue;
            }
            let capture = BillingCommand::from(CaptureCredits { reservation_id: run_id.uuid(), amount });
            let capture = CommandRequest::billing(WorkspaceId(run.workspace_id), capture);
            if let Sent::Refused(refusal) = self.send(caller, capture, Some(key), correlation_id).await? {
                tracing::error!(%run_id, code = refusal.code(), detail = %refusal, "a capture was refused");
            }
        }
        self.release(run_id, WorkspaceId(run.workspace_id), caller, correlation_id).await
    }

    async fn release(
        &self,
        run_id: RunId,
        workspace_id: WorkspaceId,
        caller: &Caller,
        correlation_id: Uuid,
    ) -> Result<(), TryAgain> {
        let release = BillingCommand::from(ReleaseReservation { reservation_id: run_id.uuid() });
        let release = CommandRequest::billing(workspace_id, release);
        // Refused when nothing was reserved (the run ended before its budget was).
        self.send(caller, release, Some(format!("release:{run_id}")), correlation_id).await.map(drop)
    }

    /// Sends a command as `caller`. A refusal is an answer (the state moved on); a stream that
    /// kept moving or an unavailable log is worth trying again later.
    async fn send(
        &self,
        caller: &Caller,
        request: CommandRequest,
        idempotency_key: Option<String>,
        correlation_id: Uuid,
    ) -> Result<Sent, TryAgain> {
        let command_type = request.command.command_type();
        match self.inner.service.execute(request, caller, idempotency_key.as_deref(), correlation_id).await {
            Ok(_) => Ok(Sent::Accepted),
            // The stream kept moving under it (the service decides again a few times first).
            Err(error @ (CommandError::Conflict { .. } | CommandError::Unavailable(_))) => Err(error.into()),
            Err(refusal @ (CommandError::Rejected { .. } | CommandError::IdempotencyKeyReused)) => {
                tracing::debug!(command = command_type, code = refusal.code(), "a saga command was refused");
                Ok(Sent::Refused(refusal))
            }
        }
    }

    async fn history(&self, stream: StreamId) -> Result<Vec<RecordedEvent>, TryAgain> {
        store::read_stream(&self.inner.pool, &stream.to_string(), 0).await.map_err(|error| TryAgain(error.to_string()))
    }

    async fn load<A>(&self, stream: StreamId) -> Result<A::State, TryAgain>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        fold::<A>(&self.history(stream).await?)
    }
}

/// The suspension reason the billing saga gives, and the only one it lifts.
pub use commands::workspace::OVERDUE;

enum Sent {
    Accepted,
    Refused(CommandError),
}

fn fold<A>(history: &[RecordedEvent]) -> Result<A::State, TryAgain>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    A::fold_recorded(A::State::default(), history).map_err(|error| TryAgain(error.to_string()))
}

fn correlation_of(event: &RecordedEvent) -> Uuid {
    event
        .metadata
        .get("correlation_id")
        .and_then(|id| id.as_str())
        .and_then(|id| id.parse().ok())
        .unwrap_or(event.event_id)
}

fn work_kind(work: &Work) -> &'static str {
    match work {
        Work::ReserveBudget { .. } => "reserve_budget",
        Work::Dispatch { .. } => "dispatch",
        Work::TimeOutStep { .. } => "time_out_step",
        Work::RetryStep { .. } => "retry_step",
        Work::CaptureUsage { .. } => "capture_usage",
        Work::Settle { .. } => "settle",
        Work::SuspendIfUnpaid { .. } => "suspend_if_unpaid",
        Work::ReactivateIfPaid { .. } => "reactivate_if_paid",
        Work::NotifyLowBalance { .. } => "notify_low_balance",
    }
}
