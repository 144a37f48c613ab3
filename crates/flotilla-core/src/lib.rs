//! flotilla's scheduler core.
pub mod rng;
