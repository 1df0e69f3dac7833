//! Text output is a contract: the dry run's text (plain and `-v`), its JSON, and the rule table,
//! pinned by insta snapshots (in `snapshots/`), with temp paths and timings redacted.

use crate::util::{slim, slim_venv, venvslim, Fixture};

/// Replace the temp paths and the timing, which change from run to run.
fn redact(text: &str, fx: &Fixture) -> String {
    let canonical = fx.root.canonicalize().unwrap();
    let mut text = text
        .replace(canonical.to_str().unwrap(), "[VENV]")
        .replace(fx.root.to_str().unwrap(), "[VENV]");
    text = text.replace(fx.tmp.path().to_str().unwrap(), "[TMP]");
    text.lines()
        .map(|l| match l.find("done in ") {
            Some(i) if l.trim_end().ends_with(" s") => format!("{}done in [ELAPSED] s", &l[..i]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn snapshot_dry_run_text() {
    let fx = Fixture::new("venvslim-slim-");
    let output = slim(&fx.root, &fx.path("out")).args(["--dry-run"]).ok();
    insta::assert_snapshot!(
        "dry_run_text",
        redact(&String::from_utf8(output.output.stdout).unwrap(), &fx)
    );
}

#[test]
fn snapshot_dry_run_verbose_text() {
    let fx = Fixture::new("venvslim-slim-");
    let output = slim_venv(&fx.root).args(["-n", "-v"]).ok();
    insta::assert_snapshot!(
        "dry_run_verbose_text",
        redact(&String::from_utf8(output.output.stdout).unwrap(), &fx)
    );
}

#[test]
fn snapshot_dry_run_json() {
    let fx = Fixture::new("venvslim-slim-");
    let mut report = slim(&fx.root, &fx.path("out")).args(["--dry-run"]).report();
    report["venv"] = "[VENV]".into();
    report["output"] = "[OUT]".into();
    report["elapsed_ms"] = "[ELAPSED]".into();
    insta::assert_json_snapshot!("dry_run_json", report);
}

#[test]
fn snapshot_rules() {
    let output = venvslim().args(["rules"]).ok();
    let text = String::from_utf8(output.output.stdout).unwrap();
    for id in [
        "bytecode.stale",
        "tests.dir",
        "installers.dist",
        "dist-info.strip",
        "user.remove",
        "activation",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{id}  ["))),
            "rule {id} is not listed"
        );
    }
    insta::assert_snapshot!("rules", text);
}
