//! How a decider says no, in terms the edge can map to a status without knowing the domain.

/// The family of a rejection; the edge maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// The aggregate does not exist.
    NotFound,
    /// A creating command named an aggregate that already exists.
    AlreadyExists,
    /// The caller's role does not allow the command.
    Forbidden,
    /// A business rule refused the command.
    RuleViolated,
    /// What the command would record is outside what Oxbow stores: text with a NUL character,
    /// a number past its read model's range.
    Invalid,
    /// An event the command would record is larger than events may be.
    TooLarge,
}

/// A typed refusal from a decider, with a stable machine code such as `last_owner`.
pub trait Rejection: std::error::Error {
    fn kind(&self) -> RejectionKind;
    fn code(&self) -> &'static str;
}
