//! Portable plans: an array's lineage as data, for the workers of a
//! cluster.
//!
//! An array's blocks are closures; a worker process
//! cannot receive them, but it runs a copy of the same binary. So an array
//! made only of generators (`random`, `arange`, `full`, `zeros`, `ones`)
//! and named element-wise operations (`abs`, `clip`, `sqrt`, `exp`, `ln`,
//! `log10`, `powi`, `powf`, `sin`, `cos`, `as_f64`, arithmetic and
//! negation with scalars) also keeps its [`ArrayPlan`]: those steps as
//! values. A worker rebuilds the array from the plan and reduces one block
//! of it ([`ArrayPlan::reduce_block`]) with the same fused kernels as
//! in-process; the client combines the blocks' values
//! ([`ArrayReduction::combine`]).
//!
//! Closures (`map`, `map_to`, `zip_with`), arrays made from data
//! (`from_ndarray`), operations between two arrays, rechunks, slices and
//! `persist` leave an array without a plan: [`Array::plan`] then names the
//! operation ([`ArrayError::LocalOnly`]).
//!
//! ```
//! use flotilla_array::portable::{ArrayReduction, Number};
//! use flotilla_array::Array;
//!
//! let x = (Array::random(&[100, 100], [50, 50], 7)? * 2.0).sqrt();
//! let plan = x.plan()?;
//! assert_eq!(plan.num_blocks(), 4);
//! let blocks = (0..4)
//!     .map(|i| plan.reduce_block(ArrayReduction::Sum, i))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let Number::F64(total) = ArrayReduction::Sum.combine(&blocks, plan.len())? else { unreachable!() };
//! assert!((total - x.sum().compute()?).abs() < 1e-9);
//! # Ok::<(), flotilla_array::ArrayError>(())
//! ```

use std::sync::Arc;

use flotilla_local::{Checkpoint, ComputeOptions};
use serde::{Deserialize, Serialize};

use crate::{Array, ArrayError, Element};

/// An array's plan, or the operation that left it without one.
pub(crate) type Portable = Result<Arc<ArrayPlan>, Arc<str>>;

/// A number of either element type.
///
/// ```
/// use flotilla_array::portable::Number;
/// assert_eq!(Number::I64(3).as_f64(), 3.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Number {
    /// An `f64`.
    F64(f64),
    /// An `i64`.
    I64(i64),
}

impl Number {
    /// The number as an `f64`.
    ///
    /// ```
    /// assert_eq!(flotilla_array::portable::Number::F64(2.5).as_f64(), 2.5);
    /// ```
    pub fn as_f64(self) -> f64 {
        match self {
            Number::F64(x) => x,
            Number::I64(x) => x as f64,
        }
    }
}

/// An arithmetic operation with a scalar.
///
/// ```
/// use flotilla_array::portable::{Arith, ArrayPlan, ElementOp};
///
/// let x = flotilla_array::Array::<i64>::arange(4, 2)? * 3;
/// assert!(matches!(&*x.plan()?, ArrayPlan::Map { op: ElementOp::Arith { op: Arith::Mul, .. }, .. }));
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A named element-wise operation of an [`ArrayPlan`].
///
/// ```
/// use flotilla_array::portable::{ArrayPlan, ElementOp};
///
/// let x = flotilla_array::Array::random(&[10], 5, 1)?.sqrt();
/// assert!(matches!(&*x.plan()?, ArrayPlan::Map { op: ElementOp::Sqrt, .. }));
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ElementOp {
    /// `abs`
    Abs,
    /// unary `-`
    Negate,
    /// `clip(low, high)`
    Clip(Number, Number),
    /// `as_f64`
    AsF64,
    /// `sqrt`
    Sqrt,
    /// `exp`
    Exp,
    /// `ln`
    Ln,
    /// `log10`
    Log10,
    /// `powi(n)`
    Powi(i32),
    /// `powf(p)`
    Powf(f64),
    /// `sin`
    Sin,
    /// `cos`
    Cos,
    /// Arithmetic with a scalar, on the right (`a * 2`) or on the left
    /// (`10 - a`).
    Arith {
        /// The operation.
        op: Arith,
        /// The scalar.
        scalar: Number,
        /// Whether the scalar is the left operand.
        scalar_left: bool,
    },
}

