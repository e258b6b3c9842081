//! `oxbow-bench`: drives a running Oxbow over HTTP and prints what it measured as JSON.
//! `scripts/bench` runs it beside the baselines of the same run and prints the ratios;
//! `bench/README.md` defines every figure.
//!
//! Latencies of open-loop loads are taken from when each command was due, not from when the
//! client got round to sending it, so a client that falls behind on the shared cores shows as
//! latency instead of hiding it (coordinated omission).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use uuid::Uuid;

mod counts;
mod read_side;

use bench::log;
use counts::Observer;

#[derive(Parser)]
struct Cli {
    /// The Oxbow server, e.g. http://127.0.0.1:18090.
    #[arg(long)]
    url: String,
    /// The JWT secret the server checks tokens with.
    #[arg(long)]
    secret: String,
    /// The database as the bench's observer role: the bench's own statements run as it and are
    /// left out of the statement counts.
    #[arg(long)]
    observer_url: Option<String>,
    /// The server's process, whose CPU seconds are counted.
    #[arg(long)]
    server_pid: Option<u32>,
    /// PostgreSQL's postmaster, whose CPU seconds (its children's included) are counted.
    #[arg(long)]
    postgres_pid: Option<u32>,
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
    /// Not a figure of the server alone: samples the catalog projection's lag (observer
    /// connection) ten times a second for `seconds` (run it beside a load).
    Lag {
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
    /// Closed loop: `clients` callers each POST independent creating commands back to back;
    /// with the counts per command.
    Throughput {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
    /// Open loop: commands due at a steady rate; latency from when each was due.
    Latency {
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Not a figure: makes `streams` billing accounts of `events` events each, written by
    /// many callers at once, and prints their workspaces for `long-stream`.
    LongStreams {
        #[arg(long, default_value_t = 10)]
        streams: usize,
        #[arg(long, default_value_t = 10_000)]
        events: usize,
    },
    /// Commands on long billing accounts, from a server that has not read them (restart it after
    /// `long-streams`): after a warm-up on fresh accounts, each account's first command is read
    /// from its snapshot (cold), and `commands` more follow (warm).
    LongStream {
        #[arg(long, value_delimiter = ',', required = true)]
        workspaces: Vec<Uuid>,
        #[arg(long, default_value_t = 50)]
        commands: usize,
    },
    /// Closed loop: `in_flight` runs of a five-step workflow of built-in echo agents at a time,
    /// spread over `workspaces` workspaces (each with its own billing account); runs completed
    /// per second, the time from StartRun's response to RunSucceeded committed (seen by a
    /// follower of the log woken by the append notification), and the counts per run.
    /// With `--flood N`, first a flood from another creator: N workspaces of theirs, each
    /// starting 16 runs of one step whose webhook (served by the bench) never answers until the
    /// measurement ends. The server must allow webhooks on 127.0.0.1 (`OXBOW_WEBHOOK_ALLOW`).
    Runs {
        #[arg(long, default_value_t = 32)]
        in_flight: usize,
        #[arg(long, default_value_t = 1)]
        workspaces: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value_t = 0)]
        flood: usize,
        /// Each step's input reads its dependencies' outputs and the run's input (templates), so
        /// the cost of passing data along shows.
        #[arg(long)]
        templated: bool,
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

    /// One CreateWorkspace, due at `due`; its latency from then, or why it failed.
    async fn create_workspace(&self, due: Instant) -> anyhow::Result<Duration> {
        let body = json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "Bench"}});
        let response = self.http.post(&self.url).bearer_auth(&self.token).json(&body).send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        anyhow::ensure!(status.is_success(), "HTTP {status}");
        Ok(due.elapsed())
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

/// Runs `commands` due at `rate` a second from `callers` in turn, each timed from when it was
/// due: (latencies of the accepted, how many failed).
async fn open_loop(
    callers: &[std::sync::Arc<Caller>],
    rate: u64,
    seconds: u64,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let caller = callers[i as usize % callers.len()].clone();
        tasks.push(tokio::spawn(async move { caller.create_workspace(due).await }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in futures::future::join_all(tasks).await {
        match task? {
            Ok(latency) => latencies.push(latency),
            Err(_) => errors += 1,
        }
    }
    Ok((latencies, errors))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // HTTP clients use rustls with ring, as the oxbow binary does.
    platform::tls::install();
    let cli = Cli::parse();
    let observer = || async {
        let url = cli.observer_url.as_deref().context("this figure needs --observer-url")?;
        Observer::connect(url, cli.server_pid, cli.postgres_pid).await
    };
    match &cli.figure {
        Figure::GenerateLog { database_url, events, shape, workspaces, days } => {
            let shape = match shape {
                ShapeName::Runs => log::Shape::Runs { workspaces: *workspaces, days: *days },
                ShapeName::Workspaces => log::Shape::Workspaces,
            };
            println!("{}", log::generate(database_url, *events, shape).await?);
            return Ok(());
        }
        Figure::Lag { seconds } => {
            println!("{}", read_side::lag(observer().await?.pool(), *seconds).await?);
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
    caller(0).create_workspace(Instant::now()).await.context("the first command failed")?;

    let result = match &cli.figure {
        Figure::GenerateLog { .. } | Figure::Lag { .. } | Figure::Poison { .. } => {
            unreachable!("handled before the server is called")
        }
        Figure::Freshness { rate, seconds, probe_ms } => {
            let load = (0..64).map(|n| std::sync::Arc::new(caller(n))).collect();
            let token = operator_token(&tokens, "bench-probe");
            let probe = Caller { http: http.clone(), url: url.clone(), token: token.clone() };
            read_side::freshness(&cli.url, load, probe, &token, *rate, *seconds, Duration::from_millis(*probe_ms))
                .await?
        }
        Figure::LongStreams { streams, events } => long_streams(&caller, *streams, *events).await?,
        Figure::LongStream { workspaces, commands } => long_stream(&caller(0), workspaces, *commands).await?,
        Figure::Runs { in_flight, workspaces, seconds, flood, templated } => {
            let observer = observer().await?;
            let shape = runs::Shape {
                in_flight: *in_flight,
                workspaces: *workspaces,
                seconds: *seconds,
                templated: *templated,
            };
            if *flood == 0 {
                runs::measure(caller(0), &observer, shape).await?
            } else {
                let flooder =
                    Caller { http: http.clone(), url: url.clone(), token: operator_token(&tokens, "bench-flood") };
                let flood = runs::Flood::start(flooder, *flood).await?;
                let mut measured = runs::measure(caller(0), &observer, shape).await?;
                measured["flood"] = flood.end().await?;
                measured
            }
        }
        Figure::Throughput { clients, seconds } => {
            let observer = observer().await?;
            let before = observer.mark().await?;
            let deadline = Instant::now() + Duration::from_secs(*seconds);
            let started = Instant::now();
            let workers = (0..*clients).map(|n| {
                let caller = caller(n);
                tokio::spawn(async move {
                    let (mut latencies, mut errors) = (Vec::new(), 0u64);
                    while Instant::now() < deadline {
                        match caller.create_workspace(Instant::now()).await {
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
            let elapsed = started.elapsed();
            tokio::time::sleep(counts::SETTLE).await;
            let counted = observer.since(&before).await?.per(latencies.len(), "command");
            let mut result = summary(latencies, errors, elapsed);
            result["counts"] = counted;
            result
        }
        Figure::Latency { rate, seconds } => {
            let callers: Vec<std::sync::Arc<Caller>> = (0..64).map(|n| std::sync::Arc::new(caller(n))).collect();
            let started = Instant::now();
            let (latencies, errors) = open_loop(&callers, *rate, *seconds).await?;
            let mut result = summary(latencies, errors, started.elapsed());
            result["due_rate"] = json!(rate);
            result
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

/// A workspace with a billing account of one event.
async fn account(caller: &Caller) -> anyhow::Result<Uuid> {
    let workspace = Uuid::now_v7();
    caller.ok(json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Long"}})).await?;
    caller
        .ok(json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "bench", "overdraft_limit": 0}}))
        .await?;
    Ok(workspace)
}

fn grant(workspace: Uuid) -> serde_json::Value {
    json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1, "reason": "bench"}})
}

/// `streams` billing accounts of `events` events each, written by 32 callers at once, each
/// taking its turn on every account.
async fn long_streams(
    make: &impl Fn(usize) -> Caller,
    streams: usize,
    events: usize,
) -> anyhow::Result<serde_json::Value> {
    let mut accounts = Vec::with_capacity(streams);
    for _ in 0..streams {
        accounts.push(account(&make(0)).await?);
    }
    let writers = (0..32).map(|n| {
        let (writer, accounts) = (make(n), accounts.clone());
        tokio::spawn(async move {
            for grant_number in (n..events.saturating_sub(1) * accounts.len()).step_by(32) {
                writer.ok(grant(accounts[grant_number % accounts.len()])).await?;
            }
            anyhow::Ok(())
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer??;
    }
    Ok(json!({"workspaces": accounts, "events": events}))
}

/// Times commands on `workspaces`' accounts, from a server that has not read them: first a
/// warm-up of 100 commands on a fresh account (connections open, statements prepared), which
/// is also the reference; then each long account's first command (from its snapshot: cold),
/// then `commands` more on each (warm).
async fn long_stream(caller: &Caller, workspaces: &[Uuid], commands: usize) -> anyhow::Result<serde_json::Value> {
    let timed = async |workspace: Uuid| -> anyhow::Result<Duration> {
        let started = Instant::now();
        caller.ok(grant(workspace)).await?;
        Ok(started.elapsed())
    };
    let fresh = account(caller).await?;
    let mut short = Vec::with_capacity(100);
    for _ in 0..100 {
        short.push(timed(fresh).await?);
    }
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for workspace in workspaces {
        cold.push(timed(*workspace).await?);
        for _ in 0..commands {
            warm.push(timed(*workspace).await?);
        }
    }
    for latencies in [&mut short, &mut cold, &mut warm] {
        latencies.sort_unstable();
    }
    Ok(json!({
        "streams": workspaces.len(),
        "cold_p50_ms": percentile(&cold, 0.50),
        "cold_max_ms": percentile(&cold, 1.0),
        "warm_p50_ms": percentile(&warm, 0.50),
        "warm_p99_ms": percentile(&warm, 0.99),
        "short_p99_ms": percentile(&short, 0.99),
    }))
}

mod runs {
    //! The run figures: five-step runs of built-in echo agents, end to end through the run saga.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use sqlx::postgres::PgListener;
    use tokio::sync::oneshot;
    use uuid::Uuid;

    use super::{Caller, percentile};
    use crate::counts::{Observer, SETTLE};

    /// How long the process is watched idle before the runs.
    const IDLE: Duration = Duration::from_secs(2);

    /// Who waits for which run's end: its event type, and when the follower saw it committed.
    type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<(String, Instant)>>>>;

    /// What a run figure drives: how many runs at once, over how many workspaces, for how long,
    /// and whether the steps pass data along.
    #[derive(Clone, Copy)]
    pub struct Shape {
        pub in_flight: usize,
        pub workspaces: usize,
        pub seconds: u64,
        pub templated: bool,
    }

    /// The five steps' inputs: fixed, or templates over the run's input and each step's
    /// dependencies' outputs.
    fn inputs(templated: bool) -> [serde_json::Value; 5] {
        if !templated {
            return std::array::from_fn(|_| json!({}));
        }
        [
            json!({"n": "{{ run.input.n }}"}),
            json!({"text": "{{ steps.fetch.output }}"}),
            json!({"prompt": "summarize {{ steps.fetch.output.n }} for run {{ run.input.n }}"}),
            json!({"clean": "{{ steps.clean.output.text }}", "summary": "{{ steps.summarize.output.prompt }}"}),
            json!({"report": "{{ steps.merge.output.summary }}"}),
        ]
    }

    /// A funded workspace with an echo agent and the workflow fetch → (clean ∥ summarize) →
    /// merge → report. Returns the workspace and workflow ids.
    async fn set_up(caller: &Caller, templated: bool) -> anyhow::Result<(Uuid, Uuid)> {
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
        let [fetch, clean, summarize, merge, report] = inputs(templated);
        let step = |id: &str, depends_on: &[&str], input: serde_json::Value| json!({"id": id, "agent_id": agent, "depends_on": depends_on, "input": input});
        caller
            .ok(json!({"type": "DefineWorkflow", "id": workflow, "payload": {"workspace_id": workspace, "name": "Five",
                "steps": [step("fetch", &[], fetch), step("clean", &["fetch"], clean),
                          step("summarize", &["fetch"], summarize),
                          step("merge", &["clean", "summarize"], merge), step("report", &["merge"], report)]}}))
            .await?;
        Ok((workspace, workflow))
    }

    /// Follows the log for the runs' ends, woken by the append notification (as the relay and
    /// the projector are), and tells whoever waits for each when it saw it: after its commit.
    async fn watch(
        observer: sqlx::PgPool,
        waiting: Waiting,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&observer).await?;
        listener.listen(store::APPEND_CHANNEL).await?;
        let (mut last,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&observer).await?;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let announced = store::wait_for_appends(&mut listener, Duration::from_millis(50)).await;
            if announced.is_some_and(|head| head <= last) {
                continue;
            }
            // Positions are gap-free and in commit order: once the head is at `head`, every
            // event up to it is there to read.
            let (head,): (i64,) = sqlx::query_as("select position from log_head").fetch_one(&observer).await?;
            let ended: Vec<(String, String)> = sqlx::query_as(
                "select stream_id, event_type from events where position > $1 and position <= $2 \
                    and event_type in ('RunSucceeded', 'RunFailed', 'RunRejected', 'RunCancelled')",
            )
            .bind(last)
            .bind(head)
            .fetch_all(&observer)
            .await?;
            let seen = Instant::now();
            for (stream_id, event_type) in ended {
                if let Some(waiter) = waiting.lock().expect("waiting").remove(&stream_id) {
                    let _ = waiter.send((event_type, seen));
                }
            }
            last = head;
        }
        Ok(())
    }

    /// Runs of one creator whose webhooks never answer while the flood lasts: each holds a saga
    /// worker for as long as the sagas let it (its step's timeout is two minutes).
    pub struct Flood {
        caller: Caller,
        runs: Vec<Uuid>,
        /// Connections the webhook holds open; dropped when the flood ends.
        held: Arc<Mutex<Vec<tokio::net::TcpStream>>>,
        server: tokio::task::JoinHandle<()>,
    }

    /// Runs each flooding workspace starts.
    const FLOOD_RUNS: usize = 16;

    impl Flood {
        /// Starts the flood over `workspaces` workspaces and waits until the sagas have called
        /// as many of its webhooks as they will.
        pub async fn start(caller: Caller, workspaces: usize) -> anyhow::Result<Flood> {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/never", listener.local_addr()?);
            let held: Arc<Mutex<Vec<tokio::net::TcpStream>>> = Arc::default();
            let holding = held.clone();
            let server = tokio::spawn(async move {
                while let Ok((connection, _)) = listener.accept().await {
                    holding.lock().expect("held").push(connection);
                }
            });
            let mut runs = Vec::new();
            for _ in 0..workspaces {
                let (workspace, agent, workflow) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
                caller.ok(json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Flood"}})).await?;
                caller
                    .ok(json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "bench", "overdraft_limit": 0}}))
                    .await?;
                caller
                    .ok(json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 1_000_000, "reason": "bench"}}))
                    .await?;
                caller
                    .ok(json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "Never",
                        "kind": "tool", "executor": {"type": "webhook", "url": url, "timeout_ms": 120_000},
                        "price": {"per_call": 1, "per_1k_tokens": 0}}}))
                    .await?;
                caller
                    .ok(json!({"type": "DefineWorkflow", "id": workflow, "payload": {"workspace_id": workspace, "name": "Hang",
                        "steps": [{"id": "call", "agent_id": agent, "timeout_ms": 120_000}]}}))
                    .await?;
                for _ in 0..FLOOD_RUNS {
                    let run = Uuid::now_v7();
                    caller
                        .ok(json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace,
                            "workflow_id": workflow, "input": {}, "budget": 10}}))
                        .await?;
                    runs.push(run);
                }
            }
            // The calls come in as the sagas lease the dispatches; they stop at what the sagas
            // let one creator hold.
            let (mut calls, mut steady_since) = (0, Instant::now());
            let waited = Instant::now();
            while steady_since.elapsed() < Duration::from_secs(2) && waited.elapsed() < Duration::from_secs(30) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = held.lock().expect("held").len();
                if now != calls {
                    (calls, steady_since) = (now, Instant::now());
                }
            }
            Ok(Flood { caller, runs, held, server })
        }

        /// Ends the flood: its runs are cancelled and the calls held are dropped. Returns how
        /// many calls the sagas had made, and how many runs there were.
        pub async fn end(self) -> anyhow::Result<serde_json::Value> {
            let calls = self.held.lock().expect("held").len();
            for run in &self.runs {
                let cancel = json!({"type": "CancelRun", "id": run, "payload": {"reason": "the flood is over"}});
                // A run the flood's own timeout ended meanwhile has nothing to cancel.
                let _ = self.caller.ok(cancel).await;
            }
            self.server.abort();
            self.held.lock().expect("held").clear();
            Ok(json!({"runs": self.runs.len(), "calls_held": calls}))
        }
    }

    pub async fn measure(caller: Caller, observer: &Observer, shape: Shape) -> anyhow::Result<serde_json::Value> {
        let Shape { in_flight, workspaces, seconds, templated } = shape;
        let mut set = Vec::with_capacity(workspaces.max(1));
        for _ in 0..workspaces.max(1) {
            set.push(set_up(&caller, templated).await?);
        }
        // What the process runs when it has nothing to do (its loops' polling), for reading the
        // counts of a light load.
        let idle = observer.mark().await?;
        tokio::time::sleep(IDLE).await;
        let idle = observer.since(&idle).await?;
        let waiting: Waiting = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = tokio::spawn(watch(observer.pool().clone(), waiting.clone(), stop.clone()));
        let before = observer.mark().await?;
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
                    let answered = Instant::now();
                    match tokio::time::timeout(Duration::from_secs(60), ended).await {
                        Ok(Ok((event_type, seen))) if event_type == "RunSucceeded" => {
                            latencies.push(seen.saturating_duration_since(answered))
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
        watcher.await??;
        tokio::time::sleep(SETTLE).await;
        let runs = latencies.len();
        // Every run started counts for the work it caused, finished or not.
        let counts = observer.since(&before).await?;
        latencies.sort_unstable();
        Ok(json!({
            "runs": runs,
            "failures": failures,
            "seconds": elapsed.as_secs_f64(),
            "rate": runs as f64 / elapsed.as_secs_f64(),
            "events_per_second": counts.events as f64 / elapsed.as_secs_f64(),
            "counts": counts.per(runs + failures as usize, "run"),
            "idle_statements_per_second": idle.statements.map(|statements| statements as f64 / IDLE.as_secs_f64()),
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }))
    }
}
