//! Which distributions go into the archive, and why each of the others stays on disk.
//!
//! Pure but for reading the kept files (their first bytes, to find native code by content, and
//! the `.py` sources for the file-access scan). A distribution is zipped only when all its kept
//! files in site-packages can be: no native file (ELF by magic, `.so`/`.pyd`/`.dll`/`.dylib`),
//! no `.pth` (never read from a zip), no symlink or special file, UTF-8 names, no source reading
//! files next to itself and no data files read other than through the loader (`reads.rs`), not excluded by the user (`--zip-exclude`), not left
//! untouched by `--keep-package` (untouched means untouched), and not an installer (pip and
//! setuptools read their own files and patch sys.path). All or none: a regular package (a
//! directory with `__init__.py`, such as a pkgutil-style namespace) cannot be split between a
//! directory and the zip, so distributions whose files meet inside one go together; PEP 420
//! namespace directories (opentelemetry/) are resolved across sys.path entries and may be split.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{inner_name, Evidence, Refusal, TopLevel, ZipDist, ZipPlan, ARCHIVE, PTH};
use crate::dists::Dist;
use crate::inventory::Kind;
use crate::rules::{distinfo, Ctx, Verdict};
use crate::venv::PythonVersion;

const NATIVE_SUFFIXES: &[&str] = &[".so", ".pyd", ".dll", ".dylib"];
/// Files that are never native code: not worth opening to look for ELF magic.
const TEXT_SUFFIXES: &[&str] = &[
    ".py", ".pyc", ".txt", ".json", ".html", ".js", ".css", ".md", ".rst", ".mo", ".png", ".svg",
    ".typed",
];

/// Decide what `--zip-pure` zips: `verdicts` are the plan's (only kept files are zipped).
pub fn select(ctx: &Ctx, verdicts: &[Verdict]) -> ZipPlan {
    let sp = &ctx.venv.site_packages;
    let n = ctx.dists.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut reasons: Vec<Vec<Evidence>> = vec![Vec::new(); n];
    for (i, e) in ctx.inv.entries.iter().enumerate() {
        if e.kind == Kind::Dir || !verdicts[i].is_kept() {
            continue;
        }
        let Ok(rel) = e.path.strip_prefix(sp) else {
            continue;
        };
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy());
        if distinfo::split(rel).is_some() || first.is_some_and(|f| f.ends_with(".egg-info")) {
            continue;
        }
        let Some(d) = ctx.own.owner(&e.path) else {
            continue;
        };
        members[d].push(i);
    }
    for (d, dist) in ctx.dists.iter().enumerate() {
        if !members[d].is_empty() {
            reasons[d] = static_reasons(ctx, d, dist, &members[d]);
        }
    }
    super::reads::scan_sources(ctx, &members, &mut reasons);
    all_or_none(ctx, &members, &mut reasons);
    build(ctx, verdicts, members, reasons)
}

/// Reasons that need no source scan: the user's lists, installers, the kind and name of files.
fn static_reasons(ctx: &Ctx, d: usize, dist: &Dist, members: &[usize]) -> Vec<Evidence> {
    let zs = &ctx.settings.zip;
    let mut out = Vec::new();
    let plain = |kind: &'static str, why: &str| Evidence {
        kind,
        path: None,
        line: None,
        code: None,
        why: why.to_string(),
    };
    if zs.exclude.contains(&dist.normalized) {
        out.push(plain("excluded", "named by --zip-exclude"));
    }
    if ctx.kept_dists.contains(&d) {
        out.push(plain("keep-package", "--keep-package leaves it untouched"));
    }
    if ctx.installer_dists.contains(&d) {
        out.push(plain(
            "installer",
            "an installer (pip, setuptools, wheel) reads its own files and patches sys.path",
        ));
    }
    let sp = &ctx.venv.site_packages;
    for &i in members {
        let e = &ctx.inv.entries[i];
        let at = |kind: &'static str, why: &str| Evidence {
            path: Some(e.path.to_string_lossy().into_owned()),
            ..plain(kind, why)
        };
        let name = e.name();
        if e.kind != Kind::File {
            out.push(at(
                "not-regular",
                "a symlink or special file cannot go into a zip",
            ));
        } else if inner_name(sp, &e.path).is_none() {
            out.push(at("name", "a file name that is not UTF-8"));
        } else if name.ends_with(".pth") {
            out.push(at("pth", "a .pth file (site never reads one from a zip)"));
        } else if NATIVE_SUFFIXES.iter().any(|s| name.ends_with(s)) || name.contains(".so.") {
            out.push(at(
                "native",
                "a native library or extension module (zipimport cannot load one)",
            ));
        } else if !TEXT_SUFFIXES.iter().any(|s| name.ends_with(s))
            && has_elf_magic(&ctx.venv.root.join(&e.path))
        {
            out.push(at(
                "native",
                "an ELF file (zipimport cannot load native code)",
            ));
        }
    }
    out
}