/// How an array was made, as data (see the [module documentation](self)).
///
/// ```
/// use flotilla_array::portable::ArrayPlan;
/// let x = flotilla_array::Array::<i64>::arange(10, 4)?;
/// assert!(matches!(&*x.plan()?, ArrayPlan::Arange { n: 10, .. }));
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ArrayPlan {
    /// `Array::random(shape, chunks, seed)`.
    Random {
        /// The shape.
        shape: Vec<usize>,
        /// The chunk sizes along each axis.
        chunks: Vec<Vec<usize>>,
        /// The seed.
        seed: u64,
    },
    /// `Array::arange(n, chunks)` of the type of `zero`.
    Arange {
        /// The length.
        n: usize,
        /// The chunk sizes.
        chunks: Vec<Vec<usize>>,
        /// Zero of the element type.
        zero: Number,
    },
    /// `Array::full(shape, chunks, value)`.
    Full {
        /// The shape.
        shape: Vec<usize>,
        /// The chunk sizes along each axis.
        chunks: Vec<Vec<usize>>,
        /// Every element.
        value: Number,
    },
    /// An element-wise operation on another plan.
    Map {
        /// The array operated on.
        input: Box<ArrayPlan>,
        /// The operation.
        op: ElementOp,
    },
    /// Another plan whose blocks are kept in the checkpoint folder `dir`
    /// ([`Array::checkpoint`]): rebuilt on a worker, the blocks it computes
    /// are read from there when kept, and written there when not.
    Checkpoint {
        /// The array kept.
        input: Box<ArrayPlan>,
        /// The checkpoint's folder (one every worker reaches).
        dir: std::path::PathBuf,
    },
}

/// An array of either element type, rebuilt from a plan.
enum Built {
    F64(Array<f64>),
    I64(Array<i64>),
}

/// The error of a plan that does not fit its element types (a bug, or
/// bytes from another build).
fn mismatch(what: &str) -> ArrayError {
    ArrayError::Internal(format!("a portable array plan does not fit: {what}"))
}

fn arith<T: Element>(op: Arith, a: T, b: T) -> T {
    match op {
        Arith::Add => a.plus(b),
        Arith::Sub => a.minus(b),
        Arith::Mul => a.times(b),
        Arith::Div => a.divide(b),
    }
}

/// `op` on an array of `T`, for the operations every element type has.
fn common_op<T: Element>(a: &Array<T>, op: ElementOp) -> Result<Array<T>, ArrayError> {
    Ok(match op {
        ElementOp::Abs => a.abs(),
        ElementOp::Negate => -a,
        ElementOp::Clip(low, high) => match (T::from_number(low), T::from_number(high)) {
            (Some(l), Some(h)) => a.clip(l, h),
            _ => return Err(mismatch("clip bounds of another type")),
        },
        ElementOp::Arith {
            op,
            scalar,
            scalar_left,
        } => {
            let s = T::from_number(scalar).ok_or_else(|| mismatch("a scalar of another type"))?;
            match scalar_left {
                false => a.map_named("arith", move |x| arith(op, x, s)),
                true => a.map_named("arith", move |x| arith(op, s, x)),
            }
        }
        _ => return Err(mismatch("an operation of f64 arrays on integers")),
    })
}

