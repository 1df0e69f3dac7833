//! Project venvs made by Poetry and by PDM, where a Docker build makes them: the project's own
//! `.venv` (Poetry with `virtualenvs.in-project`, PDM by default), from a pyproject.toml that
//! depends on the web lock's pins and installs no project package. Both tools make the venv with
//! virtualenv, so bin/ holds activation scripts for seven shells. Poetry's virtualenv seeds pip
//! (whose INSTALLER says `pip`) and Poetry writes `Poetry X.Y.Z` into the INSTALLER of what it
//! installs; PDM seeds nothing and writes `pdm`. Neither compiles bytecode. Each venv slims out
//! of place without failures, loses pip and the activation scripts, keeps its console scripts,
//! verifies clean against its input and serves the web request read-only.
//!
//! Poetry and PDM come from PyPI into `target/tools/{poetry,pdm}`, built once and shared; their
//! caches live in `target/test-venvs/{poetry,pdm}-cache`, so a rerun downloads nothing it already
//! has. Whatever else they (and the virtualenv they run) would write under the home directory,
//! config, logs, virtualenv's app data, goes to the test's scratch directory.

use std::fs;
use std::path::{Path, PathBuf};

use crate::real_uv::{verify_and_serve, web_project};
use crate::util::{
    actions, names, pypi_tool, require_ro_namespace, scratch, site_packages_rel, target_dir,
    venvslim, TestCommand,
};

/// The console scripts the web lock's distributions install.
/// The project's Poetry table: no package of its own. Poetry reads PyPI through its JSON API by
/// default, which a PyPI proxy need not serve; the simple index (PEP 503/691) is what pip and uv
/// read.
pub(crate) const POETRY_TABLE: &str = "[tool.poetry]\npackage-mode = false\n\n\
     [[tool.poetry.source]]\nname = \"pypi-simple\"\nurl = \"https://pypi.org/simple/\"\npriority = \"primary\"\n";

const WEB_SCRIPTS: [&str; 6] = [
    "dotenv",
    "fastapi",
    "idna",
    "uvicorn",
    "watchfiles",
    "websockets",
];

/// `tool` (a program in a tool venv) run in `project`, with everything it would write under the
/// home directory sent to `home` (a scratch directory): the XDG base directories (Poetry, PDM
/// and virtualenv find their config, cache, data and log directories through them) and
/// virtualenv's app data. The caller sets the cache the tool should share between runs.
pub(crate) fn tool_command(tool: &Path, project: &Path, home: &Path) -> TestCommand {
    let mut c = TestCommand::new(tool);
    c.current_dir(project)
        .env_remove("VIRTUAL_ENV")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("VIRTUALENV_OVERRIDE_APP_DATA", home.join("virtualenv"));
    c
}

/// Poetry (from PyPI, `target/tools/poetry`) in `project`, as `tool_command` runs tools, with
/// the cache shared under `target/test-venvs/` and no keyring.
pub(crate) fn poetry_command(project: &Path, home: &Path) -> TestCommand {
    let poetry = pypi_tool("poetry", "poetry>=2,<3").join("bin/poetry");
    let mut c = tool_command(&poetry, project, home);
    c.env(
        "POETRY_CACHE_DIR",
        target_dir().join("test-venvs/poetry-cache"),
    )
    .env("POETRY_CONFIG_DIR", home.join("poetry-config"))
    .env("POETRY_DATA_DIR", home.join("poetry-data"))
    .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
    c
}

