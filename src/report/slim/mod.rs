//! The report of `venvslim slim`: the text summary for people, JSON for machines.
//!
//! Both are rendered from the same `Plan` (and, after a real run, its `Outcome`), so a dry
//! run's JSON lists exactly the actions the real run performs. Everything is sorted: same
//! venv, same report. `zip.rs` renders the `--zip-pure` section, `handoff.rs` the hand-off one,
//! `budget.rs` the `--budget` one, `breakdown.rs` where the kept bytes are.

mod breakdown;
mod budget;
mod handoff;
mod prune;
mod run;
mod zip;

pub use run::Runs;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::apply::{Failure, Outcome};
use crate::plan::{ActionKind, Plan, Totals};
use crate::rules::Category;
use crate::verify::Regression;

use super::verify::{finding_lines, probe_summary, regression_lines};
use super::{group, human, truncate};

/// Everything slim's report shows, gathered by the command.
pub struct Report<'a> {
    /// What was (or, in a dry run, would be) done.
    pub plan: &'a Plan,
    /// What the real run did (None: dry run).
    pub outcome: Option<&'a Outcome>,
    /// OUT, out of place (None: in place).
    pub output: Option<&'a Path>,
    /// `--dry-run`: nothing was written.
    pub dry_run: bool,
    /// `--verbose`: list everything, not the first few.
    pub verbose: bool,
    /// `slim --verify`: what was found and repaired.
    pub verify: Option<&'a crate::verify::Repair>,
    /// `slim --run`: each workload on the input and on the output.
    pub runs: Option<Runs<'a>>,
    /// `--budget`: the limit, and what to show when the tree is over it.
    pub budget: Option<&'a crate::budget::Budget>,
    /// Where the kept bytes are: estimated from the plan (dry run) or measured after the run.
    pub breakdown: &'a crate::breakdown::Breakdown,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

#[derive(Serialize)]
struct JsonAction<'a> {
    path: String,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    category: Category,
    rule: &'static str,
    bytes: u64,
    dist: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonTotals {
    before_bytes: u64,
    after_bytes: u64,
    before_files: u64,
    after_files: u64,
}

#[derive(Serialize)]
struct JsonRepair<'a> {
    read_only: bool,
    found: &'a [Regression],
    restored: &'a [crate::verify::Restored],
    restored_dists: &'a std::collections::BTreeSet<String>,
    remaining: &'a [Regression],
    rounds: usize,
    /// What each restore round gave back, for which finding, at which level.
    steps: &'a [crate::verify::Step],
    /// What the `--run` workloads showed the output missed, first and after the last round.
    run_found: &'a [crate::verify::Finding],
    run_remaining: &'a [crate::verify::Finding],
}

#[derive(Serialize)]
struct JsonElf<'a> {
    /// ELF files found (to strip, or inspected in a dry run).
    files: usize,
    saved_bytes: u64,
    results: Vec<JsonElfResult<'a>>,
    skipped: Vec<Failure>,
}

#[derive(Serialize)]
struct JsonElfResult<'a> {
    path: String,
    #[serde(flatten)]
    verdict: &'a crate::elf::Verdict,
}

#[derive(Serialize, Default)]
struct Sum {
    files: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    venv: String,
    output: Option<String>,
    python: String,
    dry_run: bool,
    actions: Vec<JsonAction<'a>>,
    rescues: &'a [crate::rules::guard::Rescue],
    #[serde(skip_serializing_if = "Option::is_none")]
    prune: Option<prune::JsonPrune>,
    failures: Vec<Failure>,
    #[serde(skip_serializing_if = "<[Failure]>::is_empty")]
    skipped: &'a [Failure],
    #[serde(
        skip_serializing_if = "<[std::path::PathBuf]>::is_empty",
        serialize_with = "lossy_paths"
    )]
    stale_staging_removed: &'a [std::path::PathBuf],
    by_category: BTreeMap<Category, Sum>,
    by_dist: BTreeMap<String, Sum>,
    compiled: usize,
    not_compiled: &'a [Failure],
    elf: JsonElf<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<JsonRepair<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<Vec<run::JsonWorkload<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip: Option<zip::JsonZip<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget: Option<budget::JsonBudget<'a>>,
    /// Where the kept bytes are, by distribution and by kind.
    breakdown: &'a crate::breakdown::Breakdown,
    totals: JsonTotals,
    elapsed_ms: u128,
}

