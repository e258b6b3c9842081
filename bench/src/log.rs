//! A generated log for the audit and rebuild figures: five-step runs as the run saga writes
//! them (18 events each), hash-chained and COPYed into an empty, migrated database.

use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, Utc};
use events::{GENESIS_HASH, RecordedEvent};
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
/// Events per COPY round trip.
const CHUNK: usize = 20_000;

/// Writes about `events` events (whole runs) to the empty log at `database_url`.
pub async fn generate(database_url: &str, events: usize) -> anyhow::Result<Value> {
    let mut connection = sqlx::PgConnection::connect(database_url).await.context("connecting to PostgreSQL")?;
    let (head,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&mut connection).await?;
    anyhow::ensure!(head == 0, "the log at {database_url} is not empty");
    let started = std::time::Instant::now();
    let workspaces: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let (agent, workflow) = (Uuid::now_v7(), Uuid::now_v7());
    let now = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is a time");
    let mut previous = GENESIS_HASH;
    let mut scratch = Vec::with_capacity(4096);
    let mut position = 0i64;
    let mut text = String::with_capacity(CHUNK * 700);
    let mut pending = 0;
    let mut run = 0usize;
    while (position as usize) < events {
        let workspace = workspaces[run % workspaces.len()];
        let run_id = Uuid::now_v7();
        for (version, (event_type, payload)) in
            run_events(run_id, workspace, workflow, agent, now).into_iter().enumerate()
        {
            position += 1;
            let mut event = RecordedEvent {
                position,
                stream_id: events::runs::stream_id(run_id),
                stream_version: version as i64 + 1,
                event_id: Uuid::now_v7(),
                event_type: event_type.to_owned(),
                schema_version: 1,
                payload,
                metadata: json!({"actor": "system:run-saga", "workspace_id": workspace,
                    "correlation_id": run_id, "causation_id": run_id}),
                recorded_at: now,
                hash: GENESIS_HASH,
            };
            event.hash = event.hashed_fields().chain(&previous, &mut scratch);
            previous = event.hash;
            copy_row(&mut text, &event);
            pending += 1;
        }
        run += 1;
        if pending >= CHUNK || (position as usize) >= events {
            copy(&mut connection, &text).await?;
            text.clear();
            pending = 0;
        }
    }
    sqlx::query("update log_head set position = $1, hash = $2")
        .bind(position)
        .bind(previous.0.to_vec())
        .execute(&mut connection)
        .await?;
    sqlx::query("analyze events").execute(&mut connection).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({"events": position, "runs": run, "seconds": seconds}))
}

async fn copy(connection: &mut sqlx::PgConnection, text: &str) -> anyhow::Result<()> {
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
                "price": {"per_call": 2, "per_1k_tokens": 0}})
        })
        .collect();
    let mut events = vec![
        (
            "RunRequested",
            json!({"run_id": run, "workspace_id": workspace, "workflow_id": workflow,
            "workflow_version": 1, "input": {"topic": "otters"}, "budget": 100, "steps": planned}),
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
            "tokens": 0, "duration_ms": 1, "cost": 2}),
        ));
    }
    events.push(("RunSucceeded", json!({"credits_used": 10})));
    events
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
}
