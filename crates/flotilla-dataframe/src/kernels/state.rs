//! The aggregate state of one input column: updated from a batch's values
//! chunk by chunk, merged from partials, finished into aggregates.
//!
//! Every aggregate of a column shares one set of states, so `mean` and
//! `count` of a column count once. A column's states are, in this order
//! (only those its aggregates need; `count` always):
//!
//! | state | type | what |
//! |---|---|---|
//! | `count(c)` | `Int64` | non-null values |
//! | `sum(c)` | `Int64` | wrapping sum, for `sum` of an integer column |
//! | `sum_f64(c)` | `Float64` | sum as `f64`, for `sum` of floats, `mean`, `var`, `std` |
//! | `m2(c)` | `Float64` | sum of squared deviations from the group's mean |
//! | `min(c)`, `max(c)` | `c`'s type | null while the group has no value |
//!
//! Within a batch, `m2` comes from sums of deviations from a per-group
//! shift (the group's first value): `Σd² − (Σd)²/n` with `d = x − shift`,
//! one pass, and exact in the usual sense as long as the shift is within a
//! few standard deviations of the mean (unlike `Σx² − (Σx)²/n`, it does not
//! lose the variance of values far from zero). Partials combine with Chan's
//! pairwise formula.
//!
//! The loops run over the group ids of a chunk into plain vectors, grown as
//! groups appear, dispatched once per column and chunk on the physical
//! type; a column without nulls takes loops without null checks, and
//! whole-column aggregates (one group) take reductions in eight independent
//! lanes. Min and max of non-numeric columns (strings, binary, booleans,
//! decimals) keep the row of the best value per group, compared through
//! arrow-ord, and `take` it at the end.

use std::any::Any;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    make_array, new_null_array, Array, ArrayRef, Float64Array, Int64Array, UInt32Array,
};
use arrow_buffer::{Buffer, NullBuffer, ScalarBuffer};
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, SortOptions};

use super::grouping::NO_GROUP;
use super::primitive::{
    is_float, is_primitive, lanes, primitive_view, with_scalars, Native, PrimitiveView,
};
use super::{AggFunc, KernelError};

/// The group of each row of a chunk.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ids<'a> {
    /// Every row is in group 0 (no keys).
    One,
    /// The group of each row.
    Many(&'a [u32]),
}

impl Ids<'_> {
    #[inline]
    fn get(self, row: usize) -> usize {
        match self {
            Ids::One => 0,
            Ids::Many(ids) => ids[row] as usize,
        }
    }
}

/// The states one input column needs.
#[derive(Debug, Clone)]
pub(super) struct ColumnPlan {
    pub(super) name: String,
    pub(super) data_type: DataType,
    pub(super) int_sum: bool,
    pub(super) float_sum: bool,
    pub(super) m2: bool,
    pub(super) min: bool,
    pub(super) max: bool,
}

/// Where each state sits among a column's state columns.
#[derive(Debug, Clone, Copy)]
struct Slots {
    int_sum: Option<usize>,
    float_sum: Option<usize>,
    m2: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
}

/// An input column ready for updates: its validity and typed view, made
/// once per batch.
#[derive(Debug)]
pub(super) struct Prepared {
    column: ArrayRef,
    validity: Option<NullBuffer>,
    view: Option<PrimitiveView>,
}

impl ColumnPlan {
    /// A column without states beyond `count`.
    pub(super) fn new(name: &str, data_type: &DataType) -> ColumnPlan {
        ColumnPlan {
            name: name.to_owned(),
            data_type: data_type.clone(),
            int_sum: false,
            float_sum: false,
            m2: false,
            min: false,
            max: false,
        }
    }

    /// Adds the states `func` needs (its type was checked by the caller).
    pub(super) fn add(&mut self, func: AggFunc) {
        match func {
            AggFunc::Count => {}
            AggFunc::Sum if is_float(&self.data_type) => self.float_sum = true,
            AggFunc::Sum => self.int_sum = true,
            AggFunc::Mean => self.float_sum = true,
            AggFunc::Var | AggFunc::Std => {
                self.float_sum = true;
                self.m2 = true;
            }
            AggFunc::Min => self.min = true,
            AggFunc::Max => self.max = true,
        }
    }

