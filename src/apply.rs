//! The only module that writes to disk. It executes a `Plan`, nothing else.
//!
//! Out of place (the default) the slimmed tree is built in a hidden staging directory beside
//! OUT and renamed onto it at the end, so OUT is never half-written, and nothing is ever written
//! into the input venv. In place, every rewrite goes to a temporary file beside the original
//! and is renamed over it, so a hardlink into a package cache (uv's default) is never edited
//! through. A failure on one file is recorded and the run goes on (exit 1), as dua-cli does.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

use crate::bytecode::{Interpreter, Job};
use crate::cli::BytecodeMode;
use crate::inventory::{Entry, Kind};
use crate::plan::{ActionKind, Plan, Totals};
use crate::rules::Rewrite;
use crate::settings::Target;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    #[serde(serialize_with = "crate::report::lossy_path")]
    pub path: PathBuf,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub failures: Vec<Failure>,
    /// Bytecode written, relative to the root.
    pub compiled: Vec<PathBuf>,
    /// Sources the interpreter could not compile (left as they were; not a failure).
    pub not_compiled: Vec<Failure>,
    /// Measured after the run.
    pub after: Totals,
}

struct Writer<'a> {
    plan: &'a Plan,
    /// Where we write: the staging directory, or the venv itself in place.
    dst: PathBuf,
    /// Where the tree will live (co_filename of compiled bytecode).
    final_root: PathBuf,
    in_place: bool,
    failures: Mutex<Vec<Failure>>,
}

impl Writer<'_> {
    fn fail(&self, path: &Path, err: impl std::fmt::Display) {
        let error = format!("{err:#}");
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Failure {
                path: path.to_path_buf(),
                error,
            });
    }

    fn src(&self, rel: &Path) -> PathBuf {
        self.plan.venv.root.join(rel)
    }
}

pub fn apply(plan: &Plan, target: &Target, interp: Option<&Interpreter>) -> Result<Outcome> {
    match target {
        Target::PlanOnly => bail!("nothing to apply without an output"),
        Target::InPlace => {
            let w = Writer {
                plan,
                dst: plan.venv.root.clone(),
                final_root: plan.venv.root.clone(),
                in_place: true,
                failures: Mutex::default(),
            };
            // Compile first: pip's pycs are reused from where they are, and the new pycs replace
            // the stale ones at the same paths, so those removals become no-ops.
            let mut outcome = Outcome::default();
            if let Some(interp) = interp {
                compile(&w, interp, &mut outcome);
            }
            remove_in_place(&w, &outcome.compiled.iter().collect());
            finish(&w, outcome)
        }
        Target::Copy(out) => {
            let staging = make_staging(out)?;
            let w = Writer {
                plan,
                dst: staging.clone(),
                final_root: plan.venv.root.clone(),
                in_place: false,
                failures: Mutex::default(),
            };
            let result = copy_tree(&w).and_then(|()| {
                let mut outcome = Outcome::default();
                if let Some(interp) = interp {
                    compile(&w, interp, &mut outcome);
                }
                finish(&w, outcome)
            });
            match result {
                Ok(outcome) => {
                    publish(&staging, out)?;
                    Ok(outcome)
                }
                Err(e) => {
                    let _ = fs::remove_dir_all(&staging);
                    Err(e)
                }
            }
        }
    }
}

/// After compiling: drop sources (sourceless), rewrite RECORDs, fix directories, measure.
fn finish(w: &Writer, mut outcome: Outcome) -> Result<Outcome> {
    let sourceless_gone = remove_sourceless(w, &outcome);
    rewrite_records(w, &outcome, &sourceless_gone);
    finish_dirs(w);
    outcome.after = measure(&w.dst);
    outcome.failures = w
        .failures
        .lock()
        .map(|mut f| std::mem::take(&mut *f))
        .unwrap_or_default();
    outcome.failures.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(outcome)
}

