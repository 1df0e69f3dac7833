//! Usage errors: exit 2, an `error:` naming the culprit, a `hint:`, nothing written (checked by
//! `expect_usage_error`); the one near miss that is not an error, an empty OUT; and `--version`.

use super::expect_usage_error;
use crate::util::{slim, Fixture};
use std::fs;

#[test]
fn error_missing_venv() {
    let fx = Fixture::new("venvslim-slim-");
    let (missing, out) = (fx.path("no-such-venv"), fx.path("out"));
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            missing.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
}

#[test]
fn error_not_a_venv() {
    let fx = Fixture::new("venvslim-slim-");
    let (dir, out) = (fx.path("just-a-dir"), fx.path("out"));
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("notes.txt"), "hello\n").unwrap();
    let stderr = expect_usage_error(
        &fx,
        &["slim", dir.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    assert!(
        stderr.contains("just-a-dir") && stderr.contains("not a virtualenv"),
        "{stderr}"
    );
}

#[test]
fn error_output_not_empty() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("precious.txt"), "mine\n").unwrap();
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        stderr.contains(out.to_str().unwrap()) && stderr.contains("not empty"),
        "{stderr}"
    );
}

#[test]
fn empty_output_directory_is_accepted() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    fs::create_dir(&out).unwrap();
    slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    assert!(out.join("pyvenv.cfg").is_file());
}

#[test]
fn error_output_inside_venv() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.root.join("slim");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        stderr.contains(out.to_str().unwrap()) && stderr.contains("inside the venv"),
        "{stderr}"
    );
    // Also through a relative path that climbs back into the venv.
    let sneaky = fx.root.join("bin/../slim2");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            sneaky.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("inside the venv"), "{stderr}");
}

#[test]
fn error_bad_glob() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--keep",
            "demo/[tests",
        ],
    );
    assert!(stderr.contains("demo/[tests"), "{stderr}");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--remove",
            "{a,b",
        ],
    );
    assert!(stderr.contains("{a,b"), "{stderr}");
}

#[test]
fn error_bad_keep_package_spec() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let root = fx.root.to_str().unwrap();
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--keep-package",
            "demo>=one",
        ],
    );
    assert!(stderr.contains("demo>=one"), "{stderr}");
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--keep-package",
            ">=1",
        ],
    );
    assert!(stderr.contains(">=1"), "{stderr}");
}

#[test]
fn error_missing_output() {
    let fx = Fixture::new("venvslim-slim-");
    let stderr = expect_usage_error(&fx, &["slim", fx.root.to_str().unwrap()]);
    assert!(
        stderr.contains("-o") || stderr.contains("--output"),
        "{stderr}"
    );
}

/// `--version` names the release, the commit the binary was built from and the target triple.
#[test]
fn version_names_the_release_the_commit_and_the_target() {
    let o = crate::util::venvslim().arg("--version").ok();
    let line = o.stdout();
    let line = line.trim();
    let rest = line
        .strip_prefix(concat!("venvslim ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, target) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", "))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(target.contains("-linux-"), "{line}");
    // Built from this checkout: the commit is its HEAD (the build re-runs when HEAD moves).
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(crate::util::repo_root())
        .output();
    match head {
        Ok(h) if h.status.success() => {
            assert_eq!(commit, String::from_utf8_lossy(&h.stdout).trim(), "{line}")
        }
        _ => assert!(!commit.is_empty(), "{line}"),
    }
}
