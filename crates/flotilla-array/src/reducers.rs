//! The statistics a reduction computes, as mergeable partial results.
//!
//! A [`Reducer`] folds runs of elements into a partial result, merges two
//! partials (the later one into the earlier), and finishes a partial into
//! the value asked for. Partials are what travel up a reduction's tree, so
//! each one must be correct for any split of the elements:
//!
//! * `sum`: the sum (wrapping for `i64`), with eight accumulators per run;
//! * `mean`: the sum as `f64` and the count;
//! * `var`/`std`: count, mean and M2 (the sum of squared deviations from
//!   the mean). A run's mean and M2 come from two passes over the run while
//!   it is in cache, and partials merge with Chan et al.'s formula
//!   `M2 = M2a + M2b + δ²·na·nb/n` (δ the difference of the means), so no
//!   large sum of squares ever cancels against a large square of sums;
//! * `min`/`max`: the extreme value, NaN if any element is NaN (NumPy);
//! * `argmin`/`argmax`: the extreme value and its index, the first one on
//!   ties and the first NaN if any (NumPy). The comparison breaks ties by
//!   index, so the result does not depend on the order partials merge in.

use crate::Element;

/// A reduction's kernels; see the [module docs](self).
pub(crate) trait Reducer<T: Element>: Send + Sync + 'static {
    /// The partial result of some elements.
    type Partial: Clone + Send + Sync + 'static;
    /// The finished value of one reduction.
    type Output: Element;

    /// The operation's name, for task keys and errors.
    fn name(&self) -> &'static str;
    /// Whether the reduction has no value over no elements.
    fn needs_elements(&self) -> bool {
        false
    }
    /// The partial of no elements.
    fn identity(&self) -> Self::Partial;
    /// Folds a run of consecutive elements, the first at `position` (its
    /// flat index in the array, or its position along the reduced axis).
    fn fold_run(&self, acc: &mut Self::Partial, run: &[T], position: usize);
    /// Folds element `i` of `run` into `accs[i]`, every element at
    /// `position` along the reduced axis.
    fn fold_across(&self, accs: &mut [Self::Partial], run: &[T], position: usize) {
        for (acc, x) in accs.iter_mut().zip(run) {
            self.fold_run(acc, std::slice::from_ref(x), position);
        }
    }
    /// Merges `later` into `acc`.
    fn merge(&self, acc: &mut Self::Partial, later: &Self::Partial);
    /// The value of a partial; `None` for a reduction that needs elements
    /// and had none.
    fn finish(&self, partial: &Self::Partial) -> Option<Self::Output>;
}

/// The sum of a run as `f64`, with eight accumulators.
fn sum_f64<T: Element>(run: &[T]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut chunks = run.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x.to_f64();
        }
    }
    let rest: f64 = chunks.remainder().iter().map(|x| x.to_f64()).sum();
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + rest
}

/// `sum`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sum;

impl<T: Element> Reducer<T> for Sum {
    type Partial = T;
    type Output = T;

    fn name(&self) -> &'static str {
        "sum"
    }
    fn identity(&self) -> T {
        T::ZERO
    }
    fn fold_run(&self, acc: &mut T, run: &[T], _: usize) {
        *acc = acc.plus(T::sum_run(run));
    }
    fn fold_across(&self, accs: &mut [T], run: &[T], _: usize) {
        for (acc, &x) in accs.iter_mut().zip(run) {
            *acc = acc.plus(x);
        }
    }
    fn merge(&self, acc: &mut T, later: &T) {
        *acc = acc.plus(*later);
    }
    fn finish(&self, partial: &T) -> Option<T> {
        Some(*partial)
    }
}

/// `mean`: sum and count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mean;

impl<T: Element> Reducer<T> for Mean {
    type Partial = (f64, u64);
    type Output = f64;

    fn name(&self) -> &'static str {
        "mean"
    }
    fn identity(&self) -> (f64, u64) {
        (0.0, 0)
    }
    fn fold_run(&self, acc: &mut (f64, u64), run: &[T], _: usize) {
        acc.0 += sum_f64(run);
        acc.1 += run.len() as u64;
    }
    fn fold_across(&self, accs: &mut [(f64, u64)], run: &[T], _: usize) {
        for (acc, &x) in accs.iter_mut().zip(run) {
            acc.0 += x.to_f64();
            acc.1 += 1;
        }
    }
    fn merge(&self, acc: &mut (f64, u64), later: &(f64, u64)) {
        acc.0 += later.0;
        acc.1 += later.1;
    }
    /// NaN for no elements, as NumPy.
    fn finish(&self, partial: &(f64, u64)) -> Option<f64> {
        Some(partial.0 / partial.1 as f64)
    }
}

