//! `--budget SIZE`: over it, exit 1 with the output still written, the largest distributions
//! and what each unused size option would save (from alternative plans); under it, exit 0 and
//! one line; a bad value is a usage error; the `[tool.venvslim]` key; a dry run, measured on the
//! plan.
//!
//! The fixture venv gets one pure distribution with a large, compressible module (and pip's
//! bytecode for it), so that `--zip-pure` has something to save.

use super::expect_usage_error;
use crate::util::{exists, python, slim, slim_venv, Fixture};
use crate::zip::add_dist;
use std::fs;

use serde_json::Value;

/// The fixture plus `bigpure` (about 25 KB of source), compiled as pip compiles on install.
fn budget_fixture() -> Fixture {
    let fx = Fixture::new("venvslim-budget-");
    let module: String = (0..600)
        .map(|i| {
            format!("def handler_{i}(request):\n    return {{'id': {i}, 'path': request}}\n\n")
        })
        .collect();
    add_dist(
        &fx.sp(),
        "bigpure",
        &[
            ("bigpure/__init__.py", "from .handlers import handler_0\n"),
            ("bigpure/handlers.py", &module),
        ],
    );
    python(fx.root.join(format!("bin/python{}", fx.py)))
        .args(["-m", "compileall", "-q"])
        .arg(fx.sp().join("bigpure"))
        .ok();
    fx
}

/// The saving a report lists for `option`, in bytes.
fn saving(report: &Value, option: &str) -> i64 {
    let savings = report["budget"]["savings"].as_array().unwrap();
    let s = savings
        .iter()
        .find(|s| s["option"] == option)
        .unwrap_or_else(|| panic!("no saving for {option}: {savings:#?}"));
    s["bytes"]
        .as_i64()
        .unwrap_or_else(|| panic!("{option}: {s:#?}"))
}

