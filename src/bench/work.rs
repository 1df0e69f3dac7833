//! Where the strategies' trees are written: a scratch directory beside the venv (same
//! filesystem, so copies, hardlinks and block counts behave as in a build), removed when the
//! bench ends, even on an error; or the user's `--keep DIR`, kept. Never inside the venv.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The scratch directory: beside the venv (same filesystem) and removed at the end, or the
/// user's `--keep DIR`, kept.
pub(super) struct Work {
    pub dir: PathBuf,
    remove: bool,
}

impl Work {
    pub fn new(root: &Path, keep: Option<&Path>) -> Result<Work> {
        if let Some(dir) = keep {
            let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            if abs.starts_with(root) {
                bail!("--keep `{}` is inside the venv\nhint: the venv is never written to; keep the trees elsewhere", dir.display());
            }
            let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none());
            match empty {
                Ok(false) => bail!("--keep `{}` exists and is not empty\nhint: give a new directory; each strategy's tree is written into it", dir.display()),
                _ => std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?,
            }
            return Ok(Work {
                dir: dir.to_path_buf(),
                remove: false,
            });
        }
        let name = format!(".venvslim-bench-{}", std::process::id());
        let beside = root.parent().map(|p| p.join(&name));
        for dir in beside.into_iter().chain([std::env::temp_dir().join(&name)]) {
            if std::fs::create_dir(&dir).is_ok() {
                return Ok(Work { dir, remove: true });
            }
        }
        bail!("cannot create a scratch directory beside `{}` or in the temp directory\nhint: give one with --keep DIR", root.display())
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
