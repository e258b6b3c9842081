//! The HTTP side of the command endpoint.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use platform::auth::{Operators, Tokens};
use serde::Deserialize;
use uuid::Uuid;

use app::{Accepted, Caller, Command, CommandRequest, CommandService};
use commands::FieldError;
use commands::agents::WORKER_CREDENTIAL_PREFIX;
use platform::metrics::Metrics;

use crate::problem::Problem;
use crate::unknown_agents::UnknownAgents;
use platform::rate_limit::{Bucket, ClientAddress, RateLimit};

/// What the command endpoint needs.
pub struct WriteApi {
    pub service: CommandService,
    pub metrics: Metrics,
    pub tokens: Tokens,
    /// Whose tokens act as the platform's operators.
    pub operators: Operators,
    pub rate_limit: RateLimit,
    /// Agents no worker credential can name, for now.
    pub unknown_agents: UnknownAgents,
    pub max_body_bytes: usize,
    /// The secret shared with the payment provider; without it the payment webhook is off.
    pub payment_webhook_secret: Option<String>,
    /// Where external agents' tasks are leased from.
    pub pool: sqlx::PgPool,
    /// Wakes the leases waiting for a task.
    pub task_bell: sagas::tasks::TaskBell,
}

/// `POST /v1/commands`, `POST /v1/tasks/lease`, `POST /v1/tasks/extend`,
/// `POST /v1/payments/webhook` and `GET /openapi.json`.
pub fn router(api: WriteApi) -> Router {
    Router::new()
        .route("/v1/commands", post(post_command))
        .route("/v1/tasks/lease", post(post_lease))
        .route("/v1/tasks/extend", post(post_extend))
        .route("/v1/payments/webhook", post(post_payment))
        .route("/openapi.json", get(|| async { axum::Json(crate::openapi::document()) }))
        .with_state(Arc::new(api))
}

/// The request body. Unknown members are refused, so a typo is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "type")]
    command_type: String,
    id: Uuid,
    #[serde(default)]
    expected_version: Option<u64>,
    payload: serde_json::Value,
}

/// Where a request comes from, as the server found it; a router served without the address
/// (in a unit test) sees every request as from one unknown address.
type From = Option<Extension<ClientAddress>>;

fn address(from: From) -> std::net::IpAddr {
    from.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |Extension(ClientAddress(address))| address)
}

async fn post_command(State(state): State<Arc<WriteApi>>, from: From, headers: HeaderMap, body: Body) -> Response {
    match accept(&state, address(from), &headers, body).await {
        Ok(accepted) => (StatusCode::OK, axum::Json(accepted)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn accept(
    state: &WriteApi,
    from: std::net::IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, Problem> {
    let caller = authenticate_headers(state, from, headers).await?;
    let bytes = read_body(state, headers, body).await?;
    let envelope: Envelope = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&bytes))
        .map_err(|error| {
            let path = error.path().to_string();
            let problem = Problem::malformed(format!("{}: {}", path, error.inner()));
            if path == "." { problem } else { problem.with("field", format!("/{}", path.replace('.', "/"))) }
        })?;
    if !envelope.payload.is_object() {
        return Err(Problem::invalid_field("/payload", "must be a JSON object"));
    }
    // NUL anywhere (PostgreSQL cannot store it) and runaway nesting, before any command reads it.
    commands::validate::json("/payload", &envelope.payload).map_err(|error| Problem::invalid(&error))?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|key| !key.is_empty() && key.len() <= 255)
                .ok_or_else(|| Problem::malformed("Idempotency-Key must be 1 to 255 visible ASCII characters"))?,
        ),
    };
    let correlation_id = headers
        .get("x-correlation-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(Uuid::now_v7);
    let command = parse(&envelope.command_type, &envelope.payload).inspect_err(|problem| {
        count_refused(&state.metrics, &envelope.command_type, problem);
    })?;
    let request = CommandRequest {
        id: envelope.id,
        expected_version: envelope.expected_version.map(|v| v.min(i64::MAX as u64) as i64),
        command,
        payload: envelope.payload,
    };
    let report = crate::tasks::report_of(&caller, &request);
    let accepted = state.service.execute(request, &caller, idempotency_key, correlation_id).await?;
    if let Some(attempt) = report {
        crate::tasks::reported(&state.pool, &attempt).await;
    }
    Ok(accepted)
}

