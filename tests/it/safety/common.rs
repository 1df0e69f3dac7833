//! Helpers the safety modules share: the binary with no fault injection or fixed mtime leaking
//! in from the caller's environment, root checks, and what a directory holds.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The venvslim binary, without `SOURCE_DATE_EPOCH` or fault injection from the environment.
pub fn venvslim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_venvslim"));
    c.env_remove("SOURCE_DATE_EPOCH")
        .env_remove("VENVSLIM_FAULT_AFTER")
        .env_remove("VENVSLIM_FAULT_STOP");
    c
}

/// `venvslim slim VENV -o OUT EXTRA...`.
pub fn slim(venv: &Path, out: &Path, extra: &[&str]) -> Output {
    venvslim()
        .arg("slim")
        .arg(venv)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .expect("run venvslim")
}

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
