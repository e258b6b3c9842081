//! What each event asks the sagas to do: pure, like the deciders. The times come from the
//! events themselves (a step's deadline, a retry's backoff, an invoice's due date), so a
//! restart or a replay plans the same work for the same moments.

use chrono::{DateTime, Utc};
use events::billing::BillingEvent;
use events::runs::RunEvent;
use events::{Category, DomainEvent, RecordedEvent, RunId, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const RUN_SAGA: &str = "run-saga";
pub const BILLING_SAGA: &str = "billing-saga";

/// One piece of work a saga has decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Work {
    /// Reserve the run's budget, then begin the run, or reject it.
    ReserveBudget { run_id: RunId },
    /// Hand an attempt to its step's executor.
    Dispatch { run_id: RunId, step_id: String, attempt: u32 },
    /// An attempt's deadline has come.
    TimeOutStep { run_id: RunId, step_id: String, attempt: u32 },
    /// A retry's backoff is over.
    RetryStep { run_id: RunId, step_id: String, attempt: u32 },
    /// Capture what one attempt cost from the run's reservation.
    CaptureUsage { run_id: RunId, workspace_id: WorkspaceId, step_id: String, attempt: u32, amount: i64 },
    /// The run is over: capture whatever is not captured yet, release the rest.
    Settle { run_id: RunId },
    /// The run failed or was cancelled: tell the external attempts it left under way that they
    /// are over, on the shared tasks topic where there is one.
    CancelTasks { run_id: RunId },
    /// An invoice's due date has come: suspend the workspace if it is still unpaid.
    SuspendIfUnpaid { workspace_id: WorkspaceId, invoice_id: Uuid },
    /// A payment came in: reactivate the workspace if nothing is outstanding any more.
    ReactivateIfPaid { workspace_id: WorkspaceId },
    /// Tell whoever may answer a waiting step that it waits, on the notifications topic.
    NotifyAwaiting { run_id: RunId, step_id: String },
    /// Tell the workspace's owners that its balance is low, on the notifications topic.
    NotifyLowBalance { workspace_id: WorkspaceId, balance: i64, threshold: i64 },
}

/// Work, with the saga it belongs to, a key that names it (planning it twice keeps one), and
/// when it is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub saga: &'static str,
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub work: Work,
    /// The workspace the work is for: it counts against that workspace's share of the leases.
    pub workspace_id: Option<Uuid>,
}

/// The work `event` asks for. Events of streams no saga follows ask for nothing.
pub fn plan(event: &RecordedEvent) -> events::Result<Vec<Planned>> {
    match event.stream().map(|stream| stream.category) {
        Some(Category::Run) => plan_run(event, &RunEvent::from_recorded(event)?),
        Some(Category::Billing) => plan_billing(event, &BillingEvent::from_recorded(event)?),
        _ => Ok(Vec::new()),
    }
}

/// Whether the sagas ever react to events of `event`'s stream: runs' and billing accounts'.
/// The rest need not even be recorded as handled.
pub fn concerns(event: &RecordedEvent) -> bool {
    concerns_stream(&event.stream_id)
}

/// Whether the sagas ever react to events of the stream named `stream_id`.
pub fn concerns_stream(stream_id: &str) -> bool {
    matches!(StreamId::parse(stream_id).map(|stream| stream.category), Some(Category::Run | Category::Billing))
}

/// What names the capture of one attempt's cost: the key of its work, and the idempotency key
/// of the `CaptureCredits` that both the work and the run's settlement send, so that whichever
/// comes second is answered from the first.
pub fn capture_key(run_id: RunId, step_id: &str, attempt: u32) -> String {
    format!("capture:{run_id}:{step_id}:{attempt}")
}

/// Keys of `saga_work` from `from` (included) to `until` (excluded), in byte order: the key
/// column's collation is "C", so a range is one stretch of its unique index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub from: String,
    pub until: String,
}

impl KeyRange {
    /// Exactly `key`: no text sorts between it and itself followed by U+0001 (text has no NUL).
    fn key(key: String) -> KeyRange {
        let until = format!("{key}\u{1}");
        KeyRange { from: key, until }
    }

