//! How flotilla's crates say what happened beside the results: as
//! [`tracing`] events when the program installed a subscriber (the
//! `flotilla` binary does, as text or JSON lines), as plain lines on
//! standard error otherwise, so that a program with no subscriber still
//! hears about a worker removed or a report that could not be written.
//!
//! Every event carries a `component` field (`scheduler`, `worker`,
//! `cluster`, `pool`) and its message.
//!
//! A line that cannot be written (standard error closed) is dropped.
//!
//! ```
//! flotilla_local::log::info("pool", "ready");
//! flotilla_local::log::warn("pool", "something to look at");
//! ```

/// Logs `message` of `component` at the warning level.
///
/// ```
/// flotilla_local::log::warn("worker", "spilled 3 results");
/// ```
pub fn warn(component: &'static str, message: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(component, "{message}");
    } else {
        plain(component, message);
    }
}

/// Logs `message` of `component` at the info level.
///
/// ```
/// flotilla_local::log::info("scheduler", "listening");
/// ```
pub fn info(component: &'static str, message: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::info!(component, "{message}");
    } else {
        plain(component, message);
    }
}

/// The line on standard error, in one write; dropped if it cannot be
/// written.
fn plain(component: &str, message: &str) {
    use std::io::Write;
    let line = format!("flotilla {component}: {message}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}
