//! [`Element`]: the types an array holds (`f64` and `i64`), the arithmetic
//! the kernels use on them, and [`BlockData`], how a computed block of
//! either type travels through the task graph.

use std::fmt;

use ndarray::ArrayD;

pub(crate) use sealed::BlockData;

pub(crate) mod sealed {
    use ndarray::ArrayD;

    /// A computed block as a graph node holds it. The inputs of one task are
    /// nodes of one value type, and an operation may read blocks of both element
    /// types (`a + b.as_f64()`), so blocks travel as this enum. Its arrays are
    /// always in standard (row-major, contiguous) layout: kernels read them as
    /// slices.
    #[derive(Debug, Clone)]
    pub enum BlockData {
        /// A block of `f64`.
        F64(ArrayD<f64>),
        /// A block of `i64`.
        I64(ArrayD<i64>),
    }

    /// What the kernels need from an element type. Sealed: only `f64` and
    /// `i64` implement it, so every kernel is written, and tested, for
    /// exactly those two.
    pub trait Sealed: Copy + Default + PartialOrd + Send + Sync + 'static {
        /// The type's name, for `Debug` output.
        const NAME: &'static str;
        /// Zero.
        const ZERO: Self;
        /// One.
        const ONE: Self;
        /// The number `i` (`arange`).
        fn from_index(i: usize) -> Self;
        /// The value as an `f64` (`mean`, `var`, `as_f64`).
        fn to_f64(self) -> f64;
        /// `self + other` (wrapping for `i64`, as NumPy's integers).
        fn plus(self, other: Self) -> Self;
        /// `self - other` (wrapping for `i64`).
        fn minus(self, other: Self) -> Self;
        /// `self * other` (wrapping for `i64`).
        fn times(self, other: Self) -> Self;
        /// `self / other`; for `i64` truncating, and 0 for a zero divisor
        /// (as NumPy's integer division).
        fn divide(self, other: Self) -> Self;
        /// `-self` (wrapping for `i64`).
        fn negate(self) -> Self;
        /// `|self|` (wrapping for `i64::MIN`).
        fn magnitude(self) -> Self;
        /// Whether the value is NaN (never, for `i64`).
        fn is_nan_value(self) -> bool;
        /// The sum of a run, with several accumulators so that the loop
        /// vectorizes (and, for `f64`, rounds less than one running sum).
        fn sum_run(run: &[Self]) -> Self;
        /// The value as a portable number.
        fn to_number(self) -> crate::portable::Number;
        /// The value of a portable number of this type.
        fn from_number(n: crate::portable::Number) -> Option<Self>;
        /// Wraps a block for the graph.
        fn into_block(block: ArrayD<Self>) -> BlockData;
        /// The block inside, when it holds this type.
        fn from_block(block: &BlockData) -> Option<&ArrayD<Self>>;
    }
}

/// The element types of an [`Array`](crate::Array): `f64` and `i64`.
///
/// The trait is sealed: the kernels (generation, arithmetic, reductions)
/// are written for exactly these two types. Integer arithmetic wraps on
/// overflow and an integer division by zero gives 0, as NumPy's `int64`
/// does (NumPy also warns); `f64` follows IEEE 754.
///
/// ```
/// use flotilla_array::{Array, Element};
///
/// fn total<T: Element>(a: &Array<T>) -> T {
///     a.sum().compute().unwrap()
/// }
/// assert_eq!(total(&Array::<i64>::arange(5, 2).unwrap()), 10);
/// assert_eq!(total(&Array::<f64>::ones(&[2, 2], [1, 2]).unwrap()), 4.0);
/// ```
pub trait Element: sealed::Sealed + fmt::Debug + fmt::Display {}

impl Element for f64 {}
impl Element for i64 {}

impl sealed::Sealed for f64 {
    const NAME: &'static str = "f64";
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;

