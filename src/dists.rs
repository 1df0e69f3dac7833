//! Installed distributions: what `*.dist-info` says about who owns which file.
//!
//! Every removal is attributed to a distribution (the report groups by it, `--keep-package`
//! protects by it, and a later restore needs it). RECORD is the authority for ownership, as for
//! pip and uv: its paths are relative to site-packages and may climb out of it
//! (`../../../bin/uvicorn`). Files RECORD does not list (bytecode compiled after install, files
//! a package wrote at run time) belong to the distribution that owns their top-level directory.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::inventory::{Inventory, Kind};
use crate::safepath::read_nofollow;

/// One installed distribution, from its `*.dist-info`.
#[derive(Debug, Clone)]
pub struct Dist {
    /// Name as METADATA spells it.
    pub name: String,
    /// PEP 503 normalised name, for matching.
    pub normalized: String,
    /// Version as METADATA spells it.
    pub version: String,
    /// The `*.dist-info` directory, relative to the venv root.
    pub dir: PathBuf,
    /// Its RECORD's rows, in file order.
    pub record: Vec<RecordEntry>,
    /// Top-level import names (top_level.txt, else the first component of RECORD paths
    /// inside site-packages).
    pub top_levels: BTreeSet<String>,
}

/// One row of RECORD: `path,hash,size`.
#[derive(Debug, Clone)]
pub struct RecordEntry {
    /// As written in RECORD (relative to site-packages).
    pub raw: String,
    /// Relative to the venv root; None when it points outside the tree.
    pub path: Option<PathBuf>,
    /// `sha256=<urlsafe base64>`, as written; empty where RECORD gives none (RECORD itself,
    /// pip's pycs).
    pub hash: String,
    /// Size in bytes, as written (may be empty).
    pub size: String,
}

/// PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Split RECORD into rows: CSV with `"` quoting, as written by the `csv` module.
pub fn parse_record(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                if row.iter().any(|f| !f.is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// One RECORD row, quoted the way Python's csv module quotes (only when needed).
pub fn record_row(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

/// Resolve `base/rel` lexically (`..` pops); None if it climbs above the root.
pub fn join_normalized(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for comp in base.join(rel).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The RFC 822 header block of METADATA / PKG-INFO: everything before the first empty line.
/// Returns `(header, had_more)`; a `Description:` header (the long description written the old
/// way, as folded lines) is dropped too.
pub fn metadata_header(bytes: &[u8]) -> (Vec<u8>, bool) {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(8192));
    let mut in_description = false;
    let mut had_more = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare.is_empty() {
            had_more |= !text[offset..].trim().is_empty();
            break;
        }
        let continuation = bare.starts_with([' ', '\t']);
        if !continuation {
            in_description = bare.to_ascii_lowercase().starts_with("description:");
        }
        if in_description {
            had_more = true;
            continue;
        }
        out.push_str(bare);
        out.push('\n');
    }
    (out.into_bytes(), had_more)
}

/// First value of a header in a METADATA header block.
pub fn header_value(header: &str, key: &str) -> Option<String> {
    header.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().to_string())
    })
}

/// Read every `*.dist-info` directly in site-packages.
pub fn discover(root: &Path, site_packages: &Path, inv: &Inventory) -> Vec<Dist> {
    let mut dists: Vec<Dist> = inv
        .entries
        .iter()
        .filter(|e| e.kind == Kind::Dir && e.path.parent() == Some(site_packages))
        .filter(|e| e.name().ends_with(".dist-info"))
        .map(|e| read_dist(root, site_packages, &e.path))
        .collect();
    dists.sort_by(|a, b| a.normalized.cmp(&b.normalized).then(a.dir.cmp(&b.dir)));
    dists
}

fn read_dist(root: &Path, site_packages: &Path, dir: &Path) -> Dist {
    let stem = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .trim_end_matches(".dist-info");
    let (dir_name, dir_version) = stem.split_once('-').unwrap_or((stem, ""));
    let meta = read_nofollow(&root.join(dir).join("METADATA")).unwrap_or_default();
    let (header, _) = metadata_header(&meta);
    let header = String::from_utf8_lossy(&header);
    let name = header_value(&header, "Name").unwrap_or_else(|| dir_name.to_string());
    let version = header_value(&header, "Version").unwrap_or_else(|| dir_version.to_string());
    let record_text = read_nofollow(&root.join(dir).join("RECORD")).unwrap_or_default();
    let record: Vec<RecordEntry> = parse_record(&String::from_utf8_lossy(&record_text))
        .into_iter()
        .filter_map(|row| {
            let raw = row.first()?.clone();
            Some(RecordEntry {
                path: join_normalized(site_packages, &raw),
                hash: row.get(1).cloned().unwrap_or_default(),
                size: row.get(2).cloned().unwrap_or_default(),
                raw,
            })
        })
        .collect();
    let top_text = read_nofollow(&root.join(dir).join("top_level.txt")).unwrap_or_default();
    let top_text = String::from_utf8_lossy(&top_text);
    let mut top_levels: BTreeSet<String> = top_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.replace('/', "."))
        .collect();
    if top_levels.is_empty() {
        top_levels = record
            .iter()
            .filter_map(|r| {
                r.path
                    .as_deref()?
                    .strip_prefix(site_packages)
                    .ok()?
                    .components()
                    .next()
            })
            .filter_map(|c| c.as_os_str().to_str())
            .filter(|c| !c.ends_with(".dist-info") && !c.ends_with(".pth") && *c != "..")
            .map(|c| {
                c.trim_end_matches(".py")
                    .split('.')
                    .next()
                    .unwrap_or(c)
                    .to_string()
            })
            .filter(|c| !c.is_empty() && c != "__pycache__")
            .collect();
    }
    Dist {
        normalized: normalize_name(&name),
        name,
        version,
        dir: dir.to_path_buf(),
        record,
        top_levels,
    }
}

