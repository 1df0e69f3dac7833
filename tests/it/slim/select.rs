//! Choosing by hand: `--keep` and `--remove` globs (keep wins) and `--keep-package` with a
//! version specifier.

use crate::util::{action, actions, check_record, exists, slim, tree, tree_diff, Detail, Fixture};
use std::fs;

#[test]
fn keep_glob_protects_files_and_wins_over_remove() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let args = [
        "--keep",
        "demo/tests/**",
        "--keep",
        "demo/static",
        "--keep",
        "demo/README.md",
        "--remove",
        "demo/README.md",
    ];
    let report = slim(&fx.root, &out).args(args).report();
    let sp_out = out.join(&fx.sp_rel);
    for p in [
        "demo/tests/test_x.py",
        "demo/tests/conftest.py",
        "demo/tests/helpers.py",
        "demo/static/app.js.map",
        "demo/README.md",
    ] {
        assert_eq!(
            fs::read(sp_out.join(p)).ok(),
            fs::read(fx.sp().join(p)).ok(),
            "{p} should be kept"
        );
        assert!(action(&report, &fx.rel(p)).is_none(), "{p} has an action");
    }
    assert!(
        !exists(&sp_out.join("demo/docs")),
        "--keep of one path keeps nothing else"
    );
}

#[test]
fn remove_glob_removes_files_and_whole_directories() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--remove", "demo/core.py", "--remove", "demo/static"])
        .report();
    let sp_out = out.join(&fx.sp_rel);
    for p in ["demo/core.py", "demo/static/app.js", "demo/static"] {
        assert!(!exists(&sp_out.join(p)), "{p} should be gone");
    }
    for p in ["demo/core.py", "demo/static/app.js"] {
        let a = action(&report, &fx.rel(p)).unwrap_or_else(|| panic!("no action for {p}"));
        assert_eq!(
            (a["rule"].as_str(), a["category"].as_str()),
            (Some("user.remove"), Some("user")),
            "{p}"
        );
    }
    // With demo/core.py gone nothing imports the test helper: the guard no longer keeps it.
    assert!(!exists(&sp_out.join("demo/tests/helpers.py")));
    assert_eq!(
        report["rescues"].as_array().map(|r| r
            .iter()
            .any(|r| r["path"].as_str().unwrap().ends_with("helpers.py"))),
        Some(false)
    );
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert!(!listed.contains("demo/core.py"));
}

#[test]
fn keep_package_with_matching_specifier_leaves_the_distribution_untouched() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--keep-package", "demo>=1"])
        .report();
    for sub in [fx.sp_rel.join("demo"), fx.sp_rel.join("demo-1.0.dist-info")] {
        let diff = tree_diff(
            &tree(&fx.root.join(&sub), Detail::Content),
            &tree(&out.join(&sub), Detail::Content),
        );
        assert!(
            diff.is_empty(),
            "--keep-package demo>=1 changed {}:\n{}",
            sub.display(),
            diff.join("\n")
        );
    }
    assert_eq!(
        fs::read(out.join("bin/demo")).ok(),
        fs::read(fx.root.join("bin/demo")).ok()
    );
    assert!(
        !actions(&report).iter().any(|a| a["dist"] == "demo"),
        "actions on demo: {:#}",
        report["actions"]
    );
    assert!(
        !exists(&out.join(&fx.sp_rel).join("pip")),
        "other distributions are still slimmed"
    );
}

#[test]
fn keep_package_with_other_versions_does_not_match() {
    let fx = Fixture::new("venvslim-slim-");
    let default = slim(&fx.root, &fx.path("default")).report();
    let report = slim(&fx.root, &fx.path("out"))
        .args(["--keep-package", "demo<1"])
        .report();
    assert_eq!(report["actions"], default["actions"]);
    assert!(!exists(
        &fx.path("out").join(&fx.sp_rel).join("demo/tests/test_x.py")
    ));
}
