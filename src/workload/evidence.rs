//! From two recordings of a workload (on the input, on the output) to `verify::Finding`s.
//!
//! What counts, each pinned on the paths the plan took away (removed, moved, or put in the
//! `--zip-pure` archive) and not given back yet:
//! - a file the workload opened or a library it loaded, on the input or on the output, and a
//!   directory the output's run listed (a path inside the archive, which the output's run tried
//!   to open as a file, is its original path in site-packages);
//! - a module the input's run loaded from a file the plan took away, and the output's run did
//!   not load;
//! - when the output's run fails: the modules its `ModuleNotFoundError`s name (from the hook, and
//!   from its output), paths under the tree its output names (quoted or not), and, as the last
//!   resort, the distributions of the files in its traceback.
//!
//! What does not count: bytecode caches (`__pycache__`: the interpreter reads them when they are
//! there and compiles in memory when not), the sources `--bytecode sourceless` replaced with
//! their bytecode while the workload passes (reading them is a traceback or a warning printing
//! a line) and, when it fails, unless the output's run opened them (the input's run opens every
//! source it imports, and the output imports the bytecode), and modules imported from the
//! archive (the archive is meant to serve them).
//!
//! A module a failing output's run misses is first the file the input's run loaded it from (a
//! package's `__init__.py`, not its directory): what else the input's run used is evidence of
//! its own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Recording, Run};
use crate::dists::{Dist, Ownership};
use crate::inventory::{Inventory, Kind};
use crate::plan::{ActionKind, Plan};
use crate::verify::{self, Finding, Restore};

/// What `out_run` (the workload on the output) and `input` (its recording on the input) show
/// the output misses, given what was restored so far (`done`). Sorted by `what`.
pub fn findings(plan: &Plan, input: &Recording, out_run: &Run, done: &Restore) -> Vec<Finding> {
    let view = PlanView {
        plan,
        done,
        whole: removed_whole(plan),
    };
    collect(&view, input, out_run)
}

/// The same findings for `verify OUT --against VENV --run`, where no plan says what was taken:
/// a path is gone when the input's inventory has it and the output's does not. Nothing is
/// restored from these; they are reported.
pub fn compare(
    input_tree: &Layout,
    out: &Inventory,
    input: &Recording,
    out_run: &Run,
) -> Vec<Finding> {
    let view = TreeView::new(input_tree, out);
    collect(&view, input, out_run)
}

/// The input's layout, as `compare` needs it: its inventory, site-packages and who owns what.
pub struct Layout {
    /// The input's paths.
    pub inv: Inventory,
    /// Site-packages, relative to the root.
    pub site_packages: PathBuf,
    /// Its distributions.
    pub dists: Vec<Dist>,
    /// Which distribution owns which path.
    pub own: Ownership,
}

impl Layout {
    /// Walk the tree at `root` and read its distributions.
    pub fn scan(venv: &crate::venv::Venv) -> anyhow::Result<Layout> {
        let inv = Inventory::scan(&venv.root, &venv.site_packages)?;
        let dists = crate::dists::discover(&venv.root, &venv.site_packages, &inv);
        let own = Ownership::new(&dists, &venv.site_packages);
        Ok(Layout {
            inv,
            site_packages: venv.site_packages.clone(),
            dists,
            own,
        })
    }
}

/// What the output lacks of the input, seen through a plan or through two inventories.
trait Lacks {
    /// `path` (relative to the root, as in the input) was taken from the output and is not
    /// back; `failing`: the workload fails on the output (sources replaced by bytecode count
    /// only then). `collect` has already set bytecode caches and the metadata of distributions
    /// gone whole aside.
    fn taken(&self, path: &Path, failing: bool) -> Option<Taken>;
    /// Per distribution (index as in the input's dists): nothing of it is left in the output.
    fn whole(&self) -> &[bool];
    /// A path inside the output's archive as its path in site-packages.
    fn unarchived(&self, path: &Path) -> PathBuf;
    /// The input's files of a dotted module.
    fn module_paths(&self, dotted: &str) -> Vec<PathBuf>;
    /// The package directory of a path.
    fn package_of(&self, path: &Path) -> Option<PathBuf>;
    /// The normalized name of the distribution that owns a path.
    fn owner(&self, path: &Path) -> Option<String>;
}

