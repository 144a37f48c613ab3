//! The skew data set: lists of task durations in milliseconds, each shape a
//! case where some static partitioning of the tasks fails.

use std::io::{self, Write};
use std::path::Path;

use flotilla_core::rng::Rng;

use super::output::write_file;
use super::{SkewShape, Written, SKEW_TASKS};

/// Shortest heavy-tailed duration (ms): the scale of the Lomax law.
pub(super) const HEAVY_MIN_MS: f64 = 5.0;
/// Longest heavy-tailed duration (ms): the cap of the tail.
pub(super) const HEAVY_CAP_MS: f64 = 1500.0;
/// Shape parameter of the Lomax law of the heavy tail.
const LOMAX_SHAPE: f64 = 1.1;

/// The heavy-tailed duration for a uniform `u` in `[0, 1)`:
/// `min(1500, 5 · (1 + L))` where `L = (1 − u)^(−1/1.1) − 1` is Lomax(1.1) by
/// inversion of its CDF.
pub(super) fn heavy_duration(u: f64) -> f64 {
    let lomax = (1.0 - u).powf(-1.0 / LOMAX_SHAPE) - 1.0;
    (HEAVY_MIN_MS * (1.0 + lomax)).min(HEAVY_CAP_MS)
}

/// The [`SKEW_TASKS`] task durations (ms) of `shape`:
///
/// * heavy: `min(1500, 5 · (1 + Lomax(1.1)))`, drawn from stream 0 of `seed`
///   (the standard seed is 7);
/// * ramp: task `i` lasts `i / 10` ms (0, 0.1, …, 19.9), `seed` unused;
/// * periodic: 20 ms at even positions, 1 ms at odd ones, `seed` unused.
pub(crate) fn skew_durations(shape: SkewShape, seed: u64) -> Vec<f64> {
    match shape {
        SkewShape::Heavy => {
            let mut rng = Rng::stream(seed, 0);
            (0..SKEW_TASKS)
                .map(|_| heavy_duration(rng.uniform_f64()))
                .collect()
        }
        // `i / 10` rather than `0.1 * i`: the closest double to i/10, which
        // prints as `0.3` rather than `0.30000000000000004`.
        SkewShape::Ramp => (0..SKEW_TASKS).map(|i| i as f64 / 10.0).collect(),
        SkewShape::Periodic => (0..SKEW_TASKS)
            .map(|i| if i % 2 == 0 { 20.0 } else { 1.0 })
            .collect(),
    }
}

/// See [`super::write_skew`]. Numbers are printed with Rust's shortest
/// round-trip form (`20`, `0.1`, `7.283…`).
pub(super) fn write_skew(path: &Path, shape: SkewShape, seed: u64) -> io::Result<Written> {
    let durations = skew_durations(shape, seed);
    let mut text = String::new();
    for duration in &durations {
        text.push_str(&duration.to_string());
        text.push('\n');
    }
    write_file(path, |out| out.write_all(text.as_bytes()))?;
    Ok(Written {
        bytes: text.len() as u64,
        records: durations.len() as u64,
    })
}