async fn post_lease(State(state): State<Arc<WriteApi>>, from: From, headers: HeaderMap, body: Body) -> Response {
    let leased = async {
        let caller = authenticate_headers(&state, address(from), &headers).await?;
        let request = read_json(&state, &headers, body).await?;
        crate::tasks::lease(&state.pool, &state.task_bell, &caller, request).await
    };
    match leased.await {
        Ok(tasks) => (StatusCode::OK, axum::Json(tasks)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn post_extend(State(state): State<Arc<WriteApi>>, from: From, headers: HeaderMap, body: Body) -> Response {
    let extended = async {
        let caller = authenticate_headers(&state, address(from), &headers).await?;
        let request = read_json(&state, &headers, body).await?;
        crate::tasks::extend(&state.pool, &caller, request).await
    };
    match extended.await {
        Ok(lease) => (StatusCode::OK, axum::Json(lease)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn authenticate_headers(
    state: &WriteApi,
    from: std::net::IpAddr,
    headers: &HeaderMap,
) -> Result<Caller, Problem> {
    authenticate(state, from, headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())).await
}

/// A JSON body within the size bound, read into `T`; an empty body reads as `{}`.
async fn read_json<T: serde::de::DeserializeOwned>(
    state: &WriteApi,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Problem> {
    let bytes = read_body(state, headers, body).await?;
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map_err(|error| {
        let path = error.path().to_string();
        let problem = Problem::malformed(format!("{}: {}", path, error.inner()));
        if path == "." { problem } else { problem.with("field", format!("/{}", path.replace('.', "/"))) }
    })
}

/// The body, refused when it is larger than the bound (before it is read, when it says so).
async fn read_body(state: &WriteApi, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Problem> {
    let too_large = || Problem::body_too_large(state.max_body_bytes);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > state.max_body_bytes) {
        return Err(too_large());
    }
    to_bytes(body, state.max_body_bytes).await.map_err(|_| too_large())
}

/// Who sends the command: an agent's worker by its credential (`oxw.…`), anyone else by a JWT.
///
/// Rate-limited by who the caller is once that is verified, and by the address it comes from
/// until then: a missing or bad token, and a worker credential before it is looked up (two
/// reads of the log), take from the address's bucket, so made-up identities cannot each have
/// a bucket of their own.
async fn authenticate(
    state: &WriteApi,
    from: std::net::IpAddr,
    authorization: Option<&str>,
) -> Result<Caller, Problem> {
    let unverified = || rate_limited(state, &Bucket::peer(from));
    let unauthenticated = |error: platform::auth::AuthError| Problem::unauthenticated(error.to_string());
    let token = match platform::auth::bearer(authorization) {
        Ok(token) => token,
        Err(error) => {
            unverified()?;
            return Err(unauthenticated(error));
        }
    };
    if token.starts_with(WORKER_CREDENTIAL_PREFIX) {
        unverified()?;
        let refused =
            || Problem::unauthenticated("the worker credential is not valid, was revoked, or its agent retired");
        let (agent_id, credential_id, _) = commands::agents::parse_worker_credential(token).ok_or_else(refused)?;
        if state.unknown_agents.contains(agent_id) {
            return Err(refused());
        }
        return match state.service.worker(token).await? {
            app::Worker::InForce(worker) => {
                rate_limited(state, &Bucket::Identity(format!("worker:{credential_id}")))?;
                Ok(worker)
            }
            app::Worker::NoSuchAgent => {
                state.unknown_agents.remember(agent_id);
                Err(refused())
            }
            app::Worker::NotInForce => Err(refused()),
        };
    }
    let claims = match state.tokens.verify(token) {
        Ok(claims) => claims,
        Err(error) => {
            unverified()?;
            return Err(unauthenticated(error));
        }
    };
    rate_limited(state, &Bucket::identity(&claims.sub))?;
    // Only a verified email names a person (an invitation is accepted by the person it names).
    let email = claims.verified_email().map(str::to_owned);
    Ok(match state.operators.includes(&claims) {
        true => Caller::operator(claims.sub, email),
        false => Caller::user(claims.sub, email),
    })
}

fn rate_limited(state: &WriteApi, bucket: &Bucket) -> Result<(), Problem> {
    let Err(wait) = state.rate_limit.take(bucket) else {
        return Ok(());
    };
    let wait_ms = wait.as_millis().max(1) as u64;
    Err(Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests",
        format!("slow down; retry in {wait_ms} ms"),
    )
    .with("retry_after_ms", wait_ms))
}

async fn post_payment(State(state): State<Arc<WriteApi>>, headers: HeaderMap, body: Body) -> Response {
    let Some(secret) = &state.payment_webhook_secret else {
        let detail = "this deployment takes no payment webhook (OXBOW_PAYMENT_WEBHOOK_SECRET is not set)";
        return Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail).into_response();
    };
    let Ok(body) = to_bytes(body, state.max_body_bytes).await else {
        return Problem::body_too_large(state.max_body_bytes).into_response();
    };
    match crate::payments::receive(&state.service, secret.as_bytes(), &headers, &body).await {
        Ok(Some(accepted)) => (StatusCode::OK, axum::Json(accepted)).into_response(),
        Ok(None) => (StatusCode::OK, axum::Json(serde_json::json!({"ignored": true}))).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The envelope's type and payload as a typed command.
fn parse(command_type: &str, payload: &serde_json::Value) -> Result<Command, Problem> {
    match Command::parse(command_type, payload) {
        Some(parsed) => {
            parsed.map_err(|error| Problem::invalid(&FieldError { path: format!("/payload{}", error.path), ..error }))
        }
        None => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "unknown_command_type",
            "Unknown command type",
            format!("`{command_type}` is not a command this endpoint takes"),
        )
        .with("field", "/type")),
    }
}

/// A command refused before it reached the service counts as the service counts the rest.
fn count_refused(metrics: &Metrics, command_type: &str, problem: &Problem) {
    // Only known types become label values: the set of labels stays closed.
    let command_type = if problem.code == "unknown_command_type" { "unknown" } else { command_type };
    metrics.increment(
        "oxbow_commands_total",
        "Commands received, by type and outcome.",
        &[("type", command_type), ("outcome", problem.code)],
        1,
    );
}
