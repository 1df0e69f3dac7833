//! `venvslim bench` through the binary, on the small hand-made venv of
//! `fixtures/make_fixture_venv.py`: the JSON's shape, that `none` is the original byte for byte,
//! that the hand-made recipes lose the dist-info (and verify says what that breaks) while
//! venvslim's default breaks nothing, that the chart is well-formed SVG, that the page maps the
//! default strategy's kept bytes, and that the input is never touched. No assertion on any time: the machine decides those.

use crate::util::{self, python, show, venvslim};
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A fixture venv at `<tmp>/venv`.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let (tmp, root, _) = util::fixture_venv("venvslim-bench-");
    (tmp, root)
}

/// Regular-file bytes, each inode once; and a listing with sizes and mtimes (to prove the input
/// was not touched).
fn bytes_and_listing(root: &Path) -> (u64, Vec<String>) {
    let mut seen = HashSet::new();
    let mut bytes = 0;
    let mut listing = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        if m.is_file() && seen.insert((m.dev(), m.ino())) {
            bytes += m.len();
        }
        listing.push(format!(
            "{} {} {} {}",
            e.path().display(),
            m.len(),
            m.mtime(),
            m.mode()
        ));
    }
    (bytes, listing)
}

fn strategy<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no strategy {name} in {report:#}"))
}

fn exists_any(root: &Path, pred: impl Fn(&str) -> bool) -> bool {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
        .any(|e| pred(&e.file_name().to_string_lossy()))
}

#[test]
fn bench_json_chart_and_kept_trees() {
    let (tmp, venv) = fixture();
    let (original_bytes, before) = bytes_and_listing(&venv);
    let (svg, html, keep) = (
        tmp.path().join("c.svg"),
        tmp.path().join("c.html"),
        tmp.path().join("trees"),
    );
    let out = venvslim()
        .env_remove("CI")
        .args([
            "bench".as_ref(),
            venv.as_os_str(),
            "--rounds".as_ref(),
            "1".as_ref(),
            "--json".as_ref(),
            "--strategy".as_ref(),
            "keep-pyc=--bytecode keep".as_ref(),
            "--svg".as_ref(),
            svg.as_os_str(),
            "--html".as_ref(),
            html.as_os_str(),
            "--keep".as_ref(),
            keep.as_os_str(),
        ])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        out.stderr.is_empty(),
        "no progress bar or noise on a pipe:\n{}",
        show(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");

    // Shape: every strategy, in order, each measured.
    let names: Vec<&str> = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "none",
            "exclude-pycache-distinfo",
            "sls-slim",
            "default",
            "max",
            "keep-pyc"
        ]
    );
    assert_eq!(report["rounds"], 1);
    assert!(
        report["read_only"].is_boolean() && report["run"].as_str().unwrap().contains("import demo")
    );
    for s in report["strategies"].as_array().unwrap() {
        assert!(s["error"].is_null(), "{s:#}");
        for k in ["bytes", "disk_bytes", "files", "tar_gz_bytes"] {
            assert!(s["sizes"][k].as_u64().unwrap() > 0, "{k} in {s:#}");
        }
        assert!(s["regressions"].is_u64(), "{s:#}");
        assert!(
            s["start"].is_object() || s["start_error"].is_string(),
            "{s:#}"
        );
    }

    // `none` is the original, byte for byte; the others are smaller.
    let none = strategy(&report, "none");
    assert_eq!(none["sizes"]["bytes"].as_u64().unwrap(), original_bytes);
    assert_eq!(none["regressions"], 0);
    assert_eq!(none["start"]["ratio_to_none"], 1.0);
    for name in ["exclude-pycache-distinfo", "sls-slim", "default", "max"] {
        let b = strategy(&report, name)["sizes"]["bytes"].as_u64().unwrap();
        assert!(b < original_bytes, "{name}: {b} >= {original_bytes}");
    }

    // The recipes lose the dist-info (demo's METADATA, entry points), and verify says so.
    let recipe = keep.join("exclude-pycache-distinfo");
    assert!(!exists_any(&recipe, |n| n == "METADATA" || n == "__pycache__"));
    assert!(
        exists_any(&recipe, |n| n == "LICENSE.txt"),
        "LICENSE* files stay in the recipe"
    );
    let sls = keep.join("sls-slim");
    assert!(!exists_any(&sls, |n| n.contains(".dist-info") || n.ends_with(".pyc")));
    for name in ["exclude-pycache-distinfo", "sls-slim"] {
        let s = strategy(&report, name);
        assert!(s["regressions"].as_u64().unwrap() > 0, "{s:#}");
        assert!(
            s["regressions_by_kind"]["metadata"].as_u64().unwrap() > 0,
            "{s:#}"
        );
    }
    // venvslim's strategies keep what the runtime reads.
    for name in ["default", "max", "keep-pyc"] {
        assert_eq!(strategy(&report, name)["regressions"], 0, "{name}");
        assert!(exists_any(&keep.join(name), |n| n == "METADATA"), "{name}");
    }

    // The chart: well-formed SVG naming each plotted strategy; the page embeds it.
    let svg_text = fs::read_to_string(&svg).unwrap();
    let check = python("python3")
        .args(["-c", "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert d.documentElement.tagName == 'svg'"])
        .arg(&svg)
        .run();
    assert!(
        check.status.success(),
        "SVG is not well-formed XML:\n{}",
        show(&check)
    );
    for s in report["strategies"].as_array().unwrap() {
        if s["start"].is_object() {
            assert!(
                svg_text.contains(s["name"].as_str().unwrap()),
                "{} not on the chart",
                s["name"]
            );
        }
    }
    let page = fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("<svg") && page.contains("<table>")
    );

    // Where the bytes are: slim's strategies carry their report's breakdown, the copies none;
    // the page maps the default strategy's, with demo (the biggest) labelled on it.
    assert!(strategy(&report, "none")["breakdown"].is_null());
    for name in ["default", "max", "keep-pyc"] {
        let b = &strategy(&report, name)["breakdown"];
        assert_eq!(b["basis"]["measured"], true, "{name}: {b:#}");
        assert_eq!(b["dists"][0]["name"], "demo", "{name}: {b:#}");
    }
    // Without the zip (whose files it counts uncompressed) and dedupe, the breakdown is the
    // tree's size but for the RECORDs' growth when they list the compiled pycs.
    for name in ["default", "keep-pyc"] {
        let bytes = strategy(&report, name)["sizes"]["bytes"].as_u64().unwrap();
        let total = strategy(&report, name)["breakdown"]["total_bytes"]
            .as_u64()
            .unwrap();
        assert!(
            total <= bytes && bytes - total < bytes / 10,
            "{name}: breakdown {total} vs the tree's {bytes}"
        );
    }
    assert_eq!(page.matches("<svg").count(), 2, "the chart and the treemap");
    assert!(
        page.contains("Where the bytes are after <code>venvslim slim</code> (strategy default)"),
        "{page}"
    );
    let demo = &strategy(&report, "default")["breakdown"]["dists"][0];
    assert!(
        page.contains(&format!(
            "<title>demo {}: ",
            demo["version"].as_str().unwrap()
        )),
        "{page}"
    );

    // The input was never touched.
    assert_eq!(bytes_and_listing(&venv).1, before, "the input venv changed");
}

