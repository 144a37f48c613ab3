//! Scenario 6: a parallel loop of 10 delayed multiplications, summed.
//!
//! The course's `dask.delayed` loop: `multiply(i)` for `i` in `0..10`, each a
//! lazy task, then one task that sums them. Nothing runs until `compute`.
//! Given `--dot`, the example also prints the task graph in Graphviz DOT
//! format (pipe it to `dot -Tsvg` to draw it).
//!
//! ```text
//! cargo run -p flotilla --example scenario6_delayed_loop -- --dot
//! ```

use flotilla::Delayed;

fn multiply(x: &i64) -> i64 {
    x * 2
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let show_dot = std::env::args().skip(1).any(|arg| arg == "--dot");

    let products: Vec<Delayed<i64>> = (0..10)
        .map(|i| {
            Delayed::value(i)
                .map(multiply)
                .named(format!("multiply[{i}]"))
        })
        .collect();
    // One task gathers the products and sums them; it hands back both.
    let total = Delayed::gather(&products, |xs| {
        let products: Vec<i64> = xs.iter().map(|x| **x).collect();
        let sum: i64 = products.iter().sum();
        (products, sum)
    })
    .named("sum");

    let (results, sum) = total.compute()?;
    println!("results: {results:?}");
    println!("total: {sum} ({} tasks)", total.task_count());
    if show_dot {
        println!("{}", total.to_dot());
    }
    Ok(())
}
