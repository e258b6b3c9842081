//! `oxbow-bench`: drives a running Oxbow over HTTP and prints what it measured as JSON.
//! `scripts/bench` runs it beside the baselines of the same run and prints the ratios.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use uuid::Uuid;

mod read_side;

use bench::log;

#[derive(Parser)]
struct Cli {
    /// The Oxbow server, e.g. http://127.0.0.1:18090.
    #[arg(long)]
    url: String,
    /// The JWT secret the server checks tokens with.
    #[arg(long)]
    secret: String,
    #[command(subcommand)]
    figure: Figure,
}

#[derive(Subcommand)]
enum Figure {
    /// Not a figure: writes a generated log of about `events` events, hash chained, into the
    /// empty, migrated database at `database_url`, for the audit and rebuild figures: the mixed
    /// run workload over `workspaces` workspaces and `days` days, or (`--shape workspaces`) a new
    /// workspace per event. Needs no server.
    GenerateLog {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        #[arg(long, value_enum, default_value_t = ShapeName::Runs)]
        shape: ShapeName,
        #[arg(long, default_value_t = 200)]
        workspaces: usize,
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Not a figure: appends one event the catalog projection cannot apply (a workspace's
    /// rename to a number) straight into the log at `database_url`, as a careless tenant's
    /// data from an older build would be, and waits until a running projector has parked it.
    Poison {
        #[arg(long)]
        database_url: String,
    },
    /// Not a figure of the server alone: samples the catalog projection's lag in the database
    /// at `database_url` ten times a second for `seconds` (run it beside a load).
    Lag {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Open loop at `rate` creating commands a second, and a probe that times each of its
    /// commands' answers to the matching graphql-transport-ws message.
    Freshness {
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 20)]
        probe_ms: u64,
    },
    /// Closed loop: `clients` callers each POST independent creating commands back to back.
    Throughput {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
    /// Open loop: commands at a steady rate; latency percentiles.
    Latency {
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// One command at a time on a billing account with `events` events (made first unless
    /// `workspace` names one): latency percentiles, against the same command on a fresh account.
    LongStream {
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        #[arg(long, default_value_t = 500)]
        commands: usize,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// Closed loop: `in_flight` runs of a five-step workflow of built-in echo agents at a time,
    /// spread over `workspaces` workspaces (each with its own billing account); runs completed
    /// per second, and the time from StartRun's response to RunSucceeded in the log (read from
    /// `database_url`).
    Runs {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 32)]
        in_flight: usize,
        #[arg(long, default_value_t = 1)]
        workspaces: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ShapeName {
    Runs,
    Workspaces,
}

struct Caller {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Caller {
    /// Sends a command that must be accepted; returns the response.
    async fn ok(&self, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let response = self.http.post(&self.url).bearer_auth(&self.token).json(&body).send().await?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "{} → HTTP {status}: {answer}", body["type"]);
        Ok(answer)
    }

    /// One CreateWorkspace; its latency, or why it failed.
    async fn create_workspace(&self) -> anyhow::Result<Duration> {
        let body = json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "Bench"}});
        let started = Instant::now();
        let response = self.http.post(&self.url).bearer_auth(&self.token).json(&body).send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        anyhow::ensure!(status.is_success(), "HTTP {status}");
        Ok(started.elapsed())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn summary(mut latencies: Vec<Duration>, errors: u64, elapsed: Duration) -> serde_json::Value {
    latencies.sort_unstable();
    json!({
        "commands": latencies.len(),
        "errors": errors,
        "seconds": elapsed.as_secs_f64(),
        "rate": latencies.len() as f64 / elapsed.as_secs_f64(),
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // HTTP clients use rustls with ring, as the oxbow binary does.
    platform::tls::install();
    let cli = Cli::parse();
    match &cli.figure {
        Figure::GenerateLog { database_url, events, shape, workspaces, days } => {
            let shape = match shape {
                ShapeName::Runs => log::Shape::Runs { workspaces: *workspaces, days: *days },
                ShapeName::Workspaces => log::Shape::Workspaces,
            };
            println!("{}", log::generate(database_url, *events, shape).await?);
            return Ok(());
        }
        Figure::Lag { database_url, seconds } => {
            println!("{}", read_side::lag(database_url, *seconds).await?);
            return Ok(());
        }
        Figure::Poison { database_url } => {
            println!("{}", read_side::poison(database_url).await?);
            return Ok(());
        }
        _ => {}
    }
    let tokens = platform::auth::Tokens::new(&cli.secret);
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let url = format!("{}/v1/commands", cli.url.trim_end_matches('/'));
    let caller = |n: usize| Caller {
        http: http.clone(),
        url: url.clone(),
        token: operator_token(&tokens, &format!("bench-{n}")),
    };
    // Fail early and clearly when the server is not there.
    caller(0).create_workspace().await.context("the first command failed")?;

    let result = match cli.figure {
        Figure::GenerateLog { .. } | Figure::Lag { .. } | Figure::Poison { .. } => {
            unreachable!("handled before the server is called")
        }
        Figure::Freshness { rate, seconds, probe_ms } => {
            let load = (0..64).map(|n| std::sync::Arc::new(caller(n))).collect();
            let token = operator_token(&tokens, "bench-probe");
            let probe = Caller { http: http.clone(), url: url.clone(), token: token.clone() };
            read_side::freshness(&cli.url, load, probe, &token, rate, seconds, Duration::from_millis(probe_ms)).await?
        }
        Figure::LongStream { events, commands, workspace } => {
            long_stream(&caller(0), &caller, events, commands, workspace).await?
        }
        Figure::Runs { database_url, in_flight, workspaces, seconds } => {
            runs::measure(caller(0), &database_url, in_flight, workspaces, seconds).await?
        }
        Figure::Throughput { clients, seconds } => {
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let started = Instant::now();
            let workers = (0..clients).map(|n| {
                let caller = caller(n);
                tokio::spawn(async move {
                    let (mut latencies, mut errors) = (Vec::new(), 0u64);
                    while Instant::now() < deadline {
                        match caller.create_workspace().await {
                            Ok(latency) => latencies.push(latency),
                            Err(_) => errors += 1,
                        }
                    }
                    (latencies, errors)
                })
            });
            let (mut latencies, mut errors) = (Vec::new(), 0);
            for worker in futures::future::join_all(workers).await {
                let (l, e) = worker?;
                latencies.extend(l);
                errors += e;
            }
            summary(latencies, errors, started.elapsed())
        }
        Figure::Latency { rate, seconds } => {
            let total = rate * seconds;
            let interval = Duration::from_secs_f64(1.0 / rate as f64);
            let started = Instant::now();
            let mut tasks = Vec::with_capacity(total as usize);
            let callers: Vec<std::sync::Arc<Caller>> = (0..64).map(|n| std::sync::Arc::new(caller(n))).collect();
            for i in 0..total {
                tokio::time::sleep_until((started + interval * i as u32).into()).await;
                let caller = callers[i as usize % callers.len()].clone();
                tasks.push(tokio::spawn(async move { caller.create_workspace().await }));
            }
            let (mut latencies, mut errors) = (Vec::new(), 0);
            for task in futures::future::join_all(tasks).await {
                match task? {
                    Ok(latency) => latencies.push(latency),
                    Err(_) => errors += 1,
                }
            }
            summary(latencies, errors, started.elapsed())
        }
    };
    println!("{result}");
    Ok(())
}

/// The bench's callers are the platform's operators as well as owners of what they create:
/// they grant the credits the runs spend, as operators do.
fn operator_token(tokens: &platform::auth::Tokens, sub: &str) -> String {
    tokens.mint_with_roles(sub, None, &["operator"], chrono::Duration::hours(1))
}

/// A workspace with a billing account of `events` events.
async fn long_account(caller: &Caller, make: &impl Fn(usize) -> Caller, events: usize) -> anyhow::Result<Uuid> {
    let workspace = Uuid::now_v7();
    caller.ok(json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Long"}})).await?;
    caller
        .ok(json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "bench", "overdraft_limit": 0}}))
        .await?;
    // Sixteen writers at once: the owner's (an operator's) token, so every grant is accepted.
    let writers = (0..16).map(|n| {
        let writer = Caller { token: caller.token.clone(), ..make(n) };
        tokio::spawn(async move {
            for _ in (n..events.saturating_sub(1)).step_by(16) {
                writer
                    .ok(json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1, "reason": "bench"}}))
                    .await?;
            }
            anyhow::Ok(())
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer??;
    }
    Ok(workspace)
}

async fn grant_latencies(caller: &Caller, workspace: Uuid, commands: usize) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(commands);
    for _ in 0..commands {
        let started = Instant::now();
        caller
            .ok(json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1, "reason": "bench"}}))
            .await?;
        latencies.push(started.elapsed());
    }
    latencies.sort_unstable();
    Ok(latencies)
}

