//! Per-partition kernels that arrow-rs lacks: hash group-by, hash join, hash partitioning.
