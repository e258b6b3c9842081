//! Configuration from the environment (12-factor). Nothing secret has a production default.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

/// The secret used when `OXBOW_JWT_SECRET` is unset. Fine for a laptop, never for production.
pub const DEVELOPMENT_JWT_SECRET: &str = "oxbow-development-secret-do-not-use-in-production";

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    /// Comma-separated `host:port` list.
    pub kafka_brokers: String,
    /// librdkafka settings from `OXBOW_KAFKA_*` (see `kafka::KafkaSettings`).
    pub kafka_client: Vec<(String, String)>,
    /// Whether Oxbow creates its topics; without it they must exist with `topic_partitions`.
    pub create_topics: bool,
    pub topic_replication_factor: i32,
    pub http_addr: SocketAddr,
    pub jwt_secret: String,
    /// True when `jwt_secret` is the development default.
    pub jwt_secret_is_development_default: bool,
    /// What tokens must say in `iss` (one of these, comma-separated in `OXBOW_JWT_ISSUER`) and
    /// `aud` (`OXBOW_JWT_AUDIENCE`), when set; `oxbow token` writes the first issuer and the
    /// audience into the tokens it mints.
    pub jwt_issuers: Vec<String>,
    pub jwt_audience: Option<String>,
    pub events_topic: String,
    /// A topic shared by every tenant's workers that external tasks are also published on,
    /// for deployments whose workers are all trusted; none by default (workers lease their own
    /// agent's tasks over HTTP).
    pub tasks_topic: Option<String>,
    /// Where the sagas publish notifications (a low balance) for mailers and chat bots.
    pub notifications_topic: String,
    /// Partitions for topics Oxbow creates.
    pub topic_partitions: i32,
    /// Kafka consumer group of the sagas.
    pub saga_group: String,
    /// Saga work (dispatches, timers, settlements) carried out at once by one process.
    pub saga_concurrency: usize,
    /// Saga work the workspaces of one creator may have under way at once, across every saga
    /// process: workspaces are free, so a share per workspace would be no share at all.
    pub saga_share: usize,
    /// Prefix of every Redis key and channel, so several deployments can share one Redis.
    pub redis_prefix: String,
    pub database_pool_size: u32,
    /// How long a read waits for `X-Oxbow-Min-Position` before answering without it.
    pub min_position_timeout: Duration,
    /// The largest command body accepted.
    pub max_body_bytes: usize,
    /// The largest answer one GraphQL request may build.
    pub max_response_bytes: usize,
    /// The largest event payload (canonical JSON) a command may record, and the largest answer
    /// a webhook agent may give. Kept well below the broker's message limit (Kafka's default
    /// is about 1 MB), so the relay can publish every event.
    pub max_event_bytes: usize,
    /// Subscription (WebSocket) connections one caller may have open at once.
    pub subscription_connections_per_caller: usize,
    /// Subscriptions one connection may run at once.
    pub subscriptions_per_connection: usize,
    /// Requests per second each caller may send, and the burst above that (commands and
    /// queries each have buckets of their own).
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// How many group-commit batches may be written at once by one process.
    pub append_pipeline_depth: usize,
    /// Users (`sub`) who are the platform's operators, besides tokens with the `operator` role.
    pub operators: Vec<String>,
    /// A development machine (`oxbow serve --dev`): the public development secret is allowed.
    pub development: bool,
    /// Networks webhook agents may be called in besides the public internet (loopback,
    /// private, link-local and the like are refused unless listed here).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// The deployment's own proxies and load balancers: a request from one of them comes from
    /// the address it names in `X-Forwarded-For` (for rate limits keyed by address).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The secret shared with the payment provider, which signs its webhook's deliveries;
    /// without it `POST /v1/payments/webhook` is off and no one can purchase credits.
    pub payment_webhook_secret: Option<String>,
    /// The database role the serving processes connect as, which `oxbow migrate` grants what
    /// they need (and not the right to change the log or the schema).
    pub serving_role: Option<String>,
    /// An identity provider's public keys (a file path or an http(s) URL of a JWKS document):
    /// its RS256 and ES256 tokens are accepted besides those signed with the shared secret.
    pub jwks: Option<String>,
    /// A PEM file of CA certificates trusted besides the platform's, for Redis (`rediss://`),
    /// webhook agents and the JWKS; PostgreSQL takes `sslrootcert` in `DATABASE_URL`, Kafka
    /// `OXBOW_KAFKA_SSL_CA_LOCATION`.
    pub tls_ca_file: Option<String>,
    /// Where a process without the APIs serves /healthz, /readyz and /metrics, if anywhere.
    pub health_addr: Option<SocketAddr>,
}

