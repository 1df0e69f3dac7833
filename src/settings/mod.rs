//! Turn raw command-line options (and `[tool.venvslim]` from a pyproject.toml) into a checked
//! `Settings`, before any work starts: globs are compiled, package specifiers parsed and the
//! output location validated here, so a typo fails in milliseconds with exit 2 instead of after
//! a long walk, and nothing is written.
//!
//! The option list itself is `cli::SlimOptions`; `file` reads `[tool.venvslim]` into it and
//! states the merge rule once; `handoff` checks the hand-off options and `modes` is the `--chmod`
//! value. Settings imports no planning or writing module: `handoff/`, `plan` and `apply/` read
//! what is checked here, never the other way round.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use globset::{GlobSet, GlobSetBuilder};
use pep440_rs::{Version, VersionSpecifiers};

use crate::cli::{BytecodeMode, DistInfoMode, ElfMode, SlimArgs, SlimOptions};
use crate::dists::normalize_name;
use crate::venv::PythonVersion;

pub mod file;
pub mod handoff;
pub mod modes;
pub mod size;

use file::Combine;

/// Where `slim` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Write a slimmed copy here.
    Copy(PathBuf),
    /// Slim the venv itself.
    InPlace,
    /// Only plan (a dry run with no output path).
    PlanOnly,
}

/// Everything `slim` does, checked: built once by `Settings::from_args` from the command line
/// over `[tool.venvslim]`, then only read (`--budget` plans with a changed copy).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The venv (or prefix, or bare site-packages) to slim, as given.
    pub venv: PathBuf,
    /// Where the result goes: a new directory, the venv itself, or nowhere (a dry run).
    pub target: Target,
    /// Plan and report, change nothing (`--dry-run`).
    pub dry_run: bool,
    /// Report as JSON instead of text (`--json`).
    pub json: bool,
    /// List every action in the text report (`--verbose`).
    pub verbose: bool,
    /// Verify the output against the input and repair regressions (`--verify`, or `--run`).
    pub verify: bool,
    /// Workloads to run on the input and the output (`--run`, the file's first). With
    /// `--dry-run` they run on the input only, for `--prune`'s plan.
    pub run: Vec<String>,
    /// Remove what the workloads did not use (`--prune`).
    pub prune: Option<crate::cli::PruneLevel>,
    /// What to do with bytecode (`--bytecode`, default `compile`).
    pub bytecode: BytecodeMode,
    /// What to keep of `*.dist-info` (`--dist-info`, default `minimal`).
    pub dist_info: DistInfoMode,
    /// What to remove from ELF files (`--elf`, default `unneeded`).
    pub elf: ElfMode,
    /// Files kept whatever a rule says (`--keep`, the file's first).
    pub keep: Globs,
    /// Files removed as well (`--remove`, the file's first).
    pub remove: Globs,
    /// Distributions left untouched (`--keep-package`).
    pub keep_packages: Vec<PackageSpec>,
    /// The Python version of a tree with no pyvenv.cfg (`--python-version`).
    pub python_version: Option<PythonVersion>,
    /// `--zip-pure` and its options.
    pub zip: ZipSettings,
    /// Hand-off to the final image: relocation, licences, SBOM, mtimes, modes, dedupe.
    pub handoff: handoff::Options,
    /// The most bytes the result may have (`--budget`): over it, the run exits 1.
    pub budget: Option<u64>,
    /// Where to write the treemap of the kept bytes (`--treemap`), resolved, outside the venv.
    pub treemap: Option<PathBuf>,
}

/// `--zip-pure` and its options.
#[derive(Debug, Clone, Default)]
pub struct ZipSettings {
    /// `--zip-pure` (`zip = true`).
    pub enabled: bool,
    /// Only `name.pyc` in the archive.
    pub sourceless: bool,
    /// Distributions to leave on disk (PEP 503 normalized).
    pub exclude: Vec<String>,
}

/// User globs, compiled once. Matching a directory matches everything below it.
#[derive(Debug, Default, Clone)]
pub struct Globs {
    /// The globs as given, for the report.
    pub patterns: Vec<String>,
    set: GlobSet,
}

