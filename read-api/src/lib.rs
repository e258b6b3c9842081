//! The read API: GraphQL over the read models, with read-your-writes and live subscriptions.
//!
//! Queries read PostgreSQL (and Redis summaries). Subscriptions follow the projection's
//! watermark: when it moves, the events it passed are read from the log and pushed to
//! subscribers in log order, so a subscriber never hears of a change before a query shows it.

mod activity;
mod catalog;
mod http;
mod progress;
mod runs;
mod schema;

pub use activity::{Activity, ActivityFeed};
pub use http::{ReadState, router};
pub use progress::Progress;
pub use schema::{OxbowSchema, Services, build_schema};
