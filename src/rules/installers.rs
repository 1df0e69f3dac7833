//! Installers: pip, setuptools and wheel (~22 MB in every venv) install things; a final image
//! installs nothing. They go as whole distributions, with their dist-info, bin scripts
//! (`pip3.11`), `_distutils_hack` and `distutils-precedence.pth` (all listed in their RECORD),
//! unless kept code imports one of their top-level modules: then the whole distribution stays,
//! because they reach their own vendored code through sys.path tricks no static scan follows
//! (pkg_resources adds setuptools/_vendor to sys.path). virtualenv's start-up hook, an install-time
//! guard no distribution owns, goes too.

use super::{Category, Ctx, Guard, Item, Rule, Verdict};

/// Every file an installer distribution's RECORD lists.
pub static INSTALLER: Rule = Rule {
    id: "installers.dist",
    category: Category::Installers,
    guard: Guard::Distribution,
    reason: "pip, setuptools and wheel install packages; the final image installs nothing",
    evidence: "pkg_resources users (older namespace packages, some plugins) need setuptools: the import guard keeps the whole distribution when kept code imports it",
};

/// virtualenv's start-up hook: `_virtualenv.pth` imports `_virtualenv` at every interpreter
/// start, and that module patches how `distutils.dist` and `setuptools.dist` read install options
/// (docs/facts.md, "virtualenv's start-up hook"). Written by virtualenv before 21.15 on every
/// Python (PDM's pinned virtualenv still does), listed in no RECORD.
pub static VIRTUALENV_HOOK: Rule = Rule {
    id: "installers.virtualenv-hook",
    category: Category::Installers,
    guard: Guard::Module,
    reason: "virtualenv's _virtualenv.pth and _virtualenv.py keep installs inside the venv; the final image installs nothing, and the hook costs every start about 10 ms",
    evidence: "virtualenv itself stopped writing it for Python 3.10 and later (pypa/virtualenv#3181); it only patches distutils/setuptools install options",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&INSTALLER, &VIRTUALENV_HOOK];

/// The hook's files, directly in site-packages.
const VIRTUALENV_HOOK_FILES: [&str; 2] = ["_virtualenv.pth", "_virtualenv.py"];
/// The hook's module: its absence from a slim tree is no regression (verify).
pub const VIRTUALENV_HOOK_MODULE: &str = "_virtualenv";

pub use crate::dists::is_installer;

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let hook = item.owner.is_none()
        && item
            .sp_rel
            .and_then(|p| p.to_str())
            .is_some_and(|p| VIRTUALENV_HOOK_FILES.contains(&p));
    if hook {
        return Some(Verdict::Remove(&VIRTUALENV_HOOK));
    }
    let owner = item.owner?;
    ctx.installer_dists
        .contains(&owner)
        .then_some(Verdict::Remove(&INSTALLER))
}
