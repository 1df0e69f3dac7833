//! What the integration tests share: running a program (`cmd`: one command builder that shows
//! what ran when an expectation fails), reading a report (`report`), the hand-made fixture venv,
//! real venvs built (once) and cached from the pinned locks in `tests/venvs/`, commands run with a
//! slimmed tree bind-mounted read-only onto the original venv's path (as
//! `COPY --from=builder /slim /venv` + `docker run --read-only` would), hashing a tree to prove
//! it was not touched, and the naive Docker recipe to compare against.
//!
//! Linux only: the read-only mount needs `unshare -m` and `mount`, i.e. root (CI runs as root).

mod cmd;
mod report;
mod selftest;

pub use cmd::{python, show, slim, slim_venv, tail, venvslim, venvslim_bin, Run, TestCommand};
pub use report::{actions, is_gone_on_purpose, is_removed, removed_paths};

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

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

// ---------------------------------------------------------------------------------------------
// Real venvs
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Running inside a read-only bind mount
// ---------------------------------------------------------------------------------------------

const RO_SCRIPT: &str =
    r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@""#;

/// Default time limit of a command run by `ro_run`.
pub const RO_TIMEOUT: Duration = Duration::from_secs(600);

/// Run `argv` in a private mount namespace where `slim` is bind-mounted read-only onto `at` (the
/// original venv's path): console-script shebangs and the venv's own `bin/python` then resolve into
/// the slim tree, exactly as in a container, and nothing can write bytecode caches. The mount is
/// private to the child (`unshare -m` makes propagation private), so the host never sees it.
/// `PYTHON*` and `VIRTUAL_ENV` variables are removed from the child's environment.
///
/// Panics if the command outlives `RO_TIMEOUT`. Call `require_ro_namespace()` first.
pub fn ro_run(slim: &Path, at: &Path, argv: &[&str]) -> Run {
    ro_run_timeout(slim, at, argv, RO_TIMEOUT)
}

/// `ro_run` with another time limit.
pub fn ro_run_timeout(slim: &Path, at: &Path, argv: &[&str], timeout: Duration) -> Run {
    let mut cmd = TestCommand::new("unshare");
    cmd.args(["-m", "sh", "-c", RO_SCRIPT, "sh"])
        .arg(slim)
        .arg(at)
        .args(argv)
        .clean_python_env()
        .timeout(timeout);
    cmd.run()
}

fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `ro_run` works here: checked once by mounting a scratch dir read-only onto another and
/// checking that the content shows and a write fails.
fn ro_namespace_works() -> &'static Result<(), String> {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    OK.get_or_init(|| {
        let d = scratch("ro-check-");
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        fs::create_dir_all(&src)
            .and_then(|_| fs::create_dir_all(&dst))
            .map_err(|e| e.to_string())?;
        fs::write(src.join("f"), "visible").map_err(|e| e.to_string())?;
        let script = format!(
            r#"test "$(cat '{0}/f')" = visible && ! touch '{0}/g' 2>/dev/null"#,
            path_str(&dst)
        );
        let out = std::panic::catch_unwind(|| {
            ro_run_timeout(&src, &dst, &["sh", "-c", &script], Duration::from_secs(30))
        })
        .map_err(|_| "unshare timed out".to_string())?;
        if out.status.success() && !src.join("g").exists() {
            Ok(())
        } else {
            Err(format!(
                "`unshare -m` + read-only bind mount failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
}

/// True if read-only mounts work. If they don't: panics when running as root (CI runs as root, so
/// this must work there), otherwise prints a loud SKIP note and returns false: the caller returns.
pub fn require_ro_namespace(test: &str) -> bool {
    match ro_namespace_works() {
        Ok(()) => true,
        Err(why) if effective_uid() == Some(0) => {
            panic!("{test}: running as root but the read-only mount namespace does not work: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n*** SKIP {test}: needs root for `unshare -m` + read-only bind mounts ({why}) ***\n"
            );
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trees: hash, copy, size, the Docker recipe
// ---------------------------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entries under `root` (not following symlinks), sorted by path, root excluded.
fn walk_sorted(root: &Path) -> impl Iterator<Item = walkdir::DirEntry> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap_or_else(|e| panic!("walk: {e}")))
}

/// A hash of everything under `root`: for each entry in path order its relative path, type, mode,
/// mtime (ns), symlink target and, for a regular file, a hash of its content. Any change a tool
/// could make to a tree (a file written, removed, renamed, chmod-ed, touched, a symlink replaced)
/// changes it.
pub fn tree_hash(root: &Path) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for e in walk_sorted(root) {
        let rel = e.path().strip_prefix(root).expect("under root");
        let md = e
            .metadata()
            .unwrap_or_else(|err| panic!("stat {}: {err}", e.path().display()));
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            "l"
        } else if ft.is_dir() {
            "d"
        } else if ft.is_file() {
            "f"
        } else {
            "o"
        };
        h.update(rel.as_os_str().as_encoded_bytes());
        h.update(format!(
            "\0{kind}\0{:o}\0{}.{}\0",
            md.mode(),
            md.mtime(),
            md.mtime_nsec()
        ));
        if ft.is_symlink() {
            let t = fs::read_link(e.path()).expect("readlink");
            h.update(t.as_os_str().as_encoded_bytes());
        } else if ft.is_file() {
            let mut fh = Sha256::new();
            let mut f = File::open(e.path()).expect("open for hashing");
            loop {
                let n = f.read(&mut buf).expect("read for hashing");
                if n == 0 {
                    break;
                }
                fh.update(&buf[..n]);
            }
            h.update(fh.finalize());
        }
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// Size of a tree as an image layer would hold it: the sum of `st_size` of its regular files, each
/// inode counted once (a hardlinked file is stored once in a layer tar), symlinks and directories
/// not counted (their tar headers are the same few hundred bytes either way). Apparent size, not
/// disk blocks, so the file system's block size does not decide the comparison.
pub fn unique_bytes(root: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    for e in walk_sorted(root) {
        let md = e.metadata().expect("stat");
        if md.file_type().is_file() && seen.insert((md.dev(), md.ino())) {
            total += md.len();
        }
    }
    total
}

/// Relative paths of every entry under `root`, sorted, with a type letter and the size of regular
/// files (`f 1234 lib/...`, `d lib`, `l bin/python -> python3`).
pub fn tree_listing(root: &Path) -> Vec<String> {
    walk_sorted(root)
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let md = e.metadata().expect("stat");
            if md.file_type().is_symlink() {
                format!(
                    "l {rel} -> {}",
                    fs::read_link(e.path()).expect("readlink").display()
                )
            } else if md.is_dir() {
                format!("d {rel}")
            } else {
                format!("f {} {rel}", md.len())
            }
        })
        .collect()
}

/// `cp -a SRC DST` (DST must not exist): a faithful copy, mtimes included.
pub fn copy_tree(src: &Path, dst: &Path) {
    TestCommand::new("cp").arg("-a").arg(src).arg(dst).ok();
}

/// Copy a regular file (content, permissions, mtime) or a symlink (as a symlink). In-process: a
/// `cp` per file would spawn thousands of processes per venv.
fn copy_file_or_link(src: &Path, dst: &Path) {
    let md = fs::symlink_metadata(src).unwrap_or_else(|e| panic!("stat {}: {e}", src.display()));
    if md.file_type().is_symlink() {
        let target = fs::read_link(src).expect("readlink");
        std::os::unix::fs::symlink(target, dst)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", dst.display()));
    } else {
        fs::copy(src, dst)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dst.display()));
        let mtime = md.modified().expect("mtime");
        // futimens needs ownership, not write permission: a read-only descriptor does.
        File::open(dst)
            .and_then(|f| f.set_modified(mtime))
            .unwrap_or_else(|e| panic!("set mtime of {}: {e}", dst.display()));
    }
}

/// The naive recipe's result, reproduced: what
/// `COPY --exclude=**/__pycache__ --exclude=**/*.dist-info --exclude=!**/*.dist-info/LICENSE* /venv /venv`
/// puts in the image. Docker's patterns are matched per path with `*` not crossing `/`, so:
/// every `__pycache__` directory is left out; of a `*.dist-info` directory only its direct entries
/// whose name starts with `LICENSE` are copied (a `licenses/` subdirectory does not match
/// `LICENSE*`, case-sensitive), and the directory itself exists only if such an entry does (BuildKit
/// creates the parents of included files only). Everything else is copied, symlinks as symlinks,
/// modes and mtimes kept.
pub fn docker_recipe_copy(src: &Path, dst: &Path) {
    fn rec(src: &Path, dst: &Path) {
        fs::create_dir_all(dst).expect("mkdir");
        let mut entries: Vec<_> = fs::read_dir(src)
            .expect("read_dir")
            .map(|e| e.expect("dir entry"))
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name_s = name.to_string_lossy();
            let ft = e.file_type().expect("file type");
            let (s, d) = (e.path(), dst.join(&name));
            if ft.is_dir() && name_s == "__pycache__" {
                continue;
            }
            if ft.is_dir() && name_s.ends_with(".dist-info") {
                let mut licenses: Vec<_> = fs::read_dir(&s)
                    .expect("read dist-info")
                    .map(|e| e.expect("dist-info entry"))
                    .filter(|e| e.file_name().to_string_lossy().starts_with("LICENSE"))
                    .collect();
                licenses.sort_by_key(|e| e.file_name());
                if !licenses.is_empty() {
                    fs::create_dir_all(&d).expect("mkdir dist-info");
                }
                for l in licenses {
                    copy_tree(&l.path(), &d.join(l.file_name()));
                }
            } else if ft.is_dir() {
                rec(&s, &d);
            } else {
                copy_file_or_link(&s, &d);
            }
        }
    }
    assert!(!dst.exists(), "{} exists", dst.display());
    rec(src, dst);
}

