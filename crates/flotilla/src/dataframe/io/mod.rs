//! Reading and writing partitions: CSV, Parquet, JSON lines.
