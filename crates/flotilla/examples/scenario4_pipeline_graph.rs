//! Scenario 4: a three-stage pipeline (`x + 1`, `* 2`, `- 3`), twice.
//!
//! First as a task graph of delayed values, the way the course writes it
//! with `dask.delayed` — `stage_three(stage_two(stage_one(x)))` for each
//! input — then with [`Pipeline`], whose stages run at the same time on
//! different items with bounded queues between them. Both give the same
//! outputs, in input order.
//!
//! ```text
//! cargo run -p flotilla --example scenario4_pipeline_graph
//! ```

use flotilla::patterns::pipeline::Pipeline;
use flotilla::{ComputeOptions, CpuPool, Delayed};

fn stage_one(x: &i64) -> i64 {
    x + 1
}

fn stage_two(x: &i64) -> i64 {
    x * 2
}

fn stage_three(x: &i64) -> i64 {
    x - 3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inputs = 0..10i64;

    // As a task graph: three delayed stages per input, gathered at the end.
    let outputs: Vec<Delayed<i64>> = inputs
        .clone()
        .map(|x| {
            Delayed::value(x)
                .map(stage_one)
                .map(stage_two)
                .map(stage_three)
        })
        .collect();
    let all = Delayed::gather(&outputs, |xs| xs.iter().map(|x| **x).collect::<Vec<i64>>());
    let pool = CpuPool::with_threads(4)?;
    let from_graph = all.compute_with(&ComputeOptions::new().pool(&pool))?;
    println!("task graph ({} tasks): {from_graph:?}", all.task_count());

    // As a pipeline of stages with bounded queues between them.
    let from_pipeline = Pipeline::from_iter(inputs)
        .map_stage("stage one", 2, |x| stage_one(&x))
        .map_stage("stage two", 2, |x| stage_two(&x))
        .map_stage("stage three", 2, |x| stage_three(&x))
        .collect()?;
    println!("pipeline: {from_pipeline:?}");

    println!("agree: {}", from_graph == from_pipeline);
    Ok(())
}
