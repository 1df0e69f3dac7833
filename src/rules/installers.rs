//! Installers: pip, setuptools and wheel (~22 MB in every venv) install things; a final image
//! installs nothing. They go as whole distributions, with their dist-info, bin scripts
//! (`pip3.11`), `_distutils_hack` and `distutils-precedence.pth` (all listed in their RECORD),
//! unless kept code imports one of their top-level modules: then the whole distribution stays,
//! because they reach their own vendored code through sys.path tricks no static scan follows
//! (pkg_resources adds setuptools/_vendor to sys.path).

use super::{Category, Ctx, Guard, Item, Rule, Verdict};

/// Every file an installer distribution's RECORD lists.
pub static INSTALLER: Rule = Rule {
    id: "installers.dist",
    category: Category::Installers,
    guard: Guard::Distribution,
    reason: "pip, setuptools and wheel install packages; the final image installs nothing",
    evidence: "pkg_resources users (older namespace packages, some plugins) need setuptools: the import guard keeps the whole distribution when kept code imports it",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&INSTALLER];

/// Whether a normalized distribution name is an installer (pip, setuptools, wheel, distribute).
pub fn is_installer(normalized: &str) -> bool {
    matches!(normalized, "pip" | "setuptools" | "wheel" | "distribute")
}

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let owner = item.owner?;
    ctx.installer_dists
        .contains(&owner)
        .then_some(Verdict::Remove(&INSTALLER))
}