    fn slots(&self) -> Slots {
        let mut next = 1;
        let mut slot = |on: bool| {
            on.then(|| {
                next += 1;
                next - 1
            })
        };
        Slots {
            int_sum: slot(self.int_sum),
            float_sum: slot(self.float_sum),
            m2: slot(self.m2),
            min: slot(self.min),
            max: slot(self.max),
        }
    }

    /// Min and max through typed loops (else through row comparisons).
    fn typed_extremes(&self) -> bool {
        is_primitive(&self.data_type)
    }

    /// The fields of the state columns, in order.
    pub(super) fn state_fields(&self) -> Vec<Field> {
        let name = &self.name;
        let mut fields = vec![Field::new(format!("count({name})"), DataType::Int64, false)];
        if self.int_sum {
            fields.push(Field::new(format!("sum({name})"), DataType::Int64, false));
        }
        if self.float_sum {
            fields.push(Field::new(
                format!("sum_f64({name})"),
                DataType::Float64,
                false,
            ));
        }
        if self.m2 {
            fields.push(Field::new(format!("m2({name})"), DataType::Float64, false));
        }
        if self.min {
            fields.push(Field::new(
                format!("min({name})"),
                self.data_type.clone(),
                true,
            ));
        }
        if self.max {
            fields.push(Field::new(
                format!("max({name})"),
                self.data_type.clone(),
                true,
            ));
        }
        fields
    }

    /// The number of state columns.
    pub(super) fn width(&self) -> usize {
        1 + [self.int_sum, self.float_sum, self.m2, self.min, self.max]
            .iter()
            .filter(|&&on| on)
            .count()
    }

    /// `column` (of this plan's type) ready for [`ColumnAcc::update`].
    pub(super) fn prepare(&self, column: ArrayRef) -> Result<Prepared, KernelError> {
        let validity = column.logical_nulls().filter(|v| v.null_count() > 0);
        let numeric =
            self.int_sum || self.float_sum || ((self.min || self.max) && self.typed_extremes());
        let view = if numeric {
            Some(primitive_view(column.as_ref()).ok_or_else(|| self.wrong_type(&column))?)
        } else {
            None
        };
        Ok(Prepared {
            column,
            validity,
            view,
        })
    }

    /// The final value of `func` from this column's states (of a partial).
    pub(super) fn finish(
        &self,
        func: AggFunc,
        states: &[ArrayRef],
    ) -> Result<ArrayRef, KernelError> {
        let slots = self.slots();
        let count = self.int64_state(states, 0)?;
        let missing = || self.wrong_type(&states[0]);
        let out: ArrayRef = match func {
            AggFunc::Count => self.state(states, 0)?.clone(),
            AggFunc::Sum if self.int_sum && !is_float(&self.data_type) => {
                let sum = self.int64_state(states, slots.int_sum.ok_or_else(missing)?)?;
                Arc::new(Int64Array::new(sum.clone(), validity(count, 1)))
            }
            AggFunc::Sum => {
                let sum = self.f64_state(states, slots.float_sum.ok_or_else(missing)?)?;
                Arc::new(Float64Array::new(sum.clone(), validity(count, 1)))
            }
            AggFunc::Mean => {
                let sum = self.f64_state(states, slots.float_sum.ok_or_else(missing)?)?;
                let mean: Vec<f64> = sum
                    .iter()
                    .zip(count.iter())
                    .map(|(&s, &c)| s / c as f64)
                    .collect();
                Arc::new(Float64Array::new(mean.into(), validity(count, 1)))
            }
            AggFunc::Var | AggFunc::Std => {
                let m2 = self.f64_state(states, slots.m2.ok_or_else(missing)?)?;
                let root = func == AggFunc::Std;
                let var: Vec<f64> = m2
                    .iter()
                    .zip(count.iter())
                    .map(|(&m, &c)| {
                        let v = m / (c - 1) as f64;
                        if root {
                            v.sqrt()
                        } else {
                            v
                        }
                    })
                    .collect();
                Arc::new(Float64Array::new(var.into(), validity(count, 2)))
            }
            AggFunc::Min => self.state(states, slots.min.ok_or_else(missing)?)?.clone(),
            AggFunc::Max => self.state(states, slots.max.ok_or_else(missing)?)?.clone(),
        };
        Ok(out)
    }