    fn from_index(i: usize) -> f64 {
        i as f64
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn plus(self, other: f64) -> f64 {
        self + other
    }
    fn minus(self, other: f64) -> f64 {
        self - other
    }
    fn times(self, other: f64) -> f64 {
        self * other
    }
    fn divide(self, other: f64) -> f64 {
        self / other
    }
    fn negate(self) -> f64 {
        -self
    }
    fn magnitude(self) -> f64 {
        self.abs()
    }
    fn is_nan_value(self) -> bool {
        self.is_nan()
    }
    fn sum_run(run: &[f64]) -> f64 {
        let mut lanes = [0.0f64; 8];
        let mut chunks = run.chunks_exact(8);
        for chunk in &mut chunks {
            for (lane, x) in lanes.iter_mut().zip(chunk) {
                *lane += x;
            }
        }
        let rest: f64 = chunks.remainder().iter().sum();
        ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
            + rest
    }
    fn to_number(self) -> crate::portable::Number {
        crate::portable::Number::F64(self)
    }
    fn from_number(n: crate::portable::Number) -> Option<f64> {
        match n {
            crate::portable::Number::F64(x) => Some(x),
            crate::portable::Number::I64(_) => None,
        }
    }
    fn into_block(block: ArrayD<f64>) -> BlockData {
        BlockData::F64(block)
    }
    fn from_block(block: &BlockData) -> Option<&ArrayD<f64>> {
        match block {
            BlockData::F64(a) => Some(a),
            BlockData::I64(_) => None,
        }
    }
}

impl sealed::Sealed for i64 {
    const NAME: &'static str = "i64";
    const ZERO: i64 = 0;
    const ONE: i64 = 1;

    fn from_index(i: usize) -> i64 {
        i as i64
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn plus(self, other: i64) -> i64 {
        self.wrapping_add(other)
    }
    fn minus(self, other: i64) -> i64 {
        self.wrapping_sub(other)
    }
    fn times(self, other: i64) -> i64 {
        self.wrapping_mul(other)
    }
    fn divide(self, other: i64) -> i64 {
        if other == 0 {
            0
        } else {
            self.wrapping_div(other)
        }
    }
    fn negate(self) -> i64 {
        self.wrapping_neg()
    }
    fn magnitude(self) -> i64 {
        self.wrapping_abs()
    }
    fn is_nan_value(self) -> bool {
        false
    }
    fn sum_run(run: &[i64]) -> i64 {
        run.iter().fold(0i64, |a, &x| a.wrapping_add(x))
    }
    fn to_number(self) -> crate::portable::Number {
        crate::portable::Number::I64(self)
    }
    fn from_number(n: crate::portable::Number) -> Option<i64> {
        match n {
            crate::portable::Number::I64(x) => Some(x),
            crate::portable::Number::F64(_) => None,
        }
    }
    fn into_block(block: ArrayD<i64>) -> BlockData {
        BlockData::I64(block)
    }
    fn from_block(block: &BlockData) -> Option<&ArrayD<i64>> {
        match block {
            BlockData::I64(a) => Some(a),
            BlockData::F64(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sealed::Sealed;

    #[test]
    fn integer_arithmetic_wraps_and_divides_by_zero_to_zero() {
        assert_eq!(i64::MAX.plus(1), i64::MIN);
        assert_eq!(7i64.divide(0), 0);
        assert_eq!(i64::MIN.divide(-1), i64::MIN);
        assert_eq!(i64::MIN.magnitude(), i64::MIN);
        assert_eq!((-7i64).divide(2), -3);
    }

    #[test]
    fn lane_sums_match_plain_sums() {
        let xs: Vec<f64> = (0..1003).map(|i| i as f64 * 0.5).collect();
        assert_eq!(f64::sum_run(&xs), xs.iter().sum::<f64>());
        let ys: Vec<i64> = (0..1003).collect();
        assert_eq!(i64::sum_run(&ys), 1003 * 1002 / 2);
        assert_eq!(f64::sum_run(&[]), 0.0);
    }
}
