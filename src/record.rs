//! RECORD, rewritten to list what is really left.
//!
//! importlib.metadata.files() and packages_distributions() read RECORD, and so do pip and
//! scanners. After slimming, its removed rows go, rewritten files (METADATA) get their new hash
//! and size, and the bytecode we compiled is listed without a hash, as pip lists the pycs it
//! compiles. Rows keep their original order; new rows follow, sorted.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::dists::{record_row, Dist};

/// `sha256=<urlsafe base64, no padding>` as in PEP 376 / the wheel spec.
pub fn hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// `hash` of a file's content, streamed (a 180 MB library is never held in memory), and its size.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let digest = hasher.finalize();
    Ok((
        format!(
            "sha256={}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        ),
        size,
    ))
}

/// What happened to one distribution's files, for rewriting its RECORD.
pub struct Changes<'a> {
    /// Paths (relative to the root) no longer there.
    pub gone: &'a HashSet<&'a Path>,
    /// Hash (RECORD form) and size of rewritten files.
    pub rewritten: &'a HashMap<&'a Path, (String, u64)>,
    /// Bytecode we wrote for this distribution (relative to the root).
    pub compiled: &'a [PathBuf],
}

/// The distribution's new RECORD text: kept rows in their order (rewritten files with their new
/// hash and size, compiled bytecode and RECORD itself without one), removed rows dropped, newly
/// compiled bytecode appended, sorted.
pub fn rewrite(dist: &Dist, site_packages: &Path, changes: &Changes) -> String {
    let mut out = String::new();
    let mut listed: HashSet<&Path> = HashSet::new();
    let compiled: HashSet<&Path> = changes.compiled.iter().map(PathBuf::as_path).collect();
    for r in &dist.record {
        let Some(path) = r.path.as_deref() else {
            out.push_str(&record_row(&[&r.raw, &r.hash, &r.size]));
            continue;
        };
        if !listed.insert(path) {
            continue;
        }
        if compiled.contains(path) || path == dist.dir.join("RECORD") {
            out.push_str(&record_row(&[&r.raw, "", ""]));
        } else if changes.gone.contains(path) {
            continue;
        } else if let Some((hash, size)) = changes.rewritten.get(path) {
            out.push_str(&record_row(&[&r.raw, hash, &size.to_string()]));
        } else {
            out.push_str(&record_row(&[&r.raw, &r.hash, &r.size]));
        }
    }
    let mut extra: Vec<&Path> = compiled
        .iter()
        .copied()
        .filter(|p| !listed.contains(p))
        .collect();
    extra.sort();
    for p in extra {
        if let Ok(rel) = p.strip_prefix(site_packages) {
            out.push_str(&record_row(&[&rel.to_string_lossy(), "", ""]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dists::RecordEntry;

    fn entry(sp: &Path, raw: &str, hash: &str, size: &str) -> RecordEntry {
        RecordEntry {
            raw: raw.into(),
            path: crate::dists::join_normalized(sp, raw),
            hash: hash.into(),
            size: size.into(),
        }
    }

    #[test]
    fn hash_matches_the_wheel_format() {
        // echo -n "" | sha256sum, urlsafe-base64 without padding.
        assert_eq!(
            hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn streamed_hash_matches() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(hash_file(&p).unwrap(), (hash(&data), data.len() as u64));
    }

    #[test]
    fn rewrites_rows() {
        let sp = Path::new("lib/python3.11/site-packages");
        let dist = Dist {
            name: "foo".into(),
            normalized: "foo".into(),
            version: "1".into(),
            dir: sp.join("foo-1.dist-info"),
            record: vec![
                entry(sp, "foo/__init__.py", "sha256=a", "1"),
                entry(
                    sp,
                    "foo/__pycache__/__init__.cpython-311.pyc",
                    "sha256=b",
                    "2",
                ),
                entry(sp, "foo/tests/t.py", "sha256=c", "3"),
                entry(sp, "foo-1.dist-info/METADATA", "sha256=d", "400"),
                entry(sp, "foo-1.dist-info/RECORD", "", ""),
                entry(sp, "../../../bin/foo", "sha256=e", "5"),
            ],
            top_levels: Default::default(),
        };
        let gone_t = sp.join("foo/tests/t.py");
        let gone: HashSet<&Path> = [gone_t.as_path()].into();
        let meta = sp.join("foo-1.dist-info/METADATA");
        let rewritten: HashMap<&Path, (String, u64)> = [(meta.as_path(), (hash(b""), 0))].into();
        let compiled = vec![
            sp.join("foo/__pycache__/__init__.cpython-311.pyc"),
            sp.join("foo/__pycache__/x.cpython-311.pyc"),
        ];
        let text = rewrite(
            &dist,
            sp,
            &Changes {
                gone: &gone,
                rewritten: &rewritten,
                compiled: &compiled,
            },
        );
        assert_eq!(
            text,
            "foo/__init__.py,sha256=a,1\nfoo/__pycache__/__init__.cpython-311.pyc,,\nfoo-1.dist-info/METADATA,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\nfoo-1.dist-info/RECORD,,\n../../../bin/foo,sha256=e,5\nfoo/__pycache__/x.cpython-311.pyc,,\n"
        );
    }
}