fn make_staging(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .with_context(|| format!("output `{}` has no name", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    let staging = parent.join(format!(
        ".{}.venvslim-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    fs::create_dir(&staging).with_context(|| {
        format!(
            "cannot create `{}`\nhint: is its directory writable?",
            staging.display()
        )
    })?;
    Ok(staging)
}

fn publish(staging: &Path, out: &Path) -> Result<()> {
    fs::rename(staging, out).with_context(|| {
        format!(
            "cannot move the finished tree to `{}`; it is complete in `{}`",
            out.display(),
            staging.display()
        )
    })
}

/// Copy every kept entry into the staging directory, apply rewrites and moves.
fn copy_tree(w: &Writer) -> Result<()> {
    let plan = w.plan;
    let dirs = plan.kept_dirs();
    let mut dir_list: Vec<&PathBuf> = dirs.iter().collect();
    dir_list.sort();
    for d in dir_list {
        fs::create_dir_all(w.dst.join(d))
            .with_context(|| format!("cannot create `{}`", w.dst.join(d).display()))?;
    }
    // Hardlinked inodes: the first path in sorted order is copied, the others linked to it.
    let mut leaders: HashMap<(u64, u64), usize> = HashMap::new();
    let mut followers = Vec::new();
    let mut copies = Vec::new();
    for (i, e) in plan.inv.entries.iter().enumerate() {
        if e.kind == Kind::Dir || plan.is_removed(i) {
            continue;
        }
        let rewritten =
            plan.fate[i].is_some_and(|a| matches!(plan.actions[a].kind, ActionKind::Rewrite(..)));
        if e.kind == Kind::File && e.nlink > 1 && !rewritten {
            match leaders.get(&(e.dev, e.ino)) {
                Some(&lead) => {
                    followers.push((i, lead));
                    continue;
                }
                None => {
                    leaders.insert((e.dev, e.ino), i);
                }
            }
        }
        copies.push(i);
    }
    copies.par_iter().for_each(|&i| copy_entry(w, i));
    for (i, lead) in followers {
        let (e, l) = (&plan.inv.entries[i], &plan.inv.entries[lead]);
        if let Err(err) = fs::hard_link(w.dst.join(&l.path), w.dst.join(&e.path)) {
            w.fail(&e.path, format!("cannot hardlink: {err}"));
        }
    }
    for a in &plan.actions {
        let e = &plan.inv.entries[a.entry];
        match &a.kind {
            ActionKind::Rewrite(Rewrite::MetadataHeader, Some(bytes)) => {
                if let Err(err) = write_new(&w.dst.join(&e.path), bytes, e) {
                    w.fail(&e.path, err);
                }
            }
            ActionKind::Move(to) => {
                let dst = w.dst.join(to);
                let r = dst
                    .parent()
                    .map_or(Ok(()), fs::create_dir_all)
                    .and_then(|()| fs::copy(w.src(&e.path), &dst).map(drop));
                match r {
                    Ok(()) => set_meta(&dst, e),
                    Err(err) => w.fail(&e.path, format!("cannot move to {}: {err}", to.display())),
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn copy_entry(w: &Writer, i: usize) {
    let plan = w.plan;
    let e = &plan.inv.entries[i];
    let (src, dst) = (w.src(&e.path), w.dst.join(&e.path));
    if plan.fate[i].is_some_and(|a| matches!(plan.actions[a].kind, ActionKind::Rewrite(..))) {
        return; // written by its rewrite: METADATA below, RECORD at the end
    }
    let result = match e.kind {
        Kind::File => fs::copy(&src, &dst).map(drop),
        Kind::Symlink => {
            fs::read_link(&src).and_then(|target| std::os::unix::fs::symlink(target, &dst))
        }
        Kind::Other => {
            w.fail(
                &e.path,
                "not a regular file, directory or symlink: not copied",
            );
            return;
        }
        Kind::Dir => return,
    };
    match result {
        Ok(()) => set_meta(&dst, e),
        Err(err) => w.fail(&e.path, format!("cannot copy: {err}")),
    }
}

/// Owner (when we may) and mtime of the original; permissions come with fs::copy.
fn set_meta(dst: &Path, e: &Entry) {
    let _ = std::os::unix::fs::lchown(dst, Some(e.uid), Some(e.gid));
    let t = filetime::FileTime::from_unix_time(e.mtime.0, e.mtime.1 as u32);
    if e.kind == Kind::Symlink {
        let _ = filetime::set_symlink_file_times(dst, t, t);
    } else {
        let _ = filetime::set_file_times(dst, t, t);
    }
}

/// Write `bytes` to `path` through a temporary file beside it, with `like`'s mode and mtime.
fn write_new(path: &Path, bytes: &[u8], like: &Entry) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.venvslim-tmp"));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(like.mode & 0o7777))?;
        set_meta(&tmp, like);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removals, moves and METADATA rewrites in place; `rewritten` are paths compiling just wrote
/// anew (a stale pyc's path now holds its replacement).
fn remove_in_place(w: &Writer, rewritten: &HashSet<&PathBuf>) {
    let plan = w.plan;
    for a in &plan.actions {
        let e = &plan.inv.entries[a.entry];
        if rewritten.contains(&e.path) {
            continue;
        }
        let path = w.dst.join(&e.path);
        let result = match &a.kind {
            ActionKind::Remove => fs::remove_file(&path),
            ActionKind::Move(to) => {
                let dst = w.dst.join(to);
                if fs::symlink_metadata(&dst).is_ok() {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        format!("{} exists", to.display()),
                    ))
                } else {
                    dst.parent()
                        .map_or(Ok(()), fs::create_dir_all)
                        .and_then(|()| fs::rename(&path, &dst))
                }
            }
            ActionKind::Rewrite(Rewrite::MetadataHeader, Some(bytes)) => write_new(&path, bytes, e),
            _ => Ok(()),
        };
        if let Err(err) = result {
            w.fail(&e.path, err);
        }
    }
}

fn compile(w: &Writer, interp: &Interpreter, outcome: &mut Outcome) {
    let sourceless = w.plan.bytecode == BytecodeMode::Sourceless;
    let jobs: Vec<(&PathBuf, PathBuf, Job)> = w
        .plan
        .compile
        .iter()
        .map(|rel| {
            let pyc = if sourceless {
                rel.with_extension("pyc")
            } else {
                interp.cache_path(rel)
            };
            let job = Job {
                src: w.dst.join(rel),
                cfile: w.dst.join(&pyc),
                dfile: w.final_root.join(rel),
            };
            (rel, pyc, job)
        })
        .collect();
    // pip's own bytecode for an unchanged source only needs a new header; compile the rest.
    let reused: Vec<bool> = jobs
        .par_iter()
        .map(|(rel, pyc, job)| {
            let (src, old) = (w.plan.venv.root.join(rel), w.plan.venv.root.join(pyc));
            !sourceless
                && interp
                    .reuse(&src, &old, &job.cfile, &job.dfile)
                    .unwrap_or(false)
        })
        .collect();
    let todo: Vec<Job> = jobs
        .iter()
        .zip(&reused)
        .filter(|(_, r)| !**r)
        .map(|((_, _, j), _)| j.clone())
        .collect();
    let mut results = interp.compile(&todo).into_iter();
    for ((rel, pyc, _), was_reused) in jobs.into_iter().zip(reused) {
        let result = if was_reused {
            Ok(())
        } else {
            results.next().unwrap_or(Err("not compiled".into()))
        };
        match result {
            Ok(()) => outcome.compiled.push(pyc),
            Err(error) => outcome.not_compiled.push(Failure {
                path: rel.clone(),
                error,
            }),
        }
    }
}

/// Sources replaced by bytecode (`--bytecode sourceless`), removed only where it was written.
fn remove_sourceless(w: &Writer, outcome: &Outcome) -> HashSet<PathBuf> {
    let failed: HashSet<&Path> = outcome
        .not_compiled
        .iter()
        .map(|f| f.path.as_path())
        .collect();
    let mut gone = HashSet::new();
    for a in w
        .plan
        .actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::RemoveAfterCompile))
    {
        let rel = w.plan.path(a);
        if failed.contains(rel) {
            continue;
        }
        match fs::remove_file(w.dst.join(rel)) {
            Ok(()) => {
                gone.insert(rel.to_path_buf());
            }
            Err(err) => w.fail(rel, err),
        }
    }
    gone
}

fn rewrite_records(w: &Writer, outcome: &Outcome, sourceless_gone: &HashSet<PathBuf>) {
    let plan = w.plan;
    let mut gone = plan.gone();
    gone.extend(sourceless_gone.iter().map(PathBuf::as_path));
    let rewritten = plan.rewritten();
    let records = plan
        .actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::Rewrite(Rewrite::Record, _)));
    let mut compiled_by_dist: HashMap<usize, Vec<PathBuf>> = HashMap::new();
    for pyc in &outcome.compiled {
        if let Some(d) = plan.own.owner(pyc) {
            compiled_by_dist.entry(d).or_default().push(pyc.clone());
        }
    }
    let empty = Vec::new();
    for a in records {
        let e = &plan.inv.entries[a.entry];
        let Some(d) = a.dist else {
            // Not attributable to a distribution: leave it as it was.
            if !w.in_place {
                if let Err(err) = fs::copy(w.src(&e.path), w.dst.join(&e.path)) {
                    w.fail(&e.path, err);
                }
            }
            continue;
        };
        let compiled = compiled_by_dist.get(&d).unwrap_or(&empty);
        let changes = crate::record::Changes {
            gone: &gone,
            rewritten: &rewritten,
            compiled,
        };
        let text = crate::record::rewrite(&plan.dists[d], &plan.venv.site_packages, &changes);
        if let Err(err) = write_new(&w.dst.join(&e.path), text.as_bytes(), e) {
            w.fail(&e.path, err);
        }
    }
}

/// Out of place: give directories their original mode and mtime (after their content is
/// written). In place: remove directories the plan emptied.
fn finish_dirs(w: &Writer) {
    let plan = w.plan;
    let kept = plan.kept_dirs();
    for e in plan
        .inv
        .entries
        .iter()
        .rev()
        .filter(|e| e.kind == Kind::Dir)
    {
        let path = w.dst.join(&e.path);
        if kept.contains(&e.path) {
            if !w.in_place {
                let _ = fs::set_permissions(&path, fs::Permissions::from_mode(e.mode & 0o7777));
                set_meta(&path, e);
            }
        } else if w.in_place {
            // Not empty means something new lives there (recompiled __pycache__): keep it.
            let _ = fs::remove_dir(&path);
        }
    }
    if !w.in_place {
        if let Ok(m) = fs::metadata(&plan.venv.root) {
            let _ = fs::set_permissions(&w.dst, fs::Permissions::from_mode(m.mode() & 0o7777));
        }
    }
}

/// Bytes and files under `root`, each inode once.
pub fn measure(root: &Path) -> Totals {
    let mut seen = HashSet::new();
    let mut t = Totals::default();
    for e in walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if !e.file_type().is_file() {
            continue;
        }
        if let Ok(m) = e.metadata() {
            t.files += 1;
            if m.nlink() <= 1 || seen.insert((m.dev(), m.ino())) {
                t.bytes += m.len();
            }
        }
    }
    t
}
