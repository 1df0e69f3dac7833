//! The only module that writes to disk. It executes a `Plan`, nothing else.
//!
//! Out of place (the default) the slimmed tree is built in a hidden staging directory beside
//! OUT and renamed onto it at the end, so OUT is never half-written, and nothing is ever written
//! into the input venv. In place (in_place.rs), everything new is staged first and renamed over
//! the original, so a hardlink into a package cache (uv's default) is never edited through, and
//! a journal lets a rerun finish a killed run. A failure on one file is recorded and the run goes on (exit 1), as dua-cli does.
//! After the run, `slim --verify` asks for its repairs here too: `restore` (restore.rs) and
//! `unzip` (zip.rs) put back in OUT what `verify` decided to give back.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};

use crate::bytecode::Interpreter;
use crate::error::PathError;
use crate::inventory::Kind;
use crate::plan::{Plan, Totals};
use crate::progress::Progress;
use crate::settings::Target;

mod commit;
mod copy;
mod extras;
mod finalize;
mod handoff;
mod in_place;
mod journal;
mod post;
mod restore;
mod staging;
mod zip;

pub use finalize::Dedupe;
pub use handoff::HandoffOutcome;
pub use in_place::{discard_leftovers, interrupted, lock, pending, resume, Resumed};
pub use staging::Staging;
pub mod recipe;
pub mod scratch;

use copy::{copy_tree, write_new};
pub(crate) use copy::{replace_file, set_meta};
use post::{compile, remove_sourceless, rewrite_records};
pub use restore::{restore, Restored, ELF_RULE};
pub use zip::{unzip, ZipOutcome};

/// `.NAME.venvslim-TAG` beside `path` (named NAME): where a file is written, linked or moved
/// aside before a rename, hidden and recognisable as ours.
pub(crate) fn hidden_beside(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.venvslim-{tag}"))
}

/// One path that could not be done as planned, and why: listed in the report (exit 1).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    /// The path (relative to the root where it is in the tree).
    #[serde(serialize_with = "crate::jsonpath::lossy_path")]
    pub path: PathBuf,
    /// What went wrong, in words.
    pub error: String,
}

impl Failure {
    /// An I/O failure on `path`, said as `cannot <op>: <cause>` beside it.
    pub fn io(path: &Path, err: PathError) -> Failure {
        Failure {
            path: path.to_path_buf(),
            error: err.reason(),
        }
    }
}

/// What a real run did, for the report and the exit status.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Paths that failed (the run goes on; exit 1).
    pub failures: Vec<Failure>,
    /// Bytecode written, relative to the root.
    pub compiled: Vec<PathBuf>,
    /// Sources the interpreter could not compile (left as they were; not a failure).
    pub not_compiled: Vec<Failure>,
    /// Sources removed after their bytecode was written (`--bytecode sourceless`).
    pub sourceless_gone: HashSet<PathBuf>,
    /// What the ELF engine did with each candidate, sorted by path.
    pub elf: Vec<(PathBuf, crate::elf::Verdict)>,
    /// What `--zip-pure` wrote.
    pub zip: Option<ZipOutcome>,
    /// Measured after the run.
    pub after: Totals,
    /// Licences, SBOM, modes, mtimes, dedupe.
    pub handoff: HandoffOutcome,
    /// Entries that are not files, directories or symlinks (FIFOs, sockets, devices): not
    /// copied, and said so.
    pub skipped: Vec<Failure>,
    /// Staging directories of killed earlier runs, removed before this one started.
    pub stale_staging_removed: Vec<PathBuf>,
}

struct Writer<'a> {
    plan: &'a Plan,
    /// Where we write: the staging directory, or the venv itself in place.
    dst: PathBuf,
    /// Where the tree will live (co_filename of compiled bytecode).
    final_root: PathBuf,
    /// OUT, out of place (user paths inside it are written into `dst`).
    out: Option<PathBuf>,
    in_place: bool,
    failures: Mutex<Vec<Failure>>,
    skipped: Mutex<Vec<Failure>>,
    elf: Mutex<Vec<(PathBuf, crate::elf::Verdict)>>,
    /// Where to say how far the run is (a terminal bar, or nothing).
    progress: Progress,
    /// Hand-off outputs staged outside OUT, in publishing order.
    staged: Mutex<Vec<extras::Staged>>,
}

