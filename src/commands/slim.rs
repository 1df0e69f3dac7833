//! `venvslim slim`: discover, walk, classify, plan, apply, verify and repair, report.
//!
//! Orchestration only: each step is a call into the module that owns it. In place, a pending
//! journal is finished first (`finish_interrupted`), never planned over.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};

use super::Status;
use crate::breakdown::Breakdown;
use crate::cli::BytecodeMode;
use crate::inventory::Inventory;
use crate::plan::Plan;
use crate::report::Report;
use crate::rules::prune::Usage;
use crate::settings::{Settings, Target};
use crate::venv::Venv;
use crate::{apply, bytecode, handoff, progress, report, verify, workload};

/// `venvslim slim`: run the whole pipeline with validated settings.
pub fn run(settings: &Settings) -> Result<Status> {
    let start = Instant::now();
    let progress = progress::Progress::for_terminal(settings.json);
    let result = slim_with(settings, start, &progress);
    progress.finish();
    result
}

fn slim_with(settings: &Settings, start: Instant, progress: &progress::Progress) -> Result<Status> {
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
        let first = &inv.errors[0];
        bail!(
            "cannot read {} path(s) in the venv, first `{}`: {}; the copy would be incomplete, so nothing was written\nhint: fix the permissions (or run as the venv's owner) and run again",
            inv.errors.len(),
            venv.root.join(first.path()).display(),
            first.io_error()
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
    let original = if settings.verify && !settings.dry_run {
        progress.phase("verify: probing the input", 0);
        Some(verify::probe(&venv.root, &verify_opts)?)
    } else {
        None
    };
    // The user's workload must pass on the input first: that is what the output is held to.
    let workloads = if settings.run.is_empty() {
        None
    } else {
        progress.phase("run: the workload on the input", 0);
        Some(run_on_input(settings, &venv, &inv)?)
    };
    progress.phase("planning", 0);
    let usage = workloads.as_ref().map(Workloads::usage);
    if let (Some(_), Some(usage)) = (settings.prune, &usage) {
        if !usage
            .paths
            .iter()
            .any(|p| p.starts_with(&venv.site_packages))
        {
            bail!(
                "--prune cuts what the workloads did not use, and they used nothing in `{}` (no module imported, no file opened there): pruning would cut every distribution; nothing was written\nhint: run the venv's own Python in the workload, e.g. --run '$VENV/bin/python -m myapp --selfcheck'",
                venv.site_packages.display()
            );
        }
    }
    let plan = Plan::build_with(venv, settings, inv, usage.as_ref());
    if let Some(zip) = &plan.zip {
        zip.check_entry_limit()?;
    }
    // Before anything is written: in place, the input the alternative plans and the estimate
    // read is gone after.
    let estimate = (settings.dry_run || settings.budget.is_some()).then(|| Breakdown::plan(&plan));
    let budget = settings
        .budget
        .zip(estimate.as_ref())
        .map(|(limit, b)| crate::budget::Budget::plan(limit, &plan, settings, usage.as_ref(), b));
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
    let mut runs = Vec::new();
    let repair = match (&original, output, outcome.as_mut()) {
        (Some(original), Some(out), Some(outcome)) => {
            progress.phase("verify: probing the output", 0);
            let at = settings
                .handoff
                .prefix
                .as_deref()
                .unwrap_or(&plan.venv.root);
            verify_and_repair(
                &plan,
                Output {
                    out,
                    at,
                    workloads: workloads.as_ref(),
                },
                original,
                &verify_opts,
                interp.as_ref(),
                outcome,
                &mut runs,
            )
        }
        _ => None,
    };
    progress.finish();
    let breakdown = match &outcome {
        Some(o) => Breakdown::outcome(&plan, o, output.unwrap_or(&plan.venv.root)),
        None => estimate.unwrap_or_else(|| Breakdown::plan(&plan)),
    };
    if let Some(path) = &settings.treemap {
        let title = treemap_title(&plan.venv.root, settings.dry_run);
        let written = apply::scratch::write_report_file(path, &|f| {
            report::treemap::svg(f, &breakdown, &title)
        });
        // After a real run OUT is published (or the venv slimmed in place): exit 2 would say
        // nothing was written, so a treemap that cannot be written is a failure of the run.
        match (written, outcome.as_mut()) {
            (Err(e), Some(o)) => o.failures.push(apply::Failure {
                path: path.clone(),
                error: format!("--treemap: cannot write it: {}", e.root_cause()),
            }),
            (Err(e), None) => return Err(e),
            (Ok(()), _) => {}
        }
    }
    let report = Report {
        plan: &plan,
        outcome: outcome.as_ref(),
        output,
        dry_run: settings.dry_run,
        verbose: settings.verbose,
        verify: repair.as_ref(),
        runs: workloads.as_ref().map(|w| report::Runs {
            input: &w.input,
            rounds: &runs,
        }),
        budget: budget.as_ref(),
        breakdown: &breakdown,
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
    let unrepaired = repair
        .as_ref()
        .is_some_and(|r| !r.remaining.is_empty() || !r.remaining_other.is_empty())
        || runs
            .last()
            .is_some_and(|last| last.iter().any(|r| !r.passed));
    Ok(
        if report.failures().is_empty() && !unrepaired && !report.over_budget() {
            Status::Ok
        } else {
            Status::Failures
        },
    )
}

/// The treemap's title: the venv's directory name, and whether the figures are estimated.
fn treemap_title(root: &Path, dry_run: bool) -> String {
    let name = root.file_name().map_or_else(
        || root.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if dry_run {
        format!("{name} after venvslim slim (estimated by a dry run)")
    } else {
        format!("{name} after venvslim slim")
    }
}

/// `slim --verify`, after OUT is published: probe it against the input's probe; verify decides
/// what to give back, apply writes it (out of the zip, then the files), and RECORD, the final
/// pass and the totals are brought up to date. A verify that cannot finish is a failure of this
/// run (exit 1, said in the report), never exit 2, which promises nothing was written.
fn verify_and_repair(
    plan: &Plan,
    Output { out, at, workloads }: Output,
    original: &verify::Probe,
    opts: &verify::Options,
    interp: Option<&bytecode::Interpreter>,
    outcome: &mut apply::Outcome,
    runs: &mut Vec<Vec<workload::Run>>,
) -> Option<verify::Repair> {
    let repaired = {
        let mut put_back = |what: &verify::Restore| {
            let mut back = apply::unzip(plan, out, &what.unzip, interp, outcome)?;
            back.extend(apply::restore(plan, out, &what.actions, &what.elf)?);
            Ok(back)
        };
        let mut check = |done: &verify::Restore| -> Result<Vec<verify::Finding>> {
            let Some(w) = workloads else {
                return Ok(Vec::new());
            };
            let mut found = Vec::new();
            let mut round = Vec::new();
            for input in &w.input {
                let run = w.runner.run(&input.command, out, at)?;
                found.extend(workload::findings(plan, &input.record, &run, done));
                round.push(run);
            }
            runs.push(round);
            Ok(found)
        };
        verify::repair_with(plan, out, original, opts, &mut put_back, Some(&mut check))
    };
    let repair = match repaired {
        Ok(repair) => repair,
        Err(e) => {
            outcome.failures.push(apply::Failure {
                path: out.to_path_buf(),
                error: format!("written, but verify could not finish: {e:#}"),
            });
            return None;
        }
    };
    if !repair.restored.is_empty() {
        let restored: Vec<PathBuf> = repair.restored.iter().map(|r| r.path.clone()).collect();
        let failed = apply::refresh_records(plan, out, outcome, &restored);
        outcome.failures.extend(failed);
        let failed = apply::refinalize(plan, out, outcome);
        outcome.failures.extend(failed);
        outcome.after = apply::measure(out);
    }
    Some(repair)
}

/// OUT, the path it will live at (where `--run` mounts it: `--prefix`, else the input's), and
/// the workloads to run there.
struct Output<'a> {
    out: &'a Path,
    at: &'a Path,
    workloads: Option<&'a Workloads>,
}

/// The `--run` workloads: each one's run on the input, and the runner for the output's runs.
struct Workloads {
    runner: workload::Runner,
    input: Vec<workload::Run>,
}

impl Workloads {
    /// What the runs on the input used, all of them together: what `--prune` keeps.
    fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for run in &self.input {
            let r = &run.record;
            usage.paths.extend(r.touched.keys().cloned());
            usage.paths.extend(r.modules.values().cloned());
            usage.modules.extend(r.modules.keys().cloned());
            usage.modules.extend(r.imported.iter().cloned());
        }
        usage
    }
}

/// Run every `--run` command on the input (read-only); one that fails there stops the run
/// before anything is written (exit 2, with its output).
fn run_on_input(settings: &Settings, venv: &Venv, inv: &Inventory) -> Result<Workloads> {
    let root = &venv.root;
    let runner = workload::Runner::new(root)?;
    // Without the mount (not root) the output runs where it was written, and the prefix need
    // not exist here.
    if let (Some(prefix), true) = (&settings.handoff.prefix, runner.can_mount) {
        if !prefix.is_dir() {
            bail!(
                "--run runs OUT at the path it will live at, --prefix `{}`, and no directory is there to mount it on\nhint: create the directory (an empty one will do), or run the workload later with `venvslim verify OUT --against VENV --run CMD`",
                prefix.display()
            );
        }
    }
    let mut input = Vec::new();
    for command in &settings.run {
        input.push(runner.run_reference(
            command,
            root,
            "the input",
            "so it cannot show what the output needs; nothing was written",
        )?);
    }
    // Without the mount nothing stops the workload writing into the venv: the plan would be
    // made from a tree that is not the one walked, and the user should know. Walk it again.
    if !runner.can_mount {
        let after = Inventory::scan(root, &venv.site_packages)?;
        if let Some(changed) = inv.first_difference(&after) {
            bail!(
                "--run changed the input venv `{}` (first: `{}`); without root it cannot be mounted read-only, and venvslim will not slim a tree that moved under it; nothing was written\nhint: run as root (read-only mount), or make the workload write outside $VENV",
                root.display(),
                changed.display()
            );
        }
    }
    Ok(Workloads { runner, input })
}

/// In place: a journal means a run was killed half-way; finish it (planning from a
/// half-changed tree would lose files), report, and stop. Without one, clear what an
/// interrupted preparation left. `None`: go on with a normal run.
fn finish_interrupted(
    settings: &Settings,
    root: &std::path::Path,
    start: Instant,
    progress: &progress::Progress,
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
    report::resumed(
        &mut lock,
        root,
        &resumed,
        settings.json,
        start.elapsed(),
        settings.treemap.as_deref(),
    )?;
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
