//! Detection: the [`Detector`] trait, the registry that finds a detector
//! by name on every worker, and the classical detector flotilla ships
//! (a threshold, then connected components).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::prepare::Prepared;

/// An object found in an image: its bounding box and area in working
/// pixels (the pipeline scales them to the original), and how sure the
/// detector is (0 to 1).
///
/// ```
/// let d = flotilla_images::Detection { x: 1, y: 2, width: 3, height: 4, area: 10, confidence: 0.9 };
/// assert_eq!(d.width * d.height, 12);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width of the box.
    pub width: u32,
    /// Height of the box.
    pub height: u32,
    /// Pixels belonging to the object.
    pub area: u64,
    /// Confidence, from 0 to 1.
    pub confidence: f64,
}

/// Finds objects in a prepared image. Implement it to bring a model of
/// your own, and register it with [`register_detector!`](crate::register_detector)
/// so every worker of the binary can make it by name.
///
/// ```
/// use flotilla_images::{Detection, Detector, Prepared};
///
/// /// Reports the whole image as one object when it is mostly bright.
/// struct Bright;
///
/// impl Detector for Bright {
///     fn detect(&self, image: &Prepared) -> Vec<Detection> {
///         let g = image.gray();
///         let mean = g.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / g.len() as f64;
///         if mean < 128.0 {
///             return Vec::new();
///         }
///         vec![Detection { x: 0, y: 0, width: g.width(), height: g.height(),
///                          area: g.len() as u64, confidence: mean / 255.0 }]
///     }
/// }
///
/// let img = image::RgbImage::from_pixel(8, 8, image::Rgb([250, 250, 250]));
/// let found = Bright.detect(&Prepared::new(img, &Default::default()));
/// assert_eq!(found.len(), 1);
/// ```
pub trait Detector: Send + Sync {
    /// The objects in `image`.
    fn detect(&self, image: &Prepared) -> Vec<Detection>;

    /// A version: change it when the detector's results change, and
    /// checkpointed results of the older one are recomputed.
    ///
    /// ```
    /// # use flotilla_images::{Detection, Detector, Prepared};
    /// struct Nothing;
    /// impl Detector for Nothing {
    ///     fn detect(&self, _: &Prepared) -> Vec<Detection> { Vec::new() }
    /// }
    /// assert_eq!(Nothing.version(), "1");
    /// ```
    fn version(&self) -> String {
        "1".to_string()
    }
}

/// Which detector to use: a registered name and its parameters (a
/// string the detector's constructor reads, e.g. `min_area=12`).
///
/// ```
/// let spec: flotilla_images::DetectorSpec = "threshold:min_area=20".parse().unwrap();
/// assert_eq!((spec.name.as_str(), spec.params.as_str()), ("threshold", "min_area=20"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DetectorSpec {
    /// The registered name.
    pub name: String,
    /// The parameters, as the detector's constructor reads them.
    pub params: String,
}

impl Default for DetectorSpec {
    fn default() -> Self {
        DetectorSpec {
            name: "threshold".into(),
            params: String::new(),
        }
    }
}

impl std::str::FromStr for DetectorSpec {
    type Err = std::convert::Infallible;

    /// `NAME` or `NAME:PARAMS`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, params) = s.split_once(':').unwrap_or((s, ""));
        Ok(DetectorSpec {
            name: name.to_string(),
            params: params.to_string(),
        })
    }
}

impl std::fmt::Display for DetectorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.params.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}:{}", self.name, self.params)
        }
    }
}

/// A detector made by name: what [`register_detector!`](crate::register_detector)
/// submits. Not built by hand.
#[derive(Debug)]
pub struct DetectorEntry {
    name: &'static str,
    make: MakeDetector,
}

/// Makes a detector from its parameters, or says what is wrong with them.
pub type MakeDetector = fn(&str) -> Result<Box<dyn Detector>, String>;

impl DetectorEntry {
    #[doc(hidden)]
    pub const fn new(name: &'static str, make: MakeDetector) -> DetectorEntry {
        DetectorEntry { name, make }
    }
}

inventory::collect!(DetectorEntry);

