//! The image-processing case study as a library: a scatter-gather
//! pipeline over many PNG and JPEG images — preprocess (resize, denoise),
//! detect objects, measure features, summarise — with its results in
//! SQLite or PostgreSQL.
//!
//! The design: each image is one task (`analyze_image`, registered by
//! name, so every worker process of the binary can run it) submitted
//! through a flotilla [`Client`](flotilla_cluster::Client) — in-process or
//! a cluster, the same code. Everything a long batch job needs comes from
//! the engine, not from this crate: idle workers pull queued tasks, lost
//! workers' tasks are retried, a straggler can be copied (speculation), and
//! a checkpoint folder lets a re-run read back what is done. What this
//! crate adds: the analysis ([`Prepared`], the [`Detector`] trait and
//! [`ThresholdDetector`], [`Features`]), the rows ([`images_table`],
//! [`objects_table`], [`summary_table`]) and the run ([`Pipeline`]).
//!
//! A corrupt or truncated image is a failed row with its reason, and the
//! run goes on.
//!
//! ```
//! use flotilla_images::{synthetic, Pipeline};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("flotilla-images-doc-{}", std::process::id()));
//! let made = synthetic::generate(dir.join("in"), 8, 128, 3)?;
//! let client = flotilla_cluster::Client::in_process(2)?;
//! let report = Pipeline::new(dir.join("in").to_str().unwrap())
//!     .db(&format!("sqlite:{}", dir.join("out.db").display()))
//!     .checkpoint(dir.join("ckpt"))
//!     .run(&client)?;
//! let drawn: usize = made.iter().map(|m| m.objects.len()).sum();
//! assert_eq!(report.summary.objects, drawn as u64);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

mod analyze;
mod detect;
mod error;
mod features;
mod inputs;
mod pipeline;
mod prepare;
mod records;
pub mod synthetic;

pub use analyze::{analyze, analyze_image, ImageInput, ImageOutcome, Settings};
pub use detect::{
    detector_names, make_detector, Detection, Detector, DetectorEntry, DetectorSpec, MakeDetector,
    ThresholdDetector,
};
pub use error::ImagesError;
pub use features::Features;
pub use inputs::list_images;
pub use pipeline::{Pipeline, RunReport};
pub use prepare::{Prepared, Preprocess};
pub use records::{images_table, objects_table, summary_table, Summary};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
