//! The command endpoint: `POST /v1/commands`, external agents' task leases
//! (`POST /v1/tasks/lease`, `/extend`), the payment provider's webhook, and the OpenAPI document
//! of the REST surface.
//!
//! Handlers are thin: they read the envelope (type + payload → a typed command), hand it to
//! the application's [`app::CommandService`], and render the outcome, or the error as
//! problem+json.
// The OpenAPI document is one `json!` literal, deeper than the default limit expands.
#![recursion_limit = "256"]

mod handler;
pub mod openapi;
pub mod payments;
pub mod problem;
pub mod tasks;
mod unknown_agents;

pub use handler::{WriteApi, router};
pub use platform::rate_limit::RateLimit;
