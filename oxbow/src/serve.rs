//! `oxbow serve`: runs the chosen roles in one process. Every background loop is supervised:
//! it restarts with backoff after an error and counts its restarts in `/metrics`.

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use platform::Config;
use platform::metrics::Metrics;
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use tokio::task::JoinHandle;

/// A part of Oxbow that can run in its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    WriteApi,
    ReadApi,
    Projector,
    Saga,
    Relay,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::WriteApi, Role::ReadApi, Role::Projector, Role::Saga, Role::Relay];

    pub fn name(self) -> &'static str {
        match self {
            Role::WriteApi => "write-api",
            Role::ReadApi => "read-api",
            Role::Projector => "projector",
            Role::Saga => "saga",
            Role::Relay => "relay",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| format!("unknown role `{text}` (write-api, read-api, projector, saga, relay)"))
    }
}

/// A running process: its HTTP address (when it serves HTTP) and its tasks.
pub struct Server {
    pub http_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    /// The HTTP server, and what tells it to stop taking connections.
    http: Option<(JoinHandle<()>, tokio::sync::watch::Sender<bool>)>,
    /// The read API's subscription connections, closed on shutdown.
    subscriptions: Option<read_api::OpenConnections>,
}

impl Server {
    /// Waits until a task ends (they run until stopped).
    pub async fn wait(&mut self) {
        let mut tasks: Vec<&mut JoinHandle<()>> = self.tasks.iter_mut().collect();
        if let Some((http, _)) = &mut self.http {
            tasks.push(http);
        }
        if tasks.is_empty() {
            return;
        }
        let _ = futures::future::select_all(tasks).await;
    }

    /// Stops taking requests, lets the ones in flight finish (for at most `grace`), then stops
    /// every role. Consumers resume from what they committed.
    pub async fn shut_down(mut self, grace: std::time::Duration) {
        if let Some((http, stop)) = self.http.take() {
            let _ = stop.send(true);
            if tokio::time::timeout(grace, http).await.is_err() {
                tracing::warn!("requests still in flight after the grace period; stopping anyway");
            }
        }
        // Subscriptions are told "going away" (1001) as the shutdown begins; give their close
        // frames a moment to leave.
        if let Some(subscriptions) = &self.subscriptions {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
            while !subscriptions.is_empty() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        self.stop();
    }

    /// Stops every role. Nothing is lost: appends in flight either committed or did not, and
    /// the relay and projector resume from their checkpoints.
    pub fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some((http, _)) = &self.http {
            http.abort();
        }
    }
}

/// Runs `work` forever, restarting it with backoff when it fails.
fn supervise<F, Fut>(role: &'static str, metrics: Metrics, mut work: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            let started = tokio::time::Instant::now();
            match work().await {
                Ok(()) => tracing::warn!(role, "stopped; restarting"),
                Err(error) => {
                    tracing::error!(role, error = format!("{error:#}"), "failed; restarting")
                }
            }
            metrics.increment("oxbow_role_restarts_total", "Restarts of a background role.", &[("role", role)], 1);
            if started.elapsed() > Duration::from_secs(30) {
                backoff = Duration::from_millis(200);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    })
}

/// Appends told to the sagas' shortcut that it has not taken yet, at most; past that it is not
/// told, and Kafka brings the events.
const OWN_APPENDS_BUFFER: usize = 4096;

/// How long the start waits for the brokers to say whether the topics are right.
const TOPIC_CHECK: Duration = Duration::from_secs(5);

/// How often the identity provider's keys are read again.
const JWKS_REFRESH: Duration = Duration::from_secs(300);

/// A request's span: a child of the caller's span when the request carries a W3C `traceparent`,
/// sampled as this deployment decides.
fn http_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    if !platform::telemetry::enabled() {
        return tracing::Span::none();
    }
    let route = request.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |path| path.as_str());
    // OpenTelemetry's HTTP server conventions, which trace backends draw service graphs from.
    // The scheme is this listener's: TLS ends in front of it.
    let span = tracing::info_span!(
        "http",
        otel.name = format!("{} {route}", request.method()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        url.scheme = "http",
        url.path = request.uri().path(),
        error.type = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let traceparent = request.headers().get("traceparent").and_then(|value| value.to_str().ok());
    platform::telemetry::continue_callers_trace(&span, traceparent);
    platform::telemetry::record_trace_id(&span);
    span
}

/// Records the answer's status on its request's span; a server error is an error of the span,
/// a client's mistake is not (the conventions for a server).
fn http_status<B>(response: &axum::http::Response<B>, _latency: Duration, span: &tracing::Span) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("error.type", status.as_str());
        span.record("otel.status_code", "ERROR");
    }
}

