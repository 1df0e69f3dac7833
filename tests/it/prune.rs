//! `slim --prune --run CMD` on a hand-made venv: what the workload did not use goes (an unused
//! subpackage, a data directory in the shape of botocore's service models, a distribution
//! nothing imports, a console script of a cut module), the two levels differ by the static
//! closure of what was used, and a cut the recording could not see comes back through the
//! workload's run on the output. The real venvs (web, cloud SDKs) are in real_run.rs.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::run::slim_run;
use crate::util::{scratch, venvslim};
use crate::verify::Venv;

/// `app` (used by the workload) with an unused subpackage, a lazily imported one, and an SDK
/// whose loader lists `data/` and opens one service's model; `unused` nothing imports.
fn prune_venv(dir: &Path) -> Venv {
    let v = Venv::new(dir);
    v.dist(
        "app",
        "1.0",
        &[
            ("app/__init__.py", "from app import core\n"),
            (
                "app/core.py",
                "import os\n\ndef run():\n    return 'ran'\n\ndef later():\n    from app import lazy\n    return lazy.VALUE\n",
            ),
            ("app/lazy/__init__.py", "VALUE = 'lazy'\n"),
            ("app/extra/__init__.py", "from app.extra import big\n"),
            ("app/extra/big.py", &format!("DATA = {:?}\n", "x".repeat(4000))),
            ("app/extra/LICENSE.txt", "vendored code's licence\n"),
            ("app/cli.py", "def main():\n    print('cli')\n"),
        ],
        "[console_scripts]\napp-cli = app.cli:main\n",
    );
    let loader = "import json, os\n\nDATA = os.path.join(os.path.dirname(__file__), 'data')\n\ndef load(service):\n    assert service in os.listdir(DATA)\n    versions = os.listdir(os.path.join(DATA, service))\n    with open(os.path.join(DATA, service, versions[0], 'service-2.json')) as f:\n        return json.load(f)\n\ndef endpoints():\n    with open(os.path.join(DATA, 'endpoints.json')) as f:\n        return json.load(f)\n";
    let model = |name: &str| {
        format!(
            "{{\"service\": \"{name}\", \"pad\": \"{}\"}}\n",
            "m".repeat(3000)
        )
    };
    v.dist(
        "sdk",
        "1.0",
        &[
            ("sdk/__init__.py", loader),
            ("sdk/data/endpoints.json", "{\"partitions\": []}\n"),
            ("sdk/data/s3/2006-03-01/service-2.json", &model("s3")),
            ("sdk/data/ec2/2016-11-15/service-2.json", &model("ec2")),
            ("sdk/data/sqs/2012-11-05/service-2.json", &model("sqs")),
        ],
        "",
    );
    v.dist("unused", "2.0", &[("unused/__init__.py", "X = 1\n")], "");
    // What app declares it requires, and imports only by a computed name (as an extension
    // imports from C): no scan and no recording of this workload sees it.
    v.dist(
        "plugin",
        "1.0",
        &[("plugin/__init__.py", "NAME = 'plugin'\n")],
        "",
    );
    let metadata = v.sp.join("app-1.0.dist-info/METADATA");
    let text = fs::read_to_string(&metadata).unwrap();
    let text = text.replacen(
        "Version: 1.0\n",
        "Version: 1.0\nRequires-Dist: plugin>=1\nRequires-Dist: unused; extra == \"all\"\n",
        1,
    );
    fs::write(&metadata, text).unwrap();
    v
}

const WORKLOAD: &str = "$VENV/bin/python -c \"import app, sdk; assert app.core.run() == 'ran'; assert sdk.load('s3')['service'] == 's3'; sdk.endpoints()\"";

fn sp_rel(v: &Venv) -> PathBuf {
    v.sp.strip_prefix(&v.root).unwrap().to_path_buf()
}

