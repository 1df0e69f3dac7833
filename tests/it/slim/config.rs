//! `[tool.venvslim]` in a pyproject.toml: read from `--config` or `./pyproject.toml`, flags win
//! (lists merge), hand-off keys take effect with paths relative to the file, and an unknown key
//! is a usage error that lists every known one.

use super::expect_usage_error;
use crate::util::{exists, listing, pyc_flags, pycs, slim, venvslim, Fixture};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use walkdir::WalkDir;

#[test]
fn config_file_tool_venvslim_is_read_and_flags_win() {
    let fx = Fixture::new("venvslim-slim-");
    let config = fx.path("pyproject.toml");
    fs::write(
        &config,
        "[project]\nname = \"app\"\n\n[tool.venvslim]\nbytecode = \"strip\"\ndist-info = \"licenses\"\n\
         keep = [\"demo/tests/test_x.py\"]\nremove = [\"demo/static/app.js\"]\n",
    )
    .unwrap();
    let out = fx.path("out");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--keep",
        "demo/docs/**",
    ];
    slim(&fx.root, &out).args(args).report();
    let sp_out = out.join(&fx.sp_rel);
    assert_eq!(
        pycs(&sp_out),
        BTreeSet::from(["demo/legacy.pyc".to_string()]),
        "bytecode = strip"
    );
    assert_eq!(
        listing(&sp_out.join("demo-1.0.dist-info")),
        BTreeSet::from([
            "METADATA".into(),
            "licenses/".into(),
            "licenses/LICENSE".into()
        ]),
        "dist-info = licenses"
    );
    assert!(
        exists(&sp_out.join("demo/tests/test_x.py")),
        "keep from the file"
    );
    assert!(
        exists(&sp_out.join("demo/docs/index.rst")),
        "keep from the command line (lists merge)"
    );
    assert!(
        !exists(&sp_out.join("demo/static/app.js")),
        "remove from the file"
    );

    let out2 = fx.path("out2");
    slim(&fx.root, &out2)
        .args(["--config", config.to_str().unwrap(), "--bytecode", "keep"])
        .report();
    let stale = format!("demo/__pycache__/core.{}.pyc", fx.cache_tag());
    assert!(
        exists(&out2.join(&fx.sp_rel).join(&stale)),
        "--bytecode keep on the command line wins over the file"
    );
}

#[test]
fn config_defaults_to_pyproject_in_the_working_directory() {
    let fx = Fixture::new("venvslim-slim-");
    let cwd = fx.path("project");
    fs::create_dir(&cwd).unwrap();
    let (root, out) = (fx.root.to_str().unwrap(), fx.path("out"));
    let args = ["slim", root, "-o", out.to_str().unwrap(), "--json"];
    // A pyproject.toml without [tool.venvslim] is not an error: it is not ours.
    fs::write(cwd.join("pyproject.toml"), "[project]\nname = \"app\"\n").unwrap();
    venvslim().current_dir(&cwd).args(args).ok();
    let stale = format!("demo/__pycache__/core.{}.pyc", fx.cache_tag());
    assert_eq!(
        pyc_flags(&out.join(&fx.sp_rel).join(&stale)),
        1,
        "default: compile"
    );
    fs::write(
        cwd.join("pyproject.toml"),
        "[tool.venvslim]\nbytecode = \"keep\"\n",
    )
    .unwrap();
    let out2 = fx.path("out2");
    venvslim()
        .current_dir(&cwd)
        .args(["slim", root, "-o", out2.to_str().unwrap()])
        .ok();
    assert_eq!(
        pyc_flags(&out2.join(&fx.sp_rel).join(&stale)),
        0,
        "./pyproject.toml says keep"
    );
}

#[test]
fn config_file_with_unknown_key_is_a_usage_error_naming_it() {
    let fx = Fixture::new("venvslim-slim-");
    let config = fx.path("pyproject.toml");
    fs::write(
        &config,
        "[tool.venvslim]\nbytecode = \"strip\"\nkeep-packages = [\"demo\"]\n",
    )
    .unwrap();
    let out = fx.path("out");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert!(
        stderr.contains("keep-packages"),
        "the unknown key is not named:\n{stderr}"
    );
    assert!(
        stderr.contains(config.to_str().unwrap()),
        "the file is not named:\n{stderr}"
    );
}

/// Every mtime below `root` (lstat), as a set.
fn mtimes(root: &Path) -> BTreeSet<i64> {
    WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap().path().symlink_metadata().unwrap().mtime())
        .collect()
}

#[test]
fn config_hand_off_keys_take_effect_flags_win_and_paths_are_relative_to_the_file() {
    let fx = Fixture::new("venvslim-slim-");
    let (project, cwd) = (fx.path("project"), fx.path("cwd"));
    fs::create_dir(&project).unwrap();
    fs::create_dir(&cwd).unwrap();
    let config = project.join("pyproject.toml");
    fs::write(
        &config,
        "[tool.venvslim]\nmtime = 1700000000\nsbom = \"sbom.cdx.json\"\n",
    )
    .unwrap();
    let (root, out) = (fx.root.to_str().unwrap(), fx.path("out"));
    let config_arg = config.to_str().unwrap();
    venvslim()
        .current_dir(&cwd)
        .args([
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--config",
            config_arg,
        ])
        .ok();
    assert_eq!(mtimes(&out), BTreeSet::from([1_700_000_000]), "mtime key");
    assert!(
        exists(&project.join("sbom.cdx.json")),
        "sbom key: relative to the file's directory"
    );
    assert!(
        !exists(&cwd.join("sbom.cdx.json")),
        "not to the working directory"
    );

    let out2 = fx.path("out2");
    venvslim()
        .current_dir(&cwd)
        .args([
            "slim",
            root,
            "-o",
            out2.to_str().unwrap(),
            "--config",
            config_arg,
            "--mtime",
            "1600000000",
            "--sbom",
            "cli.cdx.json",
        ])
        .ok();
    assert_eq!(
        mtimes(&out2),
        BTreeSet::from([1_600_000_000]),
        "--mtime wins"
    );
    assert!(
        exists(&cwd.join("cli.cdx.json")),
        "--sbom wins, relative to the working directory as given"
    );
}

#[test]
fn config_unknown_key_error_lists_every_key_hand_off_ones_too() {
    let fx = Fixture::new("venvslim-slim-");
    let config = fx.path("pyproject.toml");
    fs::write(&config, "[tool.venvslim]\nkeep-bins = [\"app\"]\n").unwrap();
    let out = fx.path("out");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("keep-bins"), "{stderr}");
    let hint = stderr
        .lines()
        .find(|l| l.starts_with("hint: known keys are "))
        .unwrap_or_else(|| panic!("no list of keys:\n{stderr}"));
    for key in [
        "bytecode",
        "zip",
        "keep-bin",
        "licenses-dir",
        "prefix",
        "mtime",
    ] {
        assert!(
            hint.split([' ', ',']).any(|k| k == key),
            "{key} missing: {hint}"
        );
    }
}
