//! Rows to groups: a dense group id per row, and lookups of other rows.
//!
//! A [`KeyIndex`] is made for a batch's key columns ([`KeyIndex::new`]
//! picks the structure), then [`KeyIndex::assign`] gives the rows of one
//! chunk after another the id of their key's group, making groups as new
//! keys come (ids `0..n` in order of first appearance, so results are
//! deterministic). Working by chunks keeps the ids of a chunk in cache for
//! the aggregation loops that read them next, instead of writing and
//! re-reading one id per row of the whole batch. The join keeps the index of
//! its build side and [`KeyIndex::probe`]s it with the keys of other batches.
//!
//! The index is chosen by the key columns:
//!
//! * no key: one group (whole-column aggregates);
//! * one integer, date, time, timestamp or duration key: a **direct slot
//!   array** indexed by `value - min`, widened chunk by chunk to the range
//!   of the keys met (each chunk's range is taken just before the chunk is
//!   assigned, while it is in cache); once the range passes 8 slots per row
//!   of the batch (or 4 Mi slots), the slots turn into a `hashbrown` table
//!   of 64-bit key words. Floats use the table, keyed by their bits with
//!   `-0.0` made `0.0` and every NaN one NaN, so all NaNs form one group;
//! * one boolean key: two slots;
//! * one `Utf8`, `LargeUtf8`, `Binary` or `LargeBinary` key: a table of the
//!   bytes, each row's string hashed once; the distinct keys are copied to a
//!   side store that the table's equality check reads, keys of up to 16
//!   bytes packed into two words (hashed and compared as words);
//! * one dictionary key with string or binary values: each **dictionary
//!   entry** is looked up once, then rows map through a per-entry cache (a
//!   join can emit dictionary columns so that the group-by that follows
//!   never hashes a string per row);
//! * two to four keys: one single-key index per column (each with its
//!   fast path), then a table of the tuples of the columns' group ids,
//!   packed into a `u128` — cheaper than encoding rows;
//! * more keys, or a single key of another type (decimals, views, fixed
//!   size binary): rows in the `arrow-row` format, hashed and compared as
//!   bytes (the distinct rows kept in the side store).
//!
//! Nulls: [`NullKeys::Group`] gives the rows with a null key one group of
//! their own (per distinct combination, with several keys), as SQL's
//! `GROUP BY`; [`NullKeys::Skip`] leaves rows with a null in any key without
//! a group ([`NO_GROUP`]), which is what a join build wants. A probe never
//! matches a null key.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{ByteArrayType, Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, GenericByteArray};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_row::{RowConverter, SortField};
use arrow_schema::DataType;
use hashbrown::hash_table::HashTable;

use super::hash::{hash_bytes, hash_word};
use super::primitive::{is_primitive, primitive_view, with_scalars, Native};
use super::KernelError;

/// The group id of a row without a group (a skipped null key, or a probe
/// that found nothing).
pub(super) const NO_GROUP: u32 = u32::MAX;

/// A dictionary entry not looked up yet.
const UNSEEN: u32 = u32::MAX - 1;

/// The most rows one batch may have here (ids are `u32`, two values reserved).
pub(super) const MAX_ROWS: usize = (u32::MAX - 2) as usize;

/// The most slots of a direct slot array.
const MAX_SLOTS: u64 = 1 << 22;

/// Rows per chunk of a probe in the row format (bounds its buffer).
const PROBE_CHUNK: usize = 1 << 16;

/// What to do with rows whose key is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NullKeys {
    /// Null keys form groups of their own.
    Group,
    /// Rows with a null key get no group.
    Skip,
}

/// The groups of a batch's keys: made chunk by chunk, then looked up.
#[derive(Debug)]
pub(super) struct KeyIndex {
    kind: IndexKind,
    /// The first row of each group, in group order.
    first_rows: Vec<u32>,
    /// The group of null keys of a single-key index, once made.
    null_group: u32,
    /// The group of each dictionary entry of the batch being grouped (a
    /// dictionary key only), [`UNSEEN`] until its first row.
    entry_groups: Vec<u32>,
}

#[derive(Debug)]
enum IndexKind {
    One,
    /// Group of the key word `min + slot`; the range grows with the keys
    /// met, up to `limit` slots, past which the index turns into `Words`.
    Dense {
        min: u64,
        slots: Vec<u32>,
        limit: u64,
    },
    /// `(key word, group)`.
    Words(HashTable<(u64, u32)>),
    /// Group of `false` and `true`.
    Bool([u32; 2]),
    /// `(hash, group, entry in store)` of byte keys; with a converter, the
    /// bytes are `arrow-row` rows of several keys.
    Bytes {
        table: HashTable<(u64, u32, u32)>,
        store: ByteStore,
        rows: Option<RowConverter>,
    },
    /// Several keys (up to [`MAX_PARTS`]): one single-key index per column,
    /// and a table of the tuples of their group ids, packed 32 bits each.
    Composite {
        parts: Vec<KeyIndex>,
        table: HashTable<(u128, u32)>,
        /// The parts' ids of the chunk being assigned.
        part_ids: Vec<Vec<u32>>,
    },
}

/// The most keys a composite index takes (their ids fill a `u128`).
const MAX_PARTS: usize = 4;

/// Where new groups go while a chunk is assigned.
struct NewGroups<'a> {
    first_rows: &'a mut Vec<u32>,
    null_group: &'a mut u32,
    nulls: NullKeys,
}