/// The shortest JWT secret `serve` accepts: HS256 wants a key of at least its hash's size.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// The issuers of `OXBOW_JWT_ISSUER`: a comma-separated list.
pub fn issuers(variable: Option<&str>) -> Vec<String> {
    let list = variable.unwrap_or_default().split(',').map(str::trim);
    list.filter(|issuer| !issuer.is_empty()).map(str::to_owned).collect()
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|error| anyhow::anyhow!("{name}={value:?} is not valid: {error}")),
    }
}

impl Config {
    /// Every setting at its default, with the given database.
    pub fn with_defaults(database_url: String) -> Config {
        Config {
            database_url,
            redis_url: "redis://127.0.0.1:6379/".into(),
            kafka_brokers: "127.0.0.1:9092".into(),
            kafka_client: Vec::new(),
            create_topics: true,
            topic_replication_factor: 1,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: DEVELOPMENT_JWT_SECRET.to_owned(),
            jwt_secret_is_development_default: true,
            jwt_issuers: Vec::new(),
            jwt_audience: None,
            events_topic: "oxbow.events".into(),
            tasks_topic: None,
            notifications_topic: "oxbow.notifications".into(),
            topic_partitions: 4,
            saga_group: "oxbow-sagas".into(),
            saga_concurrency: 64,
            saga_share: 16,
            redis_prefix: "oxbow:".into(),
            database_pool_size: 16,
            min_position_timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            max_response_bytes: 16 * 1024 * 1024,
            max_event_bytes: 256 * 1024,
            subscription_connections_per_caller: 16,
            subscriptions_per_connection: 32,
            rate_limit_per_second: 2_000,
            rate_limit_burst: 4_000,
            append_pipeline_depth: 1,
            operators: Vec::new(),
            development: false,
            webhook_allow: Vec::new(),
            trusted_proxies: Vec::new(),
            payment_webhook_secret: None,
            serving_role: None,
            jwks: None,
            tls_ca_file: None,
            health_addr: None,
        }
    }

