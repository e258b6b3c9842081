//! `/healthz`, `/readyz` and `/metrics`: liveness, readiness that checks every dependency, and
//! Prometheus figures that include the log's head and each projection's lag.

use std::sync::Arc;
use std::time::Duration;

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
    pub pool: PgPool,
    pub redis: Option<ConnectionManager>,
    /// A Kafka client kept for the probe, for the roles that need Kafka (the relay and the
    /// sagas); the APIs and the projector are ready without it.
    pub kafka: Option<Arc<BaseConsumer>>,
    pub metrics: Metrics,
}

pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    let postgres = tokio::time::timeout(Duration::from_secs(2), sqlx::query("select 1").execute(&state.pool))
        .await
        .is_ok_and(|result| result.is_ok());
    let redis = match state.redis.clone() {
        Some(mut redis) => {
            tokio::time::timeout(Duration::from_secs(2), redis::cmd("PING").query_async::<String>(&mut redis))
                .await
                .is_ok_and(|result| result.is_ok())
        }
        None => true,
    };
    let kafka = match state.kafka.clone() {
        Some(client) => {
            tokio::task::spawn_blocking(move || client.fetch_metadata(None, Duration::from_secs(2)).is_ok())
                .await
                .unwrap_or(false)
        }
        None => true,
    };
    let ready = postgres && redis && kafka;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
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