impl ArrayPlan {
    /// The chunk sizes along each axis.
    ///
    /// ```
    /// let x = flotilla_array::Array::<f64>::zeros(&[4, 6], [2, 4])?;
    /// assert_eq!(x.plan()?.chunks(), [vec![2, 2], vec![4, 2]]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn chunks(&self) -> &[Vec<usize>] {
        match self {
            ArrayPlan::Random { chunks, .. }
            | ArrayPlan::Arange { chunks, .. }
            | ArrayPlan::Full { chunks, .. } => chunks,
            ArrayPlan::Map { input, .. } | ArrayPlan::Checkpoint { input, .. } => input.chunks(),
        }
    }

    /// The number of blocks.
    ///
    /// ```
    /// let x = flotilla_array::Array::<f64>::zeros(&[4, 6], [2, 4])?;
    /// assert_eq!(x.plan()?.num_blocks(), 4);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn num_blocks(&self) -> usize {
        self.chunks().iter().map(Vec::len).product()
    }

    /// The number of elements.
    ///
    /// ```
    /// let x = flotilla_array::Array::<f64>::zeros(&[4, 6], [2, 4])?;
    /// assert_eq!(x.plan()?.len(), 24);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.chunks()
            .iter()
            .map(|c| c.iter().sum::<usize>())
            .product()
    }

    /// Whether the array has no elements.
    ///
    /// ```
    /// let x = flotilla_array::Array::<f64>::zeros(&[4], 2)?;
    /// assert!(!x.plan()?.is_empty());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn build(&self) -> Result<Built, ArrayError> {
        Ok(match self {
            ArrayPlan::Random {
                shape,
                chunks,
                seed,
            } => Built::F64(Array::random(shape, chunks.as_slice(), *seed)?),
            ArrayPlan::Arange { n, chunks, zero } => match zero {
                Number::F64(_) => Built::F64(Array::arange(*n, chunks.as_slice())?),
                Number::I64(_) => Built::I64(Array::arange(*n, chunks.as_slice())?),
            },
            ArrayPlan::Full {
                shape,
                chunks,
                value,
            } => match *value {
                Number::F64(v) => Built::F64(Array::full(shape, chunks.as_slice(), v)?),
                Number::I64(v) => Built::I64(Array::full(shape, chunks.as_slice(), v)?),
            },
            ArrayPlan::Checkpoint { input, dir } => {
                let checkpoint =
                    Checkpoint::open(dir).map_err(|e| ArrayError::Checkpoint(e.to_string()))?;
                match input.build()? {
                    Built::F64(a) => Built::F64(a.kept(&checkpoint, Some(input))),
                    Built::I64(a) => Built::I64(a.kept(&checkpoint, Some(input))),
                }
            }
            ArrayPlan::Map { input, op } => match (input.build()?, *op) {
                (Built::I64(a), ElementOp::AsF64) => Built::F64(a.as_f64()),
                (Built::F64(a), ElementOp::AsF64) => Built::F64(a),
                (Built::F64(a), ElementOp::Sqrt) => Built::F64(a.sqrt()),
                (Built::F64(a), ElementOp::Exp) => Built::F64(a.exp()),
                (Built::F64(a), ElementOp::Ln) => Built::F64(a.ln()),
                (Built::F64(a), ElementOp::Log10) => Built::F64(a.log10()),
                (Built::F64(a), ElementOp::Powi(n)) => Built::F64(a.powi(n)),
                (Built::F64(a), ElementOp::Powf(p)) => Built::F64(a.powf(p)),
                (Built::F64(a), ElementOp::Sin) => Built::F64(a.sin()),
                (Built::F64(a), ElementOp::Cos) => Built::F64(a.cos()),
                (Built::F64(a), op) => Built::F64(common_op(&a, op)?),
                (Built::I64(a), op) => Built::I64(common_op(&a, op)?),
            },
        })
    }

    /// The array this plan builds, if its elements are `T`s.
    pub(crate) fn build_typed<T: Element>(&self) -> Option<Array<T>> {
        let built: Box<dyn std::any::Any> = match self.build().ok()? {
            Built::F64(a) => Box::new(a),
            Built::I64(a) => Box::new(a),
        };
        built.downcast::<Array<T>>().ok().map(|a| *a)
    }

    /// The ranges of block `index` (in row-major order of the blocks).
    fn block_ranges(&self, index: usize) -> Result<Vec<std::ops::Range<usize>>, ArrayError> {
        let chunks = self.chunks();
        if index >= self.num_blocks() {
            return Err(mismatch("a block index past the last block"));
        }
        let mut rest = index;
        let mut coords = vec![0; chunks.len()];
        for (axis, c) in chunks.iter().enumerate().rev() {
            coords[axis] = rest % c.len();
            rest /= c.len();
        }
        Ok(chunks
            .iter()
            .zip(&coords)
            .map(|(c, &k)| {
                let start: usize = c[..k].iter().sum();
                start..start + c[k]
            })
            .collect())
    }

    /// The value of `reduction` over block `index` (row-major among the
    /// blocks): the array rebuilt here, that block cut out of it (nothing
    /// else is made) and reduced on this process's pool. For
    /// [`ArrayReduction::Mean`], the block's sum as an `f64`.
    ///
    /// # Errors
    ///
    /// A block index past the last, a plan whose types do not fit.
    ///
    /// ```
    /// use flotilla_array::portable::{ArrayReduction, Number};
    /// let x = flotilla_array::Array::<i64>::arange(10, 4)?;
    /// assert_eq!(x.plan()?.reduce_block(ArrayReduction::Max, 1)?, Number::I64(7));
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn reduce_block(
        &self,
        reduction: ArrayReduction,
        index: usize,
    ) -> Result<Number, ArrayError> {
        let ranges = self.block_ranges(index)?;
        let options = ComputeOptions::new().progress(false);
        fn reduce<T: Element>(
            a: Array<T>,
            reduction: ArrayReduction,
            options: &ComputeOptions,
        ) -> Result<Number, ArrayError> {
            Ok(match reduction {
                ArrayReduction::Sum => a.sum().compute_with(options)?.to_number(),
                ArrayReduction::Min => a.min().compute_with(options)?.to_number(),
                ArrayReduction::Max => a.max().compute_with(options)?.to_number(),
                ArrayReduction::Mean => Number::F64(a.as_f64().sum().compute_with(options)?),
            })
        }
        match self.build()? {
            Built::F64(a) => reduce(a.slice(&ranges)?, reduction, &options),
            Built::I64(a) => reduce(a.slice(&ranges)?, reduction, &options),
        }
    }
}

