//! Parallel patterns as documented functions.
pub mod pipeline;
