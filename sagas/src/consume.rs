//! Planning: each event the sagas react to becomes work in `saga_work`, once in effect. Events
//! come from the events topic, and sooner from this process's own command service (the
//! shortcut); either way they are planned in the transaction that records them as handled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::Appended;
use events::RecordedEvent;
use platform::metrics::Metrics;
use sqlx::PgPool;
use store::traces::TraceContexts;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use crate::events_topic::{EventConsumer, of_this_log};
use crate::handled::{handle_once, not_yet_handled};
use crate::in_flight::InFlight;
use crate::plan::{self, KeyRange, Planned, RUN_SAGA};
use crate::queue::{self, Cause};
use crate::tasks;

/// The name under which the sagas record the stream versions they have handled.
pub const CONSUMER: &str = "sagas";

/// How many commands' appends the shortcut plans in one transaction at most.
const OWN_APPENDS_AT_ONCE: usize = 256;

/// Where the events topic is and which consumer group reads it.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub kafka: platform::kafka::KafkaSettings,
    pub topic: String,
    pub group: String,
}

pub(crate) struct Planner {
    pool: PgPool,
    metrics: Metrics,
    subscription: Subscription,
    /// Rung when new work is planned.
    wake: Arc<Notify>,
    /// Told of the work an event made moot, which this process may be carrying out.
    in_flight: Arc<InFlight>,
    /// What this process's command service appended, to react to before Kafka brings it.
    own_appends: tokio::sync::Mutex<mpsc::Receiver<Appended>>,
}

impl Planner {
    pub fn new(
        pool: PgPool,
        metrics: Metrics,
        subscription: Subscription,
        wake: Arc<Notify>,
        in_flight: Arc<InFlight>,
        own_appends: mpsc::Receiver<Appended>,
    ) -> Planner {
        Planner { pool, metrics, subscription, wake, in_flight, own_appends: tokio::sync::Mutex::new(own_appends) }
    }

    /// Consumes the events topic and plans each event's work once in effect. Runs until an
    /// error; the caller restarts it with backoff.
    pub async fn consume(&self) -> anyhow::Result<()> {
        let Subscription { kafka, topic, group } = &self.subscription;
        let consumer = EventConsumer::subscribe(kafka, group, topic, 500)?;
        tracing::info!(%topic, %group, "sagas consuming");
        loop {
            let Some(batch) = consumer.next_batch(Duration::from_secs(1)).await? else {
                continue;
            };
            self.react(&batch.events, &batch.traces).await?;
            consumer.commit(&batch);
            if let Some(position) = batch.events.iter().map(|e| e.position).max() {
                self.metrics.set(
                    "oxbow_saga_position",
                    "The latest log position the sagas have received from Kafka.",
                    &[],
                    position as f64,
                );
            }
        }
    }

    /// Plans the work `events` ask for, each event once in effect, in one transaction. Events
    /// of streams the sagas never react to, and events handled already (by the shortcut, when
    /// Kafka brings them), are left out before a transaction begins.
    async fn react(&self, events: &[RecordedEvent], traces: &TraceContexts) -> anyhow::Result<()> {
        let concerned: Vec<&RecordedEvent> = events.iter().filter(|event| plan::concerns(event)).collect();
        if concerned.is_empty() {
            return Ok(());
        }
        let events = not_yet_handled(&self.pool, CONSUMER, &concerned).await?;
        let (events, foreign) = of_this_log(&self.pool, events).await?;
        if foreign > 0 {
            self.metrics.increment(
                "oxbow_saga_foreign_events_total",
                "Events from Kafka that this log does not have (a topic the log was restored behind), skipped.",
                &[],
                foreign as u64,
            );
        }
        self.plan_once(&events, traces).await
    }

