//! `--prune`: remove what the `--run` workloads did not use, inside the distributions that stay.
//!
//! The evidence is the recording of each workload on the input (workload/hook.py): the modules
//! it imported and the files it opened or listed under the tree. From it, three kinds of cut:
//! - a distribution nothing of which was used (no module imported, no file touched, its
//!   dist-info included) goes whole, scripts and dist-info with it (`prune.dist`);
//! - inside the top-level packages of the distributions that stay, a directory nothing under
//!   which was used goes: a
//!   subpackage none of whose modules were imported (`prune.package`), or a data directory none
//!   of whose files were opened (`prune.data`: botocore's service models, locale trees); and in
//!   the packages that stay, each module file nothing imported (`prune.module`: a dialect's
//!   test provisioning, the HTTP implementation the server did not pick);
//! - at `--prune safe` (the default level), "used" also takes in the static-import closure of
//!   every used module (required and optional imports; not `if TYPE_CHECKING:`), so a code path
//!   the workload did not reach still imports; `--prune used` keeps only what was used.
//!
//! What is never cut: `.pth` files and what they import (they run at start-up, before the
//! recording starts), native libraries (`lib*.so*`: the dynamic loader opens them, no audit
//! event sees it) and the directories that hold them, `__pycache__` on its own, paths the user
//! protects (`--keep`, `--keep-package`), and files no distribution owns. A listed directory
//! stays, while its children are judged one by one (botocore lists `data/` and each service's
//! directory, then opens one model). The workloads then run on the output, and what they miss
//! comes back through the restore loop (verify/repair.rs). docs/verification.md says what this
//! cannot see.

mod closure;
mod native;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::guard::module_of;
use super::{is_license_name, Category, Ctx, Guard, Rule, Verdict};
use crate::cli::PruneLevel;
use crate::imports::Need;
use crate::inventory::Kind;

/// A distribution nothing of which the workloads used.
pub static PRUNE_DIST: Rule = Rule {
    id: "prune.dist",
    category: Category::Prune,
    guard: Guard::None,
    reason: "--prune: the --run workloads imported none of this distribution's modules, opened none of its files and did not read its METADATA (a scan of every entry_points.txt aside), and no kept module needs it",
    evidence: "the workloads' recording on the input; they run again on the output and what they miss comes back",
};

/// A subpackage none of whose modules the workloads imported.
pub static PRUNE_PACKAGE: Rule = Rule {
    id: "prune.package",
    category: Category::Prune,
    guard: Guard::None,
    reason: "--prune: a subpackage none of whose modules the --run workloads imported (and, at the safe level, none that a used module imports)",
    evidence: "the workloads' recording on the input; a code path they did not run may need it: cover the app with the workloads",
};

/// A module none of the workloads imported, in a package they used.
pub static PRUNE_MODULE: Rule = Rule {
    id: "prune.module",
    category: Category::Prune,
    guard: Guard::None,
    reason: "--prune: a module the --run workloads did not import (and, at the safe level, that no used module imports), in a package they used",
    evidence: "the workloads' recording on the input; modules chosen by a computed name (a configured backend) are only seen when the workloads choose them",
};

/// A data directory none of whose files the workloads opened.
pub static PRUNE_DATA: Rule = Rule {
    id: "prune.data",
    category: Category::Prune,
    guard: Guard::None,
    reason: "--prune: a data directory none of whose files the --run workloads opened or listed",
    evidence: "botocore/data holds the models of 400+ AWS services and a client loads one; a code path the workloads did not run may open another",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&PRUNE_DIST, &PRUNE_PACKAGE, &PRUNE_MODULE, &PRUNE_DATA];

/// What the workloads used on the input, paths relative to the venv root.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Files opened or loaded, directories listed, and the files modules were loaded from.
    pub paths: HashSet<PathBuf>,
    /// Modules imported (dotted).
    pub modules: BTreeSet<String>,
}

