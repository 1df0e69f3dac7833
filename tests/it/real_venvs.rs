//! venvslim on real venvs built with pip from the pinned locks in `tests/venvs/` (cached in
//! `target/test-venvs/`; the first run builds them, which needs PyPI).
//!
//! Every check runs the slimmed tree the way a container does: bind-mounted read-only onto the
//! original venv's path (see `util::ro_run`), so console-script shebangs and `bin/python` resolve
//! into it and no bytecode can be cached. The baseline is the original venv mounted read-only onto
//! itself, probed the same way. What is compared comes from `tests/it/util/probe.py` (imports of
//! every module on disk, importlib.metadata, pyc validity) and from the per-venv scripts in
//! `tests/it/util/checks/`, which assert real behaviour and print a summary that must not change.
//!
//! Linux and root only (`unshare -m` + `mount`); without root each test prints a SKIP note.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::*;
use serde_json::Value;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Running venvslim
// ---------------------------------------------------------------------------------------------

/// Checks every report must pass: fields and types of the contract, no failures, every action's
/// path relative and present in the venv it was planned on (`planned_on`: the venv, or for an
/// in-place run, an untouched twin of it).
fn check_report(report: &Value, venv: &Path, planned_on: &Path, out: Option<&Path>, dry_run: bool) {
    let same_path = |v: &Value, p: &Path| {
        v.as_str().is_some_and(|s| {
            Path::new(s) == p || fs::canonicalize(s).ok() == fs::canonicalize(p).ok()
        })
    };
    assert!(
        same_path(&report["venv"], venv),
        "report.venv = {} for {}",
        report["venv"],
        venv.display()
    );
    if let (Some(out), false) = (out, dry_run) {
        assert!(
            same_path(&report["output"], out),
            "report.output = {} for {}",
            report["output"],
            out.display()
        );
    }
    assert_eq!(report["dry_run"], Value::Bool(dry_run), "report.dry_run");
    assert_eq!(
        report["failures"],
        Value::Array(vec![]),
        "report.failures must be empty on exit 0"
    );
    assert!(
        report["rescues"].is_array(),
        "report.rescues must be an array: {}",
        report["rescues"]
    );
    assert!(
        report["elapsed_ms"].is_u64(),
        "report.elapsed_ms: {}",
        report["elapsed_ms"]
    );
    for key in ["before_bytes", "after_bytes", "before_files", "after_files"] {
        assert!(
            report["totals"][key].is_u64(),
            "report.totals.{key}: {}",
            report["totals"]
        );
    }
    let actions = report["actions"]
        .as_array()
        .expect("report.actions is an array");
    assert!(
        !actions.is_empty(),
        "a real venv always has something to slim, got no actions"
    );
    for a in actions {
        let path = a["path"]
            .as_str()
            .unwrap_or_else(|| panic!("action without path: {a}"));
        let p = Path::new(path);
        assert!(
            p.is_relative() && !p.components().any(|c| c == std::path::Component::ParentDir),
            "action path must be relative to the venv root: {a}"
        );
        assert!(
            fs::symlink_metadata(planned_on.join(p)).is_ok(),
            "action on a path that is not in the venv: {a}"
        );
        assert!(
            matches!(a["action"].as_str(), Some("remove" | "rewrite" | "move")),
            "unknown action kind: {a}"
        );
        assert!(
            a["category"].is_string() && a["rule"].is_string(),
            "category/rule must be strings: {a}"
        );
        assert!(
            a["bytes"].is_u64(),
            "bytes must be a non-negative integer: {a}"
        );
        assert!(
            a["dist"].is_string() || a["dist"].is_null(),
            "dist must be a string or null: {a}"
        );
    }
}