    fn state<'s>(&self, states: &'s [ArrayRef], slot: usize) -> Result<&'s ArrayRef, KernelError> {
        states.get(slot).ok_or_else(|| KernelError::NotAPartial {
            detail: format!("the states of `{}` are missing", self.name),
        })
    }

    fn int64_state<'s>(
        &self,
        states: &'s [ArrayRef],
        slot: usize,
    ) -> Result<&'s ScalarBuffer<i64>, KernelError> {
        let state = self.state(states, slot)?;
        state
            .as_primitive_opt::<Int64Type>()
            .map(|a| a.values())
            .ok_or_else(|| self.wrong_type(state))
    }

    fn f64_state<'s>(
        &self,
        states: &'s [ArrayRef],
        slot: usize,
    ) -> Result<&'s ScalarBuffer<f64>, KernelError> {
        let state = self.state(states, slot)?;
        state
            .as_primitive_opt::<Float64Type>()
            .map(|a| a.values())
            .ok_or_else(|| self.wrong_type(state))
    }

    fn wrong_type(&self, found: &ArrayRef) -> KernelError {
        KernelError::NotAPartial {
            detail: format!(
                "a state of `{}` has type {}, not the one the plan made",
                self.name,
                found.data_type()
            ),
        }
    }
}

/// The running states of one column over the chunks of a batch.
#[derive(Debug)]
pub(super) struct ColumnAcc {
    count: Vec<i64>,
    int_sum: Vec<i64>,
    float_sum: Vec<f64>,
    moments: Moments,
    min: Extreme,
    max: Extreme,
}

/// The second moment, as it is being gathered.
#[derive(Debug)]
enum Moments {
    Off,
    /// From values: sums of deviations from each group's shift (NaN until
    /// the group's first value).
    Shifted {
        shift: Vec<f64>,
        dev: Vec<f64>,
        dev_sq: Vec<f64>,
    },
    /// From partials: `m2` combined by Chan's formula.
    Merged(Vec<f64>),
}

/// A running minimum or maximum.
#[derive(Debug)]
enum Extreme {
    Off,
    /// Wanted, no value seen yet (the physical type is not known yet).
    Pending,
    /// A `Vec<N>` of the column's physical type.
    Typed(Box<dyn TypedExtremes>),
    /// The row of `source` holding the best value of each group.
    Best {
        rows: Vec<u32>,
        source: ArrayRef,
    },
}

/// A `Vec<N>` of running extremes, whatever `N`.
trait TypedExtremes: Send + fmt::Debug {
    fn as_any(&mut self) -> &mut dyn Any;
    fn into_array(
        self: Box<Self>,
        data_type: &DataType,
        count: &[i64],
    ) -> Result<ArrayRef, KernelError>;
}

impl<N: Native + fmt::Debug> TypedExtremes for Vec<N> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn into_array(
        self: Box<Self>,
        data_type: &DataType,
        count: &[i64],
    ) -> Result<ArrayRef, KernelError> {
        typed_array(data_type, *self, count)
    }
}

impl Extreme {
    fn new(on: bool) -> Extreme {
        if on {
            Extreme::Pending
        } else {
            Extreme::Off
        }
    }

    /// Folds `values` into the typed extremes (`Less`: minimum).
    fn fold<N: Native + fmt::Debug>(
        &mut self,
        groups: usize,
        ids: Ids<'_>,
        values: &[N],
        nulls: Option<&NullBuffer>,
        keep: Ordering,
    ) -> Result<(), KernelError> {
        if matches!(self, Extreme::Pending) {
            *self = Extreme::Typed(Box::new(Vec::<N>::new()));
        }
        let Extreme::Typed(acc) = self else {
            return Err(KernelError::Internal(
                "typed min/max on a non-typed state".into(),
            ));
        };
        let acc = acc.as_any().downcast_mut::<Vec<N>>().ok_or_else(|| {
            KernelError::Internal("min/max values changed type between chunks".into())
        })?;
        if keep == Ordering::Less {
            acc.resize(groups, N::MIN_START);
            extreme(acc, ids, values, nulls, N::keep_min);
        } else {
            acc.resize(groups, N::MAX_START);
            extreme(acc, ids, values, nulls, N::keep_max);
        }
        Ok(())
    }

