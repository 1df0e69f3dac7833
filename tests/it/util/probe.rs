//! What a real venv can do, before and after: `probe.py` (imports of every module on disk,
//! importlib.metadata, pyc validity) run in the read-only mount, the per-venv workloads in
//! `checks/`, and the comparison that turns two probes into a list of breakages.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{path_str, repo_root, ro_run, ro_run_timeout, tail, Run};

pub fn probe_py() -> PathBuf {
    repo_root().join("tests/it/util/probe.py")
}

/// Run `tests/it/util/checks/NAME.py TMP` (a real workload of venv NAME, printing a summary
/// that must not change) with `tree` mounted read-only onto `at`, under `env` (`TZ=...`).
pub fn run_check(tree: &Path, at: &Path, name: &str, tmp: &Path, env: &[&str]) -> Run {
    let script = repo_root().join(format!("tests/it/util/checks/{name}.py"));
    let python = at.join("bin/python");
    fs::create_dir_all(tmp).expect("mkdir check tmp");
    let mut argv: Vec<&str> = Vec::new();
    if !env.is_empty() {
        argv.push("env");
        argv.extend(env);
    }
    argv.extend([
        path_str(&python),
        "-I",
        "-B",
        path_str(&script),
        path_str(tmp),
    ]);
    ro_run_timeout(tree, at, &argv, Duration::from_secs(120))
}

/// Run `tests/it/util/probe.py --deep` with `tree` mounted read-only onto `at` (use `tree == at` for
/// the original venv: it is then read-only too, so the probe can't write into the cache) and
/// return its JSON.
pub fn probe(tree: &Path, at: &Path) -> Value {
    let python = at.join("bin/python");
    let probe = probe_py();
    let out = ro_run(
        tree,
        at,
        &[
            path_str(&python),
            "-I",
            "-B",
            path_str(&probe),
            path_str(at),
            "--deep",
        ],
    );
    assert!(
        out.status.success(),
        "probe of {} (mounted on {}) failed ({}):\n{}",
        tree.display(),
        at.display(),
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 4000)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "probe output is not JSON ({e}): {}",
            tail(&String::from_utf8_lossy(&out.stdout), 2000)
        )
    })
}

