//! What a group-by computes: [`AggFunc`] and [`Agg`].
//!
//! An [`Agg`] names a column, a function and, optionally, the name of the
//! output column. The semantics are those users of Arrow engines (SQL,
//! DataFusion, Polars) expect: nulls are skipped, a group without a single
//! value gets a null sum, mean, min or max and a count of 0.

use std::fmt;

/// An aggregate function.
///
/// | function | output type | a group without values |
/// |---|---|---|
/// | `Count` | `Int64`: the number of **non-null** values | `0` |
/// | `Sum` | `Int64` for integer columns (wrapping on overflow, as pandas and Polars do), `Float64` for floats | null |
/// | `Mean` | `Float64` | null |
/// | `Min`, `Max` | the column's type | null |
/// | `Var` | `Float64`: **sample** variance (ddof = 1, as pandas and SQL `var_samp`) | null (also with one value) |
/// | `Std` | `Float64`: square root of `Var` | null (also with one value) |
///
/// `Sum`, `Mean`, `Var` and `Std` take integer and floating-point columns;
/// `Min` and `Max` also dates, times, timestamps, durations, strings and
/// binary (strings compare by bytes); `Count` takes any column. Floating-point
/// `NaN` is a value, not a null: it propagates through sums and means; `Max`
/// returns `NaN` when the group has one, `Min` only when every value is
/// `NaN` (NaN orders above every number, as in Postgres and DataFusion).
/// Variances are computed per batch in two passes and combined with Chan's
/// formula, so they stay accurate when the mean is large against the spread.
///
/// ```
/// use flotilla_dataframe::kernels::AggFunc;
///
/// assert_eq!(AggFunc::Std.to_string(), "std");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum AggFunc {
    /// Number of non-null values.
    Count,
    /// Sum of the values.
    Sum,
    /// Arithmetic mean of the values.
    Mean,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sample variance (ddof = 1).
    Var,
    /// Sample standard deviation (ddof = 1).
    Std,
}

impl AggFunc {
    /// The lower-case name: `"count"`, `"sum"`, `"mean"`, `"min"`, `"max"`,
    /// `"var"`, `"std"`. It ends the default output name of an [`Agg`].
    ///
    /// ```
    /// use flotilla_dataframe::kernels::AggFunc;
    /// assert_eq!(AggFunc::Mean.name(), "mean");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Mean => "mean",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Var => "var",
            AggFunc::Std => "std",
        }
    }
}

impl fmt::Display for AggFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One aggregate of a group-by: a column, a function, and the output name.
///
/// The output column is named `alias` when given, else
/// `"{column}_{func}"`, e.g. `"temperature_mean"`.
///
/// ```
/// use flotilla_dataframe::kernels::{Agg, AggFunc};
///
/// let a = Agg::mean("temperature");
/// assert_eq!(a.func, AggFunc::Mean);
/// assert_eq!(a.output_name(), "temperature_mean");
/// assert_eq!(Agg::max("temperature").alias("hottest").output_name(), "hottest");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Agg {
    /// The input column.
    pub column: String,
    /// The function.
    pub func: AggFunc,
    /// The output column's name; `None` for `"{column}_{func}"`.
    pub alias: Option<String>,
}

impl Agg {
    /// `func` of `column`, named by default.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::{Agg, AggFunc};
    /// assert_eq!(Agg::new("x", AggFunc::Sum), Agg::sum("x"));
    /// ```
    pub fn new(column: impl Into<String>, func: AggFunc) -> Agg {
        Agg {
            column: column.into(),
            func,
            alias: None,
        }
    }

    /// The number of non-null values of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::count("x").output_name(), "x_count");
    /// ```
    pub fn count(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Count)
    }

    /// The sum of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::sum("x").output_name(), "x_sum");
    /// ```
    pub fn sum(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Sum)
    }

    /// The mean of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::mean("x").output_name(), "x_mean");
    /// ```
    pub fn mean(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Mean)
    }

    /// The smallest value of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::min("x").output_name(), "x_min");
    /// ```
    pub fn min(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Min)
    }

    /// The largest value of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::max("x").output_name(), "x_max");
    /// ```
    pub fn max(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Max)
    }

    /// The sample variance (ddof = 1) of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::var("x").output_name(), "x_var");
    /// ```
    pub fn var(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Var)
    }

    /// The sample standard deviation (ddof = 1) of `column`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::std("x").output_name(), "x_std");
    /// ```
    pub fn std(column: impl Into<String>) -> Agg {
        Agg::new(column, AggFunc::Std)
    }

    /// The same aggregate, with its output column named `name`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::count("x").alias("n").output_name(), "n");
    /// ```
    #[must_use]
    pub fn alias(mut self, name: impl Into<String>) -> Agg {
        self.alias = Some(name.into());
        self
    }

    /// The output column's name: the alias, else `"{column}_{func}"`.
    ///
    /// ```
    /// use flotilla_dataframe::kernels::Agg;
    /// assert_eq!(Agg::std("t").output_name(), "t_std");
    /// ```
    pub fn output_name(&self) -> String {
        match &self.alias {
            Some(name) => name.clone(),
            None => format!("{}_{}", self.column, self.func),
        }
    }
}