impl Globs {
    /// Compile `patterns`; an invalid one is an error naming `flag`.
    pub fn new(patterns: Vec<String>, flag: &str) -> Result<Globs> {
        let mut builder = GlobSetBuilder::new();
        for p in &patterns {
            let glob = globset::GlobBuilder::new(p.trim_start_matches("./"))
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .with_context(|| format!("{flag} `{p}` is not a valid glob\nhint: globs are relative to site-packages, e.g. `django/test/**` or `**/*.txt`"))?;
            builder.add(glob);
        }
        Ok(Globs {
            set: builder.build()?,
            patterns,
        })
    }

    /// True when `path` or one of its ancestors matches.
    pub fn matches(&self, path: &Path) -> bool {
        !self.patterns.is_empty()
            && path
                .ancestors()
                .any(|p| !p.as_os_str().is_empty() && self.set.is_match(p))
    }
}

/// `--keep-package NAME[SPECIFIERS]`.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    /// As given.
    pub raw: String,
    /// The distribution name, PEP 503 normalized.
    pub name: String,
    /// The versions it applies to (none: every version).
    pub specifiers: Option<VersionSpecifiers>,
}

impl FromStr for PackageSpec {
    type Err = anyhow::Error;
    fn from_str(raw: &str) -> Result<Self> {
        let s = raw.trim();
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(s.len());
        let (name, rest) = s.split_at(end);
        if name.is_empty() {
            bail!("--keep-package `{raw}` has no distribution name\nhint: write `numpy` or `numpy>=2,<3`");
        }
        let rest = rest.trim();
        let rest = rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(rest)
            .trim();
        let specifiers = if rest.is_empty() {
            None
        } else {
            Some(VersionSpecifiers::from_str(rest).map_err(|e| {
                anyhow::anyhow!("--keep-package `{raw}`: `{rest}` is not a PEP 440 version specifier: {e}\nhint: write e.g. `django>=5,<6`")
            })?)
        };
        Ok(PackageSpec {
            raw: raw.to_string(),
            name: normalize_name(name),
            specifiers,
        })
    }
}

impl PackageSpec {
    /// True for this distribution (normalized name) at a version the specifiers allow.
    pub fn matches(&self, normalized_name: &str, version: &str) -> bool {
        if self.name != normalized_name {
            return false;
        }
        match (&self.specifiers, Version::from_str(version)) {
            (None, _) => true,
            (Some(spec), Ok(v)) => spec.contains(&v),
            (Some(_), Err(_)) => false,
        }
    }
}

impl Settings {
    /// Check the command line merged over `[tool.venvslim]` (`--config FILE`, else
    /// ./pyproject.toml), before any work.
    pub fn from_args(args: SlimArgs) -> Result<Settings> {
        let o = args.options.combine(file::load(args.config.as_deref())?);
        let target = match (&args.output, args.in_place, args.dry_run) {
            (Some(out), _, _) => {
                Target::Copy(output_dir("-o", out, &args.venv, Input::ReadOnly)?)
            }
            (None, true, _) => Target::InPlace,
            (None, false, true) => Target::PlanOnly,
            (None, false, false) => bail!("say where to write the slimmed venv\nhint: add -o OUT, or --in-place to slim it where it is"),
        };
        if !o.run.is_empty() && args.in_place {
            bail!(
                "--run checks a new tree against the input: it needs -o OUT, not --in-place\nhint: slim with -o OUT --run CMD (an in-place run leaves no original to compare with or restore from)"
            );
        }
        check_run(&o)?;
        let bytecode = o.bytecode.unwrap_or_default();
        let zip = zip_settings(&o, bytecode)?;
        let python_version = python_version(&o)?;
        let keep_packages = package_specs(&o.keep_package)?;
        let handoff = handoff::from_options(&o, &args.venv, &target)?;
        let budget = o
            .budget
            .as_deref()
            .map(|b| size::parse_size(b, "--budget"))
            .transpose()?;
        let treemap = args
            .treemap
            .as_deref()
            .map(|p| {
                let t = output_path("--treemap", p, &args.venv, Input::ReadOnly)?;
                treemap_apart(&t, &target, &handoff)?;
                report_file_at("--treemap", p, t)
            })
            .transpose()?;
        Ok(Settings {
            target,
            treemap,
            dry_run: args.dry_run,
            json: args.json,
            verbose: args.verbose,
            verify: args.verify || !o.run.is_empty(),
            run: o.run,
            prune: o.prune,
            bytecode,
            dist_info: o.dist_info.unwrap_or_default(),
            elf: o.elf.unwrap_or_default(),
            keep: Globs::new(o.keep, "--keep")?,
            remove: Globs::new(o.remove, "--remove")?,
            keep_packages,
            python_version,
            zip,
            handoff,
            budget,
            venv: args.venv,
        })
    }
}

