//! Zipping pure packages for zipimport (`--zip-pure`), without slowing start-up.
//!
//! A venv's pure-Python packages are thousands of small files; one zip on sys.path holds them in
//! far fewer bytes and one inode, and zipimport reads them at the speed of a directory as long as
//! each `name.py` has an unchecked-hash `name.pyc` beside it in the archive (zipimport never looks
//! in `__pycache__/`; a `.py`-only zip recompiles every module at every start, and timestamp pycs
//! in a zip go stale with the time zone). What cannot live in a zip stays on disk: extension
//! modules and other native files, packages that read files next to a module's `__file__`,
//! packages that ship data files unless they read them only through the loader, `.pth` files,
//! and every `*.dist-info` directory (importlib.metadata stays fast, and scanners such as Trivy
//! and Syft, which never look inside zips, still see every package).
//!
//! Files: `select.rs` decides which distributions go (pure: part of the plan, so `--dry-run`
//! shows each refusal with its evidence), `scan.rs` is the static scan for file access, `reads.rs`
//! turns its findings and the files a distribution ships into refusals, and `write.rs` encodes
//! the deterministic archive (sorted entries, fixed timestamps and permissions, an explicit entry
//! for every directory, which namespace packages need) into a file apply creates.

mod reads;
mod scan;
mod select;
#[cfg(test)]
mod select_tests;
mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use reads::{is_data, LOADER_READERS};
pub use scan::{scan, Hit, Needs, Scan};
pub use select::select;
pub use write::{archive_size, read_names, rebuild_without, write_archive, Content, Member};

use crate::rules::{Category, Guard, Rule};
use crate::venv::PythonVersion;

/// The archive's file name in site-packages.
pub const ARCHIVE: &str = "_venvslim_pure.zip";
/// The `.pth` file that puts the archive on sys.path (its one line is `ARCHIVE`).
pub const PTH: &str = "_venvslim_pure.pth";
/// Entries a zip may hold without ZIP64, which zipimport reads only from Python 3.13 on.
pub const MAX_ENTRIES_WITHOUT_ZIP64: usize = 65_535;

/// The rule named for files moved into the archive (and for RECORD files rewritten only because
/// of it, with `--dist-info keep`). Not a removal rule, so not in `venvslim rules`.
pub static ZIPPED: Rule = Rule {
    id: "zip.pure",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "a pure distribution's files in site-packages moved into the zip on sys.path; RECORD lists only what is left on disk",
    evidence: "zipimport loads .py with its unchecked-hash .pyc beside it; dist-info stays on disk for importlib.metadata and scanners",
};

/// What `--zip-pure` will do, computed from the input tree and the plan's kept files.
#[derive(Debug, Clone)]
pub struct ZipPlan {
    /// The archive, relative to the venv root.
    pub archive: PathBuf,
    /// The `.pth` that puts it on sys.path, relative to the venv root.
    pub pth: PathBuf,
    /// Only `name.pyc` in the archive, no `name.py` (`--zip-sourceless`).
    pub sourceless: bool,
    /// Distributions zipped, sorted by normalized name.
    pub dists: Vec<ZipDist>,
    /// Distributions left on disk, and why.
    pub refused: Vec<Refusal>,
    /// Inventory indices of the files that go into the archive, sorted.
    pub members: Vec<usize>,
    /// `top_level.txt` files to write for zipped distributions that have none: with their
    /// `.py` files gone from RECORD, `packages_distributions()` would lose them otherwise.
    pub top_level: Vec<TopLevel>,
    /// Entries the archive will hold at most (directories, files, one pyc per source).
    pub entries: usize,
    /// `PYTHONPATH=` value for images that bypass site (`python -S`, PYTHONPATH set to
    /// site-packages): site-packages, then the archive, at the path the tree will run from.
    pub pythonpath: String,
    /// The target Python, which decides whether ZIP64 can be read.
    pub python: PythonVersion,
}

/// A distribution whose files go into the archive.
#[derive(Debug, Clone, Serialize)]
pub struct ZipDist {
    /// Index into the plan's distributions.
    #[serde(skip)]
    pub dist: usize,
    /// Its name, as its METADATA spells it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Files it moves into the archive.
    pub files: u64,
    /// Their bytes on disk.
    pub bytes: u64,
}

/// A distribution left on disk, with the evidence that it cannot live in a zip.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// Index into the plan's distributions.
    #[serde(skip)]
    pub dist: usize,
    /// Its name, as its METADATA spells it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Every reason, the first of each kind first; sorted.
    pub reasons: Vec<Evidence>,
}

/// Why a distribution stays on disk, with where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    /// `excluded`, `keep-package`, `installer`, `native`, `pth`, `not-regular`, `name`,
    /// `file-access`, `data-files`, `shares-package`.
    pub kind: &'static str,
    /// Relative to the venv root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The 1-based line in `path`, for a scan hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// That line, trimmed and shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What the evidence shows, in a sentence.
    pub why: String,
}

impl Evidence {
    /// `path:line: why` (or the parts there are), for the text report.
    pub fn describe(&self) -> String {
        let at = match (&self.path, self.line) {
            (Some(p), Some(l)) => format!("{p}:{l}: "),
            (Some(p), None) => format!("{p}: "),
            _ => String::new(),
        };
        match &self.code {
            Some(code) => format!("{at}{} (`{code}`)", self.why),
            None => format!("{at}{}", self.why),
        }
    }
}

/// A `top_level.txt` to write into a zipped distribution's dist-info.
#[derive(Debug, Clone, Serialize)]
pub struct TopLevel {
    /// Index into the plan's distributions.
    #[serde(skip)]
    pub dist: usize,
    /// Relative to the venv root.
    #[serde(serialize_with = "crate::jsonpath::lossy_path")]
    pub path: PathBuf,
    /// Its content: the distribution's top-level names, one a line.
    pub text: String,
}

impl ZipPlan {
    /// Refuse an archive zipimport cannot read: more than 65,535 entries need ZIP64, which it
    /// reads only from Python 3.13 on.
    pub fn check_entry_limit(&self) -> anyhow::Result<()> {
        let zip64_ok = (self.python.major, self.python.minor) >= (3, 13);
        if self.entries > MAX_ENTRIES_WITHOUT_ZIP64 && !zip64_ok {
            anyhow::bail!(
                "the archive `{}` would hold {} entries, more than the {} that zipimport reads without ZIP64 on Python {} (ZIP64 needs 3.13+)\nhint: leave the largest distributions on disk with --zip-exclude NAME (see --dry-run for what would be zipped)\nhint: or zip nothing (drop --zip-pure)",
                self.archive.display(),
                self.entries,
                MAX_ENTRIES_WITHOUT_ZIP64,
                self.python
            );
        }
        Ok(())
    }

    /// Whether distribution `dist` (an index into the plan's distributions) is zipped.
    pub fn is_zipped(&self, dist: usize) -> bool {
        self.dists.iter().any(|d| d.dist == dist)
    }
}

/// The name of a file inside the archive: its path below site-packages, `/`-separated.
pub fn inner_name(site_packages: &Path, rel: &Path) -> Option<String> {
    let inner = rel.strip_prefix(site_packages).ok()?;
    let parts: Option<Vec<&str>> = inner.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// `pkg/mod.py` -> `pkg/mod.pyc`.
pub fn pyc_name(py: &str) -> String {
    format!("{py}c")
}
