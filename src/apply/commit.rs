//! In place, step 3: run the journal's steps on the tree (again, after a kill: each is
//! idempotent), remove the staging directory, run the last pass (modes, mtimes, dedupe), and
//! remove the journal last. Used by an uninterrupted run and by the rerun that finishes a
//! killed one, so both end the same way. Every path comes from the journal, which the venv
//! could forge: it is joined under its base without following a symlink (journal::under), the
//! staging directory must be a real directory, and a licence is copied only from a regular file.

use std::fs;
use std::path::Path;
use std::sync::Mutex;

use super::journal::{self, Journal, Op, JOURNAL, SBOM, STAGING, TREE};
use super::{Failure, HandoffOutcome};
use crate::fault::point;
use crate::progress::Progress;
use crate::settings::handoff::Options;

pub(super) struct Finished {
    pub failures: Vec<Failure>,
    pub handoff: HandoffOutcome,
}

/// Step 3: run every step of the journal (again), remove the staging directory, run the last
/// pass, remove the journal.
pub(super) fn finish(root: &Path, opts: &Options, j: &Journal, progress: &Progress) -> Finished {
    progress.phase("finishing", j.ops.len() as u64);
    let failures = Mutex::new(Vec::new());
    let fail = |path: &Path, err: String| {
        failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Failure {
                path: path.to_path_buf(),
                error: err,
            })
    };
    // A symlink here (a forged journal's) would make renames take files from elsewhere.
    // Staged content is used only from the staging directory this journal was written with (a
    // wheel can ship both a journal and a staging directory, but not guess its inode).
    let ours = j.staging.is_some() && journal::staging_id(root) == j.staging;
    let staging_ok = ours && real_dir(&root.join(STAGING).join(TREE));
    let sbom_ok = ours;
    if !ours && fs::symlink_metadata(root.join(STAGING)).is_ok() {
        fail(
            &root.join(STAGING),
            "not the staging directory this journal was written with: its content is not used"
                .into(),
        );
    }
    let staged = root.join(STAGING).join(TREE);
    // Where the journal moves each path: a licence link whose target moves too follows it.
    let moves: Vec<(&Path, &Path)> = j
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Move(a, b) => Some((a.as_path(), b.as_path())),
            _ => None,
        })
        .collect();
    let mut licenses = 0;
    let mut license_paths = Vec::new();
    let mut sbom_components = 0;
    for op in &j.ops {
        let r = match op {
            Op::License(src, dst) => {
                let r = copy_license(root, opts, src, dst);
                if matches!(r, Ok(true)) {
                    licenses += 1;
                    license_paths.push(dst.clone());
                }
                r.map(drop)
            }
            Op::Sbom(_) if !sbom_ok => Ok(()),
            Op::Sbom(n) => {
                sbom_components = *n;
                write_sbom(root, opts)
            }
            Op::Replace(_) if !staging_ok => Ok(()),
            _ => run(root, &staged, op, &moves),
        };
        if let Err(err) = r {
            let path = match op {
                Op::Replace(p)
                | Op::Move(p, _)
                | Op::Remove(p)
                | Op::RemoveDir(p)
                | Op::Rmdir(p)
                | Op::License(p, _) => p.as_path(),
                Op::Sbom(_) => opts.sbom.as_deref().unwrap_or(Path::new("sbom")),
            };
            fail(path, format!("{err}"));
        }
        progress.inc(1);
    }
    if let Some(dir) = &opts.licenses_dir {
        if !j.ops.iter().any(|op| matches!(op, Op::License(..))) && !dir.exists() {
            point("create the licence directory");
            if let Err(err) = fs::create_dir_all(dir) {
                fail(dir, format!("{err}"));
            }
        }
    }
    let staging = root.join(STAGING);
    if fs::symlink_metadata(&staging).is_ok() {
        point("remove the staging directory");
        if let Err(err) = fs::remove_dir_all(&staging) {
            fail(&staging, format!("cannot remove: {err}"));
        }
    }
    let (modes_changed, mtimes_set, dedupe) =
        super::finalize::normalize_with(opts, &fail, root, opts.dedupe, true);
    if let Some(dir) = opts.licenses_dir.as_ref().filter(|d| !d.starts_with(root)) {
        super::finalize::normalize_with(opts, &fail, dir, false, false);
    }
    if let (Some(file), Some(t)) = (&opts.sbom, opts.mtime) {
        if !file.starts_with(root) && sbom_components > 0 {
            let t = filetime::FileTime::from_unix_time(t, 0);
            point("set the SBOM's mtime");
            if let Err(err) = filetime::set_file_times(file, t, t) {
                fail(file, format!("cannot set mtime: {err}"));
            }
        }
    }
    journal::sync_fs(root);
    point("remove the journal");
    match fs::remove_file(root.join(JOURNAL)) {
        Ok(()) => {
            // Durability only: the journal is gone either way, and a rerun that still finds it
            // finishes the same steps again.
            if let Ok(d) = fs::File::open(root) {
                let _ = d.sync_all();
            }
        }
        Err(err) => fail(Path::new(JOURNAL), format!("cannot remove: {err}")),
    }
    if let Some(t) = opts.mtime {
        // Removing the journal touched the root.
        let t = filetime::FileTime::from_unix_time(t, 0);
        point("set the root's mtime");
        if let Err(err) = filetime::set_file_times(root, t, t) {
            fail(root, format!("cannot set mtime: {err}"));
        }
    }
    Finished {
        failures: failures.into_inner().unwrap_or_else(|e| e.into_inner()),
        handoff: HandoffOutcome {
            licenses,
            license_paths,
            not_written: Vec::new(),
            sbom_components,
            modes_changed,
            mtimes_set,
            dedupe,
        },
    }
}

