//! Why a command was not accepted, typed for every caller: the endpoint renders it as
//! problem+json, the sagas branch on it.

use commands::{Rejection, RejectionKind};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// A rule refused the command: the decider's, or the service's own (`internal_command`).
    #[error("{detail}")]
    Rejected {
        kind: RejectionKind,
        /// Stable and machine-readable, e.g. `insufficient_credits`.
        code: &'static str,
        detail: String,
        /// The stream's version the command was decided on.
        version: i64,
    },
    /// The stream is not at the version the caller expected, or kept moving under it.
    #[error("the aggregate is at version {current}; reload it and retry")]
    Conflict { current: i64 },
    /// The caller's idempotency key answered another request before.
    #[error("an Idempotency-Key may only be retried with the same request body")]
    IdempotencyKeyReused,
    /// The log could not be read or written; trying again later may succeed.
    #[error("{0}")]
    Unavailable(String),
}

impl CommandError {
    /// A stable code for each error, as clients and metrics see it.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::Rejected { code, .. } => code,
            CommandError::Conflict { .. } => "version_conflict",
            CommandError::IdempotencyKeyReused => "idempotency_key_reused",
            CommandError::Unavailable(_) => "log_unavailable",
        }
    }

    pub(crate) fn rejected<R: Rejection>(rejection: &R, version: i64) -> CommandError {
        CommandError::Rejected {
            kind: rejection.kind(),
            code: rejection.code(),
            detail: rejection.to_string(),
            version,
        }
    }

    /// A field outside its bounds, found by the service rather than by the endpoint's parsing.
    pub(crate) fn invalid(error: &commands::FieldError) -> CommandError {
        CommandError::Rejected { kind: RejectionKind::Invalid, code: error.code, detail: error.to_string(), version: 0 }
    }

    pub(crate) fn unavailable(error: store::Error) -> CommandError {
        tracing::error!(%error, "the log could not be read");
        CommandError::Unavailable("the event log could not be read".into())
    }
}
