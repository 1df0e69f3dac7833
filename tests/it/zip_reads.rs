//! How `--zip-pure` decides about packages that read files (src/archive/reads.rs), on real
//! packages: nbformat in the JupyterLab venv (`tests/venvs/jupyter.lock`) must stay on disk and
//! validate a notebook from the read-only output, and `ziptrap` (`fixtures/make_ziptrap.py`), a
//! package the static scan cannot see through, is zipped and fails at its first use: the case
//! only running the user's code (`--run`) finds.

use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// Names of the distributions under `key` (`dists` or `refused`) of the zip report.
fn zip_names(report: &Value, key: &str) -> Vec<String> {
    report["zip"][key]
        .as_array()
        .unwrap_or_else(|| panic!("no zip.{key} in the report"))
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect()
}

/// Write `ziptrap` (`fixtures/make_ziptrap.py`) into `site_packages`, with the `python3` on PATH.
/// The workload that finds the trap: `$VENV/bin/python -c 'import ziptrap;
/// print(ziptrap.greeting())'`, which prints `hello from ziptrap` on the input and fails on a
/// `--zip-pure` output.
pub fn install_ziptrap(site_packages: &Path) {
    python("python3")
        .arg(repo_root().join("fixtures/make_ziptrap.py"))
        .arg(site_packages)
        .ok();
}

/// The report: nbformat validates notebooks against JSON schemas whose paths it builds
/// from `v.__file__` of a module passed as a parameter. The old scan zipped it and
/// `new_markdown_cell` failed with NotADirectoryError; now it stays on disk with that line as
/// evidence, and a notebook validates from the read-only output. tzdata, data only and read by
/// the standard library's zoneinfo through importlib.resources, stays zipped and still loads.
#[test]
fn nbformat_stays_on_disk_and_a_notebook_validates_read_only() {
    let name = "jupyter";
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let dir = scratch("zip-nbformat-");
    let out = dir.path().join("out");
    let report = slim(&venv, &out).args(["--zip-pure"]).arg("--json").json();
    let python = venv.join("bin/python");
    let code = "import nbformat, zoneinfo, tzdata\n\
                from nbformat.v4 import new_markdown_cell, new_notebook\n\
                nb = new_notebook()\n\
                nb.cells.append(new_markdown_cell('# hi'))\n\
                nbformat.validate(nb)\n\
                nbformat.validate(nbformat.reads(nbformat.writes(nb), as_version=4))\n\
                print('valid', len(nb.cells), type(nbformat.__loader__).__name__)\n\
                print(zoneinfo.ZoneInfo('Europe/Paris').key, type(tzdata.__loader__).__name__)\n";
    // PYTHONTZPATH empty: no system zone files, so zoneinfo reads tzdata's.
    let argv = [
        "env",
        "PYTHONTZPATH=",
        path_str(&python),
        "-I",
        "-B",
        "-c",
        code,
    ];
    let orig = ro_run(&venv, &venv, &argv);
    assert!(orig.status.success(), "on the input:\n{}", show(&orig));
    let run = ro_run(&out, &venv, &argv);
    assert!(
        run.status.success(),
        "on the --zip-pure output:\n{}",
        show(&run)
    );
    assert_eq!(
        run.stdout(),
        "valid 1 SourceFileLoader\nEurope/Paris zipimporter\n",
        "{}",
        show(&run)
    );

    let nbformat = report["zip"]["refused"]
        .as_array()
        .and_then(|r| r.iter().find(|d| d["name"] == "nbformat"))
        .unwrap_or_else(|| panic!("nbformat was zipped: {:?}", zip_names(&report, "dists")));
    let evidence = nbformat["reasons"].as_array().expect("reasons");
    assert!(
        evidence.iter().any(|e| e["kind"] == "file-access"
            && e["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("nbformat/validator.py"))
            && e["code"].as_str().is_some_and(|c| c.contains("v.__file__"))),
        "no validator.py evidence for nbformat: {}",
        nbformat
    );
    let zipped = zip_names(&report, "dists");
    assert!(
        zipped.iter().any(|d| d == "tzdata"),
        "tzdata not zipped: {zipped:?}"
    );
}

/// `ziptrap` passes every static rule, so it is zipped; importing it works from the output, and
/// calling it fails there while it works on the input. A trap `--run` must catch.
#[test]
fn ziptrap_is_zipped_imports_and_fails_when_called() {
    let dir = scratch("zip-trap-");
    let venv = dir.path().join("venv");
    python("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .ok();
    let sp = venv.join(site_packages_rel(&venv));
    install_ziptrap(&sp);
    let call = "import ziptrap; print(ziptrap.greeting())";
    let on_input = python(venv.join("bin/python"))
        .args(["-I", "-B", "-c", call])
        .ok();
    assert_eq!(on_input.stdout(), "hello from ziptrap\n");

    let out = dir.path().join("out");
    let report = slim(&venv, &out).args(["--zip-pure"]).arg("--json").json();
    assert_eq!(
        zip_names(&report, "dists"),
        ["ziptrap"],
        "refused: {}",
        report["zip"]["refused"]
    );
    let py = out.join("bin/python");
    let import = python(&py)
        .args([
            "-I",
            "-B",
            "-c",
            "import ziptrap; print(ziptrap.__loader__.archive.endswith('_venvslim_pure.zip'))",
        ])
        .ok();
    assert_eq!(import.stdout(), "True\n", "{}", show(&import));
    let called = python(&py).args(["-I", "-B", "-c", call]).run();
    assert!(
        !called.status.success() && called.stderr().contains("NotADirectoryError"),
        "ziptrap.greeting() did not fail from the zip:\n{}",
        show(&called)
    );
}
