//! Rebuilding the catalog projection from the PostgreSQL log, and comparing a rebuilt copy
//! with the live one.
//!
//! A rebuild writes into a schema of its own ([`SCHEMA`]): unlogged copies of every read-model
//! table and its position. It reads the log in position order and applies each batch with the
//! projector's own code (`catalog::apply_new`), the rebuild schema first on the search path so
//! the same SQL writes the copies; runs, workspaces and billing, the bulk of any log, are
//! folded in memory and written once per batch. A batch commits with its position, so a
//! rebuild killed at any point resumes where it stopped, and reading in order needs no
//! per-stream versions.
//!
//! Meanwhile the live projection keeps serving. To finish, the rebuild takes the projection's
//! lock (the projector holds it while it applies a chunk) and applies exactly the events
//! the live projection has applied beyond its own position, so both hold the same events. Then
//! it either switches over, replacing the live rows with the rebuilt ones in one transaction
//! (readers see the old rows until it commits and the new ones after), or compares the two.

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::catalog;
use crate::set_aside::SetAside;

/// SQL naming tables: only [`SCHEMA`], [`TABLES`] and the live schema (quoted) go into it.
macro_rules! dynamic {
    ($($format:tt)*) => {
        sqlx::AssertSqlSafe(format!($($format)*))
    };
}

/// Where a rebuild of the catalog is written.
pub const SCHEMA: &str = "rebuild_catalog";

/// The catalog's tables.
pub const TABLES: [&str; 12] = [
    "rm_workspaces",
    "rm_workspace_members",
    "rm_workspace_invitations",
    "rm_agents",
    "rm_workflows",
    "rm_workflow_versions",
    "rm_billing_accounts",
    "rm_invoices",
    "rm_runs",
    "rm_run_steps",
    "rm_usage",
    "rm_artifacts",
];

/// Held by the projector while it applies a chunk of the log, and by a rebuild's last step.
const APPLY_LOCK: &str = "oxbow.projection.catalog";
/// Held by the one process rebuilding the catalog.
const REBUILD_LOCK: &str = "oxbow.rebuild.catalog";
/// Events per transaction, unless the rebuild is told otherwise.
const BATCH: i64 = 50_000;
/// Rows shown per table and side when a comparison finds differences.
const SHOWN: i64 = 10;

/// Taken by the projector in each transaction that applies a chunk of the log, and by a
/// rebuild's last step: one applier at a time, and a switchover never lands between a chunk's
/// reading of the watermark and its writes.
pub async fn hold_apply_lock(connection: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))").bind(APPLY_LOCK).execute(connection).await?;
    Ok(())
}

/// A rebuild in progress.
pub struct Rebuild {
    pool: PgPool,
    /// Holds [`REBUILD_LOCK`] for as long as the rebuild lives.
    _guard: PoolConnection<Postgres>,
    /// The schema of the live tables.
    live: String,
    position: i64,
    resumed: bool,
    /// Events per transaction: what a stopped rebuild redoes at most.
    batch: i64,
    /// What the live projection set aside, set aside here too.
    set_aside: SetAside,
}

/// Rows one side has and the other lacks, in one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDiff {
    pub table: &'static str,
    pub only_live: i64,
    pub only_rebuilt: i64,
    /// Up to [`SHOWN`] rows of each side, as JSON, live first.
    pub examples: Vec<(Side, serde_json::Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Live,
    Rebuilt,
}

