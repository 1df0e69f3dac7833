//! RECORD as the slimmed tree must leave it: every row names a file that is there, with the
//! size and the sha256 of its bytes (the wheel spec's `sha256=<urlsafe-b64, no padding>`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// The sha256 of `bytes` as RECORD spells it (urlsafe base64, no padding).
pub fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// `base/rel` with `..` resolved lexically; None when it climbs above the root.
fn normalize(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Check RECORD of `dist_info` in the tree at `root`: every row names a file that is there, with
/// the size and sha256 of its bytes; rows without a hash are only RECORD itself and bytecode.
/// Returns the listed paths as written (relative to site-packages).
pub fn check_record(root: &Path, sp_rel: &Path, dist_info: &str) -> BTreeSet<String> {
    let record = root.join(sp_rel).join(dist_info).join("RECORD");
    let text = fs::read_to_string(&record).unwrap_or_else(|e| panic!("{}: {e}", record.display()));
    let mut listed = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        assert!(
            !line.contains('"'),
            "unexpected quoting in RECORD row {line:?}"
        );
        let fields: Vec<&str> = line.rsplitn(3, ',').collect();
        let [size, hash, path] = fields[..] else {
            panic!("bad RECORD row {line:?}")
        };
        assert!(
            listed.insert(path.to_string()),
            "{path} listed twice in {}",
            record.display()
        );
        let Some(inside) = normalize(sp_rel, path) else {
            // Outside the tree given (`../../../bin/x` in a bare site-packages): not ours to check.
            continue;
        };
        let file = root.join(inside);
        let meta = fs::symlink_metadata(&file)
            .unwrap_or_else(|e| panic!("RECORD lists {path}, which is not in the tree ({e})"));
        if hash.is_empty() {
            assert!(
                path == format!("{dist_info}/RECORD") || path.ends_with(".pyc"),
                "{path} has no hash in RECORD"
            );
            assert_eq!(size, "", "{path}: size without a hash");
            continue;
        }
        assert!(
            meta.is_file(),
            "RECORD hashes {path}, which is not a regular file"
        );
        let bytes = fs::read(&file).unwrap();
        assert_eq!(
            hash,
            format!("sha256={}", sha256_b64(&bytes)),
            "RECORD hash of {path}"
        );
        assert_eq!(size, bytes.len().to_string(), "RECORD size of {path}");
    }
    listed
}
