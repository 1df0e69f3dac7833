//! venvslim: slim a built Python virtualenv for the final stage of a container image.
//!
//! The pipeline, in one pass each: `venv` discovers the layout (pyvenv.cfg, Python version,
//! site-packages); `inventory` walks the tree once, in parallel, into a sorted list; `rules`
//! classify every path (each rule carries its reason and evidence) and the import guard rescues
//! modules kept code imports; `plan` turns verdicts into sorted actions (pure data, which
//! `--dry-run` prints); `apply` is the only code that writes: it copies what is kept (or removes
//! in place), compiles bytecode with the venv's own interpreter, writes the `--zip-pure` archive
//! (`archive`: what goes in is decided in the plan), rewrites RECORD; `report` is the only code
//! that prints. With the hand-off options, `handoff` adds to the plan what the final image needs
//! (relocated scripts, pyvenv.cfg and links, licences, an SBOM), and apply ends with a last pass
//! over the finished tree (dedupe, normalised modes, fixed mtimes).
//!
//! `safepath` is where the venv's strings meet paths (checked names, joins and link targets,
//! reads that never follow a link) and where output paths are resolved, once
//! (`settings::output_path`).

pub mod apply;
pub mod archive;
pub mod bench;
pub mod bytecode;
pub mod cli;
pub mod dists;
pub mod elf;
pub mod fault;
pub mod handoff;
pub mod imports;
pub mod inventory;
pub mod plan;
pub mod python;
pub mod record;
pub mod report;
pub mod rules;
pub mod safepath;
pub mod settings;
pub mod venv;
pub mod verify;

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Result};

use crate::cli::BytecodeMode;
use crate::inventory::Inventory;
use crate::plan::Plan;
use crate::report::Report;
use crate::settings::{Settings, Target};
use crate::venv::Venv;

/// What a run ended with, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Finished, but some paths failed (listed in the report).
    Failures,
}

pub fn slim(settings: &Settings) -> Result<Status> {
    let start = Instant::now();
    let progress = report::progress::Progress::for_terminal(settings.json);
    let result = slim_with(settings, start, &progress);
    progress.finish();
    result
}

