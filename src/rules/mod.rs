//! The rule tables and the classification of every path in the inventory.
//!
//! Each concern has its own file with its rules as data: an id, a category, the reason the
//! removal is safe and, where one exists, the evidence (a package it breaks if done wrong, a
//! PEP). The table is the documentation: `venvslim rules` prints it. Everything here is pure:
//! it reads the inventory and returns verdicts; `guard.rs` then rescues modules that kept code
//! imports, and `plan.rs` turns the verdicts into actions.

pub mod build;
pub mod bytecode;
pub mod distinfo;
pub mod guard;
pub mod installers;
pub mod junk;
pub mod prune;
pub mod scripts;
pub mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{BytecodeMode, DistInfoMode};
use crate::dists::{Dist, Ownership};
use crate::inventory::{Entry, Inventory, Kind};
use crate::settings::Settings;
use crate::venv::{PythonVersion, Venv};

/// The kind of thing a rule removes: the grouping of the summary and of `venvslim rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// `.pyc` files and `__pycache__`.
    Bytecode,
    /// Test suites shipped inside packages.
    Tests,
    /// READMEs, changelogs, documentation and example directories, man pages.
    Docs,
    /// Type stubs (`.pyi`, `py.typed`), read by type checkers only.
    Stubs,
    /// C, C++ and Cython sources and headers, read by compilers only.
    Sources,
    /// Translation sources (`.po`); the compiled `.mo` stays.
    Translations,
    /// Source maps (`.js.map`, `.css.map`), for browser devtools.
    SourceMaps,
    /// Windows launchers (`.exe`) that cannot run on Linux.
    Windows,
    /// Static libraries (`.a`), read by linkers only.
    StaticLibs,
    /// pip, setuptools, wheel: needed to install, not to run.
    Installers,
    /// Modules that only run while a package is built (numpy.distutils, cffi's setuptools
    /// plugin, setup.py scripts).
    Build,
    /// What the `--run` workloads did not use (`--prune`).
    Prune,
    /// `bin/activate*` scripts, for an interactive shell.
    Activation,
    /// Console scripts in `bin/` not kept with `--keep-bin`.
    Scripts,
    /// dist-info metadata (`--dist-info`).
    DistInfo,
    /// Paths the user named with `--remove`.
    User,
}

impl Category {
    /// The human name shown in the summary and the rule table.
    pub fn label(self) -> &'static str {
        match self {
            Category::Bytecode => "bytecode",
            Category::Tests => "tests",
            Category::Docs => "docs",
            Category::Stubs => "type stubs",
            Category::Sources => "C sources/headers",
            Category::Translations => "translation sources",
            Category::SourceMaps => "source maps",
            Category::Windows => "Windows launchers",
            Category::StaticLibs => "static libraries",
            Category::Installers => "installers",
            Category::Build => "build-time modules",
            Category::Prune => "unused by the workload (--prune)",
            Category::Activation => "activation scripts",
            Category::Scripts => "console scripts (--keep-bin)",
            Category::DistInfo => "dist-info",
            Category::User => "--remove",
        }
    }
}

/// How the import guard treats what a rule removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Not code, or the user asked: no guard.
    None,
    /// Keep any module that kept code imports.
    Module,
    /// Keep the whole distribution if kept code imports any of its top-level modules.
    Distribution,
}

/// One removal rule: a row of the rule table, cited by every verdict it gives.
#[derive(Debug)]
pub struct Rule {
    /// Stable dotted name (`tests.dir`), shown in plans and reports.
    pub id: &'static str,
    /// The group it is counted in.
    pub category: Category,
    /// How the import guard treats what it removes.
    pub guard: Guard,
    /// Why removing it is safe.
    pub reason: &'static str,
    /// What breaks if done wrong, or the spec that allows it.
    pub evidence: &'static str,
}

/// A file kept but rewritten smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// Keep only the RFC 822 header block of METADATA (drop the long description).
    MetadataHeader,
    /// Rewrite RECORD to list what is left.
    Record,
}

/// What happens to one inventory entry, and which rule said so.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// No rule matched.
    Keep,
    /// Kept because a user or allowlist said so: the import guard has nothing to do.
    Protected,
    /// Delete it.
    Remove(&'static Rule),
    /// Keep it, rewritten.
    Rewrite(&'static Rule, Rewrite),
    /// Move to another path (relative to the root), e.g. licences out of a removed dist-info.
    Move(&'static Rule, PathBuf),
}

impl Verdict {
    /// Whether the path is still there (possibly rewritten) after the run.
    pub fn is_kept(&self) -> bool {
        matches!(
            self,
            Verdict::Keep | Verdict::Protected | Verdict::Rewrite(..)
        )
    }
}

/// The rule behind every `--remove` match.
pub static USER_REMOVE: Rule = Rule {
    id: "user.remove",
    category: Category::User,
    guard: Guard::None,
    reason: "matched a --remove glob",
    evidence: "you asked for it; the import guard does not override it",
};

/// What every rule may look at.
pub struct Ctx<'a> {
    /// The venv being slimmed.
    pub venv: &'a Venv,
    /// The validated options.
    pub settings: &'a Settings,
    /// Every path under the root.
    pub inv: &'a Inventory,
    /// The installed distributions.
    pub dists: &'a [Dist],
    /// Which distribution (index into `dists`) owns each path, from RECORD.
    pub own: &'a Ownership,
    /// Distributions left untouched by --keep-package.
    pub kept_dists: HashSet<usize>,
    /// Installer distributions (pip, setuptools, wheel) present.
    pub installer_dists: HashSet<usize>,
    /// Directories (relative to root) holding an `__init__.py`: importable packages.
    pub packages: HashSet<PathBuf>,
    /// Every `.py` file (relative to root), to tell a sourceless `.pyc` from a stale one.
    pub py_files: HashSet<PathBuf>,
}

/// One path being classified.
pub struct Item<'a> {
    /// The inventory entry.
    pub entry: &'a Entry,
    /// Relative to site-packages, when inside it.
    pub sp_rel: Option<&'a Path>,
    /// The owning distribution (index into `Ctx::dists`), when RECORD lists it.
    pub owner: Option<usize>,
}

