//! What every running Oxbow role shares: configuration from the environment, bearer tokens,
//! per-caller rate limits, Prometheus metrics, the Kafka and Redis clients' settings, TLS,
//! telemetry, and the CloudEvents form of a logged event on Kafka.

/// An info span where traces are exported, and [`tracing::Span::none`] elsewhere: the hot paths
/// (a command, its append, a request, saga work) make no span when nothing would read it.
#[macro_export]
macro_rules! traced_span {
    ($($span:tt)*) => {
        if $crate::telemetry::enabled() {
            $crate::__tracing::info_span!($($span)*)
        } else {
            $crate::__tracing::Span::none()
        }
    };
}

/// A CLIENT span of a statement on PostgreSQL, named and attributed as OpenTelemetry's database
/// conventions say (`SELECT events`, `db.system.name`, `db.operation.name`, the server), so
/// that trace backends draw the database in the service graph. Only where traces are exported.
#[macro_export]
macro_rules! db_span {
    ($operation:literal, $collection:literal $(, $($field:tt)+)?) => {{
        let database = $crate::telemetry::database();
        $crate::traced_span!(
            "db",
            otel.name = concat!($operation, " ", $collection),
            otel.kind = "client",
            db.system.name = "postgresql",
            db.operation.name = $operation,
            db.collection.name = $collection,
            db.namespace = %database.name,
            server.address = %database.host,
            server.port = database.port,
            $($($field)+)?
        )
    }};
}

#[doc(hidden)]
pub use tracing as __tracing;

pub mod auth;
pub mod cloudevents;
pub mod config;
mod json_logs;
pub mod kafka;
pub mod metrics;
pub mod rate_limit;
pub mod redis;
pub mod telemetry;
pub mod tls;
pub mod variables;

pub use config::Config;
pub use ipnet::IpNet;