/// `venvslim dockerfile`: the checks of `Settings::from_args` that need no venv and that the
/// command has always made (the hand-off options; its licence directory and SBOM are paths in
/// the builder, not here), and those of the zip options, Python version and workloads, so the
/// builder's `venvslim slim` line does not fail on them.
pub fn check_dockerfile_options(o: &SlimOptions) -> Result<()> {
    zip_settings(o, o.bytecode.unwrap_or_default())?;
    python_version(o)?;
    check_run(o)?;
    if let Some(b) = &o.budget {
        size::parse_size(b, "--budget")?;
    }
    let in_builder = SlimOptions {
        licenses_dir: None,
        sbom: None,
        ..o.clone()
    };
    handoff::from_options(&in_builder, Path::new("/venv"), &Target::PlanOnly)?;
    Ok(())
}

/// `--prune` needs the `--run` workloads it cuts by, and each is a command.
fn check_run(o: &SlimOptions) -> Result<()> {
    if o.prune.is_some() && o.run.is_empty() {
        bail!("--prune removes what a recorded run did not use, and no --run was given\nhint: add --run CMD with a workload that exercises your app, e.g. --prune --run '$VENV/bin/python -m myapp --selfcheck'");
    }
    if let Some(empty) = o.run.iter().find(|c| c.trim().is_empty()) {
        bail!("--run `{empty}` is an empty command\nhint: give the command that exercises your app, e.g. --run '$VENV/bin/python -m myapp --selfcheck'");
    }
    Ok(())
}

fn python_version(o: &SlimOptions) -> Result<Option<PythonVersion>> {
    o.python_version
        .as_deref()
        .map(str::parse::<PythonVersion>)
        .transpose()
        .context("--python-version")
}

fn package_specs(raw: &[String]) -> Result<Vec<PackageSpec>> {
    raw.iter().map(|s| s.parse()).collect()
}

/// `--zip-pure` needs bytecode the interpreter compiles: zipimport reads only `name.pyc` beside
/// `name.py` in the archive, never `__pycache__/`, so `keep` would ship a zip that recompiles
/// every module at every start (3.3x slower), and `strip` asks for exactly that.
fn zip_settings(o: &SlimOptions, bytecode: BytecodeMode) -> Result<ZipSettings> {
    let (enabled, sourceless) = (o.zip_pure, o.zip_sourceless);
    let exclude: Vec<String> = o.zip_exclude.iter().map(|n| normalize_name(n)).collect();
    if !enabled && (sourceless || !exclude.is_empty()) {
        bail!("zip-sourceless and zip-exclude apply only with --zip-pure\nhint: add --zip-pure (or `zip = true` in [tool.venvslim])");
    }
    if let Some(bad) = exclude.iter().find(|n| n.is_empty()) {
        bail!("--zip-exclude `{bad}` is not a distribution name\nhint: write the name as pip shows it, e.g. --zip-exclude requests");
    }
    if enabled && matches!(bytecode, BytecodeMode::Keep | BytecodeMode::Strip) {
        bail!("--zip-pure needs the venv's interpreter to compile the zip's bytecode, but --bytecode is `{}`\nhint: zipimport reads only `name.pyc` beside `name.py` in the zip; without it every zipped module is compiled again at every start\nhint: use --bytecode compile (the default) or sourceless", if bytecode == BytecodeMode::Keep { "keep" } else { "strip" });
    }
    Ok(ZipSettings {
        enabled,
        sourceless,
        exclude,
    })
}

