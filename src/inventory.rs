//! Walk the input tree once, in parallel, into a sorted list of entries.
//!
//! Everything after this works on the inventory, never on the live tree, so the plan is a pure
//! function of what was there when we looked. Symlinks are recorded as links and never followed
//! (a link may point out of the tree, or loop). Sizes are counted once per (dev, inode), as
//! `du` and dua-cli do, so a tree full of hardlinks (uv's default install mode) is not
//! over-counted.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use walkdir::WalkDir;

use crate::error::PathError;

/// What an entry is, from lstat (a link is never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (its own size is the length of its target).
    Symlink,
    /// FIFOs, sockets, devices: never expected in a venv; reported, not copied.
    Other,
}

/// One path of the tree, with the lstat facts every later pass needs (read once, here).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the tree's root.
    pub path: PathBuf,
    /// File, directory, link or other.
    pub kind: Kind,
    /// Apparent size in bytes (symlinks: length of the target).
    pub size: u64,
    /// Device and inode: one file under several names (hardlinks) is counted and copied once.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// Number of hardlinks.
    pub nlink: u64,
    /// Permission bits and file type, as lstat gives them.
    pub mode: u32,
    /// Owner, kept on copies when run as root.
    pub uid: u32,
    /// Group, kept on copies when run as root.
    pub gid: u32,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
}

impl Entry {
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.kind == Kind::File
    }
    /// The file name, or "" when it is not UTF-8.
    pub fn name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }
}

/// The whole tree, walked once: every entry sorted by path, and what could not be read.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Sorted by path (component-wise, so a directory precedes its contents).
    pub entries: Vec<Entry>,
    /// Paths that could not be read (relative to the root, like `entries`), sorted by path.
    pub errors: Vec<PathError>,
}

impl Inventory {
    /// Walk `root`. The tree is split at `split` (site-packages, relative to root): its children
    /// are walked in parallel, everything else sequentially.
    pub fn scan(root: &Path, split: &Path) -> Result<Inventory> {
        let split_abs = root.join(split);
        let mut inv = Inventory::default();
        let mut subtrees = Vec::new();
        let walker = WalkDir::new(root).follow_links(false).sort_by_file_name();
        let mut it = walker.into_iter();
        while let Some(item) = it.next() {
            match item {
                Ok(e) => {
                    let is_split_child = e.depth() > 0
                        && e.path().parent() == Some(split_abs.as_path())
                        && e.file_type().is_dir();
                    if is_split_child {
                        subtrees.push(e.path().to_path_buf());
                        it.skip_current_dir();
                        continue;
                    }
                    if e.depth() > 0 {
                        inv.push(root, e.path(), e.metadata());
                    }
                }
                Err(err) => inv.push_error(root, err),
            }
        }
        let parts: Vec<Inventory> = subtrees
            .par_iter()
            .map(|dir| {
                let mut part = Inventory::default();
                for item in WalkDir::new(dir).follow_links(false) {
                    match item {
                        Ok(e) => part.push(root, e.path(), e.metadata()),
                        Err(err) => part.push_error(root, err),
                    }
                }
                part
            })
            .collect();
        for part in parts {
            inv.entries.extend(part.entries);
            inv.errors.extend(part.errors);
        }
        inv.entries.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
        inv.errors.sort_by(|a, b| a.path().cmp(b.path()));
        if inv.entries.is_empty() && !inv.errors.is_empty() {
            let first = inv.errors.swap_remove(0);
            let path = root.join(first.path());
            return Err(first.into_io_error())
                .with_context(|| format!("cannot read `{}`", path.display()));
        }
        Ok(inv)
    }

    fn push(&mut self, root: &Path, path: &Path, meta: walkdir::Result<std::fs::Metadata>) {
        let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        match meta {
            Ok(m) => {
                let ft = m.file_type();
                let kind = if ft.is_symlink() {
                    Kind::Symlink
                } else if ft.is_dir() {
                    Kind::Dir
                } else if ft.is_file() {
                    Kind::File
                } else {
                    Kind::Other
                };
                self.entries.push(Entry {
                    path: rel,
                    kind,
                    size: m.len(),
                    dev: m.dev(),
                    ino: m.ino(),
                    nlink: m.nlink(),
                    mode: m.mode(),
                    uid: m.uid(),
                    gid: m.gid(),
                    mtime: (m.mtime(), m.mtime_nsec()),
                });
            }
            Err(err) => self
                .errors
                .push(PathError::from_walkdir("stat", err).with_path(rel)),
        }
    }

    fn push_error(&mut self, root: &Path, err: walkdir::Error) {
        let e = PathError::from_walkdir("read", err);
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap_or(e.path())
            .to_path_buf();
        self.errors.push(e.with_path(rel));
    }

