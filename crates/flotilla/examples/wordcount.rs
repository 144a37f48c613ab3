//! Word count as a MapReduce job: words are maximal runs of non-whitespace
//! bytes; prints the total, the number of distinct words and the top 10.
//!
//! ```text
//! cargo run --release -p flotilla-cli -- gen text --mb 10 --output text.txt
//! cargo run --release -p flotilla --example wordcount -- text.txt
//! ```

use flotilla::mapreduce::{Emitter, Job, JobRunner, RecordError, SmallBytes};
use flotilla::CpuPool;

struct WordCount;

impl Job for WordCount {
    type Input = [u8];
    type Key = SmallBytes;
    type Value = u64;
    type Output = (SmallBytes, u64);
    type State = ();
    const COMBINES: bool = true;

    fn map(
        &self,
        _: &mut (),
        line: &[u8],
        emit: &mut Emitter<'_, SmallBytes, u64>,
    ) -> Result<(), RecordError> {
        for word in line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
        {
            emit.emit(SmallBytes::from(word), 1)?;
        }
        Ok(())
    }

    fn combine(&self, count: &mut u64, more: u64) {
        *count += more;
    }

    fn reduce(
        &self,
        _: &mut (),
        word: SmallBytes,
        counts: Vec<u64>,
        out: &mut Vec<(SmallBytes, u64)>,
    ) -> Result<(), RecordError> {
        out.push((word, counts.iter().sum()));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.is_empty() {
        eprintln!("usage: wordcount FILE|FOLDER|GLOB...");
        std::process::exit(2);
    }
    let pool = CpuPool::builder().build()?;
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut counts = JobRunner::new(&pool)
        .run_text(WordCount, &inputs)?
        .records();
    let total: u64 = counts.iter().map(|(_, c)| c).sum();
    println!("total words: {total}");
    println!("distinct words: {}", counts.len());
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (word, count) in counts.iter().take(10) {
        println!("{count:>10}  {word}");
    }
    Ok(())
}