/// One cut: a directory (or a distribution's dist-info directory, for a whole distribution, or
/// one module's file) and the rule that made it. Everything kept under it is removed.
#[derive(Debug, Clone)]
pub struct Cut {
    /// Relative to the root: the directory, the dist-info directory of a whole distribution, or
    /// the module's file.
    pub path: PathBuf,
    /// The module, for a module's file (`prune.module`).
    pub module: Option<String>,
    /// `prune.dist`, `prune.package` or `prune.data`.
    pub rule: &'static Rule,
    /// The distribution it belongs to (index into `Ctx::dists`).
    pub dist: Option<usize>,
}

/// Cut what `usage` shows unused; the verdicts of the removed entries are updated and the cuts
/// returned, sorted by path.
pub fn run(ctx: &Ctx, verdicts: &mut [Verdict], usage: &Usage, level: PruneLevel) -> Vec<Cut> {
    let usage = &on_pth_paths(ctx, verdicts, &through_links(ctx, usage));
    let entries = &ctx.inv.entries;
    let sp = &ctx.venv.site_packages;
    let owners: Vec<Option<usize>> = entries.iter().map(|e| ctx.own.owner(&e.path)).collect();
    let mut kept: Vec<bool> = (0..entries.len())
        .map(|i| entries[i].kind != Kind::Dir && verdicts[i].is_kept())
        .collect();
    let mut index = closure::Index::new(ctx, verdicts);
    let mut modules = closure::used(ctx, usage);
    let mut roots = index.pth().to_vec();
    if level == PruneLevel::Safe {
        roots.extend(modules.iter().flat_map(|m| index.files(m)));
        // Console scripts are ways in the workloads did not take.
        roots.extend(scripts(ctx, verdicts));
    }
    closure::close(
        ctx,
        &mut index,
        &mut modules,
        roots,
        closure::Follow::MayRun,
    );
    let mut needed = needed_files(ctx, verdicts, &owners, usage, &modules, &kept);
    let mut cuts = Vec::new();

    // Whole distributions first. The top-level packages of what stays must import, so their
    // closure stays too; what stays keeps the distributions it declares it requires (an
    // extension imports from C what no scan sees: cryptography's `_cffi_backend`); and the
    // libraries used extensions load stay with theirs. Any of these may show another
    // distribution used: until nothing changes.
    let mut libs = native::Libraries::new(ctx, &kept);
    let requires = requirements(ctx);
    let gone = loop {
        let loaded = libs.loaded_with(ctx, elf_roots(ctx, &kept, &needed, usage));
        let mut gone = unused_dists(ctx, verdicts, &owners, &kept, &needed, &loaded);
        keep_requirements(&requires, &mut gone);
        let tops: Vec<usize> = (0..entries.len())
            .filter(|&i| kept[i] && owners[i].is_some_and(|o| !gone.contains(&o)))
            .filter(|&i| is_top_level_module(ctx, i))
            .collect();
        let before = modules.len();
        closure::close(
            ctx,
            &mut index,
            &mut modules,
            tops,
            closure::Follow::AtImport,
        );
        if modules.len() == before {
            break gone;
        }
        needed = needed_files(ctx, verdicts, &owners, usage, &modules, &kept);
    };
    // A distribution goes with its files in site-packages and its console scripts; whatever
    // else its RECORD claims (`../../../pyvenv.cfg`, `bin/python`) is not its to take.
    for (i, o) in owners.iter().enumerate() {
        if o.is_some_and(|o| gone.contains(&o)) && kept[i] && is_dist_file(ctx, i) {
            verdicts[i] = Verdict::Remove(&PRUNE_DIST);
            kept[i] = false;
        }
    }
    for &d in &gone {
        cuts.push(Cut {
            path: ctx.dists[d].dir.clone(),
            module: None,
            rule: &PRUNE_DIST,
            dist: Some(d),
        });
    }

    // Then directories inside what stays: every ancestor of a needed file (or of a listed
    // directory) is needed; a directory that is not, under one that is, is cut whole. The
    // top-level packages and modules of a distribution that stays stay: an application imports
    // those by name, and `verify` counts a missing one as breakage.
    let mut needed_dirs: HashSet<&Path> = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        let listed = e.kind == Kind::Dir && usage.paths.contains(&e.path);
        if needed[i] || listed {
            let mut dir = if listed {
                Some(e.path.as_path())
            } else {
                e.path.parent()
            };
            while let Some(d) = dir.filter(|d| d.starts_with(sp) && *d != sp.as_path()) {
                if !needed_dirs.insert(d) {
                    break;
                }
                dir = d.parent();
            }
        }
    }
    let mut i = 0;
    while i < entries.len() {
        let e = &entries[i];
        let end = subtree_end(entries, i);
        let cut = e.kind == Kind::Dir
            && is_cuttable_dir(ctx, &e.path)
            && !needed_dirs.contains(e.path.as_path())
            && e.path.parent().is_some_and(|p| needed_dirs.contains(p))
            && owners[i].is_some_and(|o| !gone.contains(&o) && !ctx.kept_dists.contains(&o));
        // Licences stay where they are, even in a cut directory (a vendored library's).
        let kept_below: Vec<usize> = if cut {
            (i + 1..end)
                .filter(|&j| kept[j] && !is_license_name(&entries[j].name().to_ascii_lowercase()))
                .collect()
        } else {
            Vec::new()
        };
        if kept_below.is_empty() {
            i += 1;
            continue;
        }
        let is_code = kept_below.iter().any(|&j| {
            let rel = entries[j].path.strip_prefix(sp).ok();
            rel.and_then(module_of).is_some()
        });
        let rule = if is_code { &PRUNE_PACKAGE } else { &PRUNE_DATA };
        for j in kept_below {
            verdicts[j] = Verdict::Remove(rule);
        }
        cuts.push(Cut {
            path: e.path.clone(),
            module: None,
            rule,
            dist: owners[i],
        });
        i = end;
    }

    // Console scripts that import a cut module go with it (at `safe`, their closure was kept).
    let unused_scripts: Vec<usize> = scripts(ctx, verdicts)
        .filter(|&i| owners[i].is_some_and(|o| !gone.contains(&o) && !ctx.kept_dists.contains(&o)))
        .filter(|&i| matches!(verdicts[i], Verdict::Keep))
        .filter(|&i| is_unused_script(ctx, &mut index, i, usage, &modules))
        .collect();
    for i in unused_scripts {
        verdicts[i] = Verdict::Remove(&PRUNE_MODULE);
        cuts.push(Cut {
            path: entries[i].path.clone(),
            module: None,
            rule: &PRUNE_MODULE,
            dist: owners[i],
        });
    }

    // Last, the modules nothing used inside the packages that stay (a package's `__init__`
    // stays with its directory; bytecode goes with its module).
    for (i, e) in entries.iter().enumerate() {
        if !kept[i] || needed[i] || !matches!(verdicts[i], Verdict::Keep) {
            continue;
        }
        if owners[i].is_none_or(|o| gone.contains(&o) || ctx.kept_dists.contains(&o)) {
            continue;
        }
        let Ok(rel) = e.path.strip_prefix(sp) else {
            continue;
        };
        let Some((module, false)) = module_of(rel) else {
            continue;
        };
        if in_metadata_dir(rel) || !module.contains('.') {
            continue;
        }
        verdicts[i] = Verdict::Remove(&PRUNE_MODULE);
        cuts.push(Cut {
            path: e.path.clone(),
            module: Some(module),
            rule: &PRUNE_MODULE,
            dist: owners[i],
        });
    }
    cuts.sort_by(|a, b| a.path.cmp(&b.path));
    cuts
}

