//! `slim --verify` end to end: probe the slim tree, restore the suspects, probe again.
//!
//! Why rounds: restoring one distribution can reveal the next failure behind it (a package that
//! lost a module *and* its data file fails on the first only), and a regression's suspects are a
//! best guess from its error message. So the loop goes on while each round restores something
//! new, at most `MAX_ROUNDS` times; what still fails after that is reported, not hidden.
//!
//! Each round decides what to give back here (`restore::decide`) and has the caller write it
//! (`PutBack`, which the command gives: `apply::unzip` and `apply::restore`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use super::restore::{decide, Restore};
use super::{probe, regressions, Options, Probe, Regression, Restored};
use crate::plan::Plan;

/// Probes of the slim tree at most (the first finds, the others check a repair).
pub const MAX_ROUNDS: usize = 3;

/// What `slim --verify` found, put back, and could not repair.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Repair {
    /// What broke before any repair.
    pub found: Vec<Regression>,
    /// What was put back, sorted by path.
    pub restored: Vec<Restored>,
    /// Distributions restored (normalized).
    pub restored_dists: BTreeSet<String>,
    /// What still fails after the last round (empty: repaired).
    pub remaining: Vec<Regression>,
    /// Probes of the slim tree that were run.
    pub rounds: usize,
    /// The last probe of the slim tree.
    pub last: Probe,
}

/// Writes what a round decided to give back into the tree, and returns what it put back. Given
/// by the caller, because apply is the only code that writes: `apply::unzip` for
/// `Restore::unzip` first, then `apply::restore` for the actions and ELF files.
pub type PutBack<'a> = dyn FnMut(&Restore) -> Result<Vec<Restored>> + 'a;

/// Probe `out` (the tree `plan` was applied to), compare with `original` (the input venv's
/// probe), restore the suspects' files from the input with `apply::restore` (not the
/// `--zip-pure` archive), and probe again. RECORD files of restored distributions are left as
/// the run wrote them: the caller rewrites them afterwards.
pub fn repair(plan: &Plan, out: &Path, original: &Probe, opts: &Options) -> Result<Repair> {
    repair_with(plan, out, original, opts, &mut |what| {
        crate::apply::restore(plan, out, &what.actions, &what.elf)
    })
}

/// `repair`, with the caller writing what each round decided (`put_back`).
pub fn repair_with(
    plan: &Plan,
    out: &Path,
    original: &Probe,
    opts: &Options,
    put_back: &mut PutBack,
) -> Result<Repair> {
    let mut last = probe(out, opts)?;
    let found = regressions(original, &last);
    let mut remaining = found.clone();
    let mut restored = Vec::new();
    let mut restored_dists = BTreeSet::new();
    let mut rounds = 1;
    while !remaining.is_empty() && rounds < MAX_ROUNDS {
        let want: BTreeSet<String> = remaining
            .iter()
            .flat_map(|r| r.suspects.iter().cloned())
            .filter(|d| !restored_dists.contains(d))
            .collect();
        if want.is_empty() {
            break; // nothing new to try
        }
        restored.extend(put_back(&decide(plan, &want))?);
        restored_dists.extend(want);
        last = probe(out, opts)?;
        remaining = regressions(original, &last);
        rounds += 1;
    }
    restored.sort_by(|a, b| a.path.cmp(&b.path));
    restored.dedup();
    Ok(Repair {
        found,
        restored,
        restored_dists,
        remaining,
        rounds,
        last,
    })
}
