//! Element-wise operations, fused into the blocks.
//!
//! None of these adds a graph node: each wraps every block's
//! [`Fill`](crate::block::Fill) in one more closure. `map` applies its
//! function to the run the inner fill has just written, in place; a binary
//! operation fills the run from its left operand, then the right operand's
//! run into a scratch buffer on the stack, and combines the two. A chain of
//! operations therefore makes each run of elements through the whole chain
//! while it is in cache, in the one task that consumes the block.

use std::sync::Arc;

use crate::block::{Block, Fill};
use crate::element::BlockData;
use crate::portable::ElementOp;
use crate::{Array, ArrayError, Element};

/// Elements per piece of a run that goes through a scratch buffer (binary
/// operations, type changes): 2 KiB of `f64`, on the stack.
const SCRATCH: usize = 256;

impl<T: Element> Array<T> {
    /// The same chunking, with every block's fill replaced by `wrap(fill)`.
    pub(crate) fn wrap_fills<U: Element>(
        &self,
        op: &str,
        wrap: impl Fn(Fill<T>) -> Fill<U>,
    ) -> Array<U> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| b.with_fill(wrap(Arc::clone(&b.fill))))
            .collect();
        Array::from_blocks(
            (*self.grid).clone(),
            blocks,
            self.ops_then(op),
            self.split_every,
        )
    }

    /// `f` applied to every element, fused into the blocks, under the name
    /// `op` in task keys.
    pub(crate) fn map_named<F>(&self, op: &str, f: F) -> Array<T>
    where
        F: Fn(T) -> T + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.wrap_fills(op, |inner| {
            let f = Arc::clone(&f);
            Arc::new(move |inputs: &[&BlockData], offset, out: &mut [T]| {
                inner(inputs, offset, out)?;
                for x in out.iter_mut() {
                    *x = f(*x);
                }
                Ok(())
            })
        })
    }

    /// `f` applied to every element. Lazy and fused: the closure runs
    /// inside the task that consumes each block, on runs of elements just
    /// made by the operations before it, with nothing materialized in
    /// between.
    ///
    /// A panic in `f` fails the computation with
    /// [`ArrayError::Task`], naming the block.
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// let squares = Array::<i64>::arange(4, 2)?.map(|x| x * x);
    /// assert_eq!(squares.compute_vec()?, [0, 1, 4, 9]);
    /// // random → map → sum: one task per block makes, maps and sums it.
    /// let s = Array::random(&[100, 100], [50, 50], 3)?.map(|x| x * x).sum();
    /// assert_eq!(s.task_count(), 4 + 1);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn map<F>(&self, f: F) -> Array<T>
    where
        F: Fn(T) -> T + Send + Sync + 'static,
    {
        self.map_named("map", f)
    }

    /// `f` applied to every element, making an array of another element
    /// type. Fused like [`Array::map`].
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// let halves = Array::<i64>::arange(4, 3)?.map_to(|x| x as f64 / 2.0);
    /// assert_eq!(halves.compute_vec()?, [0.0, 0.5, 1.0, 1.5]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn map_to<U, F>(&self, f: F) -> Array<U>
    where
        U: Element,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.wrap_fills("map_to", |inner| {
            let f = Arc::clone(&f);
            Arc::new(move |inputs: &[&BlockData], offset, out: &mut [U]| {
                let mut scratch = [T::ZERO; SCRATCH];
                for (k, piece) in out.chunks_mut(SCRATCH).enumerate() {
                    let buf = &mut scratch[..piece.len()];
                    inner(inputs, offset + k * SCRATCH, buf)?;
                    for (o, &x) in piece.iter_mut().zip(buf.iter()) {
                        *o = f(x);
                    }
                }
                Ok(())
            })
        })
    }

    /// The elements as `f64` (exact for integers up to 2⁵³).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<i64>::arange(3, 2)?.as_f64();
    /// assert_eq!(a.compute_vec()?, [0.0, 1.0, 2.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn as_f64(&self) -> Array<f64> {
        self.map_to(T::to_f64)
            .with_plan(self.plan_then(ElementOp::AsF64))
    }

    /// `f(a, b)` for each pair of elements of `self` and `other` at the same
    /// place. If `other` is chunked differently, it is first rechunked to
    /// `self`'s chunks (fused too: see [`Array::rechunk`]). Fused like
    /// [`Array::map`].
    ///
    /// # Errors
    ///
    /// [`ArrayError::ShapeMismatch`] if the shapes differ.
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// let a = Array::<i64>::arange(6, 4)?;
    /// let b = Array::<i64>::arange(6, 3)?.map(|x| 5 - x);     // other chunks
    /// let larger = a.zip_with(&b, |x, y| x.max(y))?;
    /// assert_eq!(larger.compute_vec()?, [5, 4, 3, 3, 4, 5]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn zip_with<F>(&self, other: &Array<T>, f: F) -> Result<Array<T>, ArrayError>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        self.zip_named("zip_with", other, f)
    }

    /// [`Array::zip_with`] under the name `op` in task keys and errors.
    pub(crate) fn zip_named<F>(
        &self,
        op: &'static str,
        other: &Array<T>,
        f: F,
    ) -> Result<Array<T>, ArrayError>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        if self.shape() != other.shape() {
            return Err(ArrayError::ShapeMismatch {
                op,
                left: self.shape().to_vec(),
                right: other.shape().to_vec(),
            });
        }
        let other = if other.chunks() == self.chunks() {
            other.clone()
        } else {
            other.regrid(&vec![0; self.ndim()], (*self.grid).clone(), "rechunk")
        };
        let f = Arc::new(f);
        let blocks = self
            .blocks
            .iter()
            .zip(other.blocks.iter())
            .map(|(left, right)| zip_blocks(left, right, Arc::clone(&f)))
            .collect();
        Ok(Array::from_blocks(
            (*self.grid).clone(),
            blocks,
            self.ops_then(op),
            self.split_every,
        ))
    }

    /// The absolute value of every element (wrapping for `i64::MIN`, as
    /// NumPy).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = (Array::<i64>::arange(4, 2)? - 2).abs();
    /// assert_eq!(a.compute_vec()?, [2, 1, 0, 1]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn abs(&self) -> Array<T> {
        self.map_portable("abs", ElementOp::Abs, T::magnitude)
    }

    /// Every element limited to `[low, high]` (NumPy's `clip`).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<i64>::arange(6, 4)?.clip(1, 4);
    /// assert_eq!(a.compute_vec()?, [1, 1, 2, 3, 4, 4]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn clip(&self, low: T, high: T) -> Array<T> {
        let op = ElementOp::Clip(low.to_number(), high.to_number());
        self.map_portable("clip", op, move |x| {
            if x < low {
                low
            } else if x > high {
                high
            } else {
                x
            }
        })
    }
}

