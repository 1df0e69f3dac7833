//! The ELF engine through the binary: `venvslim strip FILE...` and the `--elf` modes of `slim`,
//! on small libraries gcc builds from `fixtures/elf/` (built per test run, never committed).
//! Loading is checked with ctypes: the stripped library must still give `answer() == 42`.
//! Without gcc these tests print a SKIP note and pass, as `fixtures/elf/build.sh` documents.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{python, repo_root, sha256_b64, slim, venvslim, TestCommand};

use serde_json::Value;
use tempfile::TempDir;

/// Build `names` with fixtures/elf/build.sh into a fresh temp dir; None (and a SKIP note)
/// when gcc is missing.
fn build(names: &[&str]) -> Option<(TempDir, PathBuf)> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("SKIP: gcc not found; the ELF CLI tests need it to build their fixtures");
        return None;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("elf");
    TestCommand::new("bash")
        .arg(repo_root().join("fixtures/elf/build.sh"))
        .arg(&dir)
        .args(names)
        .ok();
    Some((tmp, dir))
}

fn answer(lib: &Path) -> String {
    let code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).answer())";
    let out = python("python3").args(["-c", code]).arg(lib).ok();
    out.stdout().trim().to_string()
}

fn section_names(lib: &Path) -> Vec<String> {
    let text = TestCommand::new("readelf")
        .arg("-SW")
        .arg(lib)
        .run()
        .stdout();
    text.lines()
        .filter_map(|l| l.split(']').nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn strip_command_strips_in_place_and_the_library_still_works() {
    let Some((_tmp, dir)) = build(&["libdbg.so"]) else {
        return;
    };
    let lib = dir.join("libdbg.so");
    let before = fs::metadata(&lib).unwrap().len();
    assert!(section_names(&lib).iter().any(|n| n.starts_with(".debug_")));
    let out = venvslim()
        .args(["strip".as_ref(), "--json".as_ref(), lib.as_os_str()])
        .run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = &report["files"][0];
    assert_eq!(row["verdict"], "stripped", "{report:#}");
    let after = fs::metadata(&lib).unwrap().len();
    assert_eq!(row["before"], before);
    assert_eq!(row["after"], after);
    assert!(after < before, "{after} >= {before}");
    let names = section_names(&lib);
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(".debug_") || n == ".symtab"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == ".dynsym"), "{names:?}");
    assert_eq!(answer(&lib), "42");
}

#[test]
fn strip_dry_run_changes_nothing_and_text_or_symlink_are_left_alone() {
    let Some((tmp, dir)) = build(&["libdbg.so"]) else {
        return;
    };
    let lib = dir.join("libdbg.so");
    let original = fs::read(&lib).unwrap();
    let text = tmp.path().join("notes.so.txt");
    fs::write(&text, "not an ELF file, whatever its name says\n").unwrap();
    let link = tmp.path().join("link.so");
    std::os::unix::fs::symlink(&lib, &link).unwrap();
    let out = venvslim()
        .args([
            "strip".as_ref(),
            "-n".as_ref(),
            lib.as_os_str(),
            text.as_os_str(),
            link.as_os_str(),
        ])
        .run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("would strip"), "{stdout}");
    assert!(stdout.contains("not an ELF"), "{stdout}");
    assert!(stdout.contains("symlink"), "{stdout}");
    assert_eq!(
        fs::read(&lib).unwrap(),
        original,
        "a dry run modified the library"
    );
    let out = venvslim().args(["strip".as_ref(), link.as_os_str()]).run();
    assert!(out.status.success());
    assert_eq!(
        fs::read(&lib).unwrap(),
        original,
        "strip went through a symlink"
    );
}

#[test]
fn strip_keeps_other_hardlinks_untouched() {
    let Some((tmp, dir)) = build(&["libdbg.so"]) else {
        return;
    };
    let lib = dir.join("libdbg.so");
    let cache = tmp.path().join("cache.so");
    fs::hard_link(&lib, &cache).unwrap();
    let original = fs::read(&cache).unwrap();
    let out = venvslim().args(["strip".as_ref(), lib.as_os_str()]).run();
    assert!(out.status.success());
    assert_eq!(
        fs::read(&cache).unwrap(),
        original,
        "the other link was edited through"
    );
    assert!(fs::metadata(&lib).unwrap().len() < original.len() as u64);
}

/// A tiny venv (no interpreter needed with --bytecode keep) holding the libraries.
fn venv_with(dir: &Path, libs: &[(&str, &Path)]) -> PathBuf {
    let venv = dir.join("venv");
    let sp = venv.join("lib/python3.11/site-packages");
    fs::create_dir_all(sp.join("pkg")).unwrap();
    fs::write(
        venv.join("pyvenv.cfg"),
        "home = /usr/bin\nversion = 3.11.0\n",
    )
    .unwrap();
    fs::write(sp.join("pkg/__init__.py"), "").unwrap();
    for (name, src) in libs {
        fs::copy(src, sp.join("pkg").join(name)).unwrap();
    }
    venv
}

