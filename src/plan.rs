//! What will happen, as data. `--dry-run` renders this; apply executes exactly this.
//!
//! Built from the inventory and the rule verdicts: every removal, rewrite and move is an
//! `Action` naming its path, rule and distribution, sorted by path so the same venv always gives
//! the same plan (and the same JSON). The passes, in order, each given what it needs (the
//! classification context `Ctx` and the verdicts so far), never a half-built `Plan`: the import
//! guard (rules/guard.rs); dist-info coherence (never a dist-info directory without METADATA)
//! and the licence checks; with `--zip-pure`, the choice of what goes into the archive
//! (archive/select.rs); bytecode and ELF selection; the actions; and last the hand-off
//! (handoff/mod.rs), which needs each entry's fate. Reading METADATA to compute its header, the
//! kept files the zip selection scans, and the text files the hand-off may relocate are the
//! only I/O.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::archive::ZipPlan;
use crate::cli::{BytecodeMode, DistInfoMode, PruneLevel};
use crate::dists::{metadata_header, Dist, Ownership};
use crate::handoff::EntryFate;
use crate::inventory::{Inventory, Kind};
use crate::rules::prune::{self, Cut, Usage};
use crate::rules::{self, distinfo, guard::Rescue, Ctx, Rewrite, Rule, Verdict};
use crate::settings::Settings;
use crate::venv::Venv;

/// What happens to one path.
#[derive(Debug, Clone)]
pub enum ActionKind {
    /// Not copied (out of place) or deleted (in place).
    Remove,
    /// Remove once its bytecode has been written (`--bytecode sourceless`).
    RemoveAfterCompile,
    /// Replace the content: METADATA gets its header block (carried here), RECORD is computed
    /// after everything else.
    Rewrite(Rewrite, Option<Vec<u8>>),
    /// Move to this path (relative to the root).
    Move(PathBuf),
}

/// One path's fate, with the rule that decided it: what `--dry-run` lists, what apply executes.
#[derive(Debug, Clone)]
pub struct Action {
    /// Index into the inventory.
    pub entry: usize,
    /// What happens to it.
    pub kind: ActionKind,
    /// The rule that decided it (its id, reason and evidence are reported).
    pub rule: &'static Rule,
    /// Bytes this saves (a file's size once per inode; a rewrite's shrinkage).
    pub bytes: u64,
    /// The distribution that owns the path (index into `Plan::dists`), if any.
    pub dist: Option<usize>,
}

/// Size of a tree: bytes (each inode once) and files.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Totals {
    /// Apparent bytes of regular files, each (dev, inode) once.
    pub bytes: u64,
    /// Regular files.
    pub files: u64,
}

/// Everything a run will do, decided before anything is written: pure data, sorted, what a dry
/// run prints and a real run executes.
#[derive(Debug)]
pub struct Plan {
    /// The venv's layout.
    pub venv: Venv,
    /// Every path of the input, walked once.
    pub inv: Inventory,
    /// The installed distributions (from `*.dist-info`).
    pub dists: Vec<Dist>,
    /// Which distribution owns which path.
    pub own: Ownership,
    /// What happens to each path that does not stay as it is, sorted by path.
    pub actions: Vec<Action>,
    /// For each inventory entry, its action (index into `actions`), if any.
    pub fate: Vec<Option<usize>>,
    /// Paths a rule would have removed and the import guard kept, with why.
    pub rescues: Vec<Rescue>,
    /// `--prune`'s level, when it ran (with a recording of the workloads).
    pub prune: Option<PruneLevel>,
    /// What `--prune` cut: directories and whole distributions, sorted by path.
    pub cuts: Vec<Cut>,
    /// Sources to compile (relative to the root).
    pub compile: Vec<PathBuf>,
    /// `--bytecode`: what happens to pycs.
    pub bytecode: BytecodeMode,
    /// ELF files to strip (inventory indices, sorted), and with which engine mode.
    pub elf: Vec<usize>,
    /// The ELF engine's mode; None for `--elf keep`.
    pub elf_mode: Option<crate::elf::Mode>,
    /// ELF files left alone on purpose, and why (integrity-checked).
    pub elf_skipped: Vec<(usize, String)>,
    /// The input's size.
    pub before: Totals,
    /// What is left before any bytecode is compiled.
    pub after: Totals,
    /// `--zip-pure`: what goes into the archive and what stays on disk.
    pub zip: Option<crate::archive::ZipPlan>,
    /// For each inventory entry, whether it moves into the archive.
    pub zipped: Vec<bool>,
    /// Licences that would have moved (`--dist-info strip`) onto a path the venv already
    /// holds, kept in their dist-info instead: (licence, the taken destination).
    pub licences_kept: Vec<(PathBuf, PathBuf)>,
    /// Relocation, licences and SBOM for the final image.
    pub handoff: crate::handoff::HandoffPlan,
}