impl<'a> Writer<'a> {
    /// A writer into `dst` for a tree that will live at `--prefix`, or where the input venv is;
    /// `out`: the user's OUT, out of place.
    fn new(plan: &'a Plan, dst: PathBuf, in_place: bool, out: Option<PathBuf>) -> Writer<'a> {
        let final_root = plan.handoff.opts.prefix.clone();
        Writer {
            plan,
            dst,
            final_root: final_root.unwrap_or_else(|| plan.venv.root.clone()),
            out,
            in_place,
            failures: Mutex::default(),
            skipped: Mutex::default(),
            elf: Mutex::default(),
            progress: Progress::hidden(),
            staged: Mutex::default(),
        }
    }

    /// The same writer, reporting to `progress`.
    fn with_progress(mut self, progress: &Progress) -> Writer<'a> {
        self.progress = progress.clone();
        self
    }

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

    /// An I/O failure on `rel` (relative to the root): `cannot <op>: <cause>` beside the path.
    fn fail_io(&self, rel: &Path, err: PathError) {
        self.fail(rel, err.reason());
    }

    /// Report what `set_meta` could not do for `rel`, as the last pass reports its mtimes.
    fn meta_done(&self, rel: &Path, r: Result<(), PathError>) {
        if let Err(err) = r {
            self.fail_io(rel, err);
        }
    }

    /// An entry deliberately not copied (not a file, directory or symlink).
    fn skip(&self, path: &Path, why: &str) {
        self.skipped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Failure {
                path: path.to_path_buf(),
                error: why.to_string(),
            });
    }

    fn elf_done(&self, i: usize, verdict: crate::elf::Verdict) {
        let path = self.plan.inv.entries[i].path.clone();
        self.elf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path, verdict));
    }

    fn src(&self, rel: &Path) -> PathBuf {
        self.plan.venv.root.join(rel)
    }
}

/// Execute `plan`: into a staging directory published as OUT (all or nothing), or in place
/// through the journal; compile bytecode with `interp`; report progress to `progress`.
pub fn apply(
    plan: &Plan,
    target: &Target,
    interp: Option<&Interpreter>,
    progress: &Progress,
) -> Result<Outcome> {
    match target {
        Target::PlanOnly => bail!("nothing to apply without an output"),
        Target::InPlace => in_place::apply(plan, interp, progress),
        Target::Copy(out) => {
            let staging = Staging::create(out)?;
            let w = Writer::new(plan, staging.path().to_path_buf(), false, Some(out.clone()))
                .with_progress(progress);
            progress.phase(
                "copying (and stripping ELF files)",
                plan.inv.entries.len() as u64,
            );
            copy_tree(&w)?;
            let mut outcome = Outcome::default();
            if let Some(interp) = interp {
                progress.phase("compiling bytecode", 0);
                crate::fault::point("compile");
                compile(&w, interp, &mut outcome);
            }
            crate::fault::point("zip");
            build_zip(&w, interp, &mut outcome)?;
            crate::fault::point("finish");
            let mut outcome = finish(&w, outcome)?;
            refuse_incomplete(&outcome)?;
            outcome.stale_staging_removed = staging.stale_removed.clone();
            // OUT, then the licences, then the SBOM; a signal waits until all are in place.
            let publishing = staging::hold_signals();
            staging.publish(out)?;
            extras::publish_extras(&w, &mut outcome);
            drop(publishing);
            if let Some(t) = plan.handoff.opts.mtime {
                let t = filetime::FileTime::from_unix_time(t, 0);
                if let Err(err) = filetime::set_file_times(out, t, t) {
                    let err = PathError::new("set mtime", out, err);
                    outcome.failures.push(Failure::io(out, err));
                }
            }
            Ok(outcome)
        }
    }
}

/// py_compile wraps everything the source itself causes (syntax, encoding, null bytes) in
/// `PyCompileError`; anything else (OSError, a compiler that could not start or died) is the
/// disk's or the machine's fault and leaves a planned pyc unwritten.
fn compile_error_is_the_sources(error: &str) -> bool {
    error.starts_with("PyCompileError") || error.starts_with(post::LINK_IN_THE_WAY)
}

/// Out of place is all or nothing: a kept file that could not be written (ENOSPC, EACCES, EIO)
/// fails the whole run before OUT is published; the staging directory goes with the error.
fn refuse_incomplete(outcome: &Outcome) -> Result<()> {
    let io_errors = outcome
        .not_compiled
        .iter()
        .filter(|f| !compile_error_is_the_sources(&f.error));
    let mut failed = outcome.failures.iter().chain(io_errors);
    if let Some(first) = failed.next() {
        bail!(
            "cannot write {} path(s) of the output, first `{}`: {}; OUT was not written\nhint: free space where OUT is (df -h), or make the named file readable (in the venv) and OUT's directory writable, then run again",
            1 + failed.count(),
            first.path.display(),
            first.error
        );
    }
    Ok(())
}

