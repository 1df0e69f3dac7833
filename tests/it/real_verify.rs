//! `venvslim verify` and `slim --verify` on real venvs (the cached pinned venvs of
//! `tests/it/util`): no false alarms on untouched copies, and a breakage forced through a rule
//! is found, attributed to its distribution, and repaired.

use std::path::Path;

use crate::util::*;

/// An untouched copy of every real venv verifies clean against its original, deeply (the default
/// with --against): no false alarms, or nobody would trust a real one.
#[test]
fn untouched_copies_have_no_regressions() {
    for name in [
        "web",
        "django",
        "numpy_pandas",
        "jupyter_events",
        "elf_wheels",
        "datasci",
    ] {
        let venv = real_venv(name);
        let scratch = scratch(&format!("verify-copy-{name}-"));
        let copy = scratch.path().join("venv");
        copy_tree(&venv, &copy);
        let out = venvslim()
            .args([
                "verify".as_ref(),
                copy.as_os_str(),
                "--against".as_ref(),
                venv.as_os_str(),
                "--json".as_ref(),
            ])
            .run();
        let report = out.json();
        assert_eq!(out.status.code(), Some(0), "{name}: {report:#}");
        assert_eq!(report["depth"], "deep", "{name}: {report:#}");
        assert_eq!(
            report["regressions"].as_array().map(Vec::len),
            Some(0),
            "{name}: {report:#}"
        );
        assert!(
            report["modules"].as_u64().unwrap_or(0) > 10,
            "{name}: probed almost nothing: {report:#}"
        );
    }
}

/// `--remove 'django/test/**'` overrides the import guard and breaks django: verify finds it and
/// names django; `slim --verify` restores django and ends with a tree that passes, and says
/// which rule had removed each restored file.
#[test]
fn forced_django_breakage_is_found_and_repaired() {
    let venv = real_venv("django");
    let scratch = scratch("verify-django-");
    let broken = scratch.path().join("broken");
    let out = venvslim()
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "-o".as_ref(),
            broken.as_os_str(),
            "--remove".as_ref(),
            "django/test/**".as_ref(),
        ])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let out = venvslim()
        .args([
            "verify".as_ref(),
            broken.as_os_str(),
            "--against".as_ref(),
            venv.as_os_str(),
            "--deep".as_ref(),
            "--json".as_ref(),
        ])
        .run();
    let report = out.json();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a broken tree must exit 1: {report:#}"
    );
    let regressions = report["regressions"].as_array().expect("regressions");
    assert!(
        regressions
            .iter()
            .any(|r| r["dist"] == "django"
                && r["error"].as_str().unwrap_or("").contains("django.test")),
        "no regression naming django and django.test: {report:#}"
    );

    let fixed = scratch.path().join("fixed");
    let out = venvslim()
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "-o".as_ref(),
            fixed.as_os_str(),
            "--remove".as_ref(),
            "django/test/**".as_ref(),
            "--verify".as_ref(),
            "--json".as_ref(),
        ])
        .run();
    let report = out.json();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let v = &report["verify"];
    assert!(!v["found"].as_array().expect("found").is_empty(), "{v:#}");
    assert_eq!(v["remaining"].as_array().map(Vec::len), Some(0), "{v:#}");
    assert!(
        v["restored_dists"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "django"),
        "{v:#}"
    );
    let restored = v["restored"].as_array().expect("restored");
    let client = restored
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("django/test/client.py")
        })
        .expect("django/test/client.py restored");
    assert_eq!(client["rule"], "user.remove");
    assert!(fixed
        .join(site_packages_rel(&venv))
        .join("django/test/client.py")
        .is_file());
    // What verify said, independently: the repaired tree passes.
    let out = venvslim()
        .args([
            "verify".as_ref(),
            fixed.as_os_str(),
            "--against".as_ref(),
            venv.as_os_str(),
            "--deep".as_ref(),
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    check_record_lists_existing_files(&fixed.join(site_packages_rel(&venv)));
}

/// Issue 13: `verify --against` is deep by default. A Django tree slimmed with
/// `--remove 'django/test/**'` imports at the top level, so the quick probe (top-level and
/// extension modules, the old default) passes it; the default probe imports every module and
/// reports what imports `django.test`, and exits 1.
#[test]
fn issue13_verify_against_is_deep_by_default_and_quick_misses_a_removed_submodule() {
    let venv = real_venv("django");
    let scratch = scratch("verify-depth-");
    let out_dir = scratch.path().join("out");
    venvslim()
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "-o".as_ref(),
            out_dir.as_os_str(),
            "--remove".as_ref(),
            "django/test/**".as_ref(),
        ])
        .ok();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify".as_ref(),
            out_dir.as_os_str(),
            "--against".as_ref(),
            venv.as_os_str(),
            "--json".as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let out = venvslim().args(args).run();
        let report = out.json();
        (out.status.code(), report)
    };
    let names_django_test = |report: &serde_json::Value| {
        report["regressions"]
            .as_array()
            .expect("regressions")
            .iter()
            .any(|r| {
                r["dist"] == "django"
                    && r["kind"] == "import"
                    && r["error"].as_str().unwrap_or("").contains("django.test")
            })
    };

    let (code, deep) = verify(&[]);
    assert_eq!(
        code,
        Some(1),
        "the default must find the regression: {deep:#}"
    );
    assert_eq!(deep["depth"], "deep", "{deep:#}");
    assert!(names_django_test(&deep), "{deep:#}");

    let (code, quick) = verify(&["--quick"]);
    assert_eq!(code, Some(0), "--quick imports no submodule: {quick:#}");
    assert_eq!(quick["depth"], "quick", "{quick:#}");
    assert!(!names_django_test(&quick), "{quick:#}");
    assert!(
        quick["modules"].as_u64() < deep["modules"].as_u64(),
        "quick probed as many modules as deep: {quick:#} {deep:#}"
    );

    // `--deep`, the old spelling, is still accepted and is the default.
    let (code, old) = verify(&["--deep"]);
    assert_eq!(code, Some(1), "{old:#}");
    assert_eq!(old["regressions"], deep["regressions"]);
}

/// Every RECORD row of the repaired tree names a file that exists.
fn check_record_lists_existing_files(sp: &Path) {
    for e in std::fs::read_dir(sp).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".dist-info") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path().join("RECORD")) else {
            continue;
        };
        for line in text.lines() {
            let path = line.split(',').next().unwrap_or("");
            assert!(
                sp.join(path).exists() || path.starts_with(".."),
                "{name}/RECORD lists missing {path}"
            );
        }
    }
}
