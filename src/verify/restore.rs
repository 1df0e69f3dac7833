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
    let unzip = plan
        .zip
        .iter()
        .flat_map(|z| &z.dists)
        .map(|z| z.dist)
        .filter(|&d| wanted[d])
        .collect();
    taken(plan, unzip, |dist, _| dist.is_some_and(|d| wanted[d]))
}

/// What the plan took at or under the paths `paths` (relative to the root; a directory means
/// everything under it): the smallest restore, for a regression or a workload that names the
/// file or module it missed. A path that went into the `--zip-pure` archive takes its whole
/// distribution out of the archive (the archive is undone per distribution).
pub fn decide_paths(plan: &Plan, paths: &[std::path::PathBuf]) -> Restore {
    let under = |p: &Path| paths.iter().any(|w| p.starts_with(w));
    let mut unzip: Vec<usize> = plan
        .zip
        .iter()
        .flat_map(|z| &z.members)
        .map(|&i| &plan.inv.entries[i].path)
        .filter(|p| under(p))
        .filter_map(|p| plan.own.owner(p))
        .collect();
    unzip.sort_unstable();
    unzip.dedup();
    taken(plan, unzip, |_, path| under(path))
}

/// The plan's actions (but RECORD rewrites: the caller rewrites RECORD once files are back)
/// and stripped ELF files whose (distribution, path) `wanted` accepts, with `unzip`.
fn taken(plan: &Plan, unzip: Vec<usize>, wanted: impl Fn(Option<usize>, &Path) -> bool) -> Restore {
    Restore {
        unzip,
        actions: (0..plan.actions.len())
            .filter(|&a| {
                let action = &plan.actions[a];
                wanted(action.dist, &plan.inv.entries[action.entry].path)
                    && !matches!(action.kind, ActionKind::Rewrite(Rewrite::Record, _))
            })
            .collect(),
        elf: plan
            .elf
            .iter()
            .copied()
            .filter(|&i| {
                let path = &plan.inv.entries[i].path;
                wanted(plan.own.owner(path), path)
            })
            .collect(),
    }
}

impl Restore {
    /// Whether there is nothing to give back.
    pub fn is_empty(&self) -> bool {
        self.unzip.is_empty() && self.actions.is_empty() && self.elf.is_empty()
    }

    /// Add `other` to this one.
    pub fn extend(&mut self, other: Restore) {
        self.unzip.extend(other.unzip);
        self.actions.extend(other.actions);
        self.elf.extend(other.elf);
    }

    /// Whether a restored `path` came from this restore (one of its actions or ELF files, or a
    /// member of a distribution it takes out of the archive).
    pub fn covers(&self, plan: &Plan, path: &Path) -> bool {
        self.actions
            .iter()
            .any(|&a| plan.inv.entries[plan.actions[a].entry].path == path)
            || self.elf.iter().any(|&i| plan.inv.entries[i].path == path)
            || plan
                .own
                .owner(path)
                .is_some_and(|d| self.unzip.contains(&d))
    }

    /// What of this `done` has not given back yet.
    pub fn without(mut self, done: &Restore) -> Restore {
        self.unzip.retain(|d| !done.unzip.contains(d));
        self.actions.retain(|a| !done.actions.contains(a));
        self.elf.retain(|i| !done.elf.contains(i));
        self
    }

    /// `without(done)`, and add the rest to `done`.
    pub fn minus(self, done: &mut Restore) -> Restore {
        let new = self.without(done);
        done.extend(new.clone());
        new
    }
}

/// Decide and put back the actions and ELF files of `dists` in `out` (not the archive: the
/// command does that, with `apply::unzip`). For library callers and tests; `slim --verify`
/// writes through `repair_with`'s caller.
pub fn restore(plan: &Plan, out: &Path, dists: &BTreeSet<String>) -> Result<Vec<Restored>> {
    let what = decide(plan, dists);
    crate::apply::restore(plan, out, &what.actions, &what.elf)
}
