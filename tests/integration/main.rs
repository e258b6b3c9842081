//! Integration tests against real PostgreSQL, Redis and a Kafka-protocol broker.

mod agents;
mod architecture;
mod bounds;
mod cli;
mod data_flow;
mod database_roles;
mod deployment;
mod errors;
mod forget;
mod graphiql;
mod graphql_http;
mod kafka_settings;
mod log;
mod processes;
mod projections;
mod redelivery;
mod relay;
mod restore;
mod runs;
mod saga_work;
mod schema_evolution;
mod set_aside;
mod slice;
mod tenancy;
mod tls;
mod traces;