impl Rebuild {
    /// Starts a rebuild, or resumes the one a stopped process left, unless `fresh` or the
    /// read models' migrations have moved on since.
    pub async fn open(pool: &PgPool, fresh: bool) -> anyhow::Result<Rebuild> {
        let mut guard = pool.acquire().await?;
        let (locked,): (bool,) = sqlx::query_as("select pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(REBUILD_LOCK)
            .fetch_one(&mut *guard)
            .await?;
        if !locked {
            anyhow::bail!("another process is rebuilding or comparing the {} projection", catalog::NAME);
        }
        let (live,): (String,) = sqlx::query_as("select current_schema()").fetch_one(&mut *guard).await?;
        // Always written inside double quotes.
        let live = live.replace('"', "\"\"");
        let (migrations,): (i64,) =
            sqlx::query_as("select coalesce(max(version), 0) from _sqlx_migrations").fetch_one(&mut *guard).await?;
        let state: Option<(i64, i64)> =
            sqlx::query_as(dynamic!("select position, migrations from {SCHEMA}.rebuild_state"))
                .fetch_optional(&mut *guard)
                .await
                // The schema is not there: nothing to resume.
                .or_else(|error| match error.as_database_error().and_then(|e| e.code()) {
                    Some(code) if code == "42P01" || code == "3F000" => Ok(None),
                    _ => Err(error),
                })?;
        let (position, resumed) = match state {
            Some((position, made_under)) if !fresh && made_under == migrations => (position, true),
            _ => {
                create_schema(&mut guard, &live, migrations).await?;
                (0, false)
            }
        };
        let set_aside = SetAside::load(&mut guard, position).await?;
        Ok(Rebuild { pool: pool.clone(), _guard: guard, live, position, resumed, batch: BATCH, set_aside })
    }

    /// Sets how many events go in one transaction (default 50,000).
    pub fn with_batch(mut self, events: i64) -> Rebuild {
        self.batch = events.max(1);
        self
    }

    /// The position up to which every event is applied to the rebuilt tables.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Whether this rebuild took over from a stopped one.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The position the live projection has applied every event up to.
    pub async fn live_position(&self) -> sqlx::Result<i64> {
        crate::status::position(&self.pool, catalog::NAME).await
    }

    /// Applies the log in order up to `until`, a batch per transaction, calling `progress` with
    /// the position reached after each.
    pub async fn catch_up(&mut self, until: i64, mut progress: impl FnMut(i64)) -> anyhow::Result<()> {
        while self.position < until {
            let last = until.min(self.position + self.batch);
            let batch = store::read_range(&self.pool, self.position + 1, last).await?;
            let mut transaction = self.pool.begin().await?;
            self.set_aside.reload(&mut transaction).await?;
            let batch = self.set_aside.filter(batch);
            enter(&mut transaction, &self.live).await?;
            catalog::apply_new(&mut transaction, &batch).await?;
            sqlx::query(dynamic!("update {SCHEMA}.rebuild_state set position = $1"))
                .bind(last)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            self.position = last;
            progress(last);
        }
        Ok(())
    }

    /// Replaces the live projection's rows with the rebuilt ones, atomically, and drops the
    /// rebuild. Returns the live projection's position at the switch.
    pub async fn switch_over(mut self) -> anyhow::Result<i64> {
        let mut transaction = self.pool.begin().await?;
        let position = self.last_stretch(&mut transaction).await?;
        let live = &self.live;
        for table in TABLES.iter().rev() {
            sqlx::query(dynamic!("delete from \"{live}\".{table}")).execute(&mut *transaction).await?;
        }
        for table in TABLES {
            sqlx::query(dynamic!("insert into \"{live}\".{table} select * from {SCHEMA}.{table}"))
                .execute(&mut *transaction)
                .await
                .with_context(|| format!("copying the rebuilt {table}"))?;
        }
        transaction.commit().await?;
        self.drop_schema().await?;
        Ok(position)
    }

    /// Compares the rebuilt tables with the live ones as of the same events, and drops the
    /// rebuild. Only the tables that differ are returned.
    pub async fn compare(mut self) -> anyhow::Result<Vec<TableDiff>> {
        let mut transaction = self.pool.begin().await?;
        self.last_stretch(&mut transaction).await?;
        let live = &self.live;
        let mut diffs = Vec::new();
        for table in TABLES {
            let only = |a: &str, b: &str| format!("select * from {a}.{table} except all select * from {b}.{table}");
            let live_table = format!("\"{live}\"");
            let (only_live, only_rebuilt) = (only(&live_table, SCHEMA), only(SCHEMA, &live_table));
            let (count_live, count_rebuilt): (i64, i64) = sqlx::query_as(dynamic!(
                "select (select count(*) from ({only_live}) d), (select count(*) from ({only_rebuilt}) d)"
            ))
            .fetch_one(&mut *transaction)
            .await?;
            if count_live == 0 && count_rebuilt == 0 {
                continue;
            }
            let rows: Vec<(bool, serde_json::Value)> = sqlx::query_as(dynamic!(
                "(select true, to_jsonb(d) from ({only_live}) d limit $1) \
                 union all (select false, to_jsonb(d) from ({only_rebuilt}) d limit $1)"
            ))
            .bind(SHOWN)
            .fetch_all(&mut *transaction)
            .await?;
            let examples = rows
                .into_iter()
                .map(|(is_live, row)| (if is_live { Side::Live } else { Side::Rebuilt }, row))
                .collect();
            diffs.push(TableDiff { table, only_live: count_live, only_rebuilt: count_rebuilt, examples });
        }
        // The last stretch was applied only to compare; the rebuild is dropped either way.
        transaction.rollback().await?;
        self.drop_schema().await?;
        Ok(diffs)
    }

    /// Under the projection's lock, applies the events the live projection has applied beyond
    /// this rebuild's position (it applies the log in order), so both hold the same events.
    /// Returns the live projection's position.
    async fn last_stretch(&mut self, connection: &mut PgConnection) -> anyhow::Result<i64> {
        hold_apply_lock(&mut *connection).await?;
        let live_position = crate::status::position(&mut *connection, catalog::NAME).await?;
        self.set_aside.reload(&mut *connection).await?;
        enter(&mut *connection, &self.live).await?;
        let mut position = self.position;
        while position < live_position {
            let last = live_position.min(position + self.batch);
            let batch = store::read_range(&mut *connection, position + 1, last).await?;
            catalog::apply_new(&mut *connection, &self.set_aside.filter(batch)).await?;
            position = last;
        }
        // Parked events the live projection applied on an operator's retry while this rebuild
        // set them aside: their streams' events are all among them, so in order they apply
        // as they did there.
        let released = self.set_aside.released();
        if !released.is_empty() {
            let events = store::read_positions(&mut *connection, &released).await?;
            catalog::apply_new(&mut *connection, &events).await?;
        }
        Ok(live_position)
    }

    async fn drop_schema(&mut self) -> sqlx::Result<()> {
        sqlx::query(dynamic!("drop schema if exists {SCHEMA} cascade")).execute(&self.pool).await?;
        Ok(())
    }
}

/// Puts the rebuild schema first on the search path for the rest of the transaction, so the
/// projection's unqualified SQL writes the rebuilt tables and reads the live log.
async fn enter(connection: &mut PgConnection, live: &str) -> sqlx::Result<()> {
    sqlx::query(dynamic!("set local search_path = {SCHEMA}, \"{live}\"")).execute(&mut *connection).await?;
    // A lost batch is redone on resume, so it need not wait for the WAL flush.
    sqlx::query("set local synchronous_commit = off").execute(connection).await?;
    Ok(())
}

/// Creates the rebuild schema afresh: empty, unlogged copies of the live tables (a crash of
/// PostgreSQL empties them all, position included, so a rebuild then starts over).
async fn create_schema(connection: &mut PgConnection, live: &str, migrations: i64) -> sqlx::Result<()> {
    let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
    sqlx::query(dynamic!("drop schema if exists {SCHEMA} cascade")).execute(&mut *transaction).await?;
    sqlx::query(dynamic!("create schema {SCHEMA}")).execute(&mut *transaction).await?;
    for table in TABLES {
        sqlx::query(dynamic!(
            "create unlogged table {SCHEMA}.{table} \
               (like \"{live}\".{table} including defaults including constraints including indexes)"
        ))
        .execute(&mut *transaction)
        .await?;
    }
    sqlx::query(dynamic!(
        "create unlogged table {SCHEMA}.rebuild_state (position bigint not null, migrations bigint not null, \
           started_at timestamptz not null default now())"
    ))
    .execute(&mut *transaction)
    .await?;
    sqlx::query(dynamic!("insert into {SCHEMA}.rebuild_state (position, migrations) values (0, $1)"))
        .bind(migrations)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await
}