/// Registers a detector under a name, in every process of the binary:
/// `register_detector!("name", constructor)` where the constructor is a
/// `fn(&str) -> Result<Box<dyn Detector>, String>` reading the parameters.
///
/// ```
/// use flotilla_images::{register_detector, Detection, Detector, DetectorSpec, Prepared};
///
/// struct Nothing;
/// impl Detector for Nothing {
///     fn detect(&self, _: &Prepared) -> Vec<Detection> { Vec::new() }
/// }
///
/// fn nothing(_params: &str) -> Result<Box<dyn Detector>, String> {
///     Ok(Box::new(Nothing))
/// }
/// register_detector!("nothing", nothing);
///
/// fn main() {
///     assert!(flotilla_images::detector_names().contains(&"nothing"));
///     assert!(flotilla_images::make_detector(&"nothing".parse().unwrap()).is_ok());
/// }
/// ```
#[macro_export]
macro_rules! register_detector {
    ($name:expr, $make:expr) => {
        $crate::__private::inventory::submit! {
            $crate::DetectorEntry::new($name, $make)
        }
    };
}

/// The names of the detectors registered in this binary, sorted.
///
/// ```
/// assert!(flotilla_images::detector_names().contains(&"threshold"));
/// ```
pub fn detector_names() -> Vec<&'static str> {
    let mut names: Vec<_> = inventory::iter::<DetectorEntry>
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort_unstable();
    names
}

/// Makes the detector `spec` names.
///
/// # Errors
///
/// A message naming the detector when no detector of that name is
/// registered (listing those that are) or its parameters are refused.
///
/// ```
/// let err = flotilla_images::make_detector(&"yolo".parse().unwrap()).err().unwrap();
/// assert!(err.contains("yolo") && err.contains("threshold"));
/// ```
pub fn make_detector(spec: &DetectorSpec) -> Result<Box<dyn Detector>, String> {
    let entry = inventory::iter::<DetectorEntry>
        .into_iter()
        .find(|e| e.name == spec.name)
        .ok_or_else(|| {
            format!(
                "no detector named {:?} in this program (registered: {})",
                spec.name,
                detector_names().join(", ")
            )
        })?;
    (entry.make)(&spec.params).map_err(|e| format!("detector {spec}: {e}"))
}

thread_local! {
    /// Detectors made on this thread, by spec: a model is loaded once per
    /// worker thread, not once per image.
    static MADE: std::cell::RefCell<HashMap<DetectorSpec, Arc<dyn Detector>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// The detector for `spec`, made once per thread.
pub(crate) fn cached_detector(spec: &DetectorSpec) -> Result<Arc<dyn Detector>, String> {
    if let Some(d) = MADE.with(|m| m.borrow().get(spec).cloned()) {
        return Ok(d);
    }
    let made: Arc<dyn Detector> = Arc::from(make_detector(spec)?);
    MADE.with(|m| m.borrow_mut().insert(spec.clone(), Arc::clone(&made)));
    Ok(made)
}

/// Bright objects on a darker background: pixels of the smoothed grey
/// channel above a threshold (Otsu's, from the image's histogram, unless
/// one is given), grouped into 8-connected components; components smaller
/// than `min_area` working pixels are noise. Confidence is the contrast
/// between an object's mean and the background's.
///
/// Parameters (registered as `threshold`): `threshold=0..255`,
/// `min_area=N` (default 8), `min_contrast=X` (default 50), comma-separated.
///
/// ```
/// use flotilla_images::{Detector, Prepared, ThresholdDetector};
///
/// let mut img = image::RgbImage::from_pixel(64, 64, image::Rgb([30, 40, 30]));
/// for y in 10..20 {
///     for x in 30..50 {
///         img.put_pixel(x, y, image::Rgb([240, 240, 220]));
///     }
/// }
/// let found = ThresholdDetector::default().detect(&Prepared::new(img, &Default::default()));
/// assert_eq!(found.len(), 1);
/// assert_eq!((found[0].x, found[0].y, found[0].width, found[0].height), (30, 10, 20, 10));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdDetector {
    /// A fixed threshold; `None` picks Otsu's per image.
    pub threshold: Option<u8>,
    /// The smallest object, in working pixels.
    pub min_area: u64,
    /// With Otsu's threshold: the least difference between the bright and
    /// the dark class means for the bright one to be objects at all (an
    /// image of plain background has none).
    pub min_contrast: f64,
}

impl Default for ThresholdDetector {
    fn default() -> Self {
        ThresholdDetector {
            threshold: None,
            min_area: 8,
            min_contrast: 50.0,
        }
    }
}