/// Who may be written to: out of place, the input venv is never; in place it is the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The venv is read only: an output inside it (or holding it) is refused.
    ReadOnly,
    /// `--in-place`: the venv is the output.
    Output,
}

/// Every output path option (`-o`, `--sbom`, `--licenses-dir`, `bench --keep`, and any new one)
/// is resolved here, once: `safepath::resolve` walks it as the kernel will (links expanded, no
/// `..` after a part that does not exist yet), then anything inside the venv, or holding it, is
/// refused unless the venv is the output. The caller writes to the returned path, never to the
/// one given, so what was checked is what is written.
pub fn output_path(flag: &str, given: &Path, venv: &Path, input: Input) -> Result<PathBuf> {
    let resolved = crate::safepath::resolve(given).map_err(|why| {
        anyhow::anyhow!("{flag} `{}`: {why}\nhint: create the missing directories first, or give the path without `..`", given.display())
    })?;
    let v = crate::safepath::resolve(venv).map_err(|why| {
        anyhow::anyhow!("cannot resolve the venv `{}`: {why}\nhint: give the path of a virtualenv (the directory holding pyvenv.cfg)", venv.display())
    })?;
    match input {
        Input::ReadOnly
            if resolved.starts_with(&v)
                || v.starts_with(&resolved)
                || ancestor_is(&resolved, &v)
                || ancestor_is(&v, &resolved) =>
        {
            let hint = match flag {
                "-o" => "write the slimmed tree outside the venv, or use --in-place to slim it where it is",
                "--sbom" | "--licenses-dir" => "write it outside the venv (inside OUT is fine)",
                _ => "write it outside the venv",
            };
            bail!("{flag} `{}` is inside the venv `{}` (it resolves to `{}`)\nhint: the input is never modified; {hint}", given.display(), venv.display(), resolved.display());
        }
        // In place the venv is the output, but its links are still the venv's: a path spelled
        // inside the venv must stay inside it once they are followed.
        Input::Output => {
            let spelled = crate::safepath::lexical(given);
            let inside =
                spelled.starts_with(crate::safepath::lexical(venv)) || spelled.starts_with(&v);
            if inside && !resolved.starts_with(&v) {
                bail!("{flag} `{}` goes through a link in the venv to `{}`, outside it\nhint: the venv's links are never followed for a write; give the real path", given.display(), resolved.display());
            }
        }
        Input::ReadOnly => {}
    }
    Ok(resolved)
}

/// True when `path` or one of its existing ancestors is the same directory as `dir` (same device
/// and inode): the venv seen through a bind mount has another path but is the same directory.
fn ancestor_is(path: &Path, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(d) = fs::metadata(dir) else {
        return false;
    };
    path.ancestors()
        .filter_map(|a| fs::symlink_metadata(a).ok())
        .any(|m| m.is_dir() && m.dev() == d.dev() && m.ino() == d.ino())
}

/// A report file (`slim --treemap`, `bench --svg`, `--html`), resolved by `output_path`: a file
/// (not a directory) in a directory that exists. It is written when the run is over, after OUT
/// is published (or the venv slimmed in place): checked here, a wrong path fails before
/// anything is written, not after.
pub fn report_file(flag: &str, given: &Path, venv: &Path) -> Result<PathBuf> {
    report_file_at(
        flag,
        given,
        output_path(flag, given, venv, Input::ReadOnly)?,
    )
}

/// `report_file`'s checks of `out`, the resolved `given`.
fn report_file_at(flag: &str, given: &Path, out: PathBuf) -> Result<PathBuf> {
    if out.is_dir() {
        bail!(
            "{flag} `{}` is a directory\nhint: name a file, e.g. {flag} {}",
            given.display(),
            if flag == "--html" {
                "sizes.html"
            } else {
                "sizes.svg"
            }
        );
    }
    match out.parent() {
        Some(dir) if dir.is_dir() => Ok(out),
        dir => bail!(
            "{flag} `{}`: its directory `{}` does not exist\nhint: create it first; the report is written when the run is over",
            given.display(),
            dir.unwrap_or(Path::new("/")).display()
        ),
    }
}