/// Starts `roles` with `config`. Migrates the database first.
pub async fn start(config: Config, roles: &[Role]) -> anyhow::Result<Server> {
    platform::tls::trust(config.tls_ca_file.as_deref())?;
    check_token_secret(&config)?;
    let pool = database(&config).await?;
    let metrics = Metrics::new();
    let keys = Keys::new(&config.redis_prefix);
    let needs_redis = roles.iter().any(|role| matches!(role, Role::ReadApi | Role::Projector));
    let redis = if needs_redis { Some(platform::redis::connect(&config.redis_url).await?) } else { None };
    // One command service (and so one group committer) for the endpoint and the sagas, which
    // hear of its appends at once.
    let (own_appends, appended) = tokio::sync::mpsc::channel(OWN_APPENDS_BUFFER);
    let follower = roles.contains(&Role::Saga).then_some(own_appends);
    let service = roles
        .iter()
        .any(|role| matches!(role, Role::WriteApi | Role::Saga))
        .then(|| command_service(&config, &pool, &metrics, follower));
    let topics = std::sync::Arc::new(Topics { config: config.clone(), checked: tokio::sync::OnceCell::new() });
    if roles.iter().any(|role| matches!(role, Role::Relay | Role::Saga)) {
        topics.check_at_start().await?;
    }

    let mut tasks = Vec::new();
    if roles.contains(&Role::Relay) {
        tasks.push(relay(&config, &pool, &metrics, &topics));
    }
    if roles.contains(&Role::Projector) {
        tasks.push(projector(&pool, redis.clone().expect("connected above"), &keys, &metrics));
    }
    if roles.contains(&Role::Saga) {
        let service = service.clone().expect("made above");
        tasks.extend(sagas(&config, &pool, service, appended, &metrics, &topics)?);
    }
    let mut server = Server { http_addr: None, tasks, http: None, subscriptions: None };
    serve_http(&mut server, &config, roles, &pool, redis, &keys, service, &metrics).await?;
    Ok(server)
}

/// Refuses to start with a token secret anyone could know, unless on a development machine,
/// or with an identity provider's keys but no issuer and audience to tell this deployment's
/// tokens from those the provider signs for anyone else.
fn check_token_secret(config: &Config) -> anyhow::Result<()> {
    if config.jwks.is_some() && (config.jwt_issuers.is_empty() || config.jwt_audience.is_none()) {
        anyhow::bail!(
            "OXBOW_JWKS is set without OXBOW_JWT_ISSUER and OXBOW_JWT_AUDIENCE; an identity provider signs tokens for other applications too, so set both to accept only this deployment's"
        );
    }
    let public = config.jwt_secret == platform::config::DEVELOPMENT_JWT_SECRET;
    if public && !config.development && !(config.jwt_secret_is_development_default && config.jwks.is_some()) {
        anyhow::bail!(
            "OXBOW_JWT_SECRET is {}; set a secret of at least {} bytes (or run `oxbow serve --dev` on a development machine)",
            match config.jwt_secret_is_development_default {
                true => "not set",
                false => "the public development secret",
            },
            platform::config::JWT_SECRET_MIN_BYTES
        );
    }
    if public && config.development {
        tracing::warn!("using the public development secret for tokens. Never use it in production.");
    } else if !public && config.jwt_secret.len() < platform::config::JWT_SECRET_MIN_BYTES {
        anyhow::bail!(
            "OXBOW_JWT_SECRET is {} bytes; it must be at least {}",
            config.jwt_secret.len(),
            platform::config::JWT_SECRET_MIN_BYTES
        );
    }
    Ok(())
}

