//! Every environment variable Oxbow reads, in one place: `oxbow serve --help` prints this list,
//! and the deployment guide and the compose file are checked against it.

/// One variable: its name, its default (or "required", or "none") and what it sets.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub about: &'static str,
}

const fn variable(name: &'static str, default: &'static str, about: &'static str) -> Variable {
    Variable { name, default, about }
}

pub const VARIABLES: &[Variable] = &[
    variable("DATABASE_URL", "required", "PostgreSQL; ?sslmode=verify-full&sslrootcert=… for TLS"),
    variable("REDIS_URL", "redis://127.0.0.1:6379/", "Redis; rediss:// for TLS"),
    variable("KAFKA_BROKERS", "127.0.0.1:9092", "the Kafka bootstrap servers"),
    variable("OXBOW_KAFKA_<NAME>", "none", "librdkafka settings, _ read as . (OXBOW_KAFKA_SECURITY_PROTOCOL=SASL_SSL)"),
    variable("OXBOW_HTTP_ADDR", "127.0.0.1:8080", "where the APIs, /healthz, /readyz and /metrics listen"),
    variable(
        "OXBOW_HEALTH_ADDR",
        "none",
        "where a relay, projector or saga process serves /healthz, /readyz, /metrics",
    ),
    variable("OXBOW_JWT_SECRET", "required without OXBOW_JWKS", "the HS256 secret, at least 32 bytes"),
    variable("OXBOW_JWKS", "none", "an identity provider's JWKS (file or http(s) URL): RS256 and ES256 tokens"),
    variable("OXBOW_JWT_ISSUER", "required with OXBOW_JWKS", "the iss every token must carry (comma-separated)"),
    variable("OXBOW_JWT_AUDIENCE", "required with OXBOW_JWKS", "the aud every token must carry"),
    variable("OXBOW_OPERATORS", "none", "users (sub, comma-separated) who are the platform's operators"),
    variable("OXBOW_PAYMENT_WEBHOOK_SECRET", "none", "the payment provider's webhook signing secret"),
    variable("OXBOW_WEBHOOK_ALLOW", "none", "private networks webhook agents may be called in"),
    variable("OXBOW_TLS_CA_FILE", "none", "CA certificates (PEM) trusted besides the platform's"),
    variable("OXBOW_SERVING_ROLE", "none", "read by oxbow migrate: the database role to grant what serving needs"),
    variable("OXBOW_EVENTS_TOPIC", "oxbow.events", "the topic the relay publishes the log to"),
    variable(
        "OXBOW_TASKS_TOPIC",
        "none",
        "also publish external tasks to this topic, which every tenant's workers share: only where all are trusted",
    ),
    variable(
        "OXBOW_NOTIFICATIONS_TOPIC",
        "oxbow.notifications",
        "notices for people (low balance, steps awaiting an answer)",
    ),
    variable("OXBOW_TOPIC_PARTITIONS", "4", "every topic's partitions; a differing existing topic stops the start"),
    variable("OXBOW_TOPIC_REPLICATION_FACTOR", "1", "for the topics Oxbow creates (3 on a cluster)"),
    variable("OXBOW_CREATE_TOPICS", "true", "false without the CreateTopics permission: the topics must exist"),
    variable("OXBOW_SAGA_GROUP", "oxbow-sagas", "the sagas' Kafka consumer group"),
    variable("OXBOW_SAGA_CONCURRENCY", "64", "pieces of saga work at once per process"),
    variable("OXBOW_SAGA_SHARE", "16", "pieces of saga work one creator's workspaces may have under way at once"),
    variable("OXBOW_REDIS_PREFIX", "oxbow:", "the prefix of every Redis key"),
    variable("OXBOW_DATABASE_POOL_SIZE", "16", "PostgreSQL connections per process"),
    variable("OXBOW_APPEND_PIPELINE_DEPTH", "1", "group-commit batches written at once per process"),
    variable("OXBOW_MIN_POSITION_TIMEOUT_MS", "5000", "the longest a read waits for X-Oxbow-Min-Position"),
    variable("OXBOW_MAX_BODY_BYTES", "262144", "the largest request body"),
    variable(
        "OXBOW_MAX_RESPONSE_BYTES",
        "16777216",
        "the largest GraphQL answer built; past it the answer is one RESPONSE_TOO_LARGE error",
    ),
    variable("OXBOW_MAX_EVENT_BYTES", "262144", "the largest event, and the largest webhook answer read"),
    variable("OXBOW_RATE_LIMIT_PER_SECOND", "2000", "commands, and queries, per second per caller"),
    variable("OXBOW_RATE_LIMIT_BURST", "4000", "the burst above that"),
    variable("OXBOW_TRUSTED_PROXIES", "none", "load balancers whose X-Forwarded-For names the client (networks)"),
    variable("OXBOW_SUBSCRIPTION_CONNECTIONS_PER_CALLER", "16", "WebSocket connections one caller may hold"),
    variable("OXBOW_SUBSCRIPTIONS_PER_CONNECTION", "32", "subscriptions running at once on one connection"),
    variable("OXBOW_REBUILD_BATCH", "50000", "events per transaction of oxbow projections rebuild"),
    variable("OXBOW_LOG", "info,sqlx=warn", "a tracing filter"),
    variable("OXBOW_LOG_FORMAT", "text", "json for one JSON object per log line"),
    variable("OTEL_EXPORTER_OTLP_ENDPOINT", "", "an OTLP/HTTP collector: traces are exported there (off without)"),
    variable("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "or http/json; the other OTEL_* variables apply too"),
    variable("OTEL_SERVICE_NAME", "oxbow", "the service name of the spans"),
    variable(
        "OXBOW_TRACE_FILTER",
        "info,sqlx=warn,hyper=warn,h2=warn,reqwest=warn",
        "with traces on, what is recorded at all; OXBOW_LOG picks log lines among it",
    ),
];

/// The list as `oxbow serve --help` shows it.
pub fn help() -> String {
    let width = VARIABLES.iter().map(|variable| variable.name.len()).max().unwrap_or(0);
    let mut text = String::from("Configuration (environment variables, with their defaults):\n");
    for variable in VARIABLES {
        text.push_str(&format!("  {:width$}  {} [{}]\n", variable.name, variable.about, variable.default));
    }
    text
}

/// Whether Oxbow reads `name` (an `OXBOW_KAFKA_…` name stands for a librdkafka setting).
pub fn is_known(name: &str) -> bool {
    name.starts_with("OXBOW_KAFKA_") || VARIABLES.iter().any(|variable| variable.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variable the configuration reads is in the list.
    #[test]
    fn the_list_names_every_variable_the_configuration_reads() {
        let source = include_str!("config.rs");
        for quoted in source.split('"').skip(1).step_by(2) {
            let looks_like_one = quoted.len() > 3
                && quoted.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && (quoted.starts_with("OXBOW_") || quoted.ends_with("_URL") || quoted == "KAFKA_BROKERS");
            if looks_like_one && quoted != "OXBOW_KAFKA_" {
                assert!(is_known(quoted), "{quoted} is read but not listed in VARIABLES");
            }
        }
        assert!(help().contains("OXBOW_TOPIC_PARTITIONS"));
    }
}
