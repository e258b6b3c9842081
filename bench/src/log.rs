//! Generated logs for the audit, catch-up and rebuild figures, hash-chained and COPYed into an
//! empty, migrated database, in one of two shapes:
//!
//! - [`Shape::Runs`], the mixed workload QUALITY.md names: workspaces with billing accounts,
//!   three agents and a workflow each; five-step runs (18 events) with their billing (a
//!   reservation, a capture per step, the release of the rest: 25 events a run); now and then a
//!   workflow revised or an agent updated (the events the projector applies one by one); the
//!   whole spread evenly over months, so usage by day has a row per agent and day.
//! - [`Shape::Workspaces`]: a workspace per event, as the throughput phase leaves a log: the
//!   many small tenants a rebuild of Redis meets.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use events::agents::{AgentKind, AgentRegistered, AgentUpdated, Builtin, Executor, Price};
use events::billing::{BillingAccountOpened, CreditsCaptured, CreditsGranted, CreditsReserved, ReservationReleased};
use events::workflows::{RetryPolicy, Step, WorkflowDefined, WorkflowRevised};
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
/// Agents per workspace; the workflow's steps take turns on them.
const AGENTS: usize = 3;
/// A workspace's workflow is revised after this many of its runs, and one of its agents
/// updated after five times as many.
const RUNS_PER_REVISION: usize = 40;

/// What a generated log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The mixed run workload, over `workspaces` workspaces, its events spread over `days` days
    /// ending now.
    Runs { workspaces: usize, days: u32 },
    /// A new workspace per event.
    Workspaces,
}

/// Writes about `events` events (whole runs) of `shape` to the empty log at `database_url`.
pub async fn generate(database_url: &str, events: usize, shape: Shape) -> anyhow::Result<Value> {
    let mut connection = sqlx::PgConnection::connect(database_url).await.context("connecting to PostgreSQL")?;
    let head = store::read_head(&mut connection).await?.position;
    anyhow::ensure!(head == 0, "the log at {database_url} is not empty");
    let started = std::time::Instant::now();
    let now = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is a time");
    let (summary, log) = match shape {
        Shape::Runs { workspaces, days } => {
            let mut log = Log::new(now - chrono::Duration::days(i64::from(days)), now, events);
            let summary = runs(&mut connection, &mut log, events, workspaces.max(1)).await?;
            (summary, log)
        }
        Shape::Workspaces => {
            let mut log = Log::new(now, now, events);
            for _ in 0..events {
                let workspace = Uuid::now_v7();
                let created =
                    WorkspaceCreated { workspace_id: workspace, name: "Bench".into(), owner_id: "bench-owner".into() };
                log.push(
                    &events::workspace::stream_id(workspace),
                    "WorkspaceCreated",
                    value(created),
                    workspace,
                    "bench-owner",
                );
                if log.pending() >= CHUNK {
                    copy(&mut connection, &log.take()).await?;
                }
            }
            (json!({"workspaces": events}), log)
        }
    };
    let mut log = log;
    copy(&mut connection, &log.take()).await?;
    store::bulk::set_head(&mut connection, store::Head { position: log.position() as i64, hash: log.previous }).await?;
    let seconds = started.elapsed().as_secs_f64();
    let mut summary = summary;
    summary["events"] = json!(log.position());
    summary["seconds"] = json!(seconds);
    Ok(summary)
}

/// A workspace of the run workload: its agents, its workflow, and how far its runs are.
struct Tenant {
    id: Uuid,
    agents: [Uuid; AGENTS],
    agent_versions: [u32; AGENTS],
    workflow: Uuid,
    workflow_version: u32,
    runs: usize,
}

