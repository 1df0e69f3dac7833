//! `slim --verify`: decide what to give back to the distributions that broke. Deciding only:
//! apply writes it (`apply::unzip`, then `apply::restore`), called by the command.
//!
//! The plan is data, so the repair is exact: every action of a broken distribution that removed,
//! moved or rewrote a file is undone, every ELF file of it the engine stripped is put back, and
//! its files in the `--zip-pure` archive are taken out. Restoring per distribution rather than per
//! file is deliberate: which file a failing import needed is unknowable from outside (an
//! `open(__file__/..)`, a computed import), and a distribution is the unit the report and
//! `--keep-package` speak in. RECORD rewrites are not undone: the caller rewrites RECORD once the
//! files are back.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use crate::apply::Restored;
use crate::plan::{ActionKind, Plan};
use crate::rules::Rewrite;

/// What to give back to some distributions, as indices into the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restore {
    /// Distributions to take out of the `--zip-pure` archive (indices into `plan.dists`).
    pub unzip: Vec<usize>,
    /// Actions to undo (indices into `plan.actions`, in plan order): removals, moves and
    /// METADATA rewrites.
    pub actions: Vec<usize>,
    /// Files the ELF engine stripped, to put back (inventory indices, as in `plan.elf`).
    pub elf: Vec<usize>,
}

/// What the plan took from the distributions `dists` (normalized names).
pub fn decide(plan: &Plan, dists: &BTreeSet<String>) -> Restore {
    let wanted: Vec<bool> = plan
        .dists
        .iter()
        .map(|d| dists.contains(&d.normalized))
        .collect();
    let is_wanted = |d: Option<usize>| d.is_some_and(|d| wanted[d]);
    Restore {
        unzip: plan
            .zip
            .iter()
            .flat_map(|z| &z.dists)
            .map(|z| z.dist)
            .filter(|&d| wanted[d])
            .collect(),
        actions: (0..plan.actions.len())
            .filter(|&a| is_wanted(plan.actions[a].dist))
            .filter(|&a| {
                !matches!(
                    plan.actions[a].kind,
                    ActionKind::Rewrite(Rewrite::Record, _)
                )
            })
            .collect(),
        elf: plan
            .elf
            .iter()
            .copied()
            .filter(|&i| is_wanted(plan.own.owner(&plan.inv.entries[i].path)))
            .collect(),
    }
}

/// Decide and put back the actions and ELF files of `dists` in `out` (not the archive: the
/// command does that, with `apply::unzip`). For library callers and tests; `slim --verify`
/// writes through `repair_with`'s caller.
pub fn restore(plan: &Plan, out: &Path, dists: &BTreeSet<String>) -> Result<Vec<Restored>> {
    let what = decide(plan, dists);
    crate::apply::restore(plan, out, &what.actions, &what.elf)
}