/// Count, mean and M2 of some elements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    pub(crate) count: f64,
    pub(crate) mean: f64,
    pub(crate) m2: f64,
}

impl Moments {
    /// Chan et al.'s merge of two disjoint sets' moments.
    pub(crate) fn merge(&mut self, other: &Moments) {
        if other.count == 0.0 {
            return;
        }
        if self.count == 0.0 {
            *self = *other;
            return;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        self.mean += delta * (other.count / count);
        self.m2 += other.m2 + delta * delta * (self.count * other.count / count);
        self.count = count;
    }
}

/// `var` (and `std`, its square root) with `ddof` delta degrees of freedom.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Variance {
    pub(crate) ddof: usize,
    pub(crate) root: bool,
}

impl<T: Element> Reducer<T> for Variance {
    type Partial = Moments;
    type Output = f64;

    fn name(&self) -> &'static str {
        if self.root {
            "std"
        } else {
            "var"
        }
    }
    fn identity(&self) -> Moments {
        Moments::default()
    }
    fn fold_run(&self, acc: &mut Moments, run: &[T], _: usize) {
        if run.is_empty() {
            return;
        }
        let count = run.len() as f64;
        let mean = sum_f64(run) / count;
        let m2 = run
            .iter()
            .map(|x| {
                let d = x.to_f64() - mean;
                d * d
            })
            .sum();
        acc.merge(&Moments { count, mean, m2 });
    }
    fn fold_across(&self, accs: &mut [Moments], run: &[T], _: usize) {
        // Welford's update, one element per partial.
        for (acc, x) in accs.iter_mut().zip(run) {
            let x = x.to_f64();
            acc.count += 1.0;
            let delta = x - acc.mean;
            acc.mean += delta / acc.count;
            acc.m2 += delta * (x - acc.mean);
        }
    }
    fn merge(&self, acc: &mut Moments, later: &Moments) {
        acc.merge(later);
    }
    /// `M2 / (n - ddof)`: NaN for no elements, and NaN or infinity when
    /// `ddof >= n`, as NumPy.
    fn finish(&self, m: &Moments) -> Option<f64> {
        let var = m.m2 / (m.count - self.ddof as f64).max(0.0);
        Some(if self.root { var.sqrt() } else { var })
    }
}

/// Whether `a` is strictly more extreme than `b` (smaller for a minimum).
#[inline(always)]
fn beats<T: Element>(a: T, b: T, max: bool) -> bool {
    if max {
        a > b
    } else {
        a < b
    }
}

/// `min` or `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extreme {
    pub(crate) max: bool,
}

impl<T: Element> Reducer<T> for Extreme {
    type Partial = Option<T>;
    type Output = T;

    fn name(&self) -> &'static str {
        if self.max {
            "max"
        } else {
            "min"
        }
    }
    fn needs_elements(&self) -> bool {
        true
    }
    fn identity(&self) -> Option<T> {
        None
    }
    fn fold_run(&self, acc: &mut Option<T>, run: &[T], _: usize) {
        let Some((&first, rest)) = run.split_first() else {
            return;
        };
        // NaN stays: no comparison beats it, and a NaN replaces anything.
        let mut m = first;
        for &x in rest {
            if beats(x, m, self.max) || x.is_nan_value() {
                m = x;
            }
        }
        self.merge(acc, &Some(m));
    }
    fn fold_across(&self, accs: &mut [Option<T>], run: &[T], _: usize) {
        for (acc, &x) in accs.iter_mut().zip(run) {
            self.merge(acc, &Some(x));
        }
    }
    fn merge(&self, acc: &mut Option<T>, later: &Option<T>) {
        match (*acc, *later) {
            (_, None) => {}
            (None, Some(b)) => *acc = Some(b),
            (Some(a), Some(b)) => {
                if !a.is_nan_value() && (b.is_nan_value() || beats(b, a, self.max)) {
                    *acc = Some(b);
                }
            }
        }
    }
    fn finish(&self, partial: &Option<T>) -> Option<T> {
        *partial
    }
}

/// `argmin` or `argmax`: the extreme value and its index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArgExtreme {
    pub(crate) max: bool,
}

impl ArgExtreme {
    /// Whether candidate `(b, j)` wins over `(a, i)`: NaN first, then the
    /// more extreme value, then the smaller index.
    #[inline(always)]
    fn wins<T: Element>(&self, (a, i): (T, usize), (b, j): (T, usize)) -> bool {
        match (a.is_nan_value(), b.is_nan_value()) {
            (true, true) => j < i,
            (true, false) => false,
            (false, true) => true,
            (false, false) => beats(b, a, self.max) || (b == a && j < i),
        }
    }
}

