//! The harness for Oxbow's integration tests: fresh databases, topics and Redis prefixes on the
//! real services that `scripts/test` starts (`DATABASE_URL`, `REDIS_URL`, `KAFKA_BROKERS`).

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// A database of its own for one test, migrated.
pub struct TestDatabase {
    pub url: String,
    pub pool: PgPool,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
}

/// A fresh name for a test's database, topic, consumer group or key prefix.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Creates and migrates a new database on the test server.
pub async fn database() -> TestDatabase {
    let admin_url = env("DATABASE_URL");
    let admin = PgPoolOptions::new().max_connections(1).connect(&admin_url).await.expect("connect to PostgreSQL");
    let name = unique_name("t");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("DATABASE_URL names a database");
    let url = format!("{base}/{name}");
    let pool = PgPoolOptions::new().max_connections(40).connect(&url).await.expect("connect to the test database");
    oxbow::migrate(&pool).await.expect("migrate");
    TestDatabase { url, pool }
}
