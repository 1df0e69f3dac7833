//! `slim --verify` and `slim --run` end to end: check the slim tree, give back the smallest set
//! that may fix what broke, check again.
//!
//! Every check (the probe's regressions, a workload's evidence) comes back as `Finding`s, each
//! with three sets of what to give back, smallest first: the paths it names (the module in
//! `No module named 'django.test'`, the data file a workload opened), their packages, and the
//! distributions responsible. A finding gets its first level that gives anything back; if it is
//! still there after the next check, its next level. Restoring the missing module rather than its
//! whole distribution matters: a Django slimmed with `--remove 'django/test/**'` needs the 40
//! files of `django/test`, not the 1,226 translation catalogues the same distribution lost.
//!
//! Why rounds: a restore can reveal the next failure behind it, and a finding's paths are a best
//! guess from an error message. So the loop goes on while each round gives back something new,
//! at most `MAX_ROUNDS` restores; what still fails after that is reported, not hidden.
//!
//! Each round decides what to give back here (`restore::decide_paths`, `restore::decide`) and
//! has the caller write it (`PutBack`: `apply::unzip` and `apply::restore`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::restore::{decide, decide_paths, Restore};
use super::{probe, regressions, Options, Probe, Regression, Restored};
use crate::inventory::{Inventory, Kind};
use crate::plan::Plan;
use crate::safepath;

/// Restores at most (each followed by a check of the tree).
pub const MAX_ROUNDS: usize = 3;

/// One thing that broke, with what may fix it, smallest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was seen, in one line; also its identity across rounds (the same evidence seen
    /// again moves to the next level).
    pub what: String,
    /// First: the paths it names (relative to the root; a directory means all of it).
    #[serde(serialize_with = "crate::jsonpath::lossy_paths")]
    pub paths: Vec<PathBuf>,
    /// Then: the packages (directories) those paths or the failing module live in.
    #[serde(serialize_with = "crate::jsonpath::lossy_paths")]
    pub packages: Vec<PathBuf>,
    /// Last: the distributions responsible (normalized).
    pub dists: BTreeSet<String>,
}

/// How much one round gave back for one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// 1-based restore round.
    pub round: usize,
    /// The finding's `what`.
    pub what: String,
    /// "path", "package" or "distribution".
    pub level: &'static str,
    /// Files put back for it in this round.
    pub files: usize,
}

/// What `slim --verify` (and `--run`) found, put back, and could not repair.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Repair {
    /// What the probe found broken before any repair.
    pub found: Vec<Regression>,
    /// What was put back, sorted by path.
    pub restored: Vec<Restored>,
    /// Distributions something was put back for (normalized).
    pub restored_dists: BTreeSet<String>,
    /// What the probe still finds broken after the last round (empty: repaired).
    pub remaining: Vec<Regression>,
    /// Checks of the slim tree that were run (the first finds, the others check a repair).
    pub rounds: usize,
    /// What each round gave back, for which finding, at which level.
    pub steps: Vec<Step>,
    /// Findings of the other checks (`--run` workloads) in the first round.
    pub found_other: Vec<Finding>,
    /// Findings of the other checks after the last round (empty: they pass).
    pub remaining_other: Vec<Finding>,
    /// The last probe of the slim tree.
    pub last: Probe,
}

/// Writes what a round decided to give back into the tree, and returns what it put back. Given
/// by the caller, because apply is the only code that writes: `apply::unzip` for
/// `Restore::unzip` first, then `apply::restore` for the actions and ELF files.
pub type PutBack<'a> = dyn FnMut(&Restore) -> Result<Vec<Restored>> + 'a;

/// A check besides the probe (the `--run` workloads): given what was given back so far, what
/// still breaks.
pub type Check<'a> = dyn FnMut(&Restore) -> Result<Vec<Finding>> + 'a;

/// Probe `out` (the tree `plan` was applied to), compare with `original` (the input venv's
/// probe), restore from the input with `apply::restore` (not the `--zip-pure` archive), and
/// probe again. RECORD files of restored distributions are left as the run wrote them: the
/// caller rewrites them afterwards.
pub fn repair(plan: &Plan, out: &Path, original: &Probe, opts: &Options) -> Result<Repair> {
    repair_with(
        plan,
        out,
        original,
        opts,
        &mut |what| crate::apply::restore(plan, out, &what.actions, &what.elf),
        None,
    )
}

