//! The hand-made slimming recipes `venvslim bench` compares venvslim against, reproduced
//! faithfully so the comparison is fair: a plain copy (`cp -a`), the usual Dockerfile
//! `COPY --exclude` recipe, and serverless-python-requirements' `slim: true`. They live here
//! because `apply/` is the only code that writes trees. They apply no rule of venvslim's, on
//! purpose: showing what they break is the point of the bench.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

/// A hand-made way to copy a venv smaller, as people write it without venvslim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyRecipe {
    /// Everything, as `cp -a` copies it.
    Plain,
    /// `COPY --exclude=**/__pycache__ --exclude=**/*.dist-info --exclude=!**/*.dist-info/LICENSE*`:
    /// no `__pycache__` directory; of a `*.dist-info` directory only its direct entries named
    /// `LICENSE*` (BuildKit creates the directory only for them).
    ExcludePycacheDistinfo,
    /// serverless-python-requirements `slim: true`: delete `**/*.py[c|o]`, `**/__pycache__*`,
    /// `**/*.dist-info*`, then `find -name '*.so' -exec strip {} ;` (GNU strip, no options).
    SlsSlim,
}

impl CopyRecipe {
    /// The recipe in one line, for the bench report.
    pub fn how(self) -> &'static str {
        match self {
            CopyRecipe::Plain => "cp -a",
            CopyRecipe::ExcludePycacheDistinfo => {
                "copy without __pycache__ and *.dist-info (LICENSE* kept)"
            }
            CopyRecipe::SlsSlim => {
                "copy without *.py[c|o], __pycache__*, *.dist-info*; GNU strip *.so"
            }
        }
    }

    /// Whether the recipe leaves out `name` (a file or directory directly in `parent_name`).
    fn excludes(self, name: &str, is_dir: bool, parent_name: &str) -> bool {
        match self {
            CopyRecipe::Plain => false,
            CopyRecipe::ExcludePycacheDistinfo => {
                (is_dir && name == "__pycache__")
                    || (parent_name.ends_with(".dist-info") && !name.starts_with("LICENSE"))
            }
            CopyRecipe::SlsSlim => {
                // `*.py[c|o]` is a character class: c, | or o.
                name.ends_with(".pyc")
                    || name.ends_with(".pyo")
                    || name.ends_with(".py|")
                    || name.starts_with("__pycache__")
                    || name.contains(".dist-info")
            }
        }
    }
}

/// What a recipe did besides copying.
#[derive(Debug, Default)]
pub struct RecipeOutcome {
    /// Files GNU strip was run on (`SlsSlim`).
    pub stripped: usize,
    /// Files GNU strip refused, with its message (the recipe goes on, as `find -exec` does).
    pub strip_errors: Vec<(PathBuf, String)>,
}