async fn runs(
    connection: &mut sqlx::PgConnection,
    log: &mut Log,
    events: usize,
    workspaces: usize,
) -> anyhow::Result<Value> {
    let mut tenants: Vec<Tenant> = Vec::with_capacity(workspaces);
    for _ in 0..workspaces {
        let tenant = Tenant {
            id: Uuid::now_v7(),
            agents: std::array::from_fn(|_| Uuid::now_v7()),
            agent_versions: [1; AGENTS],
            workflow: Uuid::now_v7(),
            workflow_version: 1,
            runs: 0,
        };
        for (event_type, payload) in workspace_events(tenant.id) {
            let stream = match event_type {
                "WorkspaceCreated" => events::workspace::stream_id(tenant.id),
                _ => events::billing::stream_id(tenant.id),
            };
            log.push(&stream, event_type, payload, tenant.id, "bench-owner");
        }
        for agent in tenant.agents {
            let registered = AgentRegistered {
                agent_id: agent,
                workspace_id: tenant.id,
                name: "Echo".into(),
                kind: AgentKind::Tool,
                executor: echo(),
                price: Price { per_call: STEP_COST as u64, per_1k_input_tokens: 0, per_1k_output_tokens: 0 },
            };
            log.push(&events::agents::stream_id(agent), "AgentRegistered", value(registered), tenant.id, "bench-owner");
        }
        let defined = WorkflowDefined {
            workflow_id: tenant.workflow,
            workspace_id: tenant.id,
            name: "Five".into(),
            steps: steps(&tenant.agents, 1),
            output: None,
        };
        let stream = events::workflows::stream_id(tenant.workflow);
        log.push(&stream, "WorkflowDefined", value(defined), tenant.id, "bench-owner");
        tenants.push(tenant);
    }
    let (mut runs, mut revisions, mut updates) = (0usize, 0usize, 0usize);
    while log.position() < events {
        let tenant = &mut tenants[runs % workspaces];
        let run_id = Uuid::now_v7();
        let at = log.time();
        let agents = tenant.agents;
        for (event_type, payload) in
            run_events(run_id, tenant.id, tenant.workflow, tenant.workflow_version, &agents, at)
        {
            log.push(&events::runs::stream_id(run_id), event_type, payload, tenant.id, "system:run-saga");
        }
        for (event_type, payload) in billing_events(run_id) {
            log.push(&events::billing::stream_id(tenant.id), event_type, payload, tenant.id, "system:run-saga");
        }
        runs += 1;
        tenant.runs += 1;
        if tenant.runs.is_multiple_of(RUNS_PER_REVISION) {
            tenant.workflow_version += 1;
            let revised = WorkflowRevised {
                version: tenant.workflow_version,
                name: "Five".into(),
                steps: steps(&tenant.agents, tenant.workflow_version),
                output: None,
            };
            let stream = events::workflows::stream_id(tenant.workflow);
            log.push(&stream, "WorkflowRevised", value(revised), tenant.id, "bench-owner");
            revisions += 1;
        }
        if tenant.runs.is_multiple_of(RUNS_PER_REVISION * 5) {
            let which = (tenant.runs / (RUNS_PER_REVISION * 5)) % AGENTS;
            tenant.agent_versions[which] += 1;
            let updated = AgentUpdated {
                version: tenant.agent_versions[which],
                name: format!("Echo {}", tenant.agent_versions[which]),
                kind: AgentKind::Tool,
                executor: echo(),
                price: Price { per_call: STEP_COST as u64, per_1k_input_tokens: 0, per_1k_output_tokens: 0 },
            };
            let stream = events::agents::stream_id(tenant.agents[which]);
            log.push(&stream, "AgentUpdated", value(updated), tenant.id, "bench-owner");
            updates += 1;
        }
        if log.pending() >= CHUNK {
            copy(connection, &log.take()).await?;
        }
    }
    Ok(json!({"workspaces": workspaces, "runs": runs, "workflow_revisions": revisions, "agent_updates": updates}))
}

fn echo() -> Executor {
    Executor::Builtin { name: Builtin::Echo, config: Default::default() }
}

/// The five-step workflow's steps, taking turns on the agents; `version` tells revisions apart.
fn steps(agents: &[Uuid; AGENTS], version: u32) -> Vec<Step> {
    STEPS
        .iter()
        .enumerate()
        .map(|(index, (id, depends_on))| Step {
            id: (*id).to_owned(),
            kind: Default::default(),
            agent_id: Some(agents[index % AGENTS]),
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
            input: json!({"topic": "otters", "revision": version}),
            retry: RetryPolicy { max_attempts: 3, backoff_ms: 1000 },
            timeout_ms: Some(30_000),
            approvers: None,
            signalers: None,
            signal_agent_id: None,
        })
        .collect()
}

/// Events hash-chained in log order and written as COPY rows, each recorded at its share of
/// the log's span of time.
struct Log {
    position: i64,
    versions: HashMap<String, i64>,
    previous: ChainHash,
    scratch: Vec<u8>,
    text: String,
    pending: usize,
    from: DateTime<Utc>,
    span_micros: i64,
    expected: usize,
}

impl Log {
    fn new(from: DateTime<Utc>, until: DateTime<Utc>, expected: usize) -> Log {
        Log {
            position: 0,
            versions: HashMap::new(),
            previous: GENESIS_HASH,
            scratch: Vec::with_capacity(4096),
            text: String::with_capacity(CHUNK * 700),
            pending: 0,
            from,
            span_micros: (until - from).num_microseconds().unwrap_or(0),
            expected: expected.max(1),
        }
    }

