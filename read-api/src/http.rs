//! The HTTP side: queries and mutations on `/graphql` (GraphQL over HTTP: see [`over_http`]),
//! GraphiQL there for a browser, subscriptions on `/graphql/ws`; the run console on `/console`.

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
use axum::extract::{Extension, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use platform::auth::{AuthError, Tokens};
use platform::rate_limit::{Bucket, ClientAddress, RateLimit};

use crate::guard::{MinPositionReport, Viewer, await_position};
use crate::over_http::{self, MediaType, Refusal};
use crate::schema::OxbowSchema;
use crate::services::Services;

/// Subscriptions one connection may run at once unless configured otherwise.
pub const DEFAULT_SUBSCRIPTIONS_PER_CONNECTION: usize = 32;

/// A WebSocket must say `connection_init` within this, or it is closed (4408, as
/// graphql-transport-ws has it): an open socket that never says who it is holds a place for
/// nothing.
pub const INIT_WITHIN: Duration = Duration::from_secs(5);

/// The server pings every open WebSocket this often, with the protocol's `ping` (`ka` on the
/// older protocol) and a WebSocket ping frame, so that idle subscriptions stay open: clients
/// answer both without being told to, and most send nothing of their own.
pub const PING_EVERY: Duration = Duration::from_secs(10);

/// A socket from which nothing at all (not even an answer to a ping) came for this long is
/// gone, and is closed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(35);

#[derive(Clone)]
pub struct ReadState {
    pub schema: OxbowSchema,
    /// Answers operations that ask only about the schema, within bounds of their own.
    pub introspection: Arc<crate::introspection::Introspection>,
    pub tokens: Tokens,
    pub services: Services,
    /// Queries per caller: by identity once verified, by address until then (anonymous
    /// queries, bad tokens, WebSocket upgrades).
    pub rate_limit: RateLimit,
    /// Subscription connections open per caller.
    pub connections: OpenConnections,
    /// Subscriptions running at once on one connection.
    pub subscriptions_per_connection: usize,
    /// Turns true when the server shuts down: subscriptions are closed with "going away".
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    /// The largest WebSocket message read, as large as a request body may be.
    pub max_message_bytes: usize,
}

impl ReadState {
    pub fn new(services: Services, tokens: Tokens, rate_limit: RateLimit, connections: OpenConnections) -> ReadState {
        ReadState {
            schema: crate::schema::build_schema(services.clone()),
            introspection: Arc::new(crate::introspection::Introspection::new(services.clone())),
            tokens,
            services,
            rate_limit,
            connections,
            subscriptions_per_connection: DEFAULT_SUBSCRIPTIONS_PER_CONNECTION,
            shutdown: None,
            max_message_bytes: 1 << 20,
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
    /// Every operation takes a token of the caller's bucket, the one its HTTP queries take.
    rate_limit: RateLimit,
    /// Who the connection's `connection_init` proved the caller to be.
    caller: Arc<std::sync::OnceLock<Bucket>>,
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
        if let Some(caller) = self.caller.get()
            && let Err(wait) = self.rate_limit.take(caller)
        {
            let refused = async_graphql::Response::from_errors(vec![rate_limited(wait)]);
            return futures::stream::once(async move { refused }).boxed();
        }
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
pub fn router(mut state: ReadState, max_body_bytes: usize) -> Router {
    state.max_message_bytes = max_body_bytes;
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(subscriptions))
        .route("/graphiql/{file}", get(crate::graphiql::file))
        .route("/console", get(crate::console::page))
        .route("/console/{file}", get(crate::console::file))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body_bytes))
        .with_state(state)
}

/// GraphiQL for a browser that asks for a page; a query from its URL parameters for anyone else.
async fn graphql_get(
    State(state): State<ReadState>,
    from: From,
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
        Ok(request) => graphql(&state, address(from), &headers, media, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn graphql_post(State(state): State<ReadState>, from: From, headers: HeaderMap, body: Bytes) -> Response {
    let Some(media) = over_http::negotiate(&headers) else {
        return Refusal::NotAcceptable.into_response();
    };
    match over_http::post_params(&headers, &body).and_then(|params| over_http::request_of(params, false)) {
        Ok(request) => graphql(&state, address(from), &headers, media, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Where a request comes from, as the server found it; a router served without the address
/// (in a unit test) sees every request as from one unknown address.
type From = Option<Extension<ClientAddress>>;

fn address(from: From) -> std::net::IpAddr {
    from.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |Extension(ClientAddress(address))| address)
}

/// The bucket a request takes from: its caller's once verified, its address's until then.
fn bucket(viewer: &Viewer, from: std::net::IpAddr) -> Bucket {
    match &viewer.0 {
        Ok(claims) => Bucket::identity(&claims.sub),
        Err(_) => Bucket::peer(from),
    }
}

async fn graphql(
    state: &ReadState,
    from: std::net::IpAddr,
    headers: &HeaderMap,
    media: MediaType,
    request: async_graphql::Request,
) -> Response {
    let viewer = Viewer(state.tokens.verify_header(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())));
    if let Err(wait) = state.rate_limit.take(&bucket(&viewer, from)) {
        let mut response = over_http::respond(media, async_graphql::Response::from_errors(vec![rate_limited(wait)]));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response.headers_mut().insert(header::RETRY_AFTER, retry_after(wait));
        return response;
    }
    over_http::respond(media, execute(state, headers, viewer, request).await)
}

/// The error of a query refused by the rate limit.
fn rate_limited(wait: Duration) -> ServerError {
    coded_error("RATE_LIMITED", &format!("too many queries; retry in {} ms", wait.as_millis().max(1)))
}

/// `Retry-After`, in whole seconds.
fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(wait.as_millis().div_ceil(1000).max(1) as u64)
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
    // A caller who may query may ask what the schema is, as deep as schema tools ask.
    if viewer.0.is_ok() && crate::introspection::Introspection::asks_only_about_the_schema(&request) {
        return state.introspection.answer(request.data(viewer)).await;
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
/// `{"Authorization": "Bearer <jwt>"}`. A connection without a valid token is closed, and so is
/// one that does not say `connection_init` within [`INIT_WITHIN`]. Messages are read up to the
/// request body's bound; every operation takes a token of the caller's bucket; the server
/// pings every [`PING_EVERY`].
async fn subscriptions(
    State(state): State<ReadState>,
    from: From,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Nobody is verified yet: the upgrade takes from the address's bucket.
    if let Err(wait) = state.rate_limit.take(&Bucket::peer(address(from))) {
        let mut response = (StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response();
        response.headers_mut().insert(header::RETRY_AFTER, retry_after(wait));
        return response;
    }
    let schema = state.schema.clone();
    let tokens = state.tokens.clone();
    let connections = state.connections.clone();
    let subscriptions_per_connection = state.subscriptions_per_connection;
    let shutdown = state.shutdown.clone();
    let caller: Arc<std::sync::OnceLock<Bucket>> = Arc::default();
    let executor = LimitedSubscriptions {
        schema,
        running: Arc::default(),
        limit: subscriptions_per_connection,
        rate_limit: state.rate_limit.clone(),
        caller: caller.clone(),
    };
    // The protocol GraphQLProtocol picked: the first of the client's that is known.
    let legacy =
        headers.get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|value| value.to_str().ok()).and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|protocol| protocol.trim().parse::<async_graphql::http::WebSocketProtocols>().ok())
        }) == Some(async_graphql::http::WebSocketProtocols::SubscriptionsTransportWS);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(state.max_message_bytes)
        .max_frame_size(state.max_message_bytes)
        .on_upgrade(move |socket| async move {
            // The token's expiry, once `connection_init` brought one: the connection ends then,
            // and its subscriptions with it.
            let (expires, expiry) = tokio::sync::oneshot::channel::<i64>();
            let expires = std::sync::Mutex::new(Some(expires));
            // The caller's place among its open connections, held while this one lives.
            let slot: Arc<Mutex<Option<ConnectionSlot>>> = Arc::default();
            let held = slot.clone();
            let initialised = Arc::new(tokio::sync::Notify::new());
            let init_said = initialised.clone();
            // When the client was last heard from, by any frame: answers to pings included.
            let heard = Arc::new(Mutex::new(tokio::time::Instant::now()));
            let hearing = heard.clone();
            // The socket's sending half is shared, so that a shutdown can still say goodbye
            // with a close frame once the protocol's loop is stopped, and pings go out beside it.
            let (sink, stream) = futures::StreamExt::split(socket);
            let stream = futures::StreamExt::inspect(stream, move |_| {
                *hearing.lock().expect("heard lock") = tokio::time::Instant::now();
            });
            let sink = Arc::new(tokio::sync::Mutex::new(sink));
            let forward = futures::sink::unfold(sink.clone(), |sink, message: Message| async move {
                futures::SinkExt::send(&mut *sink.lock().await, message).await?;
                Ok::<_, axum::Error>(sink)
            });
            let serve = GraphQLWebSocket::new_with_pair(forward, stream, executor, protocol)
                .on_connection_init(move |payload| {
                    init_said.notify_one();
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
                    if let Ok(claims) = &verified {
                        let _ = caller.set(Bucket::identity(&claims.sub));
                        if let Some(expires) = expires.lock().expect("expiry lock").take() {
                            let _ = expires.send(claims.exp);
                        }
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
            let uninitialised = async {
                if tokio::time::timeout(INIT_WITHIN, initialised.notified()).await.is_ok() {
                    std::future::pending::<()>().await;
                }
            };
            let silent = keep_alive(sink.clone(), heard, legacy);
            let close =
                |code: u16, reason: &'static str| Message::Close(Some(CloseFrame { code, reason: reason.into() }));
            let goodbye = tokio::select! {
                () = serve => None,
                () = expired => {
                    tracing::debug!("a subscription's token expired; closing its connection");
                    None
                }
                () = uninitialised => Some(close(4408, "Connection initialisation timeout")),
                () = silent => Some(close(3008, "no answer to pings")),
                () = shutting_down(shutdown) => {
                    Some(close(axum::extract::ws::close_code::AWAY, "the server is shutting down; reconnect"))
                }
            };
            if let Some(goodbye) = goodbye {
                let _ = futures::SinkExt::send(&mut *sink.lock().await, goodbye).await;
            }
            drop(slot);
        })
        .into_response()
}

type SharedSink = Arc<tokio::sync::Mutex<futures::stream::SplitSink<axum::extract::ws::WebSocket, Message>>>;

/// Pings the client every [`PING_EVERY`] (a WebSocket ping frame, which every client answers,
/// and the protocol's own ping); resolves once nothing was heard for [`SILENCE_LIMIT`].
async fn keep_alive(sink: SharedSink, heard: Arc<Mutex<tokio::time::Instant>>, legacy: bool) {
    let ping = if legacy { r#"{"type":"ka"}"# } else { r#"{"type":"ping"}"# };
    loop {
        tokio::time::sleep(PING_EVERY).await;
        if heard.lock().expect("heard lock").elapsed() >= SILENCE_LIMIT {
            return;
        }
        let mut sink = sink.lock().await;
        let sent = async {
            futures::SinkExt::send(&mut *sink, Message::Ping(Bytes::new())).await?;
            futures::SinkExt::send(&mut *sink, Message::Text(ping.into())).await
        };
        if sent.await.is_err() {
            return;
        }
    }
}
