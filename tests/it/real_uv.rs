//! Venvs made by uv, as most Docker builds now make them: `uv venv` + `uv pip install` (files
//! hardlinked from uv's cache, no pip, no pycs unless `--compile-bytecode`, `INSTALLER` uv, and
//! launchers for Windows shells in bin/), and `uv sync` project venvs with and without
//! `--compile-bytecode`. The web lock installed by uv slims, verifies clean and runs read-only;
//! slimmed in place, it leaves every file of uv's cache as it was.
//!
//! uv comes from PyPI into `target/tools/uv`, its cache lives in `target/test-venvs/uv-cache`;
//! both are built once and shared.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::real_run::workload;
use crate::util::{
    pypi_tool, python, real_venv, repo_root, require_ro_namespace, ro_run, scratch,
    site_packages_rel, target_dir, tree, venvslim, Detail,
};

/// uv from PyPI in its own venv under target/tools, built once.
pub(crate) fn uv() -> PathBuf {
    pypi_tool("uv", "uv>=0.4").join("bin/uv")
}

/// A venv made by uv from the web lock at `dir/venv`, with uv's shared cache (hardlinks).
fn uv_web_venv(dir: &Path, compile: bool) -> (PathBuf, PathBuf) {
    // The pip-made venv of the same lock first: its build checks the lock installs at all.
    real_venv("web");
    let uv = uv();
    let cache = target_dir().join("test-venvs/uv-cache");
    let venv = dir.join("venv");
    let run = |args: &[&str]| {
        crate::util::TestCommand::new(&uv)
            .args(args)
            .env("UV_CACHE_DIR", &cache)
            .env("UV_LINK_MODE", "hardlink")
            .env_remove("VIRTUAL_ENV")
            .ok();
    };
    run(&[
        "venv",
        "--quiet",
        "--python",
        "python3",
        venv.to_str().unwrap(),
    ]);
    let lock = repo_root().join("tests/venvs/web.lock");
    let py = venv.join("bin/python");
    let mut install = vec!["pip", "install", "--quiet", "--python"];
    install.push(py.to_str().unwrap());
    install.extend(["--no-deps", "-r", lock.to_str().unwrap()]);
    if compile {
        install.push("--compile-bytecode");
    }
    run(&install);
    (venv, cache)
}