    /// Every key that starts with `prefix`, which ends in `:` (the next byte is `;`).
    fn under(prefix: String) -> KeyRange {
        debug_assert!(prefix.ends_with(':'));
        let until = format!("{};", &prefix[..prefix.len() - 1]);
        KeyRange { from: prefix, until }
    }
}

/// The run saga's work that `event` makes moot: an attempt's timer once the attempt is over (and
/// its dispatch once it timed out), and every timer and dispatch of a run once it is over. Moot
/// work would change nothing if it ran; dropping it keeps `saga_work` small, and work dropped
/// while under way is abandoned (a webhook call cut off, a sleep ended).
pub fn moot(event: &RecordedEvent) -> Vec<KeyRange> {
    let (Some(run_id), Ok(run_event)) = (event.aggregate_id(Category::Run), RunEvent::from_recorded(event)) else {
        return Vec::new();
    };
    let attempt_over =
        |step_id: &str, attempt: u32| vec![KeyRange::key(format!("timeout:{run_id}:{step_id}:{attempt}"))];
    match run_event {
        RunEvent::StepSucceeded(e) => attempt_over(&e.step_id, e.attempt),
        RunEvent::StepFailed(e) => attempt_over(&e.step_id, e.attempt),
        RunEvent::StepTimedOut(e) => {
            let dispatch = format!("dispatch:{run_id}:{}:{}", e.step_id, e.attempt);
            [attempt_over(&e.step_id, e.attempt), vec![KeyRange::key(dispatch)]].concat()
        }
        RunEvent::RunSucceeded(_) | RunEvent::RunFailed(_) | RunEvent::RunCancelled(_) | RunEvent::RunRejected(_) => {
            ["timeout", "retry", "dispatch"].iter().map(|kind| KeyRange::under(format!("{kind}:{run_id}:"))).collect()
        }
        _ => Vec::new(),
    }
}

fn run_id(event: &RecordedEvent) -> events::Result<RunId> {
    event.aggregate_id(Category::Run).map(RunId).ok_or_else(|| events::Error::MalformedPayload {
        event_type: event.event_type.clone(),
        reason: "a run stream without a run id".into(),
    })
}

fn plan_run(recorded: &RecordedEvent, event: &RunEvent) -> events::Result<Vec<Planned>> {
    let run_id = run_id(recorded)?;
    let now = recorded.recorded_at;
    let workspace_id = recorded.workspace_id();
    let work =
        |key: String, due_at: DateTime<Utc>, work: Work| Planned { saga: RUN_SAGA, key, due_at, work, workspace_id };
    let planned = match event {
        RunEvent::RunRequested(_) => vec![work(format!("reserve:{run_id}"), now, Work::ReserveBudget { run_id })],
        RunEvent::StepScheduled(e) => {
            let (step_id, attempt) = (e.step_id.clone(), e.attempt);
            let key = format!("{run_id}:{step_id}:{attempt}");
            vec![
                work(format!("dispatch:{key}"), now, Work::Dispatch { run_id, step_id: step_id.clone(), attempt }),
                work(format!("timeout:{key}"), e.deadline, Work::TimeOutStep { run_id, step_id, attempt }),
            ]
        }
        // A step that waits for a person holds no worker: it is announced, and timed out at
        // its deadline unless answered first.
        RunEvent::StepAwaiting(e) => {
            let (step_id, attempt) = (e.step_id.clone(), e.attempt);
            vec![
                work(
                    format!("{}:{run_id}:{step_id}", e.kind.as_str()),
                    now,
                    Work::NotifyAwaiting { run_id, step_id: step_id.clone() },
                ),
                work(
                    format!("timeout:{run_id}:{step_id}:{attempt}"),
                    e.deadline,
                    Work::TimeOutStep { run_id, step_id, attempt },
                ),
            ]
        }
        RunEvent::StepRetryScheduled(e) => vec![work(
            format!("retry:{run_id}:{}:{}", e.step_id, e.attempt),
            e.at,
            Work::RetryStep { run_id, step_id: e.step_id.clone(), attempt: e.attempt },
        )],
        RunEvent::StepSucceeded(events::runs::StepSucceeded { step_id, attempt, cost, .. })
        | RunEvent::StepFailed(events::runs::StepFailed { step_id, attempt, cost, .. })
            if *cost > 0 =>
        {
            let Some(workspace_id) = recorded.workspace_id().map(WorkspaceId) else {
                return Ok(Vec::new());
            };
            vec![work(
                capture_key(run_id, step_id, *attempt),
                now,
                Work::CaptureUsage { run_id, workspace_id, step_id: step_id.clone(), attempt: *attempt, amount: *cost },
            )]
        }
        RunEvent::RunSucceeded(_) => vec![work(format!("settle:{run_id}"), now, Work::Settle { run_id })],
        // A run that succeeded left nothing under way; one that failed or was cancelled may have.
        RunEvent::RunFailed(_) | RunEvent::RunCancelled(_) => vec![
            work(format!("settle:{run_id}"), now, Work::Settle { run_id }),
            work(format!("cancel:{run_id}"), now, Work::CancelTasks { run_id }),
        ],
        _ => Vec::new(),
    };
    Ok(planned)
}