/// `prune.dists[].cuts[].path`, every one, relative to site-packages.
fn cut_paths(report: &Value, sp: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in report["prune"]["dists"].as_array().into_iter().flatten() {
        for c in d["cuts"].as_array().into_iter().flatten() {
            let p = Path::new(c["path"].as_str().unwrap());
            out.push(p.strip_prefix(sp).unwrap_or(p).display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn prune_cuts_what_the_workload_did_not_use_and_it_still_passes() {
    let t = scratch("prune-safe");
    let v = prune_venv(t.path());
    let out = t.path().join("out");
    let (code, report, stderr) = slim_run(&v, &out, &["--run", WORKLOAD, "--prune"]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let sp = sp_rel(&v);
    let cuts = cut_paths(&report, &sp);
    assert_eq!(report["prune"]["level"], "safe");
    for cut in [
        "app/extra",
        "sdk/data/ec2",
        "sdk/data/sqs",
        "unused-2.0.dist-info",
    ] {
        assert!(
            cuts.iter().any(|c| c.ends_with(&cut)),
            "{cut} not cut: {cuts:?}"
        );
    }
    let gone = |p: &str| !out.join(&sp).join(p).exists();
    for p in [
        "app/extra/big.py",
        "sdk/data/ec2",
        "sdk/data/sqs",
        "unused",
        "unused-2.0.dist-info",
    ] {
        assert!(gone(p), "{p} is still in OUT");
    }
    // The closure of what was used stays at the safe level: app.core imports app.lazy in a
    // function the workload did not call, and console scripts are ways in the workload did not
    // take. And what the loader always reads stays.
    assert!(out.join("bin/app-cli").exists(), "app-cli was cut");
    assert!(!gone("app/cli.py"));
    for p in [
        "app/lazy/__init__.py",
        "sdk/data/endpoints.json",
        "sdk/data/s3/2006-03-01/service-2.json",
        "app-1.0.dist-info/METADATA",
    ] {
        assert!(!gone(p), "{p} was cut");
    }
    // A licence stays even in a cut directory; a distribution what stays requires stays (but
    // not one only an extra asks for).
    assert!(!gone("app/extra/LICENSE.txt"), "a licence was cut");
    assert!(
        !gone("plugin/__init__.py"),
        "a required distribution was cut"
    );
    // The workload passed on OUT at the first try: nothing came back.
    let outputs = report["run"][0]["output"].as_array().unwrap();
    assert_eq!(outputs.len(), 1, "{:#}", report["run"]);
    assert_eq!(outputs[0]["passed"], true);
    assert!(
        report["verify"]["restored"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "{:#}",
        report["verify"]
    );
    // And the cut tree still does what the app needs, lazily imported module included.
    let o = crate::util::python(out.join("bin/python"))
        .args(["-I", "-c", "import app.core; print(app.core.later())"])
        .ok();
    assert_eq!(o.stdout().trim(), "lazy");
}

#[test]
fn prune_used_keeps_only_what_was_used() {
    let t = scratch("prune-used");
    let v = prune_venv(t.path());
    let out = t.path().join("out");
    let (code, report, stderr) = slim_run(&v, &out, &["--run", WORKLOAD, "--prune", "used"]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["prune"]["level"], "used");
    let sp = sp_rel(&v);
    assert!(!out.join(&sp).join("app/lazy").exists(), "app/lazy stayed");
    assert!(out.join(&sp).join("app/core.py").exists());
    assert!(cut_paths(&report, &sp).iter().any(|c| c == "app/lazy"));
    // A console script the workload did not run, whose module is cut, goes with it.
    assert!(
        !out.join(&sp).join("app/cli.py").exists(),
        "app/cli.py stayed"
    );
    assert!(!out.join("bin/app-cli").exists(), "bin/app-cli stayed");
}

/// The workload reads a file through `cat`, which no Python audit hook sees: the recording
/// misses it and the cut takes it, the run on OUT fails naming the path, and that file (only
/// it, not its directory) comes back.
#[test]
fn a_cut_the_recording_missed_comes_back_through_the_run_on_the_output() {
    let t = scratch("prune-back");
    let v = prune_venv(t.path());
    let out = t.path().join("out");
    let workload = format!(
        "{WORKLOAD} && cat \"$VENV/{}/sdk/data/sqs/2012-11-05/service-2.json\" >/dev/null",
        sp_rel(&v).display()
    );
    let (code, report, stderr) = slim_run(&v, &out, &["--run", &workload, "--prune"]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let outputs = report["run"][0]["output"].as_array().unwrap();
    assert_eq!(outputs.first().unwrap()["passed"], false, "{outputs:#?}");
    assert_eq!(outputs.last().unwrap()["passed"], true, "{outputs:#?}");
    let sp = sp_rel(&v);
    assert!(out
        .join(&sp)
        .join("sdk/data/sqs/2012-11-05/service-2.json")
        .is_file());
    assert!(
        !out.join(&sp).join("sdk/data/ec2").exists(),
        "ec2 came back"
    );
    let restored: Vec<&str> = report["verify"]["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(restored, ["prune.data"], "{:#}", report["verify"]);
}

#[test]
fn prune_needs_run_and_a_dry_run_shows_the_cuts() {
    let t = scratch("prune-usage");
    let v = prune_venv(t.path());
    // Exit 2 naming the problem (`needle`) with a hint, and no OUT.
    let refused = |extra: &[&str], needle: &str| {
        let o = venvslim()
            .arg("slim")
            .arg(&v.root)
            .args(["-o"])
            .arg(t.path().join("out"))
            .args(extra)
            .run();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(needle) && stderr.contains("hint:"),
            "{stderr}"
        );
        assert!(!t.path().join("out").exists());
    };
    refused(&["--prune"], "--run");
    // A workload that never runs the venv's Python shows nothing used: pruning would cut it all.
    refused(
        &["--prune", "--run", "python3 -c 'print(1)'"],
        "used nothing",
    );

    let o = venvslim()
        .arg("slim")
        .arg(&v.root)
        .args(["--dry-run", "--run", WORKLOAD, "--prune"])
        .run();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("--prune safe:"), "{text}");
    assert!(text.contains("sdk 1.0"), "{text}");
    assert!(text.contains("the whole distribution"), "{text}");
    assert!(v.sp.join("unused/__init__.py").exists());

    // --budget offers --prune with a figure when a workload was recorded.
    let o = venvslim()
        .arg("slim")
        .arg(&v.root)
        .args(["--dry-run", "--json", "--budget", "1", "--run", WORKLOAD])
        .run();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let prune = report["budget"]["savings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["option"] == "--prune")
        .cloned()
        .unwrap_or_else(|| panic!("{:#}", report["budget"]));
    assert!(prune["bytes"].as_i64().unwrap() > 10_000, "{prune}");
}

/// A `.pth` file puts a directory of site-packages on sys.path: its modules are not named by
/// their path, so prune leaves that directory alone (here `pthhelper`, imported in a function
/// the workload does not call, would have been cut as `pthlib.pthhelper`).
#[test]
fn directories_a_pth_file_adds_to_sys_path_stay() {
    let t = scratch("prune-pth");
    let v = Venv::new(t.path());
    v.dist(
        "pthdist",
        "1.0",
        &[
            ("pthdist.pth", "pthlib\n"),
            (
                "pthlib/pthmod.py",
                "def f():\n    import pthhelper\n    return pthhelper.V\n",
            ),
            ("pthlib/pthhelper.py", "V = 'h'\n"),
        ],
        "",
    );
    let out = t.path().join("out");
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &["--run", "$VENV/bin/python -c 'import pthmod'", "--prune"],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert!(out.join(sp_rel(&v)).join("pthlib/pthhelper.py").is_file());
    let o = crate::util::python(out.join("bin/python"))
        .args(["-I", "-c", "import pthmod; print(pthmod.f())"])
        .ok();
    assert_eq!(o.stdout().trim(), "h");
}
