//! Reading a `--json` report of `slim`: its actions, and which paths it says are gone from their
//! place on purpose (removed or moved), so a test can tell a deliberate removal from a breakage.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::path_str;

/// The report's `actions` array.
pub fn actions(report: &Value) -> &Vec<Value> {
    report["actions"].as_array().expect("actions array")
}

/// The report's action on `path` (relative to the venv root, as the report spells it).
pub fn action<'a>(report: &'a Value, path: &str) -> Option<&'a Value> {
    actions(report).iter().find(|a| a["path"] == path)
}

/// Paths (relative to the venv root) that the report says are gone from their place: removed or
/// moved. A path is covered if it or one of its parent directories is listed.
pub fn removed_paths(report: &Value) -> BTreeSet<String> {
    report["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| matches!(a["action"].as_str(), Some("remove" | "move")))
        .filter_map(|a| {
            a["path"]
                .as_str()
                .map(|s| s.trim_end_matches('/').to_string())
        })
        .collect()
}

/// Whether `rel` or one of its parent directories is in `removed` (see `removed_paths`).
pub fn is_removed(removed: &BTreeSet<String>, rel: &str) -> bool {
    Path::new(rel)
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .any(|p| removed.contains(p.to_str().unwrap_or_default()))
}

/// Whether `rel` (relative to `venv`) is gone on purpose: it or a parent directory is reported
/// removed or moved, or it is a directory all of whose files are (reports list files one by one).
pub fn is_gone_on_purpose(venv: &Path, removed: &BTreeSet<String>, rel: &str) -> bool {
    if is_removed(removed, rel) {
        return true;
    }
    let dir = venv.join(rel);
    dir.is_dir()
        && walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .all(|e| {
                is_removed(
                    removed,
                    path_str(e.path().strip_prefix(venv).expect("under venv")),
                )
            })
}