    /// Reads the configuration; `DATABASE_URL` is the one variable without a default.
    pub fn from_env() -> anyhow::Result<Config> {
        let defaults = Config::with_defaults(var("DATABASE_URL").context("DATABASE_URL is not set")?);
        let (jwt_secret, jwt_secret_is_development_default) = match var("OXBOW_JWT_SECRET") {
            Some(secret) => (secret, false),
            None => (defaults.jwt_secret.clone(), true),
        };
        Ok(Config {
            redis_url: var("REDIS_URL").unwrap_or(defaults.redis_url),
            kafka_client: crate::kafka::KafkaSettings::from_variables(String::new(), std::env::vars())?.client,
            create_topics: parsed("OXBOW_CREATE_TOPICS", defaults.create_topics)?,
            topic_replication_factor: parsed("OXBOW_TOPIC_REPLICATION_FACTOR", defaults.topic_replication_factor)?,
            kafka_brokers: var("KAFKA_BROKERS").unwrap_or(defaults.kafka_brokers),
            http_addr: parsed("OXBOW_HTTP_ADDR", defaults.http_addr)?,
            jwt_secret,
            jwt_secret_is_development_default,
            jwt_issuers: issuers(var("OXBOW_JWT_ISSUER").as_deref()),
            jwt_audience: var("OXBOW_JWT_AUDIENCE"),
            events_topic: var("OXBOW_EVENTS_TOPIC").unwrap_or(defaults.events_topic),
            tasks_topic: var("OXBOW_TASKS_TOPIC").or(defaults.tasks_topic),
            notifications_topic: var("OXBOW_NOTIFICATIONS_TOPIC").unwrap_or(defaults.notifications_topic),
            topic_partitions: parsed("OXBOW_TOPIC_PARTITIONS", defaults.topic_partitions)?,
            saga_group: var("OXBOW_SAGA_GROUP").unwrap_or(defaults.saga_group),
            saga_concurrency: parsed("OXBOW_SAGA_CONCURRENCY", defaults.saga_concurrency)?,
            saga_share: parsed("OXBOW_SAGA_SHARE", defaults.saga_share)?,
            redis_prefix: var("OXBOW_REDIS_PREFIX").unwrap_or(defaults.redis_prefix),
            database_pool_size: parsed("OXBOW_DATABASE_POOL_SIZE", defaults.database_pool_size)?,
            min_position_timeout: Duration::from_millis(parsed(
                "OXBOW_MIN_POSITION_TIMEOUT_MS",
                defaults.min_position_timeout.as_millis() as u64,
            )?),
            max_body_bytes: parsed("OXBOW_MAX_BODY_BYTES", defaults.max_body_bytes)?,
            max_response_bytes: parsed("OXBOW_MAX_RESPONSE_BYTES", defaults.max_response_bytes)?,
            max_event_bytes: parsed("OXBOW_MAX_EVENT_BYTES", defaults.max_event_bytes)?,
            subscription_connections_per_caller: parsed(
                "OXBOW_SUBSCRIPTION_CONNECTIONS_PER_CALLER",
                defaults.subscription_connections_per_caller,
            )?,
            subscriptions_per_connection: parsed(
                "OXBOW_SUBSCRIPTIONS_PER_CONNECTION",
                defaults.subscriptions_per_connection,
            )?,
            rate_limit_per_second: parsed("OXBOW_RATE_LIMIT_PER_SECOND", defaults.rate_limit_per_second)?,
            rate_limit_burst: parsed("OXBOW_RATE_LIMIT_BURST", defaults.rate_limit_burst)?,
            append_pipeline_depth: parsed("OXBOW_APPEND_PIPELINE_DEPTH", defaults.append_pipeline_depth)?,
            operators: var("OXBOW_OPERATORS")
                .map(|subs| subs.split(',').map(str::trim).filter(|sub| !sub.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            development: false,
            webhook_allow: match var("OXBOW_WEBHOOK_ALLOW") {
                None => Vec::new(),
                Some(list) => parse_networks(&list).context("OXBOW_WEBHOOK_ALLOW")?,
            },
            trusted_proxies: match var("OXBOW_TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(list) => parse_networks(&list).context("OXBOW_TRUSTED_PROXIES")?,
            },
            payment_webhook_secret: var("OXBOW_PAYMENT_WEBHOOK_SECRET"),
            serving_role: var("OXBOW_SERVING_ROLE"),
            jwks: var("OXBOW_JWKS"),
            tls_ca_file: var("OXBOW_TLS_CA_FILE"),
            health_addr: var("OXBOW_HEALTH_ADDR")
                .map(|addr| {
                    addr.parse().map_err(|error| anyhow::anyhow!("OXBOW_HEALTH_ADDR={addr:?} is not valid: {error}"))
                })
                .transpose()?,
            database_url: defaults.database_url,
        })
    }
}

/// Networks written as `10.0.0.0/8, 127.0.0.1, ::1`: an address alone is its own network.
pub fn parse_networks(list: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow::anyhow!("{item:?} is not a network (10.0.0.0/8) or an address"))
        })
        .collect()
}

impl Config {
    /// How to reach Kafka.
    pub fn kafka(&self) -> crate::kafka::KafkaSettings {
        crate::kafka::KafkaSettings { brokers: self.kafka_brokers.clone(), client: self.kafka_client.clone() }
    }

    /// The topics Oxbow publishes to: the events, the notifications, and the shared tasks
    /// topic where there is one.
    pub fn topic_names(&self) -> Vec<&str> {
        let mut names = vec![self.events_topic.as_str(), self.notifications_topic.as_str()];
        names.extend(self.tasks_topic.as_deref());
        names
    }

    /// What Oxbow's topics must be.
    pub fn topics(&self) -> crate::kafka::TopicSettings {
        crate::kafka::TopicSettings {
            partitions: self.topic_partitions,
            replication_factor: self.topic_replication_factor,
            create: self.create_topics,
        }
    }

    /// The tokens this deployment signs and accepts.
    pub fn tokens(&self) -> crate::auth::Tokens {
        // With an identity provider's keys and no secret of its own, a deployment accepts no
        // HS256 token: the public development secret is replaced by one no one knows.
        let secret = match self.jwt_secret_is_development_default && !self.development && self.jwks.is_some() {
            true => format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
            false => self.jwt_secret.clone(),
        };
        crate::auth::Tokens::expecting(&secret, &self.jwt_issuers, self.jwt_audience.as_deref())
    }
}
