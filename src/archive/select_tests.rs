//! Selection rules on a hand-made tree: every refusal, its evidence, and all-or-none.

use std::fs;
use std::path::Path;

use super::*;
use crate::cli::{BytecodeMode, DistInfoMode, ElfMode};
use crate::dists::{discover, Ownership};
use crate::inventory::Inventory;
use crate::rules::{classify, Ctx};
use crate::settings::{Globs, Settings, Target, ZipSettings};
use crate::venv::Venv;

const SP: &str = "lib/python3.11/site-packages";

/// Files of one distribution: (path relative to site-packages, content).
type Files<'a> = &'a [(&'a str, &'a [u8])];

/// A venv skeleton with one dist-info per distribution: (name, files).
fn tree(root: &Path, dists: &[(&str, Files)]) {
    fs::write(
        root.join("pyvenv.cfg"),
        "home = /usr/bin\nversion = 3.11.7\n",
    )
    .unwrap();
    let sp = root.join(SP);
    for (name, files) in dists {
        let di = format!("{name}-1.0.dist-info");
        let mut record = String::new();
        for (rel, body) in files.iter() {
            let p = sp.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, body).unwrap();
            record.push_str(&format!("{rel},,\n"));
        }
        fs::create_dir_all(sp.join(&di)).unwrap();
        fs::write(
            sp.join(&di).join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"),
        )
        .unwrap();
        record.push_str(&format!("{di}/METADATA,,\n{di}/RECORD,,\n"));
        fs::write(sp.join(&di).join("RECORD"), record).unwrap();
    }
}

fn settings(root: &Path, exclude: &[&str]) -> Settings {
    Settings {
        run: Vec::new(),
        prune: None,
        venv: root.to_path_buf(),
        target: Target::PlanOnly,
        dry_run: true,
        json: false,
        verbose: false,
        verify: false,
        bytecode: BytecodeMode::Compile,
        dist_info: DistInfoMode::Minimal,
        elf: ElfMode::Keep,
        keep: Globs::default(),
        remove: Globs::default(),
        keep_packages: vec!["kept".parse().unwrap()],
        python_version: None,
        zip: ZipSettings {
            enabled: true,
            sourceless: false,
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        },
        handoff: Default::default(),
        budget: None,
        treemap: None,
    }
}

fn plan_for(root: &Path, exclude: &[&str]) -> ZipPlan {
    let venv = Venv::discover(root, None).unwrap();
    let inv = Inventory::scan(&venv.root, &venv.site_packages).unwrap();
    let dists = discover(&venv.root, &venv.site_packages, &inv);
    let own = Ownership::new(&dists, &venv.site_packages);
    let s = settings(root, exclude);
    let ctx = Ctx::new(&venv, &s, &inv, &dists, &own);
    let verdicts = classify(&ctx);
    select(&ctx, &verdicts)
}

fn kinds(z: &ZipPlan, name: &str) -> Vec<&'static str> {
    z.refused
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.reasons.iter().map(|e| e.kind).collect())
        .unwrap_or_default()
}

fn zipped(z: &ZipPlan) -> Vec<&str> {
    z.dists.iter().map(|d| d.name.as_str()).collect()
}

