//! The `flotilla` binary.
mod gen;
fn main() {}
