//! The operators' hands on the dead letters over HTTP, as the CLI has them: apply a parked
//! stream again, give up a failed event (recorded in the log as `ParkedEventSkipped`, the
//! operator its actor), and make set-aside saga work due again. For operators' tokens only.
//!
//! - `GET /v1/operations/dead-letters`: every consumer's parked events, and set-aside saga work
//! - `POST /v1/operations/parked/retry` `{"consumer", "position"}`
//! - `POST /v1/operations/parked/skip` `{"consumer", "position", "reason"}`
//! - `POST /v1/operations/saga-work/retry` `{"id"}`
//!
//! A retry or skip answers once the consumer has applied the stream or failed on it again, or
//! after [`PATIENCE`] with `"settled": "pending"` (a running consumer takes it up at its next
//! batch).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use platform::auth::{Operators, Tokens};
use projections::dead_letter::{Refusal, Settled};
use serde::Deserialize;
use serde_json::{Value, json};
use write_api::problem::Problem;

/// How long an answer waits for the consumer to settle the stream.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The largest request body taken.
const MAX_BODY_BYTES: usize = 4096;

pub struct Operations {
    pub pool: sqlx::PgPool,
    pub tokens: Tokens,
    pub operators: Operators,
}

pub fn router(operations: Operations) -> axum::Router {
    axum::Router::new()
        .route("/v1/operations/dead-letters", get(dead_letters))
        .route("/v1/operations/parked/retry", post(retry_parked))
        .route("/v1/operations/parked/skip", post(skip_parked))
        .route("/v1/operations/saga-work/retry", post(retry_saga_work))
        .with_state(Arc::new(operations))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParkedRequest {
    consumer: String,
    position: i64,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkRequest {
    id: i64,
}

/// The operator a request comes from (`operator:<sub>`, as the log names actors), or why not.
fn operator(state: &Operations, headers: &HeaderMap) -> Result<String, Problem> {
    let header = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let claims = state.tokens.verify_header(header).map_err(|error| Problem::unauthenticated(error.to_string()))?;
    if !state.operators.includes(&claims) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "operator_only",
            "For operators only",
            "retrying and skipping the dead letters is for the platform's operators",
        ));
    }
    Ok(format!("operator:{}", claims.sub))
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, Problem> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::body_too_large(MAX_BODY_BYTES));
    }
    serde_json::from_slice(bytes).map_err(|error| Problem::malformed(error.to_string()))
}

/// A refusal as the client's mistake; anything else as the service's.
fn problem_of(error: anyhow::Error) -> Problem {
    match error.downcast_ref::<Refusal>() {
        Some(refusal @ Refusal::UnknownConsumer(_)) => Problem::invalid_field("/consumer", &refusal.to_string()),
        Some(refusal @ Refusal::NotParked { .. }) => {
            Problem::new(StatusCode::NOT_FOUND, "not_parked", "Not parked", refusal.to_string())
        }
        Some(refusal @ Refusal::NotFailed { .. }) => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "not_failed", "Not the failed event", refusal.to_string())
        }
        None => {
            tracing::error!(error = format!("{error:#}"), "an operation on a dead letter failed");
            Problem::unavailable("the dead letter could not be read or written; try again")
        }
    }
}

/// Waits for the consumer to settle `stream`, and says how it went.
async fn answer(state: &Operations, consumer: &str, stream: String) -> Result<Value, Problem> {
    let settled =
        projections::dead_letter::settled(&state.pool, consumer, &stream, PATIENCE).await.map_err(problem_of)?;
    Ok(match settled {
        Settled::Applied => json!({"stream_id": stream, "settled": "applied"}),
        Settled::FailedAgain(error) => json!({"stream_id": stream, "settled": "failed_again", "error": error}),
        Settled::Pending => json!({"stream_id": stream, "settled": "pending"}),
    })
}

fn respond(outcome: Result<Value, Problem>) -> Response {
    match outcome {
        Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn dead_letters(State(state): State<Arc<Operations>>, headers: HeaderMap) -> Response {
    respond(
        async {
            operator(&state, &headers)?;
            let unavailable = |error: sqlx::Error| {
                tracing::error!(%error, "reading the dead letters failed");
                Problem::unavailable("the dead letters could not be read; try again")
            };
            let parked = store::parked::list(&state.pool, None).await.map_err(unavailable)?;
            let set_aside = sagas::queue::set_aside_work(&state.pool).await.map_err(unavailable)?;
            Ok(json!({"parked": parked, "set_aside": set_aside}))
        }
        .await,
    )
}

async fn retry_parked(State(state): State<Arc<Operations>>, headers: HeaderMap, bytes: Bytes) -> Response {
    respond(
        async {
            operator(&state, &headers)?;
            let request: ParkedRequest = body(&bytes)?;
            let stream = projections::dead_letter::retry(&state.pool, &request.consumer, request.position)
                .await
                .map_err(problem_of)?;
            answer(&state, &request.consumer, stream).await
        }
        .await,
    )
}

async fn skip_parked(State(state): State<Arc<Operations>>, headers: HeaderMap, bytes: Bytes) -> Response {
    respond(
        async {
            let actor = operator(&state, &headers)?;
            let request: ParkedRequest = body(&bytes)?;
            let reason = request.reason.as_deref().map(str::trim).unwrap_or_default();
            if reason.is_empty() || reason.chars().count() > 2000 {
                return Err(Problem::invalid_field("/reason", "a skip says why, in at most 2000 characters"));
            }
            let stream =
                projections::dead_letter::skip(&state.pool, &request.consumer, request.position, reason, &actor)
                    .await
                    .map_err(problem_of)?;
            answer(&state, &request.consumer, stream).await
        }
        .await,
    )
}

async fn retry_saga_work(State(state): State<Arc<Operations>>, headers: HeaderMap, bytes: Bytes) -> Response {
    respond(
        async {
            operator(&state, &headers)?;
            let request: WorkRequest = body(&bytes)?;
            let retried = sagas::queue::retry_set_aside(&state.pool, request.id).await.map_err(|error| {
                tracing::error!(%error, "retrying set-aside saga work failed");
                Problem::unavailable("the saga work could not be read; try again")
            })?;
            match retried {
                true => Ok(json!({"id": request.id, "settled": "due"})),
                false => Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "not_set_aside",
                    "Not set aside",
                    format!("no saga work with id {} is set aside", request.id),
                )),
            }
        }
        .await,
    )
}