/// `repair`, with the caller writing what each round decided (`put_back`) and, optionally,
/// another check run after every probe (`other`: the `--run` workloads).
pub fn repair_with(
    plan: &Plan,
    out: &Path,
    original: &Probe,
    opts: &Options,
    put_back: &mut PutBack,
    mut other: Option<&mut Check>,
) -> Result<Repair> {
    let mut done = Restore::default();
    let mut last = probe(out, opts)?;
    let found = broken(plan, original, &last);
    let mut remaining = found.clone();
    let mut check_other = |done: &Restore| -> Result<Vec<Finding>> {
        let mut found = match other.as_mut() {
            Some(check) => check(done)?,
            None => Vec::new(),
        };
        found.sort_by(|a, b| a.what.cmp(&b.what));
        Ok(found)
    };
    let found_other = check_other(&done)?;
    let mut remaining_other = found_other.clone();
    let mut restored = Vec::new();
    let mut steps = Vec::new();
    let mut level: BTreeMap<String, usize> = BTreeMap::new();
    let mut rounds = 1;
    while rounds <= MAX_ROUNDS {
        let findings: Vec<Finding> = remaining
            .iter()
            .map(|r| finding(plan, out, &last, r))
            .chain(remaining_other.iter().cloned())
            .collect();
        // Each finding's next level that gives anything back; the round takes only the lowest
        // of those levels, so a finding that names a file is tried before one that can only
        // name a distribution (a failing workload's traceback) costs a whole distribution.
        let next: Vec<Option<(usize, Restore)>> = findings
            .iter()
            .map(|f| {
                let from = level.get(&f.what).copied().unwrap_or(0);
                (from..3).find_map(|l| {
                    let want = match l {
                        0 => decide_paths(plan, &f.paths),
                        1 => decide_paths(plan, &f.packages),
                        _ => decide(plan, &f.dists),
                    };
                    let new = want.without(&done);
                    (!new.is_empty()).then_some((l, new))
                })
            })
            .collect();
        let Some(lowest) = next.iter().flatten().map(|(l, _)| *l).min() else {
            break; // nothing new to try
        };
        let mut take = Restore::default();
        let mut round_steps = Vec::new();
        for (f, next) in findings.iter().zip(next) {
            let Some((l, want)) = next.filter(|(l, _)| *l == lowest) else {
                continue;
            };
            level.insert(f.what.clone(), l + 1);
            let new = want.minus(&mut done);
            if !new.is_empty() {
                round_steps.push((f.what.clone(), LEVELS[l], new.clone()));
                take.extend(new);
            }
        }
        if take.is_empty() {
            break; // nothing new to try
        }
        let back = put_back(&take)?;
        for (what, level, new) in round_steps {
            let files = back.iter().filter(|r| new.covers(plan, &r.path)).count();
            steps.push(Step {
                round: rounds,
                what,
                level,
                files,
            });
        }
        restored.extend(back);
        last = probe(out, opts)?;
        remaining = broken(plan, original, &last);
        remaining_other = check_other(&done)?;
        rounds += 1;
        if remaining.is_empty() && remaining_other.is_empty() {
            break;
        }
    }
    restored.sort_by(|a, b| a.path.cmp(&b.path));
    restored.dedup();
    let restored_dists = restored.iter().map(|r| r.dist.clone()).collect();
    Ok(Repair {
        found,
        restored,
        restored_dists,
        remaining,
        rounds,
        steps,
        found_other,
        remaining_other,
        last,
    })
}

const LEVELS: [&str; 3] = ["path", "package", "distribution"];

/// The probe's regressions, less the modules `--prune` cut on purpose.
fn broken(plan: &Plan, original: &Probe, slim: &Probe) -> Vec<Regression> {
    let mut found = regressions(original, slim);
    found.retain(|r| !pruned_on_purpose(plan, slim, r));
    found
}

