//! Word count with the built-in MapReduce job (`mapreduce::builtin::
//! WordCount`; see its source, or `scenario3_ratings.rs`, for how a job is
//! written): words are maximal runs of non-whitespace bytes; prints the
//! total, the number of distinct words and the top 10.
//!
//! ```text
//! cargo run --release -p flotilla-cli -- gen text --mb 10 --output text.txt
//! cargo run --release -p flotilla --example wordcount -- text.txt
//! ```

use flotilla::mapreduce::builtin::WordCount;
use flotilla::mapreduce::JobRunner;
use flotilla::CpuPool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.is_empty() {
        eprintln!("usage: wordcount FILE|FOLDER|GLOB...");
        std::process::exit(2);
    }
    let pool = CpuPool::builder().build()?;
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut counts = JobRunner::new(&pool)
        .run_text(WordCount::<true>, &inputs)?
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
