//! Seeing what a flotilla run did.
//!
//! A runtime asked to trace a run fills a [`Trace`](flotilla_core::trace::Trace)
//! (every attempt on every worker thread, the scheduler's decisions,
//! transfers, spills); this crate draws it:
//!
//! * [`report`] — one self-contained HTML file per finished run (or one
//!   comparing several runs side by side): the task stream, utilization
//!   over time per worker thread, durations per kind of task, transfers
//!   and spills, the scheduler's decisions and the run's settings. The
//!   plots are SVG drawn here; the file needs no network and no script.
//!
//! ```
//! use flotilla_core::trace::{Lane, Span, Trace};
//!
//! let mut t = Trace::new("example");
//! let k = t.kind("square");
//! t.lanes.push(Lane::new(0, 0));
//! t.spans.push(Span::new(0, k, 0, 0, 1_000));
//! t.makespan_ns = 1_000;
//! let html = flotilla_dashboard::report::render(&t);
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("square"));
//! ```

mod html;
pub mod live;
pub mod metrics;
pub mod report;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::{Dashboard, DashboardError};