/// A module `--prune` cut on purpose: not among the output's modules at all (one that is there
/// and fails is breakage), and inside a directory the plan cut. The workloads are the evidence
/// for the cut, and they run on the output; a whole distribution cut is gone from the probe's
/// distributions too, which `regressions` already accepts.
fn pruned_on_purpose(plan: &Plan, slim: &Probe, r: &Regression) -> bool {
    if plan.cuts.is_empty() {
        return false;
    }
    match r.kind {
        // Gone, not broken: absent from the output, or failing only because it (or what it
        // imports) was cut. A kept module that misses a cut one is breakage, and comes back.
        "import" => {
            let missing = missing_modules(&r.error);
            in_cut(plan, &r.name)
                && (!slim.modules.contains_key(&r.name)
                    || (!missing.is_empty() && missing.iter().all(|m| in_cut(plan, m))))
        }
        // A distribution cut whole that shares a namespace package with one that stays: its
        // modules are gone, and so is its dist-info, on purpose.
        "metadata" | "entry-points" => plan.cuts.iter().any(|c| {
            c.module.is_none()
                && c.dist.is_some_and(|d| {
                    c.path == plan.dists[d].dir
                        && r.dist.as_deref() == Some(plan.dists[d].normalized.as_str())
                })
        }),
        "script" => plan.venv.bin.as_ref().is_some_and(|bin| {
            let script = bin.join(&r.name);
            plan.cuts.iter().any(|c| c.path == script)
        }),
        _ => false,
    }
}

/// Whether `--prune` cut a module: its file, or a directory it is in.
fn in_cut(plan: &Plan, dotted: &str) -> bool {
    let mut path = plan.venv.site_packages.clone();
    path.extend(dotted.split('.'));
    plan.cuts.iter().any(|c| match &c.module {
        Some(m) => m == dotted,
        None => path.starts_with(&c.path),
    })
}

/// A probe regression as a finding: the modules and files its error names, their packages (or
/// the failing module's), and its suspects.
fn finding(plan: &Plan, out: &Path, slim: &Probe, r: &Regression) -> Finding {
    let mut paths = Vec::new();
    if r.kind == "import" {
        for missing in missing_modules(&r.error) {
            paths.extend(module_paths(plan, &missing));
        }
        if !slim.modules.contains_key(&r.name) {
            paths.extend(module_paths(plan, &r.name));
        }
    }
    if r.kind == "script" {
        if let Some(bin) = &plan.venv.bin {
            paths.push(bin.join(&r.name));
        }
    }
    // Metadata that broke (`--dist-info strip`, `licenses`): the dist-info directory, not the
    // whole distribution.
    if r.kind == "metadata" || r.kind == "entry-points" {
        let dist = r.dist.as_deref();
        paths.extend(
            plan.dists
                .iter()
                .filter(|d| Some(d.normalized.as_str()) == dist)
                .map(|d| d.dir.clone()),
        );
    }
    paths.extend(quoted_paths(&r.error, out));
    paths.sort();
    paths.dedup();
    let mut packages: Vec<PathBuf> = paths.iter().filter_map(|p| package_of(plan, p)).collect();
    if r.kind == "import" {
        if let Some(dir) = module_paths(plan, &r.name)
            .first()
            .and_then(|p| package_of(plan, p))
        {
            packages.push(dir);
        }
    }
    packages.sort();
    packages.dedup();
    Finding {
        what: format!("{} {}: {}", r.kind, r.name, r.error),
        paths,
        packages,
        dists: r.suspects.clone(),
    }
}

/// Module names an import error names as missing, every occurrence: `a.b` in
/// `No module named 'a.b'`, and `a.b` in `cannot import name 'b' from 'a'` (`from a import b`
/// where `b` is a submodule that is gone; if it was an attribute, `a.b` has no files and
/// nothing comes of it).
pub fn missing_modules(error: &str) -> Vec<String> {
    let dotted = |name: &str| !name.is_empty() && name.split('.').all(is_identifier);
    let mut out = Vec::new();
    for piece in error.split("No module named '").skip(1) {
        if let Some(name) = piece.split('\'').next().filter(|n| dotted(n)) {
            out.push(name.to_string());
        }
    }
    for piece in error.split("cannot import name '").skip(1) {
        let mut quoted = piece.split('\'');
        let (Some(name), Some(from), Some(module)) = (quoted.next(), quoted.next(), quoted.next())
        else {
            continue;
        };
        if from == " from " && is_identifier(name) && dotted(module) {
            out.push(format!("{module}.{name}"));
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Paths under `root` named in a message (`No such file or directory: '/out/lib/...'`),
/// relative to it: strings between quotes that start with `root/`, then words that do (an
/// assertion or a log line names a path without quotes: `AssertionError: /out/.../cacert.pem`
/// from `assert os.path.exists(certifi.where())`, a stat no audit event records), with `.` and
/// `..` folded by spelling (`sklearn/_build_utils/../__init__.py` is `sklearn/__init__.py`), and
/// dropped if that leaves the tree.
pub fn quoted_paths(text: &str, root: &Path) -> Vec<PathBuf> {
    let Some(prefix) = root
        .to_str()
        .map(|r| format!("{}/", r.trim_end_matches('/')))
    else {
        return Vec::new();
    };
    let folded = |rel: &str| {
        safepath::resolve_in_tree(Path::new(""), Path::new(rel))
            .and_then(|rel| safepath::plain_relative(&rel))
    };
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        for (i, piece) in text.split(quote).enumerate() {
            if i % 2 == 1 {
                if let Some(rel) = piece.strip_prefix(&prefix).and_then(folded) {
                    out.push(rel);
                }
            }
        }
    }
    let words = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c| "'\"()[]{},;:".contains(c)));
    for rel in words.filter_map(|w| w.strip_prefix(&prefix).and_then(folded)) {
        if !out.contains(&rel) {
            out.push(rel);
        }
    }
    out
}

