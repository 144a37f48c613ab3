//! The arithmetic operators: `+ - * /` between arrays and with scalars, and
//! unary `-`. All are fused element-wise operations (see
//! [`Array::zip_with`] and [`Array::map`]).
//!
//! Between two arrays the shapes must match, which is only known at run
//! time, so those operators give a `Result` (as polars' `Series` do); with
//! a scalar they cannot fail and give the array itself. Integer arithmetic
//! wraps on overflow and division by zero gives 0, as NumPy's `int64`.
//!
//! ```
//! use flotilla_array::{Array, ArrayError};
//!
//! let a = Array::<f64>::arange(4, 2)?;
//! let b = Array::<f64>::ones(&[4], 3)?;
//! let c = ((&a + &b)? * 2.0 - 1.0) / 2.0;
//! assert_eq!(c.compute_vec()?, [0.5, 1.5, 2.5, 3.5]);
//! assert_eq!((10.0 - &a).compute_vec()?, [10.0, 9.0, 8.0, 7.0]);
//! assert!(matches!(&a + &Array::<f64>::ones(&[5], 5)?, Err(ArrayError::ShapeMismatch { .. })));
//! # Ok::<(), ArrayError>(())
//! ```

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::element::sealed::Sealed;
use crate::portable::{Arith, ElementOp};
use crate::{Array, ArrayError, Element};

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $name:literal, $op:ident, $arith:ident) => {
        impl<T: Element> $trait<&Array<T>> for &Array<T> {
            type Output = Result<Array<T>, ArrayError>;
            /// Element by element; an error if the shapes differ.
            fn $method(self, other: &Array<T>) -> Self::Output {
                self.zip_named($name, other, T::$op)
            }
        }

        impl<T: Element> $trait<Array<T>> for &Array<T> {
            type Output = Result<Array<T>, ArrayError>;
            /// Element by element; an error if the shapes differ.
            fn $method(self, other: Array<T>) -> Self::Output {
                self.zip_named($name, &other, T::$op)
            }
        }

        impl<T: Element> $trait<&Array<T>> for Array<T> {
            type Output = Result<Array<T>, ArrayError>;
            /// Element by element; an error if the shapes differ.
            fn $method(self, other: &Array<T>) -> Self::Output {
                self.zip_named($name, other, T::$op)
            }
        }

        impl<T: Element> $trait<Array<T>> for Array<T> {
            type Output = Result<Array<T>, ArrayError>;
            /// Element by element; an error if the shapes differ.
            fn $method(self, other: Array<T>) -> Self::Output {
                self.zip_named($name, &other, T::$op)
            }
        }

        impl<T: Element> $trait<T> for &Array<T> {
            type Output = Array<T>;
            /// With the scalar, element by element.
            fn $method(self, scalar: T) -> Array<T> {
                let op = ElementOp::Arith {
                    op: Arith::$arith,
                    scalar: scalar.to_number(),
                    scalar_left: false,
                };
                self.map_portable($name, op, move |x| T::$op(x, scalar))
            }
        }

        impl<T: Element> $trait<T> for Array<T> {
            type Output = Array<T>;
            /// With the scalar, element by element.
            fn $method(self, scalar: T) -> Array<T> {
                let op = ElementOp::Arith {
                    op: Arith::$arith,
                    scalar: scalar.to_number(),
                    scalar_left: false,
                };
                self.map_portable($name, op, move |x| T::$op(x, scalar))
            }
        }

        scalar_on_the_left!($trait, $method, $name, $op, $arith, f64);
        scalar_on_the_left!($trait, $method, $name, $op, $arith, i64);
    };
}

macro_rules! scalar_on_the_left {
    ($trait:ident, $method:ident, $name:literal, $op:ident, $arith:ident, $t:ty) => {
        impl $trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            /// The scalar with every element.
            fn $method(self, array: &Array<$t>) -> Array<$t> {
                let op = ElementOp::Arith {
                    op: Arith::$arith,
                    scalar: <$t as Sealed>::to_number(self),
                    scalar_left: true,
                };
                array.map_portable($name, op, move |x| <$t as Sealed>::$op(self, x))
            }
        }

        impl $trait<Array<$t>> for $t {
            type Output = Array<$t>;
            /// The scalar with every element.
            fn $method(self, array: Array<$t>) -> Array<$t> {
                let op = ElementOp::Arith {
                    op: Arith::$arith,
                    scalar: <$t as Sealed>::to_number(self),
                    scalar_left: true,
                };
                array.map_portable($name, op, move |x| <$t as Sealed>::$op(self, x))
            }
        }
    };
}

binary_operator!(Add, add, "add", plus, Add);
binary_operator!(Sub, sub, "sub", minus, Sub);
binary_operator!(Mul, mul, "mul", times, Mul);
binary_operator!(Div, div, "div", divide, Div);

impl<T: Element> Neg for &Array<T> {
    type Output = Array<T>;
    /// Every element negated.
    fn neg(self) -> Array<T> {
        self.map_portable("neg", ElementOp::Negate, T::negate)
    }
}

impl<T: Element> Neg for Array<T> {
    type Output = Array<T>;
    /// Every element negated.
    fn neg(self) -> Array<T> {
        self.map_portable("neg", ElementOp::Negate, T::negate)
    }
}
