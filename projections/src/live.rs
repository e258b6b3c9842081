//! What Redis serves: each workspace's summary, each run's live status, and each workspace's
//! run counters. All of it is written from the committed read models, so it can always be
//! rebuilt: when Redis loses it (a flush, a failover), the projector notices that its marker
//! key is gone and fills everything in again.
//!
//! Keys, under the deployment's prefix (named by [`keys`], the one definition of each):
//! - `workspace:{id}`: hash `version name suspended member_count`
//! - `workspace:{id}:runs`: hash of run status → number of runs
//! - `run:{id}`: hash `version status credits_used steps_done steps_total`; expires a day
//!   after the run ends
//! - `live:filled`: present while Redis holds everything above

use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use uuid::Uuid;

use crate::Touched;
use crate::runs::{RunStatus, StepStatus};
use events::{RunId, WorkspaceId};

/// The names of what Redis serves.
pub mod keys {
    use events::{RunId, WorkspaceId};
    use platform::redis::Keys;

    /// A workspace's summary.
    pub fn workspace(keys: &Keys, workspace_id: WorkspaceId) -> String {
        keys.key(&format!("workspace:{workspace_id}"))
    }

    /// A workspace's run counters, by status.
    pub fn run_counts(keys: &Keys, workspace_id: WorkspaceId) -> String {
        keys.key(&format!("workspace:{workspace_id}:runs"))
    }

    /// A run's live status.
    pub fn run(keys: &Keys, run_id: RunId) -> String {
        keys.key(&format!("run:{run_id}"))
    }

    /// Patterns matching every key above.
    pub(crate) fn all(keys: &Keys) -> [String; 2] {
        [keys.key("workspace:*"), keys.key("run:*")]
    }
}

/// A workspace's member count, when Redis has its summary.
pub async fn member_count(redis: &mut ConnectionManager, keys: &Keys, workspace_id: WorkspaceId) -> Option<i64> {
    let cached: redis::RedisResult<Option<i64>> =
        redis::cmd("HGET").arg(keys::workspace(keys, workspace_id)).arg("member_count").query_async(redis).await;
    cached.ok().flatten()
}

/// A workspace's runs by status, when Redis has its counters.
pub async fn run_counts(
    redis: &mut ConnectionManager,
    keys: &Keys,
    workspace_id: WorkspaceId,
) -> Option<Vec<(RunStatus, i64)>> {
    let cached: redis::RedisResult<Vec<(String, i64)>> =
        redis::cmd("HGETALL").arg(keys::run_counts(keys, workspace_id)).query_async(redis).await;
    let counts = cached.ok().filter(|counts| !counts.is_empty())?;
    Some(counts.into_iter().filter_map(|(status, count)| Some((status.parse().ok()?, count))).collect())
}

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

/// Present while Redis holds everything the read models say.
const MARKER: &str = "live:filled";
/// Where a replacement is written before it is renamed into place.
const STAGING: &str = "live:staging:";
/// Commands per round trip when filling Redis in.
const PIPELINE: usize = 1_000;
/// Keys renamed or deleted in one step of [`Live::replace_all`]'s swap: what a reader of Redis
/// may wait behind.
pub const SWAP_STEP: usize = 1_000;

/// How a swap of everything Redis serves went: how many keys it renamed or deleted, in how
/// many steps, and the longest step, which is the longest any reader of Redis waited on it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Replaced {
    pub keys: usize,
    pub steps: usize,
    pub longest_step: std::time::Duration,
}

