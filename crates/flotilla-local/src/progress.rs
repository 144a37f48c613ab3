//! The progress bar: shown only on a terminal, only for runs over a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before its bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress bar that appears when a run has lasted a second and stderr
/// is a terminal (and `FLOTILLA_NO_PROGRESS` is not set); otherwise it
/// prints nothing at all. Every flotilla computation shows this bar; a
/// driver of its own (the cluster client) shows the same one.
///
/// ```
/// let mut bar = flotilla_local::Progress::new("squaring", 10, true);
/// for done in 1..=10 {
///     bar.update(done);
/// }
/// bar.finish(10);
/// ```
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    enabled: bool,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total` tasks, labelled `label`; `allowed` false keeps it
    /// hidden whatever the terminal.
    ///
    /// ```
    /// let _quiet = flotilla_local::Progress::new("loading", 3, false);
    /// ```
    pub fn new(label: &str, total: u64, allowed: bool) -> Progress {
        let enabled = allowed
            && std::io::stderr().is_terminal()
            && std::env::var_os("FLOTILLA_NO_PROGRESS").is_none();
        Progress {
            label: label.to_string(),
            total,
            enabled,
            started: Instant::now(),
            bar: None,
        }
    }

    /// Records that `done` of the run's units are done; draws the bar once
    /// the run has gone on long enough.
    ///
    /// ```
    /// flotilla_local::Progress::new("x", 2, false).update(1);
    /// ```
    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= SHOW_AFTER {
            let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr())
                .with_elapsed(self.started.elapsed());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>12} [{bar:40}] {pos}/{len} tasks, {elapsed} elapsed, eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(self.label.clone());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Ends the bar (if it was shown) at `done`.
    ///
    /// ```
    /// flotilla_local::Progress::new("x", 2, false).finish(2);
    /// ```
    pub fn finish(&mut self, done: u64) {
        if let Some(bar) = self.bar.take() {
            bar.set_position(done);
            bar.finish();
        }
    }
}
