//! The default run out of place, and the runs that must agree with it: the input is never
//! modified (whatever the options), junk goes and what the runtime reads stays, the dry run
//! reports the real run's actions and totals and writes nothing, and `--in-place` leaves the
//! same tree.

use super::{python_ok, CHECK_PYCS, IMPORT_DEMO, METADATA_OF_DEMO};
use crate::util::{
    action, actions, check_record, count_files, exists, listing, pyc_flags, pycs, show, slim,
    slim_venv, tree, tree_diff, unique_bytes, Detail, Fixture,
};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[test]
fn input_is_never_modified_out_of_place() {
    let fx = Fixture::new("venvslim-slim-");
    let before = tree(&fx.root, Detail::Strict);
    let runs: &[&[&str]] = &[
        &[],
        &["--dry-run"],
        &["--json"],
        &["--dry-run", "--json"],
        &["--bytecode", "compile"],
        &["--bytecode", "keep"],
        &["--bytecode", "strip"],
        &["--bytecode", "sourceless"],
        &["--dist-info", "minimal"],
        &["--dist-info", "keep"],
        &["--dist-info", "licenses"],
        &["--dist-info", "strip"],
        &[
            "--keep-package",
            "demo",
            "--keep",
            "demo/tests/**",
            "--remove",
            "demo/core.py",
            "-v",
        ],
    ];
    for (i, args) in runs.iter().enumerate() {
        let out = fx.path(&format!("out{i}"));
        let output = slim(&fx.root, &out).args(*args).run();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}:\n{}",
            show(&output)
        );
        let diff = tree_diff(&before, &tree(&fx.root, Detail::Strict));
        assert!(
            diff.is_empty(),
            "venvslim slim {args:?} modified the input venv:\n{}",
            diff.join("\n")
        );
        let dry = args.contains(&"--dry-run");
        assert_eq!(
            exists(&out),
            !dry,
            "{args:?}: OUT exists after the run: {}",
            exists(&out)
        );
    }
    // A dry run with no output at all, and a dry run in place, change nothing either.
    for args in [&["--dry-run"][..], &["--dry-run", "--in-place"]] {
        let output = slim_venv(&fx.root).args(args).run();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}:\n{}",
            show(&output)
        );
        let diff = tree_diff(&before, &tree(&fx.root, Detail::Strict));
        assert!(
            diff.is_empty(),
            "venvslim slim {args:?} modified the venv:\n{}",
            diff.join("\n")
        );
    }
    // No staging directory is left behind: beside the venv there are only the real outputs.
    let mut beside: Vec<String> = fs::read_dir(fx.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    beside.sort();
    let mut expected: Vec<String> = (0..runs.len())
        .filter(|i| !runs[*i].contains(&"--dry-run"))
        .map(|i| format!("out{i}"))
        .chain(["venv".to_string()])
        .collect();
    expected.sort();
    assert_eq!(beside, expected);
}