impl<T: Element> Reducer<T> for ArgExtreme {
    type Partial = Option<(T, usize)>;
    type Output = i64;

    fn name(&self) -> &'static str {
        if self.max {
            "argmax"
        } else {
            "argmin"
        }
    }
    fn needs_elements(&self) -> bool {
        true
    }
    fn identity(&self) -> Option<(T, usize)> {
        None
    }
    fn fold_run(&self, acc: &mut Option<(T, usize)>, run: &[T], position: usize) {
        let Some((&first, rest)) = run.split_first() else {
            return;
        };
        let mut best = (first, position);
        for (k, &x) in rest.iter().enumerate() {
            if !best.0.is_nan_value() && (x.is_nan_value() || beats(x, best.0, self.max)) {
                best = (x, position + k + 1);
            }
        }
        self.merge(acc, &Some(best));
    }
    fn fold_across(&self, accs: &mut [Option<(T, usize)>], run: &[T], position: usize) {
        for (acc, &x) in accs.iter_mut().zip(run) {
            self.merge(acc, &Some((x, position)));
        }
    }
    fn merge(&self, acc: &mut Option<(T, usize)>, later: &Option<(T, usize)>) {
        match (*acc, *later) {
            (_, None) => {}
            (None, Some(b)) => *acc = Some(b),
            (Some(a), Some(b)) => {
                if self.wins(a, b) {
                    *acc = Some(b);
                }
            }
        }
    }
    fn finish(&self, partial: &Option<(T, usize)>) -> Option<i64> {
        partial.map(|(_, i)| i as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce<R: Reducer<f64>>(r: &R, xs: &[f64], split: usize) -> R::Partial {
        let (a, b) = xs.split_at(split);
        let mut left = r.identity();
        r.fold_run(&mut left, a, 0);
        let mut right = r.identity();
        r.fold_run(&mut right, b, split);
        r.merge(&mut left, &right);
        left
    }

    #[test]
    fn chan_merge_matches_a_direct_computation_for_every_split() {
        let xs: Vec<f64> = (0..50).map(|i| 1e9 + (i * i % 17) as f64).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let m2: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
        let var = Variance {
            ddof: 0,
            root: false,
        };
        for split in 0..=xs.len() {
            let m = reduce(&var, &xs, split);
            assert_eq!(m.count, n);
            assert!((m.mean - mean).abs() < 1e-6, "split {split}");
            assert!(
                (m.m2 - m2).abs() < 1e-6 * m2,
                "split {split}: {} vs {m2}",
                m.m2
            );
        }
    }

    #[test]
    fn welford_across_matches_runs() {
        let xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0];
        let var = Variance {
            ddof: 1,
            root: false,
        };
        let mut across = vec![Moments::default()];
        for &x in &xs {
            Reducer::<f64>::fold_across(&var, &mut across, &[x], 0);
        }
        let runs = reduce(&var, &xs, 2);
        assert!((across[0].m2 - runs.m2).abs() < 1e-12);
        assert_eq!(Reducer::<f64>::finish(&var, &runs), Some(runs.m2 / 5.0));
    }

    #[test]
    fn extremes_propagate_nan_and_arg_extremes_take_the_first() {
        let max = Extreme { max: true };
        assert_eq!(reduce(&max, &[1.0, 7.0, 3.0], 1), Some(7.0));
        assert!(reduce(&max, &[1.0, f64::NAN, 3.0], 2).is_some_and(f64::is_nan));
        assert!(reduce(&max, &[1.0, f64::NAN, 3.0], 1).is_some_and(f64::is_nan));
        let argmax = ArgExtreme { max: true };
        let argmin = ArgExtreme { max: false };
        let xs = [2.0, 7.0, 1.0, 7.0, 1.0];
        for split in 0..=xs.len() {
            assert_eq!(reduce(&argmax, &xs, split).map(|p| p.1), Some(1));
            assert_eq!(reduce(&argmin, &xs, split).map(|p| p.1), Some(2));
        }
        let nan = [1.0, f64::NAN, 9.0, f64::NAN];
        for split in 0..=nan.len() {
            assert_eq!(reduce(&argmax, &nan, split).map(|p| p.1), Some(1));
        }
        // Merging in either order gives the same winner.
        let mut a = Some((7.0, 10));
        argmax.merge(&mut a, &Some((7.0, 3)));
        assert_eq!(a, Some((7.0, 3)));
    }
}
