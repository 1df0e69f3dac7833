//! `venvslim slim --zip-pure` on real venvs built with pip from the pinned locks in `tests/venvs/`
//! (otel_web: FastAPI + uvicorn + OpenTelemetry; django; cli_tools: jinja2, click, rich, requests).
//!
//! Each zipped tree runs the way a container runs it: bind-mounted read-only onto the original
//! venv's path (`util::ro_run`), so nothing can write a pyc. It must import everything the
//! original imports (`tests/it/util/probe.py`, which sees into the archive), keep
//! importlib.metadata (versions, entry points, `files()`, `packages_distributions()`), run a real
//! workload (`tests/it/util/checks/<name>.py`) with the same output, compile nothing at start-up
//! (the probe counts every compile of a module's source, zipimport's included, and checks that
//! every module loaded from the archive came from an unchecked-hash `name.pyc` naming its path in
//! the archive), all of it with `TZ` set to another zone too. Two runs give the same archive
//! bytes. Sizes and file counts are printed (`--nocapture`) for the README; start-up time is
//! measured by `benches/zip_startup.sh`, never asserted here.
//!
//! Linux and root only (`unshare -m` + `mount`); without root each test prints a SKIP note.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::util::*;
use serde_json::Value;

const ARCHIVE: &str = "_venvslim_pure.zip";
/// A zone far from UTC (+14): a timestamp pyc in a zip would go stale under it.
const OTHER_TZ: &str = "Pacific/Kiritimati";

/// `probe.py --deep` on `tree` mounted read-only at `at`, with `env` (`TZ=...`) set.
fn probe_env(tree: &Path, at: &Path, env: &[&str]) -> Value {
    let python = at.join("bin/python");
    let probe = probe_py();
    let mut argv: Vec<&str> = vec!["env"];
    argv.extend(env);
    argv.extend([
        path_str(&python),
        "-I",
        "-B",
        path_str(&probe),
        path_str(at),
        "--deep",
    ]);
    let out = ro_run(tree, at, &argv);
    assert!(
        out.status.success(),
        "probe of {}:\n{}",
        tree.display(),
        show(&out)
    );
    out.json()
}

/// Module files in `after` as they were on disk: `<sp>/<archive>/pkg/mod.pyc` -> `<sp>/pkg/mod.py`,
/// so `compare_probes` can hold the zipped tree to the original file by file.
fn unzip_paths(after: &Value) -> Value {
    let mut v = after.clone();
    let marker = format!("/{ARCHIVE}/");
    for key in ["top_level", "deep"] {
        let Some(map) = v[key].as_object_mut() else {
            continue;
        };
        for r in map.values_mut() {
            if let Some(f) = r["file"].as_str().filter(|f| f.contains(&marker)) {
                let mut f = f.replacen(&marker, "/", 1);
                if f.ends_with(".pyc") {
                    f.pop();
                }
                r["file"] = Value::String(f);
            }
        }
    }
    v
}