    /// Keeps, per group, the row of `source` (rows `range`) with the best
    /// value (`Less`: smallest; first of equals).
    fn best(
        &mut self,
        groups: usize,
        ids: Ids<'_>,
        source: &ArrayRef,
        validity: Option<&NullBuffer>,
        range: Range<usize>,
        keep: Ordering,
    ) -> Result<(), KernelError> {
        if matches!(self, Extreme::Pending) {
            *self = Extreme::Best {
                rows: Vec::new(),
                source: source.clone(),
            };
        }
        let Extreme::Best { rows, .. } = self else {
            return Err(KernelError::Internal("row min/max on a typed state".into()));
        };
        rows.resize(groups, NO_GROUP);
        let cmp = arrow_ord::ord::make_comparator(
            source.as_ref(),
            source.as_ref(),
            SortOptions::default(),
        )
        .map_err(KernelError::arrow("comparing values for min/max"))?;
        for (i, row) in range.enumerate() {
            if validity.is_some_and(|v| v.is_null(row)) {
                continue;
            }
            let best = &mut rows[ids.get(i)];
            if *best == NO_GROUP || cmp(row, *best as usize) == keep {
                *best = row as u32;
            }
        }
        Ok(())
    }

    fn finish(self, data_type: &DataType, count: &[i64]) -> Result<Option<ArrayRef>, KernelError> {
        Ok(match self {
            Extreme::Off => None,
            // No chunk had a value type to go by: every group is empty.
            Extreme::Pending => Some(new_null_array(data_type, count.len())),
            Extreme::Typed(acc) => Some(acc.into_array(data_type, count)?),
            Extreme::Best { mut rows, source } => {
                rows.resize(count.len(), NO_GROUP);
                let indices: UInt32Array =
                    rows.iter().map(|&b| (b != NO_GROUP).then_some(b)).collect();
                Some(
                    arrow_select::take::take(source.as_ref(), &indices, None)
                        .map_err(KernelError::arrow("taking min/max values"))?,
                )
            }
        })
    }
}

impl ColumnAcc {
    /// Empty states for `plan`, to update from values or (`merging`) to
    /// combine partials.
    pub(super) fn new(plan: &ColumnPlan, merging: bool) -> ColumnAcc {
        let moments = match (plan.m2, merging) {
            (false, _) => Moments::Off,
            (true, false) => Moments::Shifted {
                shift: Vec::new(),
                dev: Vec::new(),
                dev_sq: Vec::new(),
            },
            (true, true) => Moments::Merged(Vec::new()),
        };
        ColumnAcc {
            count: Vec::new(),
            int_sum: Vec::new(),
            float_sum: Vec::new(),
            moments,
            min: Extreme::new(plan.min),
            max: Extreme::new(plan.max),
        }
    }

    /// Makes room for `groups` groups (new ones empty).
    fn grow(&mut self, plan: &ColumnPlan, groups: usize) {
        self.count.resize(groups, 0);
        if plan.int_sum {
            self.int_sum.resize(groups, 0);
        }
        if plan.float_sum {
            self.float_sum.resize(groups, 0.0);
        }
        match &mut self.moments {
            Moments::Off => {}
            Moments::Shifted { shift, dev, dev_sq } => {
                shift.resize(groups, f64::NAN);
                dev.resize(groups, 0.0);
                dev_sq.resize(groups, 0.0);
            }
            Moments::Merged(m2) => m2.resize(groups, 0.0),
        }
    }

    /// Adds the values of rows `range` of a prepared column, whose groups
    /// are `ids` (one per row of the range; `groups` groups so far).
    pub(super) fn update(
        &mut self,
        plan: &ColumnPlan,
        values: &Prepared,
        range: Range<usize>,
        ids: Ids<'_>,
        groups: usize,
    ) -> Result<(), KernelError> {
        self.grow(plan, groups);
        let (start, len) = (range.start, range.len());
        let mut counted = false;
        if let Some(view) = &values.view {
            let nulls = view.nulls.as_ref().map(|n| n.slice(start, len));
            counted = with_scalars!(&view.values, v => self.update_numeric(plan, &v[range.clone()], nulls.as_ref(), ids, groups)?);
        }
        if !counted {
            let validity = values.validity.as_ref().map(|n| n.slice(start, len));
            count_valid(&mut self.count, ids, len, validity.as_ref());
        }
        if !plan.typed_extremes() {
            let validity = values.validity.as_ref();
            if plan.min {
                self.min.best(
                    groups,
                    ids,
                    &values.column,
                    validity,
                    range.clone(),
                    Ordering::Less,
                )?;
            }
            if plan.max {
                self.max.best(
                    groups,
                    ids,
                    &values.column,
                    validity,
                    range,
                    Ordering::Greater,
                )?;
            }
        }
        Ok(())
    }