/// Everything that worked in `before` and does not in `after`, as readable lines; empty if none.
/// `removed` tells whether a path relative to the venv root was removed on purpose (from the
/// report's actions): a submodule whose file is gone that way (a test module) is not expected to
/// import. Top-level modules and distributions admit no such excuse.
/// `check_bytecode`: also require no source compile on import and every loaded `.py` to have an
/// unchecked-hash pyc whose `co_filename` is the module's (original) path.
///
/// `dropped` names distributions (normalized) that were removed whole on purpose and reported so
/// (see `dropped_installers` in real_venvs.rs): their absence, and the absence of top-level
/// modules only they provide, is not a problem; any other module that breaks because of it is.
pub fn compare_probes(
    before: &Value,
    after: &Value,
    removed: &dyn Fn(&str) -> bool,
    dropped: &BTreeSet<String>,
    check_bytecode: bool,
) -> Vec<String> {
    // Top-level modules provided only by dropped distributions.
    let dropped_modules: BTreeSet<String> = before["packages_distributions"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, ds)| {
            ds.as_array().is_some_and(|ds| {
                !ds.is_empty()
                    && ds.iter().all(|d| {
                        d.as_str()
                            .is_some_and(|d| dropped.contains(&normalize_dist(d)))
                    })
            })
        })
        .map(|(m, _)| m.clone())
        .collect();
    let mut problems = Vec::new();
    // Module files compared relative to each probe's own venv (an in-place result lives elsewhere).
    let rel_to = |p: &Value, file: &Value| -> Value {
        let (Some(root), Some(f)) = (p["venv"].as_str(), file.as_str()) else {
            return file.clone();
        };
        match Path::new(f).strip_prefix(root) {
            Ok(r) => Value::String(r.display().to_string()),
            Err(_) => file.clone(),
        }
    };
    // Imports.
    for key in ["top_level", "deep"] {
        let (b, a) = (&before[key], &after[key]);
        let Some(bm) = b.as_object() else { continue };
        for (name, r) in bm {
            if r["ok"] != Value::Bool(true) {
                continue;
            }
            match a.get(name) {
                Some(x) if x["ok"] == Value::Bool(true) => {
                    if rel_to(after, &x["file"]) != rel_to(before, &r["file"]) {
                        problems.push(format!(
                            "{key} {name}: now imported from {} instead of {}",
                            x["file"], r["file"]
                        ));
                    }
                }
                Some(x) => {
                    problems.push(format!("{key} {name}: imported before, now {}", x["error"]))
                }
                None if key == "deep"
                    && after["top_level"][name.split('.').next().unwrap_or("")]["ok"]
                        != Value::Bool(true) =>
                {
                    // Not tried because its top-level package fails: reported there.
                }
                None => {
                    let file = rel_to(before, &r["file"]);
                    let top = name.split('.').next().unwrap_or("");
                    let gone_on_purpose = (key == "deep" && file.as_str().is_some_and(removed))
                        || (dropped_modules.contains(top) && file.as_str().is_some_and(removed));
                    if !gone_on_purpose {
                        problems.push(format!(
                            "{key} {name}: imported before ({}), now not found on disk and not reported removed",
                            r["file"]
                        ));
                    }
                }
            }
        }
    }
    // Distributions.
    let empty = serde_json::Map::new();
    let bd = before["dists"].as_object().unwrap_or(&empty);
    let ad = after["dists"].as_object().unwrap_or(&empty);
    for (key, b) in bd {
        if key.starts_with("dir:") {
            continue; // had no Name before: nothing to keep
        }
        let Some(a) = ad.get(key) else {
            if dropped.contains(key) {
                continue;
            }
            problems.push(format!("dist {key}: importlib.metadata no longer finds it"));
            continue;
        };
        if a["version_lookup"] != b["version_lookup"] || a["version_lookup"].is_null() {
            problems.push(format!(
                "dist {key}: version() was {} now {} {}",
                b["version_lookup"], a["version_lookup"], a["version_lookup_error"]
            ));
        }
        for field in ["entry_points", "requires", "metadata_headers"] {
            if a[field] != b[field] {
                problems.push(format!(
                    "dist {key}: {field} differ:\n  before {}\n  after  {}",
                    b[field], a[field]
                ));
            }
        }
        if !b["files_count"].is_null() && a["files_count"].is_null() {
            problems.push(format!(
                "dist {key}: files() (RECORD) was {} entries, now None",
                b["files_count"]
            ));
        }
        if a["files_missing"].as_array().is_some_and(|m| !m.is_empty()) {
            let m = a["files_missing"].as_array().expect("array");
            problems.push(format!(
                "dist {key}: RECORD lists {} paths that do not exist, e.g. {:?}",
                m.len(),
                &m[..m.len().min(5)]
            ));
        }
    }
    // packages_distributions() for modules that import on both sides.
    let (bp, ap) = (
        &before["packages_distributions"],
        &after["packages_distributions"],
    );
    if let Some(bpm) = bp.as_object() {
        for (name, dists) in bpm {
            let both_ok = before["top_level"][name]["ok"] == Value::Bool(true)
                && after["top_level"][name]["ok"] == Value::Bool(true);
            if both_ok && ap.get(name) != Some(dists) {
                problems.push(format!(
                    "packages_distributions()[{name}]: was {dists}, now {}",
                    ap.get(name).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    if check_bytecode {
        let n = after["compile_events"].as_u64().unwrap_or(u64::MAX);
        if n != 0 {
            problems.push(format!(
                "{n} modules were compiled from source on import (no valid pyc), e.g. {}",
                after["compiled_files"]
            ));
        }
        if let Some(loaded) = after["loaded"].as_object() {
            let mut list = |what: &str, bad: Vec<String>| {
                if !bad.is_empty() {
                    problems.push(format!(
                        "{} of {} loaded venv modules {what}, e.g.\n    {}",
                        bad.len(),
                        loaded.len(),
                        bad[..bad.len().min(8)].join("\n    ")
                    ));
                }
            };
            list(
                "have no unchecked-hash pyc",
                loaded
                    .iter()
                    .filter(|(_, v)| v["pyc"] != "unchecked-hash")
                    .map(|(k, v)| format!("{k}: {}", v["pyc"]))
                    .collect(),
            );
            list(
                "have a pyc whose co_filename is not the module's path",
                loaded
                    .iter()
                    .filter(|(_, v)| {
                        v["co_filename_ok"] != Value::Bool(true) && !v["co_filename"].is_null()
                    })
                    .map(|(k, v)| format!("{k}: {} for {}", v["co_filename"], v["file"]))
                    .collect(),
            );
        }
    }
    problems
}

/// PEP 503 normalized distribution name (`Foo_Bar.baz` -> `foo-bar-baz`), as probe.py keys them.
pub fn normalize_dist(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}