impl ThresholdDetector {
    /// Reads `threshold=T,min_area=N,min_contrast=X` (any of them).
    ///
    /// # Errors
    ///
    /// A message naming the parameter that is unknown or not a number.
    ///
    /// ```
    /// use flotilla_images::ThresholdDetector;
    /// let d = ThresholdDetector::from_params("threshold=150").unwrap();
    /// assert_eq!(d.threshold, Some(150));
    /// assert!(ThresholdDetector::from_params("size=3").unwrap_err().contains("size"));
    /// ```
    pub fn from_params(params: &str) -> Result<ThresholdDetector, String> {
        let mut d = ThresholdDetector::default();
        for part in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value"))?;
            let bad = |e: std::num::ParseIntError| format!("{key}={value:?}: {e}");
            match key {
                "threshold" => d.threshold = Some(value.parse().map_err(bad)?),
                "min_area" => d.min_area = value.parse().map_err(bad)?,
                "min_contrast" => {
                    d.min_contrast = value.parse().map_err(|e| format!("{key}={value:?}: {e}"))?
                }
                other => {
                    return Err(format!(
                        "unknown parameter {other:?} (known: threshold, min_area, min_contrast)"
                    ))
                }
            }
        }
        Ok(d)
    }
}

fn threshold_detector(params: &str) -> Result<Box<dyn Detector>, String> {
    Ok(Box::new(ThresholdDetector::from_params(params)?))
}
register_detector!("threshold", threshold_detector);

impl Detector for ThresholdDetector {
    fn detect(&self, image: &Prepared) -> Vec<Detection> {
        let gray = image.gray();
        let (w, h) = (gray.width() as usize, gray.height() as usize);
        let pixels = gray.as_raw();
        let threshold = match self.threshold {
            Some(t) => t,
            None => {
                let split = otsu(pixels);
                if split.foreground_mean - split.background_mean < self.min_contrast {
                    // One population (a plain background): nothing stands out.
                    return Vec::new();
                }
                split.threshold
            }
        };
        let labels = label_components(pixels, w, h, threshold);
        let mut objects = vec![Component::EMPTY; labels.components];
        let (mut bg_sum, mut bg_count) = (0u64, 0u64);
        for (i, &label) in labels.ids.iter().enumerate() {
            let value = u64::from(pixels[i]);
            if label == 0 {
                bg_sum += value;
                bg_count += 1;
                continue;
            }
            let root = labels.root[label as usize] as usize;
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            objects[labels.index[root] as usize].add(x, y, value);
        }
        let bg_mean = if bg_count > 0 {
            bg_sum as f64 / bg_count as f64
        } else {
            0.0
        };
        let mut found: Vec<Detection> = objects
            .iter()
            .filter(|c| c.count >= self.min_area.max(1))
            .map(|c| c.detection(bg_mean))
            .collect();
        found.sort_by_key(|d| (d.y, d.x));
        found
    }
}

/// One connected component being measured.
#[derive(Debug, Clone)]
struct Component {
    min_x: u32,
    min_y: u32,
    max_x: u32,
    max_y: u32,
    count: u64,
    sum: u64,
}

impl Component {
    const EMPTY: Component = Component {
        min_x: u32::MAX,
        min_y: u32::MAX,
        max_x: 0,
        max_y: 0,
        count: 0,
        sum: 0,
    };

    fn add(&mut self, x: u32, y: u32, value: u64) {
        self.min_x = self.min_x.min(x);
        self.min_y = self.min_y.min(y);
        self.max_x = self.max_x.max(x);
        self.max_y = self.max_y.max(y);
        self.count += 1;
        self.sum += value;
    }

    fn detection(&self, background: f64) -> Detection {
        let mean = self.sum as f64 / self.count as f64;
        Detection {
            x: self.min_x,
            y: self.min_y,
            width: self.max_x - self.min_x + 1,
            height: self.max_y - self.min_y + 1,
            area: self.count,
            confidence: ((mean - background) / 255.0).clamp(0.0, 1.0),
        }
    }
}

/// Component labels of a thresholded image.
struct Labels {
    /// Per pixel: 0 for background, else a provisional label.
    ids: Vec<u32>,
    /// Per provisional label: its root label.
    root: Vec<u32>,
    /// Per root label: its component's index (`u32::MAX` for non-roots).
    index: Vec<u32>,
    /// How many components there are.
    components: usize,
}