fn has_elf_magic(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_exact(&mut head))
        .is_ok()
        && head == *b"\x7fELF"
}

/// The unit a file cannot be split from: the outermost regular package (a directory with
/// `__init__.py`) above it, else the file itself (a top-level module, or a module directly in
/// PEP 420 namespace directories). Relative to site-packages.
fn unit(ctx: &Ctx, rel: &Path) -> PathBuf {
    let sp = &ctx.venv.site_packages;
    let mut prefix = PathBuf::new();
    let comps: Vec<_> = rel.components().collect();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        prefix.push(c);
        if ctx.packages.contains(&sp.join(&prefix)) {
            return prefix;
        }
    }
    rel.to_path_buf()
}

/// Distributions whose files meet in one unit are zipped together or not at all.
fn all_or_none(ctx: &Ctx, members: &[Vec<usize>], reasons: &mut [Vec<Evidence>]) {
    let sp = &ctx.venv.site_packages;
    let mut units: BTreeMap<PathBuf, BTreeSet<usize>> = BTreeMap::new();
    for (d, m) in members.iter().enumerate() {
        for &i in m {
            if let Ok(rel) = ctx.inv.entries[i].path.strip_prefix(sp) {
                units.entry(unit(ctx, rel)).or_default().insert(d);
            }
        }
    }
    loop {
        let mut changed = false;
        for (u, ds) in units.iter().filter(|(_, ds)| ds.len() > 1) {
            let Some(&r) = ds.iter().find(|&&d| !reasons[d].is_empty()) else {
                continue;
            };
            let open: Vec<usize> = ds
                .iter()
                .copied()
                .filter(|&d| reasons[d].is_empty())
                .collect();
            for d in open {
                reasons[d].push(Evidence {
                    kind: "shares-package",
                    path: Some(sp.join(u).to_string_lossy().into_owned()),
                    line: None,
                    code: None,
                    why: format!(
                        "shares this package with {}, which stays on disk (a regular package cannot be split between a directory and a zip)",
                        ctx.dists[r].name
                    ),
                });
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

fn build(
    ctx: &Ctx,
    verdicts: &[Verdict],
    members: Vec<Vec<usize>>,
    mut reasons: Vec<Vec<Evidence>>,
) -> ZipPlan {
    let sp = &ctx.venv.site_packages;
    // Where the tree will run: `--prefix` when relocating, else the venv's own path.
    let root = ctx
        .settings
        .handoff
        .prefix
        .as_ref()
        .unwrap_or(&ctx.venv.root);
    let abs_sp = root.join(sp);
    let mut plan = ZipPlan {
        archive: sp.join(ARCHIVE),
        pth: sp.join(PTH),
        sourceless: ctx.settings.zip.sourceless
            || ctx.settings.bytecode == crate::cli::BytecodeMode::Sourceless,
        dists: Vec::new(),
        refused: Vec::new(),
        members: Vec::new(),
        top_level: Vec::new(),
        entries: 0,
        pythonpath: format!("{}:{}", abs_sp.display(), abs_sp.join(ARCHIVE).display()),
        python: ctx.venv.python,
    };
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut py = 0;
    for (d, m) in members.into_iter().enumerate() {
        let dist = &ctx.dists[d];
        if m.is_empty() {
            continue;
        }
        if !reasons[d].is_empty() {
            let mut r = std::mem::take(&mut reasons[d]);
            r.sort();
            r.dedup();
            plan.refused.push(Refusal {
                dist: d,
                name: dist.name.clone(),
                version: dist.version.clone(),
                reasons: r,
            });
            continue;
        }
        let entries = &ctx.inv.entries;
        for &i in &m {
            if let Some(name) = inner_name(sp, &entries[i].path) {
                py += usize::from(name.ends_with(".py"));
                let mut parts: Vec<&str> = name.split('/').collect();
                parts.pop();
                for k in 1..=parts.len() {
                    dirs.insert(parts[..k].join("/"));
                }
            }
        }
        plan.dists.push(ZipDist {
            dist: d,
            name: dist.name.clone(),
            version: dist.version.clone(),
            files: m.len() as u64,
            bytes: m.iter().map(|&i| entries[i].size).sum(),
        });
        if let Some(t) = top_level_for(ctx, verdicts, dist, d) {
            plan.top_level.push(t);
        }
        plan.members.extend(m);
    }
    plan.members.sort_unstable();
    plan.dists.sort_by(|a, b| {
        ctx.dists[a.dist]
            .normalized
            .cmp(&ctx.dists[b.dist].normalized)
    });
    plan.refused.sort_by(|a, b| {
        ctx.dists[a.dist]
            .normalized
            .cmp(&ctx.dists[b.dist].normalized)
    });
    plan.entries = dirs.len() + plan.members.len() + if plan.sourceless { 0 } else { py };
    plan
}

/// A `top_level.txt` for a zipped distribution without one whose RECORD stays: what
/// importlib.metadata inferred from RECORD before its files left it.
fn top_level_for(ctx: &Ctx, verdicts: &[Verdict], dist: &Dist, d: usize) -> Option<TopLevel> {
    let kept = |p: &Path| ctx.inv.index(p).is_some_and(|i| verdicts[i].is_kept());
    let path = dist.dir.join("top_level.txt");
    if ctx.inv.find(&path).is_some() || !kept(&dist.dir.join("RECORD")) {
        return None;
    }
    let names = inferred_top_levels(dist, ctx.venv.python);
    if names.is_empty() {
        return None;
    }
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    Some(TopLevel {
        dist: d,
        path,
        text,
    })
}

/// `importlib.metadata._top_level_inferred(dist)` of this Python: before 3.12 the first part of
/// every `.py` in RECORD (or its stem at the top); from 3.12 the first part of every file (or
/// its module name at the top), without names holding a dot.
pub fn inferred_top_levels(dist: &Dist, python: PythonVersion) -> BTreeSet<String> {
    let modern = (python.major, python.minor) >= (3, 12);
    let mut out = BTreeSet::new();
    for r in &dist.record {
        let parts: Vec<&str> = r
            .raw
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let Some(last) = parts.last() else { continue };
        let name = if !modern {
            if !last.ends_with(".py") {
                continue;
            }
            if parts.len() > 1 {
                parts[0].to_string()
            } else {
                last.trim_end_matches(".py").to_string()
            }
        } else if parts.len() > 1 {
            parts[0].to_string()
        } else {
            module_name(last).unwrap_or(last).to_string()
        };
        if !(modern && name.contains('.')) {
            out.insert(name);
        }
    }
    out
}

/// `inspect.getmodulename`: the name without a module suffix, if it has one.
fn module_name(file: &str) -> Option<&str> {
    let ext = file.rfind(".cpython-").or_else(|| file.rfind(".abi3."));
    if let Some(i) = ext.filter(|_| file.ends_with(".so")) {
        return Some(&file[..i]);
    }
    [".so", ".py", ".pyc", ".pyw"]
        .iter()
        .find_map(|s| file.strip_suffix(s))
}
