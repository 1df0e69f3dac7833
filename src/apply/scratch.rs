//! Scratch directories and report files, the writes that are not the slimmed tree: where
//! `bench` makes its strategies' trees, where `strip --dry-run` writes its previews, and the
//! charts `bench --svg/--html` writes. They live in apply because apply is the only code that
//! writes.
//!
//! A scratch directory is made new (`mkdir`, never "create or reuse"), so a directory or link
//! someone planted at its name in a shared temp directory is never written through; it is
//! removed when dropped, even on an error. A report file is written beside its path and renamed
//! into place, so a failed render never leaves half a chart.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A scratch directory: made new and removed when dropped, or the user's `--keep DIR`, kept.
pub struct Scratch {
    /// The directory to write into.
    pub dir: PathBuf,
    remove: bool,
}

impl Scratch {
    /// Bench's workspace: the user's `--keep DIR` (checked like every output path, kept), else a
    /// new directory beside the venv (same filesystem, so copies, hardlinks and block counts
    /// behave as in a build), else in the temp directory. Never inside the venv.
    pub fn beside(root: &Path, keep: Option<&Path>) -> Result<Scratch> {
        if let Some(given) = keep {
            let dir = crate::settings::output_dir(
                "--keep",
                given,
                root,
                crate::settings::Input::ReadOnly,
            )?;
            fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create `{}`", given.display()))?;
            return Ok(Scratch { dir, remove: false });
        }
        let name = format!(".venvslim-bench-{}", std::process::id());
        let beside = root.parent().map(|p| p.join(&name));
        for dir in beside.into_iter().chain([std::env::temp_dir().join(&name)]) {
            if private_dir(&dir).is_ok() {
                return Ok(Scratch { dir, remove: true });
            }
        }
        bail!("cannot create a scratch directory beside `{}` or in the temp directory\nhint: give one with --keep DIR", root.display())
    }

    /// A new private directory (mode 0700) in the temp directory, named after `what`.
    pub fn temp(what: &str) -> Result<Scratch> {
        Scratch::inside(&std::env::temp_dir(), what)
    }

    /// A new private directory (mode 0700) in `base`, named after `what`, removed when dropped.
    pub fn inside(base: &Path, what: &str) -> Result<Scratch> {
        let pid = std::process::id();
        let mut last = None;
        for n in 0..100u32 {
            let dir = base.join(format!(".venvslim-{what}-{pid}-{n}"));
            match private_dir(&dir) {
                Ok(()) => return Ok(Scratch { dir, remove: true }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot create a scratch directory `{}`\nhint: `{}` must be an existing directory you can write (the temp directory is $TMPDIR, else /tmp)",
                            dir.display(),
                            base.display()
                        )
                    })
                }
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists))).with_context(
            || {
                format!(
                    "cannot create a scratch directory in `{}`\nhint: set TMPDIR to a directory of your own",
                    base.display()
                )
            },
        )
    }
}

impl Scratch {
    /// Write a new file `name` (a single component) in the scratch directory, with `bytes`:
    /// `O_EXCL`, so nothing planted there is written through. The `--run` hook is written so.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.file(name)?;
        let mut f = self.create(name)?;
        io::Write::write_all(&mut f, bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(path)
    }

    /// Create a new file `name` (a single component) in the scratch directory, for a child
    /// process to write into (a workload's output): `O_EXCL`, mode 0600.
    pub fn create(&self, name: &str) -> Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.file(name)?;
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create `{}`", path.display()))
    }

    /// The path of the file `name` in the scratch directory; `name` must be one component.
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        let name = crate::safepath::component(name.as_ref()).map_err(anyhow::Error::msg)?;
        Ok(self.dir.join(name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove {
            // Best effort: a scratch directory left behind holds nothing of the user's.
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `mkdir` with mode 0700; fails if anything (a directory, a link) is already there.
fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(dir)
}

/// Write a report file the user asked for: rendered into a new file beside `path`, then renamed
/// over it, so a reader never sees half of it and a failed render leaves no file.
pub fn write_report_file(path: &Path, render: &dyn Fn(&mut File) -> io::Result<()>) -> Result<()> {
    let tmp = super::hidden_beside(path, &std::process::id().to_string());
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| render(&mut f).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        // Best effort: the error below is what the user needs; a leftover temp is noise.
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(|| {
        format!(
            "cannot write `{}`\nhint: is its directory there and writable?",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_name_is_never_reused_and_the_directory_goes_when_dropped() {
        let t = tempfile::tempdir().unwrap();
        let elsewhere = t.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let pid = std::process::id();
        // Someone planted a link where the first scratch name would be.
        std::os::unix::fs::symlink(&elsewhere, t.path().join(format!(".venvslim-x-{pid}-0")))
            .unwrap();
        let s = Scratch::inside(t.path(), "x").unwrap();
        assert_eq!(s.dir, t.path().join(format!(".venvslim-x-{pid}-1")));
        fs::write(s.dir.join("f"), "x").unwrap();
        let dir = s.dir.clone();
        drop(s);
        assert!(!dir.exists());
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_render_leaves_neither_the_file_nor_a_temp() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("chart.svg");
        let err = write_report_file(&path, &|_| Err(io::Error::other("render failed")));
        assert!(err.is_err());
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
        write_report_file(&path, &|f| io::Write::write_all(f, b"<svg/>")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"<svg/>");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
