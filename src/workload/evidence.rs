//! From two recordings of a workload (on the input, on the output) to `verify::Finding`s.
//!
//! What counts, each pinned on the paths the plan took away (removed, moved, or put in the
//! `--zip-pure` archive) and not given back yet:
//! - a file the workload opened, a directory it listed or a library it loaded, on the input or
//!   on the output (a path inside the archive, which the output's run tried to open as a file,
//!   is its original path in site-packages);
//! - a module the input's run loaded from a file the plan took away, and the output's run did
//!   not load;
//! - when the output's run fails: the modules its `ModuleNotFoundError`s name (from the hook, and
//!   from its output), paths under the tree its output quotes, and, as the last resort, the
//!   distributions of the files in its traceback.
//!
//! What does not count: bytecode caches (`__pycache__`: the interpreter reads them when they are
//! there and compiles in memory when not), the sources `--bytecode sourceless` replaced with
//! their bytecode while the workload passes (reading them is a traceback or a warning printing
//! a line), and modules imported from the archive (the archive is meant to serve them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Recording, Run};
use crate::inventory::Kind;
use crate::plan::{ActionKind, Plan};
use crate::verify::{self, Finding, Restore};

/// What `out_run` (the workload on the output) and `input` (its recording on the input) show
/// the output misses, given what was restored so far (`done`). Sorted by `what`.
pub fn findings(plan: &Plan, input: &Recording, out_run: &Run, done: &Restore) -> Vec<Finding> {
    let cmd = &out_run.command;
    let passed = out_run.passed;
    let whole = removed_whole(plan);
    let taken = |path: &Path, failing: bool| {
        taken(plan, done, path, failing)
            .filter(|t| !(t.dist_info && t.dist.is_some_and(|d| whole[d])))
    };
    let mut found = Vec::new();
    let mut push = |what: String, path: PathBuf, dist: Option<usize>| {
        found.push(Finding {
            what,
            packages: verify::package_of(plan, &path).into_iter().collect(),
            paths: vec![path],
            dists: dist
                .map(|d| plan.dists[d].normalized.clone())
                .into_iter()
                .collect(),
        });
    };
    let out_touched = out_run
        .record
        .touched
        .iter()
        .map(|(p, k)| (from_archive(plan, p), *k));
    let touched: BTreeSet<(PathBuf, &str)> = input
        .touched
        .iter()
        .map(|(p, k)| (p.clone(), *k))
        .chain(out_touched)
        .collect();
    for (path, kind) in &touched {
        let Some(taken) = taken(path, passed) else {
            continue;
        };
        // A module's own file in the archive is what the archive is for; its data is not.
        if taken.zipped && is_module_file(path) {
            continue;
        }
        let verb = match *kind {
            "list" => "listed",
            "dlopen" => "loaded",
            _ => "opened",
        };
        push(
            format!("`{cmd}` {verb} {}, which {}", path.display(), taken.how),
            path.clone(),
            taken.dist,
        );
    }
    for (name, path) in &input.modules {
        if out_run.record.modules.contains_key(name) {
            continue;
        }
        if let Some(taken) = taken(path, passed).filter(|t| !t.zipped) {
            push(
                format!(
                    "`{cmd}` imported {name} on the input, not on the output: {} {}",
                    path.display(),
                    taken.how
                ),
                path.clone(),
                taken.dist,
            );
        }
    }
    if !passed {
        let mut missing: BTreeSet<String> = out_run.record.missing.clone();
        missing.extend(verify::missing_modules(&out_run.output));
        for name in &missing {
            for path in verify::module_paths(plan, name) {
                if let Some(taken) = taken(&path, true) {
                    push(
                        format!(
                            "`{cmd}` fails: No module named '{name}' ({} {})",
                            path.display(),
                            taken.how
                        ),
                        path,
                        taken.dist,
                    );
                }
            }
        }
        for path in verify::quoted_paths(&out_run.output, &out_run.at) {
            let path = from_archive(plan, &path);
            if let Some(taken) = taken(&path, true) {
                push(
                    format!(
                        "`{cmd}` fails naming {}, which {}",
                        path.display(),
                        taken.how
                    ),
                    path,
                    taken.dist,
                );
            }
        }
        let dists: BTreeSet<String> = out_run
            .record
            .frames
            .iter()
            .map(|p| from_archive(plan, p))
            .chain(missing.iter().flat_map(|m| verify::module_paths(plan, m)))
            .filter_map(|p| plan.own.owner(&p))
            .map(|d| plan.dists[d].normalized.clone())
            .collect();
        found.push(Finding {
            what: format!("`{cmd}` fails on the output ({})", out_run.status),
            paths: Vec::new(),
            packages: Vec::new(),
            dists,
        });
    }
    found.sort_by(|a, b| a.what.cmp(&b.what));
    found.dedup_by(|a, b| a.what == b.what);
    found
}