async fn long_stream(
    caller: &Caller,
    make: &impl Fn(usize) -> Caller,
    events: usize,
    commands: usize,
    workspace: Option<Uuid>,
) -> anyhow::Result<serde_json::Value> {
    let long = match workspace {
        Some(workspace) => workspace,
        None => long_account(caller, make, events).await?,
    };
    let long_latencies = grant_latencies(caller, long, commands).await?;
    let short = long_account(caller, make, 1).await?;
    let short_latencies = grant_latencies(caller, short, commands).await?;
    Ok(json!({
        "workspace": long,
        "p50_ms": percentile(&long_latencies, 0.50),
        "p99_ms": percentile(&long_latencies, 0.99),
        "short_p99_ms": percentile(&short_latencies, 0.99),
    }))
}

mod runs {
    //! The run figures: five-step runs of built-in echo agents, end to end through the run saga.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use chrono::{DateTime, Utc};
    use serde_json::json;
    use tokio::sync::oneshot;
    use uuid::Uuid;

    use super::{Caller, percentile};

    type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<(String, DateTime<Utc>)>>>>;

    /// A funded workspace with an echo agent and the workflow fetch → (clean ∥ summarize) →
    /// merge → report. Returns the workspace and workflow ids.
    async fn set_up(caller: &Caller) -> anyhow::Result<(Uuid, Uuid)> {
        let (workspace, agent, workflow) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        caller.ok(json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Bench runs"}})).await?;
        caller
            .ok(json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "bench", "overdraft_limit": 0}}))
            .await?;
        caller
            .ok(json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1_000_000_000, "reason": "bench"}}))
            .await?;
        caller
            .ok(json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "Echo",
                "kind": "tool", "executor": {"type": "builtin", "name": "echo"}, "price": {"per_call": 1, "per_1k_tokens": 0}}}))
            .await?;
        let step = |id: &str, depends_on: &[&str]| json!({"id": id, "agent_id": agent, "depends_on": depends_on});
        caller
            .ok(json!({"type": "DefineWorkflow", "id": workflow, "payload": {"workspace_id": workspace, "name": "Five",
                "steps": [step("fetch", &[]), step("clean", &["fetch"]), step("summarize", &["fetch"]),
                          step("merge", &["clean", "summarize"]), step("report", &["merge"])]}}))
            .await?;
        Ok((workspace, workflow))
    }

    /// Statements PostgreSQL has run in this database, when `pg_stat_statements` is there.
    async fn statements(pool: &sqlx::PgPool) -> Option<i64> {
        sqlx::query_as::<_, (i64,)>(
            "select coalesce(sum(calls), 0)::bigint from pg_stat_statements \
              where dbid = (select oid from pg_database where datname = current_database())",
        )
        .fetch_one(pool)
        .await
        .ok()
        .map(|(calls,)| calls)
    }

    /// Follows the log for the runs' ends and tells whoever waits for each. Returns how many
    /// statements it ran.
    async fn watch(
        pool: sqlx::PgPool,
        waiting: Waiting,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> anyhow::Result<u64> {
        let mut statements = 1;
        let (mut last,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&pool).await?;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // Positions are gap-free and in commit order: once the head is at `head`, every
            // event up to it is there to read.
            let (head,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&pool).await?;
            statements += 2;
            let ended: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
                "select stream_id, event_type, recorded_at from events where position > $1 and position <= $2 \
                    and event_type in ('RunSucceeded', 'RunFailed', 'RunRejected', 'RunCancelled')",
            )
            .bind(last)
            .bind(head)
            .fetch_all(&pool)
            .await?;
            for (stream_id, event_type, at) in ended {
                if let Some(waiter) = waiting.lock().expect("waiting").remove(&stream_id) {
                    let _ = waiter.send((event_type, at));
                }
            }
            last = head;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(statements)
    }

    pub async fn measure(
        caller: Caller,
        database_url: &str,
        in_flight: usize,
        workspaces: usize,
        seconds: u64,
    ) -> anyhow::Result<serde_json::Value> {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(database_url).await?;
        let mut set = Vec::with_capacity(workspaces.max(1));
        for _ in 0..workspaces.max(1) {
            set.push(set_up(&caller).await?);
        }
        let waiting: Waiting = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = tokio::spawn(watch(pool.clone(), waiting.clone(), stop.clone()));
        let (head_before,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&pool).await?;
        let statements_before = statements(&pool).await;
        let caller = Arc::new(caller);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let drivers = (0..in_flight).map(|n| {
            let (caller, waiting) = (caller.clone(), waiting.clone());
            let (workspace, workflow) = set[n % set.len()];
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let run = Uuid::now_v7();
                    let (sender, ended) = oneshot::channel();
                    waiting.lock().expect("waiting").insert(events::runs::stream_id(run), sender);
                    let start = json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace,
                        "workflow_id": workflow, "input": {"n": 1}, "budget": 10}});
                    if caller.ok(start).await.is_err() {
                        failures += 1;
                        continue;
                    }
                    let answered = Utc::now();
                    match tokio::time::timeout(Duration::from_secs(60), ended).await {
                        Ok(Ok((event_type, at))) if event_type == "RunSucceeded" => {
                            latencies.push((at - answered).to_std().unwrap_or_default())
                        }
                        _ => failures += 1,
                    }
                }
                (latencies, failures)
            })
        });
        let (mut latencies, mut failures) = (Vec::new(), 0);
        for driver in futures::future::join_all(drivers).await {
            let (l, f) = driver?;
            latencies.extend(l);
            failures += f;
        }
        let elapsed = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let watched = watcher.await??;
        let (head_after,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&pool).await?;
        // What the server ran: every statement since, less the watcher's and these two.
        let statements_per_run = match (statements_before, statements(&pool).await) {
            (Some(before), Some(after)) if !latencies.is_empty() => {
                Some((after - before - watched as i64 - 2) as f64 / latencies.len() as f64)
            }
            _ => None,
        };
        latencies.sort_unstable();
        let runs = latencies.len();
        Ok(json!({
            "runs": runs,
            "failures": failures,
            "seconds": elapsed.as_secs_f64(),
            "rate": runs as f64 / elapsed.as_secs_f64(),
            "statements_per_run": statements_per_run,
            "events_per_run": if runs > 0 { (head_after - head_before) as f64 / runs as f64 } else { 0.0 },
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }))
    }
}
