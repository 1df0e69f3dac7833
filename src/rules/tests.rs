//! Test suites shipped inside packages (pandas, scipy, scikit-learn: up to 10% of a venv).
//!
//! Removal is by directory name `tests`/`test` and `conftest.py`, with two safety nets: an
//! allowlist of test-named paths that are runtime code, and the import guard (`guard.rs`),
//! which keeps any module that kept code imports. `testing` directories are public API
//! (`numpy.testing`, `pandas.testing` is imported by pandas at import time) and never match.

use super::{Category, Ctx, Guard, Item, Rule, Verdict};

/// Directories named `tests` or `test` inside packages.
pub static TESTS_DIR: Rule = Rule {
    id: "tests.dir",
    category: Category::Tests,
    guard: Guard::Module,
    reason: "a package's own test suite (a directory named tests or test); nothing imports it at run time",
    evidence: "django/test is runtime code (allowlisted); numpy 2.x numpy.testing imports numpy/_core/tests/_natype.py (allowlisted); the import guard keeps any other test module that kept code imports",
};

/// pytest's `conftest.py`.
pub static CONFTEST: Rule = Rule {
    id: "tests.conftest",
    category: Category::Tests,
    guard: Guard::Module,
    reason: "pytest configuration; only pytest loads it",
    evidence: "pytest docs: conftest.py is collected by pytest, never imported by packages",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&TESTS_DIR, &CONFTEST];

/// Paths (relative to site-packages) under test-named directories that are runtime code.
const RUNTIME_TEST_PATHS: &[(&str, &str)] = &[
    ("django/test/", "django.test (Client, TestCase, override_settings) is imported by apps and by django itself"),
    ("numpy/_core/tests/_natype.py", "numpy 2.x numpy.testing imports it"),
    ("numpy/core/tests/_natype.py", "numpy.testing imports it in some 1.x/2.0 layouts"),
];

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(_ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let sp_rel = item.sp_rel?.to_str()?;
    if RUNTIME_TEST_PATHS
        .iter()
        .any(|(p, _)| sp_rel.starts_with(p))
    {
        return None;
    }
    if item.name() == "conftest.py" {
        return Some(Verdict::Remove(&CONFTEST));
    }
    item.sp_dirs()
        .any(|d| d == "tests" || d == "test")
        .then_some(Verdict::Remove(&TESTS_DIR))
}