    /// Plans the work `events` ask for, each event once in effect, in one transaction. The
    /// work of a traced event continues its trace.
    async fn plan_once(&self, events: &[RecordedEvent], traces: &TraceContexts) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let (topic, group) = (&self.subscription.topic, &self.subscription.group);
        let spans: HashMap<i64, (tracing::Span, Option<String>)> = events
            .iter()
            .filter_map(|event| {
                // OpenTelemetry's messaging conventions for a Kafka consumer: the event, from
                // the topic or sooner from this process's own appends, is processed once.
                let span = tracing::info_span!(
                    "process",
                    otel.name = format!("process {topic}"),
                    otel.kind = "consumer",
                    messaging.system = "kafka",
                    messaging.operation.type = "process",
                    messaging.operation.name = "process",
                    messaging.destination.name = topic,
                    messaging.consumer.group.name = group,
                    messaging.kafka.message.key = %event.stream_id,
                    oxbow.event_type = %event.event_type,
                    oxbow.position = event.position
                );
                platform::telemetry::continue_trace(&span, Some(traces.get(&event.position)?));
                let own = platform::telemetry::traceparent_of(&span);
                Some((event.position, (span, own)))
            })
            .collect();
        let mut transaction = self.pool.begin().await?;
        let reactions = handle_once(&mut transaction, CONSUMER, events, async |connection, event: &RecordedEvent| {
            let cause = (event.position, correlation_of(event));
            match plan::plan(event) {
                Ok(planned) => Ok(Some((planned, cause, plan::moot(event), tasks::ended_by(event)))),
                // Planning is a function of the event alone, so the stream's later events
                // need not wait behind it: it is parked for an operator to see, and handled.
                Err(error) => {
                    tracing::error!(%error, position = event.position, "parking an event the sagas cannot read");
                    store::parked::park(connection, CONSUMER, event, Some(&error.to_string())).await?;
                    Ok(None)
                }
            }
        })
        .await?;
        let (mut planned, mut causes, mut moot, mut ended): (Vec<Planned>, Vec<Cause>, Vec<KeyRange>, Vec<_>) =
            Default::default();
        for (work, (position, correlation_id), ranges, ended_task) in reactions {
            let trace_context = spans.get(&position).and_then(|(_, own)| own.clone());
            causes.extend(std::iter::repeat_n(Cause { correlation_id, trace_context }, work.len()));
            planned.extend(work);
            moot.extend(ranges);
            ended.extend(ended_task);
        }
        // Planned, then dropped: an event only makes moot what earlier events planned
        // (attempts only go up, and nothing follows a run's end).
        queue::enqueue(&mut transaction, &planned, &causes).await?;
        let dropped = queue::drop_moot(&mut transaction, RUN_SAGA, &moot, &ended).await?;
        transaction.commit().await?;
        self.in_flight.dropped(&dropped);
        drop(spans);
        if !planned.is_empty() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Reacts to what this process appended as soon as it is appended, several commands'
    /// events per transaction when they come faster than they are planned. Only a shortcut:
    /// Kafka brings the same events, finds them handled, and plans whatever this missed.
    pub async fn follow_own_appends(&self) -> anyhow::Result<()> {
        let mut own_appends = self.own_appends.lock().await;
        let mut appended = Vec::with_capacity(OWN_APPENDS_AT_ONCE);
        while own_appends.recv_many(&mut appended, OWN_APPENDS_AT_ONCE).await > 0 {
            let positions: Vec<i64> = appended
                .drain(..)
                .filter(|appended| plan::concerns_stream(&appended.stream))
                .flat_map(|appended| appended.first..=appended.last)
                .collect();
            if positions.is_empty() {
                continue;
            }
            // Its own events are new: no need to ask whether they were handled.
            let reacted = async {
                let events = store::read_positions(&self.pool, &positions).await?;
                let traces = if platform::telemetry::enabled() {
                    store::traces::read_positions(&self.pool, &positions).await?
                } else {
                    TraceContexts::new()
                };
                self.plan_once(&events, &traces).await
            }
            .await;
            if let Err(error) = reacted {
                tracing::debug!(error = format!("{error:#}"), "reacting to own events failed; Kafka will bring them");
            }
        }
        Ok(())
    }
}

fn correlation_of(event: &RecordedEvent) -> Uuid {
    event.correlation_id().unwrap_or(event.event_id)
}