    /// The numeric states; returns whether it counted the values too (in
    /// the loop of the float sum, to pass over the ids once less).
    fn update_numeric<N: Native + fmt::Debug>(
        &mut self,
        plan: &ColumnPlan,
        values: &[N],
        nulls: Option<&NullBuffer>,
        ids: Ids<'_>,
        groups: usize,
    ) -> Result<bool, KernelError> {
        if plan.int_sum {
            sum_i64(&mut self.int_sum, ids, values, nulls);
        }
        if plan.float_sum {
            count_sum_f64((&mut self.count, &mut self.float_sum), ids, values, nulls);
        }
        if let Moments::Shifted { shift, dev, dev_sq } = &mut self.moments {
            shifted_moments((shift, dev, dev_sq), ids, values, nulls);
        }
        if plan.typed_extremes() {
            if plan.min {
                self.min.fold(groups, ids, values, nulls, Ordering::Less)?;
            }
            if plan.max {
                self.max
                    .fold(groups, ids, values, nulls, Ordering::Greater)?;
            }
        }
        Ok(plan.float_sum)
    }

    /// Combines rows `range` of partials' state columns (`plan.width()`
    /// columns), whose groups are `ids`.
    pub(super) fn merge(
        &mut self,
        plan: &ColumnPlan,
        states: &[ArrayRef],
        range: Range<usize>,
        ids: Ids<'_>,
        groups: usize,
    ) -> Result<(), KernelError> {
        self.grow(plan, groups);
        let slots = plan.slots();
        let count_in = &plan.int64_state(states, 0)?[range.clone()];
        match (&mut self.moments, slots.float_sum, slots.m2) {
            (Moments::Merged(m2), Some(s), Some(m)) => merge_moments(
                (&mut self.count, &mut self.float_sum, m2),
                ids,
                (
                    count_in,
                    &plan.f64_state(states, s)?[range.clone()],
                    &plan.f64_state(states, m)?[range.clone()],
                ),
            ),
            (_, sum, _) => {
                sum_i64(&mut self.count, ids, count_in, None);
                if let Some(s) = sum {
                    sum_f64(
                        &mut self.float_sum,
                        ids,
                        &plan.f64_state(states, s)?[range.clone()],
                        None,
                    );
                }
            }
        }
        if let Some(s) = slots.int_sum {
            sum_i64(
                &mut self.int_sum,
                ids,
                &plan.int64_state(states, s)?[range.clone()],
                None,
            );
        }
        for (slot, extreme, keep) in [
            (slots.min, &mut self.min, Ordering::Less),
            (slots.max, &mut self.max, Ordering::Greater),
        ] {
            let Some(slot) = slot else { continue };
            let state = plan.state(states, slot)?;
            if plan.typed_extremes() {
                let view = primitive_view(state.as_ref()).ok_or_else(|| plan.wrong_type(state))?;
                let nulls = view
                    .nulls
                    .as_ref()
                    .map(|n| n.slice(range.start, range.len()));
                with_scalars!(&view.values, v => extreme.fold(groups, ids, &v[range.clone()], nulls.as_ref(), keep)?);
            } else {
                let validity = state.logical_nulls().filter(|n| n.null_count() > 0);
                extreme.best(groups, ids, state, validity.as_ref(), range.clone(), keep)?;
            }
        }
        Ok(())
    }

    /// The state columns of `groups` groups, in the order of
    /// [`ColumnPlan::state_fields`].
    pub(super) fn finish(
        mut self,
        plan: &ColumnPlan,
        groups: usize,
    ) -> Result<Vec<ArrayRef>, KernelError> {
        self.grow(plan, groups);
        let mut out: Vec<ArrayRef> = Vec::with_capacity(plan.width());
        out.push(Arc::new(Int64Array::from(self.count.clone())));
        if plan.int_sum {
            out.push(Arc::new(Int64Array::from(self.int_sum)));
        }
        if plan.float_sum {
            out.push(Arc::new(Float64Array::from(self.float_sum)));
        }
        match self.moments {
            Moments::Off => {}
            Moments::Shifted { dev, dev_sq, .. } => {
                let m2: Vec<f64> = dev
                    .iter()
                    .zip(&dev_sq)
                    .zip(&self.count)
                    .map(|((&d, &sq), &n)| {
                        if n == 0 {
                            return 0.0;
                        }
                        let m = sq - d * d / n as f64;
                        // Rounding may leave a hair below zero.
                        if m < 0.0 {
                            0.0
                        } else {
                            m
                        }
                    })
                    .collect();
                out.push(Arc::new(Float64Array::from(m2)));
            }
            Moments::Merged(m2) => out.push(Arc::new(Float64Array::from(m2))),
        }
        for extreme in [self.min, self.max] {
            if let Some(array) = extreme.finish(&plan.data_type, &self.count)? {
                out.push(array);
            }
        }
        Ok(out)
    }
}

