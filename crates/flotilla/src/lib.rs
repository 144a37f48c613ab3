//! flotilla: parallel and distributed computing for Rust.
pub mod patterns;
