//! The tabular data sets: ratings (MovieLens u.data), weather and items.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use flotilla_core::rng::Rng;

use super::blocks::run_blocks;
use super::decimal::{push_fixed6, push_u64};
use super::output::write_file;
use super::{Written, BLOCK_ROWS};

/// Largest MovieLens user id; users are uniform in `1..=USERS`.
pub(super) const USERS: u64 = 943;
/// Largest MovieLens item id; items are uniform in `1..=ITEMS`.
pub(super) const ITEMS: u64 = 1682;
/// Weights of the ratings 1 to 5 (MovieLens 100k frequencies).
pub(super) const RATING_WEIGHTS: [u64; 5] = [6110, 11370, 27145, 34174, 21201];
/// First and last timestamp of MovieLens 100k (inclusive).
pub(super) const TIMESTAMPS: (u64, u64) = (874_724_710, 893_286_638);
/// Largest weather station id; stations are uniform in `1..=STATIONS`.
pub(super) const STATIONS: u64 = 999;
/// Temperatures are uniform in `[low, high)` micro-degrees, i.e. [-10, 50).
pub(super) const MICRO_DEGREES: (i64, i64) = (-10_000_000, 50_000_000);
/// The 19 MovieLens genres, in the order of `u.genre`.
pub(super) const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Writes `rows` rows, `BLOCK_ROWS` per block, each block rendered by
/// `render_row` from the block's own stream; `header` comes first.
fn write_rows(
    path: &Path,
    header: &[u8],
    rows: u64,
    seed: u64,
    workers: usize,
    bytes_per_row: usize,
    render_row: impl Fn(&mut Rng, &mut Vec<u8>) + Sync,
) -> io::Result<Written> {
    let blocks = rows.div_ceil(BLOCK_ROWS);
    let blocks = usize::try_from(blocks).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("too many rows: {rows}"),
        )
    })?;
    write_file(path, |out| {
        out.write_all(header)?;
        let mut bytes = header.len() as u64;
        run_blocks(
            workers,
            Some(blocks),
            |block, buffer| {
                let first = block as u64 * BLOCK_ROWS;
                let count = BLOCK_ROWS.min(rows - first);
                buffer.reserve(count as usize * bytes_per_row);
                let mut rng = Rng::stream(seed, block as u64);
                for _ in 0..count {
                    render_row(&mut rng, buffer);
                }
            },
            |block| {
                out.write_all(block)?;
                bytes += block.len() as u64;
                Ok(ControlFlow::Continue(()))
            },
        )?;
        Ok(Written {
            bytes,
            records: rows,
        })
    })
}

/// Draws a rating in `1..=5` with probabilities proportional to
/// [`RATING_WEIGHTS`], from one unbiased integer draw against the cumulative
/// integer weights.
#[inline]
pub(super) fn draw_rating(rng: &mut Rng) -> u64 {
    const TOTAL: u64 = {
        let mut total = 0;
        let mut i = 0;
        while i < RATING_WEIGHTS.len() {
            total += RATING_WEIGHTS[i];
            i += 1;
        }
        total
    };
    let mut ticket = rng.range_inclusive(0, TOTAL - 1);
    let mut rating = 1;
    for weight in RATING_WEIGHTS {
        if ticket < weight {
            break;
        }
        ticket -= weight;
        rating += 1;
    }
    rating
}

/// See [`super::write_ratings`]; `workers` threads render the blocks.
pub(super) fn write_ratings(
    path: &Path,
    rows: u64,
    seed: u64,
    workers: usize,
) -> io::Result<Written> {
    write_rows(path, b"", rows, seed, workers, 24, |rng, buffer| {
        let user = rng.range_inclusive(1, USERS);
        let item = rng.range_inclusive(1, ITEMS);
        let rating = draw_rating(rng);
        let timestamp = rng.range_inclusive(TIMESTAMPS.0, TIMESTAMPS.1);
        push_u64(buffer, user);
        buffer.push(b'\t');
        push_u64(buffer, item);
        buffer.extend_from_slice(&[b'\t', b'0' + rating as u8, b'\t']);
        push_u64(buffer, timestamp);
        buffer.push(b'\n');
    })
}

/// See [`super::write_weather`]; `workers` threads render the blocks.
pub(super) fn write_weather(
    path: &Path,
    rows: u64,
    seed: u64,
    workers: usize,
) -> io::Result<Written> {
    let (low, high) = MICRO_DEGREES;
    let span = (high - low - 1) as u64;
    write_rows(
        path,
        b"station_id,temperature\n",
        rows,
        seed,
        workers,
        16,
        |rng, buffer| {
            let station = rng.range_inclusive(1, STATIONS);
            let micro = low + rng.range_inclusive(0, span) as i64;
            push_u64(buffer, station);
            buffer.push(b',');
            push_fixed6(buffer, micro);
            buffer.push(b'\n');
        },
    )
}

/// See [`super::write_items`]: genres are drawn from stream 0 of `seed`.
pub(super) fn write_items(path: &Path, seed: u64) -> io::Result<Written> {
    let mut rng = Rng::stream(seed, 0);
    let mut buffer = b"item_id,genre\n".to_vec();
    for item in 1..=ITEMS {
        push_u64(&mut buffer, item);
        buffer.push(b',');
        buffer.extend_from_slice(GENRES[rng.below(GENRES.len())].as_bytes());
        buffer.push(b'\n');
    }
    write_file(path, |out| out.write_all(&buffer))?;
    Ok(Written {
        bytes: buffer.len() as u64,
        records: ITEMS,
    })
}
