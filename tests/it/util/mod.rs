//! What the integration tests share, one copy each: running a program (`cmd`: one command
//! builder that shows what ran when an expectation fails), reading a report (`report`), the
//! hand-made fixture venv (here), real venvs built once and cached (`venvs`), running a tree the
//! way a read-only container does (`ro`), trees on disk (`tree`: hash, size, listing, what
//! changed, copy, the Docker recipe), RECORD checked against the tree it lists (`record`), and
//! probing what a venv can do (`probe`). `selftest` checks the helpers the real-venv tests rely
//! on.
//!
//! Linux only: the read-only mount needs `unshare -m` and `mount`, i.e. root (CI runs as root).

mod cmd;
mod probe;
mod record;
mod report;
mod ro;
mod selftest;
mod tree;
mod venvs;

pub use cmd::{python, show, slim, slim_venv, tail, venvslim, venvslim_bin, Run, TestCommand};
pub use probe::*;
pub use record::*;
pub use report::{action, actions, is_gone_on_purpose, is_removed, removed_paths};
pub use ro::*;
pub use tree::*;
pub use venvs::*;

use std::fs;
use std::path::{Path, PathBuf};

/// The crate's root (where `tests/` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo's target directory: the parent of `CARGO_TARGET_TMPDIR` (`target/tmp`), so
/// `CARGO_TARGET_DIR` is honoured.
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// A fresh scratch directory under `target/tmp` (same filesystem as the cached venvs, so copies
/// and sizes behave like the real thing; not /tmp, which may be a small tmpfs).
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(&base).expect("create CARGO_TARGET_TMPDIR");
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .expect("create scratch dir")
}

/// Whether the tests run as root (the read-only mount and ownership checks need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// A loud note for a test that cannot run here (it returns right after).
pub fn skip(test: &str, why: &str) {
    eprintln!("\n*** SKIP {test}: {why} ***\n");
}

/// Names in `dir` (not recursive), sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Names in `dir` that are venvslim staging (or its trash).
pub fn staging_left(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains(".venvslim-"))
        .collect()
}

/// `VENV/lib/pythonPY/site-packages`.
pub fn site_packages(venv: &Path, py: &str) -> PathBuf {
    venv.join(format!("lib/python{py}/site-packages"))
}

/// `p` as UTF-8 (test paths are).
pub fn path_str(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display()))
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hand-made fixture venv at `<tmp>/venv`, in a fresh temp dir; outputs of a test go beside
/// it, inside the dir (`path`).
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    /// `3.11`
    pub py: String,
    /// `lib/python3.11/site-packages`
    pub sp_rel: PathBuf,
}

impl Fixture {
    /// A fresh fixture in a temp dir named `prefix...`.
    pub fn new(prefix: &str) -> Fixture {
        let (tmp, root, py) = fixture_venv(prefix);
        let sp_rel = PathBuf::from(format!("lib/python{py}/site-packages"));
        Fixture {
            tmp,
            root,
            py,
            sp_rel,
        }
    }

    /// `<tmp>/name`, beside the venv.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The venv's site-packages.
    pub fn sp(&self) -> PathBuf {
        self.root.join(&self.sp_rel)
    }

    /// `rel` (relative to site-packages) as a path relative to the venv root, as the JSON
    /// report spells it.
    pub fn rel(&self, sp_rel: &str) -> String {
        path_str(&self.sp_rel.join(sp_rel)).to_string()
    }

    /// `cpython-311`
    pub fn cache_tag(&self) -> String {
        format!("cpython-{}", self.py.replace('.', ""))
    }
}

/// The hand-made fixture venv (`fixtures/make_fixture_venv.py`, run by the `python3` on PATH) at
/// `<tmp>/venv`, in a fresh temp dir named `prefix...`; returns the dir, the venv and its
/// Python's `X.Y`. Outputs of a test go beside the venv, inside the dir.
pub fn fixture_venv(prefix: &str) -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    let root = tmp.path().join("venv");
    let script = repo_root().join("fixtures/make_fixture_venv.py");
    python("python3").arg(&script).arg(&root).ok();
    let lib = fs::read_dir(root.join("lib"))
        .expect("the fixture's lib/")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("python"))
        .expect("lib/pythonX.Y in the fixture");
    let py = lib["python".len()..].to_string();
    (tmp, root, py)
}