fn file_count(root: &Path) -> usize {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

/// Zipped tree vs original: everything that worked works, nothing compiles, every zipped module
/// came from its unchecked-hash pyc in the archive.
fn zip_problems(venv: &Path, report: &Value, before: &Value, after: &Value) -> Vec<String> {
    let gone = removed_paths(report);
    let dropped: BTreeSet<String> = ["pip", "setuptools", "wheel"]
        .iter()
        .filter(|d| before["dists"].get(**d).is_some() && after["dists"].get(**d).is_none())
        .map(|d| d.to_string())
        .collect();
    let mut problems = compare_probes(
        before,
        &unzip_paths(after),
        &|p| is_gone_on_purpose(venv, &gone, p),
        &dropped,
        true,
    );
    let loaded = after["zip_loaded"].as_object().cloned().unwrap_or_default();
    if loaded.is_empty() {
        problems.push("no module was loaded from the archive".into());
    }
    for (name, m) in &loaded {
        if m["pyc"] != "unchecked-hash"
            || m["from_pyc"] != Value::Bool(true)
            || m["co_filename_ok"] != Value::Bool(true)
        {
            problems.push(format!("{name} from the archive: {m}"));
        }
    }
    problems
}

fn zipped_keeps_working(name: &str, expect_zipped: &[&str], expect_on_disk: &[&str]) {
    if !require_ro_namespace(name) {
        return;
    }
    let venv = real_venv(name);
    let dir = scratch(&format!("{name}-zip-"));
    let (zipped, again, default) = (
        dir.path().join("zip"),
        dir.path().join("again"),
        dir.path().join("default"),
    );
    let hash_before = tree_hash(&venv);
    let report = slim(&venv, &zipped)
        .args(["--zip-pure"])
        .arg("--json")
        .json();
    slim(&venv, &again)
        .args(["--zip-pure"])
        .arg("--json")
        .json();
    slim(&venv, &default).arg("--json").json();
    assert_eq!(tree_hash(&venv), hash_before, "venvslim modified VENV");

    // What was zipped and what stayed, as the report says and as the tree shows.
    let z = &report["zip"];
    let names: BTreeSet<&str> = z["dists"]
        .as_array()
        .expect("zip.dists")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    let refused: BTreeSet<&str> = z["refused"]
        .as_array()
        .expect("zip.refused")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    for d in expect_zipped {
        assert!(
            names.contains(d),
            "{d} not zipped; zipped {names:?}, refused {}",
            z["refused"]
        );
    }
    for d in expect_on_disk {
        assert!(refused.contains(d), "{d} not refused; refused {refused:?}");
    }
    for r in z["refused"].as_array().into_iter().flatten() {
        let ev = &r["reasons"][0];
        assert!(
            ev["kind"].is_string() && ev["why"].is_string(),
            "refusal without evidence: {r}"
        );
    }
    let sp = site_packages_rel(&venv);
    let archive = zipped.join(&sp).join(ARCHIVE);
    assert_eq!(
        fs::read_to_string(zipped.join(&sp).join("_venvslim_pure.pth")).expect("pth"),
        format!("{ARCHIVE}\n")
    );
    let pythonpath = z["pythonpath"].as_str().expect("zip.pythonpath");
    assert_eq!(
        pythonpath,
        format!("{0}:{0}/{ARCHIVE}", venv.join(&sp).display())
    );

    // Reproducible: two runs, the same archive bytes.
    let (a, b) = (
        fs::read(&archive).expect("archive"),
        fs::read(again.join(&sp).join(ARCHIVE)).expect("archive"),
    );
    assert!(
        a == b,
        "two runs wrote different archives ({} and {} bytes)",
        a.len(),
        b.len()
    );

    let (orig_b, def_b, zip_b) = (
        unique_bytes(&venv),
        unique_bytes(&default),
        unique_bytes(&zipped),
    );
    let (orig_f, def_f, zip_f) = (file_count(&venv), file_count(&default), file_count(&zipped));
    eprintln!(
        "{name}: original {orig_b} B / {orig_f} files; default {def_b} B / {def_f} files; --zip-pure {zip_b} B / {zip_f} files \
         (archive {} B, {} entries, {} distributions zipped, {} on disk); same archive bytes in two runs: yes",
        a.len(),
        z["written"]["entries"],
        names.len(),
        refused.len()
    );
    assert!(
        zip_f < def_f,
        "--zip-pure left {zip_f} files, the default {def_f}"
    );

    // Everything works, read-only, in UTC and in another zone.
    let before = probe_env(&venv, &venv, &[]);
    for env in [&["TZ=UTC"][..], &[&*format!("TZ={OTHER_TZ}")][..]] {
        let after = probe_env(&zipped, &venv, env);
        let problems = zip_problems(&venv, &report, &before, &after);
        assert!(
            problems.is_empty(),
            "{name} --zip-pure {env:?}: {} problems:\n{}",
            problems.len(),
            problems.join("\n")
        );
        eprintln!(
            "{name} {env:?}: {} modules loaded from the archive, 0 compiled at start-up",
            after["zip_loaded"].as_object().map_or(0, |m| m.len())
        );
    }
    let tmp = dir.path().join("check");
    let orig = run_check(&venv, &venv, name, &tmp.join("orig"), &[]);
    assert!(
        orig.status.success(),
        "check {name} fails on the ORIGINAL:\n{}",
        show(&orig)
    );
    for tz in ["TZ=UTC", "TZ=Pacific/Kiritimati"] {
        let out = run_check(&zipped, &venv, name, &tmp.join(tz), &[tz]);
        assert!(
            out.status.success(),
            "check {name} fails zipped ({tz}):\n{}",
            show(&out)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&orig.stdout),
            "check {name} ({tz})"
        );
    }

    // Without site (python -S) the PYTHONPATH line of the report is what finds the archive.
    let module = z["files"]
        .as_array()
        .and_then(|f| f.first())
        .and_then(Value::as_str)
        .expect("a zipped file");
    let top = Path::new(module)
        .strip_prefix(&sp)
        .expect("in site-packages")
        .components()
        .next()
        .expect("a name");
    let top = top
        .as_os_str()
        .to_str()
        .expect("UTF-8")
        .trim_end_matches(".py")
        .to_string();
    let python = venv.join("bin/python");
    let code = format!("import {top}; print({top}.__loader__.archive)");
    let pp = format!("PYTHONPATH={pythonpath}");
    let out = ro_run(
        &zipped,
        &venv,
        &["env", &pp, path_str(&python), "-S", "-c", &code],
    );
    assert!(
        out.status.success(),
        "python -S with the PYTHONPATH line cannot import {top}:\n{}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .ends_with(ARCHIVE),
        "{}",
        show(&out)
    );
}