#[test]
fn a_uv_venv_slims_verifies_clean_and_serves_read_only() {
    if !require_ro_namespace("real_uv::a_uv_venv_slims_verifies_clean_and_serves_read_only") {
        return;
    }
    let t = scratch("uv-web");
    let (venv, _) = uv_web_venv(t.path(), false);
    let sp = site_packages_rel(&venv);
    // What makes it a uv venv.
    assert!(!venv.join(&sp).join("pip").exists(), "uv installs no pip");
    let installer = venv.join(&sp).join("fastapi-0.165.0.dist-info/INSTALLER");
    assert_eq!(
        fs::read_to_string(&installer)
            .ok()
            .as_deref()
            .map(str::trim),
        Some("uv")
    );
    let out = t.path().join("out");
    let o = venvslim()
        .arg("slim")
        .arg(&venv)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .ok();
    let report = o.json();
    assert!(
        report["failures"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    // Only what a Linux runtime uses stays in bin/.
    let bin: Vec<String> = fs::read_dir(out.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in &bin {
        let lower = name.to_ascii_lowercase();
        assert!(
            !lower.ends_with(".bat") && !lower.ends_with(".ps1") && !lower.starts_with("activate"),
            "bin/{name} stayed: {bin:?}"
        );
    }
    verify_and_serve(&out, &venv, "uv pip");
}

#[test]
fn in_place_slim_of_a_uv_venv_leaves_its_cache_as_it_was() {
    let t = scratch("uv-in-place");
    let (venv, cache) = uv_web_venv(t.path(), true);
    let sp = site_packages_rel(&venv);
    assert!(
        fs::read_dir(venv.join(&sp).join("fastapi/__pycache__")).is_ok(),
        "--compile-bytecode wrote pycs"
    );
    // uv hardlinked the files from its cache: the ELF libraries venvslim strips in place
    // (uvloop's loop.so) are the cache's own inodes, which a write in place would change.
    let loop_so = fs::read_dir(venv.join(&sp).join("uvloop"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("loop.cpython")
        })
        .expect("uvloop's loop.so");
    assert!(
        fs::metadata(&loop_so).unwrap().nlink() >= 2,
        "{} is not hardlinked from the cache",
        loop_so.display()
    );
    // The unpacked wheels the venv links into (`archive-v0/`), file by file: other tests add to
    // the shared cache meanwhile (new entries, directory mtimes, uv's lock files), so only the
    // files that were there are compared, and no directory.
    let archive = cache.join("archive-v0");
    let files = |t: &std::collections::BTreeMap<PathBuf, String>| {
        t.iter()
            .filter(|(p, _)| {
                archive
                    .join(p)
                    .symlink_metadata()
                    .is_ok_and(|m| m.is_file())
            })
            .map(|(p, w)| (p.clone(), w.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = files(&tree(&archive, Detail::Content));
    assert!(before.len() > 500, "{} files in uv's archive", before.len());
    venvslim().arg("slim").arg(&venv).arg("--in-place").ok();
    let after = tree(&archive, Detail::Content);
    let changed: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, what)| after.get(*p) != Some(*what))
        .map(|(p, _)| p)
        .collect();
    assert!(
        changed.is_empty(),
        "{} of {} cache entries changed, first {:?}",
        changed.len(),
        before.len(),
        changed.first()
    );
    // And the slimmed venv still imports the app.
    python(venv.join("bin/python"))
        .args(["-c", "import fastapi, sqlalchemy, uvicorn"])
        .ok();
}

/// A project venv made by `uv sync` from the web lock's pins (the project itself not installed),
/// with and without `--compile-bytecode`: the slim tree verifies clean against it and serves the
/// request read-only.
#[test]
fn uv_sync_venvs_with_and_without_bytecode_slim_and_verify_clean() {
    if !require_ro_namespace(
        "real_uv::uv_sync_venvs_with_and_without_bytecode_slim_and_verify_clean",
    ) {
        return;
    }
    let uv = uv();
    let cache = target_dir().join("test-venvs/uv-cache");
    let t = scratch("uv-sync");
    for compile in [false, true] {
        let project = t.path().join(format!("app-{compile}"));
        web_project(&project, "[tool.uv]\npackage = false\n");
        let mut sync = crate::util::TestCommand::new(&uv);
        sync.args(["sync", "--quiet", "--python", "python3"])
            .current_dir(&project)
            .env("UV_CACHE_DIR", &cache)
            .env_remove("VIRTUAL_ENV");
        if compile {
            sync.arg("--compile-bytecode");
        }
        sync.ok();
        let venv = project.join(".venv");
        let sp = site_packages_rel(&venv);
        assert_eq!(
            venv.join(&sp).join("fastapi/__pycache__").is_dir(),
            compile,
            "pycs only with --compile-bytecode"
        );
        let out = t.path().join(format!("out-{compile}"));
        venvslim().arg("slim").arg(&venv).arg("-o").arg(&out).ok();
        verify_and_serve(&out, &venv, &format!("uv sync, compile {compile}"));
    }
}

/// `dir/pyproject.toml` of a project named `app` that depends on the web lock's pins, with
/// `tool_table` (how the tool is told not to install the project itself) at its end.
pub(crate) fn web_project(dir: &Path, tool_table: &str) {
    let lock = fs::read_to_string(repo_root().join("tests/venvs/web.lock")).unwrap();
    let pins: Vec<String> = lock
        .lines()
        .filter(|l| l.contains("=="))
        .map(|l| format!("    \"{}\",", l.trim()))
        .collect();
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\n{}\n]\n\n{tool_table}",
            pins.join("\n")
        ),
    )
    .unwrap();
}

/// `verify OUT --against VENV` passes, and the request workload runs on OUT mounted read-only
/// at VENV's path.
pub(crate) fn verify_and_serve(out: &Path, venv: &Path, what: &str) {
    venvslim()
        .arg("verify")
        .arg(out)
        .arg("--against")
        .arg(venv)
        .ok();
    let script = workload("web_request.py");
    let script = script.trim_start_matches("$VENV/bin/python ");
    let run = ro_run(
        out,
        venv,
        &[venv.join("bin/python").to_str().unwrap(), script],
    );
    assert!(run.status.success(), "{what}: {}", crate::util::show(&run));
}