#[test]
fn slim_strips_elf_by_content_and_leaves_fips_checked_libraries_alone() {
    let Some((tmp, dir)) = build(&["libdbg.so", "answer.o"]) else {
        return;
    };
    let lib = dir.join("libdbg.so");
    // One library under a misleading name, one integrity-checked, one object file.
    let venv = venv_with(
        tmp.path(),
        &[
            ("_native.cpython-311-x86_64-linux-gnu.so", &lib),
            ("data.bin", &lib),
            ("libfips.so", &lib),
            ("answer.o", &dir.join("answer.o")),
        ],
    );
    let sp = venv.join("lib/python3.11/site-packages/pkg");
    fs::write(sp.join(".libfips.so.hmac"), "0123").unwrap();
    let out = tmp.path().join("out");
    let report = slim(&venv, &out)
        .args(["--bytecode", "keep"])
        .arg("--json")
        .json();
    let osp = out.join("lib/python3.11/site-packages/pkg");
    let size = |p: &Path| fs::metadata(p).unwrap().len();
    let original = size(&lib);
    for name in ["_native.cpython-311-x86_64-linux-gnu.so", "data.bin"] {
        assert!(size(&osp.join(name)) < original, "{name} not stripped");
        assert_eq!(answer(&osp.join(name)), "42");
    }
    assert_eq!(
        fs::read(osp.join("libfips.so")).unwrap(),
        fs::read(&lib).unwrap(),
        "FIPS library changed"
    );
    assert_eq!(
        fs::read(osp.join("answer.o")).unwrap(),
        fs::read(dir.join("answer.o")).unwrap()
    );
    let elf = &report["elf"];
    assert_eq!(elf["files"], 2, "{elf:#}");
    assert_eq!(
        elf["skipped"][0]["path"], "lib/python3.11/site-packages/pkg/libfips.so",
        "{elf:#}"
    );
    let saved: u64 = elf["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["before"].as_u64().unwrap() - r["after"].as_u64().unwrap())
        .sum();
    assert_eq!(elf["saved_bytes"], saved);
    // The input is never modified.
    assert_eq!(
        fs::read(sp.join("data.bin")).unwrap(),
        fs::read(&lib).unwrap()
    );
}

#[test]
fn slim_elf_modes_debug_keeps_symtab_and_keep_changes_nothing() {
    let Some((tmp, dir)) = build(&["libdbg.so"]) else {
        return;
    };
    let lib = dir.join("libdbg.so");
    let venv = venv_with(tmp.path(), &[("_native.so", &lib)]);
    let rel = "lib/python3.11/site-packages/pkg/_native.so";

    let debug_out = tmp.path().join("debug");
    slim(&venv, &debug_out)
        .args(["--bytecode", "keep"])
        .args(["--elf", "debug"])
        .arg("--json")
        .json();
    let names = section_names(&debug_out.join(rel));
    assert!(names.iter().any(|n| n == ".symtab"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with(".debug_")), "{names:?}");
    assert_eq!(answer(&debug_out.join(rel)), "42");

    let keep_out = tmp.path().join("keep");
    let report = slim(&venv, &keep_out)
        .args(["--bytecode", "keep"])
        .args(["--elf", "keep"])
        .arg("--json")
        .json();
    assert_eq!(
        fs::read(keep_out.join(rel)).unwrap(),
        fs::read(&lib).unwrap()
    );
    assert_eq!(report["elf"]["files"], 0);
}

#[test]
fn slim_in_place_strips_and_rewrites_record_hashes() {
    let Some((tmp, dir)) = build(&["libdbg.so"]) else {
        return;
    };
    let lib = dir.join("libdbg.so");
    let venv = venv_with(tmp.path(), &[("_native.so", &lib)]);
    let sp = venv.join("lib/python3.11/site-packages");
    let di = sp.join("pkg-1.0.dist-info");
    fs::create_dir_all(&di).unwrap();
    fs::write(
        di.join("METADATA"),
        "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
    )
    .unwrap();
    fs::write(di.join("RECORD"), "pkg/__init__.py,,\npkg/_native.so,sha256=old,1\npkg-1.0.dist-info/METADATA,,\npkg-1.0.dist-info/RECORD,,\n").unwrap();
    let out = venvslim()
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "--in-place".as_ref(),
            "--bytecode".as_ref(),
            "keep".as_ref(),
        ])
        .run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stripped = fs::read(sp.join("pkg/_native.so")).unwrap();
    assert!(stripped.len() < fs::metadata(&lib).unwrap().len() as usize);
    let record = fs::read_to_string(di.join("RECORD")).unwrap();
    let line = record
        .lines()
        .find(|l| l.starts_with("pkg/_native.so,"))
        .expect("listed");
    let digest = sha256_b64(&stripped);
    assert_eq!(
        line,
        format!("pkg/_native.so,sha256={digest},{}", stripped.len())
    );
    assert_eq!(answer(&sp.join("pkg/_native.so")), "42");
}
