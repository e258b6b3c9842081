//! Where an attempt is carried out: built-in executors in-process, webhooks over HTTP, and
//! external workers through the tasks topic.
//!
//! Dispatch is at least once (a worker that dies mid-attempt leaves it to be dispatched again),
//! so a webhook or a worker may see an attempt twice; `(run_id, step_id, attempt)` names it, and
//! the run takes the first report of each attempt only.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use commands::runs::Usage;
use events::agents::{Builtin, Executor};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// An attempt as an executor receives it. This is also the JSON of a message on the tasks
/// topic; a webhook receives `run_id`, `step_id`, `attempt` and `input` of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub run_id: Uuid,
    pub workspace_id: Uuid,
    pub step_id: String,
    pub attempt: u32,
    pub agent_id: Uuid,
    pub input: Value,
    /// The attempt times out at this moment; a report after it is refused.
    pub deadline: DateTime<Utc>,
}

/// How an attempt went, when the executor knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed {
        output: Value,
        usage: Usage,
    },
    Failed {
        error: String,
        retryable: bool,
    },
    /// An external worker has the task and reports through the command endpoint.
    HandedOver,
}

/// The longest a built-in `sleep` sleeps; the step's timeout is the real limit.
const SLEEP_MAX: Duration = Duration::from_secs(3600);

pub struct Executors {
    http: reqwest::Client,
    producer: FutureProducer,
    tasks_topic: String,
    notifications_topic: String,
}

#[derive(Deserialize)]
struct WebhookAnswer {
    #[serde(default)]
    output: Value,
    #[serde(default)]
    usage: WebhookUsage,
}

#[derive(Deserialize, Default)]
struct WebhookUsage {
    #[serde(default)]
    tokens: u64,
}

impl Executors {
    pub fn new(brokers: &str, tasks_topic: &str, notifications_topic: &str) -> anyhow::Result<Executors> {
        let producer = platform::kafka::producer_config(brokers).create().context("creating the tasks producer")?;
        let http = reqwest::Client::builder().build().context("creating the webhook client")?;
        Ok(Executors {
            http,
            producer,
            tasks_topic: tasks_topic.to_owned(),
            notifications_topic: notifications_topic.to_owned(),
        })
    }

    /// Publishes a notification (JSON) for whoever watches the notifications topic: mailers,
    /// chat bots. Keyed by workspace, so a workspace's notifications stay in order.
    pub async fn notify(&self, workspace_id: Uuid, notification: &Value) -> anyhow::Result<()> {
        self.publish(&self.notifications_topic, &workspace_id.to_string(), &serde_json::to_vec(notification)?).await
    }

    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> anyhow::Result<()> {
        self.producer
            .send(FutureRecord::to(topic).key(key).payload(payload), Duration::from_secs(10))
            .await
            .map_err(|(error, _)| anyhow::anyhow!("publishing to {topic}: {error}"))?;
        Ok(())
    }

    /// Carries out `task` with `executor`. An error means the attempt could not even be handed
    /// over (the tasks topic is unreachable) and should be dispatched again later.
    pub async fn run(&self, executor: &Executor, task: &Task) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let elapsed = |started: Instant| started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        match executor {
            Executor::Builtin { name, config } => {
                let tokens = config.get("tokens").and_then(Value::as_u64).unwrap_or(0);
                match name {
                    Builtin::Echo | Builtin::Usage => {}
                    Builtin::Sleep => {
                        let ms = config.get("ms").and_then(Value::as_u64).unwrap_or(0);
                        tokio::time::sleep(Duration::from_millis(ms).min(SLEEP_MAX)).await;
                    }
                    Builtin::Fail => {
                        let error = config.get("error").and_then(Value::as_str).unwrap_or("the fail executor fails");
                        return Ok(Outcome::Failed { error: error.to_owned(), retryable: true });
                    }
                }
                let tokens = if *name == Builtin::Usage { tokens } else { 0 };
                Ok(Outcome::Completed {
                    output: task.input.clone(),
                    usage: Usage { tokens, duration_ms: elapsed(started) },
                })
            }
            Executor::Webhook { url, timeout_ms } => Ok(self.webhook(url, *timeout_ms, task, started).await),
            Executor::External => {
                self.publish(&self.tasks_topic, &task.run_id.to_string(), &serde_json::to_vec(task)?).await?;
                Ok(Outcome::HandedOver)
            }
        }
    }

    async fn webhook(&self, url: &str, timeout_ms: u64, task: &Task, started: Instant) -> Outcome {
        let body = serde_json::json!({
            "run_id": task.run_id,
            "step_id": task.step_id,
            "attempt": task.attempt,
            "input": task.input,
        });
        let failed = |error: String| Outcome::Failed { error, retryable: true };
        let response = self
            .http
            .post(url)
            .header("idempotency-key", format!("{}:{}:{}", task.run_id, task.step_id, task.attempt))
            .timeout(Duration::from_millis(timeout_ms))
            .json(&body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return failed(format!("no answer within {timeout_ms} ms")),
            Err(error) => return failed(format!("the webhook could not be reached: {error}")),
        };
        let status = response.status();
        if !status.is_success() {
            return failed(format!("the webhook answered {status}"));
        }
        match response.json::<WebhookAnswer>().await {
            Ok(answer) => Outcome::Completed {
                output: answer.output,
                usage: Usage {
                    tokens: answer.usage.tokens,
                    duration_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
                },
            },
            Err(error) => failed(format!("the webhook's answer is not {{\"output\", \"usage\"}} JSON: {error}")),
        }
    }
}
