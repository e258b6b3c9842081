//! The HTTP side: queries and mutations on `/graphql` (GraphQL over HTTP: see [`over_http`]),
//! GraphiQL there for a browser, subscriptions on `/graphql/ws`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use platform::auth::{AuthError, Tokens};
use platform::rate_limit::RateLimit;

use crate::guard::{MinPositionReport, Viewer, await_position};
use crate::over_http::{self, MediaType, Refusal};
use crate::schema::OxbowSchema;
use crate::services::Services;

/// Subscriptions one connection may run at once unless configured otherwise.
pub const DEFAULT_SUBSCRIPTIONS_PER_CONNECTION: usize = 32;

#[derive(Clone)]
pub struct ReadState {
    pub schema: OxbowSchema,
    pub tokens: Tokens,
    pub services: Services,
    /// Queries per caller (by token `sub`).
    pub rate_limit: RateLimit,
    /// Subscription connections open per caller.
    pub connections: OpenConnections,
    /// Subscriptions running at once on one connection.
    pub subscriptions_per_connection: usize,
    /// Turns true when the server shuts down: subscriptions are closed with "going away".
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

impl ReadState {
    pub fn new(services: Services, tokens: Tokens, rate_limit: RateLimit, connections: OpenConnections) -> ReadState {
        ReadState {
            schema: crate::schema::build_schema(services.clone()),
            tokens,
            services,
            rate_limit,
            connections,
            subscriptions_per_connection: DEFAULT_SUBSCRIPTIONS_PER_CONNECTION,
            shutdown: None,
        }
    }

    /// Closes every subscription's connection with 1001 (going away) once `shutdown` is true.
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> ReadState {
        self.shutdown = Some(shutdown);
        self
    }

    /// At most `limit` subscriptions running at once on one connection.
    pub fn with_subscriptions_per_connection(mut self, limit: usize) -> ReadState {
        self.subscriptions_per_connection = limit.max(1);
        self
    }
}

/// How many subscription connections each caller has open, up to a limit, so that one caller
/// cannot hold the server's sockets and feed fan-out.
#[derive(Clone)]
pub struct OpenConnections {
    limit: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open connection of a caller; closing it (dropping this) frees its place.
pub struct ConnectionSlot {
    caller: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl OpenConnections {
    pub fn new(limit: usize) -> OpenConnections {
        OpenConnections { limit: limit.max(1), open: Arc::default() }
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.open.lock().expect("connections lock").is_empty()
    }

    /// A place for one more connection of `caller`, unless it has `limit` open already.
    pub fn open(&self, caller: &str) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().expect("connections lock");
        let count = open.entry(caller.to_owned()).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot { caller: caller.to_owned(), open: self.open.clone() })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("connections lock");
        if let Some(count) = open.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

/// One connection's schema, running at most `limit` subscriptions at once: past that a
/// `subscribe` is answered with one error and completes, and the ones running go on. A caller's
/// connections are limited too ([`OpenConnections`]), so a caller's streams are bounded.
#[derive(Clone)]
struct LimitedSubscriptions {
    schema: OxbowSchema,
    running: Arc<AtomicUsize>,
    limit: usize,
}

/// A running subscription's place, given back when its stream is dropped.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl async_graphql::Executor for LimitedSubscriptions {
    fn execute(&self, request: async_graphql::Request) -> impl Future<Output = async_graphql::Response> + Send {
        self.schema.execute(request)
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> futures::stream::BoxStream<'static, async_graphql::Response> {
        use futures::StreamExt;
        if self.running.fetch_add(1, Ordering::Relaxed) >= self.limit {
            self.running.fetch_sub(1, Ordering::Relaxed);
            let message = format!("a connection may run at most {} subscriptions at once", self.limit);
            let refused = async_graphql::Response::from_errors(vec![coded_error("TOO_MANY_SUBSCRIPTIONS", &message)]);
            return futures::stream::once(async move { refused }).boxed();
        }
        let running = Running(self.running.clone());
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(move |response| {
                let _held = &running;
                response
            })
            .boxed()
    }
}

/// Resolves once the server shuts down; never without a shutdown signal.
async fn shutting_down(shutdown: Option<tokio::sync::watch::Receiver<bool>>) {
    let Some(mut shutdown) = shutdown else { return std::future::pending().await };
    if shutdown.wait_for(|stopping| *stopping).await.is_err() {
        // The server went without saying: nothing to wait for.
        std::future::pending::<()>().await;
    }
}

/// The read API's routes. A request body is read only up to `max_body_bytes` (413 past it),
/// whoever sends it: the token is checked after the body is parsed.
pub fn router(state: ReadState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(subscriptions))
        .route("/graphiql/{file}", get(crate::graphiql::file))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body_bytes))
        .with_state(state)
}

