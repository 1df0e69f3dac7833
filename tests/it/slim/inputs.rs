//! Trees that are not the plain fixture: a FIFO (a reported skip), a bare site-packages (needs
//! `--python-version`), relative paths, hardlinks into a package cache (never written through in
//! place), one link of a hardlinked pair removed (saves nothing), and a broken interpreter (only
//! `--bytecode keep | strip` run without it).

use super::{expect_usage_error, python_ok, IMPORT_DEMO};
use crate::util::{
    action, check_record, exists, pyc_flags, pycs, show, slim, slim_venv, tree, tree_diff,
    venvslim, Detail, Fixture, TestCommand,
};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

#[test]
/// A FIFO is not copied: a reported skip (issue 11: FIFOs and devices stay what they are), not
/// a failure, since out of place a failure now stops the whole run.
fn fifo_is_a_reported_skip_and_the_rest_is_done() {
    let fx = Fixture::new("venvslim-slim-");
    let fifo = fx.sp().join("demo/data/pipe");
    TestCommand::new("mkfifo").arg(&fifo).ok();
    let before = tree(&fx.root, Detail::Strict);
    let out = fx.path("out");
    let output = slim(&fx.root, &out).args(["--json"]).ok();
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    let failures = report["skipped"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(
        failures[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("site-packages/demo/data/pipe"),
        "{failures:#?}"
    );
    assert!(!failures[0]["error"].as_str().unwrap().is_empty());
    assert!(
        tree_diff(&before, &tree(&fx.root, Detail::Strict)).is_empty(),
        "the input was modified"
    );
    // Everything else was done.
    let sp_out = out.join(&fx.sp_rel);
    assert!(!exists(&sp_out.join("demo/data/pipe")));
    assert!(
        !exists(&sp_out.join("demo/tests/test_x.py"))
            && exists(&sp_out.join("demo/tests/helpers.py"))
    );
    assert!(exists(&sp_out.join("demo/data/a.json")) && !exists(&sp_out.join("pip")));
    assert_eq!(
        pyc_flags(&sp_out.join(format!("demo/__pycache__/core.{}.pyc", fx.cache_tag()))),
        1
    );
    check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
    // The text report lists it too.
    let output = slim(&fx.root, &fx.path("out2"))
        .args(["--bytecode", "keep"])
        .ok();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("demo/data/pipe"),
        "{}",
        show(&output)
    );
    // OUT is published and no staging directory is left beside it.
    let mut beside: Vec<String> = fs::read_dir(fx.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    beside.sort();
    assert_eq!(beside, ["out", "out2", "venv"]);
}

#[test]
fn bare_site_packages_needs_python_version() {
    let fx = Fixture::new("venvslim-slim-");
    let sp = fx.sp();
    let out = fx.path("out");
    let stderr = expect_usage_error(
        &fx,
        &["slim", sp.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    assert!(stderr.contains("--python-version"), "{stderr}");
    assert!(stderr.contains(sp.to_str().unwrap()), "{stderr}");

    let before = tree(&fx.root, Detail::Strict);
    let report = slim(&sp, &out)
        .args(["--python-version", &fx.py, "--bytecode", "strip"])
        .report();
    assert!(
        tree_diff(&before, &tree(&fx.root, Detail::Strict)).is_empty(),
        "the input was modified"
    );
    assert_eq!(report["python"], fx.py.as_str());
    assert!(
        action(&report, "demo/tests/test_x.py").is_some(),
        "actions are relative to the tree given"
    );
    assert_eq!(
        fs::read(out.join("demo/core.py")).ok(),
        fs::read(sp.join("demo/core.py")).ok()
    );
    assert!(
        exists(&out.join("demo/tests/helpers.py")),
        "the import guard works in a bare tree"
    );
    for p in ["demo/tests/test_x.py", "demo/README.md", "pip"] {
        assert!(!exists(&out.join(p)), "{p} should be gone");
    }
    assert_eq!(pycs(&out), BTreeSet::from(["demo/legacy.pyc".to_string()]));
    check_record(&out, Path::new(""), "demo-1.0.dist-info");
}

#[test]
fn relative_venv_and_output_paths() {
    let fx = Fixture::new("venvslim-slim-");
    let args = ["slim", "venv", "-o", "out", "--bytecode", "keep", "--json"];
    let output = venvslim().current_dir(fx.tmp.path()).args(args).ok();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let venv = report["venv"].as_str().unwrap();
    assert!(
        Path::new(venv).is_absolute() && venv.ends_with("/venv"),
        "{venv}"
    );
    assert!(fx.path("out/pyvenv.cfg").is_file());
    assert!(!exists(
        &fx.path("out").join(&fx.sp_rel).join("demo/tests/test_x.py")
    ));
    // Inside the venv however it is spelled.
    let output = venvslim()
        .current_dir(fx.tmp.path())
        .args(["slim", "venv", "-o", "venv/../venv/slim"])
        .run();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(!exists(&fx.root.join("slim")));
}

#[test]
fn in_place_never_edits_through_hardlinks_into_a_package_cache() {
    let fx = Fixture::new("venvslim-slim-");
    // uv installs by hardlinking from its cache: the cache must come out as it went in.
    let cache = fx.path("cache");
    fs::create_dir(&cache).unwrap();
    let linked = [
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/RECORD",
        "demo/core.py",
        "demo/tests/test_x.py",
    ];
    for (i, p) in linked.iter().enumerate() {
        fs::hard_link(fx.sp().join(p), cache.join(i.to_string())).unwrap();
    }
    let before = tree(&cache, Detail::Content);
    slim_venv(&fx.root).args(["--in-place"]).report();
    let diff = tree_diff(&before, &tree(&cache, Detail::Content));
    assert!(
        diff.is_empty(),
        "--in-place wrote through a hardlink:\n{}",
        diff.join("\n")
    );
    let meta = fs::read_to_string(fx.sp().join("demo-1.0.dist-info/METADATA")).unwrap();
    assert!(
        !meta.contains("long description"),
        "METADATA was not rewritten in the venv"
    );
    assert!(!exists(&fx.sp().join("demo/tests/test_x.py")));
    check_record(&fx.root, &fx.sp_rel, "demo-1.0.dist-info");
}

#[test]
fn removing_one_link_of_a_hardlinked_file_saves_no_bytes() {
    let fx = Fixture::new("venvslim-slim-");
    // demo/README.md (removed by docs.files) and demo/static/notes.md (kept) are one inode,
    // and README.md comes first in path order.
    let (readme, notes) = (
        fx.sp().join("demo/README.md"),
        fx.sp().join("demo/static/notes.md"),
    );
    fs::hard_link(&readme, &notes).unwrap();
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    assert!(exists(&out.join(&fx.sp_rel).join("demo/static/notes.md")));
    let a = action(&report, &fx.rel("demo/README.md")).expect("README.md is removed");
    assert_eq!(
        a["bytes"], 0,
        "its inode stays as demo/static/notes.md: nothing is saved"
    );
    assert_eq!(
        report["by_category"]["docs"]["bytes"], 26,
        "only docs/index.rst frees bytes"
    );
}

#[test]
fn error_broken_interpreter_needs_bytecode_keep() {
    let fx = Fixture::new("venvslim-slim-");
    let py = fx.root.join(format!("bin/python{}", fx.py));
    fs::remove_file(&py).unwrap();
    fs::write(&py, "#!/bin/sh\necho 'this python is broken' >&2\nexit 3\n").unwrap();
    fs::set_permissions(&py, fs::Permissions::from_mode(0o755)).unwrap();
    let out = fx.path("out");
    let root = fx.root.to_str().unwrap();
    let stderr = expect_usage_error(&fx, &["slim", root, "-o", out.to_str().unwrap()]);
    let name = format!("bin/python{}", fx.py);
    assert!(
        stderr.contains(&name) && stderr.contains("--bytecode keep"),
        "{stderr}"
    );
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--bytecode",
            "sourceless",
        ],
    );
    assert!(stderr.contains(&name), "{stderr}");
    // keep and strip never run Python.
    slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    slim(&fx.root, &fx.path("out2"))
        .args(["--bytecode", "strip"])
        .report();
    assert_eq!(fs::read(out.join(&name)).unwrap(), fs::read(&py).unwrap());
}