/// What the report removed must really be gone from OUT (pycs aside: `compile` writes new ones at
/// the same paths).
fn check_removed_are_gone(report: &Value, out: &Path) {
    let mut still_there = Vec::new();
    for a in report["actions"].as_array().into_iter().flatten() {
        let (Some("remove"), Some(path)) = (a["action"].as_str(), a["path"].as_str()) else {
            continue;
        };
        if !path.ends_with(".pyc")
            && !path.ends_with("__pycache__")
            && fs::symlink_metadata(out.join(path)).is_ok()
        {
            still_there.push(path.to_string());
        }
    }
    assert!(
        still_there.is_empty(),
        "{} paths reported removed are still in OUT: {:?}",
        still_there.len(),
        &still_there[..still_there.len().min(10)]
    );
}

/// Every symlink of the venv (bin/python, bin/python3, lib64, ...) is still a symlink to the same
/// target in OUT, unless the report removed it.
fn check_symlinks_kept(venv: &Path, out: &Path, report: &Value) {
    let removed = removed_paths(report);
    let mut bad = Vec::new();
    for e in walkdir::WalkDir::new(venv).follow_links(false) {
        let e = e.expect("walk venv");
        if !e.path_is_symlink() {
            continue;
        }
        let rel = e.path().strip_prefix(venv).expect("under venv");
        if is_removed(&removed, path_str(rel)) {
            continue;
        }
        let target = fs::read_link(e.path()).expect("readlink");
        match fs::read_link(out.join(rel)) {
            Ok(t) if t == target => {}
            other => bad.push(format!(
                "{} -> {} became {other:?}",
                rel.display(),
                target.display()
            )),
        }
    }
    assert!(bad.is_empty(), "symlinks not kept as symlinks: {bad:#?}");
}

/// Every `.py` in OUT that had a pyc in the venv has one in OUT, and it is an unchecked-hash pyc for
/// the same interpreter (the pyc header's magic is the venv's; flags == 0b01). Static complement
/// of the probe, which only sees the modules it imports.
fn check_compiled_everything(venv: &Path, out: &Path) {
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0usize;
    for e in walkdir::WalkDir::new(out).follow_links(false) {
        let e = e.expect("walk out");
        let p = e.path();
        if !e.file_type().is_file() || p.extension().is_none_or(|x| x != "py") {
            continue;
        }
        let rel = p.strip_prefix(out).expect("under out");
        let Some(orig_pyc) = cached_pyc(&venv.join(rel)) else {
            continue;
        };
        let Some(new_pyc) = cached_pyc(p) else {
            missing.push(rel.display().to_string());
            continue;
        };
        checked += 1;
        let (old, new) = (pyc_header(&orig_pyc), pyc_header(&new_pyc));
        if old[..4] != new[..4] || new[4..8] != [1, 0, 0, 0] {
            wrong.push(format!(
                "{}: magic {:?} flags {:?}",
                rel.display(),
                &new[..4],
                &new[4..8]
            ));
        }
    }
    assert!(checked > 0, "no compiled .py found in {}", out.display());
    assert!(
        missing.is_empty() && wrong.is_empty(),
        "of {checked} .py files with a pyc before: {} have none in OUT (e.g. {:?}), {} are not unchecked-hash pycs of the venv's interpreter (e.g. {:?})",
        missing.len(),
        &missing[..missing.len().min(5)],
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

/// `dir/__pycache__/name.cpython-XY.pyc` for `dir/name.py`, if it exists.
fn cached_pyc(py: &Path) -> Option<PathBuf> {
    let stem = py.file_stem()?.to_str()?;
    let cache = py.parent()?.join("__pycache__");
    let prefix = format!("{stem}.cpython-");
    fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                // name.cpython-311.pyc, not name.cpython-311.opt-1.pyc
                n.starts_with(&prefix)
                    && n.ends_with(".pyc")
                    && n[prefix.len()..].split('.').count() == 2
            })
        })
}

fn pyc_header(p: &Path) -> [u8; 16] {
    let data = fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    let mut h = [0u8; 16];
    let n = data.len().min(16);
    h[..n].copy_from_slice(&data[..n]);
    h
}

fn count_pycs(root: &Path) -> usize {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "pyc"))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Running things in the read-only namespace
// ---------------------------------------------------------------------------------------------

