//! Joins of two frames: broadcast of a small side, or a hash shuffle of
//! both.
//!
//! A **broadcast** join builds one hash table ([`JoinTable`]) from the
//! whole right side, in one task, and every left partition probes it in
//! the task that reads the partition — the probe is fused into whatever
//! consumes the joined partition (a filter, a group-by's partial), so the
//! large side is read once and never shuffled. It is the plan when the
//! right side is small: dask's choice for a frame of one partition, and
//! flotilla's default for one too.
//!
//! A **shuffled** join hash-partitions both sides by key into `n` pieces
//! each; task `j` builds a table from the right's `j`-th pieces and probes
//! it with the left's. Equal keys meet in the same task whatever the
//! sizes of the sides.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use flotilla_local::Delayed;

use super::error::settle;
use super::frame::{key_group, run_pipeline, Load, Partition, Pieces, Stage};
use super::kernels::{dictionary_join_schema, hash_partition, join_schema, JoinKind, JoinTable};
use super::portable::{FramePlan, JoinSpec};
use super::{DataFrame, DataFrameError};
use flotilla_data::shuffle::pieces_for;

/// How two frames are joined; see [`DataFrame::join_with`].
///
/// ```
/// use flotilla_dataframe::{kernels::JoinKind, JoinOptions, JoinStrategy};
/// let options = JoinOptions::new(JoinKind::Left).strategy(JoinStrategy::Shuffle { partitions: 8 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOptions {
    kind: JoinKind,
    strategy: Option<JoinStrategy>,
    dictionary: bool,
}

/// Where the rows of a join meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStrategy {
    /// One table of the whole right side, probed by every left partition.
    Broadcast,
    /// Both sides hash-partitioned by key into `partitions` pieces.
    Shuffle {
        /// How many pieces (and output partitions).
        partitions: usize,
    },
}

impl JoinOptions {
    /// A join of `kind`; the strategy is chosen from the sides (broadcast
    /// when the right side has one partition, a shuffle into as many
    /// partitions as the larger side has otherwise).
    ///
    /// ```
    /// let o = flotilla_dataframe::JoinOptions::new(flotilla_dataframe::kernels::JoinKind::Inner);
    /// ```
    pub fn new(kind: JoinKind) -> JoinOptions {
        JoinOptions {
            kind,
            strategy: None,
            dictionary: false,
        }
    }

    /// Joins with `strategy` whatever the sides.
    ///
    /// ```
    /// use flotilla_dataframe::{kernels::JoinKind, JoinOptions, JoinStrategy};
    /// let o = JoinOptions::new(JoinKind::Inner).strategy(JoinStrategy::Broadcast);
    /// ```
    pub fn strategy(mut self, strategy: JoinStrategy) -> JoinOptions {
        self.strategy = Some(strategy);
        self
    }

    /// Whether a broadcast join gives the right side's string columns as
    /// dictionaries (`Dictionary(Int32, Utf8)`) pointing into the small
    /// side instead of copying every string into every row: much cheaper
    /// when a few distinct strings (genres, countries) are joined onto
    /// millions of rows, and grouped on afterwards.
    ///
    /// ```
    /// use flotilla_dataframe::{kernels::JoinKind, JoinOptions};
    /// let o = JoinOptions::new(JoinKind::Inner).dictionary_strings(true);
    /// ```
    pub fn dictionary_strings(mut self, yes: bool) -> JoinOptions {
        self.dictionary = yes;
        self
    }
}