#[test]
fn over_budget_exits_1_writes_the_output_and_lists_the_savings() {
    let fx = budget_fixture();
    let out = fx.path("out");
    let run = slim(&fx.root, &out).args(["--budget", "4KiB"]).run();
    run.assert_code(1);
    let text = run.stdout();
    assert!(
        text.contains("over budget: ") && text.contains(" of 4.0 KiB, "),
        "{run}"
    );
    assert!(
        text.contains("the output is written, exit status 1"),
        "{run}"
    );
    assert!(
        text.contains("largest distributions in the output"),
        "{run}"
    );
    assert!(text.contains("    bigpure 1.0 "), "{run}");
    assert!(text.contains("    --zip-pure "), "{run}");
    assert!(
        !text.contains("failure(s)"),
        "over budget is not a failure of a path: {run}"
    );
    assert!(
        exists(&out.join(&fx.sp_rel).join("bigpure/handlers.py")),
        "the output is written whole"
    );

    let out = fx.path("out-json");
    let run = slim(&fx.root, &out)
        .args(["--budget", "4KiB", "--json"])
        .run();
    run.assert_code(1);
    let r = run.json();
    let b = &r["budget"];
    assert_eq!(b["limit"], 4096);
    assert_eq!(
        b["size"], r["totals"]["after_bytes"],
        "the report's own measure"
    );
    assert_eq!(b["within"], false);
    assert_eq!(b["largest"][0]["name"], "bigpure 1.0", "{b:#}");
    assert!(b["largest"][0]["bytes"].as_u64().unwrap() > 20_000, "{b:#}");
    let zip = saving(&r, "--zip-pure");
    let sourceless = saving(&r, "--bytecode sourceless");
    assert!(zip > 0 && sourceless > 0, "{b:#}");
    let zip_basis = &b["savings"][0]["basis"];
    assert_eq!(zip_basis["archive"], true, "{b:#}");
    assert!(zip_basis["zipped"].as_u64().unwrap() >= 1, "{b:#}");
    assert!(
        b["savings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["option"] != "--elf unneeded"),
        "--elf is at its default: nothing to offer"
    );

    // The estimates against real runs with each option: close, not equal (RECORD and the
    // bytecode's file names differ a little between the runs).
    for (option, estimate) in [
        (&["--zip-pure"][..], zip),
        (&["--bytecode", "sourceless"][..], sourceless),
    ] {
        let with = fx.path(&format!("with{}", option.join("")));
        let after = slim(&fx.root, &with).args(option).report()["totals"]["after_bytes"]
            .as_i64()
            .unwrap();
        let actual = r["totals"]["after_bytes"].as_i64().unwrap() - after;
        assert!(
            (estimate - actual).abs() <= actual / 10,
            "{option:?}: estimated {estimate}, the real run saved {actual}"
        );
    }
}

#[test]
fn within_budget_exits_0_with_one_line() {
    let fx = budget_fixture();
    let out = fx.path("out");
    let run = slim(&fx.root, &out).args(["--budget", "1GiB"]).ok();
    let text = run.stdout();
    let line = text
        .lines()
        .find(|l| l.contains("within budget: "))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(line.trim_end().ends_with(" of 1.0 GiB"), "{line}");
    assert!(!text.contains("largest distributions"), "{run}");
    assert!(!text.contains("over budget"), "{run}");
    let r = slim(&fx.root, &fx.path("out-json"))
        .args(["--budget", "1073741824"])
        .report();
    assert_eq!(r["budget"]["within"], true);
    assert_eq!(r["budget"]["limit"], 1u64 << 30);
}

#[test]
fn a_bad_budget_is_a_usage_error_naming_it() {
    let fx = Fixture::new("venvslim-budget-");
    let (root, out) = (fx.root.to_str().unwrap(), fx.path("out"));
    let out = out.to_str().unwrap();
    for (bad, why) in [
        ("250M", "unknown unit `M`"),
        ("lots", "is not a size"),
        ("1.1KiB", "whole number of bytes"),
        ("0", "zero"),
    ] {
        let stderr = expect_usage_error(&fx, &["slim", root, "-o", out, "--budget", bad]);
        assert!(
            stderr.contains(&format!("--budget `{bad}`")) && stderr.contains(why),
            "{stderr}"
        );
        assert!(stderr.contains("`250MiB`"), "the accepted forms: {stderr}");
    }
}

#[test]
fn budget_from_the_config_file() {
    let fx = budget_fixture();
    let config = fx.path("pyproject.toml");
    let config_arg = config.to_str().unwrap().to_string();
    fs::write(&config, "[tool.venvslim]\nbudget = \"4KiB\"\n").unwrap();
    let run = slim(&fx.root, &fx.path("out"))
        .args(["--config", &config_arg, "--json"])
        .run();
    run.assert_code(1);
    assert_eq!(run.json()["budget"]["limit"], 4096);
    // An integer is bytes; the command line wins over the file.
    fs::write(&config, "[tool.venvslim]\nbudget = 4096\n").unwrap();
    let r = slim(&fx.root, &fx.path("out2"))
        .args(["--config", &config_arg, "--budget", "1GiB"])
        .report();
    assert_eq!(r["budget"]["within"], true);
    // A bad value names the key and the file, in the file's words.
    fs::write(&config, "[tool.venvslim]\nbudget = \"4 kilobytes\"\n").unwrap();
    let (root, out) = (fx.root.to_str().unwrap(), fx.path("out3"));
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--config",
            &config_arg,
        ],
    );
    assert!(
        stderr.contains("budget = `4 kilobytes`") && stderr.contains("pyproject.toml"),
        "{stderr}"
    );
    assert!(!stderr.contains("--budget"), "{stderr}");
}

#[test]
fn dry_run_measures_the_plan_and_writes_nothing() {
    let fx = budget_fixture();
    let before = crate::util::tree(fx.tmp.path(), crate::util::Detail::Strict);
    let run = slim_venv(&fx.root)
        .args(["-n", "--budget", "4KiB", "--json"])
        .run();
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["budget"]["size"], r["totals"]["after_bytes"]);
    assert!(saving(&r, "--zip-pure") > 0, "{:#}", r["budget"]);
    let run = slim_venv(&fx.root).args(["-n", "--budget", "4KiB"]).run();
    run.assert_code(1);
    assert!(
        run.stdout()
            .contains("(the plan's size: before bytecode is compiled and ELF files are stripped)"),
        "{run}"
    );
    assert!(
        run.stdout().contains("nothing was written (dry run)"),
        "{run}"
    );
    let after = crate::util::tree(fx.tmp.path(), crate::util::Detail::Strict);
    assert!(crate::util::tree_diff(&before, &after).is_empty());
    slim_venv(&fx.root).args(["-n", "--budget", "1GiB"]).ok();
}

#[test]
fn in_place_over_budget_slims_and_exits_1() {
    let fx = budget_fixture();
    let run = slim_venv(&fx.root)
        .args(["--in-place", "--budget", "4KiB"])
        .run();
    run.assert_code(1);
    assert!(run.stdout().contains("the venv is slimmed"), "{run}");
    assert!(run.stdout().contains("    --zip-pure "), "{run}");
    assert!(
        !exists(&fx.sp().join("demo/docs")),
        "the venv was slimmed all the same"
    );
}
