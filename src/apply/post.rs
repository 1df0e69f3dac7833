//! After the tree is in place: compile bytecode with the target interpreter (reusing pip's
//! where it is exactly right), drop sources replaced by bytecode, and rewrite each RECORD to
//! list what is really there.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{write_new, Failure, Outcome, Writer};
use crate::bytecode::{CompileError, Interpreter, Job};
use crate::cli::BytecodeMode;
use crate::plan::ActionKind;
use crate::rules::Rewrite;

/// The start of a not-compiled reason for a source whose pyc directory is a symlink.
pub(super) const LINK_IN_THE_WAY: &str = "a symlink is in the way of its bytecode";

/// True when no existing directory between `root` and `rel`'s file is a symlink (what does not
/// exist yet is created by the compile, as a real directory).
fn link_free_parents(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    let Some(parent) = rel.parent() else {
        return true;
    };
    for c in parent.components() {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() || !m.is_dir() => return false,
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    true
}

pub(super) fn compile(w: &Writer, interp: &Interpreter, outcome: &mut Outcome) {
    let sourceless = w.plan.bytecode == BytecodeMode::Sourceless;
    let (compiled, failed) = compile_sources(w, interp, &w.plan.compile, sourceless);
    outcome.compiled.extend(compiled);
    outcome.not_compiled.extend(failed);
}

/// Compile `sources` (relative to the root) into `__pycache__` (or beside them, `sourceless`),
/// reusing pip's pycs where they are exactly right. Returns the pycs written and the sources
/// that did not compile.
pub(super) fn compile_sources(
    w: &Writer,
    interp: &Interpreter,
    sources: &[PathBuf],
    sourceless: bool,
) -> (Vec<PathBuf>, Vec<Failure>) {
    // A pyc is never written through a link the venv put in its way (`pkg/__pycache__` -> a
    // directory elsewhere): the unchecked-hash pyc would land outside the tree and be trusted
    // there without its source. Such a source keeps its place, uncompiled, and is reported.
    let (sources, blocked): (Vec<&PathBuf>, Vec<&PathBuf>) = sources.iter().partition(|rel| {
        let pyc = if sourceless {
            rel.with_extension("pyc")
        } else {
            interp.cache_path(rel)
        };
        // The input too: in place the pyc is written to a staging directory and renamed into
        // the venv at the end, through the same link.
        link_free_parents(&w.dst, &pyc) && link_free_parents(&w.plan.venv.root, &pyc)
    });
    let jobs: Vec<(&PathBuf, PathBuf, Job)> = sources
        .into_iter()
        .map(|rel| {
            let pyc = if sourceless {
                rel.with_extension("pyc")
            } else {
                interp.cache_path(rel)
            };
            let job = Job {
                // In place, the tree is untouched until the journal runs: read it there.
                src: if w.in_place {
                    w.src(rel)
                } else {
                    w.dst.join(rel)
                },
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
            !sourceless && {
                crate::fault::point("write a re-headered pyc");
                // Not reused for any reason (a read or write error included): compiled below,
                // where a failure is reported.
                match interp.reuse(&src, &old, &job.dfile) {
                    Ok(Some((pyc, mode))) => write_pyc(&job.cfile, &pyc, mode).is_ok(),
                    _ => false,
                }
            }
        })
        .collect();
    let todo: Vec<Job> = jobs
        .iter()
        .zip(&reused)
        .filter(|(_, r)| !**r)
        .map(|((_, _, j), _)| j.clone())
        .collect();
    if !todo.is_empty() {
        crate::fault::point("compile bytecode");
    }
    let mut results = interp.compile(&todo).into_iter();
    let (mut compiled, mut failed) = (Vec::new(), Vec::new());
    for rel in blocked {
        failed.push(Failure {
            path: rel.clone(),
            error: format!("{LINK_IN_THE_WAY}: its bytecode would be written through it"),
        });
    }
    for ((rel, pyc, _), was_reused) in jobs.into_iter().zip(reused) {
        let result = if was_reused {
            Ok(())
        } else {
            results
                .next()
                .unwrap_or(Err(CompileError::Compiler("not compiled".into())))
        };
        match result {
            Ok(()) => compiled.push(pyc),
            Err(error) => failed.push(Failure {
                path: rel.clone(),
                error: error.to_string(),
            }),
        }
    }
    (compiled, failed)
}

/// Sources replaced by bytecode (`--bytecode sourceless`), removed only where it was written.
pub(super) fn remove_sourceless(w: &Writer, outcome: &Outcome) -> HashSet<PathBuf> {
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
        crate::fault::point("remove a source replaced by bytecode");
        match fs::remove_file(w.dst.join(rel)) {
            Ok(()) => {
                gone.insert(rel.to_path_buf());
            }
            Err(err) => w.fail(rel, err),
        }
    }
    gone
}

/// Rewrite every RECORD the plan rewrites. `restored` are paths put back as they were in the
/// input (by `slim --verify`): they get their original rows.
pub(super) fn rewrite_records(w: &Writer, outcome: &Outcome, restored: &HashSet<&Path>) {
    let plan = w.plan;
    let mut gone = plan.gone();
    gone.extend(outcome.sourceless_gone.iter().map(PathBuf::as_path));
    gone.retain(|p| !restored.contains(p));
    let mut rewritten = plan.rewritten();
    let stripped: Vec<&PathBuf> = outcome
        .elf
        .iter()
        .filter(|(p, v)| {
            matches!(v, crate::elf::Verdict::Stripped { .. }) && !restored.contains(p.as_path())
        })
        .map(|(p, _)| p)
        .collect();
    let hashed: Vec<(&Path, std::io::Result<(String, u64)>)> = stripped
        .par_iter()
        .map(|p| (p.as_path(), crate::record::hash_file(&w.dst.join(p))))
        .collect();
    rewritten.retain(|p, _| !restored.contains(p));
    for (path, result) in hashed {
        match result {
            Ok(h) => {
                rewritten.insert(path, h);
            }
            Err(err) => w.fail(path, err),
        }
    }
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
        let mut text = crate::record::rewrite(&plan.dists[d], &plan.venv.site_packages, &changes);
        if let Some(t) = plan
            .zip
            .iter()
            .flat_map(|z| &z.top_level)
            .find(|t| t.dist == d)
        {
            text.push_str(&top_level_row(plan, t));
        }
        crate::fault::point("write RECORD");
        if let Err(err) = write_new(&w.dst.join(&e.path), text.as_bytes(), e) {
            w.fail(&e.path, err);
        }
    }
}

/// The RECORD row of a written `top_level.txt`.
fn top_level_row(plan: &crate::plan::Plan, t: &crate::archive::TopLevel) -> String {
    let rel = t
        .path
        .strip_prefix(&plan.venv.site_packages)
        .unwrap_or(&t.path);
    crate::dists::record_row(&[
        &rel.to_string_lossy(),
        &crate::record::hash(t.text.as_bytes()),
        &t.text.len().to_string(),
    ])
}

/// Write through a temporary file and rename, as py_compile does, with the source's mode.
fn write_pyc(cfile: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = cfile.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = cfile.with_extension("pyc.venvslim-tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode & 0o666))?;
    std::fs::rename(&tmp, cfile)
}
