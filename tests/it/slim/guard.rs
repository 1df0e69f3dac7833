//! The import guard's precision: which imports keep a module a rule would remove (required
//! ones), which do not (optional imports, `if TYPE_CHECKING:`, build-time code), and the deep
//! verify that gives back what a real import needed after all.

use std::fs;

use super::python_ok;
use crate::util::{action, exists, slim, Fixture};

/// Writes `files` into the fixture's site-packages.
fn write(fx: &Fixture, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = fx.sp().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

fn rescued(report: &serde_json::Value, fx: &Fixture, rel: &str) -> bool {
    let path = fx.rel(rel);
    report["rescues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["path"] == path.as_str())
}

#[test]
fn only_required_imports_rescue() {
    let fx = Fixture::new("venvslim-guard-");
    write(
        &fx,
        &[
            (
                "demo/optional.py",
                "try:\n    import pip\n    from demo.tests import optional_helper\nexcept ImportError:\n    pip = None\n    from demo.tests import fallback\n",
            ),
            (
                "demo/typed.py",
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from demo.tests.typed_helper import T\nelse:\n    from demo.tests.runtime_helper import R\n",
            ),
            ("demo/tests/optional_helper.py", "X = 1\n"),
            ("demo/tests/fallback.py", "Y = 2\n"),
            ("demo/tests/typed_helper.py", "T = int\n"),
            ("demo/tests/runtime_helper.py", "R = 3\n"),
        ],
    );
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    let sp_out = out.join(&fx.sp_rel);
    // Optional and type-only imports do not keep what they name, installers included.
    for gone in [
        "demo/tests/optional_helper.py",
        "demo/tests/typed_helper.py",
        "pip/__init__.py",
    ] {
        assert!(!exists(&sp_out.join(gone)), "{gone} was kept");
        assert!(!rescued(&report, &fx, gone), "{gone} in rescues");
    }
    // The handler's fallback and the `else:` of TYPE_CHECKING run: they keep theirs.
    for kept in ["demo/tests/fallback.py", "demo/tests/runtime_helper.py"] {
        assert!(exists(&sp_out.join(kept)), "{kept} was removed");
        assert!(rescued(&report, &fx, kept), "{kept} not in rescues");
    }
    // And the slim tree imports them all.
    let got = python_ok(
        &out,
        &fx.py,
        "import demo.optional as o, demo.typed as t; print(o.pip, t.R)",
    );
    assert_eq!(got.trim(), "None 3");
}

#[test]
fn build_time_code_never_keeps_an_installer() {
    let fx = Fixture::new("venvslim-guard-");
    write(
        &fx,
        &[
            ("demo/plugin/__init__.py", ""),
            (
                "demo/plugin/setup.py",
                "from pip import main\nmain(['install', '.'])\n",
            ),
            ("demo/uses_setup.py", "import demo.plugin.setup\n"),
        ],
    );
    // Removed by its rule, even though demo.uses_setup imports it: the guard keeps it (a
    // required import) but its own import of pip does not keep pip.
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    let sp_out = out.join(&fx.sp_rel);
    assert!(rescued(&report, &fx, "demo/plugin/setup.py"));
    assert!(exists(&sp_out.join("demo/plugin/setup.py")));
    assert!(!exists(&sp_out.join("pip/__init__.py")), "pip kept");
    // Without the importer, the build script goes by its rule.
    fs::remove_file(fx.sp().join("demo/uses_setup.py")).unwrap();
    let out = fx.path("out2");
    let report = slim(&fx.root, &out).report();
    let a = action(&report, &fx.rel("demo/plugin/setup.py")).expect("setup.py has an action");
    assert_eq!(a["rule"], "build.setup-py");
    assert_eq!(a["category"], "build");
    assert!(!exists(&out.join(&fx.sp_rel).join("demo/plugin/setup.py")));
}

#[test]
fn deep_verify_gives_back_what_an_optional_import_needed() {
    let fx = Fixture::new("venvslim-guard-");
    // Written as optional, but the module refuses to load without it later on (a handler that
    // raises would have made it required): the guard lets the helper go, the deep verify finds
    // demo.strict failing and restores the helper.
    write(
        &fx,
        &[
            (
                "demo/strict.py",
                "try:\n    from demo.tests.strict_helper import VALUE\nexcept ImportError:\n    VALUE = None\nif VALUE is None:\n    raise RuntimeError('demo.strict needs its helper')\n",
            ),
            ("demo/tests/strict_helper.py", "VALUE = 7\n"),
        ],
    );
    let out = fx.path("out");
    let report = slim(&fx.root, &out).arg("--verify").report();
    let sp_out = out.join(&fx.sp_rel);
    assert!(
        exists(&sp_out.join("demo/tests/strict_helper.py")),
        "not restored: {:#}",
        report["verify"]
    );
    let got = python_ok(&out, &fx.py, "import demo.strict as s; print(s.VALUE)");
    assert_eq!(got.trim(), "7");
    // Without --verify it is gone and demo.strict fails: the restore above was verify's.
    let bare = fx.path("bare");
    slim(&fx.root, &bare).report();
    assert!(!exists(
        &bare.join(&fx.sp_rel).join("demo/tests/strict_helper.py")
    ));
}