fn collect(view: &dyn Lacks, input: &Recording, out_run: &Run) -> Vec<Finding> {
    let cmd = &out_run.command;
    let passed = out_run.passed;
    // Never evidence, whatever the view: bytecode caches (the interpreter reads them when they
    // are there and compiles in memory when not), and the dist-info files of a distribution
    // gone whole (see `gone_whole`).
    let taken = |path: &Path, failing: bool| {
        if path.components().any(|c| c.as_os_str() == "__pycache__") {
            return None;
        }
        let taken = view.taken(path, failing)?;
        let whole = taken.d.is_some_and(|d| view.whole()[d]);
        (!(whole && in_dist_info(path))).then_some(taken)
    };
    let mut found = Vec::new();
    let mut guesses = Vec::new();
    let mut push = |what: String, path: PathBuf, dist: Option<String>| {
        found.push(Finding {
            what,
            packages: view.package_of(&path).into_iter().collect(),
            paths: vec![path],
            dists: dist.into_iter().collect(),
        });
    };
    // The output's run opening a path inside the archive as a file failed there (zipimport
    // serves modules, not paths); what the input's run read of a zipped package counts only if
    // the output's run fails too: a package that reads its data through the loader
    // (`importlib.resources`) opens the files on the input and reads them from the archive on
    // the output, and is fine.
    let out_touched = out_run
        .record
        .touched
        .iter()
        .map(|(p, k)| (view.unarchived(p), *k, true));
    // A directory only the input's run listed is no evidence: `pkgutil.iter_modules()` lists
    // every directory in site-packages, `os.walk` every one under it, and a workload that did so
    // and passes on the output has shown no need for them (pip and setuptools came back whole
    // for it). The output's run listing a directory that is gone is: its code looked there.
    let touched: BTreeSet<(PathBuf, &str, bool)> = input
        .touched
        .iter()
        .filter(|(_, k)| **k != "list")
        .map(|(p, k)| (p.clone(), *k, false))
        .chain(out_touched)
        .collect();
    for (path, kind, on_output) in &touched {
        // A source `--bytecode sourceless` replaced counts only if the failing output's run
        // opened it: the input's run opens every source it imports when there is no
        // `__pycache__` (a venv installed without compiling), and the output imports the
        // bytecode instead.
        let Some(taken) = taken(path, !passed && *on_output) else {
            continue;
        };
        // A module's own file in the archive is what the archive is for; its data is not,
        // when the output's run could not read it.
        if taken.zipped && (is_module_file(path) || (passed && !on_output)) {
            continue;
        }
        let verb = match *kind {
            "list" => "listed",
            "dlopen" => "loaded",
            _ => "opened",
        };
        let what = format!("`{cmd}` {verb} {}, which {}", path.display(), taken.how);
        // Only the input's run opened it, and the output's run failed: maybe for this, maybe for
        // another reason (a package reading through the loader opens its files on the input
        // only, and is fine). A guess at the distribution level, tried after what the failure
        // names.
        if taken.zipped && !on_output {
            guesses.push(Finding {
                what,
                paths: Vec::new(),
                packages: Vec::new(),
                dists: taken.dist.into_iter().collect(),
            });
            continue;
        }
        push(what, path.clone(), taken.dist);
    }
    for (name, path) in &input.modules {
        if out_run.record.modules.contains_key(name) {
            continue;
        }
        // Never a source `--bytecode sourceless` replaced: its bytecode imports, so a failing
        // output's run that did not import it stopped before it, for another reason.
        if let Some(taken) = taken(path, false).filter(|t| !t.zipped) {
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
            // The file the input's run loaded it from (a package's `__init__.py`) rather than
            // all the input has of it: what else the input's run used of a package is a finding
            // of its own, and the whole directory is the next level.
            let paths = match input.modules.get(name).filter(|p| taken(p, true).is_some()) {
                Some(file) => vec![file.clone()],
                None => view.module_paths(name),
            };
            for path in paths {
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
            let path = view.unarchived(&path);
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
            .map(|p| view.unarchived(p))
            .chain(missing.iter().flat_map(|m| view.module_paths(m)))
            .filter_map(|p| view.owner(&p))
            .collect();
        // The distributions are part of what this finding is: a second failure elsewhere, once
        // the first is repaired, is a new finding with its own levels, not the same one seen
        // again.
        let suspects: Vec<&str> = dists.iter().map(String::as_str).collect();
        found.push(Finding {
            what: format!(
                "`{cmd}` fails on the output ({}; traceback in {})",
                out_run.status,
                if suspects.is_empty() {
                    "no distribution".to_string()
                } else {
                    suspects.join(", ")
                }
            ),
            paths: Vec::new(),
            packages: Vec::new(),
            dists,
        });
    }
    found.extend(guesses);
    found.sort_by(|a, b| a.what.cmp(&b.what));
    found.dedup_by(|a, b| a.what == b.what);
    found
}

/// A path the output lacks and that is not back yet.
struct Taken {
    /// "the plan removed (rule)", "went into the --zip-pure archive", "is not in the output".
    how: String,
    /// In the archive (its module files are not evidence: the archive serves them).
    zipped: bool,
    /// The distribution that owns it: its index, and its normalized name.
    d: Option<usize>,
    dist: Option<String>,
}

/// Inside a `*.dist-info` directory.
fn in_dist_info(path: &Path) -> bool {
    path.components()
        .any(|c| c.as_os_str().to_string_lossy().ends_with(".dist-info"))
}

/// `slim --run`: the plan says what was taken, `done` what came back.
struct PlanView<'a> {
    plan: &'a Plan,
    done: &'a Restore,
    /// Per distribution: the plan removes all of it.
    whole: Vec<bool>,
}

impl Lacks for PlanView<'_> {
    fn taken(&self, path: &Path, failing: bool) -> Option<Taken> {
        let (plan, done) = (self.plan, self.done);
        let i = plan.inv.index(path)?;
        let d = plan.own.owner(path);
        let dist = d.map(|d| plan.dists[d].normalized.clone());
        if plan.zipped[i] {
            let back = d.is_some_and(|d| done.unzip.contains(&d));
            return (!back).then(|| Taken {
                how: "went into the --zip-pure archive".to_string(),
                zipped: true,
                d,
                dist,
            });
        }
        if plan.inv.entries[i].kind == Kind::Dir {
            return gone_dir(plan, done, i).then(|| Taken {
                how: "the plan removed with everything in it".to_string(),
                zipped: false,
                d,
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
            d,
            dist,
        })
    }

    fn whole(&self) -> &[bool] {
        &self.whole
    }

    fn unarchived(&self, path: &Path) -> PathBuf {
        match &self.plan.zip {
            Some(zip) => in_site_packages(path, &zip.archive, &self.plan.venv.site_packages),
            None => path.to_path_buf(),
        }
    }

    fn module_paths(&self, dotted: &str) -> Vec<PathBuf> {
        verify::module_paths(self.plan, dotted)
    }

    fn package_of(&self, path: &Path) -> Option<PathBuf> {
        verify::package_of(self.plan, path)
    }

    fn owner(&self, path: &Path) -> Option<String> {
        let d = self.plan.own.owner(path)?;
        Some(self.plan.dists[d].normalized.clone())
    }
}

/// `verify --against --run`: what the input has and the output does not.
struct TreeView<'a> {
    input: &'a Layout,
    out: &'a Inventory,
    archive: PathBuf,
    /// Whether the output has a `--zip-pure` archive.
    zipped: bool,
    /// Per distribution: the output has none of its files.
    whole: Vec<bool>,
}