/// The block of `f(left, right)`: reads both operands' inputs, fills the
/// run from the left, the right into scratch, and combines.
fn zip_blocks<T, F>(left: &Block<T>, right: &Block<T>, f: Arc<F>) -> Block<T>
where
    T: Element,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    let split = left.inputs.len();
    let mut inputs = left.inputs.clone();
    inputs.extend(right.inputs.iter().cloned());
    let (lf, rf) = (Arc::clone(&left.fill), Arc::clone(&right.fill));
    let fill: Fill<T> = Arc::new(move |inputs: &[&BlockData], offset, out: &mut [T]| {
        let (li, ri) = inputs.split_at(split.min(inputs.len()));
        lf(li, offset, out)?;
        let mut scratch = [T::ZERO; SCRATCH];
        for (k, piece) in out.chunks_mut(SCRATCH).enumerate() {
            let buf = &mut scratch[..piece.len()];
            rf(ri, offset + k * SCRATCH, buf)?;
            for (o, &y) in piece.iter_mut().zip(buf.iter()) {
                *o = f(*o, y);
            }
        }
        Ok(())
    });
    Block {
        inputs,
        fill,
        stored: false,
    }
}

/// Floating-point functions, element by element (fused like
/// [`Array::map`]).
impl Array<f64> {
    /// The square root of every element (NaN below zero).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::full(&[2], 1, 9.0)?.sqrt();
    /// assert_eq!(a.compute_vec()?, [3.0, 3.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn sqrt(&self) -> Array<f64> {
        self.map_portable("sqrt", ElementOp::Sqrt, f64::sqrt)
    }

    /// `e` raised to every element.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::zeros(&[2], 1)?.exp();
    /// assert_eq!(a.compute_vec()?, [1.0, 1.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn exp(&self) -> Array<f64> {
        self.map_portable("exp", ElementOp::Exp, f64::exp)
    }

    /// The natural logarithm of every element.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::ones(&[2], 1)?.ln();
    /// assert_eq!(a.compute_vec()?, [0.0, 0.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn ln(&self) -> Array<f64> {
        self.map_portable("ln", ElementOp::Ln, f64::ln)
    }

    /// The base-10 logarithm of every element.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::full(&[2], 1, 100.0)?.log10();
    /// assert_eq!(a.compute_vec()?, [2.0, 2.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn log10(&self) -> Array<f64> {
        self.map_portable("log10", ElementOp::Log10, f64::log10)
    }

    /// Every element raised to the integer power `n`.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::arange(4, 2)?.powi(3);
    /// assert_eq!(a.compute_vec()?, [0.0, 1.0, 8.0, 27.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn powi(&self, n: i32) -> Array<f64> {
        self.map_portable("powi", ElementOp::Powi(n), move |x| x.powi(n))
    }

    /// Every element raised to the power `p`.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::full(&[1], 1, 4.0)?.powf(0.5);
    /// assert_eq!(a.compute_vec()?, [2.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn powf(&self, p: f64) -> Array<f64> {
        self.map_portable("powf", ElementOp::Powf(p), move |x| x.powf(p))
    }

    /// The sine of every element (in radians).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::zeros(&[1], 1)?.sin();
    /// assert_eq!(a.compute_vec()?, [0.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn sin(&self) -> Array<f64> {
        self.map_portable("sin", ElementOp::Sin, f64::sin)
    }

    /// The cosine of every element (in radians).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::zeros(&[1], 1)?.cos();
    /// assert_eq!(a.compute_vec()?, [1.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn cos(&self) -> Array<f64> {
        self.map_portable("cos", ElementOp::Cos, f64::cos)
    }
}
