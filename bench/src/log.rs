//! A generated log for the audit, catch-up and rebuild figures: the run workload as the
//! command path and the run saga write it. A hundred workspaces, each with its billing account;
//! then five-step runs (18 events each), each with its billing (a reservation, a capture per
//! step, the release of the rest): 25 events a run. Hash-chained and COPYed into an empty,
//! migrated database.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, Utc};
use events::billing::{BillingAccountOpened, CreditsCaptured, CreditsGranted, CreditsReserved, ReservationReleased};
use events::workspace::WorkspaceCreated;
use events::{ChainHash, GENESIS_HASH, RecordedEvent};
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

const STEPS: [(&str, &[&str]); 5] = [
    ("fetch", &[]),
    ("clean", &["fetch"]),
    ("summarize", &["fetch"]),
    ("merge", &["clean", "summarize"]),
    ("report", &["merge"]),
];
/// What a step costs, and a run's budget.
const STEP_COST: i64 = 2;
const BUDGET: i64 = 100;
/// Events per COPY round trip.
const CHUNK: usize = 20_000;

/// Writes about `events` events (whole runs) to the empty log at `database_url`.
pub async fn generate(database_url: &str, events: usize) -> anyhow::Result<Value> {
    let mut connection = sqlx::PgConnection::connect(database_url).await.context("connecting to PostgreSQL")?;
    let (head,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&mut connection).await?;
    anyhow::ensure!(head == 0, "the log at {database_url} is not empty");
    let started = std::time::Instant::now();
    let now = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is a time");
    let mut log = Log::new(now);
    let workspaces: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    for &workspace in &workspaces {
        for (event_type, payload) in workspace_events(workspace) {
            let stream = if event_type == "WorkspaceCreated" {
                events::workspace::stream_id(workspace)
            } else {
                billing(workspace)
            };
            log.push(&stream, event_type, payload, workspace, "bench-owner");
        }
    }
    let (agent, workflow) = (Uuid::now_v7(), Uuid::now_v7());
    let mut runs = 0usize;
    while log.position() < events {
        let workspace = workspaces[runs % workspaces.len()];
        let run_id = Uuid::now_v7();
        for (event_type, payload) in run_events(run_id, workspace, workflow, agent, now) {
            log.push(&events::runs::stream_id(run_id), event_type, payload, workspace, "system:run-saga");
        }
        for (event_type, payload) in billing_events(run_id) {
            log.push(&billing(workspace), event_type, payload, workspace, "system:run-saga");
        }
        runs += 1;
        if log.pending() >= CHUNK {
            copy(&mut connection, &log.take()).await?;
        }
    }
    copy(&mut connection, &log.take()).await?;
    sqlx::query("update log_head set position = $1, hash = $2")
        .bind(log.position() as i64)
        .bind(log.previous.0.to_vec())
        .execute(&mut connection)
        .await?;
    sqlx::query("analyze events").execute(&mut connection).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({"events": log.position(), "runs": runs, "seconds": seconds}))
}

fn billing(workspace: Uuid) -> String {
    events::billing::stream_id(workspace)
}

/// Events hash-chained in log order and written as COPY rows.
struct Log {
    position: i64,
    versions: HashMap<String, i64>,
    previous: ChainHash,
    scratch: Vec<u8>,
    text: String,
    pending: usize,
    now: DateTime<Utc>,
}

impl Log {
    fn new(now: DateTime<Utc>) -> Log {
        Log {
            position: 0,
            versions: HashMap::new(),
            previous: GENESIS_HASH,
            scratch: Vec::with_capacity(4096),
            text: String::with_capacity(CHUNK * 700),
            pending: 0,
            now,
        }
    }

    fn push(&mut self, stream_id: &str, event_type: &str, payload: Value, workspace: Uuid, actor: &str) {
        let version = self.versions.entry(stream_id.to_owned()).or_default();
        *version += 1;
        self.position += 1;
        let correlation = Uuid::now_v7();
        let mut event = RecordedEvent {
            position: self.position,
            stream_id: stream_id.to_owned(),
            stream_version: *version,
            event_id: Uuid::now_v7(),
            event_type: event_type.to_owned(),
            schema_version: 1,
            payload,
            metadata: json!({"actor": actor, "workspace_id": workspace,
                "correlation_id": correlation, "causation_id": correlation}),
            recorded_at: self.now,
            hash: GENESIS_HASH,
        };
        event.hash = event.hashed_fields().chain(&self.previous, &mut self.scratch);
        self.previous = event.hash;
        copy_row(&mut self.text, &event);
        self.pending += 1;
    }

    fn position(&self) -> usize {
        self.position as usize
    }

    fn pending(&self) -> usize {
        self.pending
    }

    /// The rows written since the last take.
    fn take(&mut self) -> String {
        self.pending = 0;
        std::mem::take(&mut self.text)
    }
}

