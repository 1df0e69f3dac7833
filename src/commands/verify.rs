//! `venvslim verify VENV [--against ORIGINAL]`: probe a tree, compare, report.
//!
//! With --against the probe is deep (every module on disk) unless --quick: a regression is a
//! module that worked in the original, so what never imported there costs nothing in the report,
//! and only a deep probe sees a removed submodule that kept code imports (issue 13: a Django tree
//! without `django/test` passed the top-level probe). Without --against there is nothing to
//! subtract, so a deep probe would list every submodule that never worked (Django's need
//! settings): quick unless --deep. The two trees are probed at the same time, each by its own
//! interpreter; neither reads the other.

use std::io::Write;
use std::time::Instant;

use anyhow::{anyhow, Result};

use super::Status;
use crate::inventory::Inventory;
use crate::venv::Venv;
use crate::{cli, report, verify, workload};

/// `venvslim verify VENV [--against ORIGINAL]`.
pub fn run(args: &cli::VerifyArgs) -> Result<Status> {
    let start = Instant::now();
    let opts = verify::Options {
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        read_only: !args.no_read_only,
        deep: deep(args),
    };
    let (probe, found) = match &args.against {
        Some(original) => {
            let (before, after) = std::thread::scope(|s| {
                let before = s.spawn(|| verify::probe(original, &opts));
                let after = verify::probe(&args.venv, &opts);
                let before = before
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("the probe of the original panicked")));
                (before, after)
            });
            // The checked tree's error first, as when the probes ran one after the other.
            let after = after?;
            let before = before?;
            let found = verify::regressions(&before, &after);
            (after, found)
        }
        None => {
            let probe = verify::probe(&args.venv, &opts)?;
            let found = verify::problems(&probe);
            (probe, found)
        }
    };
    let runs = workloads(args)?;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let rendered = report::verify::VerifyReport {
        probe: &probe,
        found: &found,
        against: args.against.is_some(),
        deep: opts.deep,
        wanted_read_only: opts.read_only,
        runs: &runs,
        elapsed: start.elapsed(),
    };
    if args.json {
        rendered.json(&mut lock)?;
    } else {
        rendered.text(&mut lock)?;
    }
    lock.flush()?;
    let runs_fail = runs
        .iter()
        .any(|w| !w.output.passed || !w.findings.is_empty());
    Ok(if found.is_empty() && !runs_fail {
        Status::Ok
    } else {
        Status::Failures
    })
}

/// `--run`: each workload on ORIGINAL (recorded; it must pass there) and on the tree at
/// ORIGINAL's path, and what the tree lacks that it used; without --against, on the tree alone.
fn workloads(args: &cli::VerifyArgs) -> Result<Vec<report::verify::Workload>> {
    if args.run.is_empty() {
        return Ok(Vec::new());
    }
    let tree = Venv::discover(&args.venv, None)?;
    let original = args
        .against
        .as_deref()
        .map(|a| Venv::discover(a, None))
        .transpose()?;
    let mut runner = workload::Runner::new(original.as_ref().map_or(&tree.root, |o| &o.root))?;
    runner.can_mount &= !args.no_read_only;
    let layout = match &original {
        Some(o) => Some((
            workload::Layout::scan(o)?,
            Inventory::scan(&tree.root, &tree.site_packages)?,
        )),
        None => None,
    };
    let mut out = Vec::new();
    for command in &args.run {
        let (input, output, findings) = match (&original, &layout) {
            (Some(o), Some((input_tree, out_inv))) => {
                let input = runner.run_reference(
                    command,
                    &o.root,
                    "the original",
                    "so it cannot show what the tree misses",
                )?;
                let output = runner.run(command, &tree.root, &o.root)?;
                let findings = workload::compare(input_tree, out_inv, &input.record, &output);
                (Some(input), output, findings)
            }
            _ => {
                let output = runner.run(command, &tree.root, &tree.root)?;
                let findings = if output.passed {
                    Vec::new()
                } else {
                    vec![verify::Finding {
                        what: format!("`{command}` fails on the tree ({})", output.status),
                        paths: Vec::new(),
                        packages: Vec::new(),
                        dists: Default::default(),
                    }]
                };
                (None, output, findings)
            }
        };
        out.push(report::verify::Workload {
            input,
            output,
            findings,
        });
    }
    Ok(out)
}

/// Every module with --against (unless --quick), top-level and extension modules without it
/// (unless --deep).
fn deep(args: &cli::VerifyArgs) -> bool {
    !args.quick && (args.deep || args.against.is_some())
}
