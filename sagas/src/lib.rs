//! The sagas: the run saga carries each run from its request to its settlement; the billing
//! saga suspends a workspace whose invoice is overdue and reactivates it once paid.
//!
//! A saga is four parts. [`plan`] decides, purely, what an event asks for (reserve a budget,
//! dispatch an attempt, fire a timer at a time the event recorded, settle a run). `consume`
//! reads the events topic (and, sooner, this process's own appends) and writes those decisions
//! to [`queue`] (`saga_work`) in the same transaction that records the event as handled
//! (`handled`), so a redelivered event plans nothing twice. `workers` then lease due work and
//! carry it out (`steps`) through the command service, with [`executors`] running the
//! attempts, and delete it. Every piece of work is safe to repeat: the deciders refuse stale
//! reports and late timers, and money moves under idempotency keys, so a crash at any point
//! settles a run's credits exactly once.

mod consume;
pub mod egress;
mod events_topic;
pub mod executors;
mod handled;
mod in_flight;
pub mod plan;
pub mod queue;
mod signing;
mod steps;
pub mod tasks;
mod workers;

use std::sync::Arc;

use app::{Appended, CommandService};
use platform::metrics::Metrics;
use sqlx::PgPool;
use tokio::sync::{Notify, mpsc};

pub use consume::CONSUMER;
pub use steps::OVERDUE;

#[derive(Debug, Clone)]
pub struct SagaConfig {
    pub kafka: platform::kafka::KafkaSettings,
    pub topic: String,
    pub group: String,
    /// The shared tasks topic external tasks are also published on, where every worker is
    /// trusted; `None` by default: workers lease their own agent's tasks over HTTP.
    pub tasks_topic: Option<String>,
    pub notifications_topic: String,
    /// Pieces of work carried out at once by one process.
    pub max_in_flight: usize,
    /// Pieces of work the workspaces of one creator may have under way at once, across every
    /// saga process.
    pub share: usize,
    /// The largest webhook answer read (the event limit: the answer becomes an event).
    pub max_answer_bytes: usize,
    /// Networks webhooks may be called in besides the public internet.
    pub webhook_allow: Vec<ipnet::IpNet>,
}

/// The sagas of one process: the planner and the workers, woken by the same bell.
#[derive(Clone)]
pub struct Sagas {
    planner: Arc<consume::Planner>,
    workers: Arc<workers::Workers>,
}

impl Sagas {
    /// The sagas, sending their commands through `service`. Give the same service a sender of
    /// `own_appends` ([`CommandService::telling_appends_to`]): the sagas then react to what this
    /// process appends (their own commands' events, and the endpoint's) without waiting for
    /// Kafka to bring it.
    pub fn new(
        pool: PgPool,
        service: CommandService,
        own_appends: mpsc::Receiver<Appended>,
        metrics: Metrics,
        config: SagaConfig,
    ) -> anyhow::Result<Sagas> {
        let executors = executors::Executors::new(
            pool.clone(),
            &config.kafka,
            config.tasks_topic.as_deref(),
            &config.notifications_topic,
            config.max_answer_bytes,
            egress::Egress::new(config.webhook_allow.clone()),
        )?;
        let options = pool.connect_options().as_ref().clone().options([("synchronous_commit", "off")]);
        let bookkeeping = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect_lazy_with(options);
        let wake = Arc::new(Notify::new());
        let in_flight = Arc::new(in_flight::InFlight::default());
        let subscription =
            consume::Subscription { kafka: config.kafka.clone(), topic: config.topic, group: config.group };
        let planner = consume::Planner::new(
            pool.clone(),
            metrics.clone(),
            subscription,
            wake.clone(),
            in_flight.clone(),
            own_appends,
        );
        let steps = steps::Steps::new(pool, service, executors);
        let workers =
            workers::Workers::new(bookkeeping, steps, metrics, config.max_in_flight, config.share, wake, in_flight);
        Ok(Sagas { planner: Arc::new(planner), workers: Arc::new(workers) })
    }

    /// Consumes the events topic and plans each event's work once in effect. Runs until an
    /// error; the caller restarts it with backoff.
    pub async fn consume(self) -> anyhow::Result<()> {
        self.planner.consume().await
    }

    /// Plans the work of what this process appended, before Kafka brings it.
    pub async fn follow_own_appends(self) -> anyhow::Result<()> {
        self.planner.follow_own_appends().await
    }

    /// Leases due work and carries it out, several pieces at once. Runs until an error.
    pub async fn work(self) -> anyhow::Result<()> {
        self.workers.work().await
    }
}

/// This crate's migrations, run beside the other crates' into the same database.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
}
