//! The application layer: one command service for every caller, the command endpoint and the
//! sagas alike. It takes typed commands from a [`Caller`] and returns what was appended or a
//! typed [`CommandError`]; it knows nothing of HTTP. What it does for each command: take the
//! stream's turn, load the state (kept in memory, from a snapshot, or folded from the log),
//! look up the facts the decider needs, decide, seal personal data, append, and remember the
//! answer under the caller's idempotency key.

mod answers;
mod command;
mod credentials;
mod error;
mod facts;
mod idempotency;
mod load;
mod service;
mod states;

pub use answers::{Accepted, AcceptedEvent};
pub use command::{Caller, Command, CommandRequest};
pub use credentials::Worker;
pub use error::CommandError;
pub use service::{Appended, CommandService};