impl Plan {
    /// Run the planning passes in order (classify, guard, bytecode, ELF, zip, actions, hand-off)
    /// over the walked venv.
    pub fn build(venv: Venv, settings: &Settings, inv: Inventory) -> Plan {
        Plan::build_with(venv, settings, inv, None)
    }

    /// `build`, with what the `--run` workloads used on the input: with `--prune`, what they
    /// did not use is cut after the import guard (rules/prune.rs).
    pub fn build_with(
        venv: Venv,
        settings: &Settings,
        inv: Inventory,
        usage: Option<&Usage>,
    ) -> Plan {
        let dists = crate::dists::discover(&venv.root, &venv.site_packages, &inv);
        let own = Ownership::new(&dists, &venv.site_packages);
        let elf_mode = settings.elf.engine();
        let mut zipped = vec![false; inv.entries.len()];
        let (
            (rescues, cuts),
            compile,
            (elf, elf_skipped),
            zip,
            licences_kept,
            (actions, fate),
            handoff,
        ) = {
            let ctx = Ctx::new(&venv, settings, &inv, &dists, &own);
            let mut verdicts = rules::classify(&ctx);
            let rescues = rules::guard::run(&ctx, &mut verdicts);
            let cuts = match (settings.prune, usage) {
                (Some(level), Some(usage)) => prune::run(&ctx, &mut verdicts, usage, level),
                _ => Vec::new(),
            };
            dist_info_coherence(&ctx, &mut verdicts);
            licence_links(&ctx, &mut verdicts);
            let licences_kept = licence_destinations_taken(&ctx, &mut verdicts);
            let zip = settings
                .zip
                .enabled
                .then(|| crate::archive::select(&ctx, &verdicts));
            for &i in zip.iter().flat_map(|z| &z.members) {
                zipped[i] = true;
            }
            let compile = sources_to_compile(&ctx, &verdicts, &zipped);
            let elf = if elf_mode.is_some() {
                elf_files(&ctx, &verdicts)
            } else {
                Default::default()
            };
            let (actions, fate) = make_actions(&ctx, verdicts, &compile, zip.as_ref());
            let fates = entry_fates(&actions, &fate, &zipped);
            let handoff = crate::handoff::plan(&ctx, &fates, &licences_kept);
            (
                (rescues, cuts),
                compile,
                elf,
                zip,
                licences_kept,
                (actions, fate),
                handoff,
            )
        };
        let mut plan = Plan {
            venv,
            inv,
            dists,
            own,
            actions,
            fate,
            rescues,
            prune: settings.prune.filter(|_| usage.is_some()),
            cuts,
            compile,
            bytecode: settings.bytecode,
            elf,
            elf_mode,
            elf_skipped,
            before: Totals::default(),
            after: Totals::default(),
            zip,
            zipped,
            licences_kept,
            handoff,
        };
        plan.count_bytes();
        plan
    }