impl<'a> TreeView<'a> {
    fn new(input: &'a Layout, out: &'a Inventory) -> TreeView<'a> {
        let archive = input.site_packages.join(crate::archive::ARCHIVE);
        let zipped = out.find(&archive).is_some_and(|e| e.kind == Kind::File);
        let whole = gone_whole(&input.inv, &input.own, input.dists.len(), |_, e| {
            out.find(&e.path).is_none()
        });
        TreeView {
            input,
            out,
            archive,
            zipped,
            whole,
        }
    }
}

impl Lacks for TreeView<'_> {
    fn taken(&self, path: &Path, failing: bool) -> Option<Taken> {
        self.input.inv.find(path)?;
        let d = self.input.own.owner(path);
        let dist = d.map(|d| self.input.dists[d].normalized.clone());
        // A directory is gone when the output has no such directory (with `--bytecode
        // sourceless` it holds new `name.pyc` files the input did not).
        let gone = self.out.find(path).is_none();
        if !gone {
            return None;
        }
        // A source replaced by its bytecode beside it (`--bytecode sourceless`).
        if !failing
            && path.extension().is_some_and(|x| x == "py")
            && self.out.find(&path.with_extension("pyc")).is_some()
        {
            return None;
        }
        let zipped = self.zipped && path.starts_with(&self.input.site_packages);
        Some(Taken {
            how: if zipped {
                "is not on disk in the output (the --zip-pure archive may hold it)".to_string()
            } else {
                "is not in the output".to_string()
            },
            zipped,
            d,
            dist,
        })
    }

    fn whole(&self) -> &[bool] {
        &self.whole
    }

    fn unarchived(&self, path: &Path) -> PathBuf {
        in_site_packages(path, &self.archive, &self.input.site_packages)
    }

    fn module_paths(&self, dotted: &str) -> Vec<PathBuf> {
        verify::module_paths_in(&self.input.inv, &self.input.site_packages, dotted)
    }

    fn package_of(&self, path: &Path) -> Option<PathBuf> {
        verify::package_in(&self.input.inv, &self.input.site_packages, path)
    }

    fn owner(&self, path: &Path) -> Option<String> {
        let d = self.input.own.owner(path)?;
        Some(self.input.dists[d].normalized.clone())
    }
}