    /// Indices of entries that carry bytes: regular files, each (dev, inode) once.
    pub fn unique_files(&self) -> Vec<bool> {
        let mut seen = HashSet::new();
        self.entries
            .iter()
            .map(|e| e.is_file() && (e.nlink <= 1 || seen.insert((e.dev, e.ino))))
            .collect()
    }

    /// The index of the entry at `rel` (relative to the root), by binary search.
    pub fn index(&self, rel: &Path) -> Option<usize> {
        self.entries
            .binary_search_by(|e| e.path.as_path().cmp(rel))
            .ok()
    }

    /// The entry at `rel` (relative to the root), by binary search.
    pub fn find(&self, rel: &Path) -> Option<&Entry> {
        self.index(rel).map(|i| &self.entries[i])
    }

    /// The first path (in order) where `other`, a later walk of the same tree, differs from
    /// this one: added, removed, or changed in kind, size, mode or mtime. None: the same.
    pub fn first_difference<'a>(&'a self, other: &'a Inventory) -> Option<&'a Path> {
        let key = |e: &Entry| (e.kind, e.size, e.mode, e.mtime);
        let mut a = self.entries.iter().peekable();
        let mut b = other.entries.iter().peekable();
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => return None,
                (Some(x), None) => return Some(&x.path),
                (None, Some(y)) => return Some(&y.path),
                (Some(x), Some(y)) if x.path != y.path => {
                    return Some(if x.path < y.path { &x.path } else { &y.path })
                }
                (Some(x), Some(y)) if key(x) != key(y) => return Some(&x.path),
                _ => {
                    a.next();
                    b.next();
                }
            }
        }
    }

    /// The entries directly inside the directory `dir` (relative to the root; `""` is the
    /// root), in order: one binary search, then the run of its descendants.
    pub fn children<'a>(&'a self, dir: &'a Path) -> impl Iterator<Item = &'a Entry> + 'a {
        let start = self.entries.partition_point(|e| e.path.as_path() <= dir);
        self.entries[start..]
            .iter()
            .take_while(move |e| e.path.starts_with(dir))
            .filter(move |e| e.path.parent() == Some(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn sorted_links_not_followed_hardlinks_counted_once() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("lib/sp/pkg/sub")).unwrap();
        fs::create_dir_all(r.join("lib/sp/other")).unwrap();
        fs::write(r.join("lib/sp/pkg/a.py"), "x = 1\n").unwrap();
        fs::write(r.join("lib/sp/pkg/sub/b.py"), "y = 2\n").unwrap();
        fs::hard_link(r.join("lib/sp/pkg/a.py"), r.join("lib/sp/other/a_link.py")).unwrap();
        fs::write(r.join("lib/sp/top.py"), "").unwrap();
        std::os::unix::fs::symlink("/nonexistent/target", r.join("lib/sp/dangling")).unwrap();
        std::os::unix::fs::symlink(".", r.join("lib/sp/pkg/loop")).unwrap();
        let inv = Inventory::scan(r, Path::new("lib/sp")).unwrap();
        let paths: Vec<_> = inv
            .entries
            .iter()
            .map(|e| e.path.to_str().unwrap().to_string())
            .collect();
        let mut sorted = paths.clone();
        sorted.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
        assert_eq!(paths, sorted);
        assert!(paths.contains(&"lib/sp/pkg/sub/b.py".to_string()));
        let link = inv.find(Path::new("lib/sp/pkg/loop")).unwrap();
        assert_eq!(link.kind, Kind::Symlink);
        assert_eq!(
            inv.find(Path::new("lib/sp/dangling")).unwrap().kind,
            Kind::Symlink
        );
        let unique = inv.unique_files();
        let counted: u64 = inv
            .entries
            .iter()
            .zip(&unique)
            .filter(|(_, u)| **u)
            .map(|(e, _)| e.size)
            .sum();
        assert_eq!(counted, 12, "a.py and its hardlink count once");
        assert!(inv.errors.is_empty());
    }

    #[test]
    fn unreadable_directory_is_an_error_with_its_relative_path_and_kind() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("lib/sp/pkg/locked")).unwrap();
        fs::write(r.join("lib/sp/pkg/a.py"), "").unwrap();
        let locked = r.join("lib/sp/pkg/locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read_dir(&locked).is_ok() {
            return; // root reads anything: nothing to see here
        }
        let inv = Inventory::scan(r, Path::new("lib/sp")).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(inv.errors.len(), 1, "{:?}", inv.errors);
        let e = &inv.errors[0];
        assert_eq!(e.path(), Path::new("lib/sp/pkg/locked"));
        assert_eq!(e.io_error().kind(), std::io::ErrorKind::PermissionDenied);
        assert!(e.reason().starts_with("cannot read: "), "{}", e.reason());
    }
}
