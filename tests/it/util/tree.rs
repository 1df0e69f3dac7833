//! Trees on disk: a hash that proves a tree was not touched, its size as an image layer holds it,
//! a listing, a faithful copy, and the naive Docker recipe to compare venvslim against.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{hex, TestCommand};

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
