//! The read API: GraphQL over the read models, with read-your-writes and live subscriptions.
//!
//! Queries read PostgreSQL (and Redis summaries) through the projections' typed reads.
//! Subscriptions follow the projection's watermark: when it moves, the events it passed are
//! read from the log and pushed to subscribers in log order, so a subscriber never hears of a
//! change before a query shows it.
//!
//! `schema` is the root; `guard` the one membership check and the helpers every resolver
//! shares; `workspaces`, `audit`, `catalog`, `runs` and `subscriptions` one concern each.

mod activity;
mod audit;
mod bounds;
mod catalog;
mod console;
mod graphiql;
mod guard;
mod http;
mod introspection;
mod operations;
mod over_http;
mod progress;
mod runs;
mod schema;
mod services;
mod subscriptions;
mod workspaces;

pub use activity::{Activity, ActivityFeed};
pub use bounds::{DEFAULT_MAX_RESPONSE_BYTES, MAX_ALIASES};
pub use http::{OpenConnections, ReadState, router};
pub use progress::Progress;
pub use schema::{OxbowSchema, build_schema};
pub use services::Services;