/// The serving pool, on a schema this build knows.
async fn database(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    platform::telemetry::set_database(&config.database_url);
    let pool = store::connect(&config.database_url, config.database_pool_size)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")?;
    // A development database is migrated here; a deployment's serving role may not change
    // the schema, so there `oxbow migrate` runs first, as the schema's owner.
    if !crate::schema_is_current(&pool).await.context("reading which migrations are applied")? {
        crate::migrate(&pool).await.context(
            "the database's schema is older than this build, and this role could not migrate it: \
             run `oxbow migrate` as the schema's owner first",
        )?;
    }
    let erased = store::personal::reapply_erasures(&pool).await.context("re-applying the log's erasures")?;
    if erased > 0 {
        tracing::warn!(erased, "destroyed again keys the log records as forgotten (the database was restored?)");
    }
    Ok(pool)
}

/// The command service of this process, over its own group committer; `follower` hears of
/// every append (the sagas' shortcut).
fn command_service(
    config: &Config,
    pool: &sqlx::PgPool,
    metrics: &Metrics,
    follower: Option<tokio::sync::mpsc::Sender<app::Appended>>,
) -> app::CommandService {
    let batches = metrics.clone();
    let observer = store::BatchObserver(std::sync::Arc::new(move |batch: store::BatchWritten| {
        batches.observe(
            "oxbow_append_batch_events",
            "Events per group-commit batch this process wrote.",
            &[],
            platform::metrics::COUNTS,
            batch.events as f64,
        );
        batches.observe(
            "oxbow_append_batch_seconds",
            "How long one group-commit batch's statement took.",
            &[],
            platform::metrics::SECONDS,
            batch.seconds,
        );
    }));
    let committer = store::CommitterConfig {
        pipeline_depth: config.append_pipeline_depth,
        observer: Some(observer),
        ..store::CommitterConfig::default()
    };
    let service = app::CommandService::new(store::EventStore::new(pool.clone(), committer), metrics.clone())
        .limiting_events_to(config.max_event_bytes);
    match follower {
        Some(follower) => service.telling_appends_to(follower),
        None => service,
    }
}

/// The relay: the log to the events topic.
fn relay(config: &Config, pool: &sqlx::PgPool, metrics: &Metrics, topics: &std::sync::Arc<Topics>) -> JoinHandle<()> {
    let relay_config = relay::RelayConfig::new(&config.kafka(), &config.events_topic);
    let (pool, metrics_for_relay, topics) = (pool.clone(), metrics.clone(), topics.clone());
    supervise("relay", metrics.clone(), move || {
        let (pool, metrics, relay_config, topics) =
            (pool.clone(), metrics_for_relay.clone(), relay_config.clone(), topics.clone());
        async move {
            topics.ready().await?;
            relay::run(pool, relay_config, metrics).await
        }
    })
}

/// The projector: the log to the read models and Redis.
fn projector(pool: &sqlx::PgPool, redis: ConnectionManager, keys: &Keys, metrics: &Metrics) -> JoinHandle<()> {
    let (pool, keys, metrics_for_projector) = (pool.clone(), keys.clone(), metrics.clone());
    supervise("projector", metrics.clone(), move || {
        let projector = projections::projector::Projector::new(
            pool.clone(),
            redis.clone(),
            keys.clone(),
            metrics_for_projector.clone(),
        );
        projector.run()
    })
}

/// The sagas: their consumer of the events topic, the shortcut for this process's own appends,
/// and the workers.
fn sagas(
    config: &Config,
    pool: &sqlx::PgPool,
    service: app::CommandService,
    appended: tokio::sync::mpsc::Receiver<app::Appended>,
    metrics: &Metrics,
    topics: &std::sync::Arc<Topics>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let sagas = sagas::Sagas::new(
        pool.clone(),
        service,
        appended,
        metrics.clone(),
        sagas::SagaConfig {
            kafka: config.kafka(),
            topic: config.events_topic.clone(),
            group: config.saga_group.clone(),
            tasks_topic: config.tasks_topic.clone(),
            notifications_topic: config.notifications_topic.clone(),
            max_in_flight: config.saga_concurrency,
            share: config.saga_share,
            max_answer_bytes: config.max_event_bytes,
            webhook_allow: config.webhook_allow.clone(),
        },
    )?;
    let (for_consumer, topics) = (sagas.clone(), topics.clone());
    let consumer = supervise("saga-consumer", metrics.clone(), move || {
        let (sagas, topics) = (for_consumer.clone(), topics.clone());
        async move {
            topics.ready().await?;
            sagas.consume().await
        }
    });
    let for_own_appends = sagas.clone();
    let shortcut = supervise("saga-shortcut", metrics.clone(), move || for_own_appends.clone().follow_own_appends());
    let workers = supervise("saga-worker", metrics.clone(), move || sagas.clone().work());
    Ok(vec![consumer, shortcut, workers])
}