impl NewGroups<'_> {
    /// A new group whose first row is `row`.
    #[inline]
    fn make(&mut self, row: usize) -> u32 {
        let g = self.first_rows.len() as u32;
        self.first_rows.push(row as u32);
        g
    }

    /// The group of a null key at `row` (made on first use), or none.
    #[inline]
    fn null(&mut self, row: usize) -> u32 {
        match self.nulls {
            NullKeys::Skip => NO_GROUP,
            NullKeys::Group => {
                if *self.null_group == NO_GROUP {
                    *self.null_group = self.make(row);
                }
                *self.null_group
            }
        }
    }
}

impl KeyIndex {
    /// An empty index for `keys` (columns of one length; none for one
    /// group), of the structure their types and values call for.
    pub(super) fn new(keys: &[ArrayRef]) -> Result<KeyIndex, KernelError> {
        let rows = keys.first().map_or(0, |k| k.len());
        if rows > MAX_ROWS {
            return Err(KernelError::TooManyRows {
                op: "grouping rows by key",
                rows: rows as u64,
                limit: MAX_ROWS as u64,
            });
        }
        let kind = match keys {
            [] => IndexKind::One,
            [key] => single_kind(key)?,
            _ if keys.len() <= MAX_PARTS => IndexKind::Composite {
                parts: keys
                    .iter()
                    .map(|k| KeyIndex::new(std::slice::from_ref(k)))
                    .collect::<Result<_, _>>()?,
                table: HashTable::new(),
                part_ids: Vec::new(),
            },
            _ => rows_kind(keys)?,
        };
        Ok(KeyIndex {
            kind,
            first_rows: Vec::new(),
            null_group: NO_GROUP,
            entry_groups: Vec::new(),
        })
    }

    /// The number of groups so far.
    pub(super) fn groups(&self) -> usize {
        match self.kind {
            IndexKind::One => 1,
            _ => self.first_rows.len(),
        }
    }

    /// The first row of each group (empty for one group without keys).
    pub(super) fn first_rows(&self) -> &[u32] {
        &self.first_rows
    }