/// Write `src` to `dst` (which must not exist) the way `recipe` would.
pub fn copy(src: &Path, dst: &Path, recipe: CopyRecipe) -> Result<RecipeOutcome> {
    if fs::symlink_metadata(dst).is_ok() {
        bail!(
            "`{}` exists\nhint: the bench writes each strategy into a new directory",
            dst.display()
        );
    }
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut links = Vec::new();
    let mut walker = walkdir::WalkDir::new(src)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(item) = walker.next() {
        let e = item.with_context(|| format!("cannot walk `{}`", src.display()))?;
        let rel = e
            .path()
            .strip_prefix(src)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let name = e.file_name().to_string_lossy();
        let parent = rel
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let ft = e.file_type();
        if e.depth() > 0 && recipe.excludes(&name, ft.is_dir(), &parent) {
            if ft.is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if ft.is_dir() {
            dirs.push(rel);
        } else if ft.is_symlink() {
            links.push(rel);
        } else if ft.is_file() {
            files.push(rel);
        }
    }
    // A dist-info directory exists only for its LICENSE* entries.
    if recipe == CopyRecipe::ExcludePycacheDistinfo {
        let needed: std::collections::HashSet<&Path> = files
            .iter()
            .chain(&links)
            .flat_map(|p| p.ancestors().skip(1))
            .collect();
        dirs.retain(|d| {
            !d.to_string_lossy().ends_with(".dist-info") || needed.contains(d.as_path())
        });
    }
    for d in &dirs {
        let to = dst.join(d);
        fs::create_dir_all(&to).with_context(|| format!("cannot create `{}`", to.display()))?;
    }
    copy_files(src, dst, &files)?;
    for l in &links {
        let target = fs::read_link(src.join(l))
            .with_context(|| format!("cannot read link `{}`", src.join(l).display()))?;
        std::os::unix::fs::symlink(&target, dst.join(l))
            .with_context(|| format!("cannot create link `{}`", dst.join(l).display()))?;
        copy_times(&src.join(l), &dst.join(l), true)
            .with_context(|| format!("cannot set the times of `{}`", dst.join(l).display()))?;
    }
    let mut outcome = RecipeOutcome::default();
    if recipe == CopyRecipe::SlsSlim {
        let sos: Vec<PathBuf> = files
            .iter()
            .filter(|f| f.to_string_lossy().ends_with(".so"))
            .map(|f| dst.join(f))
            .collect();
        outcome.stripped = sos.len();
        outcome.strip_errors = gnu_strip(&sos)?;
    }
    // Directories last, deepest first: their mode and mtime as in the source.
    for d in dirs.iter().rev() {
        let (s, t) = (src.join(d), dst.join(d));
        let m = fs::metadata(&s).with_context(|| format!("cannot stat `{}`", s.display()))?;
        fs::set_permissions(&t, m.permissions())
            .with_context(|| format!("cannot set the mode of `{}`", t.display()))?;
        copy_times(&s, &t, false)
            .with_context(|| format!("cannot set the times of `{}`", t.display()))?;
    }
    Ok(outcome)
}

/// Regular files in parallel; a hardlinked inode is copied once and linked for the others.
fn copy_files(src: &Path, dst: &Path, files: &[PathBuf]) -> Result<()> {
    let mut leaders: HashMap<(u64, u64), &PathBuf> = HashMap::new();
    let mut followers = Vec::new();
    let mut copies = Vec::new();
    for f in files {
        let m = fs::symlink_metadata(src.join(f))
            .with_context(|| format!("cannot stat `{}`", src.join(f).display()))?;
        if m.nlink() > 1 {
            if let Some(lead) = leaders.get(&(m.dev(), m.ino())) {
                followers.push((f, *lead));
                continue;
            }
            leaders.insert((m.dev(), m.ino()), f);
        }
        copies.push(f);
    }
    copies.par_iter().try_for_each(|f| {
        let (s, t) = (src.join(f), dst.join(f));
        fs::copy(&s, &t)
            .with_context(|| format!("cannot copy `{}` to `{}`", s.display(), t.display()))?;
        copy_times(&s, &t, false)
            .with_context(|| format!("cannot set the times of `{}`", t.display()))?;
        Ok::<(), anyhow::Error>(())
    })?;
    for (f, lead) in followers {
        fs::hard_link(dst.join(lead), dst.join(f))
            .with_context(|| format!("cannot hardlink `{}`", dst.join(f).display()))?;
    }
    Ok(())
}

fn copy_times(src: &Path, dst: &Path, link: bool) -> std::io::Result<()> {
    let m = fs::symlink_metadata(src)?;
    let t = filetime::FileTime::from_last_modification_time(&m);
    if link {
        filetime::set_symlink_file_times(dst, t, t)
    } else {
        filetime::set_file_times(dst, t, t)
    }
}

/// `strip FILE...` (GNU binutils, no options: every symbol and debug section), in batches.
/// Returns the files it refused; errors only when `strip` cannot be run at all.
fn gnu_strip(files: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut refused = Vec::new();
    for batch in files.chunks(64) {
        let out = Command::new("strip").args(batch).output().map_err(|e| {
            anyhow::anyhow!("cannot run `strip` for the sls-slim recipe: {e}\nhint: install GNU binutils, or leave sls-slim out with --strategies")
        })?;
        if out.status.success() {
            continue;
        }
        // One bad file fails the batch: redo it file by file to know which.
        for f in batch {
            let one = Command::new("strip").arg(f).output()?;
            if !one.status.success() {
                let msg = String::from_utf8_lossy(&one.stderr);
                refused.push((
                    f.clone(),
                    msg.lines().last().unwrap_or("failed").to_string(),
                ));
            }
        }
    }
    Ok(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_exclude_what_their_patterns_say() {
        let r = CopyRecipe::ExcludePycacheDistinfo;
        assert!(r.excludes("__pycache__", true, "pkg"));
        assert!(!r.excludes("__pycache__", false, "pkg"));
        assert!(r.excludes("METADATA", false, "a-1.0.dist-info"));
        assert!(!r.excludes("LICENSE.txt", false, "a-1.0.dist-info"));
        assert!(r.excludes("licenses", true, "a-1.0.dist-info"));
        assert!(!r.excludes("a-1.0.dist-info", true, "site-packages"));
        let s = CopyRecipe::SlsSlim;
        assert!(s.excludes("m.pyc", false, "__pycache__"));
        assert!(s.excludes("a-1.0.dist-info", true, "site-packages"));
        assert!(s.excludes("__pycache__", true, "pkg"));
        assert!(!s.excludes("m.py", false, "pkg"));
        assert!(!CopyRecipe::Plain.excludes("__pycache__", true, "pkg"));
    }
}
