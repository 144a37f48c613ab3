//! The text data set: lines of [`WORDS_PER_LINE`] lowercase words drawn
//! Zipf([`ZIPF_EXPONENT`]) from a generated vocabulary of
//! [`VOCABULARY_SIZE`] distinct words.
//!
//! The vocabulary is made from its own stream ([`VOCABULARY_STREAM`]) of the
//! seed, the lines from the stream of their block, as for every data set.

use std::collections::HashSet;
use std::f64::consts::TAU;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use flotilla_core::rng::Rng;

use super::blocks::run_blocks;
use super::output::write_file;
use super::{Written, TEXT_BLOCK_LINES};

/// Number of distinct words in the vocabulary.
pub(super) const VOCABULARY_SIZE: usize = 50_000;
/// Words on every line.
pub(super) const WORDS_PER_LINE: usize = 12;
/// Exponent of the Zipf law: rank `k` has weight `k^-ZIPF_EXPONENT`.
pub(super) const ZIPF_EXPONENT: f64 = 1.1;
/// Shortest and longest word (length is `2 + Poisson(5)`, capped).
pub(super) const WORD_LENGTHS: (usize, usize) = (2, 16);
/// Mean of the Poisson part of a word's length.
const POISSON_MEAN: f64 = 5.0;
/// Standard deviation of the noise added to the length when ranking words.
const RANK_NOISE: f64 = 3.0;
/// The stream of the seed that makes the vocabulary (blocks use 0, 1, 2, …).
const VOCABULARY_STREAM: u64 = u64::MAX;

/// Draws from the Poisson distribution of mean `mean` (Knuth's product of
/// uniforms; fine for a small mean).
fn poisson(rng: &mut Rng, mean: f64) -> usize {
    let limit = (-mean).exp();
    let mut product = rng.uniform_f64();
    let mut count = 0;
    while product > limit {
        product *= rng.uniform_f64();
        count += 1;
    }
    count
}

/// Draws from the standard normal distribution (Box–Muller, one value per
/// pair of uniforms).
fn standard_normal(rng: &mut Rng) -> f64 {
    let radius = (-2.0 * (1.0 - rng.uniform_f64()).ln()).sqrt();
    radius * (TAU * rng.uniform_f64()).cos()
}