/// Valid where `count >= at_least`; `None` when every group is valid.
fn validity(count: &[i64], at_least: i64) -> Option<NullBuffer> {
    count
        .iter()
        .any(|&c| c < at_least)
        .then(|| NullBuffer::from(count.iter().map(|&c| c >= at_least).collect::<Vec<bool>>()))
}

/// A column of `data_type` (physical type `N`), null where `count` is 0.
fn typed_array<N: Native>(
    data_type: &DataType,
    values: Vec<N>,
    count: &[i64],
) -> Result<ArrayRef, KernelError> {
    let len = values.len();
    let data = ArrayData::builder(data_type.clone())
        .len(len)
        .add_buffer(Buffer::from_vec(values))
        .nulls(validity(count, 1))
        .build()
        .map_err(KernelError::arrow("building a min/max column"))?;
    Ok(make_array(data))
}

fn count_valid(acc: &mut [i64], ids: Ids<'_>, rows: usize, nulls: Option<&NullBuffer>) {
    match (ids, nulls) {
        (Ids::One, None) => acc[0] += rows as i64,
        (Ids::One, Some(n)) => acc[0] += (rows - n.null_count()) as i64,
        (Ids::Many(ids), None) => {
            for &g in ids {
                acc[g as usize] += 1;
            }
        }
        (Ids::Many(ids), Some(n)) => {
            for (&g, ok) in ids.iter().zip(n.iter()) {
                acc[g as usize] += i64::from(ok);
            }
        }
    }
}

fn sum_i64<N: Native>(acc: &mut [i64], ids: Ids<'_>, values: &[N], nulls: Option<&NullBuffer>) {
    match (ids, nulls) {
        (Ids::One, None) => {
            let add = |s: i64, v: N| s.wrapping_add(v.i64_term());
            acc[0] = acc[0].wrapping_add(lanes(values, 0, add, i64::wrapping_add));
        }
        (Ids::One, Some(n)) => {
            acc[0] = values.iter().zip(n.iter()).fold(acc[0], |s, (v, ok)| {
                s.wrapping_add(if ok { v.i64_term() } else { 0 })
            });
        }
        (Ids::Many(ids), None) => {
            for (&g, v) in ids.iter().zip(values) {
                let s = &mut acc[g as usize];
                *s = s.wrapping_add(v.i64_term());
            }
        }
        (Ids::Many(ids), Some(n)) => {
            for ((&g, v), ok) in ids.iter().zip(values).zip(n.iter()) {
                let s = &mut acc[g as usize];
                *s = s.wrapping_add(if ok { v.i64_term() } else { 0 });
            }
        }
    }
}

fn sum_f64<N: Native>(acc: &mut [f64], ids: Ids<'_>, values: &[N], nulls: Option<&NullBuffer>) {
    match (ids, nulls) {
        (Ids::One, None) => acc[0] += lanes(values, 0.0, |s, v: N| s + v.f64_term(), |a, b| a + b),
        (Ids::One, Some(n)) => {
            acc[0] += values
                .iter()
                .zip(n.iter())
                .map(|(v, ok)| if ok { v.f64_term() } else { 0.0 })
                .sum::<f64>();
        }
        (Ids::Many(ids), None) => {
            for (&g, v) in ids.iter().zip(values) {
                acc[g as usize] += v.f64_term();
            }
        }
        (Ids::Many(ids), Some(n)) => {
            for ((&g, v), ok) in ids.iter().zip(values).zip(n.iter()) {
                acc[g as usize] += if ok { v.f64_term() } else { 0.0 };
            }
        }
    }
}

