//! Typed views of fixed-width columns, so that the hot loops are generic
//! over a native type and dispatched once per column, never per row.
//!
//! [`primitive_view`] turns any integer, floating-point, date, time,
//! timestamp or duration column into its physical values ([`Scalars`], a
//! zero-copy `ScalarBuffer` of `i8` … `u64`, `f32` or `f64`) and its
//! validity. [`Native`] says, for each physical type, how a value becomes a
//! key word, a sum term, and how it compares for min and max; the
//! `with_scalars!` macro expands a generic body once
//! per physical type.

use arrow_array::Array;
use arrow_buffer::{ArrowNativeType, NullBuffer, ScalarBuffer};
use arrow_schema::DataType;

/// The physical values of a fixed-width column.
#[derive(Debug, Clone)]
pub(super) enum Scalars {
    I8(ScalarBuffer<i8>),
    I16(ScalarBuffer<i16>),
    I32(ScalarBuffer<i32>),
    I64(ScalarBuffer<i64>),
    U8(ScalarBuffer<u8>),
    U16(ScalarBuffer<u16>),
    U32(ScalarBuffer<u32>),
    U64(ScalarBuffer<u64>),
    F32(ScalarBuffer<f32>),
    F64(ScalarBuffer<f64>),
}

/// Expands `$body` once per physical type of a [`Scalars`], with `$v` bound
/// to the `ScalarBuffer` of that type.
macro_rules! with_scalars {
    ($scalars:expr, $v:ident => $body:expr) => {{
        use $crate::kernels::primitive::Scalars as S;
        match $scalars {
            S::I8($v) => $body,
            S::I16($v) => $body,
            S::I32($v) => $body,
            S::I64($v) => $body,
            S::U8($v) => $body,
            S::U16($v) => $body,
            S::U32($v) => $body,
            S::U64($v) => $body,
            S::F32($v) => $body,
            S::F64($v) => $body,
        }
    }};
}
pub(super) use with_scalars;

/// A fixed-width column seen as physical values and validity.
#[derive(Debug, Clone)]
pub(super) struct PrimitiveView {
    pub(super) values: Scalars,
    /// `None` when the column has no null (even if it carries a bitmap).
    pub(super) nulls: Option<NullBuffer>,
}

/// Whether a type is viewed by [`primitive_view`].
pub(super) fn is_primitive(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Int8 | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Date32
            | Date64
            | Time32(_)
            | Time64(_)
            | Timestamp(_, _)
            | Duration(_)
    )
}

/// Whether sum, mean, var and std take this type.
pub(super) fn is_numeric(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float32 | Float64
    )
}

/// Whether the type is a floating-point one.
pub(super) fn is_float(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Float32 | DataType::Float64)
}

/// The physical values and validity of a fixed-width column; `None` for
/// other types. Zero-copy.
pub(super) fn primitive_view(array: &dyn Array) -> Option<PrimitiveView> {
    use DataType::*;
    let data = array.to_data();
    let buffer = data.buffers().first()?.clone();
    let (offset, len) = (data.offset(), data.len());
    macro_rules! view {
        ($variant:ident) => {
            Scalars::$variant(ScalarBuffer::new(buffer, offset, len))
        };
    }
    let values = match data.data_type() {
        Int8 => view!(I8),
        Int16 => view!(I16),
        Int32 | Date32 | Time32(_) => view!(I32),
        Int64 | Date64 | Time64(_) | Timestamp(_, _) | Duration(_) => view!(I64),
        UInt8 => view!(U8),
        UInt16 => view!(U16),
        UInt32 => view!(U32),
        UInt64 => view!(U64),
        Float32 => view!(F32),
        Float64 => view!(F64),
        _ => return None,
    };
    let nulls = data.nulls().filter(|n| n.null_count() > 0).cloned();
    Some(PrimitiveView { values, nulls })
}

/// `f` folded over `values` in eight independent lanes (so that the folds
/// overlap, or vectorize), the lanes then combined with `combine`.
#[inline]
pub(super) fn lanes<N: Copy, A: Copy>(
    values: &[N],
    init: A,
    f: impl Fn(A, N) -> A,
    combine: impl Fn(A, A) -> A,
) -> A {
    let mut lanes = [init; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = f(*lane, v);
        }
    }
    let folded = lanes.into_iter().reduce(&combine).unwrap_or(init);
    rest.iter().fold(folded, |a, &v| f(a, v))
}