/// The input's files and directories for a dotted module name: `a/b/` (a package),
/// `a/b.py`, `a/b.pyc` or `a/b.<tag>.so` in site-packages. The longest prefix of the name
/// that has any (`a.b.c` missing with all of `a/b/` gone gives `a/b/`).
pub fn module_paths(plan: &Plan, dotted: &str) -> Vec<PathBuf> {
    module_paths_in(&plan.inv, &plan.venv.site_packages, dotted)
}

/// `module_paths` in an inventory whose site-packages is `site_packages`.
pub fn module_paths_in(inv: &Inventory, site_packages: &Path, dotted: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = dotted.split('.').collect();
    for n in (1..=parts.len()).rev() {
        let mut dir = site_packages.to_path_buf();
        dir.extend(&parts[..n - 1]);
        let stem = parts[n - 1];
        let found: Vec<PathBuf> = inv
            .children(&dir)
            .filter(|e| {
                let name = e.path.file_name().map(|n| n.to_string_lossy());
                name.is_some_and(|name| {
                    (e.kind == Kind::Dir && name == stem)
                        || (e.kind != Kind::Dir
                            && name.split('.').next() == Some(stem)
                            && module_suffix(&name))
                })
            })
            .map(|e| e.path.clone())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

fn module_suffix(name: &str) -> bool {
    name.ends_with(".py") || name.ends_with(".pyc") || name.ends_with(".so")
}

/// The package a path lives in: the directory itself for a directory, else its parent; never
/// site-packages itself or above it (that is not a package but the whole venv).
pub fn package_of(plan: &Plan, path: &Path) -> Option<PathBuf> {
    package_in(&plan.inv, &plan.venv.site_packages, path)
}

/// `package_of` in an inventory whose site-packages is `site_packages`.
pub fn package_in(inv: &Inventory, site_packages: &Path, path: &Path) -> Option<PathBuf> {
    let dir = match inv.find(path) {
        Some(e) if e.kind == Kind::Dir => path,
        _ => path.parent()?,
    };
    (dir.starts_with(site_packages) && dir != site_packages).then(|| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_modules_from_import_errors() {
        assert_eq!(
            missing_modules("ModuleNotFoundError: No module named 'django.test'"),
            ["django.test"]
        );
        assert_eq!(
            missing_modules(
                "ImportError: cannot import name 'helper' from 'beta' (/x/beta/__init__.py)"
            ),
            ["beta.helper"]
        );
        assert!(missing_modules("No module named 'a b'").is_empty());
        assert!(missing_modules("ImportError: something else").is_empty());
    }

    #[test]
    fn quoted_paths_only_plain_ones_under_the_root() {
        let got = quoted_paths(
            "FileNotFoundError: [Errno 2] No such file or directory: '/out/lib/a.json' and \"/out/../etc/passwd\" and '/elsewhere/x' and '/out/lib/b/../c/./d.py' and '/out/lib/../../x'\nAssertionError: /out/lib/e.pem (/out/../x, /outer/y)",
            Path::new("/out"),
        );
        assert_eq!(
            got,
            [
                PathBuf::from("lib/a.json"),
                PathBuf::from("lib/c/d.py"),
                PathBuf::from("lib/e.pem")
            ]
        );
    }
}