/// Counts the valid values and adds them up as `f64`, in one pass.
fn count_sum_f64<N: Native>(
    (count, sum): (&mut [i64], &mut [f64]),
    ids: Ids<'_>,
    values: &[N],
    nulls: Option<&NullBuffer>,
) {
    match (ids, nulls) {
        (Ids::One, _) => {
            count_valid(count, ids, values.len(), nulls);
            sum_f64(sum, ids, values, nulls);
        }
        (Ids::Many(ids), None) => {
            let count = &mut count[..sum.len()];
            for (&g, v) in ids.iter().zip(values) {
                let g = g as usize;
                count[g] += 1;
                sum[g] += v.f64_term();
            }
        }
        (Ids::Many(ids), Some(n)) => {
            let count = &mut count[..sum.len()];
            for ((&g, v), ok) in ids.iter().zip(values).zip(n.iter()) {
                let g = g as usize;
                count[g] += i64::from(ok);
                sum[g] += if ok { v.f64_term() } else { 0.0 };
            }
        }
    }
}

/// Adds the deviations (and their squares) of the values from their
/// group's shift, which the group's first value sets.
fn shifted_moments<N: Native>(
    (shift, dev, dev_sq): (&mut [f64], &mut [f64], &mut [f64]),
    ids: Ids<'_>,
    values: &[N],
    nulls: Option<&NullBuffer>,
) {
    let valid = |i: usize| nulls.is_none_or(|n| n.is_valid(i));
    match ids {
        Ids::One => {
            if shift[0].is_nan() {
                if let Some(first) = (0..values.len()).find(|&i| valid(i)) {
                    shift[0] = values[first].f64_term();
                }
            }
            let k = shift[0];
            match nulls {
                None => {
                    dev[0] += lanes(values, 0.0, |s, v: N| s + (v.f64_term() - k), |a, b| a + b);
                    dev_sq[0] += lanes(
                        values,
                        0.0,
                        |s, v: N| {
                            let d = v.f64_term() - k;
                            s + d * d
                        },
                        |a, b| a + b,
                    );
                }
                Some(n) => {
                    for (v, ok) in values.iter().zip(n.iter()) {
                        if ok {
                            let d = v.f64_term() - k;
                            dev[0] += d;
                            dev_sq[0] += d * d;
                        }
                    }
                }
            }
        }
        Ids::Many(ids) => {
            for (i, (&g, v)) in ids.iter().zip(values).enumerate() {
                if !valid(i) {
                    continue;
                }
                let g = g as usize;
                let x = v.f64_term();
                let mut k = shift[g];
                if k.is_nan() {
                    shift[g] = x;
                    k = x;
                }
                let d = x - k;
                dev[g] += d;
                dev_sq[g] += d * d;
            }
        }
    }
}

/// Running minimum or maximum (`keep`) per group.
fn extreme<N: Native>(
    acc: &mut [N],
    ids: Ids<'_>,
    values: &[N],
    nulls: Option<&NullBuffer>,
    keep: impl Fn(N, N) -> N,
) {
    match (ids, nulls) {
        (Ids::One, None) => acc[0] = keep(acc[0], lanes(values, acc[0], &keep, &keep)),
        (Ids::One, Some(n)) => {
            acc[0] = values
                .iter()
                .zip(n.iter())
                .fold(acc[0], |a, (&v, ok)| if ok { keep(a, v) } else { a });
        }
        (Ids::Many(ids), None) => {
            for (&g, &v) in ids.iter().zip(values) {
                let a = &mut acc[g as usize];
                *a = keep(*a, v);
            }
        }
        (Ids::Many(ids), Some(n)) => {
            for ((&g, &v), ok) in ids.iter().zip(values).zip(n.iter()) {
                if ok {
                    let a = &mut acc[g as usize];
                    *a = keep(*a, v);
                }
            }
        }
    }
}

/// Chan et al.'s pairwise combination of (count, sum, m2) partials.
fn merge_moments(
    (count, sum, m2): (&mut [i64], &mut [f64], &mut [f64]),
    ids: Ids<'_>,
    (count_in, sum_in, m2_in): (&[i64], &[f64], &[f64]),
) {
    for (row, ((&nb, &sb), &mb)) in count_in.iter().zip(sum_in).zip(m2_in).enumerate() {
        if nb == 0 {
            continue;
        }
        let g = ids.get(row);
        let na = count[g];
        if na == 0 {
            count[g] = nb;
            sum[g] = sb;
            m2[g] = mb;
        } else {
            let (fa, fb) = (na as f64, nb as f64);
            let delta = sb / fb - sum[g] / fa;
            m2[g] += mb + delta * delta * (fa * fb / (fa + fb));
            count[g] = na + nb;
            sum[g] += sb;
        }
    }
}