/// GraphiQL for a browser that asks for a page; a query from its URL parameters for anyone else.
async fn graphql_get(
    State(state): State<ReadState>,
    headers: HeaderMap,
    Query(parameters): Query<HashMap<String, String>>,
) -> Response {
    if over_http::wants_html(&headers) && !parameters.contains_key("query") {
        return crate::graphiql::page();
    }
    let Some(media) = over_http::negotiate(&headers) else {
        return Refusal::NotAcceptable.into_response();
    };
    match over_http::get_params(&parameters).and_then(|params| over_http::request_of(params, true)) {
        Ok(request) => graphql(&state, &headers, media, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn graphql_post(State(state): State<ReadState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(media) = over_http::negotiate(&headers) else {
        return Refusal::NotAcceptable.into_response();
    };
    match over_http::post_params(&headers, &body).and_then(|params| over_http::request_of(params, false)) {
        Ok(request) => graphql(&state, &headers, media, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn graphql(
    state: &ReadState,
    headers: &HeaderMap,
    media: MediaType,
    request: async_graphql::Request,
) -> Response {
    let viewer = Viewer(state.tokens.verify_header(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())));
    if let Ok(claims) = &viewer.0
        && let Err(wait) = state.rate_limit.take(&claims.sub)
    {
        let retry_after = wait.ceil().max(1.0) as u64;
        let error =
            coded_error("RATE_LIMITED", &format!("too many queries; retry in {:.0} ms", (wait * 1000.0).ceil()));
        let mut response = over_http::respond(media, async_graphql::Response::from_errors(vec![error]));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return response;
    }
    over_http::respond(media, execute(state, headers, viewer, request).await)
}

/// An error with a `code` extension, for answers given before the schema runs.
fn coded_error(code: &str, message: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions = Some({
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", code);
        extensions
    });
    error
}

async fn execute(
    state: &ReadState,
    headers: &HeaderMap,
    viewer: Viewer,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let report = MinPositionReport::default();
    // Only a caller with a valid token may make the server wait.
    if let Some(value) = headers.get("x-oxbow-min-position").filter(|_| viewer.0.is_ok()) {
        match value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()) {
            Some(position) => await_position(&state.services, Some(&report), position).await,
            None => {
                let error = coded_error("BAD_USER_INPUT", "X-Oxbow-Min-Position must be an integer position");
                return async_graphql::Response::from_errors(vec![error]);
            }
        }
    }
    let request = request.data(viewer).data(report.clone());
    let mut response = state.schema.execute(request).await;
    if let Some(value) = report.0.lock().expect("report lock").take() {
        response.extensions.insert(
            "minPosition".to_owned(),
            async_graphql::Value::from_json(value).unwrap_or(async_graphql::Value::Null),
        );
    }
    response
}

/// graphql-transport-ws (and the older graphql-ws); the token travels in `connection_init` as
/// `{"Authorization": "Bearer <jwt>"}`. A connection without a valid token is closed.
async fn subscriptions(
    State(state): State<ReadState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let tokens = state.tokens.clone();
    let connections = state.connections.clone();
    let subscriptions_per_connection = state.subscriptions_per_connection;
    let shutdown = state.shutdown.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            // The token's expiry, once `connection_init` brought one: the connection ends then,
            // and its subscriptions with it.
            let (expires, expiry) = tokio::sync::oneshot::channel::<i64>();
            let expires = std::sync::Mutex::new(Some(expires));
            // The caller's place among its open connections, held while this one lives.
            let slot: Arc<Mutex<Option<ConnectionSlot>>> = Arc::default();
            let held = slot.clone();
            let executor =
                LimitedSubscriptions { schema, running: Arc::default(), limit: subscriptions_per_connection };
            // The socket's sending half is shared, so that a shutdown can still say goodbye
            // with a close frame once the protocol's loop is stopped.
            let (sink, stream) = futures::StreamExt::split(socket);
            let sink = Arc::new(tokio::sync::Mutex::new(sink));
            let forward = futures::sink::unfold(sink.clone(), |sink, message: Message| async move {
                futures::SinkExt::send(&mut *sink.lock().await, message).await?;
                Ok::<_, axum::Error>(sink)
            });
            let serve = GraphQLWebSocket::new_with_pair(forward, stream, executor, protocol)
                .keepalive_timeout(Duration::from_secs(30))
                .on_connection_init(move |payload| {
                    let verified = {
                        let header = payload
                            .get("Authorization")
                            .or_else(|| payload.get("authorization"))
                            .and_then(|v| v.as_str());
                        tokens.verify_header(header)
                    };
                    let placed = match &verified {
                        Ok(claims) => connections.open(&claims.sub).map(|place| {
                            *held.lock().expect("slot lock") = Some(place);
                        }),
                        Err(_) => None,
                    };
                    if let (Ok(claims), Some(expires)) = (&verified, expires.lock().expect("expiry lock").take()) {
                        let _ = expires.send(claims.exp);
                    }
                    async move {
                        let claims = verified.map_err(|error: AuthError| {
                            async_graphql::Error::new(format!("unauthenticated: {error}"))
                        })?;
                        if placed.is_none() {
                            return Err(async_graphql::Error::new(
                                "too many open subscription connections for this caller",
                            ));
                        }
                        let mut data = Data::default();
                        data.insert(Viewer(Ok(claims)));
                        Ok(data)
                    }
                })
                .serve();
            let expired = async {
                let Ok(exp) = expiry.await else { return std::future::pending().await };
                let left = (exp - chrono::Utc::now().timestamp()).max(0) as u64;
                tokio::time::sleep(Duration::from_secs(left)).await;
            };
            tokio::select! {
                () = serve => {}
                () = expired => tracing::debug!("a subscription's token expired; closing its connection"),
                () = shutting_down(shutdown) => {
                    let going_away = Message::Close(Some(CloseFrame {
                        code: axum::extract::ws::close_code::AWAY,
                        reason: "the server is shutting down; reconnect".into(),
                    }));
                    let _ = futures::SinkExt::send(&mut *sink.lock().await, going_away).await;
                }
            }
            drop(slot);
        })
        .into_response()
}