/// A path the plan took away and that is not back yet.
struct Taken {
    /// "the plan removed (rule)", "went into the archive".
    how: String,
    zipped: bool,
    /// Inside a `*.dist-info` directory.
    dist_info: bool,
    dist: Option<usize>,
}

/// For each distribution, whether the plan removes every path it owns (pip, setuptools). Their
/// dist-info files are not evidence: `importlib.metadata.entry_points()` and `distributions()`
/// read every distribution's metadata to enumerate them, so a workload that never used pip
/// opens pip's `entry_points.txt` on the input; giving it back would only bring a broken
/// half-distribution back.
fn removed_whole(plan: &Plan) -> Vec<bool> {
    let mut kept = vec![false; plan.dists.len()];
    let mut owns = vec![false; plan.dists.len()];
    for (i, e) in plan.inv.entries.iter().enumerate() {
        if e.kind == Kind::Dir {
            continue; // directories have no actions: they go when what they hold goes
        }
        let Some(d) = plan.own.owner(&e.path) else {
            continue;
        };
        owns[d] = true;
        let removed = plan.fate[i].is_some_and(|a| {
            matches!(
                plan.actions[a].kind,
                ActionKind::Remove | ActionKind::RemoveAfterCompile
            )
        });
        if !removed {
            kept[d] = true;
        }
    }
    owns.iter().zip(kept).map(|(o, k)| *o && !k).collect()
}

fn taken(plan: &Plan, done: &Restore, path: &Path, failing: bool) -> Option<Taken> {
    if path.components().any(|c| c.as_os_str() == "__pycache__") {
        return None;
    }
    let i = plan
        .inv
        .entries
        .binary_search_by(|e| e.path.as_path().cmp(path))
        .ok()?;
    let dist = plan.own.owner(path);
    let dist_info = path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().ends_with(".dist-info"));
    if plan.zipped[i] {
        let back = dist.is_some_and(|d| done.unzip.contains(&d));
        return (!back).then(|| Taken {
            how: "went into the --zip-pure archive".to_string(),
            zipped: true,
            dist_info,
            dist,
        });
    }
    if plan.inv.entries[i].kind == Kind::Dir {
        return gone_dir(plan, done, i).then(|| Taken {
            how: "the plan removed with everything in it".to_string(),
            zipped: false,
            dist_info,
            dist,
        });
    }
    let a = plan.fate[i]?;
    let action = &plan.actions[a];
    let removed = match action.kind {
        ActionKind::Remove | ActionKind::Move(_) => true,
        ActionKind::RemoveAfterCompile => failing,
        ActionKind::Rewrite(..) => false,
    };
    (removed && !done.actions.contains(&a)).then(|| Taken {
        how: format!("the plan removed ({})", action.rule.id),
        zipped: false,
        dist_info,
        dist,
    })
}

/// Whether the directory at inventory index `dir` is gone from the output: it holds files and
/// the plan removed every one of them, none given back yet. A directory that keeps a file is
/// there (the import system lists every package directory it searches; that is no evidence for
/// what the plan removed beside the modules).
fn gone_dir(plan: &Plan, done: &Restore, dir: usize) -> bool {
    let root = &plan.inv.entries[dir].path;
    let mut files = 0;
    for (i, e) in plan.inv.entries.iter().enumerate().skip(dir + 1) {
        if !e.path.starts_with(root) {
            break;
        }
        if e.kind == Kind::Dir {
            continue;
        }
        files += 1;
        let unzipped = || {
            plan.own
                .owner(&e.path)
                .is_some_and(|d| done.unzip.contains(&d))
        };
        let removed = (plan.zipped[i] && !unzipped())
            || plan.fate[i].is_some_and(|a| {
                !done.actions.contains(&a)
                    && matches!(
                        plan.actions[a].kind,
                        ActionKind::Remove | ActionKind::RemoveAfterCompile | ActionKind::Move(_)
                    )
            });
        if !removed {
            return false;
        }
    }
    files > 0
}

/// A path inside the archive (`site-packages/_venvslim_pure.zip/pkg/data.json`) as the path it
/// had in site-packages; any other path as it is.
fn from_archive(plan: &Plan, path: &Path) -> PathBuf {
    if let Some(zip) = &plan.zip {
        if let Ok(inner) = path.strip_prefix(&zip.archive) {
            if inner.components().next().is_some() {
                return plan.venv.site_packages.join(inner);
            }
        }
    }
    path.to_path_buf()
}

fn is_module_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".py") || name.ends_with(".pyc")
}
