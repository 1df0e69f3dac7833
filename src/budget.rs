//! `--budget SIZE`: what the tree would weigh with the size options it was not slimmed with.
//!
//! Built before anything is written (in place, the input is gone afterwards), from the run's own
//! plan and, for each option, an alternative `Plan::build` on the same inventory with only that
//! setting changed. The report compares the finished tree with the limit; over it, it shows the
//! largest distributions and these savings.
//!
//! A plan's `after` counts the files as they are before bytecode is compiled, and a zipped file
//! at its size on disk (a plan cannot know the archive's). So each plan's size is estimated the
//! same way, and a saving is the difference of two estimates:
//! - bytecode a plan compiles counts at the size of the pyc pip left for the same source in
//!   `__pycache__` (compile mode re-headers exactly that pyc when the source is unchanged); a
//!   source without one counts 0, and the number of those is reported;
//! - with `--zip-pure`, the zipped files count at the size of the archive they make:
//!   `archive::archive_size` deflates them (and, for each source, that pip pyc, as the archive
//!   holds one) exactly as the real archive is written, but nothing is written;
//! - `--elf unneeded` (from `keep`) counts each ELF file at the size `elf::predict` plans for it;
//!   the self-check of a real strip may still refuse a file.
//!
//! `--prune` (its safe level) is planned from the `--run` workloads' recording; without one its
//! line says so instead of a figure. A new option is one more push in `alternatives`: the
//! run's settings with it turned on, and the flags that say it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::archive::{self, Content, Member};
use crate::breakdown::{elf_savings, Breakdown, Pycs};
use crate::cli::{BytecodeMode, ElfMode};
use crate::inventory::Inventory;
use crate::plan::Plan;
use crate::rules::prune::Usage;
use crate::settings::{Settings, ZipSettings};

/// How many distributions the report lists.
const LARGEST: usize = 10;

/// The limit and what the report shows when the tree is over it.
#[derive(Debug, Serialize)]
pub struct Budget {
    /// `--budget`, in bytes.
    pub limit: u64,
    /// The distributions with the most bytes in the output, largest first.
    pub largest: Vec<Largest>,
    /// What each option the run did not use would save on this tree.
    pub savings: Vec<Saving>,
}

/// A distribution's bytes in the output, from the plan's `Breakdown` (`breakdown.rs`): its kept
/// files as they are in the input (each inode once, rewritten files at their new size, zipped
/// files uncompressed, ELF files at the size the engine plans), and the bytecode it will compile
/// at the size of pip's pycs (as the savings count it).
#[derive(Debug, Serialize)]
pub struct Largest {
    /// `name version`, or `(no distribution)` for files no RECORD lists.
    pub name: String,
    /// Its kept bytes.
    pub bytes: u64,
}

/// What adding `option` to this run would save: the difference between this run's estimated
/// size and the alternative plan's (negative: it would grow).
#[derive(Debug, Serialize)]
pub struct Saving {
    /// The flags to add, as typed.
    pub option: String,
    /// Bytes saved (None when the estimate failed: see `error`).
    pub bytes: Option<i64>,
    /// How the figure was computed.
    pub basis: Basis,
    /// Why there is no figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a saving is made of, beyond the difference of the two plans' files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Basis {
    /// Compiled bytecode counted at the size of pip's pycs.
    pub pycs_from_pip: bool,
    /// Sources with no pip pyc (counted as 0) whose bytecode is not in the same place in both
    /// plans (on disk in one, in the zip or nowhere in the other), so the figure misses it.
    pub sources_without_pyc: usize,
    /// The archive's size computed by encoding it.
    pub archive: bool,
    /// ELF sizes from the strip engine's plan.
    pub elf: bool,
    /// For `--zip-pure`: how many distributions its plan zips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipped: Option<usize>,
}

impl Budget {
    /// The largest distributions of `plan`, and the savings of the options `settings` lacks,
    /// each from an alternative plan of the same inventory.
    /// `usage`: what the `--run` workloads used, the recording `--prune` plans from.
    /// `breakdown`: the run's own, whose largest distributions the report lists.
    pub fn plan(
        limit: u64,
        plan: &Plan,
        settings: &Settings,
        usage: Option<&Usage>,
        breakdown: &Breakdown,
    ) -> Budget {
        let mine = Estimate::of(plan, false);
        let mut savings: Vec<Saving> = alternatives(settings, usage.is_some())
            .into_iter()
            .map(|(option, other)| {
                let elf = other.elf != settings.elf;
                let alt =
                    Plan::build_with(plan.venv.clone(), &other, same_inventory(&plan.inv), usage);
                let theirs = Estimate::of(&alt, elf);
                let mut saving = if elf {
                    saving(option, &Estimate::of(plan, true), &theirs)
                } else {
                    saving(option, &mine, &theirs)
                };
                if other.zip.enabled && !settings.zip.enabled {
                    saving.basis.zipped = Some(alt.zip.as_ref().map_or(0, |z| z.dists.len()));
                }
                saving
            })
            .collect();
        if settings.prune.is_none() && usage.is_none() {
            savings.push(Saving {
                option: "--prune".to_string(),
                bytes: None,
                basis: Basis::default(),
                error: Some(
                    "plans from a recording of your app: add --run CMD to see this figure"
                        .to_string(),
                ),
            });
        }
        Budget {
            limit,
            largest: breakdown.dists[..LARGEST.min(breakdown.dists.len())]
                .iter()
                .map(|d| Largest {
                    name: d.label(),
                    bytes: d.bytes,
                })
                .collect(),
            savings,
        }
    }
}

