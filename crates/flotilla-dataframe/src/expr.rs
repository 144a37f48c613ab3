//! [`Expr`]: column expressions — arithmetic, comparisons, logic, casts and
//! Rust closures over a column — evaluated on one partition at a time with
//! arrow-rs kernels.
//!
//! An expression is typed against a schema when an operation is built
//! ([`Expr::data_type`]), so a wrong column name or an operation on the
//! wrong types is an error before any task runs; it is evaluated later,
//! per partition, by [`Expr::evaluate`]. Types are coerced the way pandas
//! and Polars users expect: integers meet floats as `Float64`, integers of
//! different widths as `Int64`, and `/` is true division (always
//! `Float64`). Nulls propagate through arithmetic and comparisons; `and` /
//! `or` follow SQL's three-valued logic (Kleene).

use std::fmt;
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Not, Rem, Sub};
use std::sync::Arc;

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{
    new_null_array, Array, ArrayRef, BooleanArray, Datum, Float64Array, Int64Array, PrimitiveArray,
    RecordBatch, Scalar, StringArray,
};
use arrow_schema::{DataType, Schema};

use super::DataFrameError;

/// A closure over a whole column of one partition.
type ArrayFn = Arc<dyn Fn(&ArrayRef) -> Result<ArrayRef, DataFrameError> + Send + Sync>;

/// A column expression: [`col`], [`lit`], and what operators and methods
/// build from them.
///
/// ```
/// use flotilla_dataframe::{col, lit, DataFrame};
///
/// let df = DataFrame::from_columns(
///     vec![("station", vec![1i64, 2, 1].into()), ("t", vec![20.0, 30.0, 10.0].into())],
///     2,
/// )?;
/// let f = col("t") * 9 / 5 + 32;
/// let warm = df.with_column("f", f)?.filter(col("f").gt(lit(60.0)))?;
/// let out = warm.compute()?;
/// assert_eq!(out.num_rows(), 2);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Expr(Node);

#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Node {
    Column(String),
    Literal(Literal),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Not(Box<Expr>),
    IsNull(Box<Expr>, bool),
    Cast(
        Box<Expr>,
        #[serde(with = "crate::portable::data_type_ipc")] DataType,
    ),
    /// A Rust closure: it has no portable form (see [`Expr::closure`]).
    #[serde(skip)]
    Map {
        input: Box<Expr>,
        input_type: DataType,
        output_type: DataType,
        f: ArrayFn,
    },
}

/// A constant value in an expression; made by [`lit`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Literal {
    /// A null of no particular type (it takes the other operand's type).
    Null,
    /// A boolean.
    Boolean(bool),
    /// An integer (every Rust integer literal becomes an `Int64`).
    Int64(i64),
    /// A float.
    Float64(f64),
    /// A string.
    Utf8(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem
        )
    }

    fn is_logic(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }
}

/// The column `name`.
///
/// ```
/// let e = flotilla_dataframe::col("temperature");
/// assert_eq!(e.to_string(), "col(\"temperature\")");
/// ```
pub fn col(name: impl Into<String>) -> Expr {
    Expr(Node::Column(name.into()))
}

/// A constant: a number, a bool, a string, or [`Literal::Null`].
///
/// ```
/// use flotilla_dataframe::{lit, Literal};
/// assert_eq!(lit(3).to_string(), "3");
/// assert_eq!(lit("a").to_string(), "\"a\"");
/// assert_eq!(lit(Literal::Null).to_string(), "null");
/// ```
pub fn lit(value: impl Into<Literal>) -> Expr {
    Expr(Node::Literal(value.into()))
}

macro_rules! literal_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Literal {
            fn from(v: $t) -> Literal {
                Literal::$variant(<$as>::from(v))
            }
        }
        impl From<$t> for Expr {
            fn from(v: $t) -> Expr {
                lit(v)
            }
        }
    )*};
}