/// The process's HTTP listeners: the APIs of the roles that serve them, on OXBOW_HTTP_ADDR, and
/// /healthz, /readyz and /metrics on OXBOW_HEALTH_ADDR when it is set (beside the APIs when it
/// is not). A process of other roles listens only on OXBOW_HEALTH_ADDR, if set.
#[allow(clippy::too_many_arguments)]
async fn serve_http(
    server: &mut Server,
    config: &Config,
    roles: &[Role],
    pool: &sqlx::PgPool,
    redis: Option<ConnectionManager>,
    keys: &Keys,
    service: Option<app::CommandService>,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let serves_api = roles.contains(&Role::WriteApi) || roles.contains(&Role::ReadApi);
    let Some(listen) = (if serves_api { Some(config.http_addr) } else { config.health_addr }) else {
        return Ok(());
    };
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut tokens = config.tokens();
    if let Some(source) = &config.jwks {
        let source = platform::auth::JwksSource::parse(source);
        let jwks = platform::auth::Jwks::load(&source).await.context("loading OXBOW_JWKS")?;
        server.tasks.push(jwks.refresh(source, JWKS_REFRESH));
        tokens = tokens.trusting(jwks);
    }
    let kafka = match roles.iter().any(|role| matches!(role, Role::Relay | Role::Saga)) {
        true => Some(std::sync::Arc::new(
            platform::kafka::client_config(&config.kafka()).create().context("creating a Kafka client")?,
        )),
        false => None,
    };
    let health = crate::health::HealthState::new(pool.clone(), redis.clone(), kafka, metrics.clone());
    // An API process with a health address serves /readyz and /metrics there only: the public
    // address has no business telling anyone the platform's volumes.
    let mut app = match (serves_api, config.health_addr) {
        (true, Some(health_addr)) => {
            let listener = tokio::net::TcpListener::bind(health_addr)
                .await
                .with_context(|| format!("listening on {health_addr} (OXBOW_HEALTH_ADDR)"))?;
            let router = crate::health::router(health);
            server.tasks.push(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "the health server stopped");
                }
            }));
            crate::health::liveness()
        }
        _ => crate::health::router(health),
    };
    if roles.contains(&Role::WriteApi) {
        let rate_limit = platform::rate_limit::RateLimit::new(config.rate_limit_per_second, config.rate_limit_burst);
        server.tasks.push(rate_limit.spawn_forgetting());
        let service = service.expect("made for the write API");
        app = app.merge(write_api(config, pool, service, metrics, &tokens, rate_limit));
        // The operators' hands on the dead letters, beside the commands.
        let operators = platform::auth::Operators::new(config.operators.clone());
        let operations = crate::operations::Operations { pool: pool.clone(), tokens: tokens.clone(), operators };
        app = app.merge(crate::operations::router(operations));
    }
    if roles.contains(&Role::ReadApi) {
        let redis = redis.expect("connected above");
        // Reads have a bucket of their own per caller, as large as the commands'.
        let rate_limit = platform::rate_limit::RateLimit::new(config.rate_limit_per_second, config.rate_limit_burst);
        server.tasks.push(rate_limit.spawn_forgetting());
        let state = read_state(config, pool, redis, keys, &tokens, rate_limit, metrics.clone());
        let connections = state.connections.clone();
        let read_api = read_api::router(state.with_shutdown(stopping.clone()), config.max_body_bytes);
        server.subscriptions = Some(connections);
        app = app.merge(read_api);
    }
    let trusted_proxies = std::sync::Arc::new(config.trusted_proxies.clone());
    let app = app
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(http_span).on_response(http_status))
        .layer(axum::middleware::map_request(move |request| client_address(request, trusted_proxies.clone())));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    server.http_addr = Some(listener.local_addr()?);
    let mut stopping = stopping;
    let http = tokio::spawn(async move {
        let drained = async move {
            let _ = stopping.changed().await;
        };
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(drained).await {
            tracing::error!(%error, "the HTTP server stopped");
        }
    });
    server.http = Some((http, stop));
    Ok(())
}

