//! The import guard: never remove a module that kept code imports.
//!
//! Name-based rules hit runtime code sometimes (`django/test`, numpy's `_natype`, zappa issues
//! #517 and #643). After classification, every kept Python file (and every kept `.pth`, whose
//! `import` lines run at start-up, and every Python script in bin/) is scanned for imports; a
//! candidate whose module is imported is rescued and scanned in turn, until nothing changes.
//! Rules with `Guard::Distribution` (installers) rescue the whole distribution, because they
//! reach their own code through sys.path tricks a static scan does not follow. What the scan
//! cannot see (dynamic imports of computed names) is the job of `venvslim verify`.
//!
//! Only a required import rescues (docs/facts.md, "Optional imports"): one inside a `try` that
//! catches import errors, or under `if TYPE_CHECKING:`, shows the importer copes without the
//! module (imports/blocks.rs). And an import made by build-time code (rules/build.rs) never
//! keeps an installer, even when that file itself is kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Ctx, Guard, Verdict};
use crate::imports::{imports, Need};
use crate::inventory::Kind;

/// A path a rule would have removed, kept because kept code imports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rescue {
    /// The rescued path, relative to the root.
    #[serde(serialize_with = "crate::jsonpath::lossy_path")]
    pub path: PathBuf,
    /// The id of the rule that wanted it gone.
    pub rule: &'static str,
    /// Which module is imported and by whom.
    pub reason: String,
}

/// Dotted module name of a path relative to site-packages, and whether it is a package
/// `__init__`. Bytecode maps to its source's module; extension modules to their base name.
pub fn module_of(sp_rel: &Path) -> Option<(String, bool)> {
    let source;
    let mut path = sp_rel;
    if let Some(s) = crate::dists::source_of_pyc(sp_rel) {
        source = s;
        path = &source;
    }
    let file = path.file_name()?.to_str()?;
    let stem = if let Some(s) = file.strip_suffix(".py") {
        s
    } else if file.ends_with(".so") {
        file.split('.').next()?
    } else {
        return None;
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in path.parent()?.components() {
        parts.push(c.as_os_str().to_str()?);
    }
    let is_package = stem == "__init__";
    if !is_package {
        parts.push(stem);
    }
    let valid = !parts.is_empty()
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c == '_' || c.is_alphanumeric())
        });
    valid.then(|| (parts.join("."), is_package))
}

/// What the scanned files require: module name -> first importer (in path order).
#[derive(Default)]
struct Refs {
    /// Every required import.
    all: HashMap<String, PathBuf>,
    /// Required imports of files that are not build-time code: what may keep an installer.
    runtime: HashMap<String, PathBuf>,
}

impl Refs {
    fn merge(&mut self, other: Refs) {
        for (m, importer) in other.all {
            self.all.entry(m).or_insert(importer);
        }
        for (m, importer) in other.runtime {
            self.runtime.entry(m).or_insert(importer);
        }
    }
}

/// Rescue every removal that kept code imports, until nothing changes; the verdicts are
/// updated in place and the rescues returned for the report.
pub fn run(ctx: &Ctx, verdicts: &mut [Verdict]) -> Vec<Rescue> {
    let entries = &ctx.inv.entries;
    let sp = &ctx.venv.site_packages;
    let mut by_module: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_dist: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, v) in verdicts.iter().enumerate() {
        let Verdict::Remove(rule) = v else { continue };
        match rule.guard {
            Guard::Module => {
                let module = entries[i].path.strip_prefix(sp).ok().and_then(module_of);
                if let Some((m, _)) = module {
                    by_module.entry(m).or_default().push(i);
                }
            }
            Guard::Distribution => {
                if let Some(o) = ctx.own.owner(&entries[i].path) {
                    by_dist.entry(o).or_default().push(i);
                }
            }
            Guard::None => {}
        }
    }
    if by_module.is_empty() && by_dist.is_empty() {
        return Vec::new();
    }
    let dist_tops: BTreeMap<usize, BTreeSet<String>> =
        by_dist.keys().map(|&d| (d, top_levels(ctx, d))).collect();
    let first: Vec<usize> = (0..entries.len())
        .filter(|&i| verdicts[i].is_kept() && scannable(ctx, i))
        .collect();
    let mut refs = scan(ctx, &first);
    let mut rescues = Vec::new();
    loop {
        let mut newly = Vec::new();
        for (module, idxs) in by_module.iter_mut() {
            let Some(importer) = refs.all.get(module) else {
                continue;
            };
            for i in idxs.drain(..) {
                if let Verdict::Remove(rule) = verdicts[i] {
                    rescues.push(Rescue {
                        path: entries[i].path.clone(),
                        rule: rule.id,
                        reason: format!("`{module}` is imported by {}", importer.display()),
                    });
                    verdicts[i] = Verdict::Keep;
                    newly.push(i);
                }
            }
        }
        for (dist, idxs) in by_dist.iter_mut() {
            let hit = dist_tops[dist]
                .iter()
                .find_map(|t| refs.runtime.get(t).map(|imp| (t, imp)));
            let Some((top, importer)) = hit else { continue };
            let name = &ctx.dists[*dist];
            let reason = format!(
                "`{top}` is imported by {}, so all of {} {} stays",
                importer.display(),
                name.name,
                name.version
            );
            for i in idxs.drain(..) {
                if let Verdict::Remove(rule) = verdicts[i] {
                    // The distribution stays; it gets the bytecode and dist-info treatment every
                    // kept distribution gets, but nothing a guarded rule would remove.
                    verdicts[i] = match super::classify_entry(ctx, &entries[i], false) {
                        Verdict::Remove(r) if r.guard != Guard::None => Verdict::Keep,
                        v => v,
                    };
                    rescues.push(Rescue {
                        path: entries[i].path.clone(),
                        rule: rule.id,
                        reason: reason.clone(),
                    });
                    newly.push(i);
                }
            }
        }
        newly.retain(|&i| scannable(ctx, i));
        if newly.is_empty() {
            break;
        }
        newly.sort_unstable();
        refs.merge(scan(ctx, &newly));
    }
    rescues.sort_by(|a, b| a.path.cmp(&b.path));
    rescues
}

