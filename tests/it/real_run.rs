//! `slim --run` on real venvs with real workloads (tests/workloads/*.py): a broken output is
//! caught and repaired with the smallest set, and a default slim of a healthy workload restores
//! nothing (no false alarm).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{real_venv, repo_root, scratch, site_packages_rel, venvslim};

/// `$VENV/bin/python tests/workloads/NAME`, as `--run` takes it.
pub(crate) fn workload(name: &str) -> String {
    let script = repo_root().join("tests/workloads").join(name);
    format!("$VENV/bin/python {}", script.display())
}

/// `slim VENV -o OUT --json EXTRA...`: exit code and report.
pub(crate) fn slim(venv: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let o = venvslim()
        .arg("slim")
        .arg(venv)
        .arg("-o")
        .arg(out)
        .arg("--json")
        .args(extra)
        .run();
    let report = o.json();
    (o.status.code(), report)
}

/// Django without `django/test`, and a workload that uses django.test's Client: the first run
/// on the output fails, the 16 files of django/test come back (not the distribution's other
/// 1,200 removed files), and the workload passes.
#[test]
fn django_without_its_test_package_is_caught_by_the_workload_and_given_back_the_package() {
    let venv = real_venv("django");
    let t = scratch("run-django");
    let out = t.path().join("out");
    let (code, report) = slim(
        &venv,
        &out,
        &[
            "--remove",
            "django/test/**",
            "--run",
            &workload("django_client.py"),
        ],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let run = &report["run"][0];
    assert_eq!(run["passes"], true, "{run:#}");
    assert_eq!(
        run["output"][0]["passed"], false,
        "the first run must fail: {run:#}"
    );
    let back = crate::run::restored_paths(&report);
    let sp = site_packages_rel(&venv).join("django/test");
    assert!(!back.is_empty());
    assert!(
        back.iter().all(|p| Path::new(p).starts_with(&sp)),
        "only django/test comes back: {back:?}"
    );
    assert!(
        report["verify"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["level"] == "path"),
        "{:#}",
        report["verify"]["steps"]
    );
    assert!(out.join(&sp).join("client.py").is_file());
}

/// A default slim of the web venv with a request through the app: nothing to restore.
#[test]
fn a_default_slim_of_the_web_venv_with_a_request_restores_nothing() {
    no_false_alarm("web", "web_request.py");
}

pub(crate) fn no_false_alarm(venv: &str, script: &str) {
    let venv = real_venv(venv);
    let t = scratch("run-no-alarm");
    let out = t.path().join("out");
    let (code, report) = slim(&venv, &out, &["--run", &workload(script)]);
    assert_eq!(code, Some(0), "{report:#}");
    let run = &report["run"][0];
    assert_eq!(run["passes"], true, "{run:#}");
    assert_eq!(run["output"].as_array().map(Vec::len), Some(1), "{run:#}");
    assert!(
        run["input"]["processes"].as_u64().unwrap_or(0) >= 1,
        "{run:#}"
    );
    let empty: Vec<PathBuf> = Vec::new();
    assert_eq!(
        crate::run::restored_paths(&report),
        empty
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>(),
        "{:#}",
        report["verify"]
    );
    assert_eq!(
        report["verify"]["run_found"],
        Value::Array(Vec::new()),
        "{:#}",
        report["verify"]
    );
    assert_eq!(
        report["verify"]["found"],
        Value::Array(Vec::new()),
        "{:#}",
        report["verify"]
    );

    // An untouched copy, checked with the same workload: nothing lacking, nothing failing.
    let copy = copy_of(&venv, t.path());
    let o = venvslim()
        .arg("verify")
        .arg(&copy)
        .arg("--against")
        .arg(&venv)
        .args(["--run", &workload(script), "--json"])
        .run();
    let report = o.json();
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    assert_eq!(report["run"][0]["output"]["passed"], true, "{report:#}");
    assert_eq!(
        report["run"][0]["findings"],
        Value::Array(Vec::new()),
        "{report:#}"
    );
}

/// `verify OUT --against VENV --run CMD`: the same evidence, reported (verify restores
/// nothing): a Django tree without django/test fails the workload and the report names the
/// package; an untouched copy passes with nothing to report.
#[test]
fn verify_run_reports_what_the_tree_lacks_and_nothing_for_an_untouched_copy() {
    let venv = real_venv("django");
    let t = scratch("verify-run-django");
    let broken = t.path().join("broken");
    venvslim()
        .arg("slim")
        .arg(&venv)
        .arg("-o")
        .arg(&broken)
        .args(["--remove", "django/test/**"])
        .ok();
    let verify = |tree: &Path| {
        let o = venvslim()
            .arg("verify")
            .arg(tree)
            .arg("--against")
            .arg(&venv)
            .args(["--run", &workload("django_client.py"), "--json"])
            .run();
        (o.status.code(), o.json())
    };
    let (code, report) = verify(&broken);
    assert_eq!(code, Some(1), "{report:#}");
    let run = &report["run"][0];
    assert_eq!(run["input"]["passed"], true, "{run:#}");
    assert_eq!(run["output"]["passed"], false, "{run:#}");
    let sp = site_packages_rel(&venv).join("django/test");
    let sp = sp.to_string_lossy();
    assert!(
        run["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| ["paths", "packages"].iter().any(|k| f[*k]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str() == Some(&sp)))),
        "a finding names {sp} (as the package of the file the input loaded it from): {run:#}"
    );

    let copy = copy_of(&venv, t.path());
    let (code, report) = verify(&copy);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["run"][0]["output"]["passed"], true);
    assert_eq!(report["run"][0]["findings"], Value::Array(Vec::new()));
}

/// A default slim of the data-science venv with a numpy/pandas/scipy/scikit-learn/matplotlib
/// job: nothing to restore.
#[test]
fn a_default_slim_of_the_datasci_venv_with_a_real_job_restores_nothing() {
    no_false_alarm("datasci", "datasci_fit.py");
}

/// `cp -a VENV DIR/copy`: an untouched copy.
fn copy_of(venv: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("copy");
    crate::util::TestCommand::new("cp")
        .arg("-a")
        .arg(venv)
        .arg(&copy)
        .ok();
    copy
}
