//! Out of place: copy every kept entry into the staging directory (hardlinked inodes stay
//! hardlinked, symlinks stay symlinks, owners and mtimes are kept), then apply the plan's
//! rewrites and moves there. Nothing here reads anything but the input venv.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::Writer;
use crate::error::{at, PathError};
use crate::inventory::{Entry, Kind};
use crate::plan::ActionKind;
use crate::rules::Rewrite;

/// Copy every kept entry into the staging directory, apply rewrites and moves.
pub(super) fn copy_tree(w: &Writer) -> Result<()> {
    let plan = w.plan;
    let dirs = plan.kept_dirs();
    let mut dir_list: Vec<&PathBuf> = dirs.iter().collect();
    dir_list.sort();
    for d in dir_list {
        crate::fault::point("create a directory");
        make_dirs_below(&w.dst, d)
            .with_context(|| format!("cannot create `{}`", w.dst.join(d).display()))?;
    }
    // Hardlinked inodes: the first path in sorted order is copied, the others linked to it.
    let mut leaders: HashMap<(u64, u64), usize> = HashMap::new();
    let mut followers = Vec::new();
    let mut copies = Vec::new();
    for (i, e) in plan.inv.entries.iter().enumerate() {
        if e.kind == Kind::Dir || plan.is_removed(i) {
            continue;
        }
        let rewritten = plan.fate[i]
            .is_some_and(|a| matches!(plan.actions[a].kind, ActionKind::Rewrite(..)))
            || plan.handoff.text(&e.path).is_some();
        if e.kind == Kind::File && e.nlink > 1 && !rewritten {
            match leaders.get(&(e.dev, e.ino)) {
                Some(&lead) => {
                    followers.push((i, lead));
                    continue;
                }
                None => {
                    leaders.insert((e.dev, e.ino), i);
                }
            }
        }
        copies.push(i);
    }
    copies.par_iter().for_each(|&i| copy_entry(w, i));
    for (i, lead) in followers {
        let (e, l) = (&plan.inv.entries[i], &plan.inv.entries[lead]);
        crate::fault::point("hardlink");
        if let Err(err) = fs::hard_link(w.dst.join(&l.path), w.dst.join(&e.path)) {
            w.fail_io(&e.path, PathError::new("hardlink", &e.path, err));
        }
    }
    for a in &plan.actions {
        let e = &plan.inv.entries[a.entry];
        match &a.kind {
            ActionKind::Rewrite(Rewrite::MetadataHeader, Some(bytes)) => {
                crate::fault::point("rewrite METADATA");
                if let Err(err) = write_new(&w.dst.join(&e.path), bytes, e) {
                    w.fail(&e.path, err);
                }
            }
            ActionKind::Move(to) => {
                let dst = w.dst.join(to);
                crate::fault::point("move");
                let r = super::handoff::copy_moved(w, &e.path, to);
                match r {
                    Ok(()) => w.meta_done(&e.path, set_meta(&dst, e)),
                    Err(err) => w.fail(&e.path, format!("cannot move to {}: {err}", to.display())),
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `root/rel` and its missing parents below `root`, one level at a time. Unlike
/// create_dir_all it never makes `root` itself, so once the signal thread has renamed the
/// staging directory away this fails instead of making it anew.
fn make_dirs_below(root: &Path, rel: &Path) -> std::io::Result<()> {
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::create_dir(&cur) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

fn copy_entry(w: &Writer, i: usize) {
    w.progress.inc(1);
    let plan = w.plan;
    let e = &plan.inv.entries[i];
    let (src, dst) = (w.src(&e.path), w.dst.join(&e.path));
    if plan.fate[i].is_some_and(|a| matches!(plan.actions[a].kind, ActionKind::Rewrite(..))) {
        return; // written by its rewrite: METADATA below, RECORD at the end
    }
    crate::fault::point("copy");
    if super::handoff::copy_relocated(w, e, &dst) {
        return;
    }
    if let (Ok(_), Some(mode)) = (plan.elf.binary_search(&i), plan.elf_mode) {
        let verdict = crate::elf::strip_to(&src, &dst, mode).unwrap_or_else(|err| {
            crate::elf::Verdict::Refused {
                why: format!("{err:#}"),
            }
        });
        let stripped = matches!(verdict, crate::elf::Verdict::Stripped { .. });
        w.elf_done(i, verdict);
        if stripped {
            w.meta_done(&e.path, set_meta(&dst, e));
            return;
        }
    }
    let result = match e.kind {
        Kind::File => fs::copy(&src, &dst).map(drop),
        Kind::Symlink => {
            fs::read_link(&src).and_then(|target| std::os::unix::fs::symlink(target, &dst))
        }
        Kind::Other => {
            w.skip(
                &e.path,
                "not a regular file, directory or symlink (a FIFO, socket or device): not copied",
            );
            return;
        }
        Kind::Dir => return,
    };
    match result {
        Ok(()) => w.meta_done(&e.path, set_meta(&dst, e)),
        Err(err) => w.fail_io(&e.path, PathError::new("copy", &e.path, err)),
    }
}

/// Owner (when we may) and mtime of the original; permissions come with fs::copy. `Err`: the
/// mtime could not be set, for the caller to report (as the last pass reports its own).
pub(crate) fn set_meta(dst: &Path, e: &Entry) -> Result<(), PathError> {
    // Only root may give a file away: run as anyone else, the copy keeps the runner's owner,
    // as `cp -p` does, and that is expected, not a failure.
    let _ = std::os::unix::fs::lchown(dst, Some(e.uid), Some(e.gid));
    let t = filetime::FileTime::from_unix_time(e.mtime.0, e.mtime.1 as u32);
    if e.kind == Kind::Symlink {
        filetime::set_symlink_file_times(dst, t, t)
    } else {
        filetime::set_file_times(dst, t, t)
    }
    .map_err(at("set mtime", dst))
}

/// Fill a temporary file beside `path` with `fill`, give it `like`'s mode, owner and mtime, and
/// rename it over `path`: never a half-written file, and another hardlink of the old inode (a
/// package cache) keeps its bytes. The temporary file is removed on failure.
pub(crate) fn replace_file(
    path: &Path,
    like: &Entry,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = super::hidden_beside(path, "tmp");
    let result = (|| {
        fill(&tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(like.mode & 0o7777))?;
        set_meta(&tmp, like)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the failure is returned; a leftover temp file is hidden and replaced
        // by the next write of this path.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to `path` through a temporary file beside it, with `like`'s mode and mtime.
pub(super) fn write_new(path: &Path, bytes: &[u8], like: &Entry) -> std::io::Result<()> {
    replace_file(path, like, |tmp| fs::write(tmp, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind) -> Entry {
        Entry {
            path: PathBuf::from("pkg/a.py"),
            kind,
            size: 0,
            dev: 0,
            ino: 0,
            nlink: 1,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: (1_000_000_000, 5),
        }
    }

    /// An mtime that cannot be set is returned, in the words the last pass uses for its own.
    #[test]
    fn set_meta_reports_the_mtime_it_could_not_set() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("a.py");
        fs::write(&file, "").unwrap();
        set_meta(&file, &entry(Kind::File)).unwrap();
        let m = fs::metadata(&file).unwrap();
        assert_eq!(
            filetime::FileTime::from_last_modification_time(&m),
            filetime::FileTime::from_unix_time(1_000_000_000, 5)
        );
        let gone = t.path().join("gone.py");
        let err = set_meta(&gone, &entry(Kind::File)).unwrap_err();
        assert_eq!(err.path(), gone);
        assert_eq!(err.io_error().kind(), std::io::ErrorKind::NotFound);
        assert!(err.reason().starts_with("cannot set mtime: "), "{err}");
        let err = set_meta(&gone, &entry(Kind::Symlink)).unwrap_err();
        assert_eq!(err.io_error().kind(), std::io::ErrorKind::NotFound);
    }
}
