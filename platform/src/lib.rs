//! What every running Oxbow role shares: configuration from the environment, bearer tokens,
//! Prometheus metrics, the Kafka and Redis clients' settings, and the CloudEvents codec of the
//! events topic.

pub mod auth;
pub mod cloudevents;
pub mod config;
pub mod kafka;
pub mod metrics;
pub mod redis;

pub use config::Config;
