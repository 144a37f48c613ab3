//! [`TextOptions`]: how [`read_text_with`](super::read_text_with) and
//! [`read_text_bytes_with`](super::read_text_bytes_with) cut their input.

use crate::mapreduce::split::{default_split_bytes, plan_splits, InputError, InputSplit};

/// How text files are read into a bag.
///
/// | option | default |
/// |---|---|
/// | [`split_bytes`](Self::split_bytes) | input size / (4 × threads), within 1..=64 MiB |
///
/// The default split size is the rule of the MapReduce jobs: about four
/// partitions per thread of the machine, so that work stealing can even them
/// out, none smaller than 1 MiB (a small input is one partition) nor larger
/// than 64 MiB.
///
/// ```
/// use flotilla::bag::{read_text_with, TextOptions};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-text-options-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("a.txt");
/// std::fs::write(&file, "one\ntwo\nthree\n").unwrap();
///
/// let lines = read_text_with(&[file.to_str().unwrap()], TextOptions::new().split_bytes(4))?;
/// assert_eq!(lines.npartitions(), 4);
/// assert_eq!(lines.compute()?, ["one", "two", "three"]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    split_bytes: Option<u64>,
}

impl TextOptions {
    /// The defaults: a split size derived from the input.
    ///
    /// ```
    /// use flotilla::bag::TextOptions;
    /// assert_eq!(TextOptions::new(), TextOptions::default());
    /// ```
    pub fn new() -> TextOptions {
        TextOptions::default()
    }

    /// Bytes per input split, i.e. per partition (at least 1); gzip files
    /// are one split each whatever it is.
    ///
    /// ```
    /// use flotilla::bag::TextOptions;
    /// let options = TextOptions::new().split_bytes(32 << 20);
    /// ```
    pub fn split_bytes(mut self, bytes: u64) -> TextOptions {
        self.split_bytes = Some(bytes);
        self
    }

    /// The splits of `inputs`: cut at the chosen size, or at one derived
    /// from the input's total size.
    pub(crate) fn plan<P: AsRef<str>>(&self, inputs: &[P]) -> Result<Vec<InputSplit>, InputError> {
        if let Some(bytes) = self.split_bytes {
            return plan_splits(inputs, bytes);
        }
        let whole_files = plan_splits(inputs, u64::MAX)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        plan_splits(inputs, default_split_bytes(&whole_files, threads))
    }
}