/// The value of `key` in the venv's pyvenv.cfg (each line split on its first `=`; not INI).
fn pyvenv_cfg(venv: &Path, key: &str) -> Option<String> {
    let cfg = fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    cfg.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The trimmed INSTALLER of the dist-info `dist` (e.g. `fastapi-0.165.0`) in the venv.
fn installer(venv: &Path, dist: &str) -> String {
    let path = venv
        .join(site_packages_rel(venv))
        .join(format!("{dist}.dist-info/INSTALLER"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Names in `venv`'s site-packages that belong to pip.
fn pip_entries(venv: &Path) -> Vec<String> {
    names(&venv.join(site_packages_rel(venv)))
        .into_iter()
        .filter(|n| n == "pip" || n.starts_with("pip-"))
        .collect()
}

/// What the tool left in the venv's bin/ besides the python links and the console scripts.
fn tool_leftovers_in_bin(venv: &Path) -> Vec<String> {
    names(&venv.join("bin"))
        .into_iter()
        .filter(|n| !n.starts_with("python") && !WEB_SCRIPTS.contains(&n.as_str()))
        .collect()
}

/// Slims `venv` to `out` and checks what every tool's venv must come to: no failures, bin/ holds
/// only the python links and the web lock's console scripts, pip (if the tool seeded it) is gone
/// by the installers rule, the activation scripts by theirs; then `verify_and_serve`.
fn slim_verify_and_serve(venv: &Path, out: &Path, what: &str) {
    let report = venvslim()
        .arg("slim")
        .arg(venv)
        .arg("-o")
        .arg(out)
        .arg("--json")
        .ok()
        .json();
    assert!(
        report["failures"].as_array().unwrap().is_empty(),
        "{what}: {report:#}"
    );
    assert_eq!(tool_leftovers_in_bin(out), Vec::<String>::new(), "{what}");
    for script in WEB_SCRIPTS {
        assert!(
            out.join("bin").join(script).is_file(),
            "{what}: bin/{script}"
        );
    }
    assert!(out.join("bin/python").exists(), "{what}: bin/python");
    assert_eq!(pip_entries(out), Vec::<String>::new(), "{what}");
    // Each leftover went by the rule that names it.
    for name in tool_leftovers_in_bin(venv) {
        let path = format!("bin/{name}");
        let rule = actions(&report)
            .iter()
            .find(|a| a["path"] == path.as_str())
            .and_then(|a| a["rule"].as_str())
            .unwrap_or_else(|| panic!("{what}: no action on {path}"));
        let expected = if name.starts_with("pip") {
            "installers.dist"
        } else {
            "activation"
        };
        assert_eq!(rule, expected, "{what}: {path}");
    }
    verify_and_serve(out, venv, what);
}

#[test]
fn a_poetry_in_project_venv_slims_verifies_clean_and_serves_read_only() {
    if !require_ro_namespace(
        "real_poetry_pdm::a_poetry_in_project_venv_slims_verifies_clean_and_serves_read_only",
    ) {
        return;
    }
    let t = scratch("poetry-web");
    let project = t.path().join("app");
    web_project(&project, POETRY_TABLE);
    let home = t.path().join("home");
    let poetry_run = |args: &[&str]| {
        poetry_command(&project, &home)
            .args(args)
            .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
            .ok();
    };
    poetry_run(&["env", "use", "--no-interaction", "python3"]);
    poetry_run(&["install", "--no-interaction", "--quiet"]);
    assert!(project.join("poetry.lock").is_file(), "poetry.lock");
    let venv = project.join(".venv");
    let sp = venv.join(site_packages_rel(&venv));

    // What makes it Poetry's venv.
    assert!(
        pyvenv_cfg(&venv, "virtualenv").is_some(),
        "made by virtualenv"
    );
    let by = installer(&venv, "fastapi-0.165.0");
    assert!(by.starts_with("Poetry 2."), "INSTALLER {by:?}");
    assert!(!sp.join("fastapi/__pycache__").exists(), "Poetry compiled");
    let pip = pip_entries(&venv);
    let pip_dist = pip
        .iter()
        .find(|n| n.ends_with(".dist-info"))
        .unwrap_or_else(|| panic!("virtualenv seeded no pip: {pip:?}"));
    assert_eq!(
        installer(&venv, pip_dist.trim_end_matches(".dist-info")),
        "pip"
    );
    let leftovers = tool_leftovers_in_bin(&venv);
    for name in ["activate", "activate.ps1", "activate.nu", "pip"] {
        assert!(
            leftovers.iter().any(|n| n == name),
            "bin/{name}: {leftovers:?}"
        );
    }

    slim_verify_and_serve(&venv, &t.path().join("out"), "poetry");
}

#[test]
fn a_pdm_in_project_venv_slims_verifies_clean_and_serves_read_only() {
    if !require_ro_namespace(
        "real_poetry_pdm::a_pdm_in_project_venv_slims_verifies_clean_and_serves_read_only",
    ) {
        return;
    }
    // `[locked]`: PDM's own pins of its dependencies; the newest of them need not fit it (hishel
    // 2.0 broke PDM 2.29's lock with an AttributeError).
    let pdm = pypi_tool("pdm", "pdm[locked]>=2,<3").join("bin/pdm");
    let t = scratch("pdm-web");
    let project = t.path().join("app");
    web_project(&project, "[tool.pdm]\ndistribution = false\n");
    let home = t.path().join("home");
    let pdm_run = |args: &[&str]| {
        tool_command(&pdm, &project, &home)
            .args(args)
            .env("PDM_CACHE_DIR", target_dir().join("test-venvs/pdm-cache"))
            .env("PDM_CHECK_UPDATE", "false")
            .env("PDM_NON_INTERACTIVE", "1")
            .ok();
    };
    // The in-project `.venv` is PDM's default; creating it first names the interpreter.
    pdm_run(&["venv", "create", "python3"]);
    pdm_run(&["install", "--quiet"]);
    assert!(project.join("pdm.lock").is_file(), "pdm.lock");
    let venv = project.join(".venv");
    let sp = venv.join(site_packages_rel(&venv));

    // What makes it PDM's venv.
    assert!(
        pyvenv_cfg(&venv, "virtualenv").is_some(),
        "made by virtualenv"
    );
    let saved = fs::read_to_string(project.join(".pdm-python")).unwrap();
    assert_eq!(PathBuf::from(saved.trim()), venv.join("bin/python"));
    assert_eq!(installer(&venv, "fastapi-0.165.0"), "pdm");
    assert!(!sp.join("fastapi/__pycache__").exists(), "PDM compiled");
    assert_eq!(pip_entries(&venv), Vec::<String>::new(), "PDM seeds no pip");
    let leftovers = tool_leftovers_in_bin(&venv);
    for name in ["activate", "activate.ps1", "activate.nu"] {
        assert!(
            leftovers.iter().any(|n| n == name),
            "bin/{name}: {leftovers:?}"
        );
    }

    // virtualenv's start-up hook, when PDM's virtualenv wrote it (before 21.15), does not ship.
    let hook = sp.join("_virtualenv.pth").exists();
    let out = t.path().join("out");
    slim_verify_and_serve(&venv, &out, "pdm");
    if hook {
        let out_sp = out.join(site_packages_rel(&out));
        for name in ["_virtualenv.pth", "_virtualenv.py"] {
            assert!(!out_sp.join(name).exists(), "{name} shipped");
        }
    }
}