#[test]
fn default_run_removes_junk_and_keeps_what_the_runtime_reads() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    let (sp_in, sp_out) = (fx.sp(), out.join(&fx.sp_rel));

    for key in [
        "venv",
        "output",
        "python",
        "dry_run",
        "actions",
        "rescues",
        "failures",
        "by_category",
        "by_dist",
        "compiled",
        "not_compiled",
        "totals",
        "elapsed_ms",
    ] {
        assert!(
            report.get(key).is_some(),
            "JSON report has no `{key}`: {report:#}"
        );
    }
    assert_eq!(report["python"], fx.py.as_str());
    assert_eq!(report["dry_run"], false);

    let gone = [
        "demo/tests/test_x.py",
        "demo/tests/conftest.py",
        "demo/docs",
        "demo/_speedups.c",
        "demo/__init__.pyi",
        "demo/py.typed",
        "demo/locale/fr/LC_MESSAGES/demo.po",
        "demo/static/app.js.map",
        "demo/README.md",
        "pip",
        "pip-23.0.dist-info",
        "demo-1.0.dist-info/INSTALLER",
        "demo-1.0.dist-info/REQUESTED",
        "demo-1.0.dist-info/WHEEL",
    ];
    for p in gone {
        assert!(!exists(&sp_out.join(p)), "{p} should be gone");
    }
    for p in [
        "bin/pip",
        "bin/pip3",
        "bin/activate",
        "bin/activate.csh",
        "bin/activate.fish",
        "bin/Activate.ps1",
    ] {
        assert!(!exists(&out.join(p)), "{p} should be gone");
    }
    let expected_rules = [
        ("demo/tests/test_x.py", "tests.dir"),
        ("demo/tests/conftest.py", "tests.conftest"),
        ("demo/docs/index.rst", "docs.dir"),
        ("demo/README.md", "docs.files"),
        ("demo/_speedups.c", "sources.c"),
        ("demo/__init__.pyi", "stubs.pyi"),
        ("demo/py.typed", "stubs.py-typed"),
        ("demo/locale/fr/LC_MESSAGES/demo.po", "translations.po"),
        ("demo/static/app.js.map", "sourcemaps"),
        (
            &format!("demo/__pycache__/core.{}.pyc", fx.cache_tag()),
            "bytecode.stale",
        ),
        ("pip/__init__.py", "installers.dist"),
        ("pip-23.0.dist-info/METADATA", "installers.dist"),
        ("demo-1.0.dist-info/WHEEL", "dist-info.install-only"),
        ("demo-1.0.dist-info/METADATA", "dist-info.metadata-body"),
        ("demo-1.0.dist-info/RECORD", "dist-info.record"),
    ];
    for (p, rule) in expected_rules {
        let a = action(&report, &fx.rel(p)).unwrap_or_else(|| panic!("no action for {p}"));
        assert_eq!(a["rule"], rule, "{p}: {a}");
    }
    for p in ["bin/pip", "bin/activate", "bin/Activate.ps1"] {
        assert!(
            action(&report, p).is_some_and(|a| a["action"] == "remove"),
            "no removal of {p}"
        );
    }
    assert_eq!(
        action(&report, &fx.rel("pip/__init__.py")).unwrap()["dist"],
        "pip"
    );
    assert_eq!(action(&report, "bin/pip").unwrap()["dist"], "pip");
    for a in actions(&report) {
        let keys: BTreeSet<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        let expected = BTreeSet::from(["path", "action", "category", "rule", "bytes", "dist"]);
        assert_eq!(keys, expected, "`to` only on moves: {a}");
    }
    assert_eq!(
        action(&report, &fx.rel("demo/py.typed")).unwrap()["category"],
        "stubs"
    );

    // The import guard keeps the test helper demo.core imports, and says so.
    let helpers = fx.rel("demo/tests/helpers.py");
    assert!(
        action(&report, &helpers).is_none(),
        "helpers.py has an action"
    );
    let rescue = report["rescues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == helpers.as_str());
    let rescue =
        rescue.unwrap_or_else(|| panic!("helpers.py not in rescues: {:#}", report["rescues"]));
    assert_eq!(rescue["rule"], "tests.dir");
    assert!(
        rescue["reason"].as_str().unwrap().contains("demo/core.py"),
        "{rescue}"
    );

    // Kept byte for byte.
    for p in [
        "demo/tests/helpers.py",
        "demo/locale/fr/LC_MESSAGES/demo.mo",
        "demo/LICENSE",
        "demo/legacy.pyc",
        "demo/static/app.js",
        "demo/core.py",
        "demo-1.0.dist-info/entry_points.txt",
        "demo-1.0.dist-info/top_level.txt",
        "demo-1.0.dist-info/licenses/LICENSE",
    ] {
        assert_eq!(
            fs::read(sp_out.join(p)).ok(),
            fs::read(sp_in.join(p)).ok(),
            "{p} should be kept as it was"
        );
    }
    let weird = OsStr::from_bytes(b"demo/caf\xe9.py");
    assert_eq!(
        fs::read(sp_out.join(weird)).ok(),
        Some(b"X = 1\n".to_vec()),
        "non-UTF-8 file name"
    );
    for p in ["pyvenv.cfg", "bin/demo"] {
        assert_eq!(
            fs::read(out.join(p)).ok(),
            fs::read(fx.root.join(p)).ok(),
            "{p} should be kept as it was"
        );
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().mode();
    assert_eq!(
        mode(&out.join("bin/demo")),
        mode(&fx.root.join("bin/demo")),
        "bin/demo keeps its mode"
    );

    // Symlinks are copied as symlinks, with the same target, dangling or looping or not.
    let links = [
        format!("bin/python{}", fx.py),
        "bin/python".into(),
        "bin/python3".into(),
        "lib64".into(),
        fx.rel("demo/links/dangling"),
        fx.rel("demo/links/loop_a"),
        fx.rel("demo/links/loop_b"),
        fx.rel("demo/links/cycle"),
    ];
    for l in &links {
        let m = fs::symlink_metadata(out.join(l)).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(m.file_type().is_symlink(), "{l} is not a symlink in OUT");
        assert_eq!(
            fs::read_link(out.join(l)).unwrap(),
            fs::read_link(fx.root.join(l)).unwrap(),
            "{l}"
        );
    }

    // The hardlinked pair is still one inode.
    let (a, b) = (
        fs::metadata(sp_out.join("demo/data/a.json")).unwrap(),
        fs::metadata(sp_out.join("demo/data/b.json")).unwrap(),
    );
    assert_eq!(
        (a.dev(), a.ino()),
        (b.dev(), b.ino()),
        "demo/data/a.json and b.json are no longer hardlinked"
    );
    assert_eq!(a.nlink(), 2);

    // METADATA keeps its header block only; RECORD lists exactly what is left, with hashes.
    let meta_in = fs::read_to_string(sp_in.join("demo-1.0.dist-info/METADATA")).unwrap();
    let header = format!("{}\n", meta_in.split("\n\n").next().unwrap());
    assert_eq!(
        fs::read_to_string(sp_out.join("demo-1.0.dist-info/METADATA")).unwrap(),
        header
    );
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    let mut left: BTreeSet<String> = listing(&sp_out)
        .into_iter()
        .filter(|p| p.starts_with("demo/") || p.starts_with("demo-1.0.dist-info/"))
        .filter(|p| !p.ends_with('/') && !p.contains("/links/") && !p.contains('\u{fffd}'))
        .collect();
    left.insert("../../../bin/demo".into());
    assert_eq!(listed, left, "RECORD should list exactly the files left");

    // Bytecode: every kept source compiled as an unchecked-hash pyc, by the venv's interpreter.
    let tag = fx.cache_tag();
    let expected_pycs: BTreeSet<String> = [
        format!("demo/__pycache__/__init__.{tag}.pyc"),
        format!("demo/__pycache__/core.{tag}.pyc"),
        format!("demo/tests/__pycache__/__init__.{tag}.pyc"),
        format!("demo/tests/__pycache__/helpers.{tag}.pyc"),
        "demo/legacy.pyc".into(),
    ]
    .into();
    assert_eq!(pycs(&sp_out), expected_pycs);
    let magic = fs::read(sp_in.join("demo/legacy.pyc")).unwrap()[..4].to_vec();
    for p in expected_pycs.iter().filter(|p| p.contains("__pycache__")) {
        assert_eq!(
            pyc_flags(&sp_out.join(p)),
            1,
            "{p} is not an unchecked-hash pyc"
        );
        assert_eq!(
            fs::read(sp_out.join(p)).unwrap()[..4],
            magic[..],
            "{p}: magic of another Python"
        );
    }
    assert_eq!(report["compiled"], 4);

    // Totals add up to what is on disk.
    let totals = &report["totals"];
    assert_eq!(totals["before_files"], count_files(&fx.root) as u64);
    assert_eq!(totals["after_files"], count_files(&out) as u64);
    assert_eq!(
        totals["before_bytes"],
        unique_bytes(&fx.root),
        "hardlinks count once"
    );
    assert_eq!(totals["after_bytes"], unique_bytes(&out));

    let checked = python_ok(&out, &fx.py, CHECK_PYCS);
    assert_eq!(checked.lines().count(), 4, "{checked}");

    // The slimmed venv runs: imports, the rescued helper, the sourceless module, metadata.
    let stdout = python_ok(&out, &fx.py, IMPORT_DEMO);
    assert_eq!(stdout, "hello world\n42\n");
    let stdout = python_ok(&out, &fx.py, METADATA_OF_DEMO);
    assert_eq!(stdout, "1.0\n['demo.core:main']\n['demo']\n");
}

#[test]
fn dry_run_json_lists_the_actions_of_the_real_run_and_writes_nothing() {
    let fx = Fixture::new("venvslim-slim-");
    let (dry_out, real_out) = (fx.path("dry"), fx.path("real"));
    let before = tree(fx.tmp.path(), Detail::Strict);
    let dry = slim(&fx.root, &dry_out).args(["--dry-run"]).report();
    let diff = tree_diff(&before, &tree(fx.tmp.path(), Detail::Strict));
    assert!(
        diff.is_empty(),
        "a dry run wrote something:\n{}",
        diff.join("\n")
    );
    let real = slim(&fx.root, &real_out).report();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(real["dry_run"], false);
    assert!(!actions(&dry).is_empty());
    assert_eq!(dry["actions"], real["actions"]);
    assert_eq!(dry["rescues"], real["rescues"]);
    assert_eq!(dry["by_category"], real["by_category"]);
    assert_eq!(dry["compiled"], real["compiled"]);
    assert!(!exists(&dry_out));
}

#[test]
fn dry_run_totals_are_the_real_run_totals_when_nothing_is_compiled() {
    let fx = Fixture::new("venvslim-slim-");
    let dry = slim_venv(&fx.root)
        .args(["--dry-run", "--bytecode", "keep"])
        .report();
    let real = slim(&fx.root, &fx.path("out"))
        .args(["--bytecode", "keep"])
        .report();
    assert_eq!(real["totals"]["after_bytes"], unique_bytes(&fx.path("out")));
    assert_eq!(
        dry["totals"], real["totals"],
        "the dry run's `after` is not what the run leaves"
    );
}

#[test]
fn in_place_gives_the_same_tree_as_out_of_place() {
    let (a, b) = (
        Fixture::new("venvslim-slim-"),
        Fixture::new("venvslim-slim-"),
    );
    let out = a.path("out");
    let report_a = slim(&a.root, &out).report();
    let report_b = slim_venv(&b.root).args(["--in-place"]).report();
    assert_eq!(report_a["actions"], report_b["actions"]);
    assert_eq!(
        listing(&out),
        listing(&b.root),
        "in place and out of place leave different files"
    );
    // Same contents too, except bytecode, which embeds the path of its source.
    let diff = tree_diff(&tree(&out, Detail::Shape), &tree(&b.root, Detail::Shape));
    assert!(
        diff.is_empty(),
        "in place and out of place differ:\n{}",
        diff.join("\n")
    );
    let sp = b.root.join(&b.sp_rel);
    let (x, y) = (
        fs::metadata(sp.join("demo/data/a.json")).unwrap(),
        fs::metadata(sp.join("demo/data/b.json")).unwrap(),
    );
    assert_eq!(
        x.ino(),
        y.ino(),
        "in place: the hardlinked pair is still one inode"
    );
    check_record(&b.root, &b.sp_rel, "demo-1.0.dist-info");
    assert_eq!(python_ok(&b.root, &b.py, CHECK_PYCS).lines().count(), 4);
    assert_eq!(python_ok(&b.root, &b.py, IMPORT_DEMO), "hello world\n42\n");
}

/// What uv and virtualenv write into bin/ for Windows and other shells goes; the console
/// scripts stay.
#[test]
fn windows_launchers_and_every_activation_variant_go() {
    let fx = Fixture::new("venvslim-slim-");
    let bin = fx.root.join("bin");
    let tool_made = [
        "pydoc.bat",
        "activate.bat",
        "deactivate.bat",
        "activate.ps1",
        "activate.nu",
        "activate.xsh",
        "activate_this.py",
    ];
    for name in tool_made {
        fs::write(bin.join(name), "rem a launcher\n").unwrap();
    }
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    for name in tool_made {
        assert!(!exists(&out.join("bin").join(name)), "bin/{name} stayed");
        let rule = action(&report, &format!("bin/{name}")).map(|a| a["rule"].clone());
        assert!(
            matches!(
                rule.as_ref().and_then(|r| r.as_str()),
                Some("windows.scripts" | "activation")
            ),
            "bin/{name}: {rule:?}"
        );
    }
    assert!(exists(&out.join("bin/demo")), "the console script went");
}

/// virtualenv's start-up hook (`_virtualenv.pth` importing `_virtualenv` at every start) goes by
/// its rule; a module of that name inside a package, or one a RECORD lists, stays.
#[test]
fn virtualenvs_start_up_hook_goes_and_nothing_else_of_that_name() {
    let fx = Fixture::new("venvslim-slim-");
    let sp = fx.sp();
    fs::write(sp.join("_virtualenv.pth"), "import _virtualenv").unwrap();
    fs::write(sp.join("_virtualenv.py"), "import sys\nsys.hooked = True\n").unwrap();
    let pkg = sp.join("demo_pkg");
    fs::create_dir_all(&pkg).unwrap();
    fs::write(pkg.join("_virtualenv.py"), "X = 1\n").unwrap();
    let hooked = |venv: &std::path::Path| {
        crate::util::python(venv.join("bin/python"))
            .args(["-c", "import sys; print(getattr(sys, 'hooked', False))"])
            .ok()
            .stdout()
    };
    assert_eq!(
        hooked(&fx.root).trim(),
        "True",
        "the hook runs in the input"
    );
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    for name in ["_virtualenv.pth", "_virtualenv.py"] {
        let rel = fx.rel(name);
        assert!(!exists(&out.join(&rel)), "{rel} stayed");
        let rule = action(&report, &rel).and_then(|a| a["rule"].as_str().map(str::to_string));
        assert_eq!(rule.as_deref(), Some("installers.virtualenv-hook"), "{rel}");
    }
    assert!(exists(&out.join(fx.rel("demo_pkg/_virtualenv.py"))));
    assert_eq!(hooked(&out).trim(), "False", "the hook still runs");
    // verify knows the hook went on purpose: no application imports `_virtualenv`.
    crate::util::venvslim()
        .arg("verify")
        .arg(&out)
        .arg("--against")
        .arg(&fx.root)
        .ok();
}

/// uv's and virtualenv's markers at the venv's root (`.gitignore`, `CACHEDIR.TAG`, uv's `.lock`)
/// go by their rule; pyvenv.cfg and a package's own `.gitignore` stay.
#[test]
fn venv_tool_markers_at_the_root_go() {
    let fx = Fixture::new("venvslim-slim-");
    // What uv writes (its `.lock` is empty).
    let markers = [
        (".gitignore", "*"),
        (
            "CACHEDIR.TAG",
            "Signature: 8a477f597d28d172789f06886806bc55",
        ),
        (".lock", ""),
    ];
    for (name, content) in markers {
        fs::write(fx.root.join(name), content).unwrap();
    }
    let markers = markers.map(|(name, _)| name);
    let pkg = fx.sp().join("demo_pkg");
    fs::create_dir_all(&pkg).unwrap();
    fs::write(pkg.join(".lock"), "").unwrap();
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    for name in markers {
        assert!(!exists(&out.join(name)), "{name} stayed");
        let rule = action(&report, name).and_then(|a| a["rule"].as_str().map(str::to_string));
        assert_eq!(rule.as_deref(), Some("venv.markers"), "{name}");
    }
    assert!(exists(&out.join("pyvenv.cfg")));
    assert!(
        exists(&out.join(fx.rel("demo_pkg/.lock"))),
        "a package's file went"
    );
}

/// A venv made in a project's own directory (`python -m venv .`): the project's `.gitignore` at
/// the root is the user's, not the venv tool's `*`, and an in-place run leaves it (and a `.lock`
/// with content) alone.
#[test]
fn a_projects_own_gitignore_at_a_venvs_root_stays() {
    let fx = Fixture::new("venvslim-slim-");
    let gitignore = "__pycache__/\n.env\n";
    fs::write(fx.root.join(".gitignore"), gitignore).unwrap();
    fs::write(fx.root.join(".lock"), "4242\n").unwrap();
    crate::util::venvslim()
        .arg("slim")
        .arg(&fx.root)
        .arg("--in-place")
        .ok();
    assert_eq!(
        fs::read_to_string(fx.root.join(".gitignore")).unwrap(),
        gitignore
    );
    assert!(exists(&fx.root.join(".lock")), "a .lock with content went");
}
