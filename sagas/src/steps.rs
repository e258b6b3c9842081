//! The steps' effects: what each piece of saga work does, through the command service as the
//! saga's own caller. Each is safe to do twice: the deciders refuse stale reports and late
//! timers, and money moves under idempotency keys named for the run and attempt.

use app::{Caller, CommandError, CommandRequest, CommandService};
use commands::billing::{Billing, BillingCommand, CaptureCredits, ReleaseReservation, ReserveCredits};
use commands::runs::{
    BeginRun, CompleteStep, FailStep, RejectRun, RetryStep, RunAggregate, RunCommand, RunStatus, StepStatus,
    TimeOutStep,
};
use commands::workspace::{ReactivateWorkspace, SuspendWorkspace, Workspace, WorkspaceCommand};
use commands::{Aggregate, Decider, RejectionKind};
use events::workflows::StepKind;
use events::workspace::Role;
use events::{DomainEvent, RecordedEvent, RunId, StreamId, WorkspaceId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::executors::{Executors, Outcome, Scheduled, Task};
use crate::plan::{self, BILLING_SAGA, RUN_SAGA, Work};

/// The suspension reason the billing saga gives, and the only one it lifts.
pub use commands::workspace::OVERDUE;

/// Why a piece of work did not finish: to be tried again later.
#[derive(Debug)]
pub(crate) struct TryAgain(pub String);

/// Where a piece of work that did not fail stands.
#[derive(Debug, PartialEq)]
pub(crate) enum Progress {
    /// Done, or moot.
    Done,
    /// Waiting until this moment (a sleep), when it is to be carried out again.
    WakeAt(chrono::DateTime<chrono::Utc>),
}

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

/// What carries the work out: the log to read, the command service to act through, and the
/// executors that run attempts and send notifications.
pub(crate) struct Steps {
    pool: PgPool,
    service: CommandService,
    executors: Executors,
}

impl Steps {
    pub fn new(pool: PgPool, service: CommandService, executors: Executors) -> Steps {
        Steps { pool, service, executors }
    }

    /// Does `work`: how far it got, or `TryAgain` when it should be tried again later.
    pub async fn perform(&self, work: &Work, correlation_id: Uuid) -> Result<Progress, TryAgain> {
        let run_saga = Caller::saga(RUN_SAGA);
        let send = |caller, command, key| self.send(caller, command, key, correlation_id);
        let done = match work {
            Work::ReserveBudget { run_id } => self.reserve_budget(*run_id, &run_saga, correlation_id).await,
            // The one kind of work that may wait.
            Work::Dispatch { run_id, step_id, attempt } => {
                return self.dispatch(*run_id, step_id, *attempt, &run_saga, correlation_id).await;
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
            Work::CancelTasks { run_id } => self.cancel_tasks(*run_id).await,
            Work::SuspendIfUnpaid { workspace_id, invoice_id } => {
                self.suspend_if_unpaid(*workspace_id, *invoice_id, correlation_id).await
            }
            Work::ReactivateIfPaid { workspace_id } => self.reactivate_if_paid(*workspace_id, correlation_id).await,
            Work::NotifyAwaiting { run_id, step_id } => self.notify_awaiting(*run_id, step_id).await,
            Work::NotifyLowBalance { workspace_id, balance, threshold } => {
                let notification = serde_json::json!({
                    "type": "low_balance",
                    "workspace_id": workspace_id,
                    "balance": balance,
                    "threshold": threshold,
                });
                self.executors.notify(workspace_id.uuid(), &notification).await.map_err(TryAgain::from)
            }
        };
        done.map(|()| Progress::Done)
    }

    /// Tells whoever watches the notifications topic that a step waits for an answer, and who
    /// may give it. Never the step's input: the topic is shared by every workspace.
    async fn notify_awaiting(&self, run_id: RunId, step_id: &str) -> Result<(), TryAgain> {
        let state = self.load::<RunAggregate>(run_id.stream()).await?;
        let Some(run) = state.0.as_ref().filter(|run| !run.status.is_final()) else {
            return Ok(());
        };
        let Some(step) = run.steps.iter().find(|s| s.planned.id == step_id && s.status == StepStatus::Waiting) else {
            return Ok(());
        };
        let (kind, who, least) = match step.planned.kind {
            StepKind::Signal => ("signal_requested", "signalers", step.planned.signalers),
            _ => ("approval_requested", "approvers", step.planned.approvers),
        };
        let mut notification = serde_json::json!({
            "type": kind,
            "workspace_id": run.workspace_id,
            "run_id": run_id,
            "step_id": step_id,
            "deadline": step.deadline,
        });
        notification[who] = serde_json::json!(least.unwrap_or(Role::Member));
        if step.planned.kind == StepKind::Signal {
            notification["signal_agent_id"] = serde_json::json!(step.planned.signal_agent_id);
        }
        self.executors.notify(run.workspace_id, &notification).await.map_err(TryAgain::from)
    }

    async fn suspend_if_unpaid(
        &self,
        workspace_id: WorkspaceId,
        invoice_id: Uuid,
        correlation_id: Uuid,
    ) -> Result<(), TryAgain> {
        let account = self.load::<Billing>(workspace_id.billing_stream()).await?;
        let unpaid = account.invoices.get(&invoice_id).is_some_and(|invoice| invoice.paid < invoice.amount);
        if !unpaid {
            return Ok(());
        }
        let suspend = SuspendWorkspace { reason: Some(OVERDUE.into()) };
        let command = CommandRequest::workspace(workspace_id, WorkspaceCommand::from(suspend));
        // Invoice ids are the tenant's choice: the key names the workspace too, or one
        // workspace's suspension would answer another's.
        let key = format!("suspend:{workspace_id}:{invoice_id}");
        self.send(&Caller::saga(BILLING_SAGA), command, Some(key), correlation_id).await.map(drop)
    }

    async fn reactivate_if_paid(&self, workspace_id: WorkspaceId, correlation_id: Uuid) -> Result<(), TryAgain> {
        let account = self.load::<Billing>(workspace_id.billing_stream()).await?;
        if account.invoices.values().any(|invoice| invoice.paid < invoice.amount) {
            return Ok(());
        }
        let workspace = self.load::<Workspace>(workspace_id.stream()).await?;
        // Only a suspension for an overdue invoice is the billing saga's to lift.
        if !workspace.suspended || workspace.suspension_reason.as_deref() != Some(OVERDUE) {
            return Ok(());
        }
        let command = CommandRequest::workspace(workspace_id, WorkspaceCommand::from(ReactivateWorkspace {}));
        self.send(&Caller::saga(BILLING_SAGA), command, None, correlation_id).await.map(drop)
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

    /// Hands the attempt to its executor, if it is still the step's current one and its
    /// deadline has not passed (then its timer ends it), and reports what the executor said.
    async fn dispatch(
        &self,
        run_id: RunId,
        step_id: &str,
        attempt: u32,
        caller: &Caller,
        correlation_id: Uuid,
    ) -> Result<Progress, TryAgain> {
        let history = self.history(run_id.stream()).await?;
        let state = fold::<RunAggregate>(&history)?;
        let Some(run) = state.0.as_ref().filter(|run| !run.status.is_final()) else {
            return Ok(Progress::Done);
        };
        // The event that scheduled this attempt holds its input: an external worker's lease
        // reads it from there.
        let scheduled = history.iter().rev().find(|recorded| {
            matches!(<RunAggregate as Decider>::Event::from_recorded(recorded),
                Ok(events::runs::RunEvent::StepScheduled(e)) if e.step_id == step_id && e.attempt == attempt)
        });
        let Some(scheduled) =
            scheduled.map(|recorded| Scheduled { position: recorded.position, at: recorded.recorded_at })
        else {
            return Ok(Progress::Done);
        };
        let Some(step) = run.steps.iter().find(|s| {
            s.planned.id == step_id
                && s.attempt == attempt
                && matches!(s.status, StepStatus::Scheduled | StepStatus::Running)
        }) else {
            return Ok(Progress::Done);
        };
        // Only an agent's step is dispatched; the others wait for an answer.
        let (Some(agent_id), Some(executor)) = (step.planned.agent_id, step.planned.executor.as_ref()) else {
            return Ok(Progress::Done);
        };
        let deadline = step.deadline.unwrap_or_else(chrono::Utc::now);
        if deadline <= chrono::Utc::now() {
            return Ok(Progress::Done);
        }
        let task = Task {
            run_id: run_id.uuid(),
            workspace_id: run.workspace_id,
            step_id: step_id.to_owned(),
            attempt,
            agent_id,
            // What the attempt was scheduled with: the template resolved.
            input: step.input.clone().unwrap_or_default(),
            deadline,
        };
        let report = match self.executors.run(executor, &task, scheduled).await? {
            Outcome::HandedOver | Outcome::PastDeadline => return Ok(Progress::Done),
            Outcome::WakeAt(at) => return Ok(Progress::WakeAt(at)),
            Outcome::Completed { output, usage, artifacts } => {
                RunCommand::from(CompleteStep { step_id: step_id.to_owned(), attempt, output, usage, artifacts })
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
                self.send(caller, CommandRequest::run(run_id, RunCommand::from(fail)), None, correlation_id).await?;
                Ok(Progress::Done)
            }
            // Otherwise a refusal means the attempt timed out or the run ended meanwhile.
            Sent::Accepted | Sent::Refused(_) => Ok(Progress::Done),
        }
    }

    /// Captures every attempt's cost that is not captured yet, then releases what remains.
    /// The idempotency keys are the ones the per-attempt captures use, so nothing is captured
    /// twice whichever runs first; those done already are skipped after one read of the keys.
    /// Tells the external attempts a failed or cancelled run left under way that they are over.
    /// Only the shared tasks topic needs telling: a lease over HTTP already answers
    /// `attempt_over`, the run's tasks having gone with its end.
    async fn cancel_tasks(&self, run_id: RunId) -> Result<(), TryAgain> {
        if !self.executors.publishes_tasks() {
            return Ok(());
        }
        let history = self.history(run_id.stream()).await?;
        // Nothing follows a run's end: the run just before it had these attempts under way.
        let Some((_, before_end)) = history.split_last() else { return Ok(()) };
        let Some(run) = fold::<RunAggregate>(before_end)?.0 else { return Ok(()) };
        let under_way = run.steps.iter().filter(|step| {
            matches!(step.status, StepStatus::Scheduled | StepStatus::Running)
                && step.planned.executor == Some(events::agents::Executor::External)
        });
        for step in under_way {
            let Some(agent_id) = step.planned.agent_id else { continue };
            let attempt = crate::tasks::Attempt {
                run_id: run_id.uuid(),
                step_id: step.planned.id.clone(),
                attempt: step.attempt,
            };
            self.executors.cancel_task(&attempt, run.workspace_id, agent_id).await?;
        }
        Ok(())
    }

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
        let captured = self.service.used_keys(caller, &keys).await?;
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
        match self.service.execute(request, caller, idempotency_key.as_deref(), correlation_id).await {
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
        store::read_stream(&self.pool, &stream.to_string(), 0).await.map_err(|error| TryAgain(error.to_string()))
    }

    async fn load<A>(&self, stream: StreamId) -> Result<A::State, TryAgain>
    where
        A: Aggregate,
        A::Event: DomainEvent,
    {
        fold::<A>(&self.history(stream).await?)
    }
}

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