    /// Bytes each action saves, and the totals. A hardlinked inode is counted once, and its
    /// bytes are saved only when no path of it stays (then by the first removed path).
    fn count_bytes(&mut self) {
        let unique = self.inv.unique_files();
        let entries = &self.inv.entries;
        let mut kept_inodes = HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            if e.kind == Kind::File {
                self.before.files += 1;
                self.before.bytes += if unique[i] { e.size } else { 0 };
                let leaves = self.fate[i].is_some_and(|a| {
                    matches!(
                        self.actions[a].kind,
                        ActionKind::Remove | ActionKind::RemoveAfterCompile | ActionKind::Move(_)
                    )
                });
                if !leaves {
                    kept_inodes.insert((e.dev, e.ino));
                }
            }
        }
        let mut credited = HashSet::new();
        let mut saved = Totals::default();
        let record_sizes = self.record_estimates();
        for a in self.actions.iter_mut() {
            let e = &entries[a.entry];
            a.bytes = match &a.kind {
                ActionKind::Remove | ActionKind::RemoveAfterCompile => {
                    saved.files += u64::from(e.kind == Kind::File);
                    let inode = (e.dev, e.ino);
                    let frees = e.kind == Kind::File
                        && !kept_inodes.contains(&inode)
                        && credited.insert(inode);
                    if frees {
                        e.size
                    } else {
                        0
                    }
                }
                ActionKind::Move(_) => 0,
                ActionKind::Rewrite(Rewrite::MetadataHeader, Some(header)) => {
                    e.size.saturating_sub(header.len() as u64)
                }
                ActionKind::Rewrite(..) => record_sizes
                    .get(&a.entry)
                    .map_or(0, |new| e.size.saturating_sub(*new)),
            };
            saved.bytes += a.bytes;
        }
        self.after = Totals {
            bytes: self.before.bytes - saved.bytes,
            files: self.before.files - saved.files,
        };
        // Zipped files leave the disk for the archive (whose size a plan cannot know: their
        // bytes stay counted) and its .pth; new top_level.txt files come.
        if let Some(z) = self.zip.as_ref().filter(|z| !z.members.is_empty()) {
            self.after.files = self.after.files + 2 + z.top_level.len() as u64
                - (z.members.len() as u64).min(self.after.files);
        }
    }

    /// Size of each rewritten RECORD before any bytecode is compiled (what a dry run can know).
    /// Only the METADATA rewrites count here, not the relocated scripts (`rewritten` has both):
    /// this estimate has always been made as if the hand-off changed nothing, and the dry-run
    /// JSON keeps its bytes.
    fn record_estimates(&self) -> HashMap<usize, u64> {
        let gone = self.gone();
        let rewritten = self.rewritten_metadata().collect();
        self.actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Rewrite(Rewrite::Record, _)))
            .filter_map(|a| {
                let d = a.dist?;
                let changes = crate::record::Changes {
                    gone: &gone,
                    rewritten: &rewritten,
                    compiled: &[],
                };
                Some((
                    a.entry,
                    crate::record::rewrite(&self.dists[d], &self.venv.site_packages, &changes).len()
                        as u64,
                ))
            })
            .collect()
    }

    /// Paths removed, moved away or zipped by the plan.
    pub fn gone(&self) -> HashSet<&Path> {
        let zipped = self.zip.iter().flat_map(|z| &z.members);
        self.actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Remove | ActionKind::Move(_)))
            .map(|a| self.path(a))
            .chain(zipped.map(|&i| self.inv.entries[i].path.as_path()))
            .collect()
    }

    /// Hash and size of rewritten METADATA files and relocated scripts, for RECORD.
    pub fn rewritten(&self) -> HashMap<&Path, (String, u64)> {
        let relocated = self.handoff.texts.iter().map(|t| {
            let h = (crate::record::hash(&t.new), t.new.len() as u64);
            (t.path.as_path(), h)
        });
        self.rewritten_metadata().chain(relocated).collect()
    }

    /// Hash and size of rewritten METADATA files.
    fn rewritten_metadata(&self) -> impl Iterator<Item = (&Path, (String, u64))> {
        self.actions.iter().filter_map(|a| match &a.kind {
            ActionKind::Rewrite(Rewrite::MetadataHeader, Some(bytes)) => Some((
                self.path(a),
                (crate::record::hash(bytes), bytes.len() as u64),
            )),
            _ => None,
        })
    }

    /// The path an action applies to (relative to the root).
    pub fn path(&self, a: &Action) -> &Path {
        &self.inv.entries[a.entry].path
    }

    /// Whether entry `i` is not on disk at its place after the run: removed, moved, or zipped.
    pub fn is_removed(&self, i: usize) -> bool {
        self.zipped.get(i).copied().unwrap_or(false)
            || self.fate[i].is_some_and(|a| {
                matches!(
                    self.actions[a].kind,
                    ActionKind::Remove | ActionKind::Move(_)
                )
            })
    }

    /// Directories that stay: those with something kept below them, those that were empty,
    /// and site-packages with its parents even when nothing is left in it (a venv of only pip
    /// and setuptools): without it the tree is no venv, for Python's `site` nor for venvslim,
    /// and a `lib64 -> lib` link dangles.
    pub fn kept_dirs(&self) -> HashSet<PathBuf> {
        let mut has_child: HashSet<&Path> = HashSet::new();
        let mut kept: HashSet<PathBuf> = self
            .venv
            .site_packages
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .collect();
        for (i, e) in self.inv.entries.iter().enumerate() {
            if let Some(p) = e.path.parent() {
                has_child.insert(p);
            }
            if e.kind != Kind::Dir && !self.is_removed(i) {
                for anc in e.path.ancestors().skip(1) {
                    if anc.as_os_str().is_empty() || !kept.insert(anc.to_path_buf()) {
                        break;
                    }
                }
            }
        }
        for e in self.inv.entries.iter().filter(|e| e.kind == Kind::Dir) {
            if !has_child.contains(e.path.as_path()) {
                kept.insert(e.path.clone());
            }
        }
        kept
    }
}