/// `--zip-pure`: the archive, once the tree's own bytecode is compiled.
fn build_zip(w: &Writer, interp: Option<&Interpreter>, outcome: &mut Outcome) -> Result<()> {
    match (&w.plan.zip, interp) {
        (Some(z), None) if !z.members.is_empty() => {
            bail!("--zip-pure needs the venv's interpreter to compile the archive's bytecode\nhint: use --bytecode compile (the default)")
        }
        (Some(_), Some(interp)) => zip::build(w, interp, outcome),
        _ => Ok(()),
    }
}

/// After compiling: drop sources (sourceless), rewrite RECORDs, fix directories, measure.
fn finish(w: &Writer, mut outcome: Outcome) -> Result<Outcome> {
    outcome.elf = take(&w.elf);
    outcome.elf.sort_by(|a, b| a.0.cmp(&b.0));
    outcome.sourceless_gone = remove_sourceless(w, &outcome);
    rewrite_records(w, &outcome, &HashSet::new());
    finish_dirs(w);
    let extras = extras::write_extras(w);
    let (modes_changed, mtimes_set, dedupe) =
        finalize::normalize_tree(w, &w.dst, plan_dedupe(w.plan));
    outcome.handoff = HandoffOutcome {
        licenses: extras.licence_paths.len(),
        license_paths: extras.licence_paths,
        not_written: extras.not_written,
        sbom_components: extras.sbom_components,
        modes_changed,
        mtimes_set,
        dedupe,
    };
    outcome.after = measure(&w.dst);
    outcome.failures = take(&w.failures);
    outcome.failures.sort_by(|a, b| a.path.cmp(&b.path));
    outcome.skipped = take(&w.skipped);
    outcome.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(outcome)
}

/// What the writer's threads collected, taken out of its lock.
fn take<T>(m: &Mutex<Vec<T>>) -> Vec<T> {
    m.lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

fn plan_dedupe(plan: &Plan) -> bool {
    plan.handoff.opts.dedupe
}

/// After `slim --verify` restored files into the finished tree `out`: run the last pass again
/// (modes, mtimes, dedupe) so the restored files are normalised like the rest.
pub fn refinalize(plan: &Plan, out: &Path, outcome: &mut Outcome) -> Vec<Failure> {
    let w = Writer::new(plan, out.to_path_buf(), false, None);
    let (modes, mtimes, dedupe) = finalize::normalize_tree(&w, out, plan_dedupe(plan));
    outcome.handoff.modes_changed += modes;
    outcome.handoff.mtimes_set = mtimes;
    if let (Some(d), Some(more)) = (outcome.handoff.dedupe.as_mut(), dedupe) {
        d.linked += more.linked;
        d.groups += more.groups;
        d.saved_bytes += more.saved_bytes;
    }
    w.failures.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// After `slim --verify` restored files into the finished tree `out`: rewrite RECORDs again so
/// the restored files get their original rows. Returns what failed.
pub fn refresh_records(
    plan: &Plan,
    out: &Path,
    outcome: &Outcome,
    restored: &[PathBuf],
) -> Vec<Failure> {
    let w = Writer::new(plan, out.to_path_buf(), false, None);
    let restored: HashSet<&Path> = restored.iter().map(PathBuf::as_path).collect();
    rewrite_records(&w, outcome, &restored);
    w.failures.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Give the kept directories of the output their original mode and mtime (after their content
/// is written). Out of place only: in place, emptied directories are steps of the journal.
fn finish_dirs(w: &Writer) {
    let plan = w.plan;
    let kept = plan.kept_dirs();
    for e in plan
        .inv
        .entries
        .iter()
        .rev()
        .filter(|e| e.kind == Kind::Dir && kept.contains(&e.path))
    {
        let path = w.dst.join(&e.path);
        if let Err(err) = fs::set_permissions(&path, fs::Permissions::from_mode(e.mode & 0o7777)) {
            w.fail_io(&e.path, PathError::new("chmod", &path, err));
        }
        w.meta_done(&e.path, set_meta(&path, e));
    }
    if let Ok(m) = fs::metadata(&plan.venv.root) {
        if let Err(err) = fs::set_permissions(&w.dst, fs::Permissions::from_mode(m.mode() & 0o7777))
        {
            w.fail_io(Path::new("."), PathError::new("chmod", &w.dst, err));
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
