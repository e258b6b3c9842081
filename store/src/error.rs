//! Errors of the log.

/// A failure to reach or use PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed a query.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row does not have the shape the log writes.
    #[error("corrupt row at position {position}: {reason}")]
    CorruptRow { position: i64, reason: String },
    /// Personal data could not be sealed.
    #[error("personal data could not be sealed: {0}")]
    Seal(String),
    /// A name that cannot be a role of Oxbow's.
    #[error("{0}")]
    Invalid(String),
    /// An event of Oxbow's own (an operator's decision) could not be appended.
    #[error("the log was not appended to: {0}")]
    Append(#[from] AppendError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an append was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The stream is not at the expected version.
    #[error("the stream is at version {current}, not the expected one")]
    Conflict { current: i64 },
    /// The idempotency key was used before with another request.
    #[error("the idempotency key was used before with another request")]
    IdempotencyKeyReused,
    /// The log could not be written; nothing was appended.
    #[error("the log is unavailable: {0}")]
    Unavailable(String),
    /// The database refused this request's data (a value it cannot store); nothing of it was
    /// appended, and trying again will not help.
    #[error("the database refused the events' data: {0}")]
    Refused(String),
}