fn plan_billing(recorded: &RecordedEvent, event: &BillingEvent) -> events::Result<Vec<Planned>> {
    let Some(workspace_id) = recorded.workspace_id().map(WorkspaceId) else {
        return Ok(Vec::new());
    };
    let work = |key: String, due_at: DateTime<Utc>, work: Work| Planned {
        saga: BILLING_SAGA,
        key,
        due_at,
        work,
        workspace_id: Some(workspace_id.uuid()),
    };
    let planned = match event {
        BillingEvent::BillingPeriodClosed(e) if e.amount > 0 => vec![work(
            // Invoice ids are the tenant's choice: the key names the workspace too.
            format!("due:{workspace_id}:{}", e.invoice_id),
            e.due_at,
            Work::SuspendIfUnpaid { workspace_id, invoice_id: e.invoice_id },
        )],
        BillingEvent::BalanceLow(e) => vec![work(
            format!("low:{}", recorded.event_id),
            recorded.recorded_at,
            Work::NotifyLowBalance { workspace_id, balance: e.balance, threshold: e.threshold },
        )],
        BillingEvent::PaymentRecorded(_) => vec![work(
            format!("paid:{}", recorded.event_id),
            recorded.recorded_at,
            Work::ReactivateIfPaid { workspace_id },
        )],
        _ => Vec::new(),
    };
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use events::runs::{RunRequested, StepScheduled, StepSucceeded};
    use events::{Metadata, NewEvent};
    use serde_json::json;

    use super::*;

    fn recorded(stream_id: &str, event: &impl DomainEvent) -> RecordedEvent {
        let metadata = Metadata {
            actor: "alice".into(),
            workspace_id: Some(Uuid::from_u128(7)),
            correlation_id: Uuid::from_u128(8),
            causation_id: Uuid::from_u128(9),
        };
        let new = NewEvent::from_domain(Uuid::from_u128(1), event, &metadata);
        RecordedEvent {
            position: 1,
            stream_id: stream_id.into(),
            stream_version: 1,
            event_id: new.event_id,
            event_type: new.event_type,
            schema_version: new.schema_version,
            payload: new.payload,
            metadata: new.metadata,
            recorded_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            hash: events::GENESIS_HASH,
        }
    }

    #[test]
    fn a_scheduled_attempt_is_dispatched_now_and_timed_out_at_its_recorded_deadline() {
        let run = Uuid::from_u128(3);
        let deadline = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 30).unwrap();
        let event = RunEvent::from(StepScheduled { step_id: "fetch".into(), attempt: 2, input: json!({}), deadline });
        let planned = plan(&recorded(&format!("run-{run}"), &event)).unwrap();
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[0].work, Work::Dispatch { run_id: RunId(run), step_id: "fetch".into(), attempt: 2 });
        assert_eq!(planned[0].due_at, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(planned[1].work, Work::TimeOutStep { run_id: RunId(run), step_id: "fetch".into(), attempt: 2 });
        assert_eq!(planned[1].due_at, deadline);
        assert_ne!(planned[0].key, planned[1].key);
    }

    #[test]
    fn a_request_asks_for_its_budget_and_a_costly_attempt_for_its_capture() {
        let run = Uuid::from_u128(3);
        let requested = RunEvent::from(RunRequested {
            run_id: run,
            workspace_id: Uuid::from_u128(7),
            workflow_id: Uuid::from_u128(4),
            workflow_version: 1,
            input: json!(null),
            budget: 10,
            steps: Vec::new(),
            output: None,
            retry_of: None,
        });
        let planned = plan(&recorded(&format!("run-{run}"), &requested)).unwrap();
        assert_eq!(planned[0].work, Work::ReserveBudget { run_id: RunId(run) });

        let succeeded = |cost| {
            RunEvent::from(StepSucceeded {
                step_id: "a".into(),
                attempt: 1,
                output: json!(1),
                input_tokens: 0,
                output_tokens: 0,
                duration_ms: 1,
                cost,
                artifacts: Vec::new(),
            })
        };
        let planned = plan(&recorded(&format!("run-{run}"), &succeeded(3))).unwrap();
        assert_eq!(
            planned[0].work,
            Work::CaptureUsage {
                run_id: RunId(run),
                workspace_id: WorkspaceId(Uuid::from_u128(7)),
                step_id: "a".into(),
                attempt: 1,
                amount: 3
            }
        );
        assert!(plan(&recorded(&format!("run-{run}"), &succeeded(0))).unwrap().is_empty());
    }

    #[test]
    fn a_finished_attempt_drops_its_timer_and_a_finished_run_all_of_its_work() {
        let run = Uuid::from_u128(3);
        let stream = format!("run-{run}");
        let timed_out = RunEvent::from(events::runs::StepTimedOut { step_id: "load_50%".into(), attempt: 2 });
        let range = |from: String, until: String| KeyRange { from, until };
        // A timed-out attempt's dispatch goes too: a call still under way is abandoned.
        assert_eq!(
            moot(&recorded(&stream, &timed_out)),
            [
                range(format!("timeout:{run}:load_50%:2"), format!("timeout:{run}:load_50%:2\u{1}")),
                range(format!("dispatch:{run}:load_50%:2"), format!("dispatch:{run}:load_50%:2\u{1}")),
            ]
        );
        let ended = RunEvent::from(events::runs::RunCancelled { reason: "stop".into(), credits_used: 0 });
        assert_eq!(
            moot(&recorded(&stream, &ended)),
            [
                range(format!("timeout:{run}:"), format!("timeout:{run};")),
                range(format!("retry:{run}:"), format!("retry:{run};")),
                range(format!("dispatch:{run}:"), format!("dispatch:{run};")),
            ]
        );
        assert!(moot(&recorded(&stream, &RunEvent::from(events::runs::RunStarted { reservation_id: run }))).is_empty());
    }

    #[test]
    fn an_invoice_is_checked_when_it_falls_due() {
        let due_at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(14);
        let invoice = Uuid::from_u128(5);
        let closed = |amount| {
            BillingEvent::from(events::billing::BillingPeriodClosed {
                invoice_id: invoice,
                amount,
                captured_in_period: 0,
                due_at,
            })
        };
        let planned = plan(&recorded("billing-00000000-0000-0000-0000-000000000007", &closed(40))).unwrap();
        assert_eq!(
            planned[0].work,
            Work::SuspendIfUnpaid { workspace_id: WorkspaceId(Uuid::from_u128(7)), invoice_id: invoice }
        );
        assert_eq!(planned[0].due_at, due_at);
        // Nothing to pay, nothing to chase.
        assert!(plan(&recorded("billing-00000000-0000-0000-0000-000000000007", &closed(0))).unwrap().is_empty());
    }
}
