//! Preprocessing: decode, shrink to a working size, a grey channel with
//! noise smoothed out. Every later step reads a [`Prepared`] image.

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

/// How images are preprocessed.
///
/// ```
/// let p = flotilla_images::Preprocess::default();
/// assert_eq!((p.working_size, p.denoise_radius), (256, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Preprocess {
    /// The longest side, in pixels, images are shrunk to (never enlarged).
    pub working_size: u32,
    /// The radius of the box filter smoothing the grey channel (1 is
    /// 3×3); 0 leaves it as is.
    pub denoise_radius: u32,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            working_size: 256,
            denoise_radius: 1,
        }
    }
}

/// An image ready for detection and features: its colours at the working
/// size, the smoothed grey channel, and the scale back to the original.
///
/// ```
/// let img = image::RgbImage::from_pixel(40, 20, image::Rgb([10, 200, 30]));
/// let p = flotilla_images::Prepared::new(img, &flotilla_images::Preprocess {
///     working_size: 20,
///     denoise_radius: 1,
/// });
/// assert_eq!((p.rgb().width(), p.rgb().height()), (20, 10));
/// assert_eq!(p.original_size(), (40, 20));
/// assert_eq!(p.scale(), 2.0);
/// ```
#[derive(Debug, Clone)]
pub struct Prepared {
    rgb: RgbImage,
    gray: GrayImage,
    original: (u32, u32),
}

impl Prepared {
    /// Shrinks `image` (keeping its proportions) and makes its smoothed
    /// grey channel.
    ///
    /// ```
    /// let img = image::RgbImage::new(8, 8);
    /// let p = flotilla_images::Prepared::new(img, &Default::default());
    /// assert_eq!(p.gray().dimensions(), (8, 8));
    /// ```
    pub fn new(image: RgbImage, how: &Preprocess) -> Prepared {
        let (w, h) = image.dimensions();
        Prepared::from_pixels(image.as_raw(), w, h, how)
    }

    /// As [`Prepared::new`], from packed RGB bytes (3 per pixel, rows top
    /// to bottom) of a `width`×`height` image: what a decoder wrote into a
    /// buffer it reuses.
    ///
    /// ```
    /// let pixels = vec![200u8; 8 * 4 * 3];
    /// let p = flotilla_images::Prepared::from_pixels(&pixels, 8, 4, &Default::default());
    /// assert_eq!(p.gray().get_pixel(0, 0).0[0], 200);
    /// ```
    pub fn from_pixels(pixels: &[u8], width: u32, height: u32, how: &Preprocess) -> Prepared {
        let original = (width, height);
        let longest = width.max(height);
        let rgb = if how.working_size > 0 && longest > how.working_size {
            let whole = longest / how.working_size;
            if longest.is_multiple_of(how.working_size)
                && width.is_multiple_of(whole)
                && height.is_multiple_of(whole)
            {
                // A whole factor: the mean of each factor × factor block.
                average_blocks(pixels, width, height, whole)
            } else {
                let scale = f64::from(how.working_size) / f64::from(longest);
                let nw = ((f64::from(width) * scale).round() as u32).max(1);
                let nh = ((f64::from(height) * scale).round() as u32).max(1);
                let image = RgbImage::from_raw(width, height, pixels.to_vec())
                    .unwrap_or_else(|| RgbImage::new(width, height));
                image::imageops::resize(&image, nw, nh, image::imageops::FilterType::Triangle)
            }
        } else {
            RgbImage::from_raw(width, height, pixels.to_vec())
                .unwrap_or_else(|| RgbImage::new(width, height))
        };
        let gray = box_blur(&luma(&rgb), how.denoise_radius);
        Prepared {
            rgb,
            gray,
            original,
        }
    }

    /// The colours at the working size.
    ///
    /// ```
    /// let p = flotilla_images::Prepared::new(image::RgbImage::new(4, 4), &Default::default());
    /// assert_eq!(p.rgb().dimensions(), (4, 4));
    /// ```
    pub fn rgb(&self) -> &RgbImage {
        &self.rgb
    }

    /// The smoothed grey channel at the working size.
    ///
    /// ```
    /// let p = flotilla_images::Prepared::new(image::RgbImage::new(4, 4), &Default::default());
    /// assert_eq!(p.gray().dimensions(), (4, 4));
    /// ```
    pub fn gray(&self) -> &GrayImage {
        &self.gray
    }

    /// The original width and height.
    ///
    /// ```
    /// let p = flotilla_images::Prepared::new(image::RgbImage::new(600, 300), &Default::default());
    /// assert_eq!(p.original_size(), (600, 300));
    /// ```
    pub fn original_size(&self) -> (u32, u32) {
        self.original
    }