impl Report<'_> {
    /// Paths that could not be read or written: the inventory's errors, then the run's.
    pub fn failures(&self) -> Vec<Failure> {
        let mut all: Vec<Failure> = self
            .plan
            .inv
            .errors
            .iter()
            .map(|e| Failure {
                path: e.path().to_path_buf(),
                error: e.reason(),
            })
            .collect();
        if let Some(o) = self.outcome {
            all.extend(o.failures.iter().cloned());
        }
        all
    }

    fn elf_skipped(&self) -> Vec<Failure> {
        let entries = &self.plan.inv.entries;
        self.plan
            .elf_skipped
            .iter()
            .map(|(i, why)| Failure {
                path: entries[*i].path.clone(),
                error: why.clone(),
            })
            .collect()
    }

    fn elf_json(&self) -> JsonElf<'_> {
        let results: Vec<JsonElfResult> = self
            .outcome
            .map(|o| {
                o.elf
                    .iter()
                    .map(|(p, v)| JsonElfResult {
                        path: p.to_string_lossy().into_owned(),
                        verdict: v,
                    })
                    .collect()
            })
            .unwrap_or_default();
        JsonElf {
            files: self.plan.elf.len(),
            saved_bytes: self.elf_saved(),
            results,
            skipped: self.elf_skipped(),
        }
    }

    fn elf_saved(&self) -> u64 {
        let stripped = self.outcome.map_or(&[][..], |o| &o.elf[..]).iter();
        stripped
            .map(|(_, v)| match v {
                crate::elf::Verdict::Stripped { before, after } => before.saturating_sub(*after),
                _ => 0,
            })
            .sum()
    }

    fn text_elf(&self, out: &mut impl Write) -> io::Result<()> {
        use crate::elf::Verdict;
        let found = self.plan.elf.len();
        let Some(o) = self.outcome else {
            if found > 0 {
                writeln!(
                    out,
                    "  will strip debug sections and symbol tables from {} ELF files",
                    group(found as u64)
                )?;
            }
            return Ok(());
        };
        let count = |f: fn(&Verdict) -> bool| o.elf.iter().filter(|(_, v)| f(v)).count();
        let stripped = count(|v| matches!(v, Verdict::Stripped { .. }));
        if found > 0 {
            writeln!(
                out,
                "  ELF: stripped {} of {} files, saved {}",
                group(stripped as u64),
                group(found as u64),
                human(self.elf_saved())
            )?;
        }
        let refused: Vec<Failure> = o
            .elf
            .iter()
            .filter_map(|(p, v)| match v {
                Verdict::Refused { why } => Some(Failure {
                    path: p.clone(),
                    error: why.clone(),
                }),
                _ => None,
            })
            .chain(self.elf_skipped())
            .collect();
        if !refused.is_empty() {
            writeln!(
                out,
                "  ELF files left untouched on purpose ({}):",
                refused.len()
            )?;
            for f in refused
                .iter()
                .take(if self.verbose { usize::MAX } else { 5 })
            {
                writeln!(out, "    {}: {}", f.path.display(), f.error)?;
            }
        }
        Ok(())
    }

    fn text_verify(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(r) = self.verify else { return Ok(()) };
        writeln!(out)?;
        probe_summary(out, &r.last, true)?;
        if r.found.is_empty() && r.found_other.is_empty() {
            return writeln!(out, "  verify: no regressions against the input");
        }
        if !r.found.is_empty() {
            writeln!(
                out,
                "  verify: {} regression(s) against the input:",
                r.found.len()
            )?;
            regression_lines(out, &r.found)?;
        }
        if !r.found_other.is_empty() {
            writeln!(out, "  run: the output misses what the workload used:")?;
            finding_lines(out, &r.found_other, self.verbose)?;
        }
        if !r.restored.is_empty() {
            let dists: Vec<&str> = r.restored_dists.iter().map(String::as_str).collect();
            writeln!(out, "  restored {} file(s) of {}, the smallest set first; by the rule that had removed them (to fix the table):", r.restored.len(), dists.join(", "))?;
            let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
            for x in &r.restored {
                *by_rule.entry(x.rule).or_default() += 1;
            }
            for (rule, n) in by_rule {
                writeln!(out, "    {rule:<28}{:>7} file(s)", group(n as u64))?;
            }
            let mut by_level: BTreeMap<(usize, &str), usize> = BTreeMap::new();
            for s in &r.steps {
                *by_level.entry((s.round, s.level)).or_default() += s.files;
            }
            let levels: Vec<String> = by_level
                .iter()
                .map(|((round, level), n)| format!("round {round}: {n} by {level}"))
                .collect();
            writeln!(out, "    ({})", levels.join("; "))?;
            if self.verbose {
                for x in &r.restored {
                    writeln!(out, "    {} [{}]", x.path.display(), x.rule)?;
                }
            }
        }
        self.text_unzipped(out)?;
        if r.remaining.is_empty() && r.remaining_other.is_empty() {
            writeln!(out, "  verify: repaired; the output passes")
        } else {
            if !r.remaining.is_empty() {
                writeln!(
                    out,
                    "  verify: {} regression(s) remain after {} round(s):",
                    r.remaining.len(),
                    r.rounds
                )?;
                regression_lines(out, &r.remaining)?;
            }
            if !r.remaining_other.is_empty() {
                writeln!(out, "  run: still seen after {} round(s):", r.rounds)?;
                finding_lines(out, &r.remaining_other, self.verbose)?;
            }
            Ok(())
        }
    }

    fn after(&self) -> Totals {
        self.outcome.map_or(self.plan.after, |o| o.after)
    }

    fn by_category(&self) -> BTreeMap<Category, Sum> {
        let mut m: BTreeMap<Category, Sum> = BTreeMap::new();
        for a in &self.plan.actions {
            let s = m.entry(a.rule.category).or_default();
            s.bytes += a.bytes;
            if matches!(a.kind, ActionKind::Remove | ActionKind::RemoveAfterCompile) {
                s.files += 1;
            }
        }
        m
    }

    fn by_dist(&self) -> BTreeMap<String, Sum> {
        let mut m: BTreeMap<String, Sum> = BTreeMap::new();
        for a in &self.plan.actions {
            let key = a.dist.map_or("(no distribution)".to_string(), |d| {
                let d = &self.plan.dists[d];
                format!("{} {}", d.name, d.version)
            });
            let s = m.entry(key).or_default();
            s.bytes += a.bytes;
            if matches!(a.kind, ActionKind::Remove | ActionKind::RemoveAfterCompile) {
                s.files += 1;
            }
        }
        m
    }

    /// The report as pretty JSON (`--json`): every action, the rescues and the totals.
    pub fn json(&self, mut out: impl Write) -> io::Result<()> {
        let plan = self.plan;
        let actions = plan
            .actions
            .iter()
            .map(|a| {
                let (action, to) = match &a.kind {
                    ActionKind::Remove | ActionKind::RemoveAfterCompile => ("remove", None),
                    ActionKind::Rewrite(..) => ("rewrite", None),
                    ActionKind::Move(to) => ("move", Some(to.to_string_lossy().into_owned())),
                };
                JsonAction {
                    path: plan.path(a).to_string_lossy().into_owned(),
                    action,
                    to,
                    category: a.rule.category,
                    rule: a.rule.id,
                    bytes: a.bytes,
                    dist: a.dist.map(|d| plan.dists[d].name.as_str()),
                }
            })
            .collect();
        let after = self.after();
        let report = JsonReport {
            venv: plan.venv.root.to_string_lossy().into_owned(),
            output: self.output.map(|p| p.to_string_lossy().into_owned()),
            python: plan.venv.python.to_string(),
            dry_run: self.dry_run,
            actions,
            rescues: &plan.rescues,
            prune: prune::summary(plan),
            failures: self.failures(),
            skipped: self.outcome.map_or(&[], |o| &o.skipped),
            stale_staging_removed: self.outcome.map_or(&[], |o| &o.stale_staging_removed),
            by_category: self.by_category(),
            by_dist: self.by_dist(),
            compiled: self
                .outcome
                .map_or(plan.compile.len(), |o| o.compiled.len()),
            not_compiled: self.outcome.map_or(&[], |o| &o.not_compiled),
            elf: self.elf_json(),
            verify: self.verify.map(|r| JsonRepair {
                read_only: r.last.read_only,
                found: &r.found,
                restored: &r.restored,
                restored_dists: &r.restored_dists,
                remaining: &r.remaining,
                rounds: r.rounds,
                steps: &r.steps,
                run_found: &r.found_other,
                run_remaining: &r.remaining_other,
            }),
            run: self.runs_json(),
            zip: self.zip_json(),
            handoff: self.handoff_json(),
            budget: self.budget_json(),
            breakdown: self.breakdown,
            totals: JsonTotals {
                before_bytes: plan.before.bytes,
                after_bytes: after.bytes,
                before_files: plan.before.files,
                after_files: after.files,
            },
            elapsed_ms: self.elapsed.as_millis(),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)
    }

    /// The summary for people (without `--json`).
    pub fn text(&self, mut out: impl Write) -> io::Result<()> {
        let plan = self.plan;
        let dest = match (self.output, self.dry_run) {
            (_, true) => "dry run: nothing written".to_string(),
            (Some(o), _) => format!("-> {}", o.display()),
            (None, _) => "slimmed in place".to_string(),
        };
        writeln!(
            out,
            "venvslim: {} (Python {}) {dest}",
            plan.venv.root.display(),
            plan.venv.python
        )?;
        let after = self.after();
        let pct = shrink(plan.before.bytes, after.bytes);
        writeln!(out, "  {:<34}{:>9}  {:>11}", "", "files", "size")?;
        writeln!(
            out,
            "  {:<34}{:>9}  {:>11}",
            "before",
            group(plan.before.files),
            human(plan.before.bytes)
        )?;
        let label = if self.outcome.is_some() {
            "after"
        } else {
            "after (before compiling)"
        };
        writeln!(
            out,
            "  {:<34}{:>9}  {:>11}  {pct}",
            label,
            group(after.files),
            human(after.bytes)
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "  {:<34}{:>9}  {:>11}",
            if self.dry_run {
                "would remove"
            } else {
                "removed"
            },
            "files",
            "saved"
        )?;
        for (cat, s) in self.by_category() {
            writeln!(
                out,
                "  {:<34}{:>9}  {:>11}",
                cat.label(),
                group(s.files),
                human(s.bytes)
            )?;
        }
        self.text_compiled(&mut out)?;
        self.text_elf(&mut out)?;
        self.text_zip(&mut out)?;
        self.text_dists(&mut out)?;
        self.text_breakdown(&mut out)?;
        self.text_rescues(&mut out)?;
        self.text_prune(&mut out)?;
        self.text_runs(&mut out)?;
        self.text_verify(&mut out)?;
        self.text_handoff(&mut out)?;
        self.text_budget(&mut out)?;
        if self.verbose {
            writeln!(out, "\n  actions:")?;
            for a in &plan.actions {
                let verb = match &a.kind {
                    ActionKind::Remove | ActionKind::RemoveAfterCompile => "remove",
                    ActionKind::Rewrite(..) => "rewrite",
                    ActionKind::Move(_) => "move",
                };
                writeln!(
                    out,
                    "    {verb:<8}{:<26}{:>11}  {}",
                    a.rule.id,
                    human(a.bytes),
                    plan.path(a).display()
                )?;
            }
        }
        if let Some(o) = self.outcome {
            if !o.skipped.is_empty() {
                writeln!(out, "\n  {} skipped:", o.skipped.len())?;
                for f in &o.skipped {
                    writeln!(out, "    {}: {}", f.path.display(), f.error)?;
                }
            }
            for p in &o.stale_staging_removed {
                writeln!(
                    out,
                    "\n  removed `{}`: the staging directory of an earlier run that was killed",
                    p.display()
                )?;
            }
        }
        let failures = self.failures();
        if !failures.is_empty() {
            writeln!(out, "\n  {} failure(s):", failures.len())?;
            for f in &failures {
                writeln!(out, "    {}: {}", f.path.display(), f.error)?;
            }
        }
        writeln!(out, "\n  done in {:.2} s", self.elapsed.as_secs_f64())
    }

    fn text_compiled(&self, out: &mut impl Write) -> io::Result<()> {
        let n = self
            .outcome
            .map_or(self.plan.compile.len(), |o| o.compiled.len());
        if n > 0 {
            let verb = if self.outcome.is_some() {
                "compiled"
            } else {
                "will compile"
            };
            writeln!(
                out,
                "\n  {verb} {} sources to unchecked-hash bytecode with the venv's interpreter",
                group(n as u64)
            )?;
        }
        if let Some(o) = self.outcome.filter(|o| !o.not_compiled.is_empty()) {
            writeln!(out, "  {} sources did not compile (kept as they are; Python could not compile them either):", o.not_compiled.len())?;
            for f in o
                .not_compiled
                .iter()
                .take(if self.verbose { usize::MAX } else { 5 })
            {
                writeln!(out, "    {}: {}", f.path.display(), f.error)?;
            }
        }
        Ok(())
    }

    fn text_dists(&self, out: &mut impl Write) -> io::Result<()> {
        let mut dists: Vec<(String, Sum)> = self.by_dist().into_iter().collect();
        dists.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(&b.0)));
        let shown = if self.verbose { dists.len() } else { 10 };
        writeln!(
            out,
            "\n  {:<34}{:>9}  {:>11}",
            "biggest savings by distribution", "files", "saved"
        )?;
        for (name, s) in dists.iter().take(shown) {
            writeln!(
                out,
                "  {:<34}{:>9}  {:>11}",
                truncate(name, 33),
                group(s.files),
                human(s.bytes)
            )?;
        }
        if dists.len() > shown {
            writeln!(
                out,
                "  ... and {} more (--verbose or --json lists them)",
                dists.len() - shown
            )?;
        }
        Ok(())
    }

    fn text_rescues(&self, out: &mut impl Write) -> io::Result<()> {
        let rescues = &self.plan.rescues;
        if rescues.is_empty() {
            return Ok(());
        }
        writeln!(out, "\n  import guard: kept {} file(s) a rule would have removed, because kept code imports them:", rescues.len())?;
        let shown = if self.verbose { rescues.len() } else { 8 };
        for r in rescues.iter().take(shown) {
            writeln!(out, "    {} [{}]: {}", r.path.display(), r.rule, r.reason)?;
        }
        if rescues.len() > shown {
            writeln!(
                out,
                "    ... and {} more (--verbose lists them)",
                rescues.len() - shown
            )?;
        }
        Ok(())
    }
}

