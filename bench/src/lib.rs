//! What the benchmark shares with the tests: generated logs of a given shape.

pub mod log;
