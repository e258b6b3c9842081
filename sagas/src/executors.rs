//! Where an attempt is carried out: built-in executors in-process, webhooks over HTTP, and
//! external workers, who lease their agent's tasks over HTTP ([`crate::tasks`]); where a
//! deployment trusts all its workers, the tasks are also published on a shared tasks topic.
//!
//! Dispatch is at least once (a worker that dies mid-attempt leaves it to be dispatched again),
//! so a webhook or a worker may see an attempt twice; `(run_id, step_id, attempt)` names it, and
//! the run takes the first report of each attempt only.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use commands::Validate;
use commands::runs::{CompleteStep, Usage};
use events::agents::{Builtin, Executor};
use events::runs::Artifact;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::egress::{Egress, NotAllowed};

/// An attempt as an executor receives it. This is also the JSON of a message on the shared
/// tasks topic, where a deployment has one, with `"type": "task"`; a webhook receives `run_id`,
/// `step_id`, `attempt` and `input` of it.
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
        artifacts: Vec<Artifact>,
    },
    Failed {
        error: String,
        retryable: bool,
    },
    /// The task is offered to the agent's workers, who report through the command endpoint.
    HandedOver,
    /// Nothing to do until this moment (a sleep): ask again then. Waiting holds no worker.
    WakeAt(DateTime<Utc>),
    /// No answer came before the step's deadline: its timer ends the attempt.
    PastDeadline,
}

/// The event that scheduled an attempt: where it is in the log, and when it was recorded.
#[derive(Debug, Clone, Copy)]
pub struct Scheduled {
    pub position: i64,
    pub at: DateTime<Utc>,
}

/// The longest a built-in `sleep` sleeps; the step's timeout is the real limit.
const SLEEP_MAX: Duration = Duration::from_secs(3600);

/// A sleep this close to its end is slept out in the worker: handing it back would cost more.
const SLEEP_IN_WORKER: Duration = Duration::from_millis(20);

pub struct Executors {
    http: reqwest::Client,
    producer: FutureProducer,
    /// Where external tasks are offered to their agents' workers.
    pool: sqlx::PgPool,
    /// The shared tasks topic, where a deployment of trusted workers has one.
    tasks_topic: Option<String>,
    notifications_topic: String,
    /// The largest webhook answer read; a larger one fails the attempt.
    max_answer_bytes: usize,
    /// Where webhooks may be called.
    egress: Egress,
}

#[derive(Deserialize)]
struct WebhookAnswer {
    #[serde(default)]
    output: Value,
    #[serde(default)]
    usage: WebhookUsage,
    #[serde(default)]
    artifacts: Vec<Artifact>,
}

/// A webhook's usage: input and output tokens, or the `tokens` of before (counted as input).
#[derive(Deserialize, Default)]
struct WebhookUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    tokens: u64,
}