impl Replaced {
    async fn step(
        &mut self,
        step: impl std::future::Future<Output = redis::RedisResult<()>>,
    ) -> redis::RedisResult<()> {
        let started = std::time::Instant::now();
        step.await?;
        self.steps += 1;
        self.longest_step = self.longest_step.max(started.elapsed());
        Ok(())
    }
}

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
        if let Err(error) = self.refresh_touched(pool, touched).await {
            tracing::warn!(%error, touched = touched.len(), "could not refresh Redis");
        }
    }

    /// Three reads for the whole batch, then the Redis writes pipelined: a batch costs a few
    /// round trips, not a few per row.
    async fn refresh_touched(&mut self, pool: &PgPool, touched: &[Touched]) -> anyhow::Result<()> {
        let (mut workspaces, mut runs, mut counted) = (Vec::new(), Vec::new(), Vec::new());
        for touched in touched {
            match *touched {
                Touched::Workspace(workspace_id) => workspaces.push(workspace_id.uuid()),
                Touched::Run { workspace_id, run_id } => {
                    runs.push(run_id.uuid());
                    counted.push(workspace_id.uuid());
                }
            }
        }
        counted.sort_unstable();
        counted.dedup();
        let everything = Everything::read_some(pool, &workspaces, counted, &runs).await?;
        self.put(&everything.writes(&self.keys)).await
    }

    /// Sends writes, pipelined. Each pipeline is one MULTI, so a reader never sees a run
    /// counter deleted and not yet written again.
    async fn put(&mut self, writes: &[Write]) -> anyhow::Result<()> {
        for chunk in writes.chunks(PIPELINE) {
            let mut pipe = redis::pipe();
            // Loading is idempotent and cheap, and a Redis that restarted has forgotten it.
            pipe.atomic().load_script(&self.if_newer).ignore();
            for write in chunk {
                match write {
                    Write::Hash { key, version, ttl, fields } => {
                        pipe.invoke_script(&if_newer(&self.if_newer, key.clone(), *version, *ttl, fields)).ignore();
                    }
                    // Written whole, from the committed read model.
                    Write::Counts { key, counts } => {
                        pipe.del(key).ignore();
                        if !counts.is_empty() {
                            pipe.hset_multiple(key, counts).ignore();
                        }
                    }
                }
            }
            let _: () = pipe.query_async(&mut self.redis).await?;
        }
        Ok(())
    }

    /// Fills Redis in from the read models when its marker is gone. Returns whether it did.
    pub async fn refill_if_lost(&mut self, pool: &PgPool) -> anyhow::Result<bool> {
        let marker = self.keys.key(MARKER);
        let present: bool = redis::cmd("EXISTS").arg(&marker).query_async(&mut self.redis).await?;
        if present {
            return Ok(false);
        }
        let everything = Everything::read(pool).await?;
        // Guarded like every other write: a refresh that raced ahead keeps its newer values.
        self.put(&everything.writes(&self.keys)).await?;
        let _: () = redis::cmd("SET").arg(&marker).arg(1).query_async(&mut self.redis).await?;
        tracing::info!(
            workspaces = everything.workspaces.len(),
            runs = everything.runs.len(),
            "filled Redis in from the read models"
        );
        Ok(true)
    }

    /// Replaces everything Redis serves with what the read models say now. Used after a
    /// rebuild's switchover, when versions may be equal and values still differ.
    ///
    /// The new values are written under staging keys, then swapped into place in bounded steps:
    /// each step is one MULTI of at most [`SWAP_STEP`] renames or deletes, so a reader waits
    /// for one step at most, never for the whole swap (hundreds of thousands of keys). Between
    /// steps a reader finds each key as it was or as it is now, never missing: a rename replaces
    /// the key it lands on in one command.
    pub async fn replace_all(&mut self, pool: &PgPool) -> anyhow::Result<Replaced> {
        let staging = self.keys.key(STAGING);
        let leftovers = self.scan(&format!("{staging}*")).await?;
        for chunk in leftovers.chunks(SWAP_STEP) {
            let _: () = redis::cmd("UNLINK").arg(chunk).query_async(&mut self.redis).await?;
        }
        let everything = Everything::read(pool).await?;
        let writes = everything.writes(&self.keys);
        for chunk in writes.chunks(PIPELINE) {
            let mut pipe = redis::pipe();
            for write in chunk {
                let key = format!("{staging}{}", write.key());
                match write {
                    Write::Hash { version, ttl, fields, .. } => {
                        let version = [("version", version.to_string())];
                        pipe.hset_multiple(&key, &[&version[..], fields].concat()).ignore();
                        if *ttl > 0 {
                            pipe.expire(&key, *ttl).ignore();
                        }
                    }
                    Write::Counts { counts, .. } if !counts.is_empty() => {
                        pipe.hset_multiple(&key, counts).ignore();
                    }
                    Write::Counts { .. } => {}
                }
            }
            // A stretch of workspaces without runs writes nothing, and Redis takes no empty
            // pipeline.
            if !pipe.is_empty() {
                let _: () = pipe.query_async(&mut self.redis).await?;
            }
        }
        // An empty hash was never written, so there is nothing to rename; a rename replaces
        // the key it lands on, so only the keys that nothing replaces are deleted.
        let renamed: Vec<&str> = writes
            .iter()
            .filter(|write| !matches!(write, Write::Counts { counts, .. } if counts.is_empty()))
            .map(Write::key)
            .collect();
        let kept: std::collections::HashSet<&str> = renamed.iter().copied().collect();
        let [workspaces, runs] = keys::all(&self.keys);
        let mut served = self.scan(&workspaces).await?;
        served.extend(self.scan(&runs).await?);
        let gone: Vec<&String> = served.iter().filter(|key| !kept.contains(key.as_str())).collect();
        let mut replaced = Replaced { keys: renamed.len() + gone.len(), ..Replaced::default() };
        for step in gone.chunks(SWAP_STEP) {
            let mut swap = redis::pipe();
            swap.atomic();
            for key in step {
                swap.del(*key).ignore();
            }
            replaced.step(swap.query_async::<()>(&mut self.redis)).await?;
        }
        for step in renamed.chunks(SWAP_STEP) {
            let mut swap = redis::pipe();
            swap.atomic();
            for key in step {
                swap.rename(format!("{staging}{key}"), *key).ignore();
            }
            replaced.step(swap.query_async::<()>(&mut self.redis)).await?;
        }
        let _: () = redis::cmd("SET").arg(self.keys.key(MARKER)).arg(1).query_async(&mut self.redis).await?;
        Ok(replaced)
    }

    async fn scan(&mut self, pattern: &str) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut self.redis)
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// Everything Redis serves, read from the read models in three statements.
struct Everything {
    /// id, name, suspended, version, members
    workspaces: Vec<(Uuid, String, bool, i64, i64)>,
    /// The workspaces whose run counters are written, whole.
    counted: Vec<Uuid>,
    /// workspace, status, runs
    counts: Vec<(Uuid, String, i64)>,
    /// id, version, status, credits used, finished, steps done, steps in all
    runs: Vec<(Uuid, i64, String, i64, bool, i64, i64)>,
}

