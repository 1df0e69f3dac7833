//! The hand-off options, validated before any work like every other setting: absolute paths
//! for where the tree and the interpreter will be, a readable mtime (`--mtime`, else
//! SOURCE_DATE_EPOCH, the reproducible-builds convention) and chmod, and extra outputs (licence
//! directory, SBOM) that neither clobber anything nor write into the input.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::settings::{absolute_lexical, check_output, Target};

/// Validated hand-off options (from `HandoffArgs`).
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub prefix: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub keep_bin: Vec<String>,
    pub licenses_dir: Option<PathBuf>,
    pub sbom: Option<PathBuf>,
    /// Every mtime (--mtime, else SOURCE_DATE_EPOCH).
    pub mtime: Option<i64>,
    pub chmod: Option<super::modes::Chmod>,
    pub dedupe: bool,
}

/// Validate the hand-off options: absolute paths, a readable mtime and chmod, extra outputs that
/// are new and outside the input (unless in place).
pub fn from_args(a: &crate::cli::HandoffArgs, venv: &Path, target: &Target) -> Result<Options> {
    for (flag, p) in [("--prefix", &a.prefix), ("--python", &a.python)] {
        if let Some(p) = p {
            if !p.is_absolute() {
                bail!("{flag} `{}` is not an absolute path\nhint: give the path as the final image sees it, e.g. {flag} {}", p.display(), if flag == "--prefix" { "/venv" } else { "/usr/bin/python3.11" });
            }
        }
    }
    let from_env = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .filter(|v| !v.is_empty());
    let mtime = match (&a.mtime, from_env) {
        (Some(m), _) => Some(parse_epoch(m, "--mtime")?),
        (None, Some(env)) => Some(parse_epoch(&env, "SOURCE_DATE_EPOCH")?),
        (None, None) => None,
    };
    let chmod = a
        .chmod
        .as_deref()
        .map(str::parse::<super::modes::Chmod>)
        .transpose()?;
    let in_place = *target == Target::InPlace;
    if let Some(dir) = &a.licenses_dir {
        let r = if in_place {
            check_empty(dir)
        } else {
            check_output(venv, dir)
        };
        r.context("--licenses-dir")?;
    }
    if let Some(f) = &a.sbom {
        if f.is_dir() {
            bail!(
                "--sbom `{}` is a directory\nhint: name a file, e.g. --sbom sbom.cdx.json",
                f.display()
            );
        }
        if !in_place {
            if let (Ok(v), Some(o)) = (fs::canonicalize(venv), absolute_lexical(f)) {
                if o.starts_with(&v) {
                    bail!("--sbom `{}` is inside the venv `{}`\nhint: the input is never modified; write it elsewhere (inside OUT is fine)", f.display(), venv.display());
                }
            }
        }
    }
    let mut keep_bin: Vec<String> = a
        .keep_bin
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    keep_bin.sort();
    keep_bin.dedup();
    if let Some(bad) = keep_bin.iter().find(|n| n.contains('/')) {
        bail!("--keep-bin `{bad}` is not a script name\nhint: name scripts in bin/ as they are called, e.g. --keep-bin uvicorn");
    }
    Ok(Options {
        prefix: a.prefix.clone(),
        python: a.python.clone(),
        keep_bin,
        licenses_dir: a.licenses_dir.clone(),
        sbom: a.sbom.clone(),
        mtime,
        chmod,
        dedupe: a.dedupe,
    })
}

fn parse_epoch(s: &str, what: &str) -> Result<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|t| *t >= 0)
        .with_context(|| format!("{what} `{s}` is not a Unix time\nhint: seconds since 1970, e.g. `$(git log -1 --format=%ct)`"))
}

/// A directory that must not exist or be empty (in place: no check against the venv).
fn check_empty(dir: &Path) -> Result<()> {
    let not_empty = fs::read_dir(dir).is_ok_and(|mut rd| rd.next().is_some());
    if not_empty {
        bail!(
            "`{}` exists and is not empty\nhint: remove it, or pick a new path",
            dir.display()
        );
    }
    Ok(())
}