/// A directory, not a symlink to one.
fn real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn make_parent(p: &Path) -> std::io::Result<()> {
    match p.parent() {
        Some(d) if !exists(d) => {
            point("create a directory");
            fs::create_dir_all(d)
        }
        _ => Ok(()),
    }
}

/// One step on the tree; a step already done is a no-op.
fn run(root: &Path, staged: &Path, op: &Op, moves: &[(&Path, &Path)]) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    match op {
        Op::Replace(p) => {
            let from = journal::under(staged, p)?;
            if !exists(&from) {
                return Ok(());
            }
            let to = journal::under(root, p)?;
            make_parent(&to)?;
            point("rename a staged file into place");
            fs::rename(&from, &to)
        }
        Op::Move(a, b) => {
            let (from, to) = (journal::under(root, a)?, journal::under(root, b)?);
            // A licence link is made anew so it names the same file from its new place (a
            // relative target renamed as it is would point elsewhere, maybe out of the tree);
            // the new link comes first, so a kill between the two leaves both, and the rerun
            // sees the new one is right and removes the old.
            let is_link =
                |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
            if is_link(&from) {
                let moved = |p: &Path| {
                    moves
                        .iter()
                        .find(|(from, _)| *from == p)
                        .map(|(_, to)| to.to_path_buf())
                };
                let want = super::handoff::moved_link_with(root, a, b, &moved)?;
                if !exists(&to) {
                    make_parent(&to)?;
                    point("create a moved licence link");
                    std::os::unix::fs::symlink(&want, &to)?;
                }
                if fs::read_link(&to).ok().as_deref() != Some(want.as_path()) {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        format!("cannot move to {}: it exists", b.display()),
                    ));
                }
                point("remove the old licence link");
                return fs::remove_file(&from);
            }
            match (exists(&from), exists(&to)) {
                (true, true) => Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("cannot move to {}: it exists", b.display()),
                )),
                (true, false) => {
                    make_parent(&to)?;
                    point("move a file");
                    fs::rename(&from, &to)
                }
                (false, true) => Ok(()),
                (false, false) => Err(Error::new(ErrorKind::NotFound, "not found")),
            }
        }
        Op::Remove(p) => {
            let path = journal::under(root, p)?;
            if !exists(&path) {
                return Ok(());
            }
            point("remove a file");
            fs::remove_file(&path)
        }
        Op::RemoveDir(d) => {
            let path = journal::under(root, d)?;
            let hidden = super::hidden_beside(&path, "gone");
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {
                    if exists(&hidden) {
                        point("remove a hidden directory");
                        fs::remove_dir_all(&hidden)?;
                    }
                    point("hide a dist-info directory");
                    fs::rename(&path, &hidden)?;
                }
                Ok(_) => {
                    return Err(Error::new(ErrorKind::InvalidInput, "not a directory"));
                }
                Err(_) => {}
            }
            if exists(&hidden) {
                point("remove a hidden directory");
                fs::remove_dir_all(&hidden)?;
            }
            Ok(())
        }
        Op::Rmdir(d) => {
            let path = journal::under(root, d)?;
            let empty = fs::read_dir(&path).is_ok_and(|mut r| r.next().is_none());
            if empty && !fs::symlink_metadata(&path)?.file_type().is_symlink() {
                point("remove an emptied directory");
                // Another process may have put something there since: then it stays (ENOTEMPTY
                // is the expected failure here, not an error).
                let _ = fs::remove_dir(&path);
            }
            Ok(())
        }
        Op::License(..) | Op::Sbom(_) => Ok(()),
    }
}

