//! A small, fast, seedable random number generator (xoshiro256++ seeded by
//! SplitMix64).
//!
//! flotilla needs randomness in three places: the `Random` and
//! `LeastLoadedOfTwo` placement policies, the data generator, and seeded
//! collections (random arrays). All three need the same thing — a generator
//! that is deterministic for a seed, cheap to split into independent streams
//! (one per block or chunk, so that results do not depend on the thread
//! count), and free of global state. This file is that generator, kept here
//! so that the core needs no dependency for it.

/// A seedable pseudo-random generator (xoshiro256++).
///
/// Not cryptographically secure. The same seed always yields the same stream,
/// on every platform.
///
/// # Examples
///
/// ```
/// use flotilla_core::rng::Rng;
///
/// let mut a = Rng::seed(42);
/// let mut b = Rng::seed(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let x = a.uniform_f64();
/// assert!((0.0..1.0).contains(&x));
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// Creates a generator from a 64-bit seed.
    ///
    /// ```
    /// let mut r = flotilla_core::rng::Rng::seed(7);
    /// let _ = r.next_u64();
    /// ```
    pub fn seed(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// Creates the generator of stream `stream` under `seed`: streams of the
    /// same seed are independent, so a data set made in blocks can give each
    /// block its own stream and come out the same whatever the thread count.
    ///
    /// ```
    /// use flotilla_core::rng::Rng;
    /// let a = Rng::stream(1, 0).next_u64();
    /// let b = Rng::stream(1, 1).next_u64();
    /// assert_ne!(a, b);
    /// ```
    pub fn stream(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ 0xD1B5_4A32_D192_ED03;
        let a = splitmix64(&mut sm);
        Rng::seed(a ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
    }

    /// Returns the next 64 random bits.
    ///
    /// ```
    /// let mut r = flotilla_core::rng::Rng::seed(1);
    /// assert_ne!(r.next_u64(), r.next_u64());
    /// ```
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Returns a float uniform in `[0, 1)` with 53 random bits.
    ///
    /// ```
    /// let x = flotilla_core::rng::Rng::seed(3).uniform_f64();
    /// assert!(x >= 0.0 && x < 1.0);
    /// ```
    #[inline]
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Returns an integer uniform in `low..=high` (inclusive), without modulo
    /// bias (Lemire's multiply-shift with rejection).
    ///
    /// # Panics
    ///
    /// Panics if `low > high`.
    ///
    /// ```
    /// let mut r = flotilla_core::rng::Rng::seed(9);
    /// let v = r.range_inclusive(1, 6);
    /// assert!((1..=6).contains(&v));
    /// ```
    #[inline]
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "range_inclusive: low {low} > high {high}");
        let span = high - low;
        if span == u64::MAX {
            return self.next_u64();
        }
        let n = span + 1;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            let lo = m as u64;
            if lo >= n.wrapping_neg() % n {
                return low + (m >> 64) as u64;
            }
        }
    }

    /// Returns an index uniform in `0..n`.
    ///
    /// # Panics
    ///
    /// Panics if `n == 0`.
    ///
    /// ```
    /// let mut r = flotilla_core::rng::Rng::seed(9);
    /// assert!(r.below(10) < 10);
    /// ```
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        self.range_inclusive(0, n as u64 - 1) as usize
    }
}

#[cfg(test)]
mod test {
    use super::Rng;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::seed(123);
        let mut b = Rng::seed(123);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn range_is_inclusive_and_roughly_uniform() {
        let mut r = Rng::seed(5);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            let v = r.range_inclusive(1, 6);
            counts[(v - 1) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn uniform_mean_is_half() {
        let mut r = Rng::seed(11);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| r.uniform_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