/// Top-level names of a distribution, plus `distutils` for setuptools on Python 3.12+ (where
/// only setuptools' shim provides it). Sorted: the report cites the first one imported, the
/// same one on every run.
fn top_levels(ctx: &Ctx, dist: usize) -> BTreeSet<String> {
    let d = &ctx.dists[dist];
    let mut tops: BTreeSet<String> = d.top_levels.iter().cloned().collect();
    if d.normalized == "setuptools" {
        tops.insert("pkg_resources".into());
        tops.insert("_distutils_hack".into());
        if ctx.python()
            >= (crate::venv::PythonVersion {
                major: 3,
                minor: 12,
            })
        {
            tops.insert("distutils".into());
        }
    }
    tops
}

fn scannable(ctx: &Ctx, i: usize) -> bool {
    let e = &ctx.inv.entries[i];
    if e.kind != Kind::File {
        return false;
    }
    let name = e.name();
    let in_sp = e.path.starts_with(&ctx.venv.site_packages);
    let in_bin = ctx.venv.in_bin(&e.path);
    (in_sp && (name.ends_with(".py") || name.ends_with(".pth"))) || (in_bin && !name.contains('.'))
}

fn scan(ctx: &Ctx, idxs: &[usize]) -> Refs {
    let found: Vec<(PathBuf, Vec<String>)> = idxs
        .par_iter()
        .filter_map(|&i| {
            let e = &ctx.inv.entries[i];
            let bytes = fs::read(ctx.venv.root.join(&e.path)).ok()?;
            let required = file_imports(ctx, &e.path, &bytes)
                .into_iter()
                .filter(|i| i.need == Need::Required)
                .map(|i| i.module)
                .collect();
            Some((e.path.clone(), required))
        })
        .collect();
    let mut refs = Refs::default();
    for (path, modules) in found {
        let build_time = path
            .strip_prefix(&ctx.venv.site_packages)
            .ok()
            .and_then(Path::to_str)
            .and_then(super::build::rule_for)
            .is_some();
        for m in modules {
            if !build_time {
                refs.runtime
                    .entry(m.clone())
                    .or_insert_with(|| path.clone());
            }
            refs.all.entry(m).or_insert_with(|| path.clone());
        }
    }
    refs
}

/// What one kept file imports, with how firmly: a `.pth` file's `import` lines, a Python
/// script in bin/, or a module.
pub(crate) fn file_imports(ctx: &Ctx, path: &Path, bytes: &[u8]) -> Vec<crate::imports::Import> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".pth") {
        // site.py executes only the lines that start with `import`.
        let code: Vec<u8> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"import ") || l.starts_with(b"import\t"))
            .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
            .collect();
        return imports(&code, "", false);
    }
    if !name.ends_with(".py") {
        let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        if !(first_line.starts_with(b"#!")
            && String::from_utf8_lossy(first_line).contains("python"))
        {
            return Vec::new();
        }
        return imports(bytes, "", false);
    }
    let module = path
        .strip_prefix(&ctx.venv.site_packages)
        .ok()
        .and_then(module_of);
    let (module, is_package) = module.unwrap_or_default();
    imports(bytes, &module, is_package)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(
            module_of(Path::new("a/b/c.py")),
            Some(("a.b.c".into(), false))
        );
        assert_eq!(
            module_of(Path::new("a/b/__init__.py")),
            Some(("a.b".into(), true))
        );
        assert_eq!(
            module_of(Path::new("a/__pycache__/c.cpython-311.pyc")),
            Some(("a.c".into(), false))
        );
        assert_eq!(
            module_of(Path::new("a/_x.cpython-311-x86_64-linux-gnu.so")),
            Some(("a._x".into(), false))
        );
        assert_eq!(module_of(Path::new("foo-1.0.dist-info/x.py")), None);
        assert_eq!(module_of(Path::new("a/data.json")), None);
        assert_eq!(module_of(Path::new("__init__.py")), None);
    }
}