    /// Replaces `ids` by the group of each row in `rows` of `keys` (the
    /// columns the index was made for), making groups for new keys.
    pub(super) fn assign(
        &mut self,
        keys: &[ArrayRef],
        rows: Range<usize>,
        nulls: NullKeys,
        ids: &mut Vec<u32>,
    ) -> Result<(), KernelError> {
        ids.clear();
        let start = rows.start;
        let len = rows.len();
        let KeyIndex {
            kind,
            first_rows,
            null_group,
            entry_groups,
        } = self;
        let mut new = NewGroups {
            first_rows,
            null_group,
            nulls,
        };
        match (kind, keys) {
            (IndexKind::One, _) => ids.resize(len, 0),
            (kind @ (IndexKind::Dense { .. } | IndexKind::Words(_)), [key]) => {
                let view = primitive_view(key.as_ref()).ok_or_else(mismatch)?;
                let valid = view.nulls.as_ref().map(|n| n.slice(start, len));
                with_scalars!(&view.values, v => assign_ints(kind, &v[rows], valid.as_ref(), start, &mut new, ids))?;
            }
            (IndexKind::Bool(slots), [key]) => {
                let key = key.as_boolean_opt().ok_or_else(mismatch)?;
                let valid = key.nulls().filter(|n| n.null_count() > 0);
                for (i, b) in key.values().slice(start, len).iter().enumerate() {
                    let row = start + i;
                    let g = if valid.is_some_and(|n| n.is_null(row)) {
                        new.null(row)
                    } else {
                        let slot = &mut slots[usize::from(b)];
                        if *slot == NO_GROUP {
                            *slot = new.make(row);
                        }
                        *slot
                    };
                    ids.push(g);
                }
            }
            (
                IndexKind::Bytes {
                    table,
                    store,
                    rows: None,
                },
                [key],
            ) => {
                let mut builder = BytesBuilder { table, store };
                if let Some(dict) = key.as_any_dictionary_opt() {
                    let values = dict.values();
                    if entry_groups.len() != values.len() {
                        *entry_groups = vec![UNSEEN; values.len()];
                    }
                    let keys = primitive_view(dict.keys()).ok_or_else(mismatch)?;
                    let key_valid = keys.nulls.as_ref().map(|n| n.slice(start, len));
                    let mut visitor = AssignDictionary {
                        builder: &mut builder,
                        keys: &keys.values,
                        key_valid: key_valid.as_ref(),
                        rows,
                        entry_groups,
                        new: &mut new,
                        ids,
                    };
                    with_byte_column(values.as_ref(), &mut visitor).ok_or_else(mismatch)?;
                } else {
                    let mut visitor = AssignBytes {
                        builder: &mut builder,
                        rows,
                        new: &mut new,
                        ids,
                    };
                    with_byte_column(key.as_ref(), &mut visitor).ok_or_else(mismatch)?;
                }
            }
            (
                IndexKind::Bytes {
                    table,
                    store,
                    rows: Some(converter),
                },
                keys,
            ) => {
                let sliced: Vec<ArrayRef> = keys.iter().map(|k| k.slice(start, len)).collect();
                let rows = convert(converter, &sliced)?;
                let skip = match nulls {
                    NullKeys::Skip => combined_nulls(&sliced),
                    NullKeys::Group => None,
                };
                let mut builder = BytesBuilder { table, store };
                for (i, r) in rows.iter().enumerate() {
                    let g = if skip.as_ref().is_some_and(|n| n.is_null(i)) {
                        NO_GROUP
                    } else {
                        builder.group(Key::of(r.data()), start + i, &mut new)
                    };
                    ids.push(g);
                }
            }
            (
                IndexKind::Composite {
                    parts,
                    table,
                    part_ids,
                },
                keys,
            ) if keys.len() == parts.len() => {
                part_ids.resize_with(parts.len(), Vec::new);
                for ((part, key), part_ids) in parts.iter_mut().zip(keys).zip(part_ids.iter_mut()) {
                    part.assign(std::slice::from_ref(key), rows.clone(), nulls, part_ids)?;
                }
                for i in 0..len {
                    let g = match pack(part_ids, i) {
                        None => NO_GROUP,
                        Some(tuple) => {
                            let h = hash_tuple(tuple);
                            match table.find(h, |e| e.0 == tuple) {
                                Some(&(_, g)) => g,
                                None => {
                                    let g = new.make(start + i);
                                    table.insert_unique(h, (tuple, g), |e| hash_tuple(e.0));
                                    g
                                }
                            }
                        }
                    };
                    ids.push(g);
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    /// The group of every row of `keys` (or [`NO_GROUP`]) into `ids`. Not
    /// generic, so that a composite index can probe its parts.
    fn probe_ids(&self, keys: &[ArrayRef], ids: &mut [u32]) -> Result<(), KernelError> {
        self.probe(keys, |i, g| ids[i] = g)
    }

    /// Calls `found(row, group)` for every row of `probe` (key columns of the
    /// same types as those the index was made for), in row order, with
    /// [`NO_GROUP`] when the key is null or has no group.
    pub(super) fn probe(
        &self,
        probe: &[ArrayRef],
        mut found: impl FnMut(usize, u32),
    ) -> Result<(), KernelError> {
        match (&self.kind, probe) {
            (IndexKind::One, _) => {
                let rows = probe.first().map_or(0, |c| c.len());
                (0..rows).for_each(|i| found(i, 0));
            }
            (IndexKind::Dense { min, slots, .. }, [key]) => {
                let view = primitive_view(key.as_ref()).ok_or_else(mismatch)?;
                with_scalars!(&view.values, v => probe_dense(v, view.nulls.as_ref(), *min, slots, &mut found));
            }
            (IndexKind::Words(table), [key]) => {
                let view = primitive_view(key.as_ref()).ok_or_else(mismatch)?;
                with_scalars!(&view.values, v => probe_words(v, view.nulls.as_ref(), table, &mut found));
            }
            (IndexKind::Bool(slots), [key]) => {
                let key = key.as_boolean_opt().ok_or_else(mismatch)?;
                let valid = key.nulls().filter(|n| n.null_count() > 0);
                for (i, b) in key.values().iter().enumerate() {
                    let ok = valid.is_none_or(|n| n.is_valid(i));
                    found(i, if ok { slots[usize::from(b)] } else { NO_GROUP });
                }
            }
            (
                IndexKind::Bytes {
                    table,
                    store,
                    rows: None,
                },
                [key],
            ) => {
                let lookup = BytesLookup { table, store };
                let dict = key.as_any_dictionary_opt();
                if let Some(dict) = dict.filter(|d| d.values().len() <= d.keys().len()) {
                    // Each dictionary entry is looked up once; rows map
                    // through the entries' groups.
                    let mut entry_group = Vec::with_capacity(dict.values().len());
                    let mut push = |_: usize, g: u32| entry_group.push(g);
                    let mut visitor = ProbeBytes {
                        lookup,
                        found: &mut push,
                    };
                    with_byte_column(dict.values().as_ref(), &mut visitor).ok_or_else(mismatch)?;
                    let keys = primitive_view(dict.keys()).ok_or_else(mismatch)?;
                    let key_nulls = keys.nulls.as_ref();
                    with_scalars!(&keys.values, k => {
                        for (i, k) in k.iter().enumerate() {
                            let g = if key_nulls.is_some_and(|n| n.is_null(i)) {
                                NO_GROUP
                            } else {
                                entry_group.get(k.as_usize()).copied().unwrap_or(NO_GROUP)
                            };
                            found(i, g);
                        }
                    });
                } else {
                    // Plain strings, or a dictionary with more entries than
                    // rows (a slice of a large one): looked up row by row.
                    let plain = match dict {
                        Some(dict) => {
                            arrow_select::take::take(dict.values().as_ref(), dict.keys(), None)
                                .map_err(KernelError::arrow("decoding dictionary keys"))?
                        }
                        None => key.clone(),
                    };
                    let mut visitor = ProbeBytes {
                        lookup,
                        found: &mut found,
                    };
                    with_byte_column(plain.as_ref(), &mut visitor).ok_or_else(mismatch)?;
                }
            }
            (
                IndexKind::Bytes {
                    table,
                    store,
                    rows: Some(converter),
                },
                keys,
            ) => {
                let lookup = BytesLookup { table, store };
                let total = keys.first().map_or(0, |k| k.len());
                for start in (0..total).step_by(PROBE_CHUNK) {
                    let len = PROBE_CHUNK.min(total - start);
                    let sliced: Vec<ArrayRef> = keys.iter().map(|k| k.slice(start, len)).collect();
                    let rows = convert(converter, &sliced)?;
                    let nulls = combined_nulls(&sliced);
                    for (i, r) in rows.iter().enumerate() {
                        let g = if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                            NO_GROUP
                        } else {
                            lookup.find(Key::of(r.data()))
                        };
                        found(start + i, g);
                    }
                }
            }
            (IndexKind::Composite { parts, table, .. }, keys) if keys.len() == parts.len() => {
                let total = keys.first().map_or(0, |k| k.len());
                for start in (0..total).step_by(PROBE_CHUNK) {
                    let len = PROBE_CHUNK.min(total - start);
                    let mut part_ids = Vec::with_capacity(parts.len());
                    for (part, key) in parts.iter().zip(keys) {
                        let mut ids = vec![NO_GROUP; len];
                        part.probe_ids(&[key.slice(start, len)], &mut ids)?;
                        part_ids.push(ids);
                    }
                    for i in 0..len {
                        let g = pack(&part_ids, i).map_or(NO_GROUP, |tuple| {
                            table
                                .find(hash_tuple(tuple), |e| e.0 == tuple)
                                .map_or(NO_GROUP, |e| e.1)
                        });
                        found(start + i, g);
                    }
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

/// The parts' ids of row `i` packed into one word; `None` if a part has
/// no group (a skipped null key, or a key a probe did not find).
#[inline]
fn pack(part_ids: &[Vec<u32>], i: usize) -> Option<u128> {
    let mut tuple = 0u128;
    for ids in part_ids {
        let id = ids[i];
        if id == NO_GROUP {
            return None;
        }
        tuple = tuple << 32 | u128::from(id);
    }
    Some(tuple)
}

#[inline]
fn hash_tuple(tuple: u128) -> u64 {
    hash_word(tuple as u64 ^ hash_word((tuple >> 64) as u64))
}

fn mismatch() -> KernelError {
    KernelError::Internal("key columns differ in type from those the index was made for".into())
}

/// Whether a column of this type can be a key.
pub(super) fn supported_key(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Dictionary(key, value) => {
            key.is_dictionary_key_type()
                && !matches!(**value, Dictionary(..))
                && supported_key(value)
        }
        Boolean | Utf8 | LargeUtf8 | Binary | LargeBinary | Utf8View | BinaryView
        | FixedSizeBinary(_) | Decimal128(..) | Decimal256(..) => true,
        other => is_primitive(other),
    }
}

fn is_byte_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
    )
}

/// The index kind of a single key column.
fn single_kind(key: &ArrayRef) -> Result<IndexKind, KernelError> {
    if is_primitive(key.data_type()) {
        if matches!(key.data_type(), DataType::Float32 | DataType::Float64) {
            return Ok(IndexKind::Words(HashTable::new()));
        }
        return Ok(IndexKind::Dense {
            min: 0,
            slots: Vec::new(),
            limit: (8 * key.len() as u64 + 256).min(MAX_SLOTS),
        });
    }
    match key.data_type() {
        DataType::Boolean => Ok(IndexKind::Bool([NO_GROUP; 2])),
        t if is_byte_type(t) => Ok(bytes_kind(None)),
        DataType::Dictionary(_, value) if is_byte_type(value) => Ok(bytes_kind(None)),
        _ => rows_kind(std::slice::from_ref(key)),
    }
}

fn bytes_kind(rows: Option<RowConverter>) -> IndexKind {
    IndexKind::Bytes {
        table: HashTable::new(),
        store: ByteStore::default(),
        rows,
    }
}

fn rows_kind(keys: &[ArrayRef]) -> Result<IndexKind, KernelError> {
    let fields = keys
        .iter()
        .map(|k| SortField::new(k.data_type().clone()))
        .collect();
    let converter =
        RowConverter::new(fields).map_err(KernelError::arrow("grouping by several keys"))?;
    Ok(bytes_kind(Some(converter)))
}

/// `keys` in the row format, floats made canonical first.
fn convert(converter: &RowConverter, keys: &[ArrayRef]) -> Result<arrow_row::Rows, KernelError> {
    let canonical: Vec<ArrayRef> = keys.iter().map(canonical_floats).collect();
    converter
        .convert_columns(&canonical)
        .map_err(KernelError::arrow("encoding keys as rows"))
}

/// Assigns a chunk of an integer (or float) key. Through the direct slot
/// array while the keys fall in it; a key outside widens it (to twice the
/// span needed, within the limit, so that widening is rare), or, past the
/// limit, turns it into a hash table, and the chunk goes on from that key.
fn assign_ints<N: Native>(
    kind: &mut IndexKind,
    values: &[N],
    validity: Option<&NullBuffer>,
    start: usize,
    new: &mut NewGroups<'_>,
    ids: &mut Vec<u32>,
) -> Result<(), KernelError> {
    let mut done = 0;
    loop {
        let rest = &values[done..];
        let rest_valid = validity.map(|n| n.slice(done, rest.len()));
        match kind {
            IndexKind::Dense { min, slots, limit } => {
                let Some(stop) = assign_dense(
                    rest,
                    rest_valid.as_ref(),
                    start + done,
                    *min,
                    slots,
                    new,
                    ids,
                ) else {
                    return Ok(());
                };
                done += stop;
                let w = i128::from(values[done].word() as i64);
                let (lo, hi) = if slots.is_empty() {
                    (w, w)
                } else {
                    let lo = i128::from(*min as i64);
                    (lo.min(w), (lo + slots.len() as i128 - 1).max(w))
                };
                let limit = i128::from(*limit);
                let needed = hi - lo + 1;
                if needed > limit {
                    let mut table = HashTable::with_capacity(new.first_rows.len());
                    for (slot, &g) in slots.iter().enumerate() {
                        if g != NO_GROUP {
                            let w = min.wrapping_add(slot as u64);
                            table.insert_unique(hash_word(w), (w, g), |e| hash_word(e.0));
                        }
                    }
                    *kind = IndexKind::Words(table);
                    continue;
                }
                // Room on the side the key came from.
                let span = (2 * needed).max(64).min(limit);
                let (new_lo, new_hi) = if slots.is_empty() || w > hi - 1 {
                    (lo, (lo + span - 1).min(i128::from(i64::MAX)))
                } else {
                    ((hi - span + 1).max(i128::from(i64::MIN)), hi)
                };
                let mut wider = vec![NO_GROUP; (new_hi - new_lo + 1) as usize];
                if !slots.is_empty() {
                    let offset = (i128::from(*min as i64) - new_lo) as usize;
                    wider[offset..offset + slots.len()].copy_from_slice(slots);
                }
                *slots = wider;
                *min = new_lo as i64 as u64;
            }
            IndexKind::Words(table) => {
                assign_words(rest, rest_valid.as_ref(), start + done, table, new, ids);
                return Ok(());
            }
            _ => return Err(mismatch()),
        }
    }
}

/// Assigns rows through the slot array, up to the first valid key outside
/// it: returns that row (of `values`), or `None` when all are assigned.
fn assign_dense<N: Native>(
    values: &[N],
    validity: Option<&NullBuffer>,
    start: usize,
    min: u64,
    slots: &mut [u32],
    new: &mut NewGroups<'_>,
    ids: &mut Vec<u32>,
) -> Option<usize> {
    ids.reserve(values.len());
    match validity {
        None => {
            for (i, &v) in values.iter().enumerate() {
                let Some(slot) = slots.get_mut(v.word().wrapping_sub(min) as usize) else {
                    return Some(i);
                };
                if *slot == NO_GROUP {
                    *slot = new.make(start + i);
                }
                ids.push(*slot);
            }
        }
        Some(valid) => {
            for (i, (&v, ok)) in values.iter().zip(valid.iter()).enumerate() {
                let g = if ok {
                    let Some(slot) = slots.get_mut(v.word().wrapping_sub(min) as usize) else {
                        return Some(i);
                    };
                    if *slot == NO_GROUP {
                        *slot = new.make(start + i);
                    }
                    *slot
                } else {
                    new.null(start + i)
                };
                ids.push(g);
            }
        }
    }
    None
}

fn assign_words<N: Native>(
    values: &[N],
    validity: Option<&NullBuffer>,
    start: usize,
    table: &mut HashTable<(u64, u32)>,
    new: &mut NewGroups<'_>,
    ids: &mut Vec<u32>,
) {
    let mut word = |new: &mut NewGroups<'_>, row: usize, v: N| {
        let w = v.word();
        let h = hash_word(w);
        // `find` then `insert_unique`: see `BytesBuilder::group`.
        if let Some(&(_, g)) = table.find(h, |e| e.0 == w) {
            return g;
        }
        let g = new.make(row);
        table.insert_unique(h, (w, g), |e| hash_word(e.0));
        g
    };
    match validity {
        None => ids.extend(
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| word(new, start + i, v)),
        ),
        Some(valid) => {
            for (i, (&v, ok)) in values.iter().zip(valid.iter()).enumerate() {
                let g = if ok {
                    word(new, start + i, v)
                } else {
                    new.null(start + i)
                };
                ids.push(g);
            }
        }
    }
}

fn probe_dense<N: Native>(
    values: &[N],
    validity: Option<&NullBuffer>,
    min: u64,
    slots: &[u32],
    found: &mut impl FnMut(usize, u32),
) {
    let lookup = |v: N| {
        let slot = v.word().wrapping_sub(min);
        if slot < slots.len() as u64 {
            slots[slot as usize]
        } else {
            NO_GROUP
        }
    };
    match validity {
        None => values
            .iter()
            .enumerate()
            .for_each(|(i, &v)| found(i, lookup(v))),
        Some(valid) => values
            .iter()
            .zip(valid.iter())
            .enumerate()
            .for_each(|(i, (&v, ok))| found(i, if ok { lookup(v) } else { NO_GROUP })),
    }
}

fn probe_words<N: Native>(
    values: &[N],
    validity: Option<&NullBuffer>,
    table: &HashTable<(u64, u32)>,
    found: &mut impl FnMut(usize, u32),
) {
    let lookup = |v: N| {
        let w = v.word();
        table
            .find(hash_word(w), |e| e.0 == w)
            .map_or(NO_GROUP, |e| e.1)
    };
    match validity {
        None => values
            .iter()
            .enumerate()
            .for_each(|(i, &v)| found(i, lookup(v))),
        Some(valid) => values
            .iter()
            .zip(valid.iter())
            .enumerate()
            .for_each(|(i, (&v, ok))| found(i, if ok { lookup(v) } else { NO_GROUP })),
    }
}

/// A byte key as the table sees it: keys of up to 16 bytes packed into two
/// words and their length (hashed and compared as three words, without a
/// call to `memcmp` or a look at the stored bytes), longer ones as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key<'a> {
    Short { lo: u64, hi: u64, len: u64 },
    Long(&'a [u8]),
}

/// `Key::Short`'s length of a long key in [`ByteStore::short`].
const LONG: u64 = u64::MAX;

impl<'a> Key<'a> {
    /// The key `bytes`.
    #[inline(always)]
    fn of(bytes: &'a [u8]) -> Key<'a> {
        Key::at(bytes, 0, bytes.len())
    }

    /// The key `data[start..end]`. A short key is read as the two words at
    /// `start` (when `data` has them; else through a copy), the bytes past
    /// its end masked off: no branch on the length, which varies row by
    /// row in a string column.
    #[inline(always)]
    fn at(data: &'a [u8], start: usize, end: usize) -> Key<'a> {
        let len = end - start;
        if len > 16 {
            return Key::Long(&data[start..end]);
        }
        let (lo, hi) = if start + 16 <= data.len() {
            (read_u64(data, start), read_u64(data, start + 8))
        } else {
            let mut copy = [0u8; 16];
            copy[..len].copy_from_slice(&data[start..end]);
            (read_u64(&copy, 0), read_u64(&copy, 8))
        };
        let mask = |n: usize| ((1u128 << (8 * n.min(8))) - 1) as u64;
        Key::Short {
            lo: lo & mask(len),
            hi: hi & mask(len.saturating_sub(8)),
            len: len as u64,
        }
    }

    #[inline(always)]
    fn hash(&self) -> u64 {
        match *self {
            Key::Short { lo, hi, len } => {
                let m = u128::from(lo ^ 0x2D35_8DCC_AA6C_78A5)
                    * u128::from(hi ^ 0x8BB8_4B93_962E_ACC9 ^ (len << 56));
                hash_word((m as u64) ^ ((m >> 64) as u64))
            }
            Key::Long(bytes) => hash_bytes(bytes),
        }
    }
}

#[inline]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The distinct keys of an [`IndexKind::Bytes`] index: packed for short
/// keys, back to back for long ones.
#[derive(Debug, Default)]
struct ByteStore {
    /// Per entry: `(lo, hi, len)` of a short key, `len == LONG` for a long one.
    short: Vec<(u64, u64, u64)>,
    /// Per entry: the range of a long key in `data` (empty for short keys).
    spans: Vec<(usize, usize)>,
    data: Vec<u8>,
    /// A direct-mapped cache in front of the table: `(hash, group, entry)`
    /// of the last key seen per slot (by the top bits of the hash), so that
    /// a column of few distinct keys rarely goes to the table at all.
    front: Vec<(u64, u32, u32)>,
}

/// Slots of [`ByteStore::front`].
const FRONT: usize = 256;

impl ByteStore {
    /// The group of `key` (of hash `h`) if the front cache has it.
    #[inline(always)]
    fn front(&self, h: u64, key: &Key<'_>) -> Option<u32> {
        let &(fh, g, e) = self.front.get((h >> 56) as usize % FRONT)?;
        (fh == h && g != NO_GROUP && self.matches(e, key)).then_some(g)
    }

    #[inline]
    fn remember(&mut self, h: u64, g: u32, e: u32) {
        if self.front.is_empty() {
            self.front = vec![(0, NO_GROUP, 0); FRONT];
        }
        self.front[(h >> 56) as usize % FRONT] = (h, g, e);
    }

    #[inline(always)]
    fn matches(&self, entry: u32, key: &Key<'_>) -> bool {
        let e = entry as usize;
        match *key {
            Key::Short { lo, hi, len } => self.short[e] == (lo, hi, len),
            Key::Long(bytes) => {
                self.short[e].2 == LONG && {
                    let (start, end) = self.spans[e];
                    &self.data[start..end] == bytes
                }
            }
        }
    }

    #[inline]
    fn push(&mut self, key: &Key<'_>) -> u32 {
        match *key {
            Key::Short { lo, hi, len } => {
                self.short.push((lo, hi, len));
                self.spans.push((0, 0));
            }
            Key::Long(bytes) => {
                let start = self.data.len();
                self.data.extend_from_slice(bytes);
                self.short.push((0, 0, LONG));
                self.spans.push((start, self.data.len()));
            }
        }
        (self.short.len() - 1) as u32
    }
}

/// A byte-key index being built.
struct BytesBuilder<'a> {
    table: &'a mut HashTable<(u64, u32, u32)>,
    store: &'a mut ByteStore,
}

impl BytesBuilder<'_> {
    /// The group of `bytes`, made (first row `row`) if new.
    #[inline(always)]
    fn group(&mut self, key: Key<'_>, row: usize, new: &mut NewGroups<'_>) -> u32 {
        let h = key.hash();
        // `find` then `insert_unique`, not `entry`: hashbrown's `entry`
        // calls the equality check through a `dyn FnMut`, `find` inlines it.
        let store = &mut *self.store;
        if let Some(g) = store.front(h, &key) {
            return g;
        }
        if let Some(&(_, g, e)) = self
            .table
            .find(h, |&(eh, _, e)| eh == h && store.matches(e, &key))
        {
            store.remember(h, g, e);
            return g;
        }
        let g = new.make(row);
        let e = store.push(&key);
        self.table.insert_unique(h, (h, g, e), |e| e.0);
        store.remember(h, g, e);
        g
    }
}

/// A byte-key index being probed.
#[derive(Debug, Clone, Copy)]
struct BytesLookup<'a> {
    table: &'a HashTable<(u64, u32, u32)>,
    store: &'a ByteStore,
}

impl BytesLookup<'_> {
    #[inline]
    fn find(&self, key: Key<'_>) -> u32 {
        let h = key.hash();
        if let Some(g) = self.store.front(h, &key) {
            return g;
        }
        self.table
            .find(h, |&(eh, _, e)| eh == h && self.store.matches(e, &key))
            .map_or(NO_GROUP, |e| e.1)
    }
}

/// Code generic over a byte column's type (`Utf8`, `LargeUtf8`, `Binary`,
/// `LargeBinary`), run by [`with_byte_column`].
trait ByteColumnVisitor {
    fn visit<T: ByteArrayType>(&mut self, column: &GenericByteArray<T>)
    where
        T::Native: AsRef<[u8]>;
}

/// Runs `visitor` on `array` as a byte column; `None` for other types.
fn with_byte_column(array: &dyn Array, visitor: &mut impl ByteColumnVisitor) -> Option<()> {
    match array.data_type() {
        DataType::Utf8 => visitor.visit(array.as_string::<i32>()),
        DataType::LargeUtf8 => visitor.visit(array.as_string::<i64>()),
        DataType::Binary => visitor.visit(array.as_binary::<i32>()),
        DataType::LargeBinary => visitor.visit(array.as_binary::<i64>()),
        _ => return None,
    }
    Some(())
}

/// Assigns the rows of a chunk of a byte column.
struct AssignBytes<'a, 'b> {
    builder: &'a mut BytesBuilder<'b>,
    rows: Range<usize>,
    new: &'a mut NewGroups<'b>,
    ids: &'a mut Vec<u32>,
}

impl ByteColumnVisitor for AssignBytes<'_, '_> {
    fn visit<T: ByteArrayType>(&mut self, column: &GenericByteArray<T>)
    where
        T::Native: AsRef<[u8]>,
    {
        let valid = column.nulls().filter(|n| n.null_count() > 0);
        let (data, offsets) = (column.value_data(), column.value_offsets());
        for row in self.rows.clone() {
            let g = if valid.is_some_and(|n| n.is_null(row)) {
                self.new.null(row)
            } else {
                let key = Key::at(data, offsets[row].as_usize(), offsets[row + 1].as_usize());
                self.builder.group(key, row, self.new)
            };
            self.ids.push(g);
        }
    }
}

/// Assigns the rows of a chunk of a dictionary column whose values are the
/// visited byte column.
struct AssignDictionary<'a, 'b> {
    builder: &'a mut BytesBuilder<'b>,
    keys: &'a super::primitive::Scalars,
    key_valid: Option<&'a NullBuffer>,
    rows: Range<usize>,
    entry_groups: &'a mut [u32],
    new: &'a mut NewGroups<'b>,
    ids: &'a mut Vec<u32>,
}

impl ByteColumnVisitor for AssignDictionary<'_, '_> {
    fn visit<T: ByteArrayType>(&mut self, values: &GenericByteArray<T>)
    where
        T::Native: AsRef<[u8]>,
    {
        let rows = self.rows.clone();
        let key_valid = self.key_valid;
        let keys = self.keys;
        with_scalars!(keys, k => {
            for (i, &key) in k[rows.clone()].iter().enumerate() {
                let g = if key_valid.is_some_and(|n| n.is_null(i)) {
                    self.new.null(rows.start + i)
                } else {
                    self.entry(values, key.as_usize(), rows.start + i)
                };
                self.ids.push(g);
            }
        });
    }
}

impl AssignDictionary<'_, '_> {
    /// The group of dictionary entry `d`, first met at `row`.
    #[inline]
    fn entry<T: ByteArrayType>(&mut self, values: &GenericByteArray<T>, d: usize, row: usize) -> u32
    where
        T::Native: AsRef<[u8]>,
    {
        match self.entry_groups.get(d) {
            Some(&g) if g != UNSEEN => g,
            Some(_) => {
                let g = if values.is_null(d) {
                    self.new.null(row)
                } else {
                    self.builder
                        .group(Key::of(values.value(d).as_ref()), row, self.new)
                };
                self.entry_groups[d] = g;
                g
            }
            // Out of the dictionary: impossible in a valid array.
            None => self.new.null(row),
        }
    }
}

/// Probes a byte column.
struct ProbeBytes<'a, F> {
    lookup: BytesLookup<'a>,
    found: &'a mut F,
}