/// One key's worth of what Redis serves.
enum Write {
    Hash { key: String, version: i64, ttl: i64, fields: Vec<(&'static str, String)> },
    Counts { key: String, counts: Vec<(String, i64)> },
}

impl Write {
    fn key(&self) -> &str {
        match self {
            Write::Hash { key, .. } | Write::Counts { key, .. } => key,
        }
    }
}

impl Everything {
    /// What Redis serves of these workspaces' summaries, these workspaces' run counters and
    /// these runs.
    async fn read_some(
        pool: &PgPool,
        workspaces: &[Uuid],
        counted: Vec<Uuid>,
        runs: &[Uuid],
    ) -> sqlx::Result<Everything> {
        let workspaces = sqlx::query_as(
            "select w.id, w.name, w.suspended, w.version, \
                    (select count(*) from rm_workspace_members m where m.workspace_id = w.id) \
               from rm_workspaces w where w.id = any($1)",
        )
        .bind(workspaces)
        .fetch_all(pool)
        .await?;
        let counts = sqlx::query_as(
            "select workspace_id, status, count(*) from rm_runs where workspace_id = any($1) \
              group by workspace_id, status",
        )
        .bind(&counted)
        .fetch_all(pool)
        .await?;
        let runs = sqlx::query_as(
            "select r.id, r.version, r.status, r.credits_used, r.finished_at is not null, \
                    count(s.run_id) filter (where s.status = $2), count(s.run_id) \
               from rm_runs r left join rm_run_steps s on s.run_id = r.id where r.id = any($1) group by r.id",
        )
        .bind(runs)
        .bind(StepStatus::Succeeded.as_str())
        .fetch_all(pool)
        .await?;
        Ok(Everything { workspaces, counted, counts, runs })
    }

    async fn read(pool: &PgPool) -> sqlx::Result<Everything> {
        let workspaces = sqlx::query_as(
            "select w.id, w.name, w.suspended, w.version, \
                    (select count(*) from rm_workspace_members m where m.workspace_id = w.id) \
               from rm_workspaces w",
        )
        .fetch_all(pool)
        .await?;
        let counts = sqlx::query_as("select workspace_id, status, count(*) from rm_runs group by workspace_id, status")
            .fetch_all(pool)
            .await?;
        let runs = sqlx::query_as(
            "select r.id, r.version, r.status, r.credits_used, r.finished_at is not null, \
                    count(s.run_id) filter (where s.status = $1), count(s.run_id) \
               from rm_runs r left join rm_run_steps s on s.run_id = r.id \
              where r.finished_at is null or r.finished_at > now() - interval '1 day' \
              group by r.id",
        )
        .bind(StepStatus::Succeeded.as_str())
        .fetch_all(pool)
        .await?;
        let counted = workspaces.iter().map(|(id, ..): &(Uuid, String, bool, i64, i64)| *id).collect();
        Ok(Everything { workspaces, counted, counts, runs })
    }

    /// Keys are relative to the deployment's prefix.
    fn writes(&self, keys: &Keys) -> Vec<Write> {
        let mut writes = Vec::with_capacity(self.workspaces.len() + self.counted.len() + self.runs.len());
        for (id, name, suspended, version, members) in &self.workspaces {
            writes.push(Write::Hash {
                key: keys::workspace(keys, WorkspaceId(*id)),
                version: *version,
                ttl: 0,
                fields: workspace_fields(name, *suspended, *members),
            });
        }
        let mut counts: std::collections::HashMap<Uuid, Vec<(String, i64)>> = std::collections::HashMap::new();
        for (workspace_id, status, runs) in &self.counts {
            counts.entry(*workspace_id).or_default().push((status.clone(), *runs));
        }
        for id in &self.counted {
            let key = keys::run_counts(keys, WorkspaceId(*id));
            writes.push(Write::Counts { key, counts: counts.remove(id).unwrap_or_default() });
        }
        for (id, version, status, credits_used, finished, done, total) in &self.runs {
            writes.push(Write::Hash {
                key: keys::run(keys, RunId(*id)),
                version: *version,
                ttl: if *finished { FINISHED_TTL_SECONDS } else { 0 },
                fields: run_fields(status, *credits_used, *done, *total),
            });
        }
        writes
    }
}

/// An [`IF_NEWER`] call that sets `fields` on `key`.
fn if_newer<'a>(
    script: &'a redis::Script,
    key: String,
    version: i64,
    ttl: i64,
    fields: &[(&'static str, String)],
) -> redis::ScriptInvocation<'a> {
    let mut invocation = script.key(key);
    invocation.arg(version).arg(ttl);
    for (field, value) in fields {
        invocation.arg(*field).arg(value);
    }
    invocation
}

fn workspace_fields(name: &str, suspended: bool, members: i64) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("suspended", i64::from(suspended).to_string()),
        ("member_count", members.to_string()),
    ]
}

fn run_fields(status: &str, credits_used: i64, done: i64, total: i64) -> Vec<(&'static str, String)> {
    vec![
        ("status", status.to_owned()),
        ("credits_used", credits_used.to_string()),
        ("steps_done", done.to_string()),
        ("steps_total", total.to_string()),
    ]
}