fn lossy_paths<S: serde::Serializer>(
    paths: &&[std::path::PathBuf],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

/// The report of an in-place rerun that finished an interrupted run from its journal.
pub fn resumed(
    mut out: impl Write,
    root: &Path,
    r: &crate::apply::Resumed,
    json: bool,
    elapsed: Duration,
    treemap: Option<&Path>,
) -> io::Result<()> {
    if json {
        let report = serde_json::json!({
            "venv": root.display().to_string(),
            "resumed": true,
            "steps": r.steps,
            "handoff": r.handoff,
            "failures": r.failures,
            "treemap_not_drawn": treemap.map(|p| p.display().to_string()),
            "elapsed_ms": elapsed.as_millis() as u64,
        });
        serde_json::to_writer_pretty(&mut out, &report)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "venvslim: {}: finished an interrupted in-place run ({} steps from its journal); nothing else was done",
        root.display(),
        r.steps
    )?;
    if let Some(path) = treemap {
        // The journal finishes the old run's actions; there is no plan to draw from.
        writeln!(
            out,
            "  --treemap `{}` not drawn: this run finished an interrupted one\n  hint: run the same command again (it finds nothing left to do) to draw it",
            path.display()
        )?;
    }
    if !r.failures.is_empty() {
        writeln!(out, "  {} failure(s):", r.failures.len())?;
        for f in &r.failures {
            writeln!(out, "    {}: {}", f.path.display(), f.error)?;
        }
    }
    writeln!(out, "  done in {:.2} s", elapsed.as_secs_f64())
}

/// How much smaller `after` is than `before`, as `-52.7%`; `+107.9%` when it grew (a venv
/// without pip's pycs gains the compiled bytecode).
fn shrink(before: u64, after: u64) -> String {
    let pct = 100.0 * (after as f64 / before.max(1) as f64 - 1.0);
    if pct > 0.0 {
        format!("+{pct:.1}%")
    } else {
        format!("-{:.1}%", pct.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_is_signed() {
        assert_eq!(shrink(200, 100), "-50.0%");
        assert_eq!(shrink(100, 100), "-0.0%");
        assert_eq!(shrink(100, 250), "+150.0%");
    }
}
