//! The last pass over a finished tree, for a reproducible and hardened image layer: identical
//! files hardlinked (`--dedupe`: a layer stores a hardlinked file once), permissions normalised
//! (no group/other write, no setuid/setgid, then `--chmod`), and every mtime fixed
//! (`--mtime`/SOURCE_DATE_EPOCH; symlinks too, with lutimes). The walk is sorted, so the same
//! tree always gets the same links: the lexicographically first path of a group is the target.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::Writer;
use crate::error::PathError;
use crate::settings::modes;

/// What `--dedupe` did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Dedupe {
    /// Paths that became hardlinks of an identical file.
    pub linked: u64,
    /// Groups of identical files (two or more inodes each).
    pub groups: u64,
    /// Bytes no longer stored (each inode once).
    pub saved_bytes: u64,
}

struct Item {
    path: PathBuf,
    meta: fs::Metadata,
}

/// Every entry under `root`, sorted; `skip_own`: not the in-place journal and staging
/// directory at the root (they are gone when the run ends). An entry that cannot be read is
/// sent to `fail`: the pass would leave its mode and mtime as they are.
fn walk(fail: &dyn Fn(&Path, String), root: &Path, skip_own: bool) -> Vec<Item> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(skip_own
                && e.depth() == 1
                && (e.file_name() == super::journal::JOURNAL
                    || e.file_name() == super::journal::STAGING))
        })
        .filter_map(|e| {
            let read = e
                .map_err(|err| PathError::from_walkdir("read", err))
                .and_then(|e| match e.path().symlink_metadata() {
                    Ok(meta) => Ok(Item {
                        path: e.into_path(),
                        meta,
                    }),
                    Err(err) => Err(PathError::new("stat", e.path(), err)),
                });
            read.map_err(|err| fail(err.path(), err.reason())).ok()
        })
        .collect()
}

/// The permission bits an entry ends with.
fn final_mode(mode: u32, is_dir: bool, chmod: Option<&modes::Chmod>) -> u32 {
    let m = modes::normalize(mode);
    chmod.map_or(m, |c| c.apply(m, is_dir))
}

/// Run the pass on `root` (the staging tree, the venv in place, or the licence directory).
/// Returns (modes changed, mtimes set, dedupe result).
pub(super) fn normalize_tree(w: &Writer, root: &Path, dedupe: bool) -> (u64, u64, Option<Dedupe>) {
    let fail = |p: &Path, err: String| w.fail(p, err);
    normalize_with(&w.plan.handoff.opts, &fail, root, dedupe, false)
}

/// `normalize_tree` with the options given and failures sent to `fail` (in place, a rerun
/// finishing a journal has no plan); `skip_own` leaves the journal and staging directory out.
pub(super) fn normalize_with(
    opts: &crate::settings::handoff::Options,
    fail: &dyn Fn(&Path, String),
    root: &Path,
    dedupe: bool,
    skip_own: bool,
) -> (u64, u64, Option<Dedupe>) {
    let chmod = opts.chmod.as_ref();
    let dd = if dedupe {
        let items = walk(fail, root, skip_own);
        let dir_times: Vec<(PathBuf, filetime::FileTime)> = items
            .iter()
            .filter(|i| i.meta.is_dir())
            .map(|i| {
                (
                    i.path.clone(),
                    filetime::FileTime::from_last_modification_time(&i.meta),
                )
            })
            .collect();
        let d = link_identical(fail, &items, chmod, opts.mtime);
        if opts.mtime.is_none() {
            // Linking renamed entries into directories: give them back their mtimes.
            for (p, t) in dir_times {
                if let Err(err) = filetime::set_file_mtime(&p, t) {
                    fail(&p, format!("cannot set mtime: {err}"));
                }
            }
        }
        Some(d)
    } else {
        None
    };
    // With dedupe, the walk above has reported what cannot be read already.
    let quiet = |_: &Path, _: String| {};
    let items = walk(if dedupe { &quiet } else { fail }, root, skip_own);
    let mut changed = 0;
    for i in items.iter().filter(|i| !i.meta.file_type().is_symlink()) {
        let old = i.meta.mode() & 0o7777;
        let new = final_mode(i.meta.mode(), i.meta.is_dir(), chmod);
        if new != old {
            crate::fault::point("chmod");
            match fs::set_permissions(&i.path, fs::Permissions::from_mode(new)) {
                Ok(()) => changed += 1,
                Err(err) => fail(&i.path, format!("cannot chmod: {err}")),
            }
        }
    }
    let mut set = 0;
    if let Some(t) = opts.mtime {
        let t = filetime::FileTime::from_unix_time(t, 0);
        // Deepest first is not needed (utime changes no parent), but sorted keeps it boring.
        for i in &items {
            crate::fault::point("set an mtime");
            let r = if i.meta.file_type().is_symlink() {
                filetime::set_symlink_file_times(&i.path, t, t)
            } else {
                filetime::set_file_times(&i.path, t, t)
            };
            match r {
                Ok(()) => set += 1,
                Err(err) => fail(&i.path, format!("cannot set mtime: {err}")),
            }
        }
    }
    (changed, set, dd)
}

