//! `venvslim slim --zip-pure` on a small hand-made venv: the fixture of `tests/it/slim/`
//! (`fixtures/make_fixture_venv.py`, whose Python is the one running the tests) plus one
//! distribution per case: a pure package with data read through importlib.resources, a PEP 420
//! namespace split between a pure and a native distribution, a package that reads a file next to
//! its `__file__`, and a top-level module. Each test runs the real binary and checks the archive
//! (sorted, directory entries, `name.pyc` beside `name.py`, unchecked-hash, co_filename), RECORD,
//! the report, the options, and that the zipped tree imports with its own interpreter.

use crate::util::{python, show, slim, venvslim, Fixture};
use std::fs;
use std::path::Path;

use serde_json::Value;

const ARCHIVE: &str = "_venvslim_pure.zip";

/// Files of one distribution, relative to site-packages, and its name.
pub(crate) fn add_dist(sp: &Path, name: &str, files: &[(&str, &str)]) {
    let di = format!("{name}-1.0.dist-info");
    let mut record = String::new();
    for (rel, body) in files {
        let p = sp.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        record.push_str(&format!("{rel},,\n"));
    }
    fs::create_dir_all(sp.join(&di)).unwrap();
    let meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
    fs::write(sp.join(&di).join("METADATA"), meta).unwrap();
    record.push_str(&format!("{di}/METADATA,,\n{di}/RECORD,,\n"));
    fs::write(sp.join(&di).join("RECORD"), record).unwrap();
}

/// The fixture venv plus one distribution per case (see the module doc).
fn zip_fixture() -> Fixture {
    let fx = Fixture::new("venvslim-zip-");
    let sp = fx.sp();
    add_dist(&sp, "purepkg", &[
            ("purepkg/__init__.py", "from importlib.resources import files\n\ndef greeting():\n    return files(__package__).joinpath('data/greeting.txt').read_text().strip()\n"),
            ("purepkg/sub/__init__.py", ""),
            ("purepkg/sub/mod.py", "VALUE = 42\n"),
            ("purepkg/data/greeting.txt", "hello from the zip\n"),
        ]);
    add_dist(
        &sp,
        "nspure",
        &[("nsp/pure/__init__.py", "NAME = 'pure portion'\n")],
    );
    add_dist(
        &sp,
        "nsnative",
        &[
            ("nsp/native/__init__.py", "NAME = 'native portion'\n"),
            (
                "nsp/native/_speed.cpython-311-x86_64-linux-gnu.so",
                "\x7fELF not really",
            ),
        ],
    );
    add_dist(&sp, "reader", &[(
            "reader/__init__.py",
            "import os\nHERE = os.path.dirname(__file__)\nDATA = open(os.path.join(HERE, 'data.txt')).read()\n",
        ), ("reader/data.txt", "on disk\n")]);
    add_dist(
        &sp,
        "single",
        &[("single.py", "def f():\n    return 'single'\n")],
    );
    fx
}

/// `(name, flags, co_filename)` of every entry, read by the fixture's Python.
fn archive_listing(archive: &Path) -> Vec<String> {
    let code = "import marshal, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist():\n    d = z.read(i) if i.filename.endswith('.pyc') else b''\n    print(i.filename, i.date_time, oct(i.external_attr >> 16), i.compress_type, int.from_bytes(d[4:8], 'little') if d else '-', marshal.loads(d[16:]).co_filename if d else '-')\n";
    python("python3")
        .args(["-c", code])
        .arg(archive)
        .ok()
        .stdout()
        .lines()
        .map(str::to_string)
        .collect()
}

