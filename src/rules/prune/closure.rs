//! The modules `--prune` keeps: what the workloads imported, and the static closures it adds.
//!
//! At `--prune safe`, the closure of every used module: each module a kept file imports
//! (required or optional, at import or in a function; not under `if TYPE_CHECKING:`),
//! transitively. At both levels, the same closure of the kept `.pth` files (they run before the
//! recording starts), and what the top-level packages of the distributions that stay import
//! when imported (an application imports those by name, so they must import as they did).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::super::guard::{file_imports, module_of};
use super::super::{Ctx, Verdict};
use super::Usage;
use crate::imports::{Import, Need};
use crate::inventory::Kind;

/// The kept Python files by module, and the kept `.pth` files: what a closure walks. Each file's
/// imports are read and parsed once, however many closures reach it (prune closes over the used
/// modules, then again over the top-level packages until nothing changes).
pub(super) struct Index {
    files_of: HashMap<String, Vec<usize>>,
    pth: Vec<usize>,
    parsed: HashMap<usize, Rc<[Import]>>,
}

impl Index {
    pub(super) fn new(ctx: &Ctx, verdicts: &[Verdict]) -> Index {
        let sp = &ctx.venv.site_packages;
        let mut files_of: HashMap<String, Vec<usize>> = HashMap::new();
        let mut pth = Vec::new();
        for (i, e) in ctx.inv.entries.iter().enumerate() {
            if e.kind != Kind::File || !verdicts[i].is_kept() {
                continue;
            }
            let Ok(rel) = e.path.strip_prefix(sp) else {
                continue;
            };
            if e.name().ends_with(".pth") && e.path.parent() == Some(sp.as_path()) {
                pth.push(i);
            } else if e.name().ends_with(".py") {
                if let Some((m, _)) = module_of(rel) {
                    files_of.entry(m).or_default().push(i);
                }
            }
        }
        Index {
            files_of,
            pth,
            parsed: HashMap::new(),
        }
    }

    /// The files of a module (its `.py`, or its package's `__init__.py`).
    pub(super) fn files(&self, module: &str) -> &[usize] {
        self.files_of.get(module).map_or(&[], Vec::as_slice)
    }

    /// The kept `.pth` files.
    pub(super) fn pth(&self) -> &[usize] {
        &self.pth
    }

    /// What file `i` imports (nothing when it cannot be read: never through a symlink).
    pub(super) fn imports_of(&mut self, ctx: &Ctx, i: usize) -> Rc<[Import]> {
        let parsed = self.parsed.entry(i).or_insert_with(|| {
            let path = &ctx.inv.entries[i].path;
            match crate::safepath::read_nofollow(&ctx.venv.root.join(path)) {
                Ok(bytes) => file_imports(ctx, path, &bytes).into(),
                Err(_) => Rc::from(Vec::new()),
            }
        });
        Rc::clone(parsed)
    }
}

/// What the workloads imported (and the modules of the files they touched), with every parent
/// package.
pub(super) fn used(ctx: &Ctx, usage: &Usage) -> HashSet<String> {
    let sp = &ctx.venv.site_packages;
    let mut modules: HashSet<String> = usage.modules.iter().cloned().collect();
    for p in &usage.paths {
        if let Some((m, _)) = p.strip_prefix(sp).ok().and_then(module_of) {
            modules.insert(m);
        }
    }
    let parents: Vec<String> = modules
        .iter()
        .flat_map(|m| m.match_indices('.').map(move |(k, _)| m[..k].to_string()))
        .collect();
    modules.extend(parents);
    modules
}

/// How far a closure follows imports.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Follow {
    /// Every import that may run: required or optional, at import or in a function body.
    MayRun,
    /// The imports that run when the module is imported, required or optional: what it needs
    /// to import, and the implementation it picks (google_crc32c tries its C extension first
    /// and falls back to pure Python without it).
    AtImport,
}

/// Add to `modules` everything the files in `roots` import, transitively.
pub(super) fn close(
    ctx: &Ctx,
    index: &mut Index,
    modules: &mut HashSet<String>,
    roots: Vec<usize>,
    follow: Follow,
) {
    let mut queue = roots;
    let mut scanned: HashSet<usize> = HashSet::new();
    while let Some(i) = queue.pop() {
        if !scanned.insert(i) {
            continue;
        }
        for import in index.imports_of(ctx, i).iter() {
            let follows = match follow {
                Follow::MayRun => import.need != Need::TypeOnly,
                Follow::AtImport => import.at_import,
            };
            if !follows {
                continue;
            }
            let files = index.files(&import.module);
            queue.extend(files.iter().copied().filter(|f| !scanned.contains(f)));
            modules.insert(import.module.clone());
        }
    }
}
