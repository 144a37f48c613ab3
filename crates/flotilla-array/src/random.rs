//! The counter-based generator behind [`Array::random`](crate::Array::random).
//!
//! An element's value is a pure function of the seed and the element's flat
//! (row-major) index in the whole array: the element at index `i` is the
//! `(i + 1)`-th output of SplitMix64 started at `seed`, that is
//! `mix(seed + (i + 1) · φ)` with φ = `0x9E3779B97F4A7C15` and `mix` the
//! SplitMix64 finalizer, whose top 53 bits are scaled into `[0, 1)`. No state
//! passes from one element to the next, so a block computes its elements
//! from its place alone: the same seed gives the same array whatever the
//! chunking, the order in which blocks run or the number of threads, and
//! a block never waits for another. SplitMix64 passes BigCrush; it is not
//! a cryptographic generator.

/// SplitMix64's increment, the golden ratio in 64 bits.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// 2⁻⁵³: scales 53 random bits into `[0, 1)`.
const UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// SplitMix64's output function.
#[inline(always)]
fn mix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `bits` as a float in `[0, 1)`: every value is a
/// multiple of 2⁻⁵³, each equally likely.
#[inline(always)]
fn unit(bits: u64) -> f64 {
    // Below 2^53 the value fits an i64, whose conversion is one instruction.
    ((bits >> 11) as i64) as f64 * UNIT
}

/// The value of the element at flat index `index` of every array made by
/// [`Array::random`](crate::Array::random) with `seed`: uniform in
/// `[0, 1)`, a pure function of its two arguments (see the
/// [`random`](crate::Array::random) docs for the definition).
///
/// ```
/// use flotilla_array::{uniform_at, Array};
///
/// let a = Array::random(&[3, 4], [2, 3], 42)?.compute()?;
/// assert_eq!(a[[1, 2]], uniform_at(42, 1 * 4 + 2));
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
pub fn uniform_at(seed: u64, index: u64) -> f64 {
    unit(mix(
        seed.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN))
    ))
}

/// Writes the values of elements `first`, `first + 1`, … into `out`.
#[inline]
pub(crate) fn fill_uniform(seed: u64, first: u64, out: &mut [f64]) {
    let mut state = seed.wrapping_add(first.wrapping_add(1).wrapping_mul(GOLDEN));
    for x in out.iter_mut() {
        *x = unit(mix(scalar_unless_avx512(state)));
        state = state.wrapping_add(GOLDEN);
    }
}

/// Keeps [`fill_uniform`]'s loop scalar on x86-64 without AVX-512: there
/// is no vector 64-bit multiply nor vector `i64 → f64` conversion before
/// AVX-512DQ, and LLVM's vectorized loop, which emulates both, runs at half
/// the speed of the scalar one (measured with SSE2 and with AVX2). Passing
/// the state copy through `black_box` stops the vectorizer; the counter
/// itself stays in a register.
#[cfg(not(target_feature = "avx512dq"))]
#[inline(always)]
fn scalar_unless_avx512(state: u64) -> u64 {
    std::hint::black_box(state)
}

/// With AVX-512DQ the vectorized loop is the faster one (about 1.6× the
/// scalar one), so the vectorizer is left alone.
#[cfg(target_feature = "avx512dq")]
#[inline(always)]
fn scalar_unless_avx512(state: u64) -> u64 {
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64 written out as its authors give it: a state advanced by
    /// φ before each output.
    fn reference_stream(seed: u64, n: usize) -> Vec<u64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(GOLDEN);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            })
            .collect()
    }

    #[test]
    fn element_i_is_output_i_plus_one_of_splitmix64() {
        let stream = reference_stream(1234, 100);
        let mut run = vec![0.0; 60];
        fill_uniform(1234, 40, &mut run);
        for (i, bits) in stream.iter().enumerate() {
            let expected = (bits >> 11) as f64 / (1u64 << 53) as f64;
            assert_eq!(uniform_at(1234, i as u64), expected);
            if i >= 40 {
                assert_eq!(run[i - 40], expected);
            }
        }
        // A known value of SplitMix64 seeded with 0: 0xE220A8397B1DCDAF.
        assert_eq!(reference_stream(0, 1)[0], 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn values_are_in_the_unit_interval_and_look_uniform() {
        let mut xs = vec![0.0; 100_000];
        fill_uniform(7, 0, &mut xs);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        let below_tenth = xs.iter().filter(|&&x| x < 0.1).count();
        assert!((9_000..11_000).contains(&below_tenth), "{below_tenth}");
    }
}