/// Makes the vocabulary of `seed`, most frequent rank first.
///
/// Words are [`VOCABULARY_SIZE`] distinct strings of letters `a..=z` drawn
/// uniformly, of length `2 + Poisson(5)` capped at 16. They are ranked by
/// their length plus N(0, 3) noise (a stable sort), so frequent ranks tend to
/// be short words, as in natural language.
pub(super) fn vocabulary(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::stream(seed, VOCABULARY_STREAM);
    let mut seen = HashSet::with_capacity(VOCABULARY_SIZE);
    let mut words = Vec::with_capacity(VOCABULARY_SIZE);
    while words.len() < VOCABULARY_SIZE {
        let length = (WORD_LENGTHS.0 + poisson(&mut rng, POISSON_MEAN)).min(WORD_LENGTHS.1);
        let word: Vec<u8> = (0..length).map(|_| b'a' + rng.below(26) as u8).collect();
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    let keys: Vec<f64> = words
        .iter()
        .map(|word| word.len() as f64 + RANK_NOISE * standard_normal(&mut rng))
        .collect();
    let mut order: Vec<usize> = (0..words.len()).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    order
        .into_iter()
        .map(|i| std::mem::take(&mut words[i]))
        .collect()
}

/// The cumulative distribution of Zipf([`ZIPF_EXPONENT`]) over ranks
/// `1..=size`: entry `k` is the probability of a rank `<= k + 1`; the last
/// entry is 1.
pub(super) fn zipf_cdf(size: usize) -> Vec<f64> {
    let mut total = 0.0;
    let mut cdf: Vec<f64> = (1..=size)
        .map(|rank| {
            total += (rank as f64).powf(-ZIPF_EXPONENT);
            total
        })
        .collect();
    for p in &mut cdf {
        *p /= total;
    }
    cdf
}

/// Draws 0-based Zipf ranks: the first index whose CDF value exceeds a
/// uniform number `u`, i.e. a binary search of `u` in the CDF.
///
/// A guide table makes the search short without changing its result: the
/// answer for any `u` in `[g/G, (g+1)/G)` lies between the answers for the
/// two ends, which are precomputed, so only that stretch of the CDF is
/// searched (usually a handful of entries instead of 50,000).
#[derive(Debug)]
pub(super) struct ZipfSampler {
    /// The cumulative distribution (see [`zipf_cdf`]).
    cdf: Vec<f64>,
    /// `guide[g]` is the search result for `u = g / GUIDE_SIZE`; it has
    /// `GUIDE_SIZE + 1` entries, the last one for `u = 1`.
    guide: Vec<u32>,
}

impl ZipfSampler {
    /// Entries of the guide table (a power of two, so `g / GUIDE_SIZE` and
    /// `u * GUIDE_SIZE` are exact).
    const GUIDE_SIZE: usize = 1 << 16;

    /// Makes the sampler of Zipf([`ZIPF_EXPONENT`]) over ranks `1..=size`.
    pub(super) fn new(size: usize) -> ZipfSampler {
        let cdf = zipf_cdf(size);
        let guide = (0..=Self::GUIDE_SIZE)
            .map(|g| {
                let u = g as f64 / Self::GUIDE_SIZE as f64;
                cdf.partition_point(|&p| p <= u) as u32
            })
            .collect();
        ZipfSampler { cdf, guide }
    }

    /// The 0-based rank for the uniform number `u` in `[0, 1)`: the same as
    /// `cdf.partition_point(|&p| p <= u)`, clamped to the last rank.
    #[inline]
    pub(super) fn rank_of(&self, u: f64) -> usize {
        let g = (u * Self::GUIDE_SIZE as f64) as usize;
        let low = self.guide[g] as usize;
        let high = self.guide[g + 1] as usize;
        let rank = low + self.cdf[low..high].partition_point(|&p| p <= u);
        rank.min(self.cdf.len() - 1)
    }

    /// Draws a 0-based rank from `rng`.
    #[inline]
    fn draw(&self, rng: &mut Rng) -> usize {
        self.rank_of(rng.uniform_f64())
    }
}

/// Appends `lines` lines of text, drawn from `rng`, to `buffer`.
fn render_lines(
    rng: &mut Rng,
    words: &[Vec<u8>],
    zipf: &ZipfSampler,
    lines: usize,
    buffer: &mut Vec<u8>,
) {
    for _ in 0..lines {
        for position in 0..WORDS_PER_LINE {
            if position > 0 {
                buffer.push(b' ');
            }
            buffer.extend_from_slice(&words[zipf.draw(rng)]);
        }
        buffer.push(b'\n');
    }
}

/// See [`super::write_text`]; `workers` threads render the blocks.
///
/// Blocks of [`TEXT_BLOCK_LINES`] lines are written until the next one
/// would pass `max_bytes`; that one is cut after its last whole line that
/// fits.
pub(super) fn write_text(
    path: &Path,
    max_bytes: u64,
    seed: u64,
    workers: usize,
) -> io::Result<Written> {
    let words = vocabulary(seed);
    let zipf = ZipfSampler::new(words.len());
    write_file(path, |out| {
        let mut bytes = 0u64;
        let mut lines = 0u64;
        if max_bytes == 0 {
            return Ok(Written {
                bytes,
                records: lines,
            });
        }
        run_blocks(
            workers,
            None,
            |block, buffer| {
                buffer.reserve(TEXT_BLOCK_LINES * WORDS_PER_LINE * 8);
                let mut rng = Rng::stream(seed, block as u64);
                render_lines(&mut rng, &words, &zipf, TEXT_BLOCK_LINES, buffer);
            },
            |block| {
                let room = max_bytes - bytes;
                let (part, flow) = if (block.len() as u64) < room {
                    (block, ControlFlow::Continue(()))
                } else {
                    let fits = &block[..room.min(block.len() as u64) as usize];
                    let cut = fits.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                    (&block[..cut], ControlFlow::Break(()))
                };
                out.write_all(part)?;
                bytes += part.len() as u64;
                lines += part.iter().filter(|&&b| b == b'\n').count() as u64;
                Ok(flow)
            },
        )?;
        Ok(Written {
            bytes,
            records: lines,
        })
    })
}