/// Hardlink regular files with the same bytes, final mode, owner and mtime (the fixed one when
/// given: a hardlink has one mtime, and a timestamp pyc checks its source's).
fn link_identical(
    fail: &dyn Fn(&Path, String),
    items: &[Item],
    chmod: Option<&modes::Chmod>,
    mtime: Option<i64>,
) -> Dedupe {
    type Key = (u64, u32, u32, u32, i64, i64);
    let mut by_key: BTreeMap<Key, Vec<&Item>> = BTreeMap::new();
    for i in items
        .iter()
        .filter(|i| i.meta.is_file() && i.meta.len() > 0)
    {
        let m = &i.meta;
        let (s, ns) = mtime.map_or((m.mtime(), m.mtime_nsec()), |t| (t, 0));
        let key = (
            m.len(),
            final_mode(m.mode(), false, chmod),
            m.uid(),
            m.gid(),
            s,
            ns,
        );
        by_key.entry(key).or_default().push(i);
    }
    let candidates: Vec<Vec<&Item>> = by_key
        .into_values()
        .filter(|g| {
            let first = (g[0].meta.dev(), g[0].meta.ino());
            g.iter().any(|i| (i.meta.dev(), i.meta.ino()) != first)
        })
        .collect();
    let hashed: Vec<Hashed> = candidates
        .par_iter()
        .map(|g| {
            let mut seen: HashMap<(u64, u64), Option<[u8; 32]>> = HashMap::new();
            g.iter()
                .map(|i| {
                    let inode = (i.meta.dev(), i.meta.ino());
                    let h = *seen.entry(inode).or_insert_with(|| hash(&i.path));
                    (*i, h)
                })
                .collect()
        })
        .collect();
    let mut d = Dedupe::default();
    for group in hashed {
        let mut by_hash: BTreeMap<[u8; 32], Vec<&Item>> = BTreeMap::new();
        for (i, h) in group {
            if let Some(h) = h {
                by_hash.entry(h).or_default().push(i);
            }
        }
        for same in by_hash.into_values() {
            let target = same[0];
            let t_inode = (target.meta.dev(), target.meta.ino());
            let mut inodes: Vec<(u64, u64)> =
                same.iter().map(|i| (i.meta.dev(), i.meta.ino())).collect();
            inodes.sort();
            inodes.dedup();
            if inodes.len() < 2 {
                continue;
            }
            d.groups += 1;
            let mut freed: HashMap<(u64, u64), bool> = HashMap::new();
            for i in &same[1..] {
                let inode = (i.meta.dev(), i.meta.ino());
                if inode == t_inode {
                    continue;
                }
                crate::fault::point("hardlink an identical file");
                match relink(&target.path, &i.path) {
                    Ok(()) => {
                        d.linked += 1;
                        freed.entry(inode).or_insert(true);
                    }
                    Err(err) => {
                        freed.insert(inode, false);
                        fail(
                            &i.path,
                            format!("cannot hardlink to {}: {err}", target.path.display()),
                        );
                    }
                }
            }
            d.saved_bytes += freed.values().filter(|f| **f).count() as u64 * target.meta.len();
        }
    }
    d
}

/// A group of same-size candidates with each one's content hash (None: unreadable).
type Hashed<'a> = Vec<(&'a Item, Option<[u8; 32]>)>;

fn hash(path: &Path) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(h.finalize().into())
}

/// Replace `path` by a hardlink of `target`: link to a temporary name beside it, rename over.
fn relink(target: &Path, path: &Path) -> std::io::Result<()> {
    let tmp = super::hidden_beside(path, "link");
    // A stale link of a killed run: if it cannot be removed, hard_link fails (EEXIST), reported.
    let _ = fs::remove_file(&tmp);
    fs::hard_link(target, &tmp)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        // Best effort: the rename's error is returned; `path` still holds its own bytes.
        let _ = fs::remove_file(&tmp);
    })
}
