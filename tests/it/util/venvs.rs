//! Real venvs for the `real_*` tests: built once from the pinned locks in `tests/venvs/` and
//! cached in `target/test-venvs/NAME-KEY/` (KEY hashes the lock and the interpreter), so every
//! test and every run shares them; a build is locked against concurrent tests and marked complete
//! only at its end.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{hex, python, repo_root, target_dir};

/// `sys.version` and `sys.base_prefix` of the `python3` on PATH: part of each venv's cache key, so
/// another interpreter builds other venvs.
fn python_identity() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        python("python3")
            .args([
                "-c",
                "import sys; print(sys.version); print(sys.base_prefix)",
            ])
            .ok()
            .stdout()
    })
}

/// Exclusive `flock(2)` on a file, released when the `File` is dropped or the process dies (so a
/// crashed build never leaves a stale lock). Locks are per open file description: two threads of
/// one process that each open the file exclude each other too.
pub struct FileLock(#[allow(dead_code)] File);

impl FileLock {
    pub fn acquire(path: &Path) -> FileLock {
        extern "C" {
            fn flock(
                fd: std::os::raw::c_int,
                operation: std::os::raw::c_int,
            ) -> std::os::raw::c_int;
        }
        const LOCK_EX: std::os::raw::c_int = 2;
        use std::os::fd::AsRawFd;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open lock {}: {e}", path.display()));
        loop {
            // SAFETY: flock on a valid, open descriptor we own; no memory is passed.
            let rc = unsafe { flock(file.as_raw_fd(), LOCK_EX) };
            if rc == 0 {
                return FileLock(file);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                panic!("flock {}: {err}", path.display());
            }
        }
    }
}

/// The venv built from `tests/venvs/<name>.lock`, cached in `target/test-venvs/<name>-<key>` where
/// key hashes the lock file and the interpreter. Built on first use:
/// `python3 -m venv` + `pip install --no-deps --only-binary=:all: -r <name>.lock` + `pip check`.
///
/// Concurrency and crashes: builds take an exclusive lock (`<dir>.lock`, flock), and a venv counts
/// only once its marker `<dir>.complete` exists (written last); a directory without a marker is a
/// crashed build and is deleted and rebuilt. The venv is built at its final path, not in a temp
/// sibling renamed into place, because a venv is not relocatable: pip writes the venv's absolute
/// path into every console script's shebang, and the tests run those scripts.
///
/// Tests must never write into the returned directory (copy it first, see `copy_tree`).
pub fn real_venv(name: &str) -> PathBuf {
    let lock_file = repo_root().join("tests/venvs").join(format!("{name}.lock"));
    let lock_text =
        fs::read(&lock_file).unwrap_or_else(|e| panic!("read {}: {e}", lock_file.display()));
    let mut h = Sha256::new();
    h.update(&lock_text);
    h.update(python_identity().as_bytes());
    let key = hex(&h.finalize())[..16].to_string();

    let root = target_dir().join("test-venvs");
    fs::create_dir_all(&root).expect("create target/test-venvs");
    let venv = root.join(format!("{name}-{key}"));
    let marker = root.join(format!("{name}-{key}.complete"));
    if marker.exists() {
        return venv;
    }
    let _lock = FileLock::acquire(&root.join(format!("{name}-{key}.lock")));
    if marker.exists() {
        return venv; // someone else built it while we waited
    }
    if fs::symlink_metadata(&venv).is_ok() {
        eprintln!(
            "real_venv({name}): removing incomplete build {}",
            venv.display()
        );
        fs::remove_dir_all(&venv).expect("remove incomplete venv");
    }
    let start = Instant::now();
    eprintln!(
        "real_venv({name}): building {} from {}",
        venv.display(),
        lock_file.display()
    );
    python("python3").args(["-m", "venv"]).arg(&venv).ok();
    let venv_python = venv.join("bin/python");
    python(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--only-binary=:all:",
            "--no-input",
        ])
        .args(["--disable-pip-version-check", "-q", "-r"])
        .arg(&lock_file)
        .timeout(PIP_TIMEOUT)
        .ok();
    python(&venv_python).args(["-m", "pip", "check"]).ok();
    let secs = start.elapsed().as_secs_f64();
    let mut m = File::create(&marker).expect("create marker");
    writeln!(m, "built in {secs:.1}s from {}", lock_file.display()).expect("write marker");
    eprintln!("real_venv({name}): built in {secs:.1}s");
    venv
}

/// A tool from PyPI (`requirement`, e.g. `uv>=0.4`) in its own venv at `target/tools/<name>`,
/// built once and shared by every test and run; returns the venv. Like `real_venv`, a build holds
/// `target/tools/<name>.lock` and counts only once `<name>/.complete` exists (written last); the
/// marker holds the requirement, so a test that changes it gets a fresh build.
pub fn pypi_tool(name: &str, requirement: &str) -> PathBuf {
    let tools = target_dir().join("tools");
    let dir = tools.join(name);
    let marker = dir.join(".complete");
    fs::create_dir_all(&tools).expect("create target/tools");
    let _lock = FileLock::acquire(&tools.join(format!("{name}.lock")));
    if fs::read_to_string(&marker).ok().as_deref() == Some(requirement) {
        return dir;
    }
    if fs::symlink_metadata(&dir).is_ok() {
        fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("remove {}: {e}", dir.display()));
    }
    python("python3").args(["-m", "venv"]).arg(&dir).ok();
    python(dir.join("bin/python"))
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg(requirement)
        .timeout(PIP_TIMEOUT)
        .ok();
    fs::write(&marker, requirement).expect("write the tool's marker");
    dir
}

/// How long installing one lock from PyPI may take (the ELF wheels are ~800 MB).
const PIP_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

/// The venv's site-packages directory (`lib/pythonX.Y/site-packages`), relative to the venv root.
pub fn site_packages_rel(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    for e in fs::read_dir(&lib).unwrap_or_else(|e| panic!("read {}: {e}", lib.display())) {
        let e = e.expect("read lib entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("python") && e.path().join("site-packages").is_dir() {
            return Path::new("lib").join(name).join("site-packages");
        }
    }
    panic!("no lib/python*/site-packages in {}", venv.display())
}