/// Marks `request` with the address it comes from ([`platform::rate_limit::client_address`]),
/// for the rate limits of what is not verified.
async fn client_address(
    mut request: axum::extract::Request,
    trusted_proxies: std::sync::Arc<Vec<platform::IpNet>>,
) -> axum::extract::Request {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |connected| connected.0.ip());
    let forwarded: Vec<&str> =
        request.headers().get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).collect();
    let address = platform::rate_limit::client_address(peer, Some(&forwarded.join(",")), &trusted_proxies);
    request.extensions_mut().insert(platform::rate_limit::ClientAddress(address));
    request
}

/// The command endpoint, the task leases and the payment webhook.
fn write_api(
    config: &Config,
    pool: &sqlx::PgPool,
    service: app::CommandService,
    metrics: &Metrics,
    tokens: &platform::auth::Tokens,
    rate_limit: platform::rate_limit::RateLimit,
) -> axum::Router {
    write_api::router(write_api::WriteApi {
        service,
        metrics: metrics.clone(),
        tokens: tokens.clone(),
        operators: platform::auth::Operators::new(config.operators.clone()),
        rate_limit,
        unknown_agents: Default::default(),
        max_body_bytes: config.max_body_bytes,
        payment_webhook_secret: config.payment_webhook_secret.clone(),
        pool: pool.clone(),
        task_bell: sagas::tasks::TaskBell::spawn(pool.clone()),
    })
}

/// What GraphQL over HTTP and WebSocket serves from, the connections it keeps open for
/// subscriptions among it.
fn read_state(
    config: &Config,
    pool: &sqlx::PgPool,
    redis: ConnectionManager,
    keys: &Keys,
    tokens: &platform::auth::Tokens,
    rate_limit: platform::rate_limit::RateLimit,
    metrics: Metrics,
) -> read_api::ReadState {
    let progress =
        read_api::Progress::spawn(pool.clone(), config.redis_url.clone(), keys.clone(), projections::catalog::NAME);
    let activity = read_api::ActivityFeed::spawn(pool.clone(), progress.clone());
    let services = read_api::Services {
        pool: pool.clone(),
        redis,
        keys: keys.clone(),
        progress,
        activity,
        min_position_timeout: config.min_position_timeout,
        operators: platform::auth::Operators::new(config.operators.clone()),
        max_response_bytes: config.max_response_bytes,
        metrics,
    };
    let connections = read_api::OpenConnections::new(config.subscription_connections_per_caller);
    read_api::ReadState::new(services, tokens.clone(), rate_limit, connections)
        .with_subscriptions_per_connection(config.subscriptions_per_connection)
}

/// Oxbow's topics, made sure of once per process: by the start, or by the first role that
/// reaches the brokers when they did not answer the start.
struct Topics {
    config: Config,
    checked: tokio::sync::OnceCell<()>,
}

impl Topics {
    /// Checks the topics before the roles that use them start: a topic that is not what the
    /// configuration says stops the start; a broker that cannot be reached yet does not (the
    /// roles keep trying).
    async fn check_at_start(&self) -> anyhow::Result<()> {
        match tokio::time::timeout(TOPIC_CHECK, self.ready()).await {
            Ok(Err(platform::kafka::TopicError::Misconfigured(why))) => anyhow::bail!(why),
            Ok(Err(error)) => tracing::warn!(%error, "the Kafka topics could not be checked yet"),
            Err(_) => tracing::warn!("the Kafka brokers did not answer; the topics are checked when they do"),
            Ok(Ok(())) => {}
        }
        Ok(())
    }

    async fn ready(&self) -> Result<(), platform::kafka::TopicError> {
        let config = &self.config;
        let topics = config.topic_names();
        let kafka = config.kafka();
        let check = || platform::kafka::ensure_topics(&kafka, &topics, config.topics());
        self.checked.get_or_try_init(check).await.map(|_| ())
    }
}
