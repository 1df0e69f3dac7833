//! `slim --verify`, the writing half: put back in OUT what the plan took from the distributions
//! that broke. `verify` decides which actions and ELF files that is (`verify::Restore`, indices
//! into the plan); this undoes them, and shares `fix_dirs` with `unzip` (zip.rs).
//!
//! The plan is data, so the repair is exact: every removal, move or METADATA rewrite asked for
//! is undone by copying the original from the input venv (same relative path, mode, owner when
//! we may, mtime), through a temporary file renamed over the destination; every stripped ELF
//! file asked for is copied back too. What is already right in OUT is left alone, so restoring
//! twice changes nothing.
//!
//! What this does not do: RECORD files are left as they are (the caller rewrites them, with the
//! restored files listed again); nothing is ever written into the input venv; a removed path
//! that the run wrote anew (a stale pyc replaced by a recompiled one) keeps the new file.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{replace_file, set_meta};
use crate::inventory::{Entry, Kind};
use crate::plan::{ActionKind, Plan};
use crate::rules::Rewrite;

/// The rule id reported for an ELF file whose original bytes were put back (stripping is not a
/// table rule: it is `--elf`).
pub const ELF_RULE: &str = "elf.strip";

/// One file verify asked for and apply put back, with the rule that had removed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    /// Relative to the tree's root.
    #[serde(serialize_with = "crate::jsonpath::lossy_path")]
    pub path: PathBuf,
    /// The id of the rule that had removed or changed it.
    pub rule: &'static str,
    /// The distribution it belongs to (normalized).
    pub dist: String,
}

/// Undo, in `out`, the plan's `actions` (indices into `plan.actions`: removals, moves, METADATA
/// rewrites) and put back the original bytes of the stripped ELF files `elf` (inventory
/// indices). Returns what was put back, sorted by path.
pub fn restore(plan: &Plan, out: &Path, actions: &[usize], elf: &[usize]) -> Result<Vec<Restored>> {
    refuse_input(plan, out)?;
    let mut done = Vec::new();
    for a in actions.iter().map(|&a| &plan.actions[a]) {
        let e = &plan.inv.entries[a.entry];
        let put = match &a.kind {
            ActionKind::Remove | ActionKind::RemoveAfterCompile => {
                !exists(&out.join(&e.path)) && put_back(plan, e, out)?
            }
            ActionKind::Move(to) => {
                let undone = exists(&out.join(&e.path)) && !exists(&out.join(to));
                let put = !undone && put_back(plan, e, out)?;
                remove_moved(out, to)?;
                put
            }
            ActionKind::Rewrite(Rewrite::MetadataHeader, _) => {
                !unchanged(plan, e, out)? && put_back(plan, e, out)?
            }
            // Rewritten by the caller once the restored files are back.
            ActionKind::Rewrite(Rewrite::Record, _) => false,
        };
        if let (true, false, Some(d)) = (put, e.kind == Kind::Dir, a.dist) {
            done.push(Restored {
                path: e.path.clone(),
                rule: a.rule.id,
                dist: plan.dists[d].normalized.clone(),
            });
        }
    }
    for &i in elf {
        let e = &plan.inv.entries[i];
        let Some(d) = plan.own.owner(&e.path) else {
            continue;
        };
        if !unchanged(plan, e, out)? && put_back(plan, e, out)? {
            done.push(Restored {
                path: e.path.clone(),
                rule: ELF_RULE,
                dist: plan.dists[d].normalized.clone(),
            });
        }
    }
    fix_dirs(plan, out, done.iter().map(|r| r.path.as_path()))?;
    done.sort_by(|a, b| a.path.cmp(&b.path));
    done.dedup();
    Ok(done)
}

/// `out` must be another tree than the input (an in-place run has nothing left to restore from).
fn refuse_input(plan: &Plan, out: &Path) -> Result<()> {
    let real =
        fs::canonicalize(out).with_context(|| format!("cannot resolve `{}`", out.display()))?;
    if real.starts_with(&plan.venv.root) {
        bail!(
            "`{}` is the input venv `{}` (or inside it): there is no original left to restore from\nhint: restore needs an out-of-place run (-o OUT)",
            out.display(),
            plan.venv.root.display()
        );
    }
    Ok(())
}

