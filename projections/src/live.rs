//! What Redis serves: each workspace's summary, each run's live status, and each workspace's
//! run counters. All of it is written from the committed read models, so it can always be
//! rebuilt: when Redis loses it (a flush, a failover), the projector notices that its marker
//! key is gone and fills everything in again.
//!
//! Keys, under the deployment's prefix:
//! - `workspace:{id}`: hash `version name suspended member_count`
//! - `workspace:{id}:runs`: hash of run status → number of runs
//! - `run:{id}`: hash `version status credits_used steps_done steps_total`; expires a day
//!   after the run ends
//! - `live:filled`: present while Redis holds everything above

use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::Touched;

/// Sets a hash only when its `version` is older than ARGV[1]. KEYS[1] is the hash, ARGV[2] a
/// TTL in seconds (0 for none), the rest field, value pairs.
const IF_NEWER: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 3))
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"#;

/// How long a finished run's live status stays.
const FINISHED_TTL_SECONDS: i64 = 86_400;

pub struct Live {
    redis: ConnectionManager,
    keys: Keys,
    /// Loaded once; Redis runs it by its hash afterwards.
    if_newer: redis::Script,
}

impl Live {
    pub fn new(redis: ConnectionManager, keys: Keys) -> Live {
        Live { redis, keys, if_newer: redis::Script::new(IF_NEWER) }
    }

    /// Rewrites what a batch touched. Redis holds nothing that cannot be rebuilt, so a failure
    /// here is logged, not fatal.
    pub async fn refresh(&mut self, pool: &PgPool, touched: &[Touched]) {
        let mut counted = Vec::new();
        for touched in touched {
            let written = match *touched {
                Touched::Workspace(workspace_id) => self.workspace(pool, workspace_id).await,
                Touched::Run { workspace_id, run_id } => {
                    let run = self.run(pool, run_id).await;
                    if !counted.contains(&workspace_id) {
                        counted.push(workspace_id);
                        run.and(self.run_counts(pool, workspace_id).await)
                    } else {
                        run
                    }
                }
            };
            if let Err(error) = written {
                tracing::warn!(%error, ?touched, "could not refresh Redis");
            }
        }
    }

    /// Fills Redis in from the read models when its marker is gone. Returns whether it did.
    pub async fn refill_if_lost(&mut self, pool: &PgPool) -> anyhow::Result<bool> {
        let marker = self.keys.key("live:filled");
        let present: bool = redis::cmd("EXISTS").arg(&marker).query_async(&mut self.redis).await?;
        if present {
            return Ok(false);
        }
        let workspaces: Vec<(Uuid,)> = sqlx::query_as("select id from rm_workspaces").fetch_all(pool).await?;
        for (workspace_id,) in &workspaces {
            self.workspace(pool, *workspace_id).await?;
            self.run_counts(pool, *workspace_id).await?;
        }
        let live: Vec<(Uuid,)> = sqlx::query_as(
            "select id from rm_runs where finished_at is null or finished_at > now() - interval '1 day'",
        )
        .fetch_all(pool)
        .await?;
        for (run_id,) in &live {
            self.run(pool, *run_id).await?;
        }
        let _: () = redis::cmd("SET").arg(&marker).arg(1).query_async(&mut self.redis).await?;
        tracing::info!(workspaces = workspaces.len(), runs = live.len(), "filled Redis in from the read models");
        Ok(true)
    }

    async fn workspace(&mut self, pool: &PgPool, workspace_id: Uuid) -> anyhow::Result<()> {
        let row: Option<(String, bool, i64, i64)> = sqlx::query_as(
            "select w.name, w.suspended, w.version, \
                    (select count(*) from rm_workspace_members m where m.workspace_id = w.id) \
               from rm_workspaces w where w.id = $1",
        )
        .bind(workspace_id)
        .fetch_optional(pool)
        .await?;
        let Some((name, suspended, version, members)) = row else {
            return Ok(());
        };
        let _: i64 = self
            .if_newer
            .key(self.keys.key(&format!("workspace:{workspace_id}")))
            .arg(version)
            .arg(0)
            .arg("name")
            .arg(name)
            .arg("suspended")
            .arg(i64::from(suspended))
            .arg("member_count")
            .arg(members)
            .invoke_async(&mut self.redis)
            .await?;
        Ok(())
    }

    async fn run(&mut self, pool: &PgPool, run_id: Uuid) -> anyhow::Result<()> {
        let row: Option<(i64, String, i64, bool, i64, i64)> = sqlx::query_as(
            "select r.version, r.status, r.credits_used, r.finished_at is not null, \
                    (select count(*) from rm_run_steps s where s.run_id = r.id and s.status = 'SUCCEEDED'), \
                    (select count(*) from rm_run_steps s where s.run_id = r.id) \
               from rm_runs r where r.id = $1",
        )
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
        let Some((version, status, credits_used, finished, done, total)) = row else {
            return Ok(());
        };
        let _: i64 = self
            .if_newer
            .key(self.keys.key(&format!("run:{run_id}")))
            .arg(version)
            .arg(if finished { FINISHED_TTL_SECONDS } else { 0 })
            .arg("status")
            .arg(status)
            .arg("credits_used")
            .arg(credits_used)
            .arg("steps_done")
            .arg(done)
            .arg("steps_total")
            .arg(total)
            .invoke_async(&mut self.redis)
            .await?;
        Ok(())
    }

    /// The workspace's runs by status, counted in PostgreSQL and written whole, so the
    /// counters are always those of a committed state.
    async fn run_counts(&mut self, pool: &PgPool, workspace_id: Uuid) -> anyhow::Result<()> {
        let counts: Vec<(String, i64)> =
            sqlx::query_as("select status, count(*) from rm_runs where workspace_id = $1 group by status")
                .bind(workspace_id)
                .fetch_all(pool)
                .await?;
        let key = self.keys.key(&format!("workspace:{workspace_id}:runs"));
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key).ignore();
        if !counts.is_empty() {
            pipe.hset_multiple(&key, &counts).ignore();
        }
        let _: () = pipe.query_async(&mut self.redis).await?;
        Ok(())
    }
}