impl Item<'_> {
    /// The file name.
    pub fn name(&self) -> &str {
        self.entry.name()
    }
    /// The file name in ASCII lower case, for case-insensitive matches.
    pub fn lower_name(&self) -> String {
        self.entry.name().to_ascii_lowercase()
    }
    /// Parent directories inside site-packages, outermost first.
    pub fn sp_dirs(&self) -> impl Iterator<Item = &str> {
        let parent = self.sp_rel.and_then(Path::parent);
        parent
            .into_iter()
            .flat_map(|p| p.components())
            .filter_map(|c| c.as_os_str().to_str())
    }
}

impl<'a> Ctx<'a> {
    /// Gather what the rules share: kept and installer distributions, package directories and
    /// `.py` files, computed once.
    pub fn new(
        venv: &'a Venv,
        settings: &'a Settings,
        inv: &'a Inventory,
        dists: &'a [Dist],
        own: &'a Ownership,
    ) -> Ctx<'a> {
        let kept_dists = dists
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                settings
                    .keep_packages
                    .iter()
                    .any(|k| k.matches(&d.normalized, &d.version))
            })
            .map(|(i, _)| i)
            .collect();
        let installer_dists = dists
            .iter()
            .enumerate()
            .filter(|(_, d)| installers::is_installer(&d.normalized))
            .map(|(i, _)| i)
            .collect();
        let mut packages = HashSet::new();
        let mut py_files = HashSet::new();
        for e in inv.entries.iter().filter(|e| e.kind == Kind::File) {
            if e.name() == "__init__.py" {
                if let Some(p) = e.path.parent() {
                    packages.insert(p.to_path_buf());
                }
            }
            if e.name().ends_with(".py") {
                py_files.insert(e.path.clone());
            }
        }
        Ctx {
            venv,
            settings,
            inv,
            dists,
            own,
            kept_dists,
            installer_dists,
            packages,
            py_files,
        }
    }

    /// The venv's Python version.
    pub fn python(&self) -> PythonVersion {
        self.venv.python
    }
    /// The `--bytecode` mode.
    pub fn bytecode(&self) -> BytecodeMode {
        self.settings.bytecode
    }
    /// The `--dist-info` mode.
    pub fn dist_info(&self) -> DistInfoMode {
        self.settings.dist_info
    }
}

/// Classify every entry. Directories are structural (kept while anything below is kept) and
/// get `Keep`. The result is parallel to `inv.entries`.
pub fn classify(ctx: &Ctx) -> Vec<Verdict> {
    use rayon::prelude::*;
    let mut verdicts: Vec<Verdict> = ctx
        .inv
        .entries
        .par_iter()
        .map(|e| classify_entry(ctx, e, true))
        .collect();
    bytecode::follow_sources(ctx, &mut verdicts);
    verdicts
}

/// One entry's verdict. `with_installers: false` is for an installer distribution the import
/// guard rescued: it then gets the rules every other distribution gets.
pub fn classify_entry(ctx: &Ctx, e: &Entry, with_installers: bool) -> Verdict {
    if e.kind == Kind::Dir {
        return Verdict::Keep;
    }
    let item = Item {
        entry: e,
        sp_rel: e.path.strip_prefix(&ctx.venv.site_packages).ok(),
        owner: ctx.own.owner(&e.path),
    };
    if item.owner.is_some_and(|o| ctx.kept_dists.contains(&o)) {
        return Verdict::Protected;
    }
    let user_path = item.sp_rel.unwrap_or(&e.path);
    if ctx.settings.keep.matches(user_path) {
        return Verdict::Protected;
    }
    if ctx.settings.remove.matches(user_path) {
        return Verdict::Remove(&USER_REMOVE);
    }
    if let Some(v) = scripts::classify(ctx, &item) {
        return v;
    }
    if with_installers {
        if let Some(v) = installers::classify(ctx, &item) {
            return v;
        }
    }
    let checks: [fn(&Ctx, &Item) -> Option<Verdict>; 5] = [
        distinfo::classify,
        bytecode::classify,
        build::classify,
        tests::classify,
        junk::classify,
    ];
    checks
        .iter()
        .find_map(|check| check(ctx, &item))
        .unwrap_or(Verdict::Keep)
}

/// Licence and attribution files are never removed by a built-in rule outside installers.
pub fn is_license_name(lower_name: &str) -> bool {
    [
        "license",
        "licence",
        "copying",
        "notice",
        "authors",
        "copyright",
    ]
    .iter()
    .any(|p| lower_name.starts_with(p))
        || lower_name.ends_with(".license")
}

/// All rules, for `venvslim rules`.
pub fn table() -> Vec<&'static Rule> {
    let mut all = vec![&USER_REMOVE];
    all.extend(bytecode::RULES);
    all.extend(tests::RULES);
    all.extend(junk::RULES);
    all.extend(installers::RULES);
    all.extend(build::RULES);
    all.extend(prune::RULES);
    all.extend(scripts::RULES);
    all.extend(distinfo::RULES);
    all
}
