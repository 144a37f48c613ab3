//! Scenario 9: a cluster client.
//!
//! A scheduler and worker processes of this very binary (a `LocalCluster`),
//! the scheduler at `--scheduler ADDR`, or a scheduler and a worker inside
//! this process (`--in-process`) — the same program and the same results:
//! 1. `client.map(add, 0..10, 10..20)` and gather;
//! 2. ten slow tasks with a progress bar;
//! 3. an image pipeline — preprocess (denoise, resize), extract features,
//!    summarize — over images of very different sizes, balanced across the
//!    workers by work stealing.
//!
//! ```text
//! cargo run --release -p flotilla --example scenario9_cluster -- [--workers 3] [--seconds 2] [--scheduler ADDR | --in-process]
//! ```

use std::time::{Duration, Instant};

use flotilla::cluster::{Client, LocalCluster};
use serde::{Deserialize, Serialize};

/// Adds two numbers (on whichever worker the scheduler picks).
#[flotilla::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Sleeps `millis`, then returns `i`: a task that takes a while.
#[flotilla::remote]
fn slow(i: u32, millis: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(millis));
    i
}

/// A grayscale image.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Image {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

/// What the pipeline measures of an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Features {
    id: u64,
    width: u32,
    height: u32,
    mean: f64,
    edge_density: f64,
    histogram: [u32; 8],
}

/// The pipeline's summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Summary {
    images: usize,
    pixels: u64,
    mean_brightness: f64,
    mean_edge_density: f64,
    brightest: u64,
}

/// "Reads" image `id`: a seeded noisy scene of `side` × `side` pixels,
/// then removes noise (a 3×3 box blur) and halves it in each direction.
#[flotilla::remote]
fn preprocess(id: u64, side: u32) -> Image {
    let (w, h) = (side as usize, side as usize);
    let mut state = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 64) as i32
    };
    let mut raw = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            // A bright disc on a gradient, with noise.
            let (dx, dy) = (x as i64 - w as i64 / 2, y as i64 - h as i64 / 3);
            let disc = if dx * dx + dy * dy < (w * w / 16) as i64 {
                120
            } else {
                0
            };
            let v = (x * 100 / w) as i32 + disc + noise() - 32;
            raw[y * w + x] = v.clamp(0, 255) as u8;
        }
    }
    let mut blurred = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut n) = (0u32, 0u32);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    sum += u32::from(raw[yy * w + xx]);
                    n += 1;
                }
            }
            blurred[y * w + x] = (sum / n) as u8;
        }
    }
    let (hw, hh) = (w / 2, h / 2);
    let pixels = (0..hh)
        .flat_map(|y| (0..hw).map(move |x| (y, x)))
        .map(|(y, x)| blurred[2 * y * w + 2 * x])
        .collect();
    Image {
        width: hw as u32,
        height: hh as u32,
        pixels,
    }
}

/// Brightness, edges (pixels whose neighbour differs by more than 24) and
/// an 8-bin histogram.
#[flotilla::remote]
fn features(id: u64, image: Image) -> Features {
    let (w, h) = (image.width as usize, image.height as usize);
    let p = &image.pixels;
    let mut histogram = [0u32; 8];
    let mut sum = 0u64;
    let mut edges = 0u64;
    for y in 0..h {
        for x in 0..w {
            let v = p[y * w + x];
            histogram[usize::from(v / 32)] += 1;
            sum += u64::from(v);
            if x + 1 < w && v.abs_diff(p[y * w + x + 1]) > 24 {
                edges += 1;
            }
        }
    }
    let n = (w * h).max(1) as f64;
    Features {
        id,
        width: image.width,
        height: image.height,
        mean: sum as f64 / n,
        edge_density: edges as f64 / n,
        histogram,
    }
}

/// The summary of every image's features.
#[flotilla::remote]
fn summarize(all: Vec<Features>) -> Summary {
    let pixels: u64 = all
        .iter()
        .map(|f| u64::from(f.width) * u64::from(f.height))
        .sum();
    let n = all.len().max(1) as f64;
    Summary {
        images: all.len(),
        pixels,
        mean_brightness: all.iter().map(|f| f.mean).sum::<f64>() / n,
        mean_edge_density: all.iter().map(|f| f.edge_density).sum::<f64>() / n,
        brightest: all
            .iter()
            .max_by(|a, b| a.mean.total_cmp(&b.mean))
            .map_or(0, |f| f.id),
    }
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Copies of this binary started as workers serve here and never return.
    flotilla::cluster::worker_if_asked();
    let args: Vec<String> = std::env::args().collect();
    let workers: usize = option(&args, "--workers").map_or(Ok(3), |v| v.parse())?;
    let seconds: f64 = option(&args, "--seconds").map_or(Ok(2.0), |v| v.parse())?;
    let _cluster;
    // Chosen at run time: the same program in this process, on a
    // scheduler somewhere, or on a LocalCluster of this binary.
    let client = match option(&args, "--scheduler") {
        _ if args.iter().any(|a| a == "--in-process") => Client::in_process(workers)?,
        Some(addr) => Client::connect(&addr)?,
        None => {
            let cluster = LocalCluster::builder()
                .workers(workers)
                .threads_per_worker(1)
                .start()?;
            let client = cluster.client()?;
            _cluster = cluster;
            client
        }
    };
    let workers = client.status()?.workers.len();

    // 1. map over two lists, gathered in order.
    let sums = client.map(add::REMOTE, (0..10, 10..20))?;
    println!("add: {:?}", client.gather(&sums)?);

    // 2. Ten slow tasks, with the progress bar.
    let millis = (seconds * 1000.0) as u64;
    let start = Instant::now();
    let slow_tasks = client.map(slow::REMOTE, (0..10u32, std::iter::repeat(millis)))?;
    client.progress(&slow_tasks)?;
    let done = client.gather(&slow_tasks)?;
    println!(
        "ten tasks of {seconds} s on {workers} workers: {:.1} s, results {done:?}",
        start.elapsed().as_secs_f64()
    );

    // 3. The image pipeline: sizes from 64 to 1024 pixels a side, so that
    //    some images cost 250 times others; futures carry each image from
    //    preprocessing to feature extraction on whichever worker runs it.
    let before = client.status()?;
    let sides: Vec<u32> = (0..24u32).map(|i| 64 << (i % 5)).collect();
    let images = client.map(preprocess::REMOTE, (0..24u64, sides.iter().copied()))?;
    let measured = images
        .iter()
        .enumerate()
        .map(|(id, image)| client.submit(features::call(id as u64, image)))
        .collect::<Result<Vec<_>, _>>()?;
    let all = client.gather(&measured)?;
    let summary = client.submit(summarize::call(all))?.result()?;
    let after = client.status()?;
    let stolen: u64 = after.workers.iter().map(|w| w.stolen).sum::<u64>()
        - before.workers.iter().map(|w| w.stolen).sum::<u64>();
    println!(
        "images: {} ({} pixels after resizing), mean brightness {:.1}, mean edge density {:.3}, brightest image {}",
        summary.images, summary.pixels, summary.mean_brightness, summary.mean_edge_density, summary.brightest
    );
    println!("tasks moved between workers by work stealing: {stolen}");
    Ok(())
}
