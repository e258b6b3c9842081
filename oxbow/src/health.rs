//! `/healthz`, `/readyz` and `/metrics`: liveness, readiness that checks every dependency, and
//! Prometheus figures that include the log's head and each projection's lag.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use platform::metrics::Metrics;
use rdkafka::consumer::{BaseConsumer, Consumer};
use redis::aio::ConnectionManager;
use serde_json::json;
use sqlx::PgPool;

#[derive(Clone)]
pub struct HealthState {
    pool: PgPool,
    redis: Option<ConnectionManager>,
    /// A Kafka client kept for the probe, for the roles that need Kafka (the relay and the
    /// sagas); the APIs and the projector are ready without it.
    kafka: Option<Arc<BaseConsumer>>,
    metrics: Metrics,
    /// The last answer and when it was found: one probe of the dependencies answers every
    /// request for a moment, so asking often costs them nothing.
    last: Arc<tokio::sync::Mutex<Option<(Instant, Readiness)>>>,
}

/// How long one probe's answer stands.
const PROBE_STANDS: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Readiness {
    ready: bool,
    postgres: bool,
    redis: bool,
    kafka: bool,
}

impl HealthState {
    pub fn new(
        pool: PgPool,
        redis: Option<ConnectionManager>,
        kafka: Option<Arc<BaseConsumer>>,
        metrics: Metrics,
    ) -> Self {
        HealthState { pool, redis, kafka, metrics, last: Arc::default() }
    }

    async fn probe(&self) -> Readiness {
        self.metrics.increment(
            "oxbow_readiness_probes_total",
            "Probes of the dependencies /readyz made (each answers it for a second).",
            &[],
            1,
        );
        let postgres = tokio::time::timeout(Duration::from_secs(2), sqlx::query("select 1").execute(&self.pool))
            .await
            .is_ok_and(|result| result.is_ok());
        let redis = match self.redis.clone() {
            Some(mut redis) => {
                tokio::time::timeout(Duration::from_secs(2), redis::cmd("PING").query_async::<String>(&mut redis))
                    .await
                    .is_ok_and(|result| result.is_ok())
            }
            None => true,
        };
        let kafka = match self.kafka.clone() {
            Some(client) => {
                tokio::task::spawn_blocking(move || client.fetch_metadata(None, Duration::from_secs(2)).is_ok())
                    .await
                    .unwrap_or(false)
            }
            None => true,
        };
        Readiness { ready: postgres && redis && kafka, postgres, redis, kafka }
    }
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn router(state: HealthState) -> Router {
    liveness().route("/readyz", get(ready)).route("/metrics", get(metrics)).with_state(state)
}

/// `/healthz` alone: the process is up.
pub fn liveness<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
}

async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    // Callers that come during a probe wait for its answer rather than start their own.
    let mut last = state.last.lock().await;
    let readiness = match *last {
        Some((at, readiness)) if at.elapsed() < PROBE_STANDS => readiness,
        _ => {
            let readiness = state.probe().await;
            *last = Some((Instant::now(), readiness));
            readiness
        }
    };
    drop(last);
    let status = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let Readiness { ready, postgres, redis, kafka } = readiness;
    (status, axum::Json(json!({"ready": ready, "postgres": postgres, "redis": redis, "kafka": kafka})))
}

async fn metrics(State(state): State<HealthState>) -> impl IntoResponse {
    if let Ok(head) = store::read_head(&state.pool).await {
        state.metrics.set("oxbow_log_head_position", "The last position in the log.", &[], head.position as f64);
    }
    if let Ok(statuses) = projections::status::all(&state.pool).await {
        for status in statuses {
            state.metrics.set(
                "oxbow_projection_lag_events",
                "Events logged but not yet applied by the projection.",
                &[("projection", &status.name)],
                status.lag as f64,
            );
        }
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
