//! [`hash_partition`]: split a batch by the hash of its key columns, the
//! map side of a shuffle.
//!
//! Fixed-width columns are split in one pass (each value pushed to its
//! partition's buffer); other columns through one `take` per partition.

use arrow_array::{make_array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::DataType;

use super::grouping::MAX_ROWS;
use super::hash::{hash_rows, hashable, partition_of};
use super::primitive::{primitive_view, with_scalars, Native};
use super::KernelError;

/// Rows hashed at a time.
const HASH_CHUNK: usize = 1 << 14;

/// Splits `batch` into `partitions` batches by the hash of the `keys`
/// columns: row `i` goes to partition `h(key_i)` mapped onto
/// `0..partitions`.
///
/// The hash is fixed (not seeded per process), so the same key goes to the
/// same partition in every batch, task, process and run; and it hashes
/// values, not their storage: an `Int32` and an `Int64` key of equal value,
/// or a string in a `Utf8`, a `LargeUtf8` or a dictionary, land together;
/// floats hash with `-0.0 = 0.0` and one NaN; all null keys land together.
/// Rows keep their order within a partition; every partition is returned,
/// empty ones included, with the batch's schema.
///
/// # Errors
///
/// [`KernelError::ZeroPartitions`], [`KernelError::NoKeys`],
/// [`KernelError::UnknownColumn`], [`KernelError::UnsupportedKeyType`].
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::hash_partition;
///
/// let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3, 1, 2, 3]))])?;
/// let parts = hash_partition(&batch, &["k"], 4)?;
/// assert_eq!(parts.len(), 4);
/// assert_eq!(parts.iter().map(|p| p.num_rows()).sum::<usize>(), 6);
/// // The same key lands in the same partition, every time.
/// assert_eq!(hash_partition(&batch, &["k"], 4)?, parts);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hash_partition(
    batch: &RecordBatch,
    keys: &[&str],
    partitions: usize,
) -> Result<Vec<RecordBatch>, KernelError> {
    if partitions == 0 {
        return Err(KernelError::ZeroPartitions);
    }
    if keys.is_empty() {
        return Err(KernelError::NoKeys {
            op: "hash partitioning",
        });
    }
    let schema = batch.schema_ref();
    let columns = keys
        .iter()
        .map(|&key| {
            let index = schema
                .index_of(key)
                .map_err(|_| KernelError::unknown(key, "partition key", schema))?;
            let column = batch.column(index);
            if !hashable(column.data_type()) {
                return Err(KernelError::UnsupportedKeyType {
                    column: key.to_owned(),
                    data_type: column.data_type().clone(),
                });
            }
            Ok(column.clone())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows = batch.num_rows();
    if partitions == 1 {
        return Ok(vec![batch.clone()]);
    }
    if rows > MAX_ROWS {
        return Err(KernelError::TooManyRows {
            op: "hash partitioning",
            rows: rows as u64,
            limit: MAX_ROWS as u64,
        });
    }
    // Hashed by chunks: only the partition of each row is kept.
    let mut targets: Vec<u32> = Vec::with_capacity(rows);
    for start in (0..rows).step_by(HASH_CHUNK) {
        let len = HASH_CHUNK.min(rows - start);
        let chunk: Vec<ArrayRef> = columns.iter().map(|c| c.slice(start, len)).collect();
        let hashes = hash_rows(&chunk, len)?;
        targets.extend(hashes.iter().map(|&h| partition_of(h, partitions) as u32));
    }
    let mut counts = vec![0usize; partitions];
    for &t in &targets {
        counts[t as usize] += 1;
    }
    // Row numbers per partition, made only if a column needs `take`.
    let mut rows_of: Option<Vec<UInt32Array>> = None;
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(batch.num_columns()); partitions];
    for column in batch.columns() {
        let pieces = match primitive_view(column.as_ref()) {
            // One pass over the column, each value to its partition.
            Some(view) => {
                with_scalars!(&view.values, v => scatter(v, view.nulls.as_ref(), &targets, &counts, column.data_type())?)
            }
            None => {
                let rows_of = rows_of.get_or_insert_with(|| {
                    let mut rows: Vec<Vec<u32>> =
                        counts.iter().map(|&c| Vec::with_capacity(c)).collect();
                    for (row, &t) in targets.iter().enumerate() {
                        rows[t as usize].push(row as u32);
                    }
                    rows.into_iter().map(UInt32Array::from).collect()
                });
                rows_of
                    .iter()
                    .map(|rows| {
                        arrow_select::take::take(column.as_ref(), rows, None)
                            .map_err(KernelError::arrow("taking a partition's rows"))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        for (part, piece) in parts.iter_mut().zip(pieces) {
            part.push(piece);
        }
    }
    parts
        .into_iter()
        .zip(counts)
        .map(|(columns, rows)| {
            RecordBatch::try_new_with_options(
                batch.schema(),
                columns,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )
            .map_err(KernelError::arrow("assembling a partition"))
        })
        .collect()
}

/// The values (and validity) of a fixed-width column, split by `targets`
/// into columns of `data_type`, in one pass.
fn scatter<N: Native>(
    values: &[N],
    nulls: Option<&NullBuffer>,
    targets: &[u32],
    counts: &[usize],
    data_type: &DataType,
) -> Result<Vec<ArrayRef>, KernelError> {
    let mut outs: Vec<Vec<N>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    for (&v, &t) in values.iter().zip(targets) {
        outs[t as usize].push(v);
    }
    let mut valid: Option<Vec<BooleanBufferBuilder>> = nulls.map(|nulls| {
        let mut valid: Vec<BooleanBufferBuilder> = counts
            .iter()
            .map(|&c| BooleanBufferBuilder::new(c))
            .collect();
        for (ok, &t) in nulls.iter().zip(targets) {
            valid[t as usize].append(ok);
        }
        valid
    });
    outs.into_iter()
        .enumerate()
        .map(|(p, out)| {
            let nulls = valid.as_mut().map(|v| NullBuffer::new(v[p].finish()));
            let data = ArrayData::builder(data_type.clone())
                .len(out.len())
                .add_buffer(Buffer::from_vec(out))
                .nulls(nulls)
                .build()
                .map_err(KernelError::arrow("building a partition's column"))?;
            Ok(make_array(data))
        })
        .collect()
}
