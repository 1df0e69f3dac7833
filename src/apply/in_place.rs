//! In place, in a way that converges: a kill at any point followed by a rerun ends in the
//! tree one uninterrupted run gives, and loses no module (docs/safety.md, "In place converges
//! after a kill"). Three steps:
//!
//! 1. Prepare. Everything new (stripped ELF files, relocated scripts, bytecode, shortened
//!    METADATA, the `--zip-pure` archive and its `.pth`, `top_level.txt`, RECORD, the SBOM) is
//!    written under `.venvslim-staging/` at the venv root, computed from the untouched tree:
//!    the tree itself does not change. A kill here leaves it as it was, and the rerun deletes
//!    the staging directory and starts again.
//! 2. The journal. The steps that remain are pure bookkeeping on the tree: rename each staged
//!    file over its path, move licences, remove files, remove dist-info directories whole,
//!    remove emptied directories, copy licences out. They are written to `.venvslim-journal`
//!    (journal.rs) once everything staged is on disk.
//! 3. Finish. The steps run, each idempotent; then the staging directory goes, the last pass
//!    (modes, mtimes, dedupe) runs, and the journal is removed last. A rerun that finds the
//!    journal runs this step again instead of planning from a half-changed tree (commit.rs).
//!
//! So the archive is written once, from the whole untouched tree, before any member is
//! removed, and never rebuilt from disk; a dist-info directory the plan removes goes in one
//! rename (after every other file of its distribution), never leaving an empty one that
//! importlib.metadata would list as a distribution named None.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::commit::finish;
use super::journal::{self, Journal, Op, JOURNAL, SBOM, STAGING, TREE};
use super::post::{compile, rewrite_records};
use super::{set_meta, take, write_new, Failure, HandoffOutcome, Outcome, Progress, Writer};
use crate::bytecode::Interpreter;
use crate::fault::point;
use crate::handoff::Options;
use crate::inventory::Kind;
use crate::plan::{ActionKind, Plan};
use crate::rules::Rewrite;

/// What a rerun did when it found the journal of an interrupted run.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Steps in the journal (each run again; those already done were no-ops).
    pub steps: usize,
    /// Failures of the interrupted run's preparation, and of finishing it.
    pub failures: Vec<Failure>,
    pub handoff: HandoffOutcome,
}

/// The journal of an interrupted in-place run of the venv at `root`, if there is one.
pub fn pending(root: &Path) -> Result<Option<Journal>> {
    Journal::read(root)
}

/// Hold an exclusive lock on the venv's root directory for the whole in-place run (flock(2) on
/// the directory itself: nothing is created in the venv for it, and the kernel drops it when
/// the process dies, so a killed run never leaves a stale lock). A second in-place run of the
/// same venv would otherwise take the first one's staging for a killed run's leftovers.
pub fn lock(root: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    let dir = fs::File::open(root).with_context(|| format!("cannot open `{}`", root.display()))?;
    // SAFETY: flock(2) on a descriptor we own.
    if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        anyhow::bail!(
            "another venvslim is slimming `{}` in place right now\nhint: wait for it to finish; two in-place runs of one venv would undo each other",
            root.display()
        );
    }
    Ok(dir)
}

/// True when an in-place run of `root` was killed after it began changing the tree (its journal
/// is there): the tree is half-slimmed.
pub fn interrupted(root: &Path) -> bool {
    crate::venv::interrupted_in_place(root)
}

