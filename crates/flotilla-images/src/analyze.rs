//! One image, start to end: read, decode, preprocess, detect, measure.
//! This is the task the pipeline runs on a worker, registered by name so
//! every process of the binary can run it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::{cached_detector, Detection, DetectorSpec};
use crate::features::Features;
use crate::prepare::{Prepared, Preprocess};

/// An image to analyse: its path and what identifies its contents (size
/// and modification time), so a changed file gets a new checkpoint key.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("flotilla-img-input-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("a.png");
/// std::fs::write(&path, b"not really").unwrap();
/// let input = flotilla_images::ImageInput::of(&path).unwrap();
/// assert_eq!(input.size, 10);
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageInput {
    /// The file (absolute, as workers read it).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, in nanoseconds since 1970.
    pub modified_ns: u128,
}

impl ImageInput {
    /// The input for the file at `path` (made absolute).
    ///
    /// # Errors
    ///
    /// The file's metadata cannot be read (missing, no permission).
    ///
    /// ```
    /// assert!(flotilla_images::ImageInput::of("/nonexistent.png").is_err());
    /// ```
    pub fn of(path: impl AsRef<Path>) -> std::io::Result<ImageInput> {
        let path = std::path::absolute(path.as_ref())?;
        let meta = std::fs::metadata(&path)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Ok(ImageInput {
            path,
            size: meta.len(),
            modified_ns,
        })
    }
}

/// How every image of a run is analysed.
///
/// ```
/// let s = flotilla_images::Settings::default();
/// assert_eq!(s.detector.name, "threshold");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Settings {
    /// Resizing and smoothing.
    pub preprocess: Preprocess,
    /// The detector, by registered name.
    pub detector: DetectorSpec,
}

/// What one image gave: its size, features and objects (boxes and areas
/// in original pixels), or why it could not be analysed.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("flotilla-img-outcome-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("broken.png");
/// std::fs::write(&path, b"\x89PNG\r\n\x1a\n truncated").unwrap();
/// let out = flotilla_images::analyze(&flotilla_images::ImageInput::of(&path).unwrap(), &Default::default());
/// assert!(out.error.as_deref().unwrap().contains("decoding"));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageOutcome {
    /// The file.
    pub path: PathBuf,
    /// Width and height in pixels (0 when not decoded).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Features, when analysed.
    pub features: Option<Features>,
    /// Objects found, boxes and areas in original pixels.
    pub objects: Vec<Detection>,
    /// Why the image could not be analysed.
    pub error: Option<String>,
}

impl ImageOutcome {
    /// An image that could not be analysed, and why.
    ///
    /// ```
    /// let o = flotilla_images::ImageOutcome::failed("a.png".into(), "gone".into());
    /// assert_eq!(o.error.as_deref(), Some("gone"));
    /// ```
    pub fn failed(path: PathBuf, reason: String) -> ImageOutcome {
        ImageOutcome {
            path,
            width: 0,
            height: 0,
            features: None,
            objects: Vec::new(),
            error: Some(reason),
        }
    }
}

/// Analyses one image: a file that cannot be read or decoded is an
/// outcome with its reason, not an error, so a run records it and goes on.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("flotilla-img-analyze-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("one.png");
/// let mut img = image::RgbImage::from_pixel(64, 64, image::Rgb([30, 60, 30]));
/// for y in 8..24 { for x in 8..24 { img.put_pixel(x, y, image::Rgb([250, 250, 250])); } }
/// img.save(&path).unwrap();
/// let out = flotilla_images::analyze(&flotilla_images::ImageInput::of(&path).unwrap(), &Default::default());
/// assert_eq!((out.width, out.objects.len()), (64, 1));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn analyze(input: &ImageInput, settings: &Settings) -> ImageOutcome {
    let fail = |reason: String| ImageOutcome::failed(input.path.clone(), reason);
    let detector = match cached_detector(&settings.detector) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let prepared = match read_and_prepare(&input.path, &settings.preprocess) {
        Ok(p) => p,
        Err(reason) => return fail(reason),
    };
    let scale = prepared.scale();
    let (width, height) = prepared.original_size();
    let objects = detector
        .detect(&prepared)
        .into_iter()
        .map(|d| to_original(d, scale, width, height))
        .collect();
    ImageOutcome {
        path: input.path.clone(),
        width,
        height,
        features: Some(Features::measure(&prepared)),
        objects,
        error: None,
    }
}

thread_local! {
    /// The file's bytes and its decoded pixels: buffers each worker thread
    /// reuses from image to image instead of allocating (and the kernel
    /// zeroing) a megabyte or two per image.
    static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Reads and decodes the file into this thread's buffers and prepares it.
fn read_and_prepare(path: &Path, how: &Preprocess) -> Result<Prepared, String> {
    use image::ImageDecoder as _;
    use std::io::Read as _;
    BUFFERS.with(|buffers| {
        let (file, pixels) = &mut *buffers.borrow_mut();
        file.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(file))
            .map_err(|e| format!("reading: {e}"))?;
        let decoding = |e: image::ImageError| format!("decoding: {e}");
        let decoder = image::ImageReader::new(std::io::Cursor::new(&file[..]))
            .with_guessed_format()
            .map_err(|e| format!("decoding: {e}"))?
            .into_decoder()
            .map_err(decoding)?;
        let (width, height) = decoder.dimensions();
        if decoder.color_type() == image::ColorType::Rgb8 {
            let size = usize::try_from(decoder.total_bytes())
                .map_err(|_| "decoding: the image is too large".to_string())?;
            pixels.resize(size, 0);
            decoder.read_image(pixels).map_err(decoding)?;
            Ok(Prepared::from_pixels(pixels, width, height, how))
        } else {
            let rgb = image::DynamicImage::from_decoder(decoder)
                .map_err(decoding)?
                .into_rgb8();
            Ok(Prepared::new(rgb, how))
        }
    })
}

/// A working-size detection in original pixels (clamped to the image).
fn to_original(d: Detection, scale: f64, width: u32, height: u32) -> Detection {
    let x = ((f64::from(d.x) * scale).floor() as u32).min(width.saturating_sub(1));
    let y = ((f64::from(d.y) * scale).floor() as u32).min(height.saturating_sub(1));
    let right = ((f64::from(d.x + d.width) * scale).ceil() as u32).min(width);
    let bottom = ((f64::from(d.y + d.height) * scale).ceil() as u32).min(height);
    Detection {
        x,
        y,
        width: right.saturating_sub(x).max(1),
        height: bottom.saturating_sub(y).max(1),
        area: (d.area as f64 * scale * scale).round() as u64,
        confidence: d.confidence,
    }
}

/// The pipeline's task: [`analyze`] on a worker.
#[flotilla_cluster::remote(crate = flotilla_cluster)]
pub fn analyze_image(input: ImageInput, settings: Settings) -> ImageOutcome {
    analyze(&input, &settings)
}
