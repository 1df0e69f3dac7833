//! How a distribution reads its files, decided from its sources: the rule that keeps a
//! distribution on disk unless the scan shows it is safe in a zip.
//!
//! Inside the archive a package's files are reachable only through the loader
//! (`importlib.resources.files(...).read_*()`/`.open()`, `pkgutil.get_data`); a path built from a
//! module's location names nothing on disk (docs/facts.md, zipimport). The rule, per
//! distribution, over the `scan.rs` findings of all its kept sources:
//!
//! - a call that needs a real file, or a location next to a file-system call, keeps it on disk,
//!   whatever it ships (a package can list or open its own modules);
//! - a distribution that ships data files (`is_data`) stays on disk unless every read of them
//!   can be shown to go through the loader: any line naming a module's location is evidence
//!   (nbformat builds its schema paths in one function from a module passed as a parameter and
//!   opens them in another, far from any window), and so is having no loader read at all (the
//!   files are then read some way the scan cannot see, or by another distribution through this
//!   one's `__file__`). `LOADER_READERS` names the data-only distributions whose known reader
//!   reads through the loader.
//!
//! A false alarm only keeps a distribution on disk; what the scan cannot see (a path computed
//! elsewhere, a name built at run time) is what `--verify` and `--run` catch.

use rayon::prelude::*;

use super::scan::Needs;
use super::{inner_name, Evidence};
use crate::rules::Ctx;

/// Data-only distributions read by code elsewhere, through the loader, with the evidence.
pub const LOADER_READERS: &[(&str, &str)] = &[(
    "tzdata",
    "read by the standard library's zoneinfo: importlib.resources.files('tzdata.zoneinfo.<area>').joinpath(name).open('rb') (Lib/zoneinfo/_common.py), which reads from a zip",
)];

/// File names (lowercased) that are licence texts, wherever they are.
const LICENCES: &[&str] = &["license", "licence", "copying", "notice", "authors"];

/// Whether a file (its path under site-packages, `/`-separated) is data: anything but Python
/// code (`.py`, bytecode, `.pyi` stubs, `py.typed`), licence texts, and metadata (a vendored
/// `*.dist-info`/`*.egg-info` inside a package). Those are read by the import system, by type
/// checkers or by people; anything else is read by the package itself, at run time, by a path
/// the zip may break. C sources, `.pxd`, templates, schemas, `.mo` catalogues, `.txt` all count:
/// none of them is needed to import, and each is a read to account for.
pub fn is_data(inner: &str) -> bool {
    let parts: Vec<&str> = inner.split('/').collect();
    let Some((name, dirs)) = parts.split_last() else {
        return false;
    };
    if dirs.iter().any(|d| {
        *d == "__pycache__"
            || d.ends_with(".dist-info")
            || d.ends_with(".egg-info")
            || d.eq_ignore_ascii_case("licenses")
    }) {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    let code = [".py", ".pyc", ".pyo", ".pyi"]
        .iter()
        .any(|s| lower.ends_with(s))
        || lower == "py.typed";
    !(code || LICENCES.iter().any(|l| lower.starts_with(l)))
}

/// The file-access scan of every kept `.py` of the distributions not yet refused, and the
/// data-files rule (module doc).
pub fn scan_sources(ctx: &Ctx, members: &[Vec<usize>], reasons: &mut [Vec<Evidence>]) {
    let sp = &ctx.venv.site_packages;
    let open: Vec<usize> = (0..members.len())
        .filter(|&d| reasons[d].is_empty() && !members[d].is_empty())
        .collect();
    let sources: Vec<(usize, usize)> = open
        .iter()
        .flat_map(|&d| members[d].iter().map(move |&i| (d, i)))
        .filter(|&(_, i)| ctx.inv.entries[i].name().ends_with(".py"))
        .collect();
    let scans: Vec<(usize, usize, super::Scan)> = sources
        .par_iter()
        .map(|&(d, i)| {
            let e = &ctx.inv.entries[i];
            let bytes = std::fs::read(ctx.venv.root.join(&e.path)).unwrap_or_default();
            (d, i, super::scan(&bytes))
        })
        .collect();
    for d in open {
        let data: Vec<usize> = members[d]
            .iter()
            .copied()
            .filter(|&i| inner_name(sp, &ctx.inv.entries[i].path).is_some_and(|n| is_data(&n)))
            .collect();
        let mine = scans.iter().filter(|(sd, _, _)| *sd == d);
        let mut loader = LOADER_READERS
            .iter()
            .any(|(n, _)| ctx.dists[d].normalized == *n);
        for (_, i, scan) in mine {
            loader |= scan.loader_read;
            let path = ctx.inv.entries[*i].path.to_string_lossy();
            for h in &scan.hits {
                if h.needs == Needs::Location && data.is_empty() {
                    continue;
                }
                let why = match h.needs {
                    Needs::Location => format!("ships {} and {}", data_files(data.len()), h.what),
                    _ => h.what.to_string(),
                };
                reasons[d].push(Evidence {
                    kind: "file-access",
                    path: Some(path.to_string()),
                    line: Some(h.line),
                    code: Some(h.code.clone()),
                    why,
                });
            }
        }
        if let Some(&first) = data.first().filter(|_| !loader && reasons[d].is_empty()) {
            reasons[d].push(Evidence {
                kind: "data-files",
                path: Some(ctx.inv.entries[first].path.to_string_lossy().into_owned()),
                line: None,
                code: None,
                why: format!(
                    "ships {} and no source of it reads through the loader (importlib.resources.files(...).read_*()/.open(), pkgutil.get_data): how they are read cannot be shown safe in a zip",
                    data_files(data.len())
                ),
            });
        }
    }
}

/// `1 data file`, `3 data files`.
fn data_files(n: usize) -> String {
    format!("{n} data file{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::is_data;

    #[test]
    fn code_licences_and_metadata_are_not_data() {
        for f in [
            "pkg/__init__.py",
            "pkg/__pycache__/mod.cpython-311.pyc",
            "pkg/legacy.pyc",
            "pkg/__init__.pyi",
            "pkg/py.typed",
            "pkg/LICENSE",
            "pkg/LICENCE.txt",
            "pkg/COPYING.md",
            "pkg/licenses/BSD.txt",
            "pkg/_vendor/html5lib-1.1.dist-info/METADATA",
            "single.py",
        ] {
            assert!(!is_data(f), "{f}");
        }
        for f in [
            "nbformat/v4/nbformat.v4.5.schema.json",
            "pkg/locale/fr/LC_MESSAGES/pkg.mo",
            "pkg/templates/index.html",
            "pkg/_c_ast.cfg",
            "pkg/_speedups.c",
            "tzdata/zoneinfo/Europe/Paris",
            "fastapi/.agents/skills/fastapi/SKILL.md",
        ] {
            assert!(is_data(f), "{f}");
        }
    }
}
