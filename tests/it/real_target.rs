//! A `pip install --target DIR` tree (no venv, no interpreter of its own, as Lambda layers and
//! some Docker builds make them): slimmed with `--python-version`, it still serves the request
//! workload from `sys.path` under the base interpreter.

use crate::real_run::workload;
use crate::util::{python, real_venv, repo_root, scratch, venvslim};

#[test]
fn a_pip_target_tree_slims_and_serves_from_sys_path() {
    let venv = real_venv("web");
    let t = scratch("pip-target");
    let tree = t.path().join("target-tree");
    python(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
        ])
        .arg(&tree)
        .arg("-r")
        .arg(repo_root().join("tests/venvs/web.lock"))
        .ok();
    let out = t.path().join("out");
    let o = venvslim()
        .arg("slim")
        .arg(&tree)
        .arg("-o")
        .arg(&out)
        .args(["--python-version", "3.11", "--json"])
        .ok();
    let report = o.json();
    assert!(
        report["totals"]["after_bytes"].as_u64() < report["totals"]["before_bytes"].as_u64(),
        "{:#}",
        report["totals"]
    );
    assert!(!out.join("fastapi/py.typed").exists(), "the junk rules ran");
    let script = workload("web_request.py");
    let script = script.trim_start_matches("$VENV/bin/python ");
    // The base interpreter without site (-S): only the standard library and the slim tree.
    let out_str = out.display().to_string();
    let run = python("python3")
        .args(["-I", "-S", "-B", "-c"])
        .arg(format!(
            "import sys; sys.path.insert(0, {out_str:?}); import fastapi; assert fastapi.__file__.startswith({out_str:?}), fastapi.__file__; sys.argv = [{script:?}]; exec(open({script:?}).read())"
        ))
        .ok();
    assert_eq!(run.stdout().trim(), "ok");
}
