//! W6: the sum of a seeded 10000×10000 uniform [0, 1) array in 1000×1000
//! chunks, generated and summed block by block (never materialized).

use std::time::Instant;

use flotilla::array::Array;
use flotilla::on_cluster::ComputeOnCluster;
use flotilla::ComputeOptions;

use super::{emit, pool, BenchArgs, Runtime};

/// The side of the square array and of its chunks.
const SIDE: usize = 10_000;
const CHUNK: usize = 1_000;
/// The seed of W6's array (any fixed value; peers use their own generator).
const SEED: u64 = 42;

pub(super) fn w6(args: &BenchArgs) -> anyhow::Result<()> {
    let x = Array::random(&[SIDE, SIDE], [CHUNK, CHUNK], SEED)?;
    let (total, secs, system) = match args.runtime {
        Runtime::Local => {
            let pool = pool(args)?;
            let options = ComputeOptions::new().pool(&pool).progress(false);
            pool.submit(|| ()).result()?; // warm
            let start = Instant::now();
            let total = x.sum().compute_with(&options)?;
            (total, start.elapsed().as_secs_f64(), "flotilla-local")
        }
        Runtime::Cluster => {
            let cluster = super::cluster::start(args)?;
            let client = cluster.client()?;
            let start = Instant::now();
            let total = x.sum().compute_on(&client)?;
            (total, start.elapsed().as_secs_f64(), "flotilla-cluster")
        }
    };
    emit(&[
        ("workload", "W6".into()),
        ("system", system.into()),
        ("seconds", secs.into()),
        ("result", total.into()),
        ("shape", super::Json::Raw(format!("[{SIDE}, {SIDE}]"))),
        ("chunks", super::Json::Raw(format!("[{CHUNK}, {CHUNK}]"))),
        ("blocks", x.num_blocks().into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}
