//! `--bytecode strip | keep | sourceless` (the default, compile, is checked in `default`): which
//! pycs are left, which go with their sources, and that the venv still imports.

use super::{python_ok, IMPORT_DEMO, METADATA_OF_DEMO};
use crate::util::{action, check_record, exists, listing, pyc_flags, pycs, slim, Fixture};
use std::collections::BTreeSet;
use std::fs;

#[test]
fn bytecode_strip_leaves_only_the_sourceless_module() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "strip"]).report();
    let sp_out = out.join(&fx.sp_rel);
    assert_eq!(
        pycs(&sp_out),
        BTreeSet::from(["demo/legacy.pyc".to_string()])
    );
    assert!(
        !listing(&out).iter().any(|p| p.contains("__pycache__")),
        "a __pycache__ is left"
    );
    let stale = format!("demo/__pycache__/core.{}.pyc", fx.cache_tag());
    assert_eq!(
        action(&report, &fx.rel(&stale)).unwrap()["rule"],
        "bytecode.strip"
    );
    assert_eq!(report["compiled"], 0);
    check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
}

#[test]
fn bytecode_keep_leaves_pycs_untouched() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    let (sp_in, sp_out) = (fx.sp(), out.join(&fx.sp_rel));
    let stale = format!("demo/__pycache__/core.{}.pyc", fx.cache_tag());
    let fresh = format!("demo/__pycache__/__init__.{}.pyc", fx.cache_tag());
    let expected = [stale.clone(), fresh.clone(), "demo/legacy.pyc".to_string()];
    assert_eq!(pycs(&sp_out), BTreeSet::from(expected.clone()));
    for p in &expected {
        assert_eq!(
            fs::read(sp_out.join(p)).unwrap(),
            fs::read(sp_in.join(p)).unwrap(),
            "{p}"
        );
        assert!(action(&report, &fx.rel(p)).is_none(), "{p} has an action");
    }
    assert_eq!(
        pyc_flags(&sp_out.join(&stale)),
        0,
        "the stale pip pyc is a timestamp pyc"
    );
    assert!(action(&report, &fx.rel(&stale)).is_none());
    assert_eq!(report["compiled"], 0);
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert!(
        listed.contains(&stale),
        "the kept pyc is still listed with its hash"
    );
}

/// With `--bytecode keep` a pyc shares its source's fate: a top-level conftest's pyc goes with
/// conftest.py (no orphan), and an allowlisted module under a tests/ directory keeps its pyc
/// (or a read-only start-up recompiles it).
#[test]
fn bytecode_keep_pycs_follow_their_sources() {
    let fx = Fixture::new("venvslim-slim-");
    let tag = fx.cache_tag();
    let sp = fx.sp();
    let files = [
        ("demo/conftest.py", "import pytest\n".to_string()),
        (
            &*format!("demo/__pycache__/conftest.{tag}.pyc"),
            "pyc".to_string(),
        ),
        ("numpy/_core/tests/_natype.py", "pd_NA = None\n".to_string()),
        (
            &*format!("numpy/_core/tests/__pycache__/_natype.{tag}.pyc"),
            "pyc".to_string(),
        ),
        ("numpy/_core/tests/test_a.py", "\n".to_string()),
    ];
    for (rel, body) in &files {
        let p = sp.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    let sp_out = out.join(&fx.sp_rel);
    let conftest_pyc = format!("demo/__pycache__/conftest.{tag}.pyc");
    assert!(!exists(&sp_out.join("demo/conftest.py")));
    assert!(
        !exists(&sp_out.join(&conftest_pyc)),
        "orphan conftest pyc left"
    );
    let a = action(&report, &fx.rel(&conftest_pyc)).expect("conftest pyc has an action");
    assert_eq!(a["rule"], "tests.conftest");
    assert!(exists(&sp_out.join("numpy/_core/tests/_natype.py")));
    assert!(
        exists(&sp_out.join(format!("numpy/_core/tests/__pycache__/_natype.{tag}.pyc"))),
        "the allowlisted module lost its pyc"
    );
    assert!(!exists(&sp_out.join("numpy/_core/tests/test_a.py")));
}

#[test]
fn bytecode_sourceless_ships_pycs_beside_where_sources_were() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--bytecode", "sourceless"])
        .report();
    let sp_out = out.join(&fx.sp_rel);
    for m in [
        "demo/__init__",
        "demo/core",
        "demo/tests/__init__",
        "demo/tests/helpers",
    ] {
        assert!(
            !exists(&sp_out.join(format!("{m}.py"))),
            "{m}.py should be gone"
        );
        assert_eq!(pyc_flags(&sp_out.join(format!("{m}.pyc"))), 1, "{m}.pyc");
    }
    let core = action(&report, &fx.rel("demo/core.py")).expect("action for demo/core.py");
    assert_eq!(core["rule"], "bytecode.sourceless");
    assert!(
        !listing(&out).iter().any(|p| p.contains("__pycache__")),
        "a __pycache__ is left"
    );
    assert_eq!(
        fs::read(sp_out.join("demo/legacy.pyc")).unwrap(),
        fs::read(fx.sp().join("demo/legacy.pyc")).unwrap()
    );
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert!(
        listed.contains("demo/core.pyc") && !listed.contains("demo/core.py"),
        "{listed:?}"
    );
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
    assert_eq!(
        python_ok(&out, &fx.py, METADATA_OF_DEMO),
        "1.0\n['demo.core:main']\n['demo']\n"
    );
}