#[test]
fn otel_web_zipped_imports_traces_and_compiles_nothing_at_start() {
    zipped_keeps_working(
        "otel_web",
        &[
            "opentelemetry-api",
            "opentelemetry-instrumentation-fastapi",
            "uvicorn",
            "httpx",
        ],
        // fastapi and opentelemetry-sdk ship data files (.md) no source reads through the
        // loader; starlette's StaticFiles builds paths from a package's spec origin.
        &[
            "pydantic_core",
            "wrapt",
            "certifi",
            "fastapi",
            "starlette",
            "opentelemetry-sdk",
        ],
    );
}

#[test]
fn django_zipped_serves_and_compiles_nothing_at_start() {
    zipped_keeps_working("django", &["asgiref", "sqlparse"], &["Django"]);
}

#[test]
fn cli_tools_zipped_renders_and_compiles_nothing_at_start() {
    zipped_keeps_working(
        "cli_tools",
        &["click", "requests", "urllib3", "mdurl"],
        // Jinja2 (PackageLoader), rich (traceback) and Pygments (sphinxext) name module
        // locations near file-system calls; markdown-it-py ships port.yaml, read by nothing.
        &[
            "MarkupSafe",
            "charset-normalizer",
            "certifi",
            "Jinja2",
            "rich",
            "Pygments",
            "markdown-it-py",
        ],
    );
}

/// `--verify` takes a distribution that breaks in the zip back out of it. Forced: a module of a
/// zipped distribution is changed (in a copy of the venv) to read a data file in a way the scan
/// cannot see (it reads through `importlib.resources.files()`, and far from there turns the
/// result into a path with `str()`), so it imports in the venv and fails from the zip.
#[test]
fn verify_takes_a_broken_distribution_out_of_the_zip() {
    let name = "cli_tools";
    if !require_ro_namespace(name) {
        return;
    }
    let dir = scratch("zip-verify-");
    let venv = dir.path().join("venv");
    copy_tree(&real_venv(name), &venv);
    let sp = venv.join(site_packages_rel(&venv));
    fs::write(sp.join("mdurl/here.txt"), "x").expect("write data");
    let init = sp.join("mdurl/__init__.py");
    let mut text = fs::read_to_string(&init).expect("read");
    text.push_str("\n\nimport importlib.resources as _res\n\n\ndef _where():\n    return _res.files(__name__)\n\n\nimport os as _os\n\n\n\n\n_DATA = _os.path.join(str(_where()), 'here.txt')\nwith open(_DATA) as _f:\n    _f.read()\n");
    fs::write(&init, text).expect("write");
    let out = dir.path().join("out");
    let report = slim(&venv, &out)
        .args(["--zip-pure", "--verify"])
        .arg("--json")
        .json();
    let unzipped = &report["zip"]["written"]["unzipped"];
    assert!(
        unzipped
            .as_array()
            .is_some_and(|u| u.iter().any(|d| d == "mdurl")),
        "mdurl was not taken out of the zip: {}\nverify: {}",
        unzipped,
        report["verify"]
    );
    assert_eq!(
        report["verify"]["remaining"],
        Value::Array(vec![]),
        "{}",
        report["verify"]
    );
    let osp = out.join(site_packages_rel(&venv));
    assert!(
        osp.join("mdurl/__init__.py").is_file(),
        "mdurl is not back on disk"
    );
    let names = zip_names(&osp.join(ARCHIVE));
    assert!(
        !names.iter().any(|n| n.starts_with("mdurl/")),
        "mdurl still in the archive"
    );
    assert!(
        names.iter().any(|n| n.starts_with("click/")),
        "click left the archive too"
    );
    let record = fs::read_to_string(osp.join("mdurl-0.1.2.dist-info/RECORD")).expect("RECORD");
    assert!(
        record.contains("mdurl/__init__.py,sha256="),
        "RECORD lists mdurl again:\n{record}"
    );
}

fn zip_names(archive: &Path) -> Vec<String> {
    python("python3")
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(archive)
        .ok()
        .stdout()
        .lines()
        .map(str::to_string)
        .collect()
}