fn slim_with(
    settings: &Settings,
    start: Instant,
    progress: &report::progress::Progress,
) -> Result<Status> {
    let venv = Venv::discover(&settings.venv, settings.python_version)?;
    // Held until the run ends (a dry run changes nothing and needs none).
    let _lock = match (&settings.target, settings.dry_run) {
        (Target::InPlace, false) => Some(apply::lock(&venv.root)?),
        _ => None,
    };
    if settings.target == Target::InPlace {
        if let Some(status) = finish_interrupted(settings, &venv.root, start, progress)? {
            return Ok(status);
        }
    } else if apply::interrupted(&venv.root) {
        bail!(
            "an in-place run of `{}` was interrupted; the venv is half-slimmed, and a copy of it would be too\nhint: finish it first with `venvslim slim {} --in-place` (same options), then copy or slim it",
            venv.root.display(),
            venv.root.display()
        );
    }
    progress.phase("walking the venv", 0);
    let inv = Inventory::scan(&venv.root, &venv.site_packages)?;
    if !inv.errors.is_empty() && matches!(settings.target, Target::Copy(_)) && !settings.dry_run {
        let (path, why) = &inv.errors[0];
        bail!(
            "cannot read {} path(s) in the venv, first `{}`: {why}; the copy would be incomplete, so nothing was written\nhint: fix the permissions (or run as the venv's owner) and run again",
            inv.errors.len(),
            venv.root.join(path).display()
        );
    }
    handoff::check(&venv, &inv, &settings.handoff)?;
    if let (true, Some(py)) = (settings.verify, &settings.handoff.python) {
        if fs_exists(py).is_none() {
            bail!("--verify runs the output, whose bin/python will point at `{}`, and that does not exist here\nhint: verify in a stage that has the final interpreter, or drop --verify", py.display());
        }
    }
    let interp = match settings.bytecode {
        BytecodeMode::Compile | BytecodeMode::Sourceless => Some(bytecode::probe(&venv)?),
        BytecodeMode::Keep | BytecodeMode::Strip => None,
    };
    // The input is never modified, so probing it first gives the baseline for --verify.
    // Deep: a removed submodule that kept code imports is what rules get wrong.
    let verify_opts = verify::Options {
        deep: true,
        ..verify::Options::default()
    };
    let original = if settings.verify {
        progress.phase("verify: probing the input", 0);
        Some(verify::probe(&venv.root, &verify_opts)?)
    } else {
        None
    };
    progress.phase("planning", 0);
    let plan = Plan::build(venv, settings, inv);
    if let Some(zip) = &plan.zip {
        zip.check_entry_limit()?;
    }
    let output = match &settings.target {
        Target::Copy(out) => Some(out.as_path()),
        _ => None,
    };
    let mut outcome = if settings.dry_run {
        None
    } else {
        Some(apply::apply(
            &plan,
            &settings.target,
            interp.as_ref(),
            progress,
        )?)
    };
    let repair = match (&original, output, outcome.as_mut()) {
        (Some(original), Some(out), Some(outcome)) => 'verify: {
            // verify decides what to give back; apply writes it.
            let mut put_back = |what: &verify::Restore| {
                let mut back = apply::unzip(&plan, out, &what.unzip, interp.as_ref(), outcome)?;
                back.extend(apply::restore(&plan, out, &what.actions, &what.elf)?);
                Ok(back)
            };
            progress.phase("verify: probing the output", 0);
            // OUT is published by now: a verify that cannot finish is a failure of this run
            // (exit 1, said in the report), never exit 2, which promises nothing was written.
            let repair =
                match verify::repair_with(&plan, out, original, &verify_opts, &mut put_back) {
                    Ok(repair) => repair,
                    Err(e) => {
                        outcome.failures.push(apply::Failure {
                            path: out.to_path_buf(),
                            error: format!("written, but verify could not finish: {e:#}"),
                        });
                        break 'verify None;
                    }
                };
            if !repair.restored.is_empty() {
                let restored: Vec<std::path::PathBuf> =
                    repair.restored.iter().map(|r| r.path.clone()).collect();
                let failed = apply::refresh_records(&plan, out, outcome, &restored);
                outcome.failures.extend(failed);
                let failed = apply::refinalize(&plan, out, outcome);
                outcome.failures.extend(failed);
                outcome.after = apply::measure(out);
            }
            Some(repair)
        }
        _ => None,
    };
    progress.finish();
    let report = Report {
        plan: &plan,
        outcome: outcome.as_ref(),
        output,
        dry_run: settings.dry_run,
        verbose: settings.verbose,
        verify: repair.as_ref(),
        elapsed: start.elapsed(),
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if settings.json {
        report.json(&mut lock)?
    } else {
        report.text(&mut lock)?
    }
    lock.flush()?;
    let unrepaired = repair.as_ref().is_some_and(|r| !r.remaining.is_empty());
    Ok(if report.failures().is_empty() && !unrepaired {
        Status::Ok
    } else {
        Status::Failures
    })
}

/// In place: a journal means a run was killed half-way; finish it (planning from a
/// half-changed tree would lose files), report, and stop. Without one, clear what an
/// interrupted preparation left. `None`: go on with a normal run.
fn finish_interrupted(
    settings: &Settings,
    root: &std::path::Path,
    start: Instant,
    progress: &report::progress::Progress,
) -> Result<Option<Status>> {
    let Some(journal) = apply::pending(root)? else {
        if !settings.dry_run {
            apply::discard_leftovers(root)?;
        }
        return Ok(None);
    };
    if settings.dry_run {
        bail!(
            "an in-place run of `{}` was interrupted; the tree is half-slimmed, so a plan of it would be wrong\nhint: run again without --dry-run to finish it",
            root.display()
        );
    }
    let resumed = apply::resume(root, &settings.handoff, journal, progress);
    progress.finish();
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    report::resumed(&mut lock, root, &resumed, settings.json, start.elapsed())?;
    lock.flush()?;
    Ok(Some(if resumed.failures.is_empty() {
        Status::Ok
    } else {
        Status::Failures
    }))
}

fn fs_exists(p: &std::path::Path) -> Option<std::fs::Metadata> {
    std::fs::metadata(p).ok()
}

/// `venvslim dockerfile`: print the multi-stage Dockerfile for these options.
pub fn dockerfile(args: &cli::DockerfileArgs) -> Result<Status> {
    // The same validation as `slim` (absolute paths, mtime, chmod), against no venv.
    handoff::options::from_args(
        &cli::HandoffArgs {
            licenses_dir: None,
            sbom: None,
            ..args.handoff.clone()
        },
        std::path::Path::new("/venv"),
        &settings::Target::PlanOnly,
    )?;
    let stdout = std::io::stdout();
    report::dockerfile(stdout.lock(), &handoff::dockerfile::render(args))?;
    Ok(Status::Ok)
}