impl Executors {
    pub fn new(
        pool: sqlx::PgPool,
        kafka: &platform::kafka::KafkaSettings,
        tasks_topic: Option<&str>,
        notifications_topic: &str,
        max_answer_bytes: usize,
        egress: Egress,
    ) -> anyhow::Result<Executors> {
        let producer = platform::kafka::producer_config(kafka).create().context("creating the tasks producer")?;
        // No redirects: a permitted webhook must not hand the call on to an address that is not.
        // No proxy from the environment (HTTP_PROXY, ALL_PROXY): only the proxy's address would
        // be checked, and it would call whatever address the URL names.
        let http = platform::tls::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(egress.clone()))
            .build()
            .context("creating the webhook client")?;
        Ok(Executors {
            http,
            producer,
            pool,
            tasks_topic: tasks_topic.map(str::to_owned),
            notifications_topic: notifications_topic.to_owned(),
            max_answer_bytes,
            egress,
        })
    }

    /// Publishes a notification (JSON) for whoever watches the notifications topic: mailers,
    /// chat bots. Keyed by workspace, so a workspace's notifications stay in order.
    pub async fn notify(&self, workspace_id: Uuid, notification: &Value) -> anyhow::Result<()> {
        let body = serde_json::to_vec(notification)?;
        let kind = notification["type"].as_str().unwrap_or("notification");
        // The same notice sent again (work done twice) has the same id.
        let id = hex::encode(&Sha256::digest(&body)[..16]);
        let subject =
            notification.get("run_id").and_then(Value::as_str).map_or(workspace_id.to_string(), str::to_owned);
        let headers = message_headers("notifications", kind, &id, &subject);
        self.publish(&self.notifications_topic, &workspace_id.to_string(), &body, &headers).await
    }

    /// Tells the workers reading the shared tasks topic, where there is one, that an attempt is
    /// over (its run failed or was cancelled): `{"type": "cancel", "run_id", "workspace_id",
    /// "agent_id", "step_id", "attempt"}`, keyed by run like its task. Workers that lease over
    /// HTTP learn it from the lease, which answers `attempt_over`.
    pub async fn cancel_task(
        &self,
        attempt: &crate::tasks::Attempt,
        workspace_id: Uuid,
        agent_id: Uuid,
    ) -> anyhow::Result<()> {
        let Some(topic) = &self.tasks_topic else { return Ok(()) };
        let id = format!("{}:{}:{}:cancel", attempt.run_id, attempt.step_id, attempt.attempt);
        let headers = message_headers("tasks", "cancel", &id, &attempt.run_id.to_string());
        let message = serde_json::json!({
            "type": "cancel",
            "run_id": attempt.run_id,
            "workspace_id": workspace_id,
            "agent_id": agent_id,
            "step_id": attempt.step_id,
            "attempt": attempt.attempt,
        });
        self.publish(topic, &attempt.run_id.to_string(), &serde_json::to_vec(&message)?, &headers).await
    }

    /// Whether attempts are also published on a shared tasks topic.
    pub fn publishes_tasks(&self) -> bool {
        self.tasks_topic.is_some()
    }

    async fn publish(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: &[(&'static str, String)],
    ) -> anyhow::Result<()> {
        let headers = platform::cloudevents::kafka_headers(headers);
        self.producer
            .send(FutureRecord::to(topic).key(key).payload(payload).headers(headers), Duration::from_secs(10))
            .await
            .map_err(|(error, _)| anyhow::anyhow!("publishing to {topic}: {error}"))?;
        Ok(())
    }

    /// Carries out `task` with `executor`; `scheduled` is its `StepScheduled`. An error means
    /// the attempt could not even be handed over (the database or the tasks topic is
    /// unreachable) and should be dispatched again later.
    pub async fn run(&self, executor: &Executor, task: &Task, scheduled: Scheduled) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let elapsed = |started: Instant| started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        match executor {
            Executor::Builtin { name, config } => {
                let count = |name: &str| config.get(name).and_then(Value::as_u64).unwrap_or(0);
                let (input_tokens, output_tokens) =
                    (count("tokens").saturating_add(count("input_tokens")), count("output_tokens"));
                match name {
                    Builtin::Echo | Builtin::Usage => {}
                    // A sleep is a wait, not work: it ends `ms` after the attempt was scheduled,
                    // and until then the work is handed back to the queue, holding no worker.
                    Builtin::Sleep => {
                        let ms = Duration::from_millis(config.get("ms").and_then(Value::as_u64).unwrap_or(0));
                        let wakes_at = scheduled.at + ms.min(SLEEP_MAX);
                        let left = (wakes_at - Utc::now()).to_std().unwrap_or_default();
                        if left > SLEEP_IN_WORKER {
                            return Ok(Outcome::WakeAt(wakes_at));
                        }
                        tokio::time::sleep(left).await;
                        let slept = (Utc::now() - scheduled.at).num_milliseconds().max(0) as u64;
                        return Ok(Outcome::Completed {
                            output: task.input.clone(),
                            usage: Usage { duration_ms: slept, ..Usage::default() },
                            artifacts: Vec::new(),
                        });
                    }
                    Builtin::Fail => {
                        let error = config.get("error").and_then(Value::as_str).unwrap_or("the fail executor fails");
                        return Ok(Outcome::Failed { error: error.to_owned(), retryable: true });
                    }
                }
                let (input_tokens, output_tokens) =
                    if *name == Builtin::Usage { (input_tokens, output_tokens) } else { (0, 0) };
                // Echo reports the artifacts its configuration names (checked when it was
                // registered).
                let artifacts = match name {
                    Builtin::Echo => config
                        .get("artifacts")
                        .and_then(|artifacts| serde_json::from_value(artifacts.clone()).ok())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                Ok(Outcome::Completed {
                    output: task.input.clone(),
                    usage: Usage { input_tokens, output_tokens, tokens: 0, duration_ms: elapsed(started) },
                    artifacts,
                })
            }
            // Workflows keep the executor they were defined with; a retired agent is called by
            // none of them. (Built-ins are the platform's own and have nothing to retire.)
            Executor::Webhook { .. } | Executor::External if self.retired(task.agent_id).await? => {
                Ok(Outcome::Failed { error: "agent_retired: the step's agent was retired".into(), retryable: false })
            }
            Executor::Webhook { url, timeout_ms } => {
                let stream = events::AgentId(task.agent_id).stream().to_string();
                let secrets = store::secrets::signing_secrets(&self.pool, &stream, Utc::now()).await?;
                Ok(self.webhook(url, *timeout_ms, task, &secrets, started).await)
            }
            Executor::External => {
                let attempt =
                    crate::tasks::Attempt { run_id: task.run_id, step_id: task.step_id.clone(), attempt: task.attempt };
                let (agent, workspace) = (task.agent_id, task.workspace_id);
                let trace = platform::telemetry::traceparent_of(&tracing::Span::current());
                let (position, deadline) = (scheduled.position, task.deadline);
                crate::tasks::offer(&self.pool, &attempt, agent, workspace, position, deadline, trace.as_deref())
                    .await?;
                if let Some(topic) = &self.tasks_topic {
                    let mut message = serde_json::to_value(task)?;
                    message["type"] = "task".into();
                    let id = format!("{}:{}:{}", task.run_id, task.step_id, task.attempt);
                    let headers = message_headers("tasks", "task", &id, &task.run_id.to_string());
                    self.publish(topic, &task.run_id.to_string(), &serde_json::to_vec(&message)?, &headers).await?;
                }
                Ok(Outcome::HandedOver)
            }
        }
    }

    async fn retired(&self, agent_id: Uuid) -> anyhow::Result<bool> {
        let stream = events::AgentId(agent_id).stream().to_string();
        let last = store::last_event_type(&self.pool, &stream).await?;
        let retired = events::agents::AgentEvent::from(events::agents::AgentRetired {});
        Ok(last.as_deref() == Some(events::DomainEvent::event_type(&retired)))
    }

    /// Calls the webhook, waiting for its answer no longer than its own timeout nor past the
    /// step's deadline: after that the attempt is over, and the worker is someone else's. The
    /// call is signed with the agent's `secrets` as Standard Webhooks specifies; its
    /// `webhook-id` is the attempt's idempotency key, the same on every delivery of it.
    async fn webhook(&self, url: &str, timeout_ms: u64, task: &Task, secrets: &[String], started: Instant) -> Outcome {
        let until_deadline = (task.deadline - Utc::now()).to_std().unwrap_or_default();
        let until_deadline = until_deadline.as_millis().min(u128::from(u64::MAX)) as u64;
        let timed_out = || match until_deadline < timeout_ms {
            true => Outcome::PastDeadline,
            false => Outcome::Failed { error: format!("no answer within {timeout_ms} ms"), retryable: true },
        };
        let body = serde_json::json!({
            "run_id": task.run_id,
            "step_id": task.step_id,
            "attempt": task.attempt,
            "input": task.input,
        });
        let failed = |error: String| Outcome::Failed { error, retryable: true };
        // The client resolves names through `egress`, which refuses what may not be called,
        // on the very addresses the client then connects to. Addresses written in the URL are
        // never resolved: they are checked here.
        let literal = reqwest::Url::parse(url).ok().and_then(|url| {
            // IPv6 addresses come bracketed, as URLs write them.
            url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok()
        });
        let not_allowed = || Outcome::Failed { error: format!("address_not_allowed: {NotAllowed}"), retryable: false };
        if literal.is_some_and(|ip| !self.egress.permits(ip)) {
            return not_allowed();
        }
        let id = format!("{}:{}:{}", task.run_id, task.step_id, task.attempt);
        let body = serde_json::to_vec(&body).expect("a task serializes");
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", &id)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .timeout(Duration::from_millis(timeout_ms.min(until_deadline)));
        if let Some(signature) = crate::signing::signature(secrets, &id, timestamp, &body) {
            request = request.header("webhook-signature", signature);
        }
        if let Some(traceparent) = platform::telemetry::traceparent_of(&tracing::Span::current()) {
            request = request.header("traceparent", traceparent);
        }
        let response = request.body(body).send().await;
        let response = match response {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return timed_out(),
            Err(error) if refused_by_egress(&error) => return not_allowed(),
            // The cause stays in the server's log: its text would tell a tenant about the
            // network the call went through.
            Err(error) => {
                tracing::info!(%error, "a webhook could not be reached");
                return failed("the webhook could not be reached".into());
            }
        };
        let status = response.status();
        if !status.is_success() {
            return failed(format!("the webhook answered HTTP {}", status.as_u16()));
        }
        let body = match read_at_most(response, self.max_answer_bytes).await {
            Ok(Some(body)) => body,
            // Asking again brings the same answer: the attempt fails for good.
            Ok(None) => {
                return Outcome::Failed {
                    error: format!("answer_too_large: the webhook answered more than {} bytes", self.max_answer_bytes),
                    retryable: false,
                };
            }
            Err(error) if error.is_timeout() => return timed_out(),
            Err(error) => return failed(format!("the webhook's answer could not be read: {error}")),
        };
        let answer = match serde_json::from_slice::<WebhookAnswer>(&body) {
            Ok(answer) => answer,
            Err(error) => {
                return failed(format!("the webhook's answer is not {{\"output\", \"usage\"}} JSON: {error}"));
            }
        };
        let completed = CompleteStep {
            step_id: task.step_id.clone(),
            attempt: task.attempt,
            output: answer.output,
            usage: Usage {
                input_tokens: answer.usage.input_tokens.saturating_add(answer.usage.tokens),
                output_tokens: answer.usage.output_tokens,
                tokens: 0,
                duration_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
            },
            artifacts: answer.artifacts,
        };
        // An answer the run cannot record (a NUL, usage past its bounds, an artifact out of
        // bounds or with a signed URL) fails for good too.
        if let Err(error) = completed.validate() {
            return Outcome::Failed { error: format!("answer_invalid: {error}"), retryable: false };
        }
        Outcome::Completed { output: completed.output, usage: completed.usage, artifacts: completed.artifacts }
    }
}

/// The CloudEvents headers of a message on the tasks or notifications topic: its `ce_type` is
/// `oxbow.{topic}.{type}.v1` after the body's `type`, and it carries the current trace.
fn message_headers(topic: &str, kind: &str, id: &str, subject: &str) -> Vec<(&'static str, String)> {
    let traceparent = platform::telemetry::traceparent_of(&tracing::Span::current());
    let ce_type = format!("oxbow.{topic}.{kind}.v1");
    platform::cloudevents::message_headers(&format!("/oxbow/{topic}"), &ce_type, id, subject, traceparent.as_deref())
}

/// Whether the call failed because `egress` refused the address its host resolved to.
fn refused_by_egress(error: &reqwest::Error) -> bool {
    std::iter::successors(Some(error as &dyn std::error::Error), |error| error.source())
        .any(|error| error.is::<NotAllowed>())
}

/// The body of `response` if it is at most `limit` bytes, `None` if it is longer; reads no
/// more than `limit` bytes either way.
async fn read_at_most(mut response: reqwest::Response, limit: usize) -> reqwest::Result<Option<Vec<u8>>> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