/// No journal: remove what an interrupted preparation left (the staging directory, a journal
/// that was being written). The tree itself was not changed by it.
pub fn discard_leftovers(root: &Path) -> Result<()> {
    for name in [STAGING.to_string(), format!("{JOURNAL}.tmp")] {
        let path = root.join(&name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        point("remove what an interrupted run left");
        let r = if meta.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        r.with_context(|| {
            format!(
                "cannot remove `{}`, left by an interrupted run\nhint: remove it by hand and run again",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// Finish the interrupted run whose journal is `j`, with the rerun's hand-off options.
pub fn resume(root: &Path, opts: &Options, j: Journal, progress: &dyn Progress) -> Resumed {
    let fin = finish(root, opts, &j, progress);
    let mut failures = j.failures;
    failures.extend(fin.failures);
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    Resumed {
        steps: j.ops.len(),
        failures,
        handoff: fin.handoff,
    }
}

/// Slim the venv in place: prepare, write the journal, finish.
pub(super) fn apply(
    plan: &Plan,
    interp: Option<&Interpreter>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let root = &plan.venv.root;
    let staging = root.join(STAGING);
    point("create the staging directory");
    fs::create_dir(&staging).with_context(|| {
        format!(
            "cannot create `{}`\nhint: is the venv writable?",
            staging.display()
        )
    })?;
    let w = Writer::new(plan, staging.join(TREE), true, None).with_progress(progress);
    let mut outcome = Outcome::default();
    let prepared = prepare(&w, interp, &mut outcome).and_then(|()| {
        let j = Journal {
            ops: steps(&w, &outcome),
            failures: take(&w.failures),
            staging: journal::staging_id(root),
        };
        j.write(root)?;
        Ok(j)
    });
    let j = match prepared {
        Ok(j) => j,
        Err(e) => {
            // Nothing in the tree was changed: leave it as it was.
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let fin = finish(root, &plan.handoff.opts, &j, progress);
    outcome.handoff = fin.handoff;
    outcome.failures = j.failures;
    outcome.failures.extend(fin.failures);
    outcome.failures.sort_by(|a, b| a.path.cmp(&b.path));
    outcome.after = super::measure(root);
    Ok(outcome)
}

/// Step 1: write everything new under the staging tree, reading only the untouched venv.
fn prepare(w: &Writer, interp: Option<&Interpreter>, outcome: &mut Outcome) -> Result<()> {
    let plan = w.plan;
    let dirs: BTreeSet<PathBuf> = planned_writes(plan)
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    for d in dirs {
        let dir = w.dst.join(d);
        point("create a staging directory");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    w.progress
        .phase("stripping ELF files", plan.elf.len() as u64);
    strip_elf(w);
    super::handoff::relocate_in_place(w);
    if let Some(interp) = interp {
        w.progress.phase("compiling bytecode", 0);
        compile(w, interp, outcome);
    }
    for a in &plan.actions {
        if let ActionKind::Rewrite(Rewrite::MetadataHeader, Some(bytes)) = &a.kind {
            let e = &plan.inv.entries[a.entry];
            point("write METADATA");
            if let Err(err) = write_new(&w.dst.join(&e.path), bytes, e) {
                w.fail(&e.path, err);
            }
        }
    }
    super::build_zip(w, interp, outcome)?;
    outcome.elf = take(&w.elf);
    outcome.elf.sort_by(|a, b| a.0.cmp(&b.0));
    outcome.sourceless_gone = sourceless(plan, outcome);
    rewrite_records(w, outcome, &HashSet::new());
    if let (Some(_), Some((bytes, _))) = (&plan.handoff.opts.sbom, &plan.handoff.sbom) {
        let path = w.dst.with_file_name(SBOM);
        point("stage the SBOM");
        fs::write(&path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// Every path the preparation may write, except bytecode (whose directories the compiler
/// makes): ELF files, relocated scripts and links, METADATA, RECORD, the archive, `.pth`,
/// `top_level.txt`.
fn planned_writes(plan: &Plan) -> BTreeSet<PathBuf> {
    let entries = &plan.inv.entries;
    let mut out: BTreeSet<PathBuf> = plan.elf.iter().map(|&i| entries[i].path.clone()).collect();
    let h = &plan.handoff;
    out.extend(h.texts.iter().map(|t| t.path.clone()));
    out.extend(h.links.iter().map(|l| l.path.clone()));
    out.extend(
        plan.actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Rewrite(..)))
            .map(|a| entries[a.entry].path.clone()),
    );
    if let Some(z) = plan.zip.as_ref().filter(|z| !z.members.is_empty()) {
        out.insert(z.archive.clone());
        out.insert(z.pth.clone());
        out.extend(z.top_level.iter().map(|t| t.path.clone()));
    }
    out
}

/// Each ELF file stripped into the staging tree, with its original's mode, owner and mtime.
fn strip_elf(w: &Writer) {
    let Some(mode) = w.plan.elf_mode else { return };
    w.plan.elf.par_iter().for_each(|&i| {
        let e = &w.plan.inv.entries[i];
        let (src, dst) = (w.src(&e.path), w.dst.join(&e.path));
        let verdict = (|| -> Result<crate::elf::Verdict> {
            let meta = fs::symlink_metadata(&src)
                .with_context(|| format!("cannot stat `{}`", src.display()))?;
            if let Some(v) = crate::elf::in_place_refusal(&src, &meta) {
                return Ok(v);
            }
            point("strip an ELF file (staged)");
            let v = crate::elf::strip_to(&src, &dst, mode)?;
            if matches!(v, crate::elf::Verdict::Stripped { .. }) {
                fs::set_permissions(&dst, fs::Permissions::from_mode(e.mode & 0o7777))?;
                set_meta(&dst, e);
            } else {
                let _ = fs::remove_file(&dst);
            }
            Ok(v)
        })()
        .unwrap_or_else(|err| {
            let _ = fs::remove_file(&dst);
            crate::elf::Verdict::Refused {
                why: format!("{err:#}"),
            }
        });
        w.elf_done(i, verdict);
        w.progress.inc(1);
    });
}

/// Sources that go once their bytecode is written (`--bytecode sourceless`).
fn sourceless(plan: &Plan, outcome: &Outcome) -> HashSet<PathBuf> {
    let failed: HashSet<&Path> = outcome
        .not_compiled
        .iter()
        .map(|f| f.path.as_path())
        .collect();
    plan.actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::RemoveAfterCompile))
        .map(|a| plan.path(a))
        .filter(|p| !failed.contains(p))
        .map(Path::to_path_buf)
        .collect()
}

/// Step 2: the journal's steps, in the order they must run: staged files first (the archive
/// before its members go, bytecode before its source goes), then moves, removals, whole
/// dist-info directories (after every other file of their distribution), emptied directories
/// (deepest first), licences, the SBOM.
fn steps(w: &Writer, outcome: &Outcome) -> Vec<Op> {
    let plan = w.plan;
    let entries = &plan.inv.entries;
    let mut staged = planned_writes(plan);
    staged.extend(outcome.compiled.iter().cloned());
    staged.retain(|p| fs::symlink_metadata(w.dst.join(p)).is_ok_and(|m| !m.is_dir()));
    let mut ops: Vec<Op> = staged.iter().cloned().map(Op::Replace).collect();
    let mut moves = Vec::new();
    for a in &plan.actions {
        if let ActionKind::Move(to) = &a.kind {
            moves.push((plan.path(a).to_path_buf(), to.clone()));
        }
    }
    let kept = plan.kept_dirs();
    let whole = whole_dirs(plan, &kept, &staged, &moves);
    let inside = |p: &Path| whole.iter().any(|d| p.starts_with(d));
    ops.extend(moves.iter().cloned().map(|(a, b)| Op::Move(a, b)));
    for a in &plan.actions {
        let p = plan.path(a);
        let gone = match a.kind {
            ActionKind::Remove => !staged.contains(p),
            ActionKind::RemoveAfterCompile => outcome.sourceless_gone.contains(p),
            _ => false,
        };
        if gone && !inside(p) {
            ops.push(Op::Remove(p.to_path_buf()));
        }
    }
    if let (Some(z), Some(_)) = (&plan.zip, &outcome.zip) {
        for &i in &z.members {
            ops.push(Op::Remove(entries[i].path.clone()));
        }
    }
    ops.extend(whole.iter().cloned().map(Op::RemoveDir));
    for e in entries.iter().rev().filter(|e| e.kind == Kind::Dir) {
        if !kept.contains(&e.path) && !inside(&e.path) {
            ops.push(Op::Rmdir(e.path.clone()));
        }
    }
    if plan.handoff.opts.licenses_dir.is_some() {
        for (src, dst) in &plan.handoff.licenses {
            // A licence `--dist-info strip` moves is copied from where the move put it.
            let src = moves
                .iter()
                .find(|(from, _)| from == src)
                .map_or(src, |(_, to)| to);
            if journal::is_plain(dst) {
                ops.push(Op::License(src.clone(), dst.clone()));
            } else {
                w.fail(
                    src,
                    "not copied: its licence directory name is not a plain name",
                );
            }
        }
    }
    if let Some((_, n)) = &plan.handoff.sbom {
        if w.dst.with_file_name(SBOM).is_file() {
            ops.push(Op::Sbom(*n));
        }
    }
    ops
}

/// dist-info directories the plan empties whole (no file kept, moved in or written there,
/// nothing unreadable below): removed in one step. A licence moved out of one
/// (`--dist-info strip`) does not stop it: the moves run first, so until the one step the
/// directory keeps its METADATA.
fn whole_dirs(
    plan: &Plan,
    kept: &HashSet<PathBuf>,
    staged: &BTreeSet<PathBuf>,
    moves: &[(PathBuf, PathBuf)],
) -> BTreeSet<PathBuf> {
    let sp = &plan.venv.site_packages;
    plan.inv
        .entries
        .iter()
        .filter(|e| {
            e.kind == Kind::Dir
                && e.path.parent() == Some(sp.as_path())
                && e.name().ends_with(".dist-info")
                && !kept.contains(&e.path)
        })
        .map(|e| e.path.clone())
        .filter(|d| {
            !staged.iter().any(|p| p.starts_with(d))
                && !moves.iter().any(|(_, to)| to.starts_with(d))
                && !plan.inv.errors.iter().any(|(p, _)| p.starts_with(d))
        })
        .collect()
}