/// `venvslim strip FILE...`: the ELF engine on files named by the user.
pub fn strip_files(args: &cli::StripArgs) -> Result<Status> {
    use rayon::prelude::*;
    let Some(mode) = args.mode.engine() else {
        anyhow::bail!("--mode keep strips nothing\nhint: use --mode unneeded (debug sections and .symtab) or --mode debug");
    };
    let scratch = if args.dry_run {
        Some(tempfile_dir()?)
    } else {
        None
    };
    let results: Vec<(
        std::path::PathBuf,
        std::result::Result<elf::Verdict, String>,
    )> = args
        .files
        .par_iter()
        .enumerate()
        .map(|(n, path)| {
            let verdict = match &scratch {
                Some(dir) => preview_strip(path, &dir.join(n.to_string()), mode),
                None => elf::strip_in_place(path, mode),
            };
            (path.clone(), verdict.map_err(|e| format!("{e:#}")))
        })
        .collect();
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    let stdout = std::io::stdout();
    report::strip(stdout.lock(), &results, args.json, args.dry_run)?;
    Ok(if results.iter().any(|(_, r)| r.is_err()) {
        Status::Failures
    } else {
        Status::Ok
    })
}

/// What `strip_in_place` would do, writing the result to a scratch file instead.
fn preview_strip(
    path: &std::path::Path,
    scratch: &std::path::Path,
    mode: elf::Mode,
) -> Result<elf::Verdict> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot stat `{}`: {e}", path.display()))?;
    match elf::in_place_refusal(path, &meta) {
        Some(verdict) => Ok(verdict),
        None => elf::strip_to(path, scratch, mode),
    }
}

/// A private scratch directory for dry runs of `strip`.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(".venvslim-strip-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `venvslim verify VENV [--against ORIGINAL]`.
pub fn verify_venv(args: &cli::VerifyArgs) -> Result<Status> {
    let start = Instant::now();
    let opts = verify::Options {
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        read_only: !args.no_read_only,
        deep: args.deep,
    };
    let probe = verify::probe(&args.venv, &opts)?;
    let found = match &args.against {
        Some(original) => verify::regressions(&verify::probe(original, &opts)?, &probe),
        None => verify::problems(&probe),
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    report::verify(
        &mut lock,
        &probe,
        &found,
        args.against.is_some(),
        opts.read_only,
        args.json,
        start.elapsed(),
    )?;
    lock.flush()?;
    Ok(if found.is_empty() {
        Status::Ok
    } else {
        Status::Failures
    })
}

/// `venvslim bench VENV`: compare strategies; print the table (or JSON), write the chart.
pub fn bench_venv(args: &cli::BenchArgs) -> Result<Status> {
    use anyhow::Context;
    // The charts are outputs too: resolved and checked before the bench runs.
    let chart = |flag: &str, p: &Option<std::path::PathBuf>| {
        p.as_deref()
            .map(|p| settings::output_path(flag, p, &args.venv, settings::Input::ReadOnly))
            .transpose()
    };
    let (svg, html) = (chart("--svg", &args.svg)?, chart("--html", &args.html)?);
    let progress = report::progress::Progress::for_terminal(args.json);
    let result = bench::run(args, &progress);
    progress.finish();
    let result = result?;
    let write = |path: &std::path::Path,
                 render: &dyn Fn(&mut std::fs::File) -> std::io::Result<()>| {
        std::fs::File::create(path)
            .and_then(|mut f| render(&mut f))
            .with_context(|| {
                format!(
                    "cannot write `{}`\nhint: is its directory there and writable?",
                    path.display()
                )
            })
    };
    if let Some(p) = &svg {
        write(p, &|f| report::bench::svg(f, &result))?;
    }
    if let Some(p) = &html {
        write(p, &|f| report::bench::html(f, &result))?;
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if args.json {
        report::bench::json(&mut lock, &result)?
    } else {
        report::bench::text(&mut lock, &result)?
    }
    lock.flush()?;
    Ok(if result.strategies.iter().any(|s| s.error.is_some()) {
        Status::Failures
    } else {
        Status::Ok
    })
}
