//! The sagas: the run saga carries each run from its request to its settlement; the billing
//! saga suspends a workspace whose invoice is overdue and reactivates it once paid.
//!
//! A saga is three parts. [`plan`] decides, purely, what an event asks for (reserve a budget,
//! dispatch an attempt, fire a timer at a time the event recorded, settle a run). [`runtime`]
//! consumes the events topic and writes those decisions to `saga_work` in the same transaction
//! that records the event as handled, so a redelivered event plans nothing twice. Workers then
//! lease due work, carry it out through the command service ([`executors`] run the attempts),
//! and delete it. Every piece of work is safe to repeat: the deciders refuse stale reports and
//! late timers, and money moves under idempotency keys, so a crash at any point settles a run's
//! credits exactly once.

pub mod egress;
pub mod executors;
pub mod plan;
pub mod queue;
pub mod runtime;

pub use runtime::{SagaConfig, Sagas};

/// Applies the sagas' migrations.
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    migrator().run(pool).await
}

/// This crate's migrations, run beside the other crates' into the same database.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
}
