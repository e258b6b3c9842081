//! What every running Oxbow role shares: configuration from the environment, bearer tokens,
//! Prometheus metrics, and the Kafka and Redis clients' settings.

pub mod auth;
pub mod cloudevents;
pub mod config;
pub mod kafka;
pub mod metrics;
pub mod redis;

pub use config::Config;