fn names(z: &Value, key: &str) -> Vec<String> {
    z[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn zips_pure_distributions_and_keeps_the_rest_on_disk_with_evidence() {
    let fx = zip_fixture();
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--zip-pure"])
        .arg("--json")
        .json();
    let z = &report["zip"];
    assert_eq!(names(z, "dists"), ["nspure", "purepkg", "single"]);
    assert_eq!(names(z, "refused"), ["demo", "nsnative", "reader"]);
    let reader = &z["refused"][2]["reasons"][0];
    assert_eq!(reader["kind"], "file-access");
    assert_eq!(reader["line"], 2);
    assert_eq!(
        reader["path"],
        format!("{}/reader/__init__.py", fx.sp_rel.display())
    );
    assert_eq!(z["refused"][1]["reasons"][0]["kind"], "native");

    let sp = out.join(&fx.sp_rel);
    let venv_sp = fx.root.canonicalize().unwrap().join(&fx.sp_rel);
    let listing = archive_listing(&sp.join(ARCHIVE));
    let expected_dirs = [
        "nsp/",
        "nsp/pure/",
        "purepkg/",
        "purepkg/data/",
        "purepkg/sub/",
    ];
    for d in expected_dirs {
        assert!(
            listing
                .iter()
                .any(|l| l.starts_with(&format!("{d} (1980, 1, 1, 0, 0, 0) 0o40755 0"))),
            "no entry for {d}: {listing:#?}"
        );
    }
    let entry_names: Vec<&str> = listing
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut sorted = entry_names.clone();
    sorted.sort();
    assert_eq!(entry_names, sorted, "entries are sorted");
    for py in [
        "purepkg/__init__.py",
        "purepkg/sub/mod.py",
        "single.py",
        "nsp/pure/__init__.py",
    ] {
        assert!(entry_names.contains(&py), "{py} missing");
        let pyc = listing
            .iter()
            .find(|l| l.starts_with(&format!("{py}c ")))
            .unwrap_or_else(|| panic!("no {py}c: {listing:#?}"));
        let want = format!(
            "(1980, 1, 1, 0, 0, 0) 0o100644 8 1 {}/{ARCHIVE}/{py}",
            venv_sp.display()
        );
        assert!(pyc.ends_with(&want), "{pyc}\nwant ...{want}");
    }
    assert!(
        !entry_names.iter().any(|n| n.contains("__pycache__")),
        "{entry_names:?}"
    );
    // On disk: no zipped file, the refused ones, every dist-info.
    for gone in ["purepkg", "single.py", "nsp/pure"] {
        assert!(!sp.join(gone).exists(), "{gone} still on disk");
    }
    for kept in [
        "reader/__init__.py",
        "nsp/native/__init__.py",
        "purepkg-1.0.dist-info/METADATA",
        "single-1.0.dist-info/RECORD",
    ] {
        assert!(sp.join(kept).exists(), "{kept} not on disk");
    }
    assert_eq!(
        fs::read_to_string(sp.join("_venvslim_pure.pth")).unwrap(),
        format!("{ARCHIVE}\n")
    );
    // RECORD lists only what is left on disk, and the top_level.txt written for it.
    let record = fs::read_to_string(sp.join("purepkg-1.0.dist-info/RECORD")).unwrap();
    assert!(!record.contains("purepkg/"), "{record}");
    assert!(
        record.contains("purepkg-1.0.dist-info/top_level.txt,sha256="),
        "{record}"
    );
    assert_eq!(
        fs::read_to_string(sp.join("purepkg-1.0.dist-info/top_level.txt")).unwrap(),
        "purepkg\n"
    );
    // The zipped tree works with its own interpreter: data through importlib.resources, a
    // namespace split between the zip and the disk, metadata.
    let code = "import purepkg, purepkg.sub.mod, single, nsp.pure, nsp.native, importlib.metadata as md\n\
                print(purepkg.greeting(), purepkg.sub.mod.VALUE, single.f(), nsp.pure.NAME, nsp.native.NAME)\n\
                print(type(purepkg.__loader__).__name__, md.version('purepkg'), md.packages_distributions()['purepkg'])\n";
    let o = python(out.join("bin/python"))
        .args(["-I", "-B", "-c", code])
        .run();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello from the zip 42 single pure portion native portion\nzipimporter 1.0 ['purepkg']\n"
    );
    let pp = format!("{}:{}/{ARCHIVE}", venv_sp.display(), venv_sp.display());
    assert_eq!(z["pythonpath"], pp.as_str());
}

#[test]
fn same_input_same_archive_and_the_input_is_untouched() {
    let fx = zip_fixture();
    let before = tree_state(&fx.root);
    slim(&fx.root, &fx.path("a"))
        .args(["--zip-pure"])
        .arg("--json")
        .json();
    slim(&fx.root, &fx.path("b"))
        .args(["--zip-pure"])
        .arg("--json")
        .json();
    assert_eq!(tree_state(&fx.root), before, "the input venv changed");
    let read = |o: &str| fs::read(fx.path(o).join(&fx.sp_rel).join(ARCHIVE)).unwrap();
    assert!(read("a") == read("b"), "two runs wrote different archives");
}

fn tree_state(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            format!(
                "{} {} {:?}",
                e.path().display(),
                m.len(),
                m.modified().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn sourceless_exclude_and_dry_run() {
    let fx = zip_fixture();
    let out = fx.path("out");
    let dry = {
        let o = venvslim()
            .args([
                "slim".as_ref(),
                fx.root.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
                "-n".as_ref(),
                "--zip-pure".as_ref(),
                "--zip-exclude".as_ref(),
                "Single".as_ref(),
            ])
            .run();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        assert!(!out.exists(), "a dry run wrote OUT");
        String::from_utf8(o.output.stdout).unwrap()
    };
    assert!(dry.contains("will zip 2 distributions"), "{dry}");
    assert!(
        dry.contains("single 1.0") && dry.contains("named by --zip-exclude"),
        "{dry}"
    );
    assert!(
        dry.contains("reader/__init__.py:2: uses a module's location"),
        "{dry}"
    );
    assert!(dry.contains("    PYTHONPATH="), "{dry}");

    let report = slim(&fx.root, &out)
        .args(["--zip-pure", "--zip-sourceless", "--zip-exclude", "single"])
        .arg("--json")
        .json();
    assert_eq!(names(&report["zip"], "dists"), ["nspure", "purepkg"]);
    let listing = archive_listing(&out.join(&fx.sp_rel).join(ARCHIVE));
    assert!(
        listing
            .iter()
            .any(|l| l.starts_with("purepkg/sub/mod.pyc ")),
        "{listing:#?}"
    );
    assert!(
        !listing
            .iter()
            .any(|l| l.split(' ').next().unwrap().ends_with(".py")),
        "sources in a sourceless zip: {listing:#?}"
    );
    assert!(
        out.join(&fx.sp_rel).join("single.py").exists(),
        "excluded single.py is not on disk"
    );
    let o = python(out.join("bin/python"))
        .args([
            "-I",
            "-B",
            "-c",
            "import purepkg.sub.mod, single; print(purepkg.sub.mod.VALUE, purepkg.greeting())",
        ])
        .run();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout) == "42 hello from the zip\n",
        "{}",
        show(&o)
    );
}

#[test]
fn in_place_and_the_pyproject_key() {
    let fx = zip_fixture();
    fs::write(
        fx.path("pyproject.toml"),
        "[tool.venvslim]\nzip = true\nzip-exclude = [\"nspure\"]\n",
    )
    .unwrap();
    let o = venvslim()
        .current_dir(fx.tmp.path())
        .args([
            "slim".as_ref(),
            fx.root.as_os_str(),
            "--in-place".as_ref(),
            "--json".as_ref(),
        ])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(names(&report["zip"], "dists"), ["purepkg", "single"]);
    let sp = fx.root.join(&fx.sp_rel);
    assert!(
        sp.join(ARCHIVE).is_file()
            && !sp.join("purepkg").exists()
            && sp.join("nsp/pure/__init__.py").exists()
    );
    assert!(
        !fs::read_dir(&sp).unwrap().any(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.starts_with(".") && n.contains("venvslim")
        }),
        "temporary files left in site-packages"
    );
    let o = python(fx.root.join("bin/python"))
        .args([
            "-I",
            "-B",
            "-c",
            "import purepkg, single; print(purepkg.greeting())",
        ])
        .run();
    assert!(o.status.success(), "{}", show(&o));
}

#[test]
fn usage_errors_exit_2_with_a_hint_and_write_nothing() {
    let fx = zip_fixture();
    let out = fx.path("out");
    for args in [
        &["--zip-sourceless"][..],
        &["--zip-exclude", "x"][..],
        &["--zip-pure", "--bytecode", "strip"][..],
        &["--zip-pure", "--bytecode", "keep"][..],
    ] {
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "slim".as_ref(),
            fx.root.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ];
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        let o = venvslim().args(&all).run();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        assert!(err.contains("hint:"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote OUT");
    }
}

#[test]
fn snapshot_zip_dry_run_text() {
    let fx = zip_fixture();
    let o = venvslim()
        .args([
            "slim".as_ref(),
            fx.root.as_os_str(),
            "-n".as_ref(),
            "--zip-pure".as_ref(),
            "--verbose".as_ref(),
        ])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = String::from_utf8(o.output.stdout).unwrap();
    let start = text.find("  will zip").expect("zip section");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    let canonical = fx.root.canonicalize().unwrap();
    let section = text[start..end].replace(canonical.to_str().unwrap(), "[VENV]");
    let section = section.replace(&fx.sp_rel.display().to_string(), "[SP]");
    insta::assert_snapshot!("zip_dry_run_text", section);
}
