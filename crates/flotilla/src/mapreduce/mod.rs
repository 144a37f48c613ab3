//! MapReduce jobs over text inputs, as mrjob and Hadoop streaming users know
//! them (being written).

pub mod sort;
pub mod split;