impl<F: FnMut(usize, u32)> ByteColumnVisitor for ProbeBytes<'_, F> {
    fn visit<T: ByteArrayType>(&mut self, column: &GenericByteArray<T>)
    where
        T::Native: AsRef<[u8]>,
    {
        let valid = column.nulls().filter(|n| n.null_count() > 0);
        let (data, offsets) = (column.value_data(), column.value_offsets());
        for i in 0..column.len() {
            let g = if valid.is_some_and(|n| n.is_null(i)) {
                NO_GROUP
            } else {
                self.lookup.find(Key::at(
                    data,
                    offsets[i].as_usize(),
                    offsets[i + 1].as_usize(),
                ))
            };
            (self.found)(i, g);
        }
    }
}

/// Validity of "no key column is null", `None` when no row has a null key.
fn combined_nulls(keys: &[ArrayRef]) -> Option<NullBuffer> {
    keys.iter()
        .fold(None, |acc, k| {
            NullBuffer::union(acc.as_ref(), k.logical_nulls().as_ref())
        })
        .filter(|n| n.null_count() > 0)
}

/// Float columns with `-0.0` made `0.0` and every NaN one NaN, so that the
/// row format (which orders by bits) keys them like the single-key path.
fn canonical_floats(column: &ArrayRef) -> ArrayRef {
    match column.data_type() {
        DataType::Float64 => Arc::new(
            column
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|v| f64::from_bits(v.word())),
        ),
        DataType::Float32 => Arc::new(
            column
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|v| f32::from_bits(v.word() as u32)),
        ),
        _ => column.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Float64Array, Int64Array, StringArray};

    fn ids_of(keys: &[ArrayRef], chunk: usize, nulls: NullKeys) -> (Vec<u32>, Vec<u32>) {
        let mut index = KeyIndex::new(keys).unwrap();
        let rows = keys.first().map_or(0, |k| k.len());
        let mut all = Vec::new();
        let mut ids = Vec::new();
        for start in (0..rows).step_by(chunk) {
            index
                .assign(keys, start..(start + chunk).min(rows), nulls, &mut ids)
                .unwrap();
            all.extend_from_slice(&ids);
        }
        (all, index.first_rows().to_vec())
    }

    #[test]
    fn every_kind_numbers_groups_by_first_appearance_across_chunks() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(5),
            None,
            Some(7),
            Some(5),
            None,
            Some(9),
        ]));
        let spread: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(5 << 40),
            None,
            Some(-7),
            Some(5 << 40),
            None,
            Some(9),
        ]));
        let strings: ArrayRef = Arc::new(StringArray::from(vec![
            Some("x"),
            None,
            Some("y"),
            Some("x"),
            None,
            Some(""),
        ]));
        let dict: ArrayRef = Arc::new(
            vec![Some("x"), None, Some("y"), Some("x"), None, Some("")]
                .into_iter()
                .collect::<arrow_array::DictionaryArray<arrow_array::types::Int8Type>>(),
        );
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            None,
            Some(false),
            Some(true),
            None,
            Some(false),
        ]));
        let decimals: ArrayRef = Arc::new(
            arrow_array::Decimal128Array::from(vec![
                Some(5),
                None,
                Some(7),
                Some(5),
                None,
                Some(9),
            ])
            .with_precision_and_scale(10, 2)
            .unwrap(),
        );
        for key in [ints, spread, strings, dict, decimals] {
            for chunk in [1, 2, 4, 100] {
                let (ids, first) = ids_of(std::slice::from_ref(&key), chunk, NullKeys::Group);
                assert_eq!(ids, [0, 1, 2, 0, 1, 3], "{:?} by {chunk}", key.data_type());
                assert_eq!(first, [0, 1, 2, 5]);
                let (ids, _) = ids_of(std::slice::from_ref(&key), chunk, NullKeys::Skip);
                assert_eq!(ids, [0, NO_GROUP, 1, 0, NO_GROUP, 2]);
            }
        }
        let (ids, _) = ids_of(&[bools], 4, NullKeys::Group);
        assert_eq!(ids, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn dense_slots_widen_then_turn_into_a_table() {
        let kind_after = |values: Vec<i64>, chunk: usize| {
            let key: ArrayRef = Arc::new(Int64Array::from(values));
            let keys = std::slice::from_ref(&key);
            let mut index = KeyIndex::new(keys).unwrap();
            let (mut all, mut ids) = (Vec::new(), Vec::new());
            for start in (0..key.len()).step_by(chunk) {
                index
                    .assign(
                        keys,
                        start..(start + chunk).min(key.len()),
                        NullKeys::Group,
                        &mut ids,
                    )
                    .unwrap();
                all.extend_from_slice(&ids);
            }
            (index.kind, all)
        };
        // Widened downwards and upwards, keeping the groups.
        let (kind, ids) = kind_after(vec![5, 6, -3, 5, 100, -3], 2);
        assert!(
            matches!(kind, IndexKind::Dense { min, ref slots, .. } if min as i64 <= -3 && min as i64 + slots.len() as i64 > 100)
        );
        assert_eq!(ids, [0, 1, 2, 0, 3, 2]);
        // Past the limit (8 slots per row + 256): a table, same groups.
        let (kind, ids) = kind_after(vec![1, 2, 1, 1 << 40, 2, 1 << 40], 2);
        assert!(matches!(kind, IndexKind::Words(_)));
        assert_eq!(ids, [0, 1, 0, 2, 1, 2]);
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0]));
        assert!(matches!(
            KeyIndex::new(&[floats]).unwrap().kind,
            IndexKind::Words(_)
        ));
    }

    #[test]
    fn keys_are_the_same_wherever_the_bytes_sit_and_differ_when_the_bytes_do() {
        // Every string of length 0..=17 over {a, b, NUL}, up to length 3,
        // then a few longer ones.
        let mut strings: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|s| [b'a', b'b', 0].map(|c| [s.clone(), vec![c]].concat()))
                .collect();
            strings.extend(last.iter().cloned());
        }
        for len in 4..=17 {
            strings.push((0..len).map(|i| b'a' + (i % 3) as u8).collect());
            strings.push(
                (0..len)
                    .map(|i| if i + 1 == len { 0 } else { b'a' })
                    .collect(),
            );
        }
        let mut seen = std::collections::HashMap::new();
        for s in &strings {
            // Alone (read through a copy), and inside a longer buffer.
            let padded = [b"xy".as_slice(), s, b"zzzzzzzzzzzzzzzzzz"].concat();
            let alone = Key::of(s);
            assert_eq!(alone, Key::at(&padded, 2, 2 + s.len()), "{s:?}");
            let key = format!("{alone:?}");
            assert_eq!(
                seen.insert(key, s.clone()).unwrap_or_else(|| s.clone()),
                *s,
                "two strings, one key"
            );
        }
    }

    #[test]
    fn probes_find_groups_and_never_null_keys() {
        let build: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("b")]));
        let mut index = KeyIndex::new(std::slice::from_ref(&build)).unwrap();
        let mut ids = Vec::new();
        index
            .assign(std::slice::from_ref(&build), 0..3, NullKeys::Skip, &mut ids)
            .unwrap();
        let strings = vec![Some("b"), None, Some("c"), Some("a")];
        let plain: ArrayRef = Arc::new(StringArray::from(strings.clone()));
        let dict: arrow_array::DictionaryArray<arrow_array::types::Int32Type> =
            strings.into_iter().collect();
        let want = [(0, 1), (1, NO_GROUP), (2, NO_GROUP), (3, 0)];
        // Plain, dictionary, and a dictionary slice with more entries than rows.
        for (probe, from) in [
            (plain, 0),
            (Arc::new(dict.clone()) as ArrayRef, 0),
            (Arc::new(dict.slice(2, 2)), 2),
        ] {
            let mut found = Vec::new();
            index
                .probe(&[probe], |i, g| found.push((i + from, g)))
                .unwrap();
            assert_eq!(found, want[from..]);
        }
    }
}
