//! Build-time modules: code that only runs while a package is built or compiled, shipped inside
//! runtime packages. The final image builds nothing, and these are what kept the installers
//! alive: numpy's distutils imports setuptools at import time, cffi's build helpers import it in
//! their functions, a stray `setup.py` imports it at the top (docs/facts.md, "Build-time
//! modules").
//!
//! Each path is named with its evidence. The guard (`guard.rs`) never lets an import made by
//! one of these files keep an installer, even when the file itself is kept.

use super::{Category, Ctx, Guard, Item, Rule, Verdict};

/// numpy's distutils build system and f2py's backend that uses it.
pub static NUMPY_DISTUTILS: Rule = Rule {
    id: "build.numpy-distutils",
    category: Category::Build,
    guard: Guard::None,
    reason: "numpy.distutils is numpy's deprecated build system (absent on Python 3.12+); it imports setuptools when imported, and numpy reaches it only through the `np.distutils` attribute and f2py's distutils backend",
    evidence: "numpy 2.4 on Python 3.11: 208 files, 1.9 MB, and its import of setuptools kept all of setuptools (466 files, 7.7 MiB); numpy on Python 3.12+ ships without it",
};

/// cffi's setuptools plugin and its distutils shim.
pub static CFFI_BUILD: Rule = Rule {
    id: "build.cffi",
    category: Category::Build,
    guard: Guard::None,
    reason: "cffi/setuptools_ext.py is setuptools' `cffi_modules=` plugin and cffi/_shimmed_dist_utils.py serves only ffi.compile() and ffi.verify(), which need a C compiler",
    evidence: "their imports kept all of setuptools (7.7 MiB) in every venv with cffi (cryptography pulls it in); on Python 3.12+ _shimmed_dist_utils raises at import without setuptools, so keeping it would fail there",
};

/// `setup.py` scripts inside packages.
pub static SETUP_SCRIPTS: Rule = Rule {
    id: "build.setup-py",
    category: Category::Build,
    guard: Guard::Module,
    reason: "setup.py scripts (and pydevd's Cython build script) shipped inside packages build the package; nothing imports them at run time",
    evidence: "IPython/testing/plugin/setup.py and debugpy's setup_pydevd_cython.py import setuptools at the top; the import guard keeps one that kept code imports",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&NUMPY_DISTUTILS, &CFFI_BUILD, &SETUP_SCRIPTS];

/// Paths relative to site-packages: a directory prefix (ending in `/`) or one file.
const PATHS: &[(&str, &Rule)] = &[
    ("numpy/distutils/", &NUMPY_DISTUTILS),
    ("numpy/f2py/_backends/_distutils.py", &NUMPY_DISTUTILS),
    ("cffi/setuptools_ext.py", &CFFI_BUILD),
    ("cffi/_shimmed_dist_utils.py", &CFFI_BUILD),
    (
        "debugpy/_vendored/pydevd/setup_pydevd_cython.py",
        &SETUP_SCRIPTS,
    ),
];

/// The build rule for a path relative to site-packages, if it is build-time code. Bytecode in
/// `__pycache__` follows its source.
pub fn rule_for(sp_rel: &str) -> Option<&'static Rule> {
    let source;
    let mut path = sp_rel;
    if let Some(s) = crate::dists::source_of_pyc(std::path::Path::new(sp_rel)) {
        source = s;
        path = source.to_str()?;
    }
    if let Some((_, rule)) = PATHS.iter().find(|(p, _)| match p.strip_suffix('/') {
        Some(dir) => path.starts_with(p) || path == dir,
        None => path == *p,
    }) {
        return Some(rule);
    }
    // A setup.py inside a package; one at the top of site-packages is not a module anyone
    // imports either, but it is not inside a distribution's package, so it is left alone.
    (path.ends_with("/setup.py")).then_some(&SETUP_SCRIPTS)
}

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(_ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let sp_rel = item.sp_rel?.to_str()?;
    rule_for(sp_rel).map(Verdict::Remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_paths() {
        let id = |p: &str| rule_for(p).map(|r| r.id);
        assert_eq!(id("numpy/distutils/core.py"), Some("build.numpy-distutils"));
        assert_eq!(
            id("numpy/distutils/__pycache__/core.cpython-311.pyc"),
            Some("build.numpy-distutils")
        );
        assert_eq!(id("numpy/distutils_extra.py"), None);
        assert_eq!(id("numpy/f2py/_backends/_meson.py"), None);
        assert_eq!(id("cffi/_shimmed_dist_utils.py"), Some("build.cffi"));
        assert_eq!(id("cffi/api.py"), None);
        assert_eq!(
            id("IPython/testing/plugin/setup.py"),
            Some("build.setup-py")
        );
        assert_eq!(id("setup.py"), None);
        assert_eq!(id("pkg/setup_logging.py"), None);
    }
}
