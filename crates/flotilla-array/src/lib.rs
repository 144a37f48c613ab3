//! Chunked n-dimensional arrays — flotilla's `dask.array`.
//!
//! (Being built: see issue 4.)