#[test]
fn each_reason_refuses_with_its_evidence() {
    let t = tempfile::tempdir().unwrap();
    let data = b"import os\nHERE = os.path.dirname(__file__)\nDATA = open(os.path.join(HERE, 'd.txt')).read()\n";
    tree(
        t.path(),
        &[
            (
                "pure",
                &[
                    (
                        "pure/__init__.py",
                        b"from importlib.resources import files\nX = files(__package__).joinpath('data.json').read_text()\n",
                    ),
                    ("pure/data.json", b"{}\n"),
                ],
            ),
            (
                "native",
                &[
                    ("native/__init__.py", b""),
                    ("native/_c.cpython-311-x86_64-linux-gnu.so", b"\x7fELF"),
                ],
            ),
            (
                "elfy",
                &[
                    ("elfy/__init__.py", b""),
                    ("elfy/helper", b"\x7fELF\x02\x01\x01"),
                ],
            ),
            (
                "reader",
                &[("reader/__init__.py", data), ("reader/d.txt", b"x")],
            ),
            (
                "hook",
                &[("hook/__init__.py", b""), ("hook.pth", b"import hook\n")],
            ),
            ("skipped", &[("skipped/__init__.py", b"")]),
            ("kept", &[("kept/__init__.py", b"")]),
        ],
    );
    let z = plan_for(t.path(), &["skipped"]);
    assert_eq!(zipped(&z), ["pure"]);
    assert_eq!(kinds(&z, "native"), ["native"]);
    assert_eq!(
        kinds(&z, "elfy"),
        ["native"],
        "ELF found by magic, not name"
    );
    assert_eq!(kinds(&z, "hook"), ["pth"]);
    assert_eq!(kinds(&z, "skipped"), ["excluded"]);
    assert_eq!(kinds(&z, "kept"), ["keep-package"]);
    let reader = &z
        .refused
        .iter()
        .find(|r| r.name == "reader")
        .unwrap()
        .reasons[0];
    assert_eq!(reader.kind, "file-access");
    assert_eq!(
        reader.path.as_deref(),
        Some(&*format!("{SP}/reader/__init__.py"))
    );
    assert_eq!(reader.line, Some(2));
    assert_eq!(
        reader.code.as_deref(),
        Some("HERE = os.path.dirname(__file__)")
    );
    // The pure one: both files, a top_level.txt (it had none), entries = dir + 2 files + 1 pyc.
    assert_eq!(z.members.len(), 2);
    assert_eq!(z.entries, 4);
    assert_eq!(z.top_level.len(), 1);
    assert_eq!(z.top_level[0].text, "pure\n");
    assert_eq!(
        z.top_level[0].path,
        Path::new(SP).join("pure-1.0.dist-info/top_level.txt")
    );
    assert!(z.pythonpath.ends_with(&format!(
        "{SP}:{}/{SP}/{ARCHIVE}",
        t.path().canonicalize().unwrap().display()
    )));
}

#[test]
fn regular_packages_are_all_or_none_namespaces_may_split() {
    let t = tempfile::tempdir().unwrap();
    tree(
        t.path(),
        &[
            // pkgutil-style: one regular package `ns`, split over two distributions.
            (
                "ns-base",
                &[(
                    "ns/__init__.py",
                    b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
                )],
            ),
            (
                "ns-native",
                &[("ns/fast/__init__.py", b""), ("ns/fast/_x.so", b"\x7fELF")],
            ),
            ("ns-plugin", &[("ns/plugin/__init__.py", b"")]),
            // PEP 420: `pep/` has no __init__.py; its portions may be split.
            ("pep-api", &[("pep/api/__init__.py", b"")]),
            (
                "pep-native",
                &[
                    ("pep/native/__init__.py", b""),
                    ("pep/native/_x.so", b"\x7fELF"),
                ],
            ),
        ],
    );
    let z = plan_for(t.path(), &[]);
    assert_eq!(zipped(&z), ["pep-api"]);
    assert_eq!(kinds(&z, "ns-native"), ["native"]);
    assert_eq!(kinds(&z, "ns-base"), ["shares-package"]);
    assert_eq!(kinds(&z, "ns-plugin"), ["shares-package"]);
    let why = &z
        .refused
        .iter()
        .find(|r| r.name == "ns-plugin")
        .unwrap()
        .reasons[0];
    assert_eq!(why.path.as_deref(), Some(&*format!("{SP}/ns")));
    assert!(why.why.contains("ns-native"), "{}", why.why);
}