/// Copy one licence file of the tree into `--licenses-dir` (when the run has one). True when
/// copied.
fn copy_license(root: &Path, opts: &Options, src: &Path, dst: &Path) -> std::io::Result<bool> {
    use std::io::{Error, ErrorKind};
    let Some(dir) = &opts.licenses_dir else {
        return Ok(false);
    };
    let from = journal::under(root, src)?;
    let to = journal::under(dir, dst)?;
    // The journal may be forged (a wheel can ship one), and the licence directory is outside
    // the venv: never write through a link, never over a file that is not this licence. A copy
    // already made (a rerun) is recognised by its bytes, so the step stays idempotent; it is
    // written to a temporary file and renamed, so a kill never leaves half a licence.
    let bytes = crate::safepath::read_nofollow(&from)?;
    match fs::symlink_metadata(&to) {
        Ok(m) if m.is_file() && crate::safepath::read_nofollow(&to)? == bytes => return Ok(true),
        Ok(_) => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("`{}` exists: not overwritten", to.display()),
            ))
        }
        Err(_) => {}
    }
    make_parent(&to)?;
    write_by_rename(&to, &bytes)?;
    Ok(true)
}

/// Write `bytes` (mode 0644) to a temporary file beside `to`, created with O_NOFOLLOW|O_EXCL
/// after removing what a killed run left there, and rename it onto `to`: never half a file,
/// and a link at `to` is replaced, never followed.
fn write_by_rename(to: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = super::hidden_beside(to, "tmp");
    if fs::symlink_metadata(&tmp).is_ok() {
        point("remove a half-written file");
        fs::remove_file(&tmp)?;
    }
    super::handoff::write_nofollow(&tmp, 0o644, |f| std::io::Write::write_all(f, bytes))?;
    point("rename a written file into place");
    fs::rename(&tmp, to)
}

/// Write the staged SBOM to `--sbom` (when the run has one and it is still staged).
fn write_sbom(root: &Path, opts: &Options) -> std::io::Result<()> {
    let staged = root.join(STAGING).join(SBOM);
    let staged_file =
        real_dir(&root.join(STAGING)) && fs::symlink_metadata(&staged).is_ok_and(|m| m.is_file());
    let (Some(file), true) = (&opts.sbom, staged_file) else {
        return Ok(());
    };
    if let Some(d) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !exists(d) {
            point("create the SBOM's directory");
            fs::create_dir_all(d)?;
        }
    }
    // Through a temporary file and a rename: a link at the SBOM's path (in place it may be a
    // path in the venv) is replaced, never followed.
    let bytes = crate::safepath::read_nofollow(&staged)?;
    write_by_rename(file, &bytes)
}
