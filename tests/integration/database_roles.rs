//! The serving processes connect as a role that owns nothing: they append to the log and keep
//! the read models, and cannot change the log, switch off its triggers or alter the schema.
//! The migrator, which owns the schema, migrates and rebuilds.

use serde_json::json;
use sqlx::postgres::PgPoolOptions;

/// `DATABASE_URL` (the test server's superuser) for `user` and `database`.
fn url_as(user: &str, database: &str) -> String {
    let mut url = reqwest::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_username(user).unwrap();
    url.set_path(database);
    url.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serving_role_appends_and_serves_but_cannot_change_the_log_or_the_schema() {
    let name = tests::unique_name("r");
    let (migrator, serving) = (format!("{name}_migrator"), format!("{name}_app"));
    let admin = PgPoolOptions::new().max_connections(1).connect(&std::env::var("DATABASE_URL").unwrap()).await.unwrap();
    for statement in [
        format!("create role {migrator} login"),
        format!("create role {serving} login"),
        format!("create database {name} owner {migrator}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&admin).await.unwrap();
    }

    // The migrator migrates and grants the serving role its share.
    let mut config = tests::config(&url_as(&migrator, &name));
    let (code, stdout, stderr) = tests::oxbow_output(&config, &["migrate"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "migrated", "{stdout}");
    let mut granting = tests::oxbow_command(&config);
    let output = granting.args(["migrate"]).env("OXBOW_SERVING_ROLE", &serving).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), format!("migrated; {serving} may serve"));

    // A write API connected as the serving role takes commands.
    config.database_url = url_as(&serving, &name);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = tests::oxbow_command(&config)
        .args(["serve", "--role", "write-api"])
        .env("OXBOW_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let token = config.tokens().mint("alice", None, chrono::Duration::hours(1));
    let body = json!({"type": "CreateWorkspace", "id": uuid::Uuid::now_v7(), "payload": {"name": "Served"}});
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(response) =
            reqwest::Client::new().post(format!("{base}/v1/commands")).bearer_auth(&token).json(&body).send().await
        {
            answer = Some((response.status().as_u16(), response.text().await.unwrap()));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, text) = answer.expect("the write API came up as the serving role");
    assert_eq!(status, 200, "{text}");

    // The serving role reads the log and may not change it, by any route.
    let app = PgPoolOptions::new().max_connections(1).connect(&config.database_url).await.unwrap();
    let logged: i64 = sqlx::query_scalar("select count(*) from events").fetch_one(&app).await.unwrap();
    assert_eq!(logged, 1);
    for refused in [
        "update events set payload = '{}'",
        "delete from events",
        "truncate events",
        "alter table events disable trigger events_append_only",
        "drop trigger events_append_only on events",
        "drop table events",
        "create table sneaky (id int)",
        "update log_head set position = 0 where false; alter table log_head owner to current_user",
    ] {
        let error = sqlx::raw_sql(sqlx::AssertSqlSafe(refused)).execute(&app).await.expect_err(refused);
        let code = error.as_database_error().and_then(|error| error.code()).map(|code| code.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{refused}: {error}");
    }
    assert_eq!(sqlx::query_scalar::<_, i64>("select count(*) from events").fetch_one(&app).await.unwrap(), 1);
    // The refusals above would also come from the append-only trigger (42501 too): the grants
    // themselves are what keeps the log unchanged should a trigger ever be off, so they are
    // checked as PostgreSQL reports them.
    let privileges: Vec<(String, bool)> = sqlx::query_as(
        "select p, has_table_privilege(current_user, 'events', p) \
           from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) p",
    )
    .fetch_all(&app)
    .await
    .unwrap();
    let granted: Vec<&str> = privileges.iter().filter(|(_, held)| *held).map(|(p, _)| p.as_str()).collect();
    assert_eq!(granted, ["SELECT", "INSERT"], "the serving role's privileges on the log");
    let (owns, creates): (bool, bool) = sqlx::query_as(
        "select pg_has_role(current_user, (select tableowner from pg_tables where tablename = 'events'), 'USAGE'), \
                has_schema_privilege(current_user, 'public', 'CREATE')",
    )
    .fetch_one(&app)
    .await
    .unwrap();
    assert_eq!((owns, creates), (false, false), "the serving role neither owns the log nor creates in the schema");

    // A projector connected as the serving role keeps the read models.
    let _projector = tests::oxbow_serve("projector", &config);
    let projected =
        || async { sqlx::query_scalar::<_, i64>("select count(*) from rm_workspaces").fetch_one(&app).await.unwrap() };
    for _ in 0..200 {
        if projected().await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(projected().await, 1, "the projector applied the workspace as the serving role");

    // The migrator rebuilds (creating a schema of its own); the serving role still reads the
    // rebuilt read models.
    config.database_url = url_as(&migrator, &name);
    let (code, stdout, stderr) = tests::oxbow_output(&config, &["projections", "rebuild", "catalog"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("switched over"), "{stdout}");
    assert_eq!(projected().await, 1);
}
