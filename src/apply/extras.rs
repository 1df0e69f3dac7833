//! The hand-off outputs, `--licenses-dir` and `--sbom`: where each is written and when it
//! appears. Inside OUT they are written into OUT's staging tree, so they are part of the
//! finished, normalised tree when it is renamed onto OUT. Elsewhere each gets a staging of its
//! own beside its path (`staging.rs`), renamed into place by `publish_extras` only once OUT is
//! published (OUT, then the licences, then the SBOM): a run that fails or is interrupted leaves
//! none of them. In place they are steps of the journal (`commit.rs`). See docs/safety.md.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::handoff::{copy_nofollow, make_dirs_under, prepare_under, write_nofollow};
use super::{Failure, Outcome, Staging, Writer};

/// Where a user path inside OUT lands now, as (base, path under it): under the staging tree,
/// whose links, copied from the venv, must not be followed (`make_dirs_under`).
pub(super) fn placed(w: &Writer, path: &Path) -> Option<(PathBuf, PathBuf)> {
    let rest = w.out.as_ref().and_then(|out| path.strip_prefix(out).ok())?;
    Some((w.dst.clone(), rest.to_path_buf()))
}

/// A hand-off output staged outside OUT, waiting for `publish_extras`.
#[derive(Debug)]
pub(super) struct Staged {
    staging: Staging,
    /// The path it is renamed onto.
    to: PathBuf,
    licences: bool,
}

/// Stage `given` (a directory or a file) beside itself; the staging is published after OUT.
fn stage(w: &Writer, given: &Path, dir: bool) -> anyhow::Result<PathBuf> {
    let staging = if dir {
        Staging::create(given)?
    } else {
        Staging::create_file(given)?
    };
    let path = staging.path().to_path_buf();
    w.staged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Staged {
            staging,
            to: given.to_path_buf(),
            licences: dir,
        });
    Ok(path)
}

/// Rename the staged licence directory, then the staged SBOM, into place, after OUT is
/// published. One that cannot be renamed
/// is a failure of the run, and the report no longer counts what it held.
pub(super) fn publish_extras(w: &Writer, outcome: &mut Outcome) {
    // The caller holds signals from OUT's rename on (in place, the journal writes these).
    let staged = std::mem::take(&mut *w.staged.lock().unwrap_or_else(|e| e.into_inner()));
    for s in staged {
        if let Err(err) = s.staging.publish(&s.to) {
            outcome.failures.push(Failure {
                path: s.to.clone(),
                error: format!("{err:#}"),
            });
            if s.licences {
                outcome.handoff.licenses = 0;
                outcome.handoff.license_paths.clear();
            } else {
                outcome.handoff.sbom_components = 0;
            }
        }
    }
}

/// What `write_extras` wrote.
#[derive(Debug, Default)]
pub(super) struct Extras {
    pub licence_paths: Vec<PathBuf>,
    pub not_written: Vec<String>,
    pub sbom_components: usize,
}

/// Gather licence files and write the SBOM: inside OUT into its staging tree, elsewhere into a
/// staging of their own (see `publish_extras`).
pub(super) fn write_extras(w: &Writer) -> Extras {
    let h = &w.plan.handoff;
    let mut x = Extras::default();
    let mut lic_staging = None;
    if let Some(given) = &h.opts.licenses_dir {
        let made = match placed(w, given) {
            Some((base, rest)) => make_dirs_under(&base, &rest).map_err(anyhow::Error::from),
            None => stage(w, given, true),
        };
        match made {
            Ok(dir) => {
                write_licences(w, &dir, &mut x);
                if !dir.starts_with(&w.dst) {
                    super::finalize::normalize_tree(w, &dir, false);
                    lic_staging = Some((given.clone(), dir));
                }
            }
            Err(err) => w.fail(
                given,
                format!("cannot create the licence directory: {err:#}"),
            ),
        }
    }
    x.sbom_components = write_sbom(w, lic_staging.as_ref());
    x
}

/// Copy each planned licence into `dir`; one whose path is taken is reported, not written.
fn write_licences(w: &Writer, dir: &Path, x: &mut Extras) {
    for (src, rel) in &w.plan.handoff.licenses {
        let r =
            prepare_under(dir, rel).and_then(|dst| copy_nofollow(&w.src(src), &dst, Some(0o644)));
        match r {
            Ok(()) => x.licence_paths.push(rel.clone()),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => x.not_written.push(format!(
                "{}: not copied to {}: something is already there (put there by --dist-info strip or by the venv), and a licence never overwrites a file",
                src.display(),
                rel.display()
            )),
            Err(err) => w.fail(
                src,
                format!("cannot copy licence to {}: {err}", dir.join(rel).display()),
            ),
        }
    }
}

/// Write the SBOM; returns how many distributions it lists (0 when it failed). Inside OUT it
/// goes into OUT's staging tree, inside the licence directory into that one's staging
/// (`lic`: the directory as given and its staging), elsewhere into a staged file.
fn write_sbom(w: &Writer, lic: Option<&(PathBuf, PathBuf)>) -> usize {
    let h = &w.plan.handoff;
    let (Some(given), Some((bytes, n))) = (&h.opts.sbom, &h.sbom) else {
        return 0;
    };
    let in_lic = lic.and_then(|(d, staged)| {
        let rest = given.strip_prefix(d).ok()?;
        Some((staged.clone(), rest.to_path_buf()))
    });
    let r = match placed(w, given).or(in_lic) {
        Some((base, rest)) => prepare_under(&base, &rest).and_then(|file| {
            write_nofollow(&file, 0o644, |f| f.write_all(bytes))?;
            Ok(file)
        }),
        None => stage(w, given, false)
            .map_err(|e| io::Error::other(format!("{e:#}")))
            .and_then(|file| {
                crate::fault::point("write the SBOM");
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&file)?;
                f.write_all(bytes)?;
                f.set_permissions(fs::Permissions::from_mode(0o644))?;
                Ok(file)
            }),
    };
    match r {
        Ok(file) => {
            if let (false, Some(t)) = (file.starts_with(&w.dst), h.opts.mtime) {
                let t = filetime::FileTime::from_unix_time(t, 0);
                if let Err(err) = filetime::set_file_times(&file, t, t) {
                    w.fail(given, format!("cannot set mtime: {err}"));
                }
            }
            *n
        }
        Err(err) => {
            w.fail(given, format!("cannot write the SBOM: {err}"));
            0
        }
    }
}