/// The actions, from the final verdicts: one per entry at most, in entry (path) order; and for
/// each entry, its action (index into the actions), if any. Bytes are counted later, on the plan.
fn make_actions(
    ctx: &Ctx,
    verdicts: Vec<Verdict>,
    compile: &[PathBuf],
    zip: Option<&ZipPlan>,
) -> (Vec<Action>, Vec<Option<usize>>) {
    let sourceless: HashSet<&PathBuf> = if ctx.settings.bytecode == BytecodeMode::Sourceless {
        compile.iter().collect()
    } else {
        HashSet::new()
    };
    let record_of_zipped = |dist: Option<usize>, path: &Path| match (dist, zip) {
        (Some(d), Some(z)) => z.is_zipped(d) && path == ctx.dists[d].dir.join("RECORD"),
        _ => false,
    };
    let mut actions = Vec::new();
    let mut fate = vec![None; ctx.inv.entries.len()];
    for (i, (e, v)) in ctx.inv.entries.iter().zip(verdicts).enumerate() {
        let dist = ctx.own.owner(&e.path);
        let (kind, rule) = match v {
            Verdict::Remove(rule) => (ActionKind::Remove, rule),
            Verdict::Move(rule, to) => (ActionKind::Move(to), rule),
            Verdict::Rewrite(rule, Rewrite::MetadataHeader) => {
                let (header, more) = metadata_header(
                    &crate::safepath::read_nofollow(&ctx.venv.root.join(&e.path))
                        .unwrap_or_default(),
                );
                if !more {
                    continue;
                }
                (
                    ActionKind::Rewrite(Rewrite::MetadataHeader, Some(header)),
                    rule,
                )
            }
            Verdict::Rewrite(rule, Rewrite::Record) => {
                (ActionKind::Rewrite(Rewrite::Record, None), rule)
            }
            // --keep'd sources (Protected) stay even in sourceless mode.
            Verdict::Keep if sourceless.contains(&e.path) => {
                (ActionKind::RemoveAfterCompile, &rules::bytecode::SOURCELESS)
            }
            // RECORD must not list zipped files, even with --dist-info keep.
            Verdict::Keep if record_of_zipped(dist, &e.path) => (
                ActionKind::Rewrite(Rewrite::Record, None),
                &crate::archive::ZIPPED,
            ),
            Verdict::Keep | Verdict::Protected => continue,
        };
        fate[i] = Some(actions.len());
        actions.push(Action {
            entry: i,
            kind,
            rule,
            bytes: 0,
            dist,
        });
    }
    (actions, fate)
}

/// Each entry's fate as the hand-off pass needs it: the rule of its action, and whether it
/// leaves its place (removed, moved away or zipped, as `Plan::is_removed` says).
fn entry_fates(actions: &[Action], fate: &[Option<usize>], zipped: &[bool]) -> Vec<EntryFate> {
    fate.iter()
        .zip(zipped)
        .map(|(a, &z)| {
            let action = a.map(|a| &actions[a]);
            EntryFate {
                rule: action.map(|a| a.rule),
                gone: z
                    || action.is_some_and(|a| {
                        matches!(a.kind, ActionKind::Remove | ActionKind::Move(_))
                    }),
            }
        })
        .collect()
}

/// A dist-info directory whose METADATA goes must go whole: version() returns None for a
/// directory without METADATA. Its licence files move to licenses/<dist>-<version>/.
fn dist_info_coherence(ctx: &Ctx, verdicts: &mut [Verdict]) {
    if ctx.settings.dist_info == DistInfoMode::Strip {
        return;
    }
    let entries = &ctx.inv.entries;
    let mut doomed: HashMap<PathBuf, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if e.name() == "METADATA" && !verdicts[i].is_kept() {
            if let (Some(dir), Some(owner)) = (e.path.parent(), ctx.own.owner(&e.path)) {
                doomed.insert(dir.to_path_buf(), owner);
            }
        }
    }
    if doomed.is_empty() {
        return;
    }
    for (i, e) in entries.iter().enumerate() {
        if e.kind == Kind::Dir || !verdicts[i].is_kept() {
            continue;
        }
        let Some((dir, owner)) = e
            .path
            .ancestors()
            .skip(1)
            .find_map(|a| doomed.get(a).map(|o| (a, *o)))
        else {
            continue;
        };
        let rest = e.path.strip_prefix(dir).unwrap_or(&e.path);
        verdicts[i] = if distinfo::is_license_path(rest) {
            match distinfo::license_destination(ctx.dists, owner, rest) {
                Ok(to) => Verdict::Move(&distinfo::WHOLE_DIR, to),
                Err(_) => Verdict::Keep,
            }
        } else {
            Verdict::Remove(&distinfo::WHOLE_DIR)
        };
    }
}

