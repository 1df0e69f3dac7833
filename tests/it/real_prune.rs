//! `slim --prune --run` on real venvs with their smoke workloads: the web API served by uvicorn,
//! and the cloud SDKs (an S3 client answered by botocore's Stubber, a GCS client, cryptography).
//! The workload passes on the pruned output (read-only, as root), the deep verify ends clean,
//! and the cuts are the ones that matter: botocore's unused service models, SQLAlchemy's test
//! harness. Also the precise import guard on the same cloud venv: nothing keeps setuptools.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::real_run::{slim, workload};
use crate::util::{real_venv, scratch, site_packages_rel};

/// Every cut's path (relative to the root) and rule.
fn cuts(report: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in report["prune"]["dists"].as_array().into_iter().flatten() {
        for c in d["cuts"].as_array().into_iter().flatten() {
            out.push((
                c["path"].as_str().unwrap().to_string(),
                c["rule"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// The workload passed on the output in the end, and the deep verify left nothing broken.
fn assert_passes(report: &Value) {
    let run = &report["run"][0];
    assert_eq!(run["passes"], true, "{run:#}");
    assert_eq!(
        report["verify"]["remaining"],
        Value::Array(vec![]),
        "{:#}",
        report["verify"]
    );
    assert_eq!(
        report["verify"]["run_remaining"],
        Value::Array(vec![]),
        "{:#}",
        report["verify"]
    );
}

fn after_bytes(report: &Value) -> u64 {
    report["totals"]["after_bytes"].as_u64().unwrap()
}

#[test]
fn the_web_api_pruned_by_its_server_workload_still_serves() {
    let venv = real_venv("web");
    let t = scratch("prune-web");
    let default = t.path().join("default");
    let (code, plain) = slim(&venv, &default, &[]);
    assert_eq!(code, Some(0), "{plain:#}");
    assert!(plain.get("prune").is_none(), "no --prune, no prune report");
    let out = t.path().join("out");
    let (code, report) = slim(
        &venv,
        &out,
        &["--prune", "--run", &workload("web_serve.py")],
    );
    assert_eq!(code, Some(0), "{report:#}");
    assert_passes(&report);
    assert_eq!(report["prune"]["level"], "safe");
    let sp = site_packages_rel(&venv);
    let cut = cuts(&report);
    let testing = sp.join("sqlalchemy/testing");
    assert!(
        cut.iter().any(|(p, _)| Path::new(p) == testing),
        "sqlalchemy/testing not cut: {cut:?}"
    );
    assert!(!out.join(&testing).exists());
    // What the server runs on stays: uvloop and httptools (picked by uvicorn at run time).
    for kept in [
        "uvloop/__init__.py",
        "httptools/__init__.py",
        "uvicorn/main.py",
    ] {
        assert!(out.join(&sp).join(kept).is_file(), "{kept} was cut");
    }
    assert!(
        after_bytes(&report) < after_bytes(&plain),
        "pruned {} vs default {}",
        after_bytes(&report),
        after_bytes(&plain)
    );
}

#[test]
fn the_cloud_sdks_pruned_by_an_s3_workload_keep_only_the_services_it_loaded() {
    let venv = real_venv("cloud");
    let t = scratch("prune-cloud");
    let sp = site_packages_rel(&venv);

    // The precise guard first: cffi's build helpers no longer keep setuptools.
    let default = t.path().join("default");
    let (code, plain) = slim(&venv, &default, &[]);
    assert_eq!(code, Some(0), "{plain:#}");
    for gone in ["setuptools", "pkg_resources", "cffi/_shimmed_dist_utils.py"] {
        assert!(!default.join(&sp).join(gone).exists(), "{gone} stayed");
    }

    let out = t.path().join("out");
    let (code, report) = slim(&venv, &out, &["--prune", "--run", &workload("cloud_s3.py")]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_passes(&report);
    let data = out.join(&sp).join("botocore/data");
    // What botocore's loader always reads, and the one service the workload used.
    for kept in [
        "endpoints.json",
        "partitions.json",
        "sdk-default-configuration.json",
        "_retry.json",
        "s3/2006-03-01/service-2.json.gz",
        "s3/2006-03-01/endpoint-rule-set-1.json.gz",
    ] {
        assert!(data.join(kept).is_file(), "botocore/data/{kept} was cut");
    }
    let services_left = fs::read_dir(&data)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .count();
    let services_in = fs::read_dir(venv.join(&sp).join("botocore/data"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .count();
    assert!(services_in > 300, "{services_in} services in the input");
    assert!(services_left < 10, "{services_left} services left");
    let botocore_cuts = cuts(&report)
        .into_iter()
        .filter(|(p, rule)| p.contains("botocore/data/") && rule == "prune.data")
        .count();
    assert!(botocore_cuts > 300, "{botocore_cuts} botocore/data cuts");
    // Licences stay with every distribution that stays.
    let licences = fs::read_dir(out.join(&sp))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("botocore-"))
        .any(|e| {
            fs::read_dir(e.path())
                .unwrap()
                .filter_map(Result::ok)
                .any(|f| f.file_name().to_string_lossy().starts_with("LICENSE"))
        });
    assert!(licences, "botocore's licence is gone");
    // About half: botocore's models are most of what the default output keeps.
    assert!(
        after_bytes(&report) * 5 < after_bytes(&plain) * 3,
        "pruned {} vs default {}",
        after_bytes(&report),
        after_bytes(&plain)
    );
}
