//! How a path is written into JSON: as a string, lossily when it is not UTF-8, so `--json`
//! never fails on a strange file name. A leaf, so data types anywhere can use it.

use std::path::Path;

/// Serialize a path as a string even when it is not UTF-8 (lossy), so `--json` never fails on
/// a strange file name.
pub fn lossy_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// `lossy_path` for a list of paths.
pub fn lossy_paths<S: serde::Serializer>(
    paths: &[std::path::PathBuf],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}