literal_from!(
    i8 => Int64 as i64, i16 => Int64 as i64, i32 => Int64 as i64, i64 => Int64 as i64,
    u8 => Int64 as i64, u16 => Int64 as i64, u32 => Int64 as i64,
    f32 => Float64 as f64, f64 => Float64 as f64, bool => Boolean as bool,
    String => Utf8 as String,
);

impl From<&str> for Literal {
    fn from(v: &str) -> Literal {
        Literal::Utf8(v.to_string())
    }
}

impl Literal {
    fn data_type(&self) -> DataType {
        match self {
            Literal::Null => DataType::Null,
            Literal::Boolean(_) => DataType::Boolean,
            Literal::Int64(_) => DataType::Int64,
            Literal::Float64(_) => DataType::Float64,
            Literal::Utf8(_) => DataType::Utf8,
        }
    }

    fn to_array(&self) -> ArrayRef {
        match self {
            Literal::Null => new_null_array(&DataType::Null, 1),
            Literal::Boolean(b) => Arc::new(BooleanArray::from(vec![*b])),
            Literal::Int64(v) => Arc::new(Int64Array::from(vec![*v])),
            Literal::Float64(v) => Arc::new(Float64Array::from(vec![*v])),
            Literal::Utf8(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Boolean(b) => write!(f, "{b}"),
            Literal::Int64(v) => write!(f, "{v}"),
            Literal::Float64(v) => write!(f, "{v:?}"),
            Literal::Utf8(s) => write!(f, "{s:?}"),
        }
    }
}

/// The value of an expression on one partition: a column, or a constant
/// that stands for every row.
pub(crate) enum Evaluated {
    Array(ArrayRef),
    Scalar(ArrayRef),
}

impl Evaluated {
    /// A column of `rows` rows (a constant repeated).
    pub(crate) fn into_array(self, rows: usize) -> Result<ArrayRef, DataFrameError> {
        match self {
            Evaluated::Array(a) => Ok(a),
            Evaluated::Scalar(s) => {
                let indices = arrow_array::UInt32Array::from(vec![0u32; rows]);
                arrow_select::take::take(&s, &indices, None)
                    .map_err(|e| DataFrameError::arrow("repeating a constant", e))
            }
        }
    }

    fn array(&self) -> &ArrayRef {
        match self {
            Evaluated::Array(a) | Evaluated::Scalar(a) => a,
        }
    }

