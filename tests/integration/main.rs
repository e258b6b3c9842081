//! Integration tests against real PostgreSQL, Redis and a Kafka-protocol broker.

mod log;
mod slice;