    /// Original pixels per working pixel (1 when not shrunk).
    ///
    /// ```
    /// let p = flotilla_images::Prepared::new(image::RgbImage::new(512, 512), &Default::default());
    /// assert_eq!(p.scale(), 2.0);
    /// ```
    pub fn scale(&self) -> f64 {
        f64::from(self.original.0) / f64::from(self.rgb.width().max(1))
    }
}

/// Shrinks by a whole `factor`: each output pixel the rounded mean of a
/// `factor`×`factor` block (as area averaging, and as `Image.reduce`).
fn average_blocks(pixels: &[u8], width: u32, height: u32, factor: u32) -> RgbImage {
    let (w, k) = (width as usize, factor as usize);
    let (nw, nh) = (w / k, height as usize / k);
    let n = (k * k) as u32;
    let mut sums = vec![0u32; nw * 3];
    let mut out = Vec::with_capacity(nw * nh * 3);
    for by in 0..nh {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in by * k..(by + 1) * k {
            let row = &pixels[y * w * 3..(y + 1) * w * 3];
            for (bx, block) in row.chunks_exact(3 * k).enumerate() {
                for px in block.chunks_exact(3) {
                    sums[bx * 3] += u32::from(px[0]);
                    sums[bx * 3 + 1] += u32::from(px[1]);
                    sums[bx * 3 + 2] += u32::from(px[2]);
                }
            }
        }
        out.extend(sums.iter().map(|&s| ((s + n / 2) / n) as u8));
    }
    RgbImage::from_raw(nw as u32, nh as u32, out).unwrap_or_else(|| RgbImage::new(1, 1))
}

/// Grey from colour (ITU-R 601 weights, integer arithmetic).
fn luma(rgb: &RgbImage) -> GrayImage {
    let (w, h) = rgb.dimensions();
    let data: Vec<u8> = rgb
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            ((299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2])) / 1000) as u8
        })
        .collect();
    GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
}

/// A box filter of radius `r` (edges clamped), as two running sums.
fn box_blur(gray: &GrayImage, r: u32) -> GrayImage {
    if r == 0 {
        return gray.clone();
    }
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let r = r as isize;
    let src = gray.as_raw();
    let mut horizontal = vec![0u32; w * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let at = |x: isize| u32::from(row[x.clamp(0, w as isize - 1) as usize]);
        let mut sum: u32 = (-r..=r).map(at).sum();
        for x in 0..w {
            horizontal[y * w + x] = sum;
            sum += at(x as isize + r + 1);
            sum -= at(x as isize - r);
        }
    }
    let n = ((2 * r + 1) * (2 * r + 1)) as u32;
    let mut out = vec![0u8; w * h];
    for x in 0..w {
        let at = |y: isize| horizontal[y.clamp(0, h as isize - 1) as usize * w + x];
        let mut sum: u32 = (-r..=r).map(at).sum();
        for y in 0..h {
            out[y * w + x] = ((sum + n / 2) / n) as u8;
            sum += at(y as isize + r + 1);
            sum -= at(y as isize - r);
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| gray.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_filter_averages_its_window_and_keeps_flat_areas() {
        let mut g = GrayImage::from_pixel(5, 5, image::Luma([90]));
        assert_eq!(box_blur(&g, 1), g);
        g.put_pixel(2, 2, image::Luma([180]));
        let b = box_blur(&g, 1);
        assert_eq!(b.get_pixel(2, 2).0[0], 100); // (8·90 + 180) / 9
        assert_eq!(b.get_pixel(0, 0).0[0], 90);
    }

    #[test]
    fn a_whole_factor_averages_blocks() {
        // 4×2 → 2×1: blocks of 2×2.
        #[rustfmt::skip]
        let px: Vec<u8> = [
            0, 0, 0,  10, 10, 10,  100, 0, 0,  100, 0, 0,
            20, 20, 20,  30, 30, 30,  100, 0, 0,  101, 0, 1,
        ].to_vec();
        let p = Prepared::from_pixels(
            &px,
            4,
            2,
            &Preprocess {
                working_size: 2,
                denoise_radius: 0,
            },
        );
        assert_eq!(p.rgb().as_raw(), &[15, 15, 15, 100, 0, 0]);
    }

    #[test]
    fn images_shrink_to_the_working_size_keeping_proportions() {
        let p = Prepared::new(
            RgbImage::new(512, 256),
            &Preprocess {
                working_size: 128,
                denoise_radius: 0,
            },
        );
        assert_eq!(p.rgb().dimensions(), (128, 64));
        assert_eq!(p.scale(), 4.0);
        let small = Prepared::new(RgbImage::new(50, 30), &Preprocess::default());
        assert_eq!(small.rgb().dimensions(), (50, 30));
    }
}
