//! A reduce task: one partition's runs, merged, through the reducer.

use super::{Counters, Job, JobError};
use crate::mapreduce::sort::merge_runs;

pub(super) fn reduce_partition<J: Job>(
    job: &J,
    index: usize,
    runs: Vec<crate::mapreduce::sort::SortedRun<J::Key, J::Value>>,
) -> Result<(Vec<J::Output>, Counters), JobError> {
    let mut counters = Counters::default();
    let mut state = J::State::default();
    job.reducer_init(&mut state);
    let mut out = Vec::new();
    let mut records = merge_runs(runs)?;
    let mut current: Option<(J::Key, Vec<J::Value>)> = None;
    let task = || format!("reduce[{index}]");
    let mut emit_group =
        |key: J::Key, mut values: Vec<J::Value>, out: &mut Vec<J::Output>, state: &mut J::State| {
            job.order_values(&key, &mut values);
            counters.reduce_input_groups += 1;
            job.reduce(state, key, values, out)
                .map_err(|e| JobError::BadIntermediateRecord {
                    step: 1,
                    task: task(),
                    message: e.message,
                })
        };
    for rec in &mut records {
        let (k, v) = rec?;
        match &mut current {
            Some((ck, vs)) if *ck == k => vs.push(v),
            _ => {
                if let Some((ck, vs)) = current.take() {
                    emit_group(ck, vs, &mut out, &mut state)?;
                }
                current = Some((k, vec![v]));
            }
        }
    }
    if let Some((ck, vs)) = current.take() {
        emit_group(ck, vs, &mut out, &mut state)?;
    }
    job.reducer_final(&mut state, &mut out)
        .map_err(|e| JobError::BadIntermediateRecord {
            step: 1,
            task: task(),
            message: e.message,
        })?;
    counters.reduce_output_records = out.len() as u64;
    Ok((out, counters))
}