/// Which distribution owns a path.
#[derive(Debug, Default)]
pub struct Ownership {
    by_path: HashMap<PathBuf, usize>,
    by_top: HashMap<PathBuf, usize>,
    site_packages: PathBuf,
}

/// Whether a normalized distribution name is an installer (pip, setuptools, wheel, distribute).
pub fn is_installer(normalized: &str) -> bool {
    matches!(normalized, "pip" | "setuptools" | "wheel" | "distribute")
}

impl Ownership {
    /// Index every RECORD path, and every top-level directory a distribution's RECORD reaches
    /// into, by the distribution's index in `dists`.
    ///
    /// A path two RECORDs claim (old-style namespace `__init__.py` files, or a RECORD written to
    /// claim another's files) goes to the later one in `dists`' order, except that an
    /// installer's claim never takes a path from another distribution: installers are removed
    /// whole, so a RECORD line in a `pip`-named distribution must not take a kept package's file
    /// with it.
    pub fn new(dists: &[Dist], site_packages: &Path) -> Ownership {
        let mut own = Ownership {
            site_packages: site_packages.to_path_buf(),
            ..Default::default()
        };
        let installer = |i: usize| is_installer(&dists[i].normalized);
        for (i, d) in dists.iter().enumerate() {
            own.by_top.insert(d.dir.clone(), i);
            for r in &d.record {
                let Some(p) = &r.path else { continue };
                match own.by_path.get(p) {
                    Some(&other) if installer(i) && !installer(other) => {}
                    _ => {
                        own.by_path.insert(p.clone(), i);
                    }
                }
                if let Ok(inner) = p.strip_prefix(site_packages) {
                    let mut comps = inner.components();
                    if let (Some(first), Some(_)) = (comps.next(), comps.next()) {
                        let top = site_packages.join(first);
                        match own.by_top.get(&top) {
                            Some(&other) if !installer(other) || installer(i) => {}
                            _ => {
                                own.by_top.insert(top, i);
                            }
                        }
                    }
                }
            }
        }
        own
    }

    /// The owning distribution's index: RECORD first, then a pyc's source, then the top-level
    /// directory (paths relative to the venv root).
    pub fn owner(&self, path: &Path) -> Option<usize> {
        if let Some(i) = self.by_path.get(path) {
            return Some(*i);
        }
        if let Some(source) = source_of_pyc(path) {
            if let Some(i) = self.by_path.get(&source) {
                return Some(*i);
            }
        }
        let inner = path.strip_prefix(&self.site_packages).ok()?;
        let first = inner.components().next()?;
        self.by_top.get(&self.site_packages.join(first)).copied()
    }
}

/// `pkg/__pycache__/mod.cpython-311.pyc` -> `pkg/mod.py`; `pkg/mod.pyc` -> `pkg/mod.py`.
pub fn source_of_pyc(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if !name.ends_with(".pyc") && !name.ends_with(".pyo") {
        return None;
    }
    let parent = path.parent()?;
    let stem = name.split('.').next()?;
    if parent.file_name()? == "__pycache__" {
        Some(parent.parent()?.join(format!("{stem}.py")))
    } else {
        Some(parent.join(format!("{stem}.py")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize() {
        assert_eq!(normalize_name("Typing_Extensions"), "typing-extensions");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("a--_.b"), "a-b");
    }

    #[test]
    fn record_round_trip_with_quotes() {
        let rows =
            parse_record("a/b.py,sha256=x,12\r\n\"we,ird.py\",,\n../../../bin/x,sha256=y,3\n");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][0], "we,ird.py");
        assert_eq!(record_row(&["we,ird.py", "", ""]), "\"we,ird.py\",,\n");
        assert_eq!(rows[2], vec!["../../../bin/x", "sha256=y", "3"]);
    }

    #[test]
    fn record_paths_climb_out_of_site_packages() {
        let sp = Path::new("lib/python3.11/site-packages");
        assert_eq!(
            join_normalized(sp, "../../../bin/uvicorn").unwrap(),
            PathBuf::from("bin/uvicorn")
        );
        assert_eq!(join_normalized(sp, "../../../../etc/passwd"), None);
    }

    #[test]
    fn metadata_header_drops_body_and_description() {
        let meta = b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nDescription: long\n        |more\n        |lines\nRequires-Dist: bar\n\n# Foo\n\nreadme body\n";
        let (head, more) = metadata_header(meta);
        let head = String::from_utf8(head).unwrap();
        assert!(more);
        assert_eq!(
            head,
            "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: bar\n"
        );
        let (same, more) = metadata_header(head.as_bytes());
        assert!(!more);
        assert_eq!(same, head.as_bytes());
        assert_eq!(header_value(&head, "version").as_deref(), Some("1.0"));
    }

    #[test]
    fn pyc_sources() {
        assert_eq!(
            source_of_pyc(Path::new("sp/pkg/__pycache__/m.cpython-311.opt-1.pyc")).unwrap(),
            PathBuf::from("sp/pkg/m.py")
        );
        assert_eq!(
            source_of_pyc(Path::new("sp/m.pyc")).unwrap(),
            PathBuf::from("sp/m.py")
        );
        assert_eq!(source_of_pyc(Path::new("sp/m.py")), None);
    }
}
