//! A partition as a checkpoint keeps it ([`DataFrame::checkpoint`]): the
//! Arrow IPC stream the cluster sends partitions in, as one byte string.
//!
//! [`DataFrame::checkpoint`]: crate::DataFrame::checkpoint

use std::fmt;

use arrow_array::RecordBatch;
use serde::de::Visitor;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::portable::{decode_batch, encode_batch};

/// One partition's rows, encoded as Arrow IPC when kept.
#[derive(Clone)]
pub(crate) struct KeptBatch(pub(crate) RecordBatch);

impl Serialize for KeptBatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = encode_batch(&self.0).map_err(S::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for KeptBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BatchVisitor)
    }
}

struct BatchVisitor;

impl Visitor<'_> for BatchVisitor {
    type Value = KeptBatch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a partition as an Arrow IPC stream")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<KeptBatch, E> {
        decode_batch(bytes).map(KeptBatch).map_err(E::custom)
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<KeptBatch, E> {
        self.visit_bytes(&bytes)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_kept_partition_reads_back_equal() {
        let batch = RecordBatch::try_from_iter([(
            "n",
            Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3])) as _,
        )])
        .unwrap();
        let bytes = postcard::to_allocvec(&KeptBatch(batch.clone())).unwrap();
        let back: KeptBatch = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.0, batch);
        assert!(postcard::from_bytes::<KeptBatch>(&bytes[..bytes.len() / 2]).is_err());
    }
}
