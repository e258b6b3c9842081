//! Pieces of SQL over the log's tables for other crates' statements. A follower that needs the
//! head or its dead letter beside its own tables asks in the same statement (one round trip per
//! chunk, not two), yet the text that names these tables stays here, with their owner.
//! Each expands to a string literal, for `concat!`.

/// The log head's position, as a scalar subquery.
#[macro_export]
macro_rules! head_position_sql {
    () => {
        "(select position from log_head)"
    };
}

/// Whether the consumer named by the placeholder (`"$1"`, say) has parked events, as a boolean
/// expression.
#[macro_export]
macro_rules! any_parked_sql {
    ($consumer:literal) => {
        concat!("exists (select 1 from parked_events where consumer = ", $consumer, ")")
    };
}