async fn copy(connection: &mut sqlx::PgConnection, text: &str) -> anyhow::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut copy = connection
        .copy_in_raw(
            "copy events (position, stream_id, stream_version, event_id, event_type, schema_version, payload, \
             metadata, recorded_at, hash) from stdin with (format csv)",
        )
        .await?;
    copy.send(text.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

fn copy_row(text: &mut String, event: &RecordedEvent) {
    let quoted = |value: &Value| value.to_string().replace('"', "\"\"");
    let _ = writeln!(
        text,
        "{},{},{},{},{},{},\"{}\",\"{}\",{},\\x{}",
        event.position,
        event.stream_id,
        event.stream_version,
        event.event_id,
        event.event_type,
        event.schema_version,
        quoted(&event.payload),
        quoted(&event.metadata),
        event.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.hash.to_hex(),
    );
}

/// A five-step run from request to success, as the run saga and the builtin echo agent write it.
fn run_events(
    run: Uuid,
    workspace: Uuid,
    workflow: Uuid,
    agent: Uuid,
    now: DateTime<Utc>,
) -> Vec<(&'static str, Value)> {
    let planned: Vec<Value> = STEPS
        .iter()
        .map(|(id, depends_on)| {
            json!({"id": id, "agent_id": agent, "depends_on": depends_on, "input": {"topic": "otters"},
                "retry": {"max_attempts": 3, "backoff_ms": 1000}, "timeout_ms": 30_000,
                "executor": {"type": "builtin", "name": "echo", "config": {}},
                "price": {"per_call": STEP_COST, "per_1k_tokens": 0}})
        })
        .collect();
    let mut events = vec![
        (
            "RunRequested",
            json!({"run_id": run, "workspace_id": workspace, "workflow_id": workflow,
            "workflow_version": 1, "input": {"topic": "otters"}, "budget": BUDGET, "steps": planned}),
        ),
        ("RunStarted", json!({"reservation_id": run})),
    ];
    for (id, _) in STEPS {
        events.push((
            "StepScheduled",
            json!({"step_id": id, "attempt": 1, "input": {"topic": "otters"},
            "deadline": now + chrono::Duration::seconds(30)}),
        ));
        events.push(("StepStarted", json!({"step_id": id, "attempt": 1})));
        events.push((
            "StepSucceeded",
            json!({"step_id": id, "attempt": 1, "output": {"echo": {"topic": "otters"}},
            "tokens": 0, "duration_ms": 1, "cost": STEP_COST}),
        ));
    }
    events.push(("RunSucceeded", json!({"credits_used": STEP_COST * STEPS.len() as i64})));
    events
}

/// A workspace and its funded billing account.
fn workspace_events(workspace: Uuid) -> Vec<(&'static str, Value)> {
    vec![
        (
            "WorkspaceCreated",
            value(WorkspaceCreated { workspace_id: workspace, name: "Bench".into(), owner_id: "bench-owner".into() }),
        ),
        (
            "BillingAccountOpened",
            value(BillingAccountOpened {
                workspace_id: workspace,
                plan: "team".into(),
                overdraft_limit: 0,
                low_balance_threshold: 0,
            }),
        ),
        ("CreditsGranted", value(CreditsGranted { amount: 1_000_000_000, reason: "bench".into() })),
    ]
}

/// A run's billing, as the run saga settles it: the budget reserved, each step captured, the
/// rest released.
fn billing_events(run: Uuid) -> Vec<(&'static str, Value)> {
    let mut events = vec![(
        "CreditsReserved",
        value(CreditsReserved { reservation_id: run, amount: BUDGET, purpose: format!("run {run}") }),
    )];
    for _ in STEPS {
        events.push(("CreditsCaptured", value(CreditsCaptured { reservation_id: run, amount: STEP_COST })));
    }
    let rest = BUDGET - STEP_COST * STEPS.len() as i64;
    events.push(("ReservationReleased", value(ReservationReleased { reservation_id: run, amount: rest })));
    events
}

fn value(event: impl serde::Serialize) -> Value {
    serde_json::to_value(event).expect("an event serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::DomainEvent;

    #[test]
    fn generated_runs_are_events_the_run_decider_reads() {
        let (run, workspace) = (Uuid::now_v7(), Uuid::now_v7());
        let events = run_events(run, workspace, Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        assert_eq!(events.len(), 18);
        for (event_type, payload) in &events {
            let read = events::runs::RunEvent::from_stored(event_type, 1, payload).unwrap();
            assert_eq!(read.event_type(), *event_type);
        }
    }

    #[test]
    fn generated_billing_and_workspaces_are_events_their_deciders_read() {
        let workspace = Uuid::now_v7();
        let set_up = workspace_events(workspace);
        let (created, billing) = set_up.split_first().unwrap();
        events::workspace::WorkspaceEvent::from_stored(created.0, 1, &created.1).unwrap();
        for (event_type, payload) in billing.iter().chain(&billing_events(Uuid::now_v7())) {
            let read = events::billing::BillingEvent::from_stored(event_type, 1, payload).unwrap();
            assert_eq!(read.event_type(), *event_type);
        }
        let settled: i64 = billing_events(Uuid::now_v7())
            .iter()
            .filter(|(event_type, _)| *event_type != "CreditsReserved")
            .map(|(_, payload)| payload["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(settled, BUDGET, "captured + released = reserved");
    }
}