/// `usage` with every path that goes through a symlink inside the tree also under the path it
/// reaches (`app/assets -> ../shared_assets`: a read of `app/assets/x` is a read of
/// `shared_assets/x` too). Links are read from the tree, resolved lexically, and never out of
/// it; 40 at most per path, as Linux.
fn through_links(ctx: &Ctx, usage: &Usage) -> Usage {
    let mut out = usage.clone();
    for p in &usage.paths {
        let mut path = p.clone();
        for _ in 0..40 {
            let Some(next) = one_link_resolved(ctx, &path) else {
                break;
            };
            out.paths.insert(next.clone());
            path = next;
        }
    }
    out
}

/// `usage` with every file under a directory a kept `.pth` file puts on sys.path: the modules
/// there have other names than their path in site-packages says (`extra/mod.py` is `mod`), so
/// neither the closure nor the cuts can judge them; they stay.
fn on_pth_paths(ctx: &Ctx, verdicts: &[Verdict], usage: &Usage) -> Usage {
    let sp = &ctx.venv.site_packages;
    let mut out = usage.clone();
    for (i, e) in ctx.inv.entries.iter().enumerate() {
        if !(e.name().ends_with(".pth") && e.path.parent() == Some(sp.as_path())) {
            continue;
        }
        if !verdicts[i].is_kept() {
            continue;
        }
        let Ok(bytes) = crate::safepath::read_nofollow(&ctx.venv.root.join(&e.path)) else {
            continue;
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("import") {
                continue;
            }
            let line = Path::new(line);
            let dir = match line.strip_prefix(&ctx.venv.root) {
                Ok(rel) => crate::safepath::plain_relative(rel),
                Err(_) if line.is_relative() => crate::safepath::resolve_in_tree(sp, line),
                Err(_) => None,
            };
            let Some(dir) = dir.filter(|d| d != sp && !d.as_os_str().is_empty()) else {
                continue;
            };
            out.paths.extend(
                ctx.inv
                    .entries
                    .iter()
                    .filter(|f| f.kind != Kind::Dir && f.path.starts_with(&dir))
                    .map(|f| f.path.clone()),
            );
        }
    }
    out
}

