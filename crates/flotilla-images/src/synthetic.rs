//! Synthetic images with known objects: what the tests check detections
//! against and what the benchmark processes. Bright rectangles on a
//! darker, noisy, shaded background; every fifth image is a JPEG.

use std::path::{Path, PathBuf};

use flotilla_core::rng::Rng;

/// A generated image and the boxes of the objects drawn in it.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("flotilla-synth-doc-{}", std::process::id()));
/// let made = flotilla_images::synthetic::generate(&dir, 3, 128, 7).unwrap();
/// assert_eq!(made.len(), 3);
/// assert!(made.iter().all(|m| m.path.exists()));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticImage {
    /// Where it was written.
    pub path: PathBuf,
    /// The objects' boxes: `(x, y, width, height)` in pixels.
    pub objects: Vec<(u32, u32, u32, u32)>,
}

/// Uniform in `lo..=hi`.
fn range(rng: &mut Rng, lo: u32, hi: u32) -> u32 {
    rng.range_inclusive(u64::from(lo), u64::from(hi)) as u32
}

/// Writes `count` images of `size`×`size` pixels into `dir` (created if
/// missing): `img-00000.png`, …, every fifth one a JPEG. Each holds 0 to 5
/// bright rectangles, apart from each other and the border; the same
/// `seed` gives the same images. Images are written on every core.
///
/// # Errors
///
/// The folder or a file cannot be written.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("flotilla-synth-gen-{}", std::process::id()));
/// let a = flotilla_images::synthetic::generate(&dir, 4, 96, 1).unwrap();
/// let b = flotilla_images::synthetic::generate(&dir, 4, 96, 1).unwrap();
/// assert_eq!(a, b);
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn generate(
    dir: impl AsRef<Path>,
    count: usize,
    size: u32,
    seed: u64,
) -> std::io::Result<Vec<SyntheticImage>> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    let indexes: Vec<usize> = (0..count).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = indexes
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&i| one(dir, i, size, seed))
                        .collect::<std::io::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for h in handles {
            let part = h
                .join()
                .map_err(|_| std::io::Error::other("an image writer panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

fn one(dir: &Path, i: usize, size: u32, seed: u64) -> std::io::Result<SyntheticImage> {
    let mut rng = Rng::stream(seed, i as u64);
    let mut img = image::RgbImage::new(size, size);
    // A shaded, noisy, slightly green background.
    let base = range(&mut rng, 40, 75) as i32;
    for (x, _, p) in img.enumerate_pixels_mut() {
        let shade = (x as i32 * 20) / size as i32;
        let noise = range(&mut rng, 0, 30) as i32 - 15;
        let v = base + shade + noise;
        *p = image::Rgb([
            v.clamp(0, 255) as u8,
            (v + 12).clamp(0, 255) as u8,
            v.clamp(0, 255) as u8,
        ]);
    }
    let wanted = range(&mut rng, 0, 5);
    let (small, large, gap) = ((size / 16).max(4), (size / 6).max(6), (size / 32).max(3));
    let mut objects: Vec<(u32, u32, u32, u32)> = Vec::new();
    for _ in 0..wanted {
        for _attempt in 0..50 {
            let (w, h) = (range(&mut rng, small, large), range(&mut rng, small, large));
            let x = range(&mut rng, gap, size - w - gap);
            let y = range(&mut rng, gap, size - h - gap);
            let apart = objects.iter().all(|&(ox, oy, ow, oh)| {
                x + w + gap <= ox || ox + ow + gap <= x || y + h + gap <= oy || oy + oh + gap <= y
            });
            if apart {
                objects.push((x, y, w, h));
                break;
            }
        }
    }
    for &(x0, y0, w, h) in &objects {
        let colour = [
            range(&mut rng, 200, 250),
            range(&mut rng, 200, 250),
            range(&mut rng, 150, 250),
        ];
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                let n = range(&mut rng, 0, 10);
                img.put_pixel(x, y, image::Rgb(colour.map(|c| (c + n - 5).min(255) as u8)));
            }
        }
    }
    objects.sort_by_key(|&(x, y, _, _)| (y, x));
    let ext = if i % 5 == 4 { "jpg" } else { "png" };
    let path = dir.join(format!("img-{i:05}.{ext}"));
    img.save(&path).map_err(std::io::Error::other)?;
    Ok(SyntheticImage { path, objects })
}
