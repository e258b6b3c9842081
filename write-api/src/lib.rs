//! The command endpoint: `POST /v1/commands`, and the OpenAPI document of the REST surface.
//!
//! Handlers are thin: they read the request, hand it to [`service::CommandService`], and render
//! the outcome or a problem+json error.

mod handler;
pub mod openapi;
pub mod problem;
mod rate_limit;
pub mod service;
mod states;

pub use handler::router;
pub use rate_limit::RateLimit;
pub use service::CommandService;