/// The treemap is a report about the output, never part of it: not OUT or a file in it (the
/// slimmed venv holds the venv's files and the hand-off files asked for), not the SBOM, not in
/// the licence directory.
fn treemap_apart(treemap: &Path, target: &Target, h: &handoff::Options) -> Result<()> {
    let clash = match target {
        Target::Copy(out) if treemap.starts_with(out) => Some(("-o", out.as_path())),
        _ => None,
    }
    .or_else(|| {
        h.sbom
            .as_deref()
            .filter(|s| *s == treemap)
            .map(|s| ("--sbom", s))
    })
    .or_else(|| {
        h.licenses_dir
            .as_deref()
            .filter(|d| treemap.starts_with(d))
            .map(|d| ("--licenses-dir", d))
    });
    match clash {
        Some((flag, path)) => bail!(
            "--treemap `{}` would be written into the output of {flag} `{}`\nhint: write the treemap beside the output, not in it",
            treemap.display(),
            path.display()
        ),
        None => Ok(()),
    }
}

/// A directory output (`-o OUT`, `--licenses-dir`, `bench --keep`), resolved by `output_path`:
/// it must not exist or be an empty directory, so venvslim never mixes its output with other
/// files.
pub fn output_dir(flag: &str, given: &Path, venv: &Path, input: Input) -> Result<PathBuf> {
    let out = output_path(flag, given, venv, input)?;
    match fs::symlink_metadata(&out) {
        Ok(m) if m.is_dir() => {
            let mut rd = fs::read_dir(&out)
                .with_context(|| format!("{flag} `{}`: cannot read it", given.display()))?;
            if rd.next().is_some() {
                bail!("{flag} `{}` exists and is not empty\nhint: remove it, or pick a new path; venvslim never mixes its output with other files", given.display());
            }
        }
        Ok(_) => bail!(
            "{flag} `{}` exists and is not a directory\nhint: pick a new path",
            given.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("{flag} `{}`: cannot check it", given.display()))
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_specs() {
        let s: PackageSpec = "Django>=5,<6".parse().unwrap();
        assert_eq!(s.name, "django");
        assert!(s.matches("django", "5.1.4"));
        assert!(!s.matches("django", "4.2"));
        assert!(!s.matches("flask", "5.1"));
        let s: PackageSpec = "numpy[>=2]".parse().unwrap();
        assert!(s.matches("numpy", "2.1.0") && !s.matches("numpy", "1.26.4"));
        let s: PackageSpec = "typing_extensions".parse().unwrap();
        assert!(s.matches("typing-extensions", "anything"));
        assert!("numpy>=two".parse::<PackageSpec>().is_err());
        assert!(">=2".parse::<PackageSpec>().is_err());
    }

    #[test]
    fn globs_match_dirs_and_ancestors() {
        let g = Globs::new(vec!["django/test".into(), "*.txt".into()], "--keep").unwrap();
        assert!(g.matches(Path::new("django/test/client.py")));
        assert!(g.matches(Path::new("notes.txt")));
        assert!(
            !g.matches(Path::new("pkg/notes.txt")),
            "`*` does not cross `/`"
        );
        assert!(!g.matches(Path::new("django/testing.py")));
        assert!(Globs::new(vec!["a[".into()], "--keep").is_err());
    }

    #[test]
    fn output_checks() {
        let t = tempfile::tempdir().unwrap();
        let venv = t.path().join("venv");
        fs::create_dir(&venv).unwrap();
        let ro = Input::ReadOnly;
        assert!(output_dir("-o", &t.path().join("new"), &venv, ro).is_ok());
        let e = output_dir("-o", &venv.join("out"), &venv, ro)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inside the venv") && e.contains("hint:"), "{e}");
        fs::write(venv.join("f"), "").unwrap();
        let e = output_dir("-o", &venv, &t.path().join("x"), ro)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not empty"), "{e}");
        let e = output_dir("-o", &venv.join("f"), &venv, Input::Output)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
        let e = output_dir("-o", &t.path().join("nx/../venv/sub"), &venv, ro)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nx/../venv/sub") && e.contains("does not exist"),
            "{e}"
        );
        let e = output_path("--sbom", t.path(), &venv, ro)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inside the venv"),
            "an output holding the venv: {e}"
        );
    }
}
