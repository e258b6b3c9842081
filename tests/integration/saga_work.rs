//! `saga_work` as the queue the sagas keep in PostgreSQL: what an event makes moot is deleted
//! by key range, and finished work is deleted by the next lease.

use chrono::Utc;
use events::runs::{RunEvent, RunSucceeded, StepSucceeded};
use events::{DomainEvent, Metadata, NewEvent, RecordedEvent, RunId};
use sagas::plan::{self, Planned, RUN_SAGA, Work};
use sagas::queue::{self, Cause};
use uuid::Uuid;

fn recorded(run: Uuid, event: &impl DomainEvent) -> RecordedEvent {
    let metadata =
        Metadata { actor: "run-saga".into(), workspace_id: None, correlation_id: run, causation_id: Uuid::now_v7() };
    let new = NewEvent::from_domain(Uuid::now_v7(), event, &metadata);
    RecordedEvent {
        position: 1,
        stream_id: events::runs::stream_id(run),
        stream_version: 1,
        event_id: new.event_id,
        event_type: new.event_type,
        schema_version: new.schema_version,
        payload: new.payload,
        metadata: new.metadata,
        recorded_at: Utc::now(),
        hash: events::GENESIS_HASH,
    }
}

async fn keys(pool: &sqlx::PgPool) -> Vec<String> {
    let keys: Vec<(String,)> = sqlx::query_as("select key from saga_work order by key").fetch_all(pool).await.unwrap();
    keys.into_iter().map(|(key,)| key).collect()
}

#[tokio::test]
async fn an_event_drops_exactly_the_work_it_makes_moot() {
    let db = tests::database().await;
    let (run, other) = (Uuid::now_v7(), Uuid::now_v7());
    // Keys that sort next to each other: attempt 1 and 10, a step named like a prefix of
    // another, and another run's work.
    let mut wanted = Vec::new();
    for (run, key) in [
        (run, format!("timeout:{run}:a:1")),
        (run, format!("timeout:{run}:a:10")),
        (run, format!("timeout:{run}:a:1:b:1")),
        (run, format!("retry:{run}:a:2")),
        (run, format!("dispatch:{run}:b:1")),
        (run, format!("settle:{run}")),
        (other, format!("timeout:{other}:a:1")),
        (other, format!("dispatch:{other}:a:1")),
    ] {
        let work = Work::Settle { run_id: RunId(run) };
        wanted.push(Planned { saga: RUN_SAGA, key, due_at: Utc::now(), work, workspace_id: None });
    }
    let causes = vec![Cause { correlation_id: run, trace_context: None }; wanted.len()];
    let mut connection = db.pool.acquire().await.unwrap();
    queue::enqueue(&mut connection, &wanted, &causes).await.unwrap();

    let succeeded = RunEvent::from(StepSucceeded {
        step_id: "a".into(),
        attempt: 1,
        output: serde_json::json!({}),
        input_tokens: 0,
        output_tokens: 0,
        duration_ms: 1,
        cost: 1,
        artifacts: Vec::new(),
    });
    queue::drop_moot(&mut connection, RUN_SAGA, &plan::moot(&recorded(run, &succeeded)), &[]).await.unwrap();
    let mut left: Vec<String> = wanted.iter().map(|planned| planned.key.clone()).collect();
    left.retain(|key| key != &format!("timeout:{run}:a:1"));
    left.sort();
    assert_eq!(keys(&db.pool).await, left, "only the attempt's own timer goes");

    let ended = RunEvent::from(RunSucceeded { credits_used: 1, output: None });
    queue::drop_moot(&mut connection, RUN_SAGA, &plan::moot(&recorded(run, &ended)), &[]).await.unwrap();
    let mut left = vec![format!("settle:{run}"), format!("timeout:{other}:a:1"), format!("dispatch:{other}:a:1")];
    left.sort();
    assert_eq!(keys(&db.pool).await, left, "the run's timers, retries and dispatches go; its settlement stays");
}

#[tokio::test]
async fn the_next_lease_deletes_finished_work_and_does_not_count_it_against_the_share() {
    let db = tests::database().await;
    let workspace = Uuid::now_v7();
    let planned: Vec<Planned> = (0..3)
        .map(|n| Planned {
            saga: RUN_SAGA,
            key: format!("reserve:{n}"),
            due_at: Utc::now(),
            work: Work::ReserveBudget { run_id: RunId(Uuid::now_v7()) },
            workspace_id: Some(workspace),
        })
        .collect();
    let causes = vec![Cause { correlation_id: workspace, trace_context: None }; planned.len()];
    queue::enqueue(&mut db.pool.acquire().await.unwrap(), &planned, &causes).await.unwrap();

    // A share of one: the workspace's first piece is leased, the others wait.
    let first = queue::lease(&db.pool, 10, 1, &[]).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(queue::lease(&db.pool, 10, 1, &[]).await.unwrap().is_empty(), "the workspace is at its share");
    // Finished: the same statement deletes it and leases the next, the share free again.
    let second = queue::lease(&db.pool, 10, 1, &[first[0].id]).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, first[0].id);
    assert_eq!(keys(&db.pool).await.len(), 2, "the finished work is gone");
}

#[tokio::test]
async fn work_made_moot_while_leased_is_dropped_and_its_lease_cannot_be_renewed() {
    let db = tests::database().await;
    let run = Uuid::now_v7();
    let dispatch = Planned {
        saga: RUN_SAGA,
        key: format!("dispatch:{run}:call:1"),
        due_at: Utc::now(),
        work: Work::Dispatch { run_id: RunId(run), step_id: "call".into(), attempt: 1 },
        workspace_id: None,
    };
    let mut connection = db.pool.acquire().await.unwrap();
    queue::enqueue(&mut connection, &[dispatch], &[Cause { correlation_id: run, trace_context: None }]).await.unwrap();
    let leased = queue::lease(&db.pool, 1, 10, &[]).await.unwrap();
    assert!(queue::renew(&db.pool, leased[0].id).await.unwrap(), "a lease of work still there is renewed");
    // The attempt times out while its call is under way: the dispatch is dropped, leased or not,
    // and whoever holds it learns so, from the drop here or from its next renewal elsewhere.
    let timed_out = RunEvent::from(events::runs::StepTimedOut { step_id: "call".into(), attempt: 1 });
    let dropped =
        queue::drop_moot(&mut connection, RUN_SAGA, &plan::moot(&recorded(run, &timed_out)), &[]).await.unwrap();
    assert_eq!(dropped, [leased[0].id]);
    assert!(!queue::renew(&db.pool, leased[0].id).await.unwrap(), "the lease of dropped work is not renewed");
}