// ---------------------------------------------------------------------------------------------
// The probe
// ---------------------------------------------------------------------------------------------

pub fn probe_py() -> PathBuf {
    repo_root().join("tests/it/util/probe.py")
}

/// Run `tests/it/util/checks/NAME.py TMP` (a real workload of venv NAME, printing a summary
/// that must not change) with `tree` mounted read-only onto `at`, under `env` (`TZ=...`).
pub fn run_check(tree: &Path, at: &Path, name: &str, tmp: &Path, env: &[&str]) -> Run {
    let script = repo_root().join(format!("tests/it/util/checks/{name}.py"));
    let python = at.join("bin/python");
    fs::create_dir_all(tmp).expect("mkdir check tmp");
    let mut argv: Vec<&str> = Vec::new();
    if !env.is_empty() {
        argv.push("env");
        argv.extend(env);
    }
    argv.extend([
        path_str(&python),
        "-I",
        "-B",
        path_str(&script),
        path_str(tmp),
    ]);
    ro_run_timeout(tree, at, &argv, Duration::from_secs(120))
}

/// Run `tests/it/util/probe.py --deep` with `tree` mounted read-only onto `at` (use `tree == at` for
/// the original venv: it is then read-only too, so the probe can't write into the cache) and
/// return its JSON.
pub fn probe(tree: &Path, at: &Path) -> Value {
    let python = at.join("bin/python");
    let probe = probe_py();
    let out = ro_run(
        tree,
        at,
        &[
            path_str(&python),
            "-I",
            "-B",
            path_str(&probe),
            path_str(at),
            "--deep",
        ],
    );
    assert!(
        out.status.success(),
        "probe of {} (mounted on {}) failed ({}):\n{}",
        tree.display(),
        at.display(),
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 4000)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "probe output is not JSON ({e}): {}",
            tail(&String::from_utf8_lossy(&out.stdout), 2000)
        )
    })
}