    fn map_array(
        self,
        f: impl FnOnce(&ArrayRef) -> Result<ArrayRef, DataFrameError>,
    ) -> Result<Evaluated, DataFrameError> {
        Ok(match self {
            Evaluated::Array(a) => Evaluated::Array(f(&a)?),
            Evaluated::Scalar(a) => Evaluated::Scalar(f(&a)?),
        })
    }
}

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || *t == DataType::Null
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The type both operands of `op` are cast to, and the result's type.
fn coerce(op: BinaryOp, l: &DataType, r: &DataType) -> Option<(DataType, DataType)> {
    use DataType::{Boolean, Float64, Int64, Null};
    if op.is_logic() {
        let ok = |t: &DataType| matches!(t, Boolean | Null);
        return (ok(l) && ok(r)).then_some((Boolean, Boolean));
    }
    let operand = if is_numeric(l) && is_numeric(r) {
        if op == BinaryOp::Div || l.is_floating() || r.is_floating() {
            Float64
        } else if (is_integer(l) || *l == Null) && (is_integer(r) || *r == Null) {
            Int64
        } else {
            return None;
        }
    } else if (is_string(l) || *l == Null) && (is_string(r) || *r == Null) {
        DataType::Utf8
    } else if l == r || *r == Null {
        l.clone()
    } else if *l == Null {
        r.clone()
    } else {
        return None;
    };
    if op.is_arithmetic() {
        (operand == Int64 || operand == Float64).then(|| (operand.clone(), operand))
    } else {
        Some((operand, Boolean))
    }
}

impl Expr {
    /// `self == other`.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").eq(1);
    /// assert_eq!(e.to_string(), "(col(\"a\") == 1)");
    /// ```
    pub fn eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Eq, other)
    }

    /// `self != other`.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").not_eq(1);
    /// ```
    pub fn not_eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::NotEq, other)
    }

    /// `self < other`.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").lt(1);
    /// ```
    pub fn lt(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Lt, other)
    }

    /// `self <= other`.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").lt_eq(1);
    /// ```
    pub fn lt_eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::LtEq, other)
    }

    /// `self > other`.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").gt(1);
    /// ```
    pub fn gt(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Gt, other)
    }

    /// `self >= other`.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").gt_eq(1.5);
    /// ```
    pub fn gt_eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::GtEq, other)
    }

    /// Logical and (SQL's: `false and null` is `false`). Also `a & b`.
    ///
    /// ```
    /// use flotilla_dataframe::col;
    /// let e = col("a").gt(1).and(col("b").lt(2));
    /// ```
    pub fn and(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::And, other)
    }

    /// Logical or (SQL's: `true or null` is `true`). Also `a | b`.
    ///
    /// ```
    /// use flotilla_dataframe::col;
    /// let e = col("a").gt(1).or(col("b").lt(2));
    /// ```
    pub fn or(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Or, other)
    }

    /// Whether the value is null.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").is_null();
    /// ```
    pub fn is_null(self) -> Expr {
        Expr(Node::IsNull(Box::new(self), true))
    }

    /// Whether the value is not null.
    ///
    /// ```
    /// let e = flotilla_dataframe::col("a").is_not_null();
    /// ```
    pub fn is_not_null(self) -> Expr {
        Expr(Node::IsNull(Box::new(self), false))
    }

    /// The value cast to `to` (Arrow's casts: a string that does not parse
    /// fails the computation, naming the expression).
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::DataType;
    /// let e = flotilla_dataframe::col("id").cast(DataType::Float64);
    /// ```
    pub fn cast(self, to: DataType) -> Expr {
        Expr(Node::Cast(Box::new(self), to))
    }

    /// A Rust closure applied to every non-null value (nulls stay null): the
    /// input is cast to `I` first, the result is of type `O`.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::array::types::Float64Type;
    /// use flotilla_dataframe::{col, DataFrame};
    ///
    /// let df = DataFrame::from_columns(vec![("c", vec![0.0, 100.0].into())], 1)?;
    /// let f = col("c").map::<Float64Type, Float64Type, _>(|c| c * 9.0 / 5.0 + 32.0);
    /// let out = df.with_column("f", f)?.compute()?;
    /// let f = out.column(1).as_any().downcast_ref::<flotilla_dataframe::arrow::array::Float64Array>().unwrap();
    /// assert_eq!(f.values(), &[32.0, 212.0]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn map<I, O, F>(self, f: F) -> Expr
    where
        I: ArrowPrimitiveType,
        O: ArrowPrimitiveType,
        F: Fn(I::Native) -> O::Native + Send + Sync + 'static,
    {
        let f: ArrayFn = Arc::new(move |a: &ArrayRef| {
            let input = a
                .as_any()
                .downcast_ref::<PrimitiveArray<I>>()
                .ok_or_else(|| DataFrameError::Internal("map: the input was not cast".into()))?;
            let out: PrimitiveArray<O> = input.unary(&f);
            Ok(Arc::new(out) as ArrayRef)
        });
        Expr(Node::Map {
            input: Box::new(self),
            input_type: I::DATA_TYPE,
            output_type: O::DATA_TYPE,
            f,
        })
    }

    /// A Rust closure over a whole column of one partition, which must
    /// return a column of the same length and of type `output`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{ArrayRef, Int64Array, StringArray};
    /// use flotilla_dataframe::arrow::schema::DataType;
    /// use flotilla_dataframe::{col, DataFrame};
    ///
    /// let df = DataFrame::from_columns(vec![("n", vec![1i64, 22].into())], 1)?;
    /// let text = col("n").map_array(DataType::Int64, DataType::Utf8, |a| {
    ///     let n = a.as_any().downcast_ref::<Int64Array>().unwrap();
    ///     Ok(Arc::new(n.iter().map(|v| v.map(|v| format!("#{v}"))).collect::<StringArray>()) as ArrayRef)
    /// });
    /// let out = df.with_column("label", text)?.compute()?;
    /// assert_eq!(out.num_columns(), 2);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn map_array<F>(self, input: DataType, output: DataType, f: F) -> Expr
    where
        F: Fn(&ArrayRef) -> Result<ArrayRef, DataFrameError> + Send + Sync + 'static,
    {
        Expr(Node::Map {
            input: Box::new(self),
            input_type: input,
            output_type: output,
            f: Arc::new(f),
        })
    }

    fn binary(self, op: BinaryOp, other: impl Into<Expr>) -> Expr {
        Expr(Node::Binary {
            op,
            left: Box::new(self),
            right: Box::new(other.into()),
        })
    }

    /// The first part of this expression that is a Rust closure
    /// ([`map`](Expr::map), [`map_array`](Expr::map_array)), as text, or
    /// `None`. An expression with a closure runs in-process only: a
    /// cluster worker cannot receive a closure.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::array::types::Float64Type;
    /// use flotilla_dataframe::col;
    ///
    /// assert_eq!((col("t") * 2).closure(), None);
    /// let f = col("t").map::<Float64Type, Float64Type, _>(|t| t * 2.0) + 1;
    /// assert!(f.closure().is_some());
    /// ```
    pub fn closure(&self) -> Option<String> {
        match &self.0 {
            Node::Map { .. } => Some(self.to_string()),
            Node::Binary { left, right, .. } => left.closure().or_else(|| right.closure()),
            Node::Not(e) | Node::IsNull(e, _) | Node::Cast(e, _) => e.closure(),
            Node::Column(_) | Node::Literal(_) => None,
        }
    }

    /// The columns this expression reads.
    ///
    /// ```
    /// use flotilla_dataframe::col;
    /// assert_eq!((col("a") + col("b") * 2).columns(), ["a", "b"]);
    /// ```
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_columns(&mut out);
        out
    }

    fn collect_columns(&self, out: &mut Vec<String>) {
        match &self.0 {
            Node::Column(c) => {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
            Node::Literal(_) => {}
            Node::Binary { left, right, .. } => {
                left.collect_columns(out);
                right.collect_columns(out);
            }
            Node::Not(e) | Node::IsNull(e, _) | Node::Cast(e, _) => e.collect_columns(out),
            Node::Map { input, .. } => input.collect_columns(out),
        }
    }

    /// The type of the expression's values on a frame with `schema`, or
    /// the error that evaluating it would meet (an unknown column, an
    /// operation on the wrong types).
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::{col, lit};
    ///
    /// let schema = Schema::new(vec![Field::new("n", DataType::Int32, false)]);
    /// assert_eq!((col("n") + 1).data_type(&schema)?, DataType::Int64);
    /// assert_eq!((col("n") / 2).data_type(&schema)?, DataType::Float64);
    /// assert!((col("n") + lit("x")).data_type(&schema).is_err());
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`] or [`DataFrameError::Type`].
    pub fn data_type(&self, schema: &Schema) -> Result<DataType, DataFrameError> {
        match &self.0 {
            Node::Column(c) => field_type(schema, c),
            Node::Literal(l) => Ok(l.data_type()),
            Node::Binary { op, left, right } => {
                let (l, r) = (left.data_type(schema)?, right.data_type(schema)?);
                coerce(*op, &l, &r).map(|(_, out)| out).ok_or_else(|| {
                    DataFrameError::types(
                        self.to_string(),
                        format!("cannot apply {} to {l} and {r}", op.symbol()),
                    )
                })
            }
            Node::Not(e) => match e.data_type(schema)? {
                DataType::Boolean | DataType::Null => Ok(DataType::Boolean),
                t => Err(DataFrameError::types(
                    self.to_string(),
                    format!("not needs a boolean, found {t}"),
                )),
            },
            Node::IsNull(e, _) => e.data_type(schema).map(|_| DataType::Boolean),
            Node::Cast(e, to) => {
                let from = e.data_type(schema)?;
                if arrow_cast::can_cast_types(&from, to) {
                    Ok(to.clone())
                } else {
                    Err(DataFrameError::types(
                        self.to_string(),
                        format!("cannot cast {from} to {to}"),
                    ))
                }
            }
            Node::Map {
                input,
                input_type,
                output_type,
                ..
            } => {
                let from = input.data_type(schema)?;
                if arrow_cast::can_cast_types(&from, input_type) {
                    Ok(output_type.clone())
                } else {
                    Err(DataFrameError::types(
                        self.to_string(),
                        format!("the closure takes {input_type}, and {from} cannot be cast to it"),
                    ))
                }
            }
        }
    }

    /// The expression's values on one partition.
    pub(crate) fn evaluate(&self, batch: &RecordBatch) -> Result<Evaluated, DataFrameError> {
        match &self.0 {
            Node::Column(c) => {
                let i = batch.schema().index_of(c).map_err(|_| not_found(&batch.schema(), c))?;
                Ok(Evaluated::Array(Arc::clone(batch.column(i))))
            }
            Node::Literal(l) => Ok(Evaluated::Scalar(l.to_array())),
            Node::Binary { op, left, right } => {
                let (l, r) = (left.evaluate(batch)?, right.evaluate(batch)?);
                let (lt, rt) = (l.array().data_type().clone(), r.array().data_type().clone());
                let (operand, _) = coerce(*op, &lt, &rt).ok_or_else(|| {
                    DataFrameError::types(
                        self.to_string(),
                        format!("cannot apply {} to {lt} and {rt}", op.symbol()),
                    )
                })?;
                let l = l.map_array(|a| cast(a, &operand, self))?;
                let r = r.map_array(|a| cast(a, &operand, self))?;
                self.apply(*op, l, r)
            }
            Node::Not(e) => e.evaluate(batch)?.map_array(|a| {
                let a = cast(a, &DataType::Boolean, self)?;
                let b = a.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| {
                    DataFrameError::types(self.to_string(), "not needs a boolean")
                })?;
                arrow_arith::boolean::not(b)
                    .map(|b| Arc::new(b) as ArrayRef)
                    .map_err(|e| DataFrameError::arrow(self.to_string(), e))
            }),
            Node::IsNull(e, null) => {
                let v = e.evaluate(batch)?;
                let null = *null;
                v.map_array(|a| {
                    let r = if null {
                        arrow_arith::boolean::is_null(a.as_ref())
                    } else {
                        arrow_arith::boolean::is_not_null(a.as_ref())
                    };
                    r.map(|b| Arc::new(b) as ArrayRef)
                        .map_err(|e| DataFrameError::arrow(self.to_string(), e))
                })
            }
            Node::Cast(e, to) => e.evaluate(batch)?.map_array(|a| cast(a, to, self)),
            Node::Map {
                input,
                input_type,
                output_type,
                f,
            } => input.evaluate(batch)?.map_array(|a| {
                let out = f(&cast(a, input_type, self)?)?;
                if out.len() != a.len() || out.data_type() != output_type {
                    return Err(DataFrameError::types(
                        self.to_string(),
                        format!(
                            "the closure returned {} values of type {}, expected {} of type {output_type}",
                            out.len(),
                            out.data_type(),
                            a.len()
                        ),
                    ));
                }
                Ok(out)
            }),
        }
    }

    fn apply(&self, op: BinaryOp, l: Evaluated, r: Evaluated) -> Result<Evaluated, DataFrameError> {
        let both_scalar = matches!((&l, &r), (Evaluated::Scalar(_), Evaluated::Scalar(_)));
        let datum = |v: &Evaluated| -> Box<dyn Datum> {
            match v {
                Evaluated::Array(a) => Box::new(Arc::clone(a)),
                Evaluated::Scalar(a) => Box::new(Scalar::new(Arc::clone(a))),
            }
        };
        let (ld, rd) = (datum(&l), datum(&r));
        let (ld, rd) = (ld.as_ref(), rd.as_ref());
        let err = |e| DataFrameError::arrow(self.to_string(), e);
        use arrow_arith::numeric;
        use arrow_ord::cmp;
        let out: ArrayRef = match op {
            BinaryOp::Add => numeric::add(ld, rd).map_err(err)?,
            BinaryOp::Sub => numeric::sub(ld, rd).map_err(err)?,
            BinaryOp::Mul => numeric::mul(ld, rd).map_err(err)?,
            BinaryOp::Div => numeric::div(ld, rd).map_err(err)?,
            BinaryOp::Rem => numeric::rem(ld, rd).map_err(err)?,
            BinaryOp::Eq => Arc::new(cmp::eq(ld, rd).map_err(err)?),
            BinaryOp::NotEq => Arc::new(cmp::neq(ld, rd).map_err(err)?),
            BinaryOp::Lt => Arc::new(cmp::lt(ld, rd).map_err(err)?),
            BinaryOp::LtEq => Arc::new(cmp::lt_eq(ld, rd).map_err(err)?),
            BinaryOp::Gt => Arc::new(cmp::gt(ld, rd).map_err(err)?),
            BinaryOp::GtEq => Arc::new(cmp::gt_eq(ld, rd).map_err(err)?),
            BinaryOp::And | BinaryOp::Or => {
                let rows = l.array().len().max(r.array().len());
                let l = boolean(l, rows, self)?;
                let r = boolean(r, rows, self)?;
                let b = if op == BinaryOp::And {
                    arrow_arith::boolean::and_kleene(&l, &r)
                } else {
                    arrow_arith::boolean::or_kleene(&l, &r)
                };
                Arc::new(b.map_err(err)?)
            }
        };
        Ok(if both_scalar {
            Evaluated::Scalar(out)
        } else {
            Evaluated::Array(out)
        })
    }
}

/// A boolean column of `rows` rows from either side of `and`/`or`.
fn boolean(v: Evaluated, rows: usize, e: &Expr) -> Result<BooleanArray, DataFrameError> {
    let a = v.into_array(rows)?;
    a.as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .ok_or_else(|| DataFrameError::types(e.to_string(), "and/or need booleans"))
}

fn cast(a: &ArrayRef, to: &DataType, e: &Expr) -> Result<ArrayRef, DataFrameError> {
    if a.data_type() == to {
        return Ok(Arc::clone(a));
    }
    arrow_cast::cast(a, to).map_err(|err| DataFrameError::arrow(e.to_string(), err))
}

/// The type of column `name`, or the error naming the columns there are.
pub(crate) fn field_type(schema: &Schema, name: &str) -> Result<DataType, DataFrameError> {
    schema
        .field_with_name(name)
        .map(|f| f.data_type().clone())
        .map_err(|_| not_found(schema, name))
}

pub(crate) fn not_found(schema: &Schema, name: &str) -> DataFrameError {
    DataFrameError::ColumnNotFound {
        name: name.to_string(),
        available: schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Node::Column(c) => write!(f, "col({c:?})"),
            Node::Literal(l) => write!(f, "{l}"),
            Node::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Node::Not(e) => write!(f, "not {e}"),
            Node::IsNull(e, true) => write!(f, "{e}.is_null()"),
            Node::IsNull(e, false) => write!(f, "{e}.is_not_null()"),
            Node::Cast(e, t) => write!(f, "{e}.cast({t})"),
            Node::Map { input, .. } => write!(f, "{input}.map(..)"),
        }
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({self})")
    }
}

macro_rules! binary_operator {
    ($($trait:ident $method:ident $op:ident),* $(,)?) => {$(
        impl<T: Into<Expr>> $trait<T> for Expr {
            type Output = Expr;
            fn $method(self, rhs: T) -> Expr {
                self.binary(BinaryOp::$op, rhs)
            }
        }
    )*};
}

binary_operator!(
    Add add Add, Sub sub Sub, Mul mul Mul, Div div Div, Rem rem Rem,
    BitAnd bitand And, BitOr bitor Or,
);

impl Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr(Node::Not(Box::new(self)))
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use arrow_schema::Field;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("f", DataType::Float64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow_array::Int32Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5])),
                Arc::new(StringArray::from(vec!["a", "b", "c"])),
            ],
        )
        .unwrap()
    }

    fn eval(e: Expr) -> ArrayRef {
        let b = batch();
        assert_eq!(&e.data_type(&b.schema()).unwrap(), {
            let a = e.evaluate(&b).unwrap().into_array(b.num_rows()).unwrap();
            &a.data_type().clone()
        });
        e.evaluate(&b).unwrap().into_array(b.num_rows()).unwrap()
    }

    fn floats(a: &ArrayRef) -> Vec<Option<f64>> {
        a.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .iter()
            .collect()
    }

    fn bools(a: &ArrayRef) -> Vec<Option<bool>> {
        a.as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap()
            .iter()
            .collect()
    }

    #[test]
    fn arithmetic_coerces_and_propagates_nulls() {
        assert_eq!(
            floats(&eval(col("i") + col("f"))),
            [Some(1.5), None, Some(5.5)]
        );
        let ints = eval(col("i") * 2 - 1);
        let ints: Vec<_> = ints
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ints, [Some(1), None, Some(5)]);
        assert_eq!(floats(&eval(col("i") / 2)), [Some(0.5), None, Some(1.5)]);
        assert_eq!(floats(&eval(lit(1) + lit(0.5))), [Some(1.5); 3]);
    }

    #[test]
    fn comparisons_and_logic_follow_sql() {
        assert_eq!(
            bools(&eval(col("i").gt(1))),
            [Some(false), None, Some(true)]
        );
        assert_eq!(
            bools(&eval(col("s").eq(lit("b")))),
            [Some(false), Some(true), Some(false)]
        );
        // false and null = false; true or null = true.
        assert_eq!(
            bools(&eval(col("i").gt(1) & col("f").lt(0.0))),
            [Some(false), Some(false), Some(false)]
        );
        assert_eq!(
            bools(&eval(col("i").gt(1) | col("f").gt(1.0))),
            [Some(false), Some(true), Some(true)]
        );
        assert_eq!(
            bools(&eval(!col("i").is_null())),
            [Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn type_errors_and_unknown_columns_are_found_before_evaluation() {
        let schema = batch().schema();
        let e = (col("s") + 1).data_type(&schema).unwrap_err();
        assert!(
            e.to_string().contains("cannot apply + to Utf8 and Int64"),
            "{e}"
        );
        let e = col("nope").data_type(&schema).unwrap_err();
        assert!(
            e.to_string().contains("\"nope\"") && e.to_string().contains("i, f, s"),
            "{e}"
        );
        assert!((col("i") & col("f")).data_type(&schema).is_err());
        assert!((!col("f")).data_type(&schema).is_err());
    }

    #[test]
    fn closures_map_non_null_values() {
        use arrow_array::types::{Float64Type, Int64Type};
        let e = col("i").map::<Int64Type, Float64Type, _>(|v| v as f64 * 10.0);
        assert_eq!(floats(&eval(e)), [Some(10.0), None, Some(30.0)]);
    }
}