/// The check script passes on the original and prints the same summary on the slim tree.
fn check_behaviour_same(venv: &Path, out: &Path, name: &str, tmp: &Path) {
    let before = run_check(venv, venv, name, &tmp.join("before"), &[]);
    assert!(
        before.status.success(),
        "check {name} fails on the ORIGINAL venv (test bug):\n{}",
        show(&before)
    );
    let after = run_check(out, venv, name, &tmp.join("after"), &[]);
    assert!(
        after.status.success(),
        "check {name} fails on the slimmed venv:\n{}",
        show(&after)
    );
    assert_eq!(
        String::from_utf8_lossy(&after.stdout),
        String::from_utf8_lossy(&before.stdout),
        "check {name}: slimmed venv behaves differently"
    );
}

/// Console scripts of the venv: regular files in bin/ whose shebang is the venv's python.
fn console_scripts(venv: &Path) -> Vec<String> {
    let shebang = format!("#!{}/bin/python", venv.display());
    let mut v: Vec<String> = fs::read_dir(venv.join("bin"))
        .expect("read bin")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| fs::read(e.path()).is_ok_and(|b| b.starts_with(shebang.as_bytes())))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every console script, run by path (so its shebang is used) with each of `flags`, exits the same
/// way and prints the same on the slim tree as on the original. `must` lists invocations that must
/// also succeed on the original (so the comparison is not between two failures).
fn check_console_scripts(venv: &Path, out: &Path, report: &Value, must: &[(&str, &str)]) {
    let removed = removed_paths(report);
    let scripts = console_scripts(venv);
    for (script, flag) in must {
        assert!(
            scripts.iter().any(|s| s == script),
            "expected console script {script} in {}/bin: {scripts:?}",
            venv.display()
        );
        let path = venv.join("bin").join(script);
        let o = ro_run_timeout(venv, venv, &[path_str(&path), flag], SCRIPT_TIMEOUT);
        assert!(
            o.status.success(),
            "{script} {flag} fails on the original venv:\n{}",
            show(&o)
        );
    }
    let mut problems = Vec::new();
    for script in &scripts {
        let rel = format!("bin/{script}");
        if is_removed(&removed, &rel) {
            continue;
        }
        let path = venv.join(&rel);
        for flag in ["--help", "--version"] {
            let b = ro_run_timeout(venv, venv, &[path_str(&path), flag], SCRIPT_TIMEOUT);
            let a = ro_run_timeout(out, venv, &[path_str(&path), flag], SCRIPT_TIMEOUT);
            if a.status.code() != b.status.code() || a.stdout != b.stdout {
                problems.push(format!(
                    "{script} {flag}: original {} {:?}, slimmed {} {:?} {}",
                    b.status,
                    tail(&String::from_utf8_lossy(&b.stdout), 200),
                    a.status,
                    tail(&String::from_utf8_lossy(&a.stdout), 200),
                    tail(&String::from_utf8_lossy(&a.stderr), 600)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "console scripts behave differently:\n{}",
        problems.join("\n")
    );
}

/// Installer distributions that a runtime image does not need and venvslim may drop whole (its help:
/// "installers ... go"; docs/facts.md: pip+setuptools+wheel are ~22 MB of every venv). Nothing else may
/// disappear.
const INSTALLERS: [&str; 3] = ["pip", "setuptools", "wheel"];

/// The installers the report dropped whole: every file of the distribution's dist-info directory is
/// reported removed (their modules' files then are too: checked per module by `compare_probes`).
/// Printed, so a run shows what went.
fn dropped_installers(venv: &Path, before: &Value, report: &Value) -> BTreeSet<String> {
    let removed = removed_paths(report);
    let site = site_packages_rel(venv);
    let mut dropped = BTreeSet::new();
    for name in INSTALLERS {
        let Some(dir) = before["dists"][name]["dir"].as_str() else {
            continue;
        };
        let rel_dir = site.join(dir);
        let all_removed = walkdir::WalkDir::new(venv.join(&rel_dir))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .all(|e| {
                is_removed(
                    &removed,
                    path_str(e.path().strip_prefix(venv).expect("under venv")),
                )
            });
        if all_removed {
            dropped.insert(name.to_string());
        }
    }
    eprintln!("installers dropped whole (allowed, reported): {dropped:?}");
    dropped
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Default mode: everything keeps working, start-up compiles nothing
// ---------------------------------------------------------------------------------------------

fn default_slim_keeps_working(name: &str, must_run: &[(&str, &str)]) {
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let scratch = scratch(&format!("{name}-default-"));
    let out = scratch.path().join("out");

    let hash_before = tree_hash(&venv);
    let report = slim(&venv, &out).arg("--json").json();
    assert_eq!(
        tree_hash(&venv),
        hash_before,
        "venvslim modified VENV {}",
        venv.display()
    );
    check_report(&report, &venv, &venv, Some(&out), false);
    check_removed_are_gone(&report, &out);
    check_symlinks_kept(&venv, &out, &report);

    let (size_before, size_after) = (unique_bytes(&venv), unique_bytes(&out));
    eprintln!("{name}: {size_before} -> {size_after} bytes in regular files");
    assert!(
        size_after < size_before,
        "OUT is not smaller: {size_after} >= {size_before}"
    );
    assert!(
        report["totals"]["after_bytes"].as_u64() < report["totals"]["before_bytes"].as_u64(),
        "report totals do not show a saving: {}",
        report["totals"]
    );
    check_compiled_everything(&venv, &out);

    let before = probe(&venv, &venv);
    let after = probe(&out, &venv);
    let removed = removed_paths(&report);
    assert_no_problems(
        &format!("{name}: default slim vs original"),
        &compare_probes(
            &before,
            &after,
            &|p| is_gone_on_purpose(&venv, &removed, p),
            &dropped_installers(&venv, &before, &report),
            true,
        ),
    );
    check_console_scripts(&venv, &out, &report, must_run);
    check_behaviour_same(&venv, &out, name, &scratch.path().join("check"));
}

#[test]
fn web_default_slim_imports_everything_runs_and_compiles_nothing_at_start() {
    default_slim_keeps_working("web", &[("uvicorn", "--version")]);
}

#[test]
fn django_default_slim_imports_everything_serves_and_compiles_nothing_at_start() {
    default_slim_keeps_working("django", &[("django-admin", "--version")]);
}

#[test]
fn numpy_pandas_default_slim_imports_everything_computes_and_compiles_nothing_at_start() {
    default_slim_keeps_working(
        "numpy_pandas",
        &[("f2py", "-v"), ("numpy-config", "--version")],
    );
}

// ---------------------------------------------------------------------------------------------
// --bytecode strip against the naive Docker recipe
// ---------------------------------------------------------------------------------------------

/// `--bytecode strip` leaves no pyc and is smaller than the recipe
/// (`COPY --exclude=**/__pycache__ --exclude=**/*.dist-info --exclude=!**/*.dist-info/LICENSE*`,
/// see `docker_recipe_copy`), which also has no pyc and less metadata: the saving must come from
/// what venvslim removes or rewrites beyond that (tests, stubs, sources of C, debug info, ...). Sizes
/// are `unique_bytes`: apparent sizes of regular files, each inode once. And it still works.
fn strip_beats_recipe(name: &str) {
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let scratch = scratch(&format!("{name}-strip-"));
    let (out, recipe) = (scratch.path().join("out"), scratch.path().join("recipe"));
    let report = slim(&venv, &out)
        .args(["--bytecode", "strip"])
        .arg("--json")
        .json();
    check_report(&report, &venv, &venv, Some(&out), false);
    assert_eq!(
        count_pycs(&out),
        0,
        "--bytecode strip left pyc files in OUT"
    );
    docker_recipe_copy(&venv, &recipe);
    let (orig, strip, naive) = (
        unique_bytes(&venv),
        unique_bytes(&out),
        unique_bytes(&recipe),
    );
    eprintln!(
        "{name}: original {orig} B, docker recipe {naive} B ({:.1}%), venvslim --bytecode strip {strip} B ({:.1}%)",
        100.0 * naive as f64 / orig as f64,
        100.0 * strip as f64 / orig as f64
    );
    assert!(
        strip < naive,
        "{name}: --bytecode strip ({strip} B) is not smaller than the Docker recipe ({naive} B)"
    );

    let before = probe(&venv, &venv);
    let after = probe(&out, &venv);
    let removed = removed_paths(&report);
    assert_no_problems(
        &format!("{name}: --bytecode strip vs original"),
        &compare_probes(
            &before,
            &after,
            &|p| is_gone_on_purpose(&venv, &removed, p),
            &dropped_installers(&venv, &before, &report),
            false,
        ),
    );
    check_behaviour_same(&venv, &out, name, &scratch.path().join("check"));
}

#[test]
fn web_bytecode_strip_is_smaller_than_docker_recipe_and_still_works() {
    strip_beats_recipe("web");
}

#[test]
fn django_bytecode_strip_is_smaller_than_docker_recipe_and_still_works() {
    strip_beats_recipe("django");
}

#[test]
fn numpy_pandas_bytecode_strip_is_smaller_than_docker_recipe_and_still_works() {
    strip_beats_recipe("numpy_pandas");
}

// ---------------------------------------------------------------------------------------------
// Metadata readers: the recipe breaks them, venvslim does not
// ---------------------------------------------------------------------------------------------

/// The premise of the next test, without venvslim: jupyter_events' import chain calls
/// `importlib.metadata.version('python-json-logger')` and pydantic's `EmailStr` calls
/// `version('email-validator')`. The Docker recipe drops METADATA (and whole dist-info dirs without
/// a top-level LICENSE file), so on the recipe's tree both fail with PackageNotFoundError (a
/// dist-info dir left with only its LICENSE would give InvalidVersion: None instead, docs/facts.md).
#[test]
fn jupyter_events_docker_recipe_breaks_metadata_users() {
    let name = "jupyter_events";
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let scratch = scratch("jupyter-events-recipe-");
    let before = probe(&venv, &venv);
    assert_eq!(
        before["top_level"]["jupyter_events"]["ok"],
        Value::Bool(true),
        "jupyter_events must import in the original venv"
    );
    let o = run_check(&venv, &venv, name, &scratch.path().join("orig-check"), &[]);
    assert!(
        o.status.success(),
        "check script fails on the original venv:\n{}",
        show(&o)
    );

    let recipe = scratch.path().join("recipe");
    docker_recipe_copy(&venv, &recipe);
    let naive = probe(&recipe, &venv);
    let err = naive["top_level"]["jupyter_events"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        naive["top_level"]["jupyter_events"]["ok"] == Value::Bool(false)
            && (err.contains("PackageNotFoundError") || err.contains("InvalidVersion")),
        "expected the Docker recipe to break `import jupyter_events` with a metadata error, got {}",
        naive["top_level"]["jupyter_events"]
    );
    let o = run_check(
        &recipe,
        &venv,
        name,
        &scratch.path().join("recipe-check"),
        &[],
    );
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("PackageNotFoundError"),
        "expected the check script to fail on the recipe's tree with PackageNotFoundError:\n{}",
        show(&o)
    );
    let problems = compare_probes(&before, &naive, &|_| false, &BTreeSet::new(), false);
    eprintln!(
        "docker recipe on {name}: {} problems, e.g.\n{}",
        problems.len(),
        problems[..problems.len().min(8)].join("\n")
    );
}

/// Where the recipe breaks (above), venvslim's default and `--bytecode strip` outputs keep every
/// metadata reader working: same imports, versions, entry points; the check script passes.
#[test]
fn jupyter_events_venvslim_keeps_metadata_users_working() {
    let name = "jupyter_events";
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let scratch = scratch("jupyter-events-slim-");
    let before = probe(&venv, &venv);
    for (label, args) in [
        ("default", &[][..]),
        ("strip", &["--bytecode", "strip"][..]),
    ] {
        let out = scratch.path().join(label);
        let report = slim(&venv, &out).args(args).arg("--json").json();
        check_report(&report, &venv, &venv, Some(&out), false);
        let after = probe(&out, &venv);
        let removed = removed_paths(&report);
        assert_no_problems(
            &format!("{name}: venvslim {label} vs original"),
            &compare_probes(
                &before,
                &after,
                &|p| is_gone_on_purpose(&venv, &removed, p),
                &dropped_installers(&venv, &before, &report),
                label == "default",
            ),
        );
        check_behaviour_same(
            &venv,
            &out,
            name,
            &scratch.path().join(format!("{label}-check")),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// --dry-run and --in-place
// ---------------------------------------------------------------------------------------------

/// `--dry-run` writes nothing (OUT not created, VENV untouched) and plans exactly the actions the
/// real run then reports.
#[test]
fn web_dry_run_writes_nothing_and_plans_the_actions_of_the_real_run() {
    let venv = real_venv("web");
    let scratch = scratch("web-dry-run-");
    let out = scratch.path().join("out");
    let hash_before = tree_hash(&venv);
    let dry = slim(&venv, &out).args(["--dry-run"]).arg("--json").json();
    assert!(
        fs::symlink_metadata(&out).is_err(),
        "--dry-run created OUT {}",
        out.display()
    );
    assert_eq!(tree_hash(&venv), hash_before, "--dry-run modified VENV");
    check_report(&dry, &venv, &venv, Some(&out), true);

    let real = slim(&venv, &out).arg("--json").json();
    check_report(&real, &venv, &venv, Some(&out), false);
    let (da, ra) = (
        dry["actions"].as_array().expect("actions"),
        real["actions"].as_array().expect("actions"),
    );
    if da != ra {
        let ds: BTreeSet<String> = da.iter().map(Value::to_string).collect();
        let rs: BTreeSet<String> = ra.iter().map(Value::to_string).collect();
        let only_dry: Vec<_> = ds.difference(&rs).take(10).collect();
        let only_real: Vec<_> = rs.difference(&ds).take(10).collect();
        panic!(
            "dry run planned {} actions, the real run reported {} (same as sets: {}).\nonly in dry run: {only_dry:#?}\nonly in real run: {only_real:#?}",
            da.len(),
            ra.len(),
            ds == rs
        );
    }
    assert_eq!(
        dry["rescues"], real["rescues"],
        "dry run and real run rescue different files"
    );
    for key in ["before_bytes", "before_files"] {
        assert_eq!(
            dry["totals"][key], real["totals"][key],
            "totals.{key} differ between dry run and real run"
        );
    }
}

/// `--in-place` on a copy of the venv (never the cache) gives the tree the out-of-place run gives
/// (same paths; same sizes except pycs, which embed the venv's path), with the same actions, and
/// it works the same as the original.
#[test]
fn web_in_place_on_a_copy_matches_out_of_place_and_keeps_working() {
    let name = "web";
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let scratch = scratch("web-in-place-");
    let copy = scratch.path().join("venv");
    copy_tree(&venv, &copy);
    let out = scratch.path().join("out");

    let in_place = slim_venv(&copy).args(["--in-place"]).arg("--json").json();
    check_report(&in_place, &copy, &venv, None, false);
    let out_of_place = slim(&venv, &out).arg("--json").json();
    assert_eq!(
        in_place["actions"], out_of_place["actions"],
        "--in-place and out-of-place runs on identical trees report different actions"
    );
    let mask_pyc = |l: &Vec<String>| -> Vec<String> {
        l.iter()
            .map(|s| {
                if s.starts_with("f ") && s.ends_with(".pyc") {
                    format!("f ? {}", s.splitn(3, ' ').nth(2).unwrap_or(""))
                } else {
                    s.clone()
                }
            })
            .collect()
    };
    let (a, b) = (
        mask_pyc(&tree_listing(&copy)),
        mask_pyc(&tree_listing(&out)),
    );
    if a != b {
        let (sa, sb): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
        panic!(
            "in-place result differs from out-of-place OUT:\nonly in-place: {:#?}\nonly out-of-place: {:#?}",
            sa.difference(&sb).take(10).collect::<Vec<_>>(),
            sb.difference(&sa).take(10).collect::<Vec<_>>()
        );
    }
    check_compiled_everything(&venv, &copy);

    let before = probe(&venv, &venv);
    let after = probe(&copy, &copy);
    let removed = removed_paths(&in_place);
    assert_no_problems(
        "web: --in-place vs original",
        &compare_probes(
            &before,
            &after,
            &|p| is_gone_on_purpose(&venv, &removed, p),
            &dropped_installers(&venv, &before, &in_place),
            true,
        ),
    );
    // The copy's console scripts still point at the cached venv (a venv is not relocatable), so the
    // behaviour check runs the copy's python directly.
    let tmp = scratch.path().join("check");
    let b = run_check(&venv, &venv, name, &tmp.join("before"), &[]);
    let a = run_check(&copy, &copy, name, &tmp.join("after"), &[]);
    assert!(
        b.status.success() && a.status.success(),
        "check web:\noriginal {}\nin-place {}",
        show(&b),
        show(&a)
    );
    assert_eq!(
        a.stdout, b.stdout,
        "check web: in-place result behaves differently"
    );
}

/// The recompile path of `--bytecode compile`: pip's pycs are only reused when Python would trust
/// them, so make them all stale (every `.py` of a copy of the venv gets another mtime) and venvslim
/// must compile the sources itself. The pycs it writes must be unchecked-hash pycs whose code names
/// the path of the venv it read (where OUT will be copied to), not OUT's path: probed with OUT
/// mounted read-only on the copy's path, nothing compiles at start-up and every loaded module's
/// `co_filename` is its path there.
#[test]
fn web_stale_pycs_are_recompiled_as_unchecked_hash_naming_the_original_venv_path() {
    let name = "web";
    if !require_ro_namespace(name) {
        return;
    }
    let cached = real_venv(name);
    let scratch = scratch("web-stale-");
    let venv = scratch.path().join("venv");
    copy_tree(&cached, &venv);
    let mut touched = 0;
    for e in walkdir::WalkDir::new(&venv).follow_links(false) {
        let e = e.expect("walk copy");
        if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "py") {
            let f = fs::File::options()
                .write(true)
                .open(e.path())
                .expect("open .py");
            f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
                .expect("set mtime");
            touched += 1;
        }
    }
    assert!(
        touched > 1000,
        "only {touched} .py files in {}",
        venv.display()
    );
    let before = probe(&venv, &venv);
    assert!(
        before["compile_events"].as_u64().unwrap_or(0) > 100,
        "the copy's pycs should all be stale, but only {} modules compiled at start",
        before["compile_events"]
    );

    let out = scratch.path().join("out");
    let report = slim(&venv, &out).arg("--json").json();
    check_report(&report, &venv, &venv, Some(&out), false);
    check_compiled_everything(&venv, &out);
    let after = probe(&out, &venv);
    let removed = removed_paths(&report);
    assert_no_problems(
        "web with stale pycs: default slim vs original",
        &compare_probes(
            &before,
            &after,
            &|p| is_gone_on_purpose(&venv, &removed, p),
            &dropped_installers(&venv, &before, &report),
            true,
        ),
    );
}

/// Same venv, same plan: the import guard's reasons included. A distribution kept because one of
/// its several top-level names is imported (setuptools: `setuptools`, `pkg_resources`,
/// `_distutils_hack`) once cited whichever name a hash set gave first, so two dry runs of one
/// JupyterLab venv could differ.
#[test]
fn jupyter_dry_runs_are_identical_guard_reasons_included() {
    let venv = real_venv("jupyter");
    let plan = || {
        let mut report = slim_venv(&venv).arg("-n").report();
        report["elapsed_ms"] = Value::Null;
        report
    };
    let first = plan();
    assert!(
        first["rescues"].as_array().is_some_and(|r| !r.is_empty()),
        "the guard keeps something in this venv"
    );
    for _ in 0..4 {
        assert_eq!(plan(), first, "a second dry run planned something else");
    }
}