impl DataFrame {
    /// The rows of `self` and `right` whose `left_on` and `right_on` key
    /// columns are equal (null keys never match): `self`'s columns, then
    /// `right`'s other columns (a name both sides use gets a `_right`
    /// suffix). Broadcasts `right` when it has one partition, shuffles
    /// both sides otherwise; see [`join_with`](DataFrame::join_with).
    ///
    /// ```
    /// use flotilla_dataframe::{kernels::JoinKind, DataFrame};
    ///
    /// let ratings = DataFrame::from_columns(
    ///     vec![("item", vec![1i64, 2, 1, 3].into()), ("rating", vec![5i64, 3, 4, 1].into())], 2)?;
    /// let items = DataFrame::from_columns(
    ///     vec![("item", vec![1i64, 2].into()), ("genre", vec!["Drama", "Comedy"].into())], 1)?;
    /// let joined = ratings.join(&items, &["item"], &["item"], JoinKind::Inner)?;
    /// assert_eq!(joined.column_names(), ["item", "rating", "genre"]);
    /// assert_eq!(joined.count().compute()?, 3);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An unknown key column, key lists of different lengths, or key
    /// columns of different types (naming both) — before any work.
    pub fn join(
        &self,
        right: &DataFrame,
        left_on: &[&str],
        right_on: &[&str],
        kind: JoinKind,
    ) -> Result<DataFrame, DataFrameError> {
        self.join_with(right, left_on, right_on, JoinOptions::new(kind))
    }

    /// [`join`](DataFrame::join) with a chosen strategy and output form.
    ///
    /// ```
    /// use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions, JoinStrategy};
    ///
    /// let left = DataFrame::from_columns(vec![("k", (0..100i64).collect::<Vec<_>>().into())], 4)?;
    /// let right = DataFrame::from_columns(vec![("k", (50..150i64).collect::<Vec<_>>().into())], 3)?;
    /// let options = JoinOptions::new(JoinKind::Inner).strategy(JoinStrategy::Shuffle { partitions: 5 });
    /// let joined = left.join_with(&right, &["k"], &["k"], options)?;
    /// assert_eq!(joined.num_partitions(), 5);
    /// assert_eq!(joined.count().compute()?, 50);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`join`](DataFrame::join); also [`DataFrameError::Invalid`] for a
    /// shuffle into zero partitions.
    pub fn join_with(
        &self,
        right: &DataFrame,
        left_on: &[&str],
        right_on: &[&str],
        options: JoinOptions,
    ) -> Result<DataFrame, DataFrameError> {
        let strategy = options.strategy.unwrap_or(if right.num_partitions() == 1 {
            JoinStrategy::Broadcast
        } else {
            JoinStrategy::Shuffle {
                partitions: self.num_partitions().max(right.num_partitions()),
            }
        });
        let dictionary = options.dictionary && strategy == JoinStrategy::Broadcast;
        let schema = if dictionary {
            dictionary_join_schema(&self.schema, &right.schema, left_on, right_on, options.kind)?
        } else {
            join_schema(&self.schema, &right.schema, left_on, right_on, options.kind)?
        };
        let plan = JoinSpec {
            schema,
            left_schema: self.schema(),
            right_schema: right.schema(),
            left_on: left_on.iter().map(|s| s.to_string()).collect(),
            right_on: right_on.iter().map(|s| s.to_string()).collect(),
            kind: options.kind,
            dictionary,
        };
        let portable = match (&self.portable, &right.portable) {
            (Ok(l), Ok(r)) => Ok(Arc::new(FramePlan::Join {
                left: Arc::clone(l),
                right: Arc::clone(r),
                join: plan.clone(),
                strategy,
            })),
            (Err(e), _) | (_, Err(e)) => Err(Arc::clone(e)),
        };
        let mut out = match strategy {
            JoinStrategy::Broadcast => self.broadcast_join(right, plan),
            JoinStrategy::Shuffle { partitions: 0 } => {
                return Err(DataFrameError::Invalid(
                    "a shuffled join needs at least one partition".into(),
                ))
            }
            JoinStrategy::Shuffle { partitions } => self.shuffle_join(right, plan, partitions),
        };
        out.portable = portable;
        Ok(out)
    }

