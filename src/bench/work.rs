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
        if let Some(given) = keep {
            let dir = crate::settings::output_dir(
                "--keep",
                given,
                root,
                crate::settings::Input::ReadOnly,
            )?;
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create `{}`", given.display()))?;
            return Ok(Work { dir, remove: false });
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
            // In Drop there is no one to tell: a leftover work directory is only disk space.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
