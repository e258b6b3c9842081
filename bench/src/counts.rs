//! Counts that do not depend on the machine's noise, taken around a measured window: the
//! statements PostgreSQL ran (`pg_stat_statements`, less the bench's own, which run as a role
//! of their own), the WAL it wrote, the events appended, and the CPU seconds the server and
//! PostgreSQL spent (from `/proc`).

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

/// `/proc` reports CPU time in clock ticks of 1/100 s (USER_HZ) on every Linux architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// Where the counts come from: a connection as the bench's observer role (its own statements
/// are not counted), and the processes whose CPU is counted.
pub struct Observer {
    pool: PgPool,
    server_pid: Option<u32>,
    postgres_pid: Option<u32>,
}

/// The counters at one moment.
pub struct Mark {
    statements: Option<i64>,
    wal_lsn: String,
    head: i64,
    server_cpu: Option<f64>,
    postgres_cpu: Option<f64>,
}

/// What happened between two marks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub statements: Option<i64>,
    pub wal_bytes: i64,
    pub events: i64,
    pub server_cpu_seconds: Option<f64>,
    pub postgres_cpu_seconds: Option<f64>,
}

impl Observer {
    pub async fn connect(url: &str, server_pid: Option<u32>, postgres_pid: Option<u32>) -> anyhow::Result<Observer> {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(url).await?;
        Ok(Observer { pool, server_pid, postgres_pid })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn mark(&self) -> anyhow::Result<Mark> {
        // Every role's statements in this database but the observer's own.
        let (statements, wal_lsn, head): (Option<i64>, String, i64) = sqlx::query_as(
            "select (select sum(calls)::bigint from pg_stat_statements \
                      where dbid = (select oid from pg_database where datname = current_database()) \
                        and userid <> (select oid from pg_roles where rolname = current_user)), \
                    pg_current_wal_lsn()::text, (select position from log_head)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Mark {
            statements,
            wal_lsn,
            head,
            server_cpu: self.server_pid.and_then(process_cpu),
            postgres_cpu: self.postgres_pid.and_then(postgres_cpu),
        })
    }

    pub async fn since(&self, before: &Mark) -> anyhow::Result<Counts> {
        let after = self.mark().await?;
        let (wal_bytes,): (f64,) = sqlx::query_as("select pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::float8")
            .bind(&after.wal_lsn)
            .bind(&before.wal_lsn)
            .fetch_one(&self.pool)
            .await?;
        Ok(Counts {
            statements: after.statements.zip(before.statements).map(|(after, before)| after - before),
            wal_bytes: wal_bytes as i64,
            events: after.head - before.head,
            server_cpu_seconds: after.server_cpu.zip(before.server_cpu).map(|(after, before)| after - before),
            postgres_cpu_seconds: after.postgres_cpu.zip(before.postgres_cpu).map(|(after, before)| after - before),
        })
    }
}

impl Counts {
    /// The counts per `units` of work (commands, runs), as JSON: statements per unit, WAL
    /// bytes per event, CPU seconds per 1,000 units.
    pub fn per(&self, units: usize, unit: &str) -> Value {
        let units = units.max(1) as f64;
        let per_thousand = |seconds: Option<f64>| seconds.map(|seconds| seconds * 1000.0 / units);
        json!({
            "unit": unit,
            "statements_per_unit": self.statements.map(|statements| statements as f64 / units),
            "events": self.events,
            "events_per_unit": self.events as f64 / units,
            "wal_bytes_per_event": self.wal_bytes as f64 / self.events.max(1) as f64,
            "server_cpu_s_per_1k": per_thousand(self.server_cpu_seconds),
            "postgres_cpu_s_per_1k": per_thousand(self.postgres_cpu_seconds),
        })
    }
}

/// A process's CPU seconds so far (user and system).
fn process_cpu(pid: u32) -> Option<f64> {
    let fields = stat_fields(pid)?;
    Some(ticks(&fields, &[11, 12]))
}

/// PostgreSQL's CPU seconds so far: the postmaster's, its children's that have exited, and
/// those of its children still running (the backends, the WAL writer, …).
fn postgres_cpu(postmaster: u32) -> Option<f64> {
    let fields = stat_fields(postmaster)?;
    let mut seconds = ticks(&fields, &[11, 12, 13, 14]);
    for entry in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        if let Some(child) =
            stat_fields(pid).filter(|child| child.get(1).and_then(|ppid| ppid.parse().ok()) == Some(postmaster))
        {
            seconds += ticks(&child, &[11, 12]);
        }
    }
    Some(seconds)
}

/// The fields of `/proc/<pid>/stat` after the command name, from `state` on (so `ppid` is at 1,
/// `utime` at 11).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

fn ticks(fields: &[String], at: &[usize]) -> f64 {
    at.iter().filter_map(|index| fields.get(*index)?.parse::<f64>().ok()).sum::<f64>() / TICKS_PER_SECOND
}

/// How long to let the counters settle after a window: the last commands' statements land in
/// `pg_stat_statements` when their backends report.
pub const SETTLE: Duration = Duration::from_millis(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_reads_its_own_cpu_time() {
        let pid = std::process::id();
        let mut spent = 0u64;
        for i in 0..5_000_000u64 {
            spent = spent.wrapping_add(i * i);
        }
        assert!(spent > 0);
        assert!(process_cpu(pid).is_some_and(|seconds| seconds >= 0.0));
        let fields = stat_fields(pid).unwrap();
        assert_eq!(fields[1].parse::<u32>().ok(), Some(std::os::unix::process::parent_id()), "ppid");
    }
}