/// Kept `.py` files in site-packages, for `compile` and `sourceless`; distributions protected
/// by --keep-package keep their own bytecode.
/// Zipped sources get their bytecode inside the archive instead.
fn sources_to_compile(ctx: &Ctx, verdicts: &[Verdict], zipped: &[bool]) -> Vec<PathBuf> {
    if !matches!(
        ctx.bytecode(),
        BytecodeMode::Compile | BytecodeMode::Sourceless
    ) {
        return Vec::new();
    }
    let sp = &ctx.venv.site_packages;
    ctx.inv
        .entries
        .iter()
        .zip(verdicts)
        .zip(zipped)
        .filter(|(_, z)| !**z)
        .map(|(ev, _)| ev)
        .filter(|(e, v)| e.kind == Kind::File && v.is_kept() && e.name().ends_with(".py"))
        .filter(|(e, _)| {
            e.path
                .strip_prefix(sp)
                .is_ok_and(|rel| distinfo::split(rel).is_none())
        })
        .filter(|(e, _)| {
            ctx.own
                .owner(&e.path)
                .is_none_or(|o| !ctx.kept_dists.contains(&o))
        })
        .map(|(e, _)| e.path.clone())
        .collect()
}

/// Kept files that are ELF shared objects or executables, by content (a `.parquet` file whose
/// name holds `.so` is not one; a vendored `libfoo.so.1.2` in `*.libs/` is). Files a FIPS module
/// checks against a `.hmac`/`.chk` beside them are left alone.
fn elf_files(ctx: &Ctx, verdicts: &[Verdict]) -> (Vec<usize>, Vec<(usize, String)>) {
    use rayon::prelude::*;
    const TEXT: &[&str] = &[
        ".py", ".pyc", ".pyi", ".txt", ".json", ".html", ".js", ".css", ".md", ".rst", ".mo",
        ".png", ".svg",
    ];
    let entries = &ctx.inv.entries;
    let found: Vec<usize> = (0..entries.len())
        .into_par_iter()
        .filter(|&i| {
            let e = &entries[i];
            e.kind == Kind::File
                && matches!(verdicts[i], Verdict::Keep)
                && e.size >= 64
                && !TEXT.iter().any(|t| e.name().ends_with(t))
                && crate::elf::is_elf(&ctx.venv.root.join(&e.path))
        })
        .collect();
    let mut skipped = Vec::new();
    let mut strip = Vec::new();
    for i in found {
        let path = &entries[i].path;
        let name = entries[i].name();
        let sig = crate::elf::integrity_names(name)
            .into_iter()
            .find(|n| ctx.inv.find(&path.with_file_name(n)).is_some());
        match sig {
            Some(n) => skipped.push((i, crate::elf::integrity_refusal(n))),
            None => strip.push(i),
        }
    }
    (strip, skipped)
}

/// A licence that moves and is a symlink moves as a link to the same file, so only when that
/// file is in the tree (resolved lexically from the link's directory). A link out of the tree
/// (to a builder secret, say) is never followed: it goes with its dist-info, reported by its rule.
fn licence_links(ctx: &Ctx, verdicts: &mut [Verdict]) {
    for (i, e) in ctx.inv.entries.iter().enumerate() {
        if e.kind != Kind::Symlink || !matches!(verdicts[i], Verdict::Move(..)) {
            continue;
        }
        let inside = fs::read_link(ctx.venv.root.join(&e.path))
            .ok()
            .and_then(|t| crate::safepath::link_in_tree(&e.path, &t));
        if inside.is_none() {
            verdicts[i] = Verdict::Remove(&distinfo::LINK_OUTSIDE);
        }
    }
}

/// A licence never overwrites anything: one whose destination, or a parent of it, is already
/// in the venv as something other than a directory (a file, a link) stays in its dist-info.
/// Returns (licence, destination) for the report.
fn licence_destinations_taken(ctx: &Ctx, verdicts: &mut [Verdict]) -> Vec<(PathBuf, PathBuf)> {
    let mut kept = Vec::new();
    for (i, e) in ctx.inv.entries.iter().enumerate() {
        let Verdict::Move(_, to) = &verdicts[i] else {
            continue;
        };
        let taken = ctx.inv.find(to).is_some()
            || to
                .ancestors()
                .skip(1)
                .any(|a| ctx.inv.find(a).is_some_and(|x| x.kind != Kind::Dir));
        if taken {
            kept.push((e.path.clone(), to.clone()));
            verdicts[i] = Verdict::Keep;
        }
    }
    kept
}
