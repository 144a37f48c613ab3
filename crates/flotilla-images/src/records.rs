//! The rows a run stores: one per image, one per object, and the run's
//! summary; and the tables that hold them.

use flotilla_sink::{ColumnType, Table, Value};

use crate::analyze::ImageOutcome;

/// The `images` table: one row per image, keyed by path; `status` is `ok`
/// or `failed` (then `reason` says why).
///
/// ```
/// assert_eq!(flotilla_images::images_table().key_columns(), ["path"]);
/// ```
pub fn images_table() -> Table {
    use ColumnType::{Integer, Real, Text};
    Table::new("images")
        .column("path", Text)
        .column("status", Text)
        .column("reason", Text)
        .column("width", Integer)
        .column("height", Integer)
        .column("objects", Integer)
        .column("mean_red", Real)
        .column("mean_green", Real)
        .column("mean_blue", Real)
        .column("brightness", Real)
        .column("edge_density", Real)
        .column("vegetation", Real)
        .column("histogram", Text)
        .column("detector", Text)
        .key(["path"])
}

/// The `objects` table: one row per detected object, keyed by the image's
/// path and the object's number in it; boxes and areas in pixels of the
/// original image.
///
/// ```
/// assert_eq!(flotilla_images::objects_table().key_columns(), ["path", "object"]);
/// ```
pub fn objects_table() -> Table {
    use ColumnType::{Integer, Real, Text};
    Table::new("objects")
        .column("path", Text)
        .column("object", Integer)
        .column("x", Integer)
        .column("y", Integer)
        .column("width", Integer)
        .column("height", Integer)
        .column("area", Integer)
        .column("confidence", Real)
        .key(["path", "object"])
}

/// The `summary` table: the last run's figures per input, by metric name.
///
/// ```
/// assert_eq!(flotilla_images::summary_table().key_columns(), ["input", "metric"]);
/// ```
pub fn summary_table() -> Table {
    Table::new("summary")
        .column("input", ColumnType::Text)
        .column("metric", ColumnType::Text)
        .column("value", ColumnType::Real)
        .key(["input", "metric"])
}

pub(crate) fn image_row(o: &ImageOutcome, detector: &str) -> Vec<Value> {
    let f = o.features.as_ref();
    let histogram = f.map(|f| {
        f.histogram
            .iter()
            .map(|v| format!("{v:.5}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    vec![
        o.path.to_string_lossy().into_owned().into(),
        if o.error.is_some() { "failed" } else { "ok" }.into(),
        o.error.clone().into(),
        o.width.into(),
        o.height.into(),
        (o.objects.len() as i64).into(),
        f.map(|f| f.mean_red).into(),
        f.map(|f| f.mean_green).into(),
        f.map(|f| f.mean_blue).into(),
        f.map(|f| f.brightness).into(),
        f.map(|f| f.edge_density).into(),
        f.map(|f| f.vegetation).into(),
        histogram.into(),
        detector.into(),
    ]
}

pub(crate) fn object_rows(o: &ImageOutcome) -> impl Iterator<Item = Vec<Value>> + '_ {
    let path = o.path.to_string_lossy().into_owned();
    o.objects.iter().enumerate().map(move |(i, d)| {
        vec![
            path.clone().into(),
            (i as i64).into(),
            d.x.into(),
            d.y.into(),
            d.width.into(),
            d.height.into(),
            Value::Integer(i64::try_from(d.area).unwrap_or(i64::MAX)),
            d.confidence.into(),
        ]
    })
}

/// What a run found, over all its images: counts and distributions.
///
/// ```
/// let s = flotilla_images::Summary::default();
/// assert_eq!(s.images, 0);
/// assert!(s.metrics().iter().any(|(name, _)| *name == "objects"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Images in the run.
    pub images: u64,
    /// Images analysed.
    pub analysed: u64,
    /// Images that could not be analysed (failed rows).
    pub failed: u64,
    /// Objects found.
    pub objects: u64,
    /// Images by number of objects: 0, 1, 2, 3, 4, 5 or more.
    pub objects_per_image: [u64; 6],
    /// Object areas (original pixels), for their distribution.
    areas: Vec<u64>,
    confidence_sum: f64,
    vegetation_sum: f64,
    edge_sum: f64,
    brightness_sum: f64,
}

impl Summary {
    /// Counts one image's outcome.
    ///
    /// ```
    /// let mut s = flotilla_images::Summary::default();
    /// s.add(&flotilla_images::ImageOutcome::failed("x.png".into(), "bad".into()));
    /// assert_eq!((s.images, s.failed), (1, 1));
    /// ```
    pub fn add(&mut self, o: &ImageOutcome) {
        self.images += 1;
        let Some(f) = &o.features else {
            self.failed += 1;
            return;
        };
        self.analysed += 1;
        self.objects += o.objects.len() as u64;
        self.objects_per_image[o.objects.len().min(5)] += 1;
        self.areas.extend(o.objects.iter().map(|d| d.area));
        self.confidence_sum += o.objects.iter().map(|d| d.confidence).sum::<f64>();
        self.vegetation_sum += f.vegetation;
        self.edge_sum += f.edge_density;
        self.brightness_sum += f.brightness;
    }

    /// The figures by name, as the `summary` table stores them.
    ///
    /// ```
    /// let s = flotilla_images::Summary::default();
    /// let names: Vec<_> = s.metrics().into_iter().map(|(n, _)| n).collect();
    /// assert!(names.contains(&"area_median"));
    /// ```
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let per = |sum: f64, n: u64| if n == 0 { 0.0 } else { sum / n as f64 };
        let mut areas = self.areas.clone();
        areas.sort_unstable();
        let quantile = |q: f64| {
            if areas.is_empty() {
                0.0
            } else {
                areas[((areas.len() - 1) as f64 * q).round() as usize] as f64
            }
        };
        let mut m = vec![
            ("images", self.images as f64),
            ("analysed", self.analysed as f64),
            ("failed", self.failed as f64),
            ("objects", self.objects as f64),
            (
                "objects_per_image_mean",
                per(self.objects as f64, self.analysed),
            ),
            ("area_min", areas.first().map_or(0.0, |&a| a as f64)),
            ("area_median", quantile(0.5)),
            ("area_p90", quantile(0.9)),
            ("area_max", areas.last().map_or(0.0, |&a| a as f64)),
            ("confidence_mean", per(self.confidence_sum, self.objects)),
            ("vegetation_mean", per(self.vegetation_sum, self.analysed)),
            ("edge_density_mean", per(self.edge_sum, self.analysed)),
            ("brightness_mean", per(self.brightness_sum, self.analysed)),
        ];
        const BY_COUNT: [&str; 6] = [
            "images_with_0_objects",
            "images_with_1_object",
            "images_with_2_objects",
            "images_with_3_objects",
            "images_with_4_objects",
            "images_with_5_or_more_objects",
        ];
        m.extend(
            BY_COUNT
                .iter()
                .zip(self.objects_per_image)
                .map(|(&n, c)| (n, c as f64)),
        );
        m
    }
}
