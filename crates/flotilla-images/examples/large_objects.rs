//! The image pipeline used as a library, with a detector of one's own.
//!
//! Registers a detector that keeps only *large* objects (at least a given
//! share of the image, from the built-in threshold detector's), runs it
//! over a folder of images in this process — the same `Pipeline::run`
//! takes a cluster's client — with results in SQLite and a checkpoint,
//! then reads a few rows back.
//!
//! ```text
//! cargo run --release -p flotilla-images --example large_objects -- [FOLDER] [DB]
//! ```
//! Without a folder it writes 50 synthetic images into a temporary one.

use flotilla_images::{
    register_detector, synthetic, Detection, Detector, Pipeline, Prepared, ThresholdDetector,
};

/// The threshold detector's objects covering at least `share` of the image.
struct LargeObjects {
    inner: ThresholdDetector,
    share: f64,
}

impl Detector for LargeObjects {
    fn detect(&self, image: &Prepared) -> Vec<Detection> {
        let pixels = f64::from(image.gray().width() * image.gray().height());
        self.inner
            .detect(image)
            .into_iter()
            .filter(|d| d.area as f64 >= self.share * pixels)
            .collect()
    }

    fn version(&self) -> String {
        "large-1".into()
    }
}

/// Parameters: `share=0.02` (the default), then the threshold detector's.
fn large_objects(params: &str) -> Result<Box<dyn Detector>, String> {
    let mut share = 0.02;
    let mut rest = Vec::new();
    for part in params.split(',').filter(|p| !p.is_empty()) {
        match part.strip_prefix("share=") {
            Some(v) => share = v.parse().map_err(|e| format!("share={v:?}: {e}"))?,
            None => rest.push(part),
        }
    }
    let inner = ThresholdDetector::from_params(&rest.join(","))?;
    Ok(Box::new(LargeObjects { inner, share }))
}

// Every process of this binary (workers of a cluster included) knows it.
register_detector!("large-objects", large_objects);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A copy of this binary started as a cluster worker never returns here.
    flotilla_cluster::worker_if_asked();
    let mut args = std::env::args().skip(1);
    let scratch =
        std::env::temp_dir().join(format!("flotilla-large-objects-{}", std::process::id()));
    let folder = match args.next() {
        Some(f) => f,
        None => {
            let dir = scratch.join("images");
            synthetic::generate(&dir, 50, 512, 7)?;
            dir.to_string_lossy().into_owned()
        }
    };
    let db = args
        .next()
        .unwrap_or_else(|| format!("sqlite:{}", scratch.join("objects.db").display()));
    std::fs::create_dir_all(&scratch)?;

    let client = flotilla_cluster::Client::in_process(2)?;
    let report = Pipeline::new(&folder)
        .db(&db)
        .detector("large-objects:share=0.02".parse()?)
        .checkpoint(scratch.join("ckpt"))
        .run(&client)?;
    let s = &report.summary;
    println!(
        "{} images ({} failed), {} large objects, {:.0} images/s; rows in {}",
        s.images,
        s.failed,
        s.objects,
        report.images_per_second(),
        report.database
    );
    let sink = flotilla_sink::Sink::open(&db)?;
    for row in sink.rows(&flotilla_images::objects_table())?.iter().take(3) {
        println!("  {row:?}");
    }
    Ok(())
}
