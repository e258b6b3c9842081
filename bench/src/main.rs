//! `oxbow-bench`: drives a running Oxbow over HTTP and prints what it measured as JSON.
//! `scripts/bench` runs it beside the baselines of the same run and prints the ratios.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use uuid::Uuid;

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
}

struct Caller {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Caller {
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
    let cli = Cli::parse();
    let tokens = platform::auth::Tokens::new(&cli.secret);
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let url = format!("{}/v1/commands", cli.url.trim_end_matches('/'));
    let caller = |n: usize| Caller {
        http: http.clone(),
        url: url.clone(),
        token: tokens.mint(&format!("bench-{n}"), None, chrono::Duration::hours(1)),
    };
    // Fail early and clearly when the server is not there.
    caller(0).create_workspace().await.context("the first command failed")?;

    let result = match cli.figure {
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