/// `path` with its first symlink component replaced by where it points, if it has one.
fn one_link_resolved(ctx: &Ctx, path: &Path) -> Option<PathBuf> {
    let mut prefix = PathBuf::new();
    let mut parts = path.components();
    for c in parts.by_ref() {
        prefix.push(c);
        let e = ctx.inv.find(&prefix)?;
        if e.kind == Kind::Symlink {
            let target = fs::read_link(ctx.venv.root.join(&prefix)).ok()?;
            let mut to = crate::safepath::link_in_tree(&prefix, &target)?;
            to.extend(parts);
            return Some(to);
        }
    }
    None
}

/// The index past the last entry under entry `i` (entries are sorted by path).
fn subtree_end(entries: &[crate::inventory::Entry], i: usize) -> usize {
    let dir = &entries[i].path;
    i + 1
        + entries[i + 1..]
            .iter()
            .take_while(|e| e.path.starts_with(dir))
            .count()
}

/// A directory that may be cut whole: inside site-packages, not in a dist-info (licences stay;
/// the whole distribution's cut handles the rest), not a `__pycache__` on its own.
fn is_cuttable_dir(ctx: &Ctx, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(&ctx.venv.site_packages) else {
        return false;
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !rel.as_os_str().is_empty() && name != "__pycache__" && !in_metadata_dir(rel)
}

/// Whether a path relative to site-packages is in (or is) a `*.dist-info` or `*.egg-info`.
fn in_metadata_dir(rel: &Path) -> bool {
    let top = rel.components().next().and_then(|c| c.as_os_str().to_str());
    top.is_some_and(|t| t.ends_with(".dist-info") || t.ends_with(".egg-info"))
}

/// For each entry, whether it is a kept file that shows its directories are used.
fn needed_files(
    ctx: &Ctx,
    verdicts: &[Verdict],
    owners: &[Option<usize>],
    usage: &Usage,
    modules: &HashSet<String>,
    kept: &[bool],
) -> Vec<bool> {
    (0..kept.len())
        .map(|i| kept[i] && is_needed(ctx, i, &verdicts[i], owners[i], usage, modules))
        .collect()
}

/// Whether a kept file shows its directories and distribution are used.
fn is_needed(
    ctx: &Ctx,
    i: usize,
    verdict: &Verdict,
    owner: Option<usize>,
    usage: &Usage,
    modules: &HashSet<String>,
) -> bool {
    let e = &ctx.inv.entries[i];
    let name = e.name();
    if usage.paths.contains(&e.path)
        || matches!(verdict, Verdict::Protected)
        || owner.is_none()
        || name.ends_with(".pth")
        || matches!(name, "sitecustomize.py" | "usercustomize.py")
        || is_native_library(name)
    {
        return true;
    }
    e.path
        .strip_prefix(&ctx.venv.site_packages)
        .ok()
        .and_then(module_of)
        .is_some_and(|(m, _)| modules.contains(&m))
}

/// The distributions nothing needed belongs to. Metadata read by a scan (`entry_points()`
/// opens every entry_points.txt) does not make a distribution used; its METADATA read does
/// (`version()`). Installers (the guard kept them) and `--keep-package` ones are not cut.
fn unused_dists(
    ctx: &Ctx,
    verdicts: &[Verdict],
    owners: &[Option<usize>],
    kept: &[bool],
    needed: &[bool],
    loaded: &HashSet<usize>,
) -> HashSet<usize> {
    let mut used = HashSet::new();
    let mut has_kept = HashSet::new();
    for (i, o) in owners.iter().enumerate() {
        let Some(o) = *o else { continue };
        if kept[i] && is_dist_file(ctx, i) {
            has_kept.insert(o);
            let native = is_native_library(ctx.inv.entries[i].name());
            let shows = if native {
                loaded.contains(&i)
            } else {
                needed[i] && shows_use(ctx, i, &verdicts[i])
            };
            if shows {
                used.insert(o);
            }
        }
    }
    has_kept
        .into_iter()
        .filter(|d| !used.contains(d) && !ctx.kept_dists.contains(d))
        .filter(|d| !ctx.installer_dists.contains(d))
        .collect()
}

/// A file a distribution's cut may take: in site-packages, or a console script in bin/ (not
/// the interpreter's links).
fn is_dist_file(ctx: &Ctx, i: usize) -> bool {
    let e = &ctx.inv.entries[i];
    if e.path.starts_with(&ctx.venv.site_packages) && e.path != ctx.venv.site_packages {
        return true;
    }
    ctx.venv.in_bin(&e.path) && !crate::venv::is_python_link_name(e.name())
}

/// The ELF files the used code runs: needed extension modules, and the native libraries the
/// workloads loaded themselves (`ctypes`).
fn elf_roots(ctx: &Ctx, kept: &[bool], needed: &[bool], usage: &Usage) -> Vec<usize> {
    ctx.inv
        .entries
        .iter()
        .enumerate()
        .filter(|&(i, e)| kept[i] && e.kind == Kind::File)
        .filter(|&(i, e)| {
            let name = e.name();
            if is_native_library(name) {
                usage.paths.contains(&e.path)
            } else {
                needed[i] && crate::elf::shared_object_name(name)
            }
        })
        .map(|(i, _)| i)
        .collect()
}

/// For each distribution, the distributions its METADATA's `Requires-Dist` names (those present;
/// requirements only an extra asks for are left out).
fn requirements(ctx: &Ctx) -> Vec<Vec<usize>> {
    let by_name: std::collections::HashMap<&str, usize> = ctx
        .dists
        .iter()
        .enumerate()
        .map(|(i, d)| (d.normalized.as_str(), i))
        .collect();
    ctx.dists
        .iter()
        .map(|d| {
            let path = ctx.venv.root.join(&d.dir).join("METADATA");
            let Ok(bytes) = crate::safepath::read_nofollow(&path) else {
                return Vec::new();
            };
            let header = crate::dists::metadata_header(&bytes).0;
            String::from_utf8_lossy(&header)
                .lines()
                .filter_map(|l| l.strip_prefix("Requires-Dist:"))
                .filter(|req| !req.contains("extra ==") && !req.contains("extra=="))
                .filter_map(|req| {
                    let name: String = req
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                        .collect();
                    by_name
                        .get(crate::dists::normalize_name(&name).as_str())
                        .copied()
                })
                .collect()
        })
        .collect()
}

/// Take out of `gone` every distribution something that stays requires, transitively.
fn keep_requirements(requires: &[Vec<usize>], gone: &mut HashSet<usize>) {
    let mut stack: Vec<usize> = (0..requires.len()).filter(|d| !gone.contains(d)).collect();
    while let Some(d) = stack.pop() {
        for &r in &requires[d] {
            if gone.remove(&r) {
                stack.push(r);
            }
        }
    }
}

/// Whether a needed file shows its distribution is used: anything but its metadata, which
/// scans read for every distribution, except METADATA itself (what `version()` reads) and what
/// the user protects.
fn shows_use(ctx: &Ctx, i: usize, verdict: &Verdict) -> bool {
    let e = &ctx.inv.entries[i];
    let rel = e.path.strip_prefix(&ctx.venv.site_packages).ok();
    !rel.is_some_and(in_metadata_dir)
        || e.name() == "METADATA"
        || matches!(verdict, Verdict::Protected)
}

/// A top-level module's file in site-packages: `name.py` or `name/__init__.py`.
fn is_top_level_module(ctx: &Ctx, i: usize) -> bool {
    let e = &ctx.inv.entries[i];
    let Ok(rel) = e.path.strip_prefix(&ctx.venv.site_packages) else {
        return false;
    };
    e.name().ends_with(".py") && module_of(rel).is_some_and(|(m, _)| !m.contains('.'))
}

/// A shared library that is not a Python extension module: `libfoo.so`, `libfoo.so.1`,
/// `libgfortran-040039e1.so.5.0.0`. The dynamic loader opens these from an extension's
/// `DT_NEEDED`, which no audit event records.
pub fn is_native_library(name: &str) -> bool {
    if !crate::elf::shared_object_name(name) {
        return false;
    }
    let parts: Vec<&str> = name.split('.').collect();
    let ident = |p: &str| !p.is_empty() && p.chars().all(|c| c == '_' || c.is_alphanumeric());
    let extension_module = match parts.as_slice() {
        // `speedups.so`; `libfoo.so` is a library.
        [stem, "so"] => ident(stem) && !stem.starts_with("lib"),
        // `lib.cpython-311-x86_64-linux-gnu.so` (pandas' `_libs/lib`), `_rust.abi3.so`.
        [stem, tag, "so"] => {
            ident(stem)
                && (tag.starts_with("cpython-") || tag.starts_with("pypy") || *tag == "abi3")
        }
        _ => false,
    };
    !extension_module
}

/// Kept files directly in bin/ (what `file_imports` reads only if it is a Python script).
fn scripts<'a>(ctx: &'a Ctx, verdicts: &'a [Verdict]) -> impl Iterator<Item = usize> + 'a {
    ctx.inv
        .entries
        .iter()
        .enumerate()
        .filter_map(move |(i, e)| {
            (ctx.venv.in_bin(&e.path) && e.kind == Kind::File && verdicts[i].is_kept()).then_some(i)
        })
}

/// A console script of a distribution that stays, which the workloads did not run and which
/// imports a module that is cut: it would only fail.
fn is_unused_script(
    ctx: &Ctx,
    index: &mut closure::Index,
    i: usize,
    usage: &Usage,
    modules: &HashSet<String>,
) -> bool {
    let e = &ctx.inv.entries[i];
    if usage.paths.contains(&e.path) {
        return false;
    }
    let sp = &ctx.venv.site_packages;
    // A required import of a module with a file in site-packages that is cut: the script
    // would fail at its first line.
    index
        .imports_of(ctx, i)
        .iter()
        .filter(|imp| imp.need == Need::Required && !modules.contains(&imp.module))
        .any(|imp| {
            let mut path = sp.clone();
            path.extend(imp.module.split('.'));
            ctx.inv.index(&path.with_extension("py")).is_some()
                || ctx.inv.index(&path.join("__init__.py")).is_some()
        })
}

#[cfg(test)]
mod tests {
    use super::is_native_library;

    #[test]
    fn native_libraries_and_extension_modules() {
        for lib in [
            "libz.so.1",
            "libgfortran-040039e1.so.5.0.0",
            "libopenblas64_p-r0-0cf96a72.3.23.dev.so",
            "libtorch.so",
        ] {
            assert!(is_native_library(lib), "{lib}");
        }
        for ext in [
            "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
            "_rust.abi3.so",
            "speedups.so",
            "lib.cpython-311-x86_64-linux-gnu.so",
            "mod.py",
        ] {
            assert!(!is_native_library(ext), "{ext}");
        }
    }
}
