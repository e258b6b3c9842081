//! The sagas' dead letter: work that fails its last try is set aside, shown to operators, not
//! leased again, and taken up again when an operator retries it.

use std::time::Duration;

use serde_json::json;
use store::{AppendRequest, EventStore, ExpectedVersion};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_work_that_fails_its_last_try_is_set_aside_until_an_operator_retries_it() {
    let app = tests::TestApp::start().await;
    let pool = &app.db.pool;
    // A run whose history the run saga cannot read: reserving its budget fails every time.
    let run = uuid::Uuid::now_v7();
    let store = EventStore::new(pool.clone(), store::CommitterConfig::default());
    store
        .append(AppendRequest::to_stream(
            format!("run-{run}"),
            ExpectedVersion::NoStream,
            vec![events::NewEvent {
                event_id: uuid::Uuid::now_v7(),
                event_type: "RunRequested".into(),
                schema_version: 1,
                payload: json!({"not": "a run"}),
                metadata: json!({"actor": "test"}),
            }],
        ))
        .await
        .unwrap();
    // Its work, one try short of being set aside.
    let (id,): (i64,) = sqlx::query_as(
        "insert into saga_work (saga, key, work, correlation_id, due_at, attempts) \
         values ($1, $2, $3, $4, now(), $5 - 1) returning id",
    )
    .bind(sagas::plan::RUN_SAGA)
    .bind(format!("reserve:{run}"))
    .bind(json!({"type": "reserve_budget", "run_id": run}))
    .bind(uuid::Uuid::now_v7())
    .bind(sagas::queue::TRIES)
    .fetch_one(pool)
    .await
    .unwrap();
    let state = || async {
        sqlx::query_as::<_, (bool, i32, Option<String>)>(
            "select set_aside, attempts, last_error from saga_work where id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !state().await.0 {
        assert!(tokio::time::Instant::now() < deadline, "the work was never set aside: {:?}", state().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, attempts, error) = state().await;
    assert_eq!(attempts, sagas::queue::TRIES);
    assert!(error.is_some_and(|error| error.contains("RunRequested")), "{:?}", state().await);

    // Operators see it, and it is not leased again while it is set aside.
    let (code, out, err) = tests::oxbow_output(&app.config, &["projections", "status", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let shown = &status["sagas"]["set_aside"];
    assert!(
        shown.as_array().unwrap().iter().any(|work| work["id"] == id && work["key"] == format!("reserve:{run}")),
        "{status}"
    );
    // Meanwhile the workers lease and carry out a whole run's work: they were leasing, and
    // passed the set-aside work by.
    {
        use crate::runs::{agent, builtin, finished, funded_workspace, start_run, step, workflow};
        let workspace = funded_workspace(&app, 100).await;
        let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
        let flow = workflow(&app, workspace, json!([step("one", echo, &[])])).await;
        let other = start_run(&app, workspace, flow, 10).await;
        assert_eq!(finished(&app, other).await.last().unwrap().event_type, "RunSucceeded");
    }
    assert_eq!(state().await.1, sagas::queue::TRIES, "set-aside work is not leased");

    // An operator's retry makes it due with a fresh count of tries, and a worker takes it up.
    let (code, out, err) =
        tests::oxbow_output(&app.config, &["projections", "retry", "--consumer", "sagas", &id.to_string()]).await;
    assert_eq!(code, 0, "{out}{err}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (set_aside, attempts, _) = state().await;
        if !set_aside && attempts >= 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the retried work was not taken up: {:?}", state().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Retrying work that is not set aside says so, in one line.
    let (code, _, err) =
        tests::oxbow_output(&app.config, &["projections", "retry", "--consumer", "sagas", &id.to_string()]).await;
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("set aside"), "{err}");
}