    /// When the next event is recorded.
    fn time(&self) -> DateTime<Utc> {
        let share = (self.position as f64 / self.expected as f64).min(1.0);
        self.from + chrono::Duration::microseconds((self.span_micros as f64 * share) as i64)
    }

    fn push(&mut self, stream_id: &str, event_type: &str, payload: Value, workspace: Uuid, actor: &str) {
        let recorded_at = self.time();
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
            schema_version: events::current_schema_version(event_type),
            payload,
            metadata: json!({"actor": actor, "workspace_id": workspace,
                "correlation_id": correlation, "causation_id": correlation}),
            recorded_at,
            hash: GENESIS_HASH,
        };
        event.hash = event.hashed_fields().chain(&self.previous, &mut self.scratch);
        self.previous = event.hash;
        store::bulk::csv_row(&mut self.text, &event);
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

async fn copy(connection: &mut sqlx::PgConnection, rows: &str) -> anyhow::Result<()> {
    Ok(store::bulk::copy_events(connection, rows).await?)
}

/// A five-step run from request to success, as the run saga and the builtin echo agent write it.
fn run_events(
    run: Uuid,
    workspace: Uuid,
    workflow: Uuid,
    workflow_version: u32,
    agents: &[Uuid; AGENTS],
    at: DateTime<Utc>,
) -> Vec<(&'static str, Value)> {
    let planned: Vec<Value> = steps(agents, workflow_version)
        .into_iter()
        .map(|step| {
            json!({"id": step.id, "agent_id": step.agent_id, "depends_on": step.depends_on, "input": step.input,
                "retry": step.retry, "timeout_ms": step.timeout_ms,
                "executor": {"type": "builtin", "name": "echo", "config": {}},
                "price": {"per_call": STEP_COST, "per_1k_input_tokens": 0, "per_1k_output_tokens": 0}})
        })
        .collect();
    let mut events = vec![
        (
            "RunRequested",
            json!({"run_id": run, "workspace_id": workspace, "workflow_id": workflow,
            "workflow_version": workflow_version, "input": {"topic": "otters"}, "budget": BUDGET, "steps": planned}),
        ),
        ("RunStarted", json!({"reservation_id": run})),
    ];
    for (id, _) in STEPS {
        events.push((
            "StepScheduled",
            json!({"step_id": id, "attempt": 1, "input": {"topic": "otters"},
            "deadline": at + chrono::Duration::seconds(30)}),
        ));
        events.push(("StepStarted", json!({"step_id": id, "attempt": 1})));
        events.push((
            "StepSucceeded",
            json!({"step_id": id, "attempt": 1, "output": {"echo": {"topic": "otters"}},
            "input_tokens": 0, "output_tokens": 0, "duration_ms": 1, "cost": STEP_COST}),
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
        let agents = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let events = run_events(run, workspace, Uuid::now_v7(), 2, &agents, Utc::now());
        assert_eq!(events.len(), 18);
        for (event_type, payload) in &events {
            let read =
                events::runs::RunEvent::from_stored(event_type, events::current_schema_version(event_type), payload)
                    .unwrap();
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
            let read = events::billing::BillingEvent::from_stored(
                event_type,
                events::current_schema_version(event_type),
                payload,
            )
            .unwrap();
            assert_eq!(read.event_type(), *event_type);
        }
        let settled: i64 = billing_events(Uuid::now_v7())
            .iter()
            .filter(|(event_type, _)| *event_type != "CreditsReserved")
            .map(|(_, payload)| payload["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(settled, BUDGET, "captured + released = reserved");
    }

    #[test]
    fn generated_agents_and_workflows_are_events_their_deciders_read() {
        let agents = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let revised = WorkflowRevised { version: 2, name: "Five".into(), steps: steps(&agents, 2), output: None };
        events::workflows::WorkflowEvent::from_stored("WorkflowRevised", 1, &value(revised)).unwrap();
        let updated = AgentUpdated {
            version: 2,
            name: "Echo 2".into(),
            kind: AgentKind::Tool,
            executor: echo(),
            price: Price { per_call: 2, per_1k_input_tokens: 0, per_1k_output_tokens: 0 },
        };
        events::agents::AgentEvent::from_stored("AgentUpdated", 1, &value(updated)).unwrap();
    }

    #[test]
    fn events_are_spread_over_the_span_in_log_order() {
        let until = Utc::now();
        let mut log = Log::new(until - chrono::Duration::days(90), until, 100);
        let first = log.time();
        for _ in 0..50 {
            log.push("s", "Happened", json!({}), Uuid::nil(), "test");
        }
        let half = log.time();
        assert_eq!(first, until - chrono::Duration::days(90));
        assert!((half - first - chrono::Duration::days(45)).num_seconds().abs() < 2, "{half} {first}");
    }
}
