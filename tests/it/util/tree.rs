//! Trees on disk: a hash that proves a tree was not touched, its size as an image layer holds it,
//! a listing, a faithful copy, and the naive Docker recipe to compare venvslim against; a map of
//! every entry to the detail a test needs (`tree`, `Detail`) and the difference of two such maps,
//! the paths or pycs under a root, and a pyc's flags.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::{hex, sha256_b64, TestCommand};

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

/// How much of an entry `tree` describes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    /// Kind, mode, and content or link target; bytecode only as "pyc" (it embeds its path).
    Shape,
    /// Shape with the full content of bytecode, and mtimes.
    Content,
    /// Content, plus owner, inode, link count and ctime, which any write, chmod, chown, utime
    /// or (hard)link changes.
    Strict,
}

/// Every entry below `root` (not followed through symlinks), described to `detail`.
pub fn tree(root: &Path, detail: Detail) -> BTreeMap<PathBuf, String> {
    let mut map = BTreeMap::new();
    for e in WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let e = e.unwrap_or_else(|err| panic!("walk {}: {err}", root.display()));
        let m = e.path().symlink_metadata().unwrap();
        let ft = m.file_type();
        let what = if ft.is_symlink() {
            format!("link -> {:?}", fs::read_link(e.path()).unwrap())
        } else if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_file()
            && detail == Detail::Shape
            && e.path().extension() == Some(OsStr::new("pyc"))
        {
            "file pyc".to_string()
        } else if ft.is_file() {
            format!("file {}", sha256_b64(&fs::read(e.path()).unwrap()))
        } else {
            "other".to_string()
        };
        let mut desc = format!("{what} mode={:o}", m.mode());
        if detail >= Detail::Content {
            desc += &format!(" mtime={}.{}", m.mtime(), m.mtime_nsec());
        }
        if detail == Detail::Strict {
            desc += &format!(
                " uid={} gid={} ino={} nlink={} ctime={}.{}",
                m.uid(),
                m.gid(),
                m.ino(),
                m.nlink(),
                m.ctime(),
                m.ctime_nsec()
            );
        }
        map.insert(e.path().strip_prefix(root).unwrap().to_path_buf(), desc);
    }
    map
}

/// Regular files below `root`.
pub fn count_files(root: &Path) -> usize {
    tree(root, Detail::Shape)
        .values()
        .filter(|d| d.starts_with("file "))
        .count()
}

/// Differences between two trees, one line each (empty when equal).
pub fn tree_diff(
    before: &BTreeMap<PathBuf, String>,
    after: &BTreeMap<PathBuf, String>,
) -> Vec<String> {
    let keys: BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k:?}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect()
}

/// Paths (relative to `root`) of every entry, with `/` after directories.
pub fn listing(root: &Path) -> BTreeSet<String> {
    walk_sorted(root)
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().is_dir() {
                rel + "/"
            } else {
                rel
            }
        })
        .collect()
}

/// Regular files named `*.pyc` below `root`, relative to it.
pub fn pycs(root: &Path) -> BTreeSet<String> {
    listing(root)
        .into_iter()
        .filter(|p| p.ends_with(".pyc"))
        .collect()
}

/// Whether anything (a dangling symlink too) is at `p`.
pub fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// PEP 552 flags word of a pyc: 1 = hash-based, unchecked.
pub fn pyc_flags(path: &Path) -> u32 {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() >= 16,
        "{} is too short for a pyc",
        path.display()
    );
    u32::from_le_bytes(bytes[4..8].try_into().unwrap())
}
