//! `slim --run CMD` on hand-made venvs: the workload must pass on the input first, the hook
//! reaches the Pythons the workload starts, and what the output misses comes back, the smallest
//! set first. The real-venv cases (Django, nbformat, no false alarms) are in real_run.rs.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::{scratch, venvslim};
use crate::verify::Venv;

/// `datapkg` reads `datapkg/data/table.json` next to itself when `load()` runs (not at import),
/// and has a console script `datacli` that calls it.
fn data_venv(dir: &Path) -> Venv {
    let v = Venv::new(dir);
    v.dist(
        "datapkg",
        "1.0",
        &[
            (
                "datapkg/__init__.py",
                "import json, os\n\ndef load():\n    with open(os.path.join(os.path.dirname(__file__), 'data', 'table.json')) as f:\n        return json.load(f)\n\ndef main():\n    print(load()['answer'])\n    return 0\n",
            ),
            ("datapkg/data/table.json", "{\"answer\": 42}\n"),
            ("datapkg/data/unused.json", "{\"unused\": true}\n"),
        ],
        "[console_scripts]\ndatacli = datapkg:main\n",
    );
    v
}

/// `slim VENV -o OUT --json EXTRA...`: exit code, the report (Null if none), stderr.
pub(crate) fn slim_run(v: &Venv, out: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut cmd = venvslim();
    cmd.arg("slim")
        .arg(&v.root)
        .arg("-o")
        .arg(out)
        .arg("--json");
    cmd.args(extra);
    let o = cmd.run();
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (
        o.status.code(),
        json,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The paths `verify.restored` lists (empty when there is none).
pub(crate) fn restored_paths(report: &Value) -> Vec<String> {
    report["verify"]["restored"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["path"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_workload_that_fails_on_the_input_stops_the_run_before_anything_is_written() {
    let t = scratch("run-fails-on-input");
    let v = data_venv(t.path());
    let out = t.path().join("out");
    let (code, _, stderr) = slim_run(
        &v,
        &out,
        &[
            "--run",
            "echo smoke-output-line; $VENV/bin/python -c 'raise SystemExit(3)'",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("fails on the input"), "{stderr}");
    assert!(stderr.contains("exit code 3"), "{stderr}");
    assert!(stderr.contains("smoke-output-line"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!out.exists(), "OUT must not exist after exit 2");
}

#[test]
fn run_needs_an_output_tree_or_a_dry_run() {
    let t = scratch("run-usage");
    let v = data_venv(t.path());
    let o = venvslim()
        .arg("slim")
        .arg(&v.root)
        .args(["--in-place", "--run", "true"])
        .run();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--run") && stderr.contains("hint:"),
        "{stderr}"
    );
    // A dry run runs the workload on the input only (what --prune plans from).
    let o = venvslim()
        .arg("slim")
        .arg(&v.root)
        .args(["--dry-run", "--json", "--run", "true"])
        .run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["run"][0]["input"]["passed"], true, "{report:#}");
    assert_eq!(
        report["run"][0]["output"],
        Value::Array(vec![]),
        "{report:#}"
    );
    assert!(v.sp.join("datapkg/data/table.json").exists());
}

/// The data file is read only in a console script the workload starts as a subprocess: the
/// hook must reach that process for the file to come back, and only that file (the path
/// level), not the unused one beside it nor the rest of the distribution.
#[test]
fn the_hook_reaches_a_console_script_the_workload_starts_and_only_the_missing_file_comes_back() {
    let t = scratch("run-subprocess");
    let v = data_venv(t.path());
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c \"import os, subprocess; subprocess.run([os.environ['VENV'] + '/bin/datacli'], check=True)\"";
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &["--remove", "datapkg/data/**", "--run", workload],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let run = &report["run"][0];
    assert_eq!(run["input"]["passed"], true, "{run:#}");
    assert!(
        run["input"]["processes"].as_u64().unwrap_or(0) >= 2,
        "the hook ran in the workload's Python and in the console script: {run:#}"
    );
    let outputs = run["output"].as_array().expect("output runs");
    assert_eq!(
        outputs.first().map(|r| r["passed"].clone()),
        Some(Value::Bool(false)),
        "{run:#}"
    );
    assert_eq!(
        outputs.last().map(|r| r["passed"].clone()),
        Some(Value::Bool(true)),
        "{run:#}"
    );
    assert_eq!(run["passes"], true);
    let restored = restored_paths(&report);
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert!(
        restored[0].ends_with("datapkg/data/table.json"),
        "{restored:?}"
    );
    assert_eq!(report["verify"]["restored"][0]["rule"], "user.remove");
    assert_eq!(report["verify"]["steps"][0]["level"], "path");
    let sp = v.sp.strip_prefix(&v.root).unwrap();
    assert!(out.join(sp).join("datapkg/data/table.json").is_file());
    assert!(!out.join(sp).join("datapkg/data/unused.json").exists());
}

/// A workload that still fails after every round: exit 1, with its output in the report.
#[test]
fn a_workload_the_repair_cannot_fix_ends_with_exit_1_and_its_output() {
    let t = scratch("run-unfixable");
    let v = data_venv(t.path());
    let out = t.path().join("out");
    // Passes on the input, fails on any other path: nothing venvslim restores can fix that.
    let workload = format!(
        "test \"$VENV\" = '{}' || {{ echo only-the-input-passes >&2; exit 4; }}",
        v.root.display()
    );
    let mut extra = vec!["--run", workload.as_str()];
    // As root the output is mounted at the input's path, where this workload passes: make it
    // live somewhere else.
    let prefix = t.path().join("elsewhere");
    fs::create_dir(&prefix).unwrap();
    let prefix_s = prefix.to_string_lossy().into_owned();
    extra.extend(["--prefix", prefix_s.as_str()]);
    let (code, report, stderr) = slim_run(&v, &out, &extra);
    assert_eq!(code, Some(1), "{stderr}\n{report:#}");
    let run = &report["run"][0];
    assert_eq!(run["passes"], false, "{run:#}");
    let last = run["output"]
        .as_array()
        .and_then(|a| a.last())
        .expect("a run on the output");
    assert!(
        last["output"]
            .as_str()
            .unwrap_or("")
            .contains("only-the-input-passes"),
        "{last:#}"
    );
    assert_eq!(last["exit_code"], 4);
    assert!(!report["verify"]["run_remaining"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// The hook is installed as `sitecustomize` from its own directory; a sitecustomize the venv
/// ships must still run (after it), or the workload would see another Python than the app.
#[test]
fn the_venvs_own_sitecustomize_still_runs_under_the_hook() {
    let t = scratch("run-sitecustomize");
    let v = data_venv(t.path());
    v.write(
        "sitecustomize.py",
        "import os\nos.environ['VENV_SITECUSTOMIZE'] = 'ran'\n",
    );
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c \"import os, sys; sys.exit(0 if os.environ.get('VENV_SITECUSTOMIZE') == 'ran' else 5)\"";
    let (code, report, stderr) = slim_run(&v, &out, &["--run", workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    assert!(report["run"][0]["input"]["processes"].as_u64().unwrap_or(0) >= 1);
}

/// `run = [...]` in `[tool.venvslim]` is the same as `--run`, and the two lists merge (the
/// file's first).
#[test]
fn run_from_the_config_file_merges_with_the_flag() {
    let t = scratch("run-config");
    let v = data_venv(t.path());
    let config = t.path().join("pyproject.toml");
    fs::write(
        &config,
        "[tool.venvslim]\nrun = [\"$VENV/bin/python -c 'import datapkg'\"]\n",
    )
    .unwrap();
    let out = t.path().join("out");
    let cfg = config.to_string_lossy().into_owned();
    let (code, report, stderr) = slim_run(&v, &out, &["--config", &cfg, "--run", "true"]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let commands: Vec<&str> = report["run"]
        .as_array()
        .expect("run")
        .iter()
        .map(|w| w["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(commands, ["$VENV/bin/python -c 'import datapkg'", "true"]);
    assert!(report["verify"].is_object(), "--run implies --verify");
}

/// The trap the zip scan cannot see (fixtures/make_ziptrap.py: a data path built from
/// `str(files(...))` far from the `open`): `--zip-pure` zips ziptrap, the workload fails on the
/// output opening a path inside the archive, and the distribution comes out of the zip.
#[test]
fn zip_pure_with_run_takes_a_package_that_reads_through_the_archive_out_of_it() {
    let t = scratch("run-ziptrap");
    let v = Venv::new(t.path());
    crate::zip_reads::install_ziptrap(&v.sp);
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c 'import ziptrap; print(ziptrap.greeting())'";
    let (code, report, stderr) = slim_run(&v, &out, &["--zip-pure", "--run", workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let zipped = zipped_dists(&report);
    assert!(
        zipped.contains(&"ziptrap"),
        "the scan must zip ziptrap: {zipped:?}"
    );
    let run = &report["run"][0];
    assert_eq!(run["output"][0]["passed"], false, "{run:#}");
    assert_eq!(run["passes"], true, "{run:#}");
    let unzipped = &report["zip"]["written"]["unzipped"];
    assert!(
        unzipped
            .as_array()
            .is_some_and(|u| u.iter().any(|d| d == "ziptrap")),
        "ziptrap taken out of the archive: {:#}",
        report["zip"]
    );
    let sp = v.sp.strip_prefix(&v.root).unwrap();
    assert!(out.join(sp).join("ziptrap").is_dir());
}

/// A zipped package that reads its data through the loader (`importlib.resources`) opens the
/// files on the input and reads them from the archive on the output: no alarm, it stays zipped.
/// (jsonschema-specifications does this; it came back out of the zip for a notebook workload.)
#[test]
fn a_zipped_package_reading_its_data_through_the_loader_stays_zipped() {
    let t = scratch("run-zip-loader");
    let v = Venv::new(t.path());
    loader_data(&v);
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c 'import loaderdata, sys; sys.exit(0 if loaderdata.table()[\"answer\"] == 42 else 3)'";
    let (code, report, stderr) = slim_run(&v, &out, &["--zip-pure", "--run", workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let zipped = zipped_dists(&report);
    assert!(zipped.contains(&"loaderdata"), "{:#}", report["zip"]);
    let run = &report["run"][0];
    assert_eq!(run["output"].as_array().map(Vec::len), Some(1), "{run:#}");
    assert_eq!(run["passes"], true, "{run:#}");
    assert!(restored_paths(&report).is_empty(), "{:#}", report["verify"]);
    assert_eq!(report["verify"]["run_found"], Value::Array(Vec::new()));
}

/// `--bytecode sourceless` removes every source of a package and writes `name.pyc` beside it:
/// the package directory is still there, and the import system listing it on the output is no
/// evidence (it once brought back every source and pyc of rich, pygments and jinja2).
#[test]
fn sourceless_package_directories_listed_by_the_import_system_are_not_gone() {
    let t = scratch("run-sourceless");
    let v = Venv::new(t.path());
    v.dist(
        "subpkg",
        "1.0",
        &[
            ("subpkg/__init__.py", "from . import inner\n"),
            ("subpkg/inner/__init__.py", "from .deep import VALUE\n"),
            ("subpkg/inner/deep.py", "VALUE = 7\n"),
        ],
        "",
    );
    let out = t.path().join("out");
    let workload =
        "$VENV/bin/python -c 'import subpkg, sys; sys.exit(0 if subpkg.inner.VALUE == 7 else 3)'";
    let (code, report, stderr) =
        slim_run(&v, &out, &["--bytecode", "sourceless", "--run", workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    assert!(restored_paths(&report).is_empty(), "{:#}", report["verify"]);
    assert_eq!(report["verify"]["run_found"], Value::Array(Vec::new()));
}

/// A metadata regression (`--dist-info strip` with `--verify`) gives back the dist-info
/// directory, not the rest of what the distribution lost.
#[test]
fn lost_metadata_comes_back_as_its_dist_info_only() {
    let t = scratch("verify-metadata-level");
    let v = data_venv(t.path());
    let out = t.path().join("out");
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &[
            "--dist-info",
            "strip",
            "--remove",
            "datapkg/data/unused.json",
            "--verify",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let back = restored_paths(&report);
    assert!(!back.is_empty(), "{:#}", report["verify"]);
    assert!(
        back.iter().all(|p| p.contains("datapkg-1.0.dist-info/")),
        "only the dist-info comes back: {back:?}"
    );
    let sp = v.sp.strip_prefix(&v.root).unwrap();
    assert!(!out.join(sp).join("datapkg/data/unused.json").exists());
    assert!(out
        .join(sp)
        .join("datapkg-1.0.dist-info/METADATA")
        .is_file());
}

/// A package the failing output names as missing comes back as the files the input's run used
/// (its `__init__.py`, the data file it read), not its whole directory: a workload that loads
/// one CSV of `sklearn/datasets/data` needs that one, not the other eight.
#[test]
fn a_missing_package_comes_back_as_the_files_the_input_used() {
    let t = scratch("run-missing-package");
    let v = Venv::new(t.path());
    v.dist(
        "tables",
        "1.0",
        &[
            (
                "tables/__init__.py",
                "import importlib.resources\n\ndef load(name):\n    return (importlib.resources.files('tables.data') / name).read_text()\n",
            ),
            ("tables/data/__init__.py", ""),
            ("tables/data/used.csv", "a,b\n1,2\n"),
            ("tables/data/unused.csv", "c,d\n3,4\n"),
        ],
        "",
    );
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c 'import tables; assert tables.load(\"used.csv\")'";
    let (code, report, stderr) =
        slim_run(&v, &out, &["--remove", "tables/data/**", "--run", workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    let back = restored_paths(&report);
    assert!(
        back.iter().any(|p| p.ends_with("tables/data/used.csv")),
        "{back:?}"
    );
    assert!(
        !back.iter().any(|p| p.ends_with("tables/data/unused.csv")),
        "only what the input's run used comes back: {back:?}"
    );
}

/// With `--bytecode sourceless`, a module the input's run imported and the failing output's run
/// never reached (it failed before) is no evidence: its bytecode is there, so its source is not
/// what the output lacks. Only the module that is gone comes back.
#[test]
fn sourceless_modules_a_failing_output_did_not_reach_do_not_come_back() {
    let t = scratch("run-sourceless-failing");
    let v = Venv::new(t.path());
    v.dist(
        "chain",
        "1.0",
        &[
            (
                "chain/__init__.py",
                "import importlib\nneeded = importlib.import_module('chain.' + 'needed')\nfrom . import later\n",
            ),
            ("chain/needed.py", "VALUE = 1\n"),
            ("chain/later.py", "VALUE = 2\n"),
        ],
        "",
    );
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c 'import chain; assert chain.later.VALUE == 2'";
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &[
            "--bytecode",
            "sourceless",
            "--remove",
            "chain/needed.py",
            "--run",
            workload,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    let back = restored_paths(&report);
    assert!(
        back.iter().any(|p| p.ends_with("chain/needed.py")),
        "{back:?}"
    );
    assert!(
        !back.iter().any(|p| p.ends_with("chain/later.py")),
        "later.py's bytecode is there: {back:?}\n{:#}",
        report["verify"]
    );
}

/// A failing workload that names a removed file without quotes (an assertion message, a log
/// line: `certifi.where()` tested with `os.path.exists`, which no audit event records) gets it
/// back: the run ends passing, not with exit 1.
#[test]
fn a_removed_file_a_failing_workload_names_without_quotes_comes_back() {
    let t = scratch("run-unquoted-path");
    let v = Venv::new(t.path());
    v.dist(
        "bundle",
        "1.0",
        &[
            (
                "bundle/__init__.py",
                "import os\n\ndef where():\n    return os.path.join(os.path.dirname(__file__), 'cacert.pem')\n",
            ),
            ("bundle/cacert.pem", "-----BEGIN CERTIFICATE-----\n"),
            ("bundle/other.pem", "-----BEGIN CERTIFICATE-----\n"),
        ],
        "",
    );
    let out = t.path().join("out");
    let workload =
        "$VENV/bin/python -c 'import bundle, os; p = bundle.where(); assert os.path.exists(p), p'";
    let (code, report, stderr) =
        slim_run(&v, &out, &["--remove", "bundle/*.pem", "--run", workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let back = restored_paths(&report);
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0].ends_with("bundle/cacert.pem"), "{back:?}");
}

/// A workload that fails for one reason (a removed data file) does not take a package that reads
/// its data through the loader out of the zip: what only the input's run opened of a zipped
/// package is a guess at the distribution level, tried after the file the failure names. On the
/// JupyterLab venv an nbconvert export with a removed template took jsonschema-specifications
/// (22 files) out of the archive too.
#[test]
fn a_failing_workload_gets_its_removed_file_back_before_any_zipped_package_comes_out() {
    let t = scratch("run-zip-defer");
    let v = data_venv(t.path());
    loader_data(&v);
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c 'import loaderdata, datapkg; assert loaderdata.table()[\"answer\"] == datapkg.load()[\"answer\"]'";
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &[
            "--zip-pure",
            "--remove",
            "datapkg/data/table.json",
            "--run",
            workload,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let zipped = zipped_dists(&report);
    assert!(zipped.contains(&"loaderdata"), "{:#}", report["zip"]);
    let back = restored_paths(&report);
    assert_eq!(back.len(), 1, "{back:?}\n{:#}", report["verify"]);
    assert!(back[0].ends_with("datapkg/data/table.json"), "{back:?}");
}

/// `loaderdata` reads `loaderdata/data/table.json` through the loader
/// (`importlib.resources.files`), which works from a zip: `table()["answer"]` is 42.
fn loader_data(v: &Venv) {
    v.dist(
        "loaderdata",
        "1.0",
        &[
            (
                "loaderdata/__init__.py",
                "import json\nfrom importlib.resources import files\n\ndef table():\n    return json.loads(files(__package__).joinpath('data', 'table.json').read_text())\n",
            ),
            ("loaderdata/data/table.json", "{\"answer\": 42}\n"),
        ],
        "",
    );
}

/// The names of the distributions the report says went into the archive.
fn zipped_dists(report: &Value) -> Vec<&str> {
    report["zip"]["dists"]
        .as_array()
        .expect("zip.dists")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect()
}
