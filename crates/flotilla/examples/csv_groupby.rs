//! `read_csv` then `group_by().sum()`: the course's last DataFrame example.
//!
//! ```text
//! flotilla gen ratings --rows 1000000 --output u.data
//! cargo run --release -p flotilla --example csv_groupby -- u.data
//! ```
//!
//! Sums the ratings of every movie of a MovieLens `u.data` file (tab
//! separated, no header) and prints the ten best-rated in total.

use flotilla::dataframe::io::CsvOptions;
use flotilla::dataframe::{DataFrame, SortKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: csv_groupby U.DATA")?;
    let ratings = DataFrame::read_csv(
        &[path.as_str()],
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .column_names(["user_id", "item_id", "rating", "timestamp"]),
    )?;
    let totals = ratings
        .group_by(&["item_id"])?
        .sum(&["rating"])?
        .sort_by(&[
            SortKey::new("rating_sum").descending(),
            SortKey::new("item_id"),
        ])?;
    let top = totals.head(10)?;
    println!("the ten movies with the most rating points:");
    println!(
        "{}",
        flotilla::dataframe::arrow::cast::pretty::pretty_format_batches(&[top])?
    );
    Ok(())
}