#[test]
fn bench_text_table_and_scratch_removed() {
    let (tmp, venv) = fixture();
    let out = venvslim()
        .env_remove("CI")
        .args([
            "bench".as_ref(),
            venv.as_os_str(),
            "--rounds".as_ref(),
            "1".as_ref(),
            "--no-verify".as_ref(),
            "--strategies".as_ref(),
            "default,none".as_ref(),
        ])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text
        .lines()
        .find(|l| l.starts_with("strategy"))
        .expect("table header");
    for col in ["bytes", "disk", "files", "tar.gz", "start", "regressions"] {
        assert!(header.contains(col), "{header}");
    }
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("strategy"))
        .skip(1)
        .take(2)
        .collect();
    assert!(
        rows[0].starts_with("default") && rows[1].starts_with("none"),
        "{text}"
    );
    // The scratch directory beside the venv is gone.
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["venv"], "scratch left behind");
}

#[test]
fn bench_usage_errors_name_the_problem() {
    let (_tmp, venv) = fixture();
    for (args, needle) in [
        (
            vec!["--strategies", "none,bogus"],
            "unknown strategy `bogus`",
        ),
        (
            vec!["--strategy", "x=--bytecode never"],
            "--strategy `x=--bytecode never`",
        ),
        (vec!["--strategy", "x=-o elsewhere"], "chosen by the bench"),
        (vec!["--rounds", "0"], "--rounds 0"),
    ] {
        let mut argv: Vec<&std::ffi::OsStr> = vec!["bench".as_ref(), venv.as_os_str()];
        argv.extend(args.iter().map(std::ffi::OsStr::new));
        let out = venvslim().env_remove("CI").args(&argv).run();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("hint:"),
            "{args:?}: {err}"
        );
    }
}
