//! CPU-busy work of a given length (W7 and the demo): spinning, not sleeping.

use std::time::{Duration, Instant};

/// Keeps the calling thread busy for `ms` milliseconds; returns `ms`.
pub(crate) fn spin(ms: f64) -> f64 {
    let end = Instant::now() + Duration::from_secs_f64(ms.max(0.0) / 1000.0);
    let mut x = 0u64;
    while Instant::now() < end {
        for _ in 0..64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    std::hint::black_box(x);
    ms
}
