//! The `--budget` part of the report: one line when the tree fits; when it does not, the
//! largest distributions and what each unused size option would save, with how each figure
//! was estimated (see `budget.rs`).

use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::budget::{Basis, Largest, Saving};
use crate::report::{human, truncate};

#[derive(Serialize)]
pub(super) struct JsonBudget<'a> {
    /// `--budget`, in bytes.
    limit: u64,
    /// The tree's size: the report's `after_bytes`.
    size: u64,
    within: bool,
    largest: &'a [Largest],
    savings: &'a [Saving],
}

impl Report<'_> {
    /// True when `--budget` was given and the tree is larger.
    pub fn over_budget(&self) -> bool {
        self.budget.is_some_and(|b| self.after().bytes > b.limit)
    }

    pub(super) fn budget_json(&self) -> Option<JsonBudget<'_>> {
        let b = self.budget?;
        Some(JsonBudget {
            limit: b.limit,
            size: self.after().bytes,
            within: !self.over_budget(),
            largest: &b.largest,
            savings: &b.savings,
        })
    }

    pub(super) fn text_budget(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(b) = self.budget else {
            return Ok(());
        };
        let size = self.after().bytes;
        let measure = if self.outcome.is_some() {
            ""
        } else {
            " (the plan's size: before bytecode is compiled and ELF files are stripped)"
        };
        if !self.over_budget() {
            return writeln!(
                out,
                "\n  within budget: {} of {}{measure}",
                human(size),
                human(b.limit)
            );
        }
        let what = match (self.dry_run, self.output) {
            (true, _) => "nothing was written (dry run)",
            (false, Some(_)) => "the output is written",
            (false, None) => "the venv is slimmed",
        };
        writeln!(
            out,
            "\n  over budget: {} of {}{measure}, {} too many; {what}, exit status 1",
            human(size),
            human(b.limit),
            human(size - b.limit)
        )?;
        writeln!(out, "  largest distributions in the output:")?;
        for d in &b.largest {
            writeln!(
                out,
                "    {:<40}{:>11}",
                truncate(&d.name, 39),
                human(d.bytes)
            )?;
        }
        writeln!(
            out,
            "    (from the plan: zipped files uncompressed, ELF files as stripping plans them, bytecode at the size of pip's pycs)"
        )?;
        if b.savings.is_empty() {
            return writeln!(
                out,
                "  every size option is already on; --keep-package, --keep and --remove decide the rest"
            );
        }
        writeln!(
            out,
            "  what each option would save on this tree, each alone (estimated from a plan with it):"
        )?;
        for s in &b.savings {
            let figure = match s.bytes {
                Some(n) if n >= 0 => format!("saves {}", human(n as u64)),
                Some(n) => format!("adds {}", human(n.unsigned_abs())),
                None => "unknown".to_string(),
            };
            let how = match &s.error {
                Some(e) => format!("could not be estimated: {e}"),
                None => describe(&s.basis),
            };
            writeln!(out, "    {:<36}{figure:>15}", s.option)?;
            writeln!(out, "      {how}")?;
        }
        Ok(())
    }
}

/// How a saving was computed, in a phrase.
fn describe(b: &Basis) -> String {
    let mut parts = Vec::new();
    match b.zipped {
        Some(0) => return "no distribution can be zipped (a dry run with it says why)".into(),
        Some(n) => parts.push(format!("{n} distribution(s) zipped")),
        None => {}
    }
    if b.archive {
        parts.push("the zip sized by encoding it as it would be written".to_string());
    }
    if b.pycs_from_pip {
        parts.push("bytecode at the size of pip's pycs".to_string());
    }
    if b.sources_without_pyc > 0 {
        parts.push(format!(
            "{} source(s) without one counted as 0",
            b.sources_without_pyc
        ));
    }
    if b.elf {
        parts.push("ELF files at the size the strip engine plans (before its self-check)".into());
    }
    if parts.is_empty() {
        "the two plans' files; the bytecode both compile is the same".to_string()
    } else {
        parts.join("; ")
    }
}