/// What the kernels need of a physical value type.
pub(super) trait Native:
    ArrowNativeType + Copy + PartialOrd + Send + Sync + 'static
{
    /// The value as a 64-bit key word: integers sign- or zero-extended
    /// (`u64` as is), floats as the bits of the value with `-0.0` made
    /// `0.0` and every NaN made the one canonical NaN, so that equal keys
    /// have equal words.
    fn word(self) -> u64;
    /// The value as a term of a floating-point sum.
    fn f64_term(self) -> f64;
    /// The value as a term of a wrapping `i64` sum.
    fn i64_term(self) -> i64;
    /// Start value of a running minimum.
    const MIN_START: Self;
    /// Start value of a running maximum.
    const MAX_START: Self;
    /// The smaller of the running minimum `cur` and the value `v`.
    fn keep_min(cur: Self, v: Self) -> Self;
    /// The larger of the running maximum `cur` and the value `v`.
    fn keep_max(cur: Self, v: Self) -> Self;
}

macro_rules! native_int {
    ($($t:ty),*) => {$(
        impl Native for $t {
            #[inline]
            fn word(self) -> u64 {
                // Sign-extends signed types, zero-extends unsigned ones.
                self as i64 as u64
            }
            #[inline]
            fn f64_term(self) -> f64 {
                self as f64
            }
            #[inline]
            fn i64_term(self) -> i64 {
                self as i64
            }
            const MIN_START: Self = <$t>::MAX;
            const MAX_START: Self = <$t>::MIN;
            #[inline]
            fn keep_min(cur: Self, v: Self) -> Self {
                cur.min(v)
            }
            #[inline]
            fn keep_max(cur: Self, v: Self) -> Self {
                cur.max(v)
            }
        }
    )*};
}
native_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! native_float {
    ($($t:ty),*) => {$(
        impl Native for $t {
            #[inline]
            fn word(self) -> u64 {
                let canonical = if self == 0.0 {
                    0.0
                } else if self.is_nan() {
                    <$t>::NAN
                } else {
                    self
                };
                u64::from(canonical.to_bits())
            }
            #[inline]
            fn f64_term(self) -> f64 {
                f64::from(self)
            }
            #[inline]
            fn i64_term(self) -> i64 {
                self as i64
            }
            // NaN marks "no number yet" for the minimum: a NaN value then
            // stays only while no number has come.
            const MIN_START: Self = <$t>::NAN;
            const MAX_START: Self = <$t>::NEG_INFINITY;
            #[inline]
            fn keep_min(cur: Self, v: Self) -> Self {
                if v < cur || cur.is_nan() {
                    v
                } else {
                    cur
                }
            }
            #[inline]
            fn keep_max(cur: Self, v: Self) -> Self {
                if v > cur || v.is_nan() {
                    v
                } else {
                    cur
                }
            }
        }
    )*};
}
native_float!(f32, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int32Array, StringArray, TimestampMillisecondArray};

    #[test]
    fn views_are_zero_copy_and_respect_offsets() {
        let a = Int32Array::from(vec![Some(1), None, Some(-3), Some(4)]).slice(1, 3);
        let v = primitive_view(&a).unwrap();
        match v.values {
            Scalars::I32(s) => assert_eq!(&s[..], &[0, -3, 4][..]),
            other => panic!("{other:?}"),
        }
        assert_eq!(v.nulls.unwrap().null_count(), 1);
        let t = TimestampMillisecondArray::from(vec![5]).with_timezone("UTC");
        assert!(matches!(
            primitive_view(&t).unwrap().values,
            Scalars::I64(_)
        ));
        assert!(primitive_view(&StringArray::from(vec!["a"])).is_none());
        // A bitmap without nulls is dropped.
        let f = Float64Array::from(vec![Some(1.0)]);
        assert!(primitive_view(&f).unwrap().nulls.is_none());
    }

    #[test]
    fn float_words_are_canonical() {
        assert_eq!((-0.0f64).word(), 0.0f64.word());
        assert_eq!(f64::NAN.word(), (-f64::NAN).word());
        assert_ne!(1.0f64.word(), (-1.0f64).word());
        assert_eq!((-1i8).word(), (-1i64).word());
    }

    #[test]
    fn float_extremes_order_nan_above_numbers() {
        let min = [f64::NAN, 3.0, f64::NAN, 1.0]
            .into_iter()
            .fold(f64::MIN_START, f64::keep_min);
        assert_eq!(min, 1.0);
        let all_nan = [f64::NAN].into_iter().fold(f64::MIN_START, f64::keep_min);
        assert!(all_nan.is_nan());
        let max = [1.0, f64::NAN, 3.0]
            .into_iter()
            .fold(f64::MAX_START, f64::keep_max);
        assert!(max.is_nan());
        let max = [f64::NEG_INFINITY]
            .into_iter()
            .fold(f64::MAX_START, f64::keep_max);
        assert_eq!(max, f64::NEG_INFINITY);
    }
}