/// Everything that worked in `before` and does not in `after`, as readable lines; empty if none.
/// `removed` tells whether a path relative to the venv root was removed on purpose (from the
/// report's actions): a submodule whose file is gone that way (a test module) is not expected to
/// import. Top-level modules and distributions admit no such excuse.
/// `check_bytecode`: also require no source compile on import and every loaded `.py` to have an
/// unchecked-hash pyc whose `co_filename` is the module's (original) path.
///
/// `dropped` names distributions (normalized) that were removed whole on purpose and reported so
/// (see `dropped_installers` in real_venvs.rs): their absence, and the absence of top-level
/// modules only they provide, is not a problem; any other module that breaks because of it is.
pub fn compare_probes(
    before: &Value,
    after: &Value,
    removed: &dyn Fn(&str) -> bool,
    dropped: &BTreeSet<String>,
    check_bytecode: bool,
) -> Vec<String> {
    // Top-level modules provided only by dropped distributions.
    let dropped_modules: BTreeSet<String> = before["packages_distributions"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, ds)| {
            ds.as_array().is_some_and(|ds| {
                !ds.is_empty()
                    && ds.iter().all(|d| {
                        d.as_str()
                            .is_some_and(|d| dropped.contains(&normalize_dist(d)))
                    })
            })
        })
        .map(|(m, _)| m.clone())
        .collect();
    let mut problems = Vec::new();
    // Module files compared relative to each probe's own venv (an in-place result lives elsewhere).
    let rel_to = |p: &Value, file: &Value| -> Value {
        let (Some(root), Some(f)) = (p["venv"].as_str(), file.as_str()) else {
            return file.clone();
        };
        match Path::new(f).strip_prefix(root) {
            Ok(r) => Value::String(r.display().to_string()),
            Err(_) => file.clone(),
        }
    };
    // Imports.
    for key in ["top_level", "deep"] {
        let (b, a) = (&before[key], &after[key]);
        let Some(bm) = b.as_object() else { continue };
        for (name, r) in bm {
            if r["ok"] != Value::Bool(true) {
                continue;
            }
            match a.get(name) {
                Some(x) if x["ok"] == Value::Bool(true) => {
                    if rel_to(after, &x["file"]) != rel_to(before, &r["file"]) {
                        problems.push(format!(
                            "{key} {name}: now imported from {} instead of {}",
                            x["file"], r["file"]
                        ));
                    }
                }
                Some(x) => {
                    problems.push(format!("{key} {name}: imported before, now {}", x["error"]))
                }
                None if key == "deep"
                    && after["top_level"][name.split('.').next().unwrap_or("")]["ok"]
                        != Value::Bool(true) =>
                {
                    // Not tried because its top-level package fails: reported there.
                }
                None => {
                    let file = rel_to(before, &r["file"]);
                    let top = name.split('.').next().unwrap_or("");
                    let gone_on_purpose = (key == "deep" && file.as_str().is_some_and(removed))
                        || (dropped_modules.contains(top) && file.as_str().is_some_and(removed));
                    if !gone_on_purpose {
                        problems.push(format!(
                            "{key} {name}: imported before ({}), now not found on disk and not reported removed",
                            r["file"]
                        ));
                    }
                }
            }
        }
    }
    // Distributions.
    let empty = serde_json::Map::new();
    let bd = before["dists"].as_object().unwrap_or(&empty);
    let ad = after["dists"].as_object().unwrap_or(&empty);
    for (key, b) in bd {
        if key.starts_with("dir:") {
            continue; // had no Name before: nothing to keep
        }
        let Some(a) = ad.get(key) else {
            if dropped.contains(key) {
                continue;
            }
            problems.push(format!("dist {key}: importlib.metadata no longer finds it"));
            continue;
        };
        if a["version_lookup"] != b["version_lookup"] || a["version_lookup"].is_null() {
            problems.push(format!(
                "dist {key}: version() was {} now {} {}",
                b["version_lookup"], a["version_lookup"], a["version_lookup_error"]
            ));
        }
        for field in ["entry_points", "requires", "metadata_headers"] {
            if a[field] != b[field] {
                problems.push(format!(
                    "dist {key}: {field} differ:\n  before {}\n  after  {}",
                    b[field], a[field]
                ));
            }
        }
        if !b["files_count"].is_null() && a["files_count"].is_null() {
            problems.push(format!(
                "dist {key}: files() (RECORD) was {} entries, now None",
                b["files_count"]
            ));
        }
        if a["files_missing"].as_array().is_some_and(|m| !m.is_empty()) {
            let m = a["files_missing"].as_array().expect("array");
            problems.push(format!(
                "dist {key}: RECORD lists {} paths that do not exist, e.g. {:?}",
                m.len(),
                &m[..m.len().min(5)]
            ));
        }
    }
    // packages_distributions() for modules that import on both sides.
    let (bp, ap) = (
        &before["packages_distributions"],
        &after["packages_distributions"],
    );
    if let Some(bpm) = bp.as_object() {
        for (name, dists) in bpm {
            let both_ok = before["top_level"][name]["ok"] == Value::Bool(true)
                && after["top_level"][name]["ok"] == Value::Bool(true);
            if both_ok && ap.get(name) != Some(dists) {
                problems.push(format!(
                    "packages_distributions()[{name}]: was {dists}, now {}",
                    ap.get(name).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    if check_bytecode {
        let n = after["compile_events"].as_u64().unwrap_or(u64::MAX);
        if n != 0 {
            problems.push(format!(
                "{n} modules were compiled from source on import (no valid pyc), e.g. {}",
                after["compiled_files"]
            ));
        }
        if let Some(loaded) = after["loaded"].as_object() {
            let mut list = |what: &str, bad: Vec<String>| {
                if !bad.is_empty() {
                    problems.push(format!(
                        "{} of {} loaded venv modules {what}, e.g.\n    {}",
                        bad.len(),
                        loaded.len(),
                        bad[..bad.len().min(8)].join("\n    ")
                    ));
                }
            };
            list(
                "have no unchecked-hash pyc",
                loaded
                    .iter()
                    .filter(|(_, v)| v["pyc"] != "unchecked-hash")
                    .map(|(k, v)| format!("{k}: {}", v["pyc"]))
                    .collect(),
            );
            list(
                "have a pyc whose co_filename is not the module's path",
                loaded
                    .iter()
                    .filter(|(_, v)| {
                        v["co_filename_ok"] != Value::Bool(true) && !v["co_filename"].is_null()
                    })
                    .map(|(k, v)| format!("{k}: {} for {}", v["co_filename"], v["file"]))
                    .collect(),
            );
        }
    }
    problems
}

/// PEP 503 normalized distribution name (`Foo_Bar.baz` -> `foo-bar-baz`), as probe.py keys them.
pub fn normalize_dist(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
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