/// Two-pass 8-connected labelling with union-find over provisional labels.
fn label_components(pixels: &[u8], w: usize, h: usize, threshold: u8) -> Labels {
    let mut ids = vec![0u32; w * h];
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut a: u32) -> u32 {
        while parent[a as usize] != a {
            parent[a as usize] = parent[parent[a as usize] as usize];
            a = parent[a as usize];
        }
        a
    }
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if pixels[i] <= threshold {
                continue;
            }
            // Labelled neighbours already visited: W, NW, N, NE.
            let mut neighbours = [0u32; 4];
            if x > 0 {
                neighbours[0] = ids[i - 1];
            }
            if y > 0 {
                let up = i - w;
                if x > 0 {
                    neighbours[1] = ids[up - 1];
                }
                neighbours[2] = ids[up];
                if x + 1 < w {
                    neighbours[3] = ids[up + 1];
                }
            }
            let mut label = 0;
            for &n in neighbours.iter().filter(|&&n| n != 0) {
                let r = find(&mut parent, n);
                if label == 0 {
                    label = r;
                } else if r != label {
                    let (lo, hi) = (label.min(r), label.max(r));
                    parent[hi as usize] = lo;
                    label = lo;
                }
            }
            if label == 0 {
                label = parent.len() as u32;
                parent.push(label);
            }
            ids[i] = label;
        }
    }
    let mut root = vec![0u32; parent.len()];
    let mut index = vec![u32::MAX; parent.len()];
    let mut components = 0u32;
    for l in 1..parent.len() as u32 {
        let r = find(&mut parent, l);
        root[l as usize] = r;
        if index[r as usize] == u32::MAX {
            index[r as usize] = components;
            components += 1;
        }
    }
    Labels {
        ids,
        root,
        index,
        components: components as usize,
    }
}

/// Otsu's split of a histogram: the threshold and the two classes' means.
struct Split {
    threshold: u8,
    background_mean: f64,
    foreground_mean: f64,
}

/// Otsu's threshold: the grey level that best separates the histogram
/// into two classes (largest between-class variance).
fn otsu(pixels: &[u8]) -> Split {
    let mut hist = [0u64; 256];
    for &p in pixels {
        hist[p as usize] += 1;
    }
    let total = pixels.len() as f64;
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(v, &c)| v as f64 * c as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best) = (0.0, 0.0, -1.0);
    let mut split = Split {
        threshold: 255,
        background_mean: 0.0,
        foreground_mean: 0.0,
    };
    for (t, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * c as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            split = Split {
                threshold: t as u8,
                background_mean: m_b,
                foreground_mean: m_f,
            };
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_splits_two_populations_between_them() {
        let mut px = vec![40u8; 900];
        px.extend(vec![220u8; 100]);
        let split = otsu(&px);
        assert!((40..220).contains(&split.threshold));
        assert_eq!(
            (split.background_mean, split.foreground_mean),
            (40.0, 220.0)
        );
    }

    #[test]
    fn diagonal_neighbours_join_and_separate_blobs_stay_apart() {
        // 5×4: a diagonal pair (one object) and a U shape (one object).
        #[rustfmt::skip]
        let px: Vec<u8> = [
            9, 0, 0, 9, 9,
            0, 9, 0, 9, 0,
            0, 0, 0, 9, 9,
            0, 0, 0, 0, 0,
        ].iter().map(|&v| v * 20).collect();
        let labels = label_components(&px, 5, 4, 100);
        assert_eq!(labels.components, 2);
    }

    #[test]
    fn a_u_shape_merges_its_arms_into_one_component() {
        #[rustfmt::skip]
        let px: Vec<u8> = [
            200, 0, 200,
            200, 0, 200,
            200, 200, 200,
        ].to_vec();
        let labels = label_components(&px, 3, 3, 100);
        assert_eq!(labels.components, 1);
    }

    #[test]
    fn unknown_detectors_and_parameters_are_named() {
        assert!(make_detector(&"threshold:min_area=x".parse().unwrap())
            .err()
            .unwrap()
            .contains("min_area"));
        assert!(make_detector(&"threshold:min_area=3".parse().unwrap()).is_ok());
    }
}
