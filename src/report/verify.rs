//! The report of `venvslim verify`, and the probe lines `slim --verify` shares.

use std::io::{self, Write};
use std::time::Duration;

use super::group;
use crate::verify::{Finding, Probe, Regression};
use crate::workload::Run;

/// One `verify --run` workload.
#[derive(Debug, serde::Serialize)]
pub struct Workload {
    /// Its run on the original (with --against).
    pub input: Option<crate::workload::Run>,
    /// Its run on the tree.
    pub output: crate::workload::Run,
    /// What the tree lacks that it used (with --against), or that it fails.
    pub findings: Vec<crate::verify::Finding>,
}

/// What `venvslim verify` found, to render.
pub struct VerifyReport<'a> {
    /// The probe of the tree that was checked.
    pub probe: &'a Probe,
    /// Regressions against the original (with `--against`), else problems found in the tree.
    pub found: &'a [Regression],
    /// Whether `found` compares against an original (`--against`).
    pub against: bool,
    /// Whether every module on disk was imported, not only top-level and extension modules.
    pub deep: bool,
    /// Whether a read-only mount was asked for (a note says when it could not be had).
    pub wanted_read_only: bool,
    /// `--run`: each workload's runs and what the tree lacks that it used.
    pub runs: &'a [Workload],
    /// Wall time of the whole check.
    pub elapsed: Duration,
}

impl VerifyReport<'_> {
    /// The JSON report: counts, and the regressions (or problems) in full.
    pub fn json(&self, mut out: impl Write) -> io::Result<()> {
        let probe = self.probe;
        let report = serde_json::json!({
            "python": probe.python,
            "read_only": probe.read_only,
            "modules": probe.modules.len(),
            "dists": probe.dists.len(),
            "scripts": probe.scripts.len(),
            "against": self.against,
            "depth": if self.deep { "deep" } else { "quick" },
            if self.against { "regressions" } else { "problems" }: self.found,
            "run": self.runs,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        });
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)
    }

    /// The text report: what was probed, then each regression (or problem) on a line.
    pub fn text(&self, mut out: impl Write) -> io::Result<()> {
        probe_summary(&mut out, self.probe, self.wanted_read_only)?;
        if self.deep {
            writeln!(out, "  deep: every module on disk was imported")?;
        } else {
            writeln!(
                out,
                "  quick: top-level and extension modules only (a removed submodule goes unseen)"
            )?;
        }
        let what = if self.against {
            "regression(s) against the original"
        } else {
            "problem(s)"
        };
        if self.found.is_empty() {
            writeln!(out, "  no {what} found")?;
        } else {
            writeln!(out, "  {} {what}:", self.found.len())?;
            regression_lines(&mut out, self.found)?;
        }
        for w in self.runs {
            writeln!(out, "  run `{}`:", w.output.command)?;
            if let Some(input) = &w.input {
                writeln!(
                    out,
                    "    on the original: {} in {:.1} s, recorded in {} Python process(es)",
                    input.status, input.seconds, input.processes
                )?;
            }
            writeln!(
                out,
                "    on the tree at {}{}: {} in {:.1} s",
                w.output.at.display(),
                read_only_mark(&w.output),
                w.output.status,
                w.output.seconds
            )?;
            let first = w.input.as_ref().unwrap_or(&w.output);
            if first.processes > 0 && first.touched == 0 {
                writeln!(out, "    note: it touched nothing under the tree, so it shows nothing about it: does it run `$VENV/bin/python`, not `python3`?")?;
            }
            finding_lines(&mut out, &w.findings, true)?;
            if !w.output.passed {
                output_lines(&mut out, "its output (the end):", &w.output)?;
            }
        }
        writeln!(out, "  done in {:.2} s", self.elapsed.as_secs_f64())
    }
}

pub(super) fn probe_summary(out: &mut impl Write, p: &Probe, wanted_ro: bool) -> io::Result<()> {
    writeln!(
        out,
        "  verify: {} modules, {} distributions, {} scripts probed with {}{}",
        group(p.modules.len() as u64),
        group(p.dists.len() as u64),
        group(p.scripts.len() as u64),
        p.python,
        if p.read_only { ", read-only" } else { "" }
    )?;
    if wanted_ro && !p.read_only {
        writeln!(
            out,
            "  note: not run on a read-only mount (needs root and unshare -m)"
        )?;
    }
    Ok(())
}

pub(super) fn regression_lines(out: &mut impl Write, found: &[Regression]) -> io::Result<()> {
    for r in found {
        let dist = r.dist.as_deref().unwrap_or("?");
        writeln!(out, "    {:<12} {} [{dist}]: {}", r.kind, r.name, r.error)?;
    }
    Ok(())
}

/// " (read-only)" when the run had the tree mounted read-only.
pub(super) fn read_only_mark(run: &Run) -> &'static str {
    if run.read_only {
        " (read-only)"
    } else {
        ""
    }
}

/// A workload's output (its end) under `heading`, each line marked.
pub(super) fn output_lines(out: &mut impl Write, heading: &str, run: &Run) -> io::Result<()> {
    writeln!(out, "    {heading}")?;
    for line in run.output.lines() {
        writeln!(out, "      | {line}")?;
    }
    Ok(())
}

/// Findings, one line each, at most 10 unless `all`.
pub(super) fn finding_lines(
    out: &mut impl Write,
    findings: &[Finding],
    all: bool,
) -> io::Result<()> {
    let limit = if all { usize::MAX } else { 10 };
    for f in findings.iter().take(limit) {
        writeln!(out, "    {}", super::truncate(&f.what, 160))?;
    }
    if findings.len() > limit {
        writeln!(
            out,
            "    ... and {} more (--verbose lists them)",
            findings.len() - limit
        )?;
    }
    Ok(())
}
