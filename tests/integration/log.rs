//! The log: gap-free, commit-ordered positions under concurrent writers; optimistic
//! concurrency; idempotency; the database refusing changes; verify finding tampering.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use events::RecordedEvent;
use serde_json::json;
use store::{AppendError, AppendRequest, CommitterConfig, EventStore, ExpectedVersion, IdempotencyClaim};
use tests::append_request;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_sees_every_position_once_in_order_while_many_writers_append() {
    let db = tests::database().await;
    // Three stores stand for three processes, each with its own committer and pool; the third
    // keeps up to three batch writes in flight.
    let stores: Vec<EventStore> = (1..=3)
        .map(|depth| EventStore::new(db.pool.clone(), CommitterConfig { pipeline_depth: depth, ..Default::default() }))
        .collect();
    let done = Arc::new(AtomicBool::new(false));

    let follower = {
        let pool = db.pool.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen: Vec<RecordedEvent> = Vec::new();
            let mut last = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store::read_all(&pool, last, 500).await.unwrap();
                for event in &batch {
                    assert_eq!(event.position, last + 1, "the follower skipped or repeated a position");
                    last = event.position;
                }
                let empty = batch.is_empty();
                seen.extend(batch);
                if finished && empty {
                    return seen;
                }
                if empty {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for writer in 0..24 {
        let store = stores[writer % stores.len()].clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..60 {
                // Every fourth append goes to a hot stream that all writers share, at "any" version.
                let (stream, expected) = if i % 4 == 0 {
                    ("hot-1".to_owned(), ExpectedVersion::Any)
                } else {
                    (format!("cold-{writer}-{i}"), ExpectedVersion::NoStream)
                };
                let outcome = store.append(append_request(&stream, expected, 1 + i % 3)).await.expect("append");
                acknowledged.extend(outcome.events.iter().map(|e| (e.position, e.event_id)));
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let seen = follower.await.unwrap();

    let head = store::read_head(&db.pool).await.unwrap();
    assert_eq!(seen.len() as i64, head.position);
    assert_eq!(acknowledged.len(), seen.len(), "every acknowledged event is in the log, and nothing else");
    let seen_ids: HashSet<(i64, Uuid)> = seen.iter().map(|e| (e.position, e.event_id)).collect();
    for pair in &acknowledged {
        assert!(seen_ids.contains(pair), "acknowledged event {pair:?} is not where its ack said");
    }
    // The hot stream's versions are 1..=n without holes.
    let hot: Vec<i64> = seen.iter().filter(|e| e.stream_id == "hot-1").map(|e| e.stream_version).collect();
    assert_eq!(hot, (1..=hot.len() as i64).collect::<Vec<_>>());
    let verified = replay::verify::verify(&db.pool, Default::default(), |_| {}).await.unwrap();
    assert_eq!(verified.events as i64, head.position);
}

#[tokio::test]
async fn racing_appends_at_one_expected_version_have_exactly_one_winner() {
    let db = tests::database().await;
    let stores: Vec<EventStore> =
        (0..2).map(|_| EventStore::new(db.pool.clone(), CommitterConfig::default())).collect();
    stores[0].append(append_request("race", ExpectedVersion::NoStream, 1)).await.unwrap();
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move { store.append(append_request("race", ExpectedVersion::Exact(1), 1)).await })
        })
        .collect();
    let mut winners = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(outcome) => {
                winners += 1;
                assert_eq!(outcome.stream_version, 2);
            }
            Err(AppendError::Conflict { current }) => assert_eq!(current, 2),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn an_idempotency_key_answers_a_retry_and_refuses_another_request() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    let claim = |hash: &[u8]| IdempotencyClaim { scope: "alice".into(), key: "k1".into(), request_hash: hash.to_vec() };
    let with_claim =
        |hash: &[u8]| AppendRequest { idempotency: Some(claim(hash)), ..append_request("s", ExpectedVersion::Any, 2) };

    // Concurrent first attempts: one appends, the others get its answer.
    let attempts: Vec<_> = (0..5)
        .map(|_| {
            let store = store.clone();
            let request = with_claim(b"same");
            tokio::spawn(async move { store.append(request).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    for outcome in &outcomes {
        assert_eq!((outcome.first_position, outcome.last_position, outcome.stream_version), (Some(1), Some(2), 2));
    }
    assert_eq!(store.append(with_claim(b"other")).await, Err(AppendError::IdempotencyKeyReused));
    assert_eq!(store::read_head(&db.pool).await.unwrap().position, 2);
}

#[tokio::test]
async fn appending_the_same_event_ids_again_appends_nothing() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    let first = append_request("s", ExpectedVersion::Any, 3);
    let outcome = store.append(first.clone()).await.unwrap();
    let again = store.append(first).await.unwrap();
    assert!(again.replayed);
    assert_eq!((again.first_position, again.last_position), (outcome.first_position, outcome.last_position));
    assert_eq!(store::read_head(&db.pool).await.unwrap().position, 3);
}

#[tokio::test]
async fn the_database_refuses_update_delete_and_truncate_of_events() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    store.append(append_request("s", ExpectedVersion::Any, 2)).await.unwrap();
    for statement in [
        "update events set payload = '{}' where position = 1",
        "delete from events where position = 2",
        "truncate events",
    ] {
        let error = sqlx::raw_sql(statement).execute(&db.pool).await.expect_err(statement);
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    assert_eq!(store::read_all(&db.pool, 0, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn verify_names_the_first_tampered_position() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    for _ in 0..5 {
        store.append(append_request("s", ExpectedVersion::Any, 2)).await.unwrap();
    }
    replay::verify::verify(&db.pool, Default::default(), |_| {}).await.expect("an untouched log verifies");

    // Someone with superuser rights switches the triggers off and edits an event.
    sqlx::raw_sql(
        "set session_replication_role = replica; \
         update events set payload = jsonb_set(payload, '{i}', '7') where position = 4; \
         set session_replication_role = origin;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let error = replay::verify::verify(&db.pool, Default::default(), |_| {}).await.unwrap_err();
    match error {
        replay::verify::Error::Broken(broken) => assert_eq!(broken.position(), 4, "{broken}"),
        other => panic!("unexpected {other}"),
    }
    // A range that ends before the edit still verifies.
    replay::verify::verify(&db.pool, replay::verify::Range { from: Some(2), to: Some(3) }, |_| {}).await.unwrap();
}

#[tokio::test]
async fn verify_finds_a_deleted_event() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    store.append(append_request("s", ExpectedVersion::Any, 5)).await.unwrap();
    sqlx::raw_sql(
        "set session_replication_role = replica; delete from events where position = 3; \
         set session_replication_role = origin;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let error = replay::verify::verify(&db.pool, Default::default(), |_| {}).await.unwrap_err();
    assert!(matches!(error, replay::verify::Error::Broken(replay::verify::Broken::Gap { expected: 3, found: 4 })));
}

#[tokio::test]
async fn several_streams_load_in_one_read_each_after_its_own_version() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    store.append(append_request("a", ExpectedVersion::NoStream, 3)).await.unwrap();
    store.append(append_request("b", ExpectedVersion::NoStream, 2)).await.unwrap();
    store.append(append_request("c", ExpectedVersion::NoStream, 1)).await.unwrap();
    let (events, head) = store::load_streams(&db.pool, &[("a", 1), ("b", 2), ("missing", 0)]).await.unwrap();
    assert_eq!(head, 6);
    let versions = |stream: &str| events.get(stream).map(|e| e.iter().map(|e| e.stream_version).collect::<Vec<_>>());
    assert_eq!(versions("a"), Some(vec![2, 3]));
    assert_eq!(versions("b"), None, "nothing after its version");
    assert_eq!(versions("missing"), None);
    assert_eq!(events.len(), 1, "only the streams asked for: {events:?}");
}

#[tokio::test]
async fn a_committer_notices_what_another_process_appended_to_a_stream_it_remembers() {
    let db = tests::database().await;
    let (mine, theirs) = (
        EventStore::new(db.pool.clone(), CommitterConfig::default()),
        EventStore::new(db.pool.clone(), CommitterConfig::default()),
    );
    mine.append(append_request("s", ExpectedVersion::NoStream, 1)).await.unwrap();
    // Once more on its own, so that it has taken the optimistic path and remembers "s" at 2.
    let (_, head) = store::load_stream(&db.pool, "s", 0).await.unwrap();
    let second = AppendRequest { observed_head: Some(head), ..append_request("s", ExpectedVersion::Exact(1), 1) };
    assert_eq!(mine.append(second).await.unwrap().stream_version, 2);
    theirs.append(append_request("s", ExpectedVersion::Exact(2), 1)).await.unwrap();

    let (_, head) = store::load_stream(&db.pool, "s", 0).await.unwrap();
    let stale = AppendRequest { observed_head: Some(head - 1), ..append_request("s", ExpectedVersion::Exact(2), 1) };
    assert_eq!(mine.append(stale).await, Err(AppendError::Conflict { current: 3 }));
    // A stream assumed new that is not: refused, and the batch's other appends still go in.
    let (taken, fresh) = tokio::join!(
        mine.append(append_request("s", ExpectedVersion::NoStream, 1)),
        mine.append(append_request("t", ExpectedVersion::NoStream, 1)),
    );
    assert_eq!(taken, Err(AppendError::Conflict { current: 3 }));
    assert_eq!(fresh.unwrap().stream_version, 1);
    replay::verify::verify(&db.pool, Default::default(), |_| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_decide_append_loops_on_hot_streams_never_lose_or_double_an_update() {
    let db = tests::database().await;
    // Two processes on a few hot streams, one of them with two batch writes in flight at once.
    let pipelined = CommitterConfig { pipeline_depth: 2, ..CommitterConfig::default() };
    let stores =
        [EventStore::new(db.pool.clone(), CommitterConfig::default()), EventStore::new(db.pool.clone(), pipelined)];
    let workers = (0..24).map(|worker| {
        let store = stores[worker % 2].clone();
        let pool = db.pool.clone();
        tokio::spawn(async move {
            let stream = format!("counter-{}", worker % 3);
            let mut done = 0;
            let mut conflicts = 0;
            while done < 15 {
                let (history, head) = store::load_stream(&pool, &stream, 0).await.unwrap();
                let version = history.last().map_or(0, |e| e.stream_version);
                let append = AppendRequest {
                    observed_head: Some(head),
                    ..append_request(&stream, ExpectedVersion::Exact(version), 1)
                };
                match store.append(append).await {
                    Ok(outcome) => {
                        assert_eq!(outcome.stream_version, version + 1);
                        done += 1;
                    }
                    Err(AppendError::Conflict { current }) => {
                        assert!(current > version, "a conflict reports a newer version");
                        conflicts += 1;
                    }
                    Err(other) => panic!("{other:?}"),
                }
            }
            conflicts
        })
    });
    let conflicts: usize = futures::future::join_all(workers).await.into_iter().map(|r| r.unwrap()).sum();
    for stream in 0..3 {
        let history = store::read_stream(&db.pool, &format!("counter-{stream}"), 0).await.unwrap();
        assert_eq!(history.len(), 8 * 15, "every acknowledged update is there once");
    }
    assert!(conflicts > 0, "the test should have raced");
    replay::verify::verify(&db.pool, Default::default(), |_| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_while_commands_keep_arriving() {
    let db = tests::database().await;
    let store = EventStore::new(db.pool.clone(), CommitterConfig::default());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|n| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut appended = 0;
                while !stop.load(Ordering::Relaxed) {
                    let stream = format!("busy-{n}-{appended}");
                    store.append(append_request(&stream, ExpectedVersion::NoStream, 3)).await.unwrap();
                    appended += 1;
                }
                appended
            })
        })
        .collect();
    // The writers are under way before the first check, however slow the machine.
    while store::read_head(&db.pool).await.unwrap().position == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut verified = 0;
    for _ in 0..20 {
        let report = replay::verify::verify(&db.pool, Default::default(), |_| {}).await;
        verified += report.expect("a busy log is not a broken one").events;
    }
    stop.store(true, Ordering::Relaxed);
    let mut appended = 0;
    for writer in writers {
        appended += writer.await.unwrap();
    }
    assert!(appended > 0 && verified > 0, "{appended} appends, {verified} events verified");
}

/// A value the database refuses in one request of a group-commit batch fails that request
/// only: the others, other tenants' commands among them, are appended. The command edge
/// refuses a NUL long before the store; this writes it straight to the store's append.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_whose_data_the_database_refuses_fails_alone_and_its_batch_is_appended() {
    let db = tests::database().await;
    for depth in [1, 3] {
        let store = EventStore::new(db.pool.clone(), CommitterConfig { pipeline_depth: depth, ..Default::default() });
        let poisoned = 17;
        let requests = (0..40).map(|i| {
            let mut request = append_request(&format!("isolated-{depth}-{i}"), ExpectedVersion::NoStream, 2);
            if i == poisoned {
                request.streams[0].events[1].payload = json!({"text": "nul \u{0} here"});
            }
            store.append(request)
        });
        let outcomes = futures::future::join_all(requests).await;
        for (i, outcome) in outcomes.iter().enumerate() {
            if i == poisoned {
                assert!(matches!(outcome, Err(AppendError::Refused(_))), "{outcome:?}");
            } else {
                assert_eq!(outcome.as_ref().map(|o| o.stream_version), Ok(2), "request {i}");
            }
        }
        let poisoned_stream = format!("isolated-{depth}-{poisoned}");
        assert!(store::read_stream(&db.pool, &poisoned_stream, 0).await.unwrap().is_empty());
    }
    // The log is still whole and gap-free.
    let head = store::read_head(&db.pool).await.unwrap();
    let all = store::read_range(&db.pool, 1, head.position).await.unwrap();
    assert_eq!(all.len() as i64, head.position);
    assert_eq!(all.len(), 2 * 39 * 2);
}
