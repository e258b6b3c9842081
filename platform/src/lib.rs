//! What every running Oxbow role shares: configuration from the environment, bearer tokens,
//! per-caller rate limits, Prometheus metrics, the Kafka and Redis clients' settings, and what every consumer of the
//! events topic does (the CloudEvents codec, batches, handling each event once in effect).

pub mod auth;
pub mod cloudevents;
pub mod config;
pub mod consumer;
pub mod kafka;
pub mod metrics;
pub mod rate_limit;
pub mod redis;
pub mod telemetry;
pub mod tls;
pub mod variables;

pub use config::Config;
