//! Per-image features: colour means, a brightness histogram, edge
//! density and a vegetation-style index from the channels.

use serde::{Deserialize, Serialize};

use crate::prepare::Prepared;

/// What is measured on every image (at the working size).
///
/// ```
/// let img = image::RgbImage::from_pixel(16, 16, image::Rgb([20, 120, 20]));
/// let f = flotilla_images::Features::measure(&flotilla_images::Prepared::new(img, &Default::default()));
/// assert_eq!((f.mean_red, f.mean_green), (20.0, 120.0));
/// assert_eq!(f.edge_density, 0.0); // a flat image has no edges
/// assert!(f.vegetation > 0.5);    // much more green than red
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Mean of the red channel (0–255).
    pub mean_red: f64,
    /// Mean of the green channel.
    pub mean_green: f64,
    /// Mean of the blue channel.
    pub mean_blue: f64,
    /// Mean of the smoothed grey channel.
    pub brightness: f64,
    /// Fraction of pixels in each of 16 equal brightness bins.
    pub histogram: Vec<f64>,
    /// Fraction of pixels on an edge: Sobel gradient (|gx| + |gy|) of the
    /// smoothed grey channel over 128.
    pub edge_density: f64,
    /// Mean green-red vegetation index (G − R) / (G + R), from −1 to 1.
    pub vegetation: f64,
}

/// Brightness histogram bins.
const BINS: usize = 16;
/// Sobel L1 magnitude above which a pixel is an edge.
const EDGE: i32 = 128;

impl Features {
    /// Measures `image`.
    ///
    /// ```
    /// let img = image::RgbImage::from_pixel(4, 4, image::Rgb([255, 255, 255]));
    /// let f = flotilla_images::Features::measure(&flotilla_images::Prepared::new(img, &Default::default()));
    /// assert_eq!(f.histogram[15], 1.0);
    /// ```
    pub fn measure(image: &Prepared) -> Features {
        let rgb = image.rgb().as_raw();
        let pixels = (rgb.len() / 3).max(1) as f64;
        let (mut r, mut g, mut b, mut veg) = (0u64, 0u64, 0u64, 0.0f64);
        for p in rgb.chunks_exact(3) {
            let (pr, pg) = (u32::from(p[0]), u32::from(p[1]));
            r += u64::from(pr);
            g += u64::from(pg);
            b += u64::from(p[2]);
            if pr + pg > 0 {
                veg += (f64::from(pg) - f64::from(pr)) / f64::from(pg + pr);
            }
        }
        let gray = image.gray();
        let mut hist = [0u64; BINS];
        let mut sum = 0u64;
        for &v in gray.as_raw() {
            hist[usize::from(v) * BINS / 256] += 1;
            sum += u64::from(v);
        }
        let n = gray.as_raw().len().max(1) as f64;
        Features {
            mean_red: r as f64 / pixels,
            mean_green: g as f64 / pixels,
            mean_blue: b as f64 / pixels,
            brightness: sum as f64 / n,
            histogram: hist.iter().map(|&c| c as f64 / n).collect(),
            edge_density: edge_density(gray),
            vegetation: veg / pixels,
        }
    }
}

/// Fraction of interior pixels whose Sobel L1 magnitude is over [`EDGE`].
fn edge_density(gray: &image::GrayImage) -> f64 {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let px = gray.as_raw();
    let at = |x: usize, y: usize| i32::from(px[y * w + x]);
    let mut edges = 0u64;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2 * at(x, y - 1)
                - at(x + 1, y - 1);
            if gx.abs() + gy.abs() > EDGE {
                edges += 1;
            }
        }
    }
    edges as f64 / ((w - 2) * (h - 2)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sharp_boundary_is_an_edge() {
        let mut img = image::RgbImage::from_pixel(10, 10, image::Rgb([0, 0, 0]));
        for y in 0..10 {
            for x in 5..10 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let p = Prepared::new(
            img,
            &crate::Preprocess {
                working_size: 256,
                denoise_radius: 0,
            },
        );
        let f = Features::measure(&p);
        // Two columns of the 8 interior ones straddle the boundary.
        assert!((f.edge_density - 0.25).abs() < 1e-9, "{}", f.edge_density);
        assert_eq!(f.histogram[0] + f.histogram[15], 1.0);
    }
}
