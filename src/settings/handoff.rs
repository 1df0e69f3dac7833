//! The hand-off options, validated before any work like every other setting: absolute paths
//! for where the tree and the interpreter will be, a readable mtime (`--mtime`, else
//! SOURCE_DATE_EPOCH, the reproducible-builds convention) and chmod, and extra outputs (licence
//! directory, SBOM) that neither clobber anything nor write into the input.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::modes::Chmod;
use super::{output_dir, output_path, Input, Target};
use crate::cli::SlimOptions;

/// Validated hand-off options (from the hand-off fields of `SlimOptions`).
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Where the tree will live in the final image (`--prefix`, absolute).
    pub prefix: Option<PathBuf>,
    /// The final image's interpreter (`--python`, absolute).
    pub python: Option<PathBuf>,
    /// The console scripts to keep in bin/, sorted, without duplicates (`--keep-bin`; empty: all).
    pub keep_bin: Vec<String>,
    /// Where to copy the licence files (`--licenses-dir`), resolved by `output_dir`.
    pub licenses_dir: Option<PathBuf>,
    /// Where to write the SBOM (`--sbom`), resolved by `output_path`.
    pub sbom: Option<PathBuf>,
    /// Every mtime (--mtime, else SOURCE_DATE_EPOCH).
    pub mtime: Option<i64>,
    /// The permission change after normalising (`--chmod`).
    pub chmod: Option<Chmod>,
    /// Hardlink identical files (`--dedupe`).
    pub dedupe: bool,
}

/// Validate the hand-off options: absolute paths, a readable mtime and chmod, extra outputs that
/// are new and outside the input (unless in place).
pub fn from_options(a: &SlimOptions, venv: &Path, target: &Target) -> Result<Options> {
    if let Some((name, p, example)) = relative_image_path(a) {
        bail!("--{name} `{}` is not an absolute path\nhint: give the path as the final image sees it, e.g. --{name} {example}", p.display());
    }
    if let (Some(prefix), Some(python)) = (&a.prefix, &a.python) {
        // bin/python3.X would be a link to itself, copied over the interpreter it names.
        if python.parent() == Some(&prefix.join("bin")) {
            bail!("--python `{}` is in the bin/ of --prefix `{}`: the tree's bin/ links would replace it and point at themselves\nhint: put the tree where the interpreter is not, e.g. --prefix /venv", python.display(), prefix.display());
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
        .map(|c| Chmod::parse(c, "--chmod"))
        .transpose()?;
    let input = if *target == Target::InPlace {
        Input::Output
    } else {
        Input::ReadOnly
    };
    // A rerun that finishes an interrupted in-place run finds the licences it already copied
    // there: the directory need not be empty then (the journal's steps are idempotent).
    let resuming = *target == Target::InPlace && crate::venv::interrupted_in_place(venv);
    let licenses_dir = a
        .licenses_dir
        .as_deref()
        .map(|d| {
            if resuming {
                output_path("--licenses-dir", d, venv, input)
            } else {
                output_dir("--licenses-dir", d, venv, input)
            }
        })
        .transpose()?;
    let sbom = a
        .sbom
        .as_deref()
        .map(|f| output_path("--sbom", f, venv, input))
        .transpose()?;
    if let (Some(given), Some(f)) = (&a.sbom, &sbom) {
        if f.is_dir() {
            bail!(
                "--sbom `{}` is a directory\nhint: name a file, e.g. --sbom sbom.cdx.json",
                given.display()
            );
        }
    }
    let mut keep_bin: Vec<String> = a
        .keep_bin
        .iter()
        // A list in the file may hold `a,b` as the command line may.
        .flat_map(|s| s.split(','))
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
        licenses_dir,
        sbom,
        mtime,
        chmod,
        dedupe: a.dedupe,
    })
}

/// The hand-off values of `[tool.venvslim]`, checked as the file gives them, so that an error
/// names the key (and, by the caller's context, the file) rather than a flag nobody typed.
pub(super) fn check_file_values(o: &SlimOptions) -> Result<()> {
    if let Some((key, p, example)) = relative_image_path(o) {
        bail!("{key} = \"{}\" is not an absolute path\nhint: give the path as the final image sees it, e.g. {key} = \"{example}\"", p.display());
    }
    if let Some(m) = &o.mtime {
        parse_epoch(m, "mtime")?;
    }
    if let Some(c) = &o.chmod {
        Chmod::parse(c, "chmod =")?;
    }
    if let Some(b) = &o.budget {
        super::size::parse_size(b, "budget =")?;
    }
    Ok(())
}

/// The first path in the final image (`prefix`, `python`) that is not absolute: its option's
/// name, the path, and an example of a good one.
fn relative_image_path(o: &SlimOptions) -> Option<(&'static str, &Path, &'static str)> {
    [
        ("prefix", &o.prefix, "/venv"),
        ("python", &o.python, "/usr/bin/python3.11"),
    ]
    .into_iter()
    .find_map(|(name, p, example)| {
        p.as_deref()
            .filter(|p| !p.is_absolute())
            .map(|p| (name, p, example))
    })
}

fn parse_epoch(s: &str, what: &str) -> Result<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|t| *t >= 0)
        .with_context(|| format!("{what} `{s}` is not a Unix time\nhint: seconds since 1970, e.g. `$(git log -1 --format=%ct)`"))
}