/// For each distribution, whether the plan removes every file it owns (pip, setuptools).
fn removed_whole(plan: &Plan) -> Vec<bool> {
    gone_whole(&plan.inv, &plan.own, plan.dists.len(), |i, _| {
        plan.fate[i].is_some_and(|a| {
            matches!(
                plan.actions[a].kind,
                ActionKind::Remove | ActionKind::RemoveAfterCompile
            )
        })
    })
}

/// For each of `n` distributions, whether it owns files and every one of them is `gone`
/// (inventory index, entry). Their dist-info files are not evidence:
/// `importlib.metadata.entry_points()` and `distributions()` read every distribution's metadata
/// to enumerate them, so a workload that never used pip opens pip's `entry_points.txt` on the
/// input; giving it back would only bring a broken half-distribution back.
fn gone_whole(
    inv: &Inventory,
    own: &Ownership,
    n: usize,
    gone: impl Fn(usize, &crate::inventory::Entry) -> bool,
) -> Vec<bool> {
    let mut kept = vec![false; n];
    let mut owns = vec![false; n];
    for (i, e) in inv.entries.iter().enumerate() {
        if e.kind == Kind::Dir {
            continue; // directories go when what they hold goes
        }
        if let Some(d) = own.owner(&e.path) {
            owns[d] = true;
            kept[d] |= !gone(i, e);
        }
    }
    owns.iter().zip(kept).map(|(o, k)| *o && !k).collect()
}

/// Whether the directory at inventory index `dir` is gone from the output: it holds files and
/// the plan removed every one of them, none given back yet. A source that `--bytecode
/// sourceless` replaces leaves its `name.pyc` in the same directory: it is not gone. A
/// directory that keeps a file is there (the import system lists every package directory it
/// searches; that is no evidence for what the plan removed beside the modules).
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
                        ActionKind::Remove | ActionKind::Move(_)
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
fn in_site_packages(path: &Path, archive: &Path, site_packages: &Path) -> PathBuf {
    match path.strip_prefix(archive) {
        Ok(inner) if inner.components().next().is_some() => site_packages.join(inner),
        _ => path.to_path_buf(),
    }
}

fn is_module_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".py") || name.ends_with(".pyc")
}