/// The options to try: each the run's settings with one thing changed, and the flags that say it.
fn alternatives(s: &Settings, recorded: bool) -> Vec<(String, Settings)> {
    let mut all = Vec::new();
    if s.prune.is_none() && recorded {
        let mut prune = s.clone();
        prune.prune = Some(crate::cli::PruneLevel::Safe);
        all.push(("--prune".to_string(), prune));
    }
    if !s.zip.enabled {
        let mut zip = s.clone();
        zip.zip = ZipSettings {
            enabled: true,
            ..ZipSettings::default()
        };
        let mut option = "--zip-pure".to_string();
        // --zip-pure needs bytecode the interpreter compiles (settings refuses it otherwise).
        if matches!(s.bytecode, BytecodeMode::Keep | BytecodeMode::Strip) {
            zip.bytecode = BytecodeMode::Compile;
            option.push_str(" --bytecode compile");
        }
        all.push((option, zip));
    }
    if s.bytecode != BytecodeMode::Sourceless {
        let mut sourceless = s.clone();
        sourceless.bytecode = BytecodeMode::Sourceless;
        all.push(("--bytecode sourceless".to_string(), sourceless));
    }
    if s.elf == ElfMode::Keep {
        let mut elf = s.clone();
        elf.elf = ElfMode::Unneeded;
        all.push(("--elf unneeded".to_string(), elf));
    }
    all
}

/// The walked tree again, for another plan (read errors are the run's to report, not a plan's).
fn same_inventory(inv: &Inventory) -> Inventory {
    Inventory {
        entries: inv.entries.clone(),
        errors: Vec::new(),
    }
}

fn saving(option: String, mine: &Result<Estimate>, theirs: &Result<Estimate>) -> Saving {
    match (mine, theirs) {
        (Ok(a), Ok(b)) => Saving {
            option,
            bytes: Some(a.bytes - b.bytes),
            basis: Basis {
                pycs_from_pip: a.pycs != b.pycs,
                sources_without_pyc: a
                    .without_pyc
                    .symmetric_difference(&b.without_pyc)
                    .map(|(source, _)| source)
                    .collect::<BTreeSet<_>>()
                    .len(),
                archive: a.archive != b.archive,
                elf: a.elf || b.elf,
                zipped: None,
            },
            error: None,
        },
        (Err(e), _) | (_, Err(e)) => Saving {
            option,
            bytes: None,
            basis: Basis::default(),
            error: Some(format!("{e:#}")),
        },
    }
}

/// A plan's estimated size, and the parts that are not the plan's own count.
#[derive(Debug)]
struct Estimate {
    bytes: i64,
    /// Bytes of the bytecode the plan compiles onto disk.
    pycs: u64,
    /// The archive's size minus the zipped files' (None: nothing zipped).
    archive: Option<i64>,
    /// Sources compiled (false) or zipped (true) with no pip pyc to measure.
    without_pyc: BTreeSet<(PathBuf, bool)>,
    /// ELF sizes were planned.
    elf: bool,
}

impl Estimate {
    /// `plan.after`, plus its compiled bytecode, with the archive in place of its files, and
    /// (with `elf`) the ELF files at their planned stripped size.
    fn of(plan: &Plan, elf: bool) -> Result<Estimate> {
        let pycs = Pycs::new(plan);
        let mut without_pyc = BTreeSet::new();
        let mut compiled = 0;
        for source in &plan.compile {
            match pycs.size(source) {
                Some(n) => compiled += n,
                None => {
                    without_pyc.insert((source.clone(), false));
                }
            }
        }
        let archive = match plan.zip.as_ref().filter(|z| !z.members.is_empty()) {
            Some(z) => Some(archive_delta(plan, z, &pycs, &mut without_pyc)?),
            None => None,
        };
        let elf_saved = if elf { elf_saved(plan)? } else { 0 };
        Ok(Estimate {
            bytes: plan.after.bytes as i64 + compiled as i64 + archive.unwrap_or(0)
                - elf_saved as i64,
            pycs: compiled,
            archive,
            without_pyc,
            elf,
        })
    }
}

/// The archive's size (its files, and a pip pyc for each source), and the `.pth` and
/// `top_level.txt` files it brings, minus the zipped files' bytes, which `plan.after` still
/// counts.
fn archive_delta(
    plan: &Plan,
    z: &archive::ZipPlan,
    pycs: &Pycs,
    without_pyc: &mut BTreeSet<(PathBuf, bool)>,
) -> Result<i64> {
    let (root, sp) = (&plan.venv.root, &plan.venv.site_packages);
    let unique = plan.inv.unique_files();
    let mut members = Vec::new();
    let mut on_disk = 0u64;
    for &i in &z.members {
        let e = &plan.inv.entries[i];
        if unique[i] {
            on_disk += e.size;
        }
        let Some(inner) = archive::inner_name(sp, &e.path) else {
            continue;
        };
        let file = |name: String, rel: &Path| Member {
            name,
            content: Content::File(root.join(rel)),
        };
        if inner.ends_with(".py") {
            match pycs.path(&e.path) {
                Some(pyc) => members.push(file(archive::pyc_name(&inner), &pyc)),
                None => {
                    without_pyc.insert((e.path.clone(), true));
                }
            }
            if z.sourceless {
                continue;
            }
        }
        members.push(file(inner, &e.path));
    }
    let archive = archive::archive_size(&root.join(&z.archive), members)?;
    let added = archive::ARCHIVE.len() as u64
        + 1
        + z.top_level.iter().map(|t| t.text.len() as u64).sum::<u64>();
    Ok((archive + added) as i64 - on_disk as i64)
}

/// Bytes the ELF engine plans to take out of the plan's ELF files.
fn elf_saved(plan: &Plan) -> Result<u64> {
    elf_savings(plan).into_iter().map(|(_, saved)| saved).sum()
}