#[test]
fn entry_limit_is_refused_below_3_13_with_the_count() {
    let t = tempfile::tempdir().unwrap();
    tree(t.path(), &[("pure", &[("pure/__init__.py", b"")])]);
    let mut z = plan_for(t.path(), &[]);
    z.entries = MAX_ENTRIES_WITHOUT_ZIP64;
    assert!(z.check_entry_limit().is_ok());
    z.entries += 1;
    let e = format!("{:#}", z.check_entry_limit().unwrap_err());
    assert!(
        e.contains("65536 entries") && e.contains("Python 3.11") && e.contains("hint:"),
        "{e}"
    );
    z.python = crate::venv::PythonVersion {
        major: 3,
        minor: 13,
    };
    assert!(z.check_entry_limit().is_ok(), "ZIP64 is read from 3.13 on");
}

#[test]
fn inferred_top_levels_follow_the_python_version() {
    let t = tempfile::tempdir().unwrap();
    tree(
        t.path(),
        &[(
            "d",
            &[
                ("d/__init__.py", b""),
                ("single.py", b""),
                ("d/data.bin", b""),
                ("other/x.txt", b""),
            ],
        )],
    );
    let venv = Venv::discover(t.path(), None).unwrap();
    let inv = Inventory::scan(&venv.root, &venv.site_packages).unwrap();
    let dists = discover(&venv.root, &venv.site_packages, &inv);
    let v = |minor| crate::venv::PythonVersion { major: 3, minor };
    let old: Vec<String> = select::inferred_top_levels(&dists[0], v(11))
        .into_iter()
        .collect();
    assert_eq!(old, ["d", "single"], "only .py files before 3.12");
    let new: Vec<String> = select::inferred_top_levels(&dists[0], v(12))
        .into_iter()
        .collect();
    assert_eq!(
        new,
        ["d", "other", "single"],
        "every file from 3.12, no dotted names"
    );
}

/// A distribution that ships data files is zipped only when it reads them through the loader and
/// names no module's location anywhere (src/archive/reads.rs).
#[test]
fn data_files_need_loader_reads_and_no_location() {
    let t = tempfile::tempdir().unwrap();
    // nbformat: the path is built from a module passed as a parameter, far from the open().
    let param = b"from pathlib import Path\n\n\n\n\ndef schema_path(v):\n    return v.__file__\n\n\n\n\n\ndef load(v):\n    return open(Path(schema_path(v)).with_name('s.json')).read()\n";
    let loader = b"from importlib.resources import files\nS = files(__package__).joinpath('s.json').read_text()\n";
    tree(
        t.path(),
        &[
            (
                "silent",
                &[("silent/__init__.py", b"X = 1\n"), ("silent/s.json", b"{}")],
            ),
            (
                "param",
                &[
                    ("param/__init__.py", loader),
                    ("param/validator.py", param),
                    ("param/s.json", b"{}"),
                ],
            ),
            // No data: a location without a file-system call near it is no evidence.
            (
                "nodata",
                &[
                    ("nodata/__init__.py", b"print(__file__)\n"),
                    ("nodata/py.typed", b""),
                    ("nodata/LICENSE", b"MIT"),
                ],
            ),
            (
                "tzdata",
                &[
                    ("tzdata/__init__.py", b"IANA_VERSION = '2026f'\n"),
                    ("tzdata/zoneinfo/__init__.py", b""),
                    ("tzdata/zoneinfo/UTC", b"TZif2"),
                ],
            ),
        ],
    );
    let z = plan_for(t.path(), &[]);
    assert_eq!(zipped(&z), ["nodata", "tzdata"]);
    assert_eq!(kinds(&z, "silent"), ["data-files"]);
    let silent = &z
        .refused
        .iter()
        .find(|r| r.name == "silent")
        .unwrap()
        .reasons[0];
    assert_eq!(
        silent.path.as_deref(),
        Some(&*format!("{SP}/silent/s.json"))
    );
    assert!(
        silent.why.starts_with("ships 1 data file and"),
        "{}",
        silent.why
    );
    let param = &z
        .refused
        .iter()
        .find(|r| r.name == "param")
        .unwrap()
        .reasons[0];
    assert_eq!(
        (param.kind, param.line, param.code.as_deref()),
        ("file-access", Some(7), Some("return v.__file__"))
    );
    assert!(
        param.why.starts_with("ships 1 data file and names"),
        "{}",
        param.why
    );
}