    fn broadcast_join(&self, right: &DataFrame, plan: JoinSpec) -> DataFrame {
        let right_schema = right.schema();
        let right_on = plan.right_on.clone();
        let parts = right.materialized("join-build-input");
        let table = Delayed::gather(&parts, move |ps: &[&Partition]| {
            settle((|| {
                let batches: Vec<RecordBatch> =
                    ps.iter().map(|p| p.load()).collect::<Result<_, _>>()?;
                let on: Vec<&str> = right_on.iter().map(String::as_str).collect();
                Ok(Arc::new(JoinTable::build_from(
                    &right_schema,
                    &batches,
                    &on,
                )?))
            })())
        })
        .named_op(key_group(&format!("{}|join-build", right.label)));
        let stages: Arc<[Stage]> = self.stages.clone().into();
        let plan = Arc::new(plan);
        let key = key_group(&format!("{}|join", self.label));
        let inputs = self
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let stages = Arc::clone(&stages);
                let plan = Arc::clone(&plan);
                // The probe runs in the task that consumes the partition.
                input
                    .zip_with(
                        &table,
                        move |p: &Partition, table: &TableResult| match table {
                            Ok(table) => {
                                let (p, stages, plan, table) = (
                                    p.clone(),
                                    Arc::clone(&stages),
                                    Arc::clone(&plan),
                                    Arc::clone(table),
                                );
                                let load: Load = Arc::new(move || {
                                    plan.probe(&table, &run_pipeline(&p, &stages)?)
                                });
                                Partition::Load(load)
                            }
                            Err(e) => Partition::Failed(e.clone()),
                        },
                    )
                    .named_op(key.sibling(i as u64))
            })
            .collect();
        let mut out = DataFrame::new(
            Arc::clone(&plan.schema),
            inputs,
            &format!("{}|join", self.label),
        );
        out.settings = self.settings.clone();
        out
    }

    fn shuffle_join(&self, right: &DataFrame, plan: JoinSpec, n: usize) -> DataFrame {
        let pieces = |frame: &DataFrame, on: &[String], side: &str| {
            let on = on.to_vec();
            frame.partition_pieces(&format!("join-{side}-shuffle"), move |b| {
                let on: Vec<&str> = on.iter().map(String::as_str).collect();
                Ok(hash_partition(&b, &on, n)?)
            })
        };
        let left = pieces(self, &plan.left_on, "left");
        let right_pieces = pieces(right, &plan.right_on, "right");
        let (left_schema, right_schema) = (self.schema(), right.schema());
        let plan = Arc::new(plan);
        let key = key_group(&format!("{}|join", self.label));
        let inputs = (0..n)
            .map(|j| {
                let (ls, rs) = (Arc::clone(&left_schema), Arc::clone(&right_schema));
                let plan = Arc::clone(&plan);
                let left_j = gather_piece(&left, j, ls);
                let right_j = gather_piece(&right_pieces, j, Arc::clone(&rs));
                left_j
                    .zip_with(&right_j, move |l: &PieceResult, r: &PieceResult| {
                        let joined = (|| {
                            let (l, r) = (
                                l.as_ref().map_err(Clone::clone)?,
                                r.as_ref().map_err(Clone::clone)?,
                            );
                            let table = plan.table(std::slice::from_ref(r))?;
                            plan.probe(&table, l)
                        })();
                        Partition::from_result(joined)
                    })
                    .named_op(key.sibling(j as u64))
            })
            .collect();
        let mut out = DataFrame::new(
            Arc::clone(&plan.schema),
            inputs,
            &format!("{}|join", self.label),
        );
        out.settings = self.settings.clone();
        out
    }
}

type TableResult = Result<Arc<JoinTable>, DataFrameError>;
type PieceResult = Result<RecordBatch, DataFrameError>;

/// The `j`-th pieces of a shuffle, concatenated.
fn gather_piece(pieces: &[Delayed<Pieces>], j: usize, schema: SchemaRef) -> Delayed<PieceResult> {
    Delayed::gather(pieces, move |all: &[&Pieces]| {
        arrow_select::concat::concat_batches(&schema, &pieces_for(all, j)?)
            .map_err(|e| DataFrameError::arrow("gathering a shuffle piece", e))
    })
}