/// A whole-array reduction that a cluster computes block by block.
///
/// ```
/// use flotilla_array::portable::{ArrayReduction, Number};
/// let total = ArrayReduction::Sum.combine(&[Number::I64(3), Number::I64(4)], 5)?;
/// assert_eq!(total, Number::I64(7));
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ArrayReduction {
    /// The sum.
    Sum,
    /// The smallest element.
    Min,
    /// The largest element.
    Max,
    /// The mean.
    Mean,
}

impl ArrayReduction {
    /// The blocks' values (of [`ArrayPlan::reduce_block`], in block order)
    /// combined, for an array of `len` elements.
    ///
    /// # Errors
    ///
    /// [`ArrayError::EmptyReduction`] for the min, max or mean of no
    /// elements; values of mixed types ([`ArrayError::Internal`]).
    ///
    /// ```
    /// use flotilla_array::portable::{ArrayReduction, Number};
    /// let mean = ArrayReduction::Mean.combine(&[Number::F64(3.0), Number::F64(5.0)], 4)?;
    /// assert_eq!(mean, Number::F64(2.0));
    /// assert!(ArrayReduction::Max.combine(&[], 0).is_err());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn combine(self, blocks: &[Number], len: usize) -> Result<Number, ArrayError> {
        let name = match self {
            ArrayReduction::Sum => "sum",
            ArrayReduction::Min => "min",
            ArrayReduction::Max => "max",
            ArrayReduction::Mean => "mean",
        };
        let Some((&first, rest)) = blocks.split_first() else {
            return match self {
                ArrayReduction::Sum => Ok(Number::F64(0.0)),
                _ => Err(ArrayError::EmptyReduction { op: name }),
            };
        };
        let pick = |a: Number, b: Number| -> Result<Number, ArrayError> {
            Ok(match (a, b) {
                (Number::F64(x), Number::F64(y)) => Number::F64(match self {
                    ArrayReduction::Sum | ArrayReduction::Mean => x + y,
                    ArrayReduction::Min if y < x || y.is_nan() => y,
                    ArrayReduction::Max if y > x || y.is_nan() => y,
                    _ => x,
                }),
                (Number::I64(x), Number::I64(y)) => Number::I64(match self {
                    ArrayReduction::Sum | ArrayReduction::Mean => x.wrapping_add(y),
                    ArrayReduction::Min => x.min(y),
                    ArrayReduction::Max => x.max(y),
                }),
                _ => return Err(mismatch("block values of mixed types")),
            })
        };
        let total = rest.iter().try_fold(first, |acc, &b| pick(acc, b))?;
        Ok(match self {
            ArrayReduction::Mean => Number::F64(total.as_f64() / len as f64),
            _ => total,
        })
    }
}

impl<T: Element> Array<T> {
    /// The array's portable plan: what a cluster worker needs to rebuild it
    /// (see the [module documentation](self)).
    ///
    /// # Errors
    ///
    /// [`ArrayError::LocalOnly`], naming the operation without a portable
    /// form.
    ///
    /// ```
    /// use flotilla_array::{Array, ArrayError};
    /// let x = Array::<f64>::ones(&[4], 2)?;
    /// assert!(x.plan().is_ok());
    /// assert!(matches!(x.map(|v| v * 2.0).plan(), Err(ArrayError::LocalOnly { .. })));
    /// # Ok::<(), ArrayError>(())
    /// ```
    pub fn plan(&self) -> Result<Arc<ArrayPlan>, ArrayError> {
        self.portable
            .clone()
            .map_err(|operation| ArrayError::LocalOnly {
                operation: operation.to_string(),
            })
    }

    /// This array's plan followed by `op` (or still without one).
    pub(crate) fn plan_then(&self, op: ElementOp) -> Portable {
        self.portable.as_ref().map_err(Arc::clone).map(|p| {
            Arc::new(ArrayPlan::Map {
                input: Box::new(ArrayPlan::clone(p)),
                op,
            })
        })
    }

    /// The same array with `portable` as its plan.
    pub(crate) fn with_plan(mut self, portable: Portable) -> Array<T> {
        self.portable = portable;
        self
    }

    /// `f` on every element under the name `op`, with `element` as its
    /// portable form.
    pub(crate) fn map_portable<F>(&self, op: &str, element: ElementOp, f: F) -> Array<T>
    where
        F: Fn(T) -> T + Send + Sync + 'static,
    {
        self.map_named(op, f).with_plan(self.plan_then(element))
    }
}
