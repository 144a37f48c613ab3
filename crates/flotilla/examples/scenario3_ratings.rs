//! Scenario 3: MovieLens ratings broken down by rating value — the course's
//! mrjob `RatingsBreakdown` (mapper, combiner, reducer) as a flotilla job.
//!
//! ```text
//! cargo run --release -p flotilla-cli -- gen ratings --rows 100000 --output u.data
//! cargo run --release -p flotilla --example scenario3_ratings -- u.data
//! ```

use flotilla::mapreduce::{Emitter, Job, JobConfig, JobRunner, RecordError};
use flotilla::CpuPool;

/// Counts ratings by value: the mapper emits (rating, 1), the combiner and
/// the reducer add.
struct RatingsBreakdown;

impl Job for RatingsBreakdown {
    type Input = str;
    type Key = u8;
    type Value = u64;
    type Output = (u8, u64);
    type State = ();
    const COMBINES: bool = true;

    fn map(
        &self,
        _: &mut (),
        line: &str,
        emit: &mut Emitter<'_, u8, u64>,
    ) -> Result<(), RecordError> {
        // user_id \t item_id \t rating \t timestamp
        let mut fields = line.split('\t');
        let rating = fields
            .nth(2)
            .ok_or_else(|| RecordError::new("expected 4 tab-separated fields"))?;
        let rating = rating
            .parse()
            .map_err(|_| RecordError::new(format!("rating {rating:?} is not a number")))?;
        emit.emit(rating, 1)
    }

    fn combine(&self, count: &mut u64, more: u64) {
        *count += more;
    }

    fn reduce(
        &self,
        _: &mut (),
        rating: u8,
        counts: Vec<u64>,
        out: &mut Vec<(u8, u64)>,
    ) -> Result<(), RecordError> {
        out.push((rating, counts.iter().sum()));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(input) = std::env::args().nth(1) else {
        eprintln!("usage: scenario3_ratings U.DATA   (make one with: flotilla gen ratings --output U.DATA)");
        std::process::exit(2);
    };
    let pool = CpuPool::with_threads(2)?;
    let out = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(1))
        .run_text(RatingsBreakdown, &[&input])?;
    eprint!("{}", out.counters);
    for (rating, count) in out.records() {
        println!("{rating}\t{count}");
    }
    Ok(())
}