/// Copy one original entry into `out`. Ok(false) for what is never copied (FIFOs, devices).
fn put_back(plan: &Plan, e: &Entry, out: &Path) -> Result<bool> {
    let (src, dst) = (plan.venv.root.join(&e.path), out.join(&e.path));
    crate::fault::point("restore a file from the input");
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    match e.kind {
        Kind::Dir => {
            fs::create_dir_all(&dst)
                .with_context(|| format!("cannot create `{}`", dst.display()))?;
        }
        Kind::File => copy_file(&src, &dst, e).with_context(|| {
            format!(
                "cannot restore `{}` from `{}`",
                dst.display(),
                src.display()
            )
        })?,
        Kind::Symlink => {
            let target = fs::read_link(&src)
                .with_context(|| format!("cannot read link `{}`", src.display()))?;
            if fs::symlink_metadata(&dst).is_ok() {
                fs::remove_file(&dst)
                    .with_context(|| format!("cannot replace `{}`", dst.display()))?;
            }
            std::os::unix::fs::symlink(&target, &dst)
                .with_context(|| format!("cannot create link `{}`", dst.display()))?;
            set_meta(&dst, e)?;
        }
        Kind::Other => return Ok(false),
    }
    Ok(true)
}

/// Through a temporary file beside the destination, renamed over it: never a half-written file.
fn copy_file(src: &Path, dst: &Path, e: &Entry) -> std::io::Result<()> {
    replace_file(dst, e, |tmp| fs::copy(src, tmp).map(drop))
}

/// Delete the moved copy (a licence under `licenses/`) and the directories it leaves empty.
fn remove_moved(out: &Path, to: &Path) -> Result<()> {
    let moved = out.join(to);
    crate::fault::point("remove a moved licence");
    match fs::remove_file(&moved) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove `{}`", moved.display())),
    }
    for dir in to.ancestors().skip(1).filter(|d| !d.as_os_str().is_empty()) {
        if fs::remove_dir(out.join(dir)).is_err() {
            break; // not empty: something else lives there
        }
    }
    Ok(())
}

/// Directories that received restored entries (relative paths) get the input's mode, owner and
/// mtime back, deepest first (writing into them changed the mtime; `create_dir_all` gave new
/// ones the default mode). For `restore` and for `unzip`.
pub(super) fn fix_dirs<'a>(
    plan: &Plan,
    out: &Path,
    restored: impl IntoIterator<Item = &'a Path>,
) -> Result<()> {
    let mut dirs: BTreeSet<&Path> = BTreeSet::new();
    for p in restored {
        dirs.extend(p.ancestors().skip(1).filter(|d| !d.as_os_str().is_empty()));
    }
    for dir in dirs.into_iter().rev() {
        let Some(e) = plan.inv.find(dir).filter(|e| e.kind == Kind::Dir) else {
            continue;
        };
        let path = out.join(dir);
        crate::fault::point("restore a directory's mode and mtime");
        fs::set_permissions(&path, fs::Permissions::from_mode(e.mode & 0o7777))
            .map_err(crate::error::at("chmod", &path))?;
        set_meta(&path, e)?;
    }
    Ok(())
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Whether `out` already holds the original bytes of `e` (restored before, or never changed).
fn unchanged(plan: &Plan, e: &Entry, out: &Path) -> Result<bool> {
    let (src, dst) = (plan.venv.root.join(&e.path), out.join(&e.path));
    same_bytes(&src, &dst).with_context(|| {
        format!(
            "cannot compare `{}` with `{}`",
            dst.display(),
            src.display()
        )
    })
}

/// Whether two files hold the same bytes (a missing `b` is not the same).
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = match (fs::metadata(a), fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => (ma, mb),
        (Err(e), _) => return Err(e),
        (_, Err(_)) => return Ok(false),
    };
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}
