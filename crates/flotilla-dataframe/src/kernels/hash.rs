//! Fixed hashes of key values: the same in every task, every process and
//! every run, so that a key always lands in the same partition.
//!
//! A value hashes by what it is, not by how it is stored: an integer by its
//! value widened to 64 bits (so `Int32` 7 and `Int64` 7 agree), a float by
//! its canonical bits (`-0.0` as `0.0`, one NaN), a string by its bytes
//! whether it sits in a `Utf8`, a `LargeUtf8` or the values of a
//! dictionary. Words go through a folded 128-bit multiply; byte strings
//! through flotilla's [`KeyHasher`]. Rows of several keys combine the
//! columns' hashes in order.
//!
//! Hash tables inside one kernel and the partitioner use different final
//! mixes, so that rows sent to one partition do not all fall in the same
//! corner of the reducer's tables.

use std::hash::Hasher;

use arrow_array::cast::AsArray;
use arrow_array::types::ByteArrayType;
use arrow_array::{Array, ArrayRef, GenericByteArray};
use arrow_buffer::ArrowNativeType;
use arrow_row::{RowConverter, SortField};
use arrow_schema::DataType;

use super::primitive::{primitive_view, with_scalars, Native};
use super::KernelError;
use flotilla_data::hash::KeyHasher;

/// The hash of a null key.
pub(super) const NULL_HASH: u64 = 0x6A09_E667_F3BC_C908;

const WORD_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const WORD_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// The hash of a 64-bit key word (folded multiply).
#[inline]
pub(super) fn hash_word(word: u64) -> u64 {
    let m = u128::from(word ^ WORD_SEED) * u128::from(WORD_MUL);
    (m as u64) ^ ((m >> 64) as u64)
}

/// The hash of a byte string.
#[inline]
pub(super) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = KeyHasher::default();
    h.write(bytes);
    h.finish()
}

/// Combines the hash so far of a row's first keys with the next key's.
#[inline]
fn combine(acc: u64, next: u64) -> u64 {
    hash_word(acc.rotate_left(23) ^ next)
}

/// The partition, in `0..partitions`, of a row hash: flotilla's one
/// partition of a hash ([`flotilla_data::hash::partition_of_hash`]).
pub(super) use flotilla_data::hash::partition_of_hash as partition_of;

/// Whether [`hash_rows`] (and so hash partitioning) takes a key of this type.
pub(super) fn hashable(data_type: &DataType) -> bool {
    super::grouping::supported_key(data_type)
}

/// One hash per row of the key columns (all of the same length).
pub(super) fn hash_rows(columns: &[ArrayRef], rows: usize) -> Result<Vec<u64>, KernelError> {
    let mut out = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let hashes = hash_column(column.as_ref())?;
        if i == 0 {
            out = hashes;
        } else {
            for (acc, h) in out.iter_mut().zip(hashes) {
                *acc = combine(*acc, h);
            }
        }
    }
    if columns.is_empty() {
        out = vec![NULL_HASH; rows];
    }
    Ok(out)
}

/// The hash of every value of one column, nulls as [`NULL_HASH`].
pub(super) fn hash_column(array: &dyn Array) -> Result<Vec<u64>, KernelError> {
    if let Some(view) = primitive_view(array) {
        let mut out: Vec<u64> =
            with_scalars!(&view.values, v => v.iter().map(|x| hash_word(x.word())).collect());
        blank_nulls(&mut out, array);
        return Ok(out);
    }
    let mut out = match array.data_type() {
        DataType::Boolean => array
            .as_boolean()
            .values()
            .iter()
            .map(|b| hash_word(u64::from(b)))
            .collect(),
        DataType::Utf8 => hash_byte_values(array.as_string::<i32>()),
        DataType::LargeUtf8 => hash_byte_values(array.as_string::<i64>()),
        DataType::Binary => hash_byte_values(array.as_binary::<i32>()),
        DataType::LargeBinary => hash_byte_values(array.as_binary::<i64>()),
        DataType::Dictionary(_, _) => {
            let dict = array
                .as_any_dictionary_opt()
                .ok_or_else(|| internal("dictionary column without dictionary"))?;
            if dict.values().len() > dict.keys().len() {
                // More entries than rows (a slice of a large dictionary):
                // hash the rows' values, not every entry.
                let plain = arrow_select::take::take(dict.values().as_ref(), dict.keys(), None)
                    .map_err(KernelError::arrow("decoding dictionary keys"))?;
                return hash_column(plain.as_ref());
            }
            let value_hashes = hash_column(dict.values().as_ref())?;
            let keys = primitive_view(dict.keys())
                .ok_or_else(|| internal("dictionary keys are not integers"))?;
            with_scalars!(&keys.values, k => k
                .iter()
                .map(|&key| value_hashes.get(key.as_usize()).copied().unwrap_or(NULL_HASH))
                .collect())
        }
        other => {
            // Anything else the row format can encode: hash the encoding.
            let converter = RowConverter::new(vec![SortField::new(other.clone())])
                .map_err(KernelError::arrow("hashing keys"))?;
            let rows = converter
                .convert_columns(&[arrow_array::make_array(array.to_data())])
                .map_err(KernelError::arrow("hashing keys"))?;
            rows.iter().map(|r| hash_bytes(r.data())).collect()
        }
    };
    blank_nulls(&mut out, array);
    Ok(out)
}

fn hash_byte_values<T: ByteArrayType>(array: &GenericByteArray<T>) -> Vec<u64>
where
    T::Native: AsRef<[u8]>,
{
    (0..array.len())
        .map(|i| hash_bytes(array.value(i).as_ref()))
        .collect()
}

/// Sets the hash of null rows (including null dictionary values) to [`NULL_HASH`].
fn blank_nulls(hashes: &mut [u64], array: &dyn Array) {
    if let Some(nulls) = array.logical_nulls() {
        if nulls.null_count() > 0 {
            for (h, valid) in hashes.iter_mut().zip(nulls.iter()) {
                if !valid {
                    *h = NULL_HASH;
                }
            }
        }
    }
}

fn internal(what: &str) -> KernelError {
    KernelError::Internal(format!("hashing keys: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn same_value_same_hash_whatever_the_storage() {
        let a = hash_column(&Int32Array::from(vec![7, -1])).unwrap();
        let b = hash_column(&Int64Array::from(vec![7, -1])).unwrap();
        assert_eq!(a, b);
        let plain = hash_column(&StringArray::from(vec!["x", "yy", "x"])).unwrap();
        let dict: DictionaryArray<Int32Type> = vec!["x", "yy", "x"].into_iter().collect();
        assert_eq!(plain, hash_column(&dict).unwrap());
        // A slice with more dictionary entries than rows.
        assert_eq!(plain[1..2], hash_column(&dict.slice(1, 1)).unwrap());
        let f = hash_column(&Float64Array::from(vec![0.0, -0.0, f64::NAN, -f64::NAN])).unwrap();
        assert_eq!(f[0], f[1]);
        assert_eq!(f[2], f[3]);
    }

    #[test]
    fn nulls_hash_alike_and_rows_combine_in_order() {
        let h = hash_column(&Int64Array::from(vec![None, Some(1), None])).unwrap();
        assert_eq!(h[0], NULL_HASH);
        assert_eq!(h[2], NULL_HASH);
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![2, 1]));
        let rows = hash_rows(&[a, b], 2).unwrap();
        assert_ne!(rows[0], rows[1]);
    }

    #[test]
    fn partitions_cover_the_range() {
        let mut seen = [false; 7];
        for k in 0..1000u64 {
            seen[partition_of(hash_word(k), 7)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
