//! Integration tests against real PostgreSQL, Redis and a Kafka-protocol broker.

mod errors;
mod log;
mod relay;
mod slice;
mod tenancy;
