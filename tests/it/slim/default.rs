//! The `venvslim` binary on a small hand-made venv (`fixtures/make_fixture_venv.py`).
//!
//! Every test builds a fresh fixture in a temp dir and runs the real binary, then checks the
//! tree it wrote and the report it printed: the input is never touched out of place, junk goes,
//! what the runtime reads stays (checked by running the slimmed venv's own Python), RECORD lists
//! what is left with the right hashes, every option does what its help says, every usage error
//! exits 2 with a `hint:` and writes nothing, and the text output is pinned by insta snapshots.
//! The fixture is small and hand-made so each trap (a test helper the package imports, a
//! sourceless module, symlink loops, hardlinks, a non-UTF-8 name, a FIFO) is there on purpose;
//! `tests/it/real_venvs.rs` covers venvs built by pip.

use crate::util::{
    self, actions, show, slim, slim_venv, unique_bytes, venvslim, Fixture, TestCommand,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Running venvslim
// ---------------------------------------------------------------------------------------------

fn action<'a>(report: &'a Value, path: &str) -> Option<&'a Value> {
    actions(report).iter().find(|a| a["path"] == path)
}

// ---------------------------------------------------------------------------------------------
// Looking at trees
// ---------------------------------------------------------------------------------------------

fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// How much of an entry `tree` describes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Detail {
    /// Kind, mode, and content or link target; bytecode only as "pyc" (it embeds its path).
    Shape,
    /// Shape with the full content of bytecode, and mtimes.
    Content,
    /// Content, plus owner, inode, link count and ctime, which any write, chmod, chown, utime
    /// or (hard)link changes.
    Strict,
}

/// Every entry below `root` (not followed through symlinks), described to `detail`.
fn tree(root: &Path, detail: Detail) -> BTreeMap<PathBuf, String> {
    let mut map = BTreeMap::new();
    for e in WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let e = e.unwrap_or_else(|err| panic!("walk {}: {err}", root.display()));
        let m = e.path().symlink_metadata().unwrap();
        let ft = m.file_type();
        let what = if ft.is_symlink() {
            format!("link -> {:?}", fs::read_link(e.path()).unwrap())
        } else if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_file()
            && detail == Detail::Shape
            && e.path().extension() == Some(OsStr::new("pyc"))
        {
            "file pyc".to_string()
        } else if ft.is_file() {
            format!("file {}", sha256_b64(&fs::read(e.path()).unwrap()))
        } else {
            "other".to_string()
        };
        let mut desc = format!("{what} mode={:o}", m.mode());
        if detail >= Detail::Content {
            desc += &format!(" mtime={}.{}", m.mtime(), m.mtime_nsec());
        }
        if detail == Detail::Strict {
            desc += &format!(
                " uid={} gid={} ino={} nlink={} ctime={}.{}",
                m.uid(),
                m.gid(),
                m.ino(),
                m.nlink(),
                m.ctime(),
                m.ctime_nsec()
            );
        }
        map.insert(e.path().strip_prefix(root).unwrap().to_path_buf(), desc);
    }
    map
}

/// Regular files below `root`.
fn count_files(root: &Path) -> usize {
    tree(root, Detail::Shape)
        .values()
        .filter(|d| d.starts_with("file "))
        .count()
}

/// Differences between two trees, one line each (empty when equal).
fn tree_diff(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let keys: BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k:?}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect()
}

/// Paths (relative to `root`) of every entry, with `/` after directories.
fn listing(root: &Path) -> BTreeSet<String> {
    WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().is_dir() {
                rel + "/"
            } else {
                rel
            }
        })
        .collect()
}

/// Regular files named `*.pyc` below `root`, relative to it.
fn pycs(root: &Path) -> BTreeSet<String> {
    listing(root)
        .into_iter()
        .filter(|p| p.ends_with(".pyc"))
        .collect()
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// PEP 552 flags word of a pyc: 1 = hash-based, unchecked.
fn pyc_flags(path: &Path) -> u32 {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() >= 16,
        "{} is too short for a pyc",
        path.display()
    );
    u32::from_le_bytes(bytes[4..8].try_into().unwrap())
}

/// `base/rel` with `..` resolved lexically; None when it climbs above the root.
fn normalize(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Check RECORD of `dist_info` in the tree at `root`: every row names a file that is there, with
/// the size and sha256 of its bytes; rows without a hash are only RECORD itself and bytecode.
/// Returns the listed paths as written (relative to site-packages).
fn check_record(root: &Path, sp_rel: &Path, dist_info: &str) -> BTreeSet<String> {
    let record = root.join(sp_rel).join(dist_info).join("RECORD");
    let text = fs::read_to_string(&record).unwrap_or_else(|e| panic!("{}: {e}", record.display()));
    let mut listed = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        assert!(
            !line.contains('"'),
            "unexpected quoting in RECORD row {line:?}"
        );
        let fields: Vec<&str> = line.rsplitn(3, ',').collect();
        let [size, hash, path] = fields[..] else {
            panic!("bad RECORD row {line:?}")
        };
        assert!(
            listed.insert(path.to_string()),
            "{path} listed twice in {}",
            record.display()
        );
        let Some(inside) = normalize(sp_rel, path) else {
            // Outside the tree given (`../../../bin/x` in a bare site-packages): not ours to check.
            continue;
        };
        let file = root.join(inside);
        let meta = fs::symlink_metadata(&file)
            .unwrap_or_else(|e| panic!("RECORD lists {path}, which is not in the tree ({e})"));
        if hash.is_empty() {
            assert!(
                path == format!("{dist_info}/RECORD") || path.ends_with(".pyc"),
                "{path} has no hash in RECORD"
            );
            assert_eq!(size, "", "{path}: size without a hash");
            continue;
        }
        assert!(
            meta.is_file(),
            "RECORD hashes {path}, which is not a regular file"
        );
        let bytes = fs::read(&file).unwrap();
        assert_eq!(
            hash,
            format!("sha256={}", sha256_b64(&bytes)),
            "RECORD hash of {path}"
        );
        assert_eq!(size, bytes.len().to_string(), "RECORD size of {path}");
    }
    listed
}

/// Run `code` with the venv's own `bin/pythonX.Y`, isolated and without writing bytecode.
fn python(root: &Path, py: &str, code: &str) -> TestCommand {
    let mut c = util::python(root.join(format!("bin/python{py}")));
    // IMPORT_DEMO checks that this venv, not the one it was copied from, is sys.prefix.
    c.env("EXPECT_PREFIX", root.canonicalize().unwrap())
        .args(["-I", "-B", "-c", code]);
    c
}

fn python_ok(root: &Path, py: &str, code: &str) -> String {
    python(root, py, code).ok().stdout()
}

const IMPORT_DEMO: &str = "\
import os, sys
import demo, demo.core, demo.legacy
assert demo.__version__ == '1.0', demo.__version__
assert sys.prefix == os.environ['EXPECT_PREFIX'], (sys.prefix, os.environ['EXPECT_PREFIX'])
assert demo.__file__.startswith(sys.prefix + '/'), (demo.__file__, sys.prefix)
demo.core.main()
print(demo.legacy.VALUE)
";

const METADATA_OF_DEMO: &str = "\
import importlib.metadata as md
print(md.version('demo'))
print([e.value for e in md.entry_points(group='console_scripts', name='demo')])
print(md.packages_distributions().get('demo'))
";

/// Every pyc in a `__pycache__` of the venv: its magic is this interpreter's, it is
/// unchecked-hash (PEP 552 flags 1) and carries the hash of the source beside it, as
/// `py_compile` would write it. Prints each path.
const CHECK_PYCS: &str = r#"
import importlib.util, pathlib, sys
sp = pathlib.Path(sys.prefix, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages')
for pyc in sorted(sp.rglob('__pycache__/*.pyc')):
    src = pyc.parent.parent / (pyc.name.split('.')[0] + '.py')
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER, (pyc, 'magic')
    assert int.from_bytes(data[4:8], 'little') == 1, (pyc, 'not unchecked-hash')
    assert data[8:16] == importlib.util.source_hash(src.read_bytes()), (pyc, 'hash of another source')
    print(pyc.relative_to(sp))
"#;

// ---------------------------------------------------------------------------------------------
// The input is never modified
// ---------------------------------------------------------------------------------------------

#[test]
fn input_is_never_modified_out_of_place() {
    let fx = Fixture::new("venvslim-cli-");
    let before = tree(&fx.root, Detail::Strict);
    let runs: &[&[&str]] = &[
        &[],
        &["--dry-run"],
        &["--json"],
        &["--dry-run", "--json"],
        &["--bytecode", "compile"],
        &["--bytecode", "keep"],
        &["--bytecode", "strip"],
        &["--bytecode", "sourceless"],
        &["--dist-info", "minimal"],
        &["--dist-info", "keep"],
        &["--dist-info", "licenses"],
        &["--dist-info", "strip"],
        &[
            "--keep-package",
            "demo",
            "--keep",
            "demo/tests/**",
            "--remove",
            "demo/core.py",
            "-v",
        ],
    ];
    for (i, args) in runs.iter().enumerate() {
        let out = fx.path(&format!("out{i}"));
        let output = slim(&fx.root, &out).args(*args).run();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}:\n{}",
            show(&output)
        );
        let diff = tree_diff(&before, &tree(&fx.root, Detail::Strict));
        assert!(
            diff.is_empty(),
            "venvslim slim {args:?} modified the input venv:\n{}",
            diff.join("\n")
        );
        let dry = args.contains(&"--dry-run");
        assert_eq!(
            exists(&out),
            !dry,
            "{args:?}: OUT exists after the run: {}",
            exists(&out)
        );
    }
    // A dry run with no output at all, and a dry run in place, change nothing either.
    for args in [&["--dry-run"][..], &["--dry-run", "--in-place"]] {
        let output = slim_venv(&fx.root).args(args).run();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}:\n{}",
            show(&output)
        );
        let diff = tree_diff(&before, &tree(&fx.root, Detail::Strict));
        assert!(
            diff.is_empty(),
            "venvslim slim {args:?} modified the venv:\n{}",
            diff.join("\n")
        );
    }
    // No staging directory is left behind: beside the venv there are only the real outputs.
    let mut beside: Vec<String> = fs::read_dir(fx.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    beside.sort();
    let mut expected: Vec<String> = (0..runs.len())
        .filter(|i| !runs[*i].contains(&"--dry-run"))
        .map(|i| format!("out{i}"))
        .chain(["venv".to_string()])
        .collect();
    expected.sort();
    assert_eq!(beside, expected);
}

// ---------------------------------------------------------------------------------------------
// The default run
// ---------------------------------------------------------------------------------------------

#[test]
fn default_run_removes_junk_and_keeps_what_the_runtime_reads() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).report();
    let (sp_in, sp_out) = (fx.sp(), out.join(&fx.sp_rel));

    for key in [
        "venv",
        "output",
        "python",
        "dry_run",
        "actions",
        "rescues",
        "failures",
        "by_category",
        "by_dist",
        "compiled",
        "not_compiled",
        "totals",
        "elapsed_ms",
    ] {
        assert!(
            report.get(key).is_some(),
            "JSON report has no `{key}`: {report:#}"
        );
    }
    assert_eq!(report["python"], fx.py.as_str());
    assert_eq!(report["dry_run"], false);

    let gone = [
        "demo/tests/test_x.py",
        "demo/tests/conftest.py",
        "demo/docs",
        "demo/_speedups.c",
        "demo/__init__.pyi",
        "demo/py.typed",
        "demo/locale/fr/LC_MESSAGES/demo.po",
        "demo/static/app.js.map",
        "demo/README.md",
        "pip",
        "pip-23.0.dist-info",
        "demo-1.0.dist-info/INSTALLER",
        "demo-1.0.dist-info/REQUESTED",
        "demo-1.0.dist-info/WHEEL",
    ];
    for p in gone {
        assert!(!exists(&sp_out.join(p)), "{p} should be gone");
    }
    for p in [
        "bin/pip",
        "bin/pip3",
        "bin/activate",
        "bin/activate.csh",
        "bin/activate.fish",
        "bin/Activate.ps1",
    ] {
        assert!(!exists(&out.join(p)), "{p} should be gone");
    }
    let expected_rules = [
        ("demo/tests/test_x.py", "tests.dir"),
        ("demo/tests/conftest.py", "tests.conftest"),
        ("demo/docs/index.rst", "docs.dir"),
        ("demo/README.md", "docs.files"),
        ("demo/_speedups.c", "sources.c"),
        ("demo/__init__.pyi", "stubs.pyi"),
        ("demo/py.typed", "stubs.py-typed"),
        ("demo/locale/fr/LC_MESSAGES/demo.po", "translations.po"),
        ("demo/static/app.js.map", "sourcemaps"),
        (
            &format!("demo/__pycache__/core.{}.pyc", fx.cache_tag()),
            "bytecode.stale",
        ),
        ("pip/__init__.py", "installers.dist"),
        ("pip-23.0.dist-info/METADATA", "installers.dist"),
        ("demo-1.0.dist-info/WHEEL", "dist-info.install-only"),
        ("demo-1.0.dist-info/METADATA", "dist-info.metadata-body"),
        ("demo-1.0.dist-info/RECORD", "dist-info.record"),
    ];
    for (p, rule) in expected_rules {
        let a = action(&report, &fx.rel(p)).unwrap_or_else(|| panic!("no action for {p}"));
        assert_eq!(a["rule"], rule, "{p}: {a}");
    }
    for p in ["bin/pip", "bin/activate", "bin/Activate.ps1"] {
        assert!(
            action(&report, p).is_some_and(|a| a["action"] == "remove"),
            "no removal of {p}"
        );
    }
    assert_eq!(
        action(&report, &fx.rel("pip/__init__.py")).unwrap()["dist"],
        "pip"
    );
    assert_eq!(action(&report, "bin/pip").unwrap()["dist"], "pip");
    for a in actions(&report) {
        let keys: BTreeSet<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        let expected = BTreeSet::from(["path", "action", "category", "rule", "bytes", "dist"]);
        assert_eq!(keys, expected, "`to` only on moves: {a}");
    }
    assert_eq!(
        action(&report, &fx.rel("demo/py.typed")).unwrap()["category"],
        "stubs"
    );

    // The import guard keeps the test helper demo.core imports, and says so.
    let helpers = fx.rel("demo/tests/helpers.py");
    assert!(
        action(&report, &helpers).is_none(),
        "helpers.py has an action"
    );
    let rescue = report["rescues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == helpers.as_str());
    let rescue =
        rescue.unwrap_or_else(|| panic!("helpers.py not in rescues: {:#}", report["rescues"]));
    assert_eq!(rescue["rule"], "tests.dir");
    assert!(
        rescue["reason"].as_str().unwrap().contains("demo/core.py"),
        "{rescue}"
    );

    // Kept byte for byte.
    for p in [
        "demo/tests/helpers.py",
        "demo/locale/fr/LC_MESSAGES/demo.mo",
        "demo/LICENSE",
        "demo/legacy.pyc",
        "demo/static/app.js",
        "demo/core.py",
        "demo-1.0.dist-info/entry_points.txt",
        "demo-1.0.dist-info/top_level.txt",
        "demo-1.0.dist-info/licenses/LICENSE",
    ] {
        assert_eq!(
            fs::read(sp_out.join(p)).ok(),
            fs::read(sp_in.join(p)).ok(),
            "{p} should be kept as it was"
        );
    }
    let weird = OsStr::from_bytes(b"demo/caf\xe9.py");
    assert_eq!(
        fs::read(sp_out.join(weird)).ok(),
        Some(b"X = 1\n".to_vec()),
        "non-UTF-8 file name"
    );
    for p in ["pyvenv.cfg", "bin/demo"] {
        assert_eq!(
            fs::read(out.join(p)).ok(),
            fs::read(fx.root.join(p)).ok(),
            "{p} should be kept as it was"
        );
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().mode();
    assert_eq!(
        mode(&out.join("bin/demo")),
        mode(&fx.root.join("bin/demo")),
        "bin/demo keeps its mode"
    );

    // Symlinks are copied as symlinks, with the same target, dangling or looping or not.
    let links = [
        format!("bin/python{}", fx.py),
        "bin/python".into(),
        "bin/python3".into(),
        "lib64".into(),
        fx.rel("demo/links/dangling"),
        fx.rel("demo/links/loop_a"),
        fx.rel("demo/links/loop_b"),
        fx.rel("demo/links/cycle"),
    ];
    for l in &links {
        let m = fs::symlink_metadata(out.join(l)).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(m.file_type().is_symlink(), "{l} is not a symlink in OUT");
        assert_eq!(
            fs::read_link(out.join(l)).unwrap(),
            fs::read_link(fx.root.join(l)).unwrap(),
            "{l}"
        );
    }

    // The hardlinked pair is still one inode.
    let (a, b) = (
        fs::metadata(sp_out.join("demo/data/a.json")).unwrap(),
        fs::metadata(sp_out.join("demo/data/b.json")).unwrap(),
    );
    assert_eq!(
        (a.dev(), a.ino()),
        (b.dev(), b.ino()),
        "demo/data/a.json and b.json are no longer hardlinked"
    );
    assert_eq!(a.nlink(), 2);

    // METADATA keeps its header block only; RECORD lists exactly what is left, with hashes.
    let meta_in = fs::read_to_string(sp_in.join("demo-1.0.dist-info/METADATA")).unwrap();
    let header = format!("{}\n", meta_in.split("\n\n").next().unwrap());
    assert_eq!(
        fs::read_to_string(sp_out.join("demo-1.0.dist-info/METADATA")).unwrap(),
        header
    );
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    let mut left: BTreeSet<String> = listing(&sp_out)
        .into_iter()
        .filter(|p| p.starts_with("demo/") || p.starts_with("demo-1.0.dist-info/"))
        .filter(|p| !p.ends_with('/') && !p.contains("/links/") && !p.contains('\u{fffd}'))
        .collect();
    left.insert("../../../bin/demo".into());
    assert_eq!(listed, left, "RECORD should list exactly the files left");

    // Bytecode: every kept source compiled as an unchecked-hash pyc, by the venv's interpreter.
    let tag = fx.cache_tag();
    let expected_pycs: BTreeSet<String> = [
        format!("demo/__pycache__/__init__.{tag}.pyc"),
        format!("demo/__pycache__/core.{tag}.pyc"),
        format!("demo/tests/__pycache__/__init__.{tag}.pyc"),
        format!("demo/tests/__pycache__/helpers.{tag}.pyc"),
        "demo/legacy.pyc".into(),
    ]
    .into();
    assert_eq!(pycs(&sp_out), expected_pycs);
    let magic = fs::read(sp_in.join("demo/legacy.pyc")).unwrap()[..4].to_vec();
    for p in expected_pycs.iter().filter(|p| p.contains("__pycache__")) {
        assert_eq!(
            pyc_flags(&sp_out.join(p)),
            1,
            "{p} is not an unchecked-hash pyc"
        );
        assert_eq!(
            fs::read(sp_out.join(p)).unwrap()[..4],
            magic[..],
            "{p}: magic of another Python"
        );
    }
    assert_eq!(report["compiled"], 4);

    // Totals add up to what is on disk.
    let totals = &report["totals"];
    assert_eq!(totals["before_files"], count_files(&fx.root) as u64);
    assert_eq!(totals["after_files"], count_files(&out) as u64);
    assert_eq!(
        totals["before_bytes"],
        unique_bytes(&fx.root),
        "hardlinks count once"
    );
    assert_eq!(totals["after_bytes"], unique_bytes(&out));

    let checked = python_ok(&out, &fx.py, CHECK_PYCS);
    assert_eq!(checked.lines().count(), 4, "{checked}");

    // The slimmed venv runs: imports, the rescued helper, the sourceless module, metadata.
    let stdout = python_ok(&out, &fx.py, IMPORT_DEMO);
    assert_eq!(stdout, "hello world\n42\n");
    let stdout = python_ok(&out, &fx.py, METADATA_OF_DEMO);
    assert_eq!(stdout, "1.0\n['demo.core:main']\n['demo']\n");
}

#[test]
fn dry_run_json_lists_the_actions_of_the_real_run_and_writes_nothing() {
    let fx = Fixture::new("venvslim-cli-");
    let (dry_out, real_out) = (fx.path("dry"), fx.path("real"));
    let before = tree(fx.tmp.path(), Detail::Strict);
    let dry = slim(&fx.root, &dry_out).args(["--dry-run"]).report();
    let diff = tree_diff(&before, &tree(fx.tmp.path(), Detail::Strict));
    assert!(
        diff.is_empty(),
        "a dry run wrote something:\n{}",
        diff.join("\n")
    );
    let real = slim(&fx.root, &real_out).report();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(real["dry_run"], false);
    assert!(!actions(&dry).is_empty());
    assert_eq!(dry["actions"], real["actions"]);
    assert_eq!(dry["rescues"], real["rescues"]);
    assert_eq!(dry["by_category"], real["by_category"]);
    assert_eq!(dry["compiled"], real["compiled"]);
    assert!(!exists(&dry_out));
}

// ---------------------------------------------------------------------------------------------
// --bytecode
// ---------------------------------------------------------------------------------------------

#[test]
fn bytecode_strip_leaves_only_the_sourceless_module() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "strip"]).report();
    let sp_out = out.join(&fx.sp_rel);
    assert_eq!(
        pycs(&sp_out),
        BTreeSet::from(["demo/legacy.pyc".to_string()])
    );
    assert!(
        !listing(&out).iter().any(|p| p.contains("__pycache__")),
        "a __pycache__ is left"
    );
    let stale = format!("demo/__pycache__/core.{}.pyc", fx.cache_tag());
    assert_eq!(
        action(&report, &fx.rel(&stale)).unwrap()["rule"],
        "bytecode.strip"
    );
    assert_eq!(report["compiled"], 0);
    check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
}

#[test]
fn bytecode_keep_leaves_pycs_untouched() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    let (sp_in, sp_out) = (fx.sp(), out.join(&fx.sp_rel));
    let stale = format!("demo/__pycache__/core.{}.pyc", fx.cache_tag());
    let fresh = format!("demo/__pycache__/__init__.{}.pyc", fx.cache_tag());
    let expected = [stale.clone(), fresh.clone(), "demo/legacy.pyc".to_string()];
    assert_eq!(pycs(&sp_out), BTreeSet::from(expected.clone()));
    for p in &expected {
        assert_eq!(
            fs::read(sp_out.join(p)).unwrap(),
            fs::read(sp_in.join(p)).unwrap(),
            "{p}"
        );
        assert!(action(&report, &fx.rel(p)).is_none(), "{p} has an action");
    }
    assert_eq!(
        pyc_flags(&sp_out.join(&stale)),
        0,
        "the stale pip pyc is a timestamp pyc"
    );
    assert!(action(&report, &fx.rel(&stale)).is_none());
    assert_eq!(report["compiled"], 0);
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert!(
        listed.contains(&stale),
        "the kept pyc is still listed with its hash"
    );
}

/// With `--bytecode keep` a pyc shares its source's fate: a top-level conftest's pyc goes with
/// conftest.py (no orphan), and an allowlisted module under a tests/ directory keeps its pyc
/// (or a read-only start-up recompiles it).
#[test]
fn bytecode_keep_pycs_follow_their_sources() {
    let fx = Fixture::new("venvslim-cli-");
    let tag = fx.cache_tag();
    let sp = fx.sp();
    let files = [
        ("demo/conftest.py", "import pytest\n".to_string()),
        (
            &*format!("demo/__pycache__/conftest.{tag}.pyc"),
            "pyc".to_string(),
        ),
        ("numpy/_core/tests/_natype.py", "pd_NA = None\n".to_string()),
        (
            &*format!("numpy/_core/tests/__pycache__/_natype.{tag}.pyc"),
            "pyc".to_string(),
        ),
        ("numpy/_core/tests/test_a.py", "\n".to_string()),
    ];
    for (rel, body) in &files {
        let p = sp.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    let sp_out = out.join(&fx.sp_rel);
    let conftest_pyc = format!("demo/__pycache__/conftest.{tag}.pyc");
    assert!(!exists(&sp_out.join("demo/conftest.py")));
    assert!(
        !exists(&sp_out.join(&conftest_pyc)),
        "orphan conftest pyc left"
    );
    let a = action(&report, &fx.rel(&conftest_pyc)).expect("conftest pyc has an action");
    assert_eq!(a["rule"], "tests.conftest");
    assert!(exists(&sp_out.join("numpy/_core/tests/_natype.py")));
    assert!(
        exists(&sp_out.join(format!("numpy/_core/tests/__pycache__/_natype.{tag}.pyc"))),
        "the allowlisted module lost its pyc"
    );
    assert!(!exists(&sp_out.join("numpy/_core/tests/test_a.py")));
}

#[test]
fn bytecode_sourceless_ships_pycs_beside_where_sources_were() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--bytecode", "sourceless"])
        .report();
    let sp_out = out.join(&fx.sp_rel);
    for m in [
        "demo/__init__",
        "demo/core",
        "demo/tests/__init__",
        "demo/tests/helpers",
    ] {
        assert!(
            !exists(&sp_out.join(format!("{m}.py"))),
            "{m}.py should be gone"
        );
        assert_eq!(pyc_flags(&sp_out.join(format!("{m}.pyc"))), 1, "{m}.pyc");
    }
    let core = action(&report, &fx.rel("demo/core.py")).expect("action for demo/core.py");
    assert_eq!(core["rule"], "bytecode.sourceless");
    assert!(
        !listing(&out).iter().any(|p| p.contains("__pycache__")),
        "a __pycache__ is left"
    );
    assert_eq!(
        fs::read(sp_out.join("demo/legacy.pyc")).unwrap(),
        fs::read(fx.sp().join("demo/legacy.pyc")).unwrap()
    );
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert!(
        listed.contains("demo/core.pyc") && !listed.contains("demo/core.py"),
        "{listed:?}"
    );
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
    assert_eq!(
        python_ok(&out, &fx.py, METADATA_OF_DEMO),
        "1.0\n['demo.core:main']\n['demo']\n"
    );
}

// ---------------------------------------------------------------------------------------------
// --dist-info
// ---------------------------------------------------------------------------------------------

#[test]
fn dist_info_strip_moves_licences_out() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--dist-info", "strip"]).report();
    let sp_out = out.join(&fx.sp_rel);
    let left: Vec<String> = listing(&sp_out)
        .into_iter()
        .filter(|p| p.contains(".dist-info"))
        .collect();
    assert!(left.is_empty(), "dist-info left: {left:?}");
    let moved = out.join("licenses/demo-1.0/licenses/LICENSE");
    assert_eq!(
        fs::read(&moved).ok(),
        fs::read(fx.sp().join("demo-1.0.dist-info/licenses/LICENSE")).ok()
    );
    let a = action(&report, &fx.rel("demo-1.0.dist-info/licenses/LICENSE"))
        .expect("an action for the licence");
    assert_eq!(a["action"], "move");
    assert_eq!(a["to"], "licenses/demo-1.0/licenses/LICENSE");
    assert_eq!(a["rule"], "dist-info.strip");
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
}

#[test]
fn dist_info_licenses_keeps_metadata_header_and_licences() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    slim(&fx.root, &out)
        .args(["--dist-info", "licenses"])
        .report();
    let di = out.join(&fx.sp_rel).join("demo-1.0.dist-info");
    assert_eq!(
        listing(&di),
        BTreeSet::from([
            "METADATA".into(),
            "licenses/".into(),
            "licenses/LICENSE".into()
        ])
    );
    let meta = fs::read_to_string(di.join("METADATA")).unwrap();
    assert!(
        meta.starts_with("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
            && !meta.contains("long description"),
        "{meta}"
    );
    assert_eq!(
        python_ok(
            &out,
            &fx.py,
            "import importlib.metadata as md; print(md.version('demo'))"
        ),
        "1.0\n"
    );
}

#[test]
fn dist_info_keep_keeps_every_file_as_it_was() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--dist-info", "keep"]).report();
    let di = fx.sp_rel.join("demo-1.0.dist-info");
    let diff = tree_diff(
        &tree(&fx.root.join(&di), Detail::Content),
        &tree(&out.join(&di), Detail::Content),
    );
    assert!(
        diff.is_empty(),
        "--dist-info keep changed the dist-info:\n{}",
        diff.join("\n")
    );
    assert!(
        !actions(&report)
            .iter()
            .any(|a| a["category"] == "dist-info"),
        "dist-info actions with keep"
    );
}

// ---------------------------------------------------------------------------------------------
// --keep, --remove, --keep-package, [tool.venvslim]
// ---------------------------------------------------------------------------------------------

#[test]
fn keep_glob_protects_files_and_wins_over_remove() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let args = [
        "--keep",
        "demo/tests/**",
        "--keep",
        "demo/static",
        "--keep",
        "demo/README.md",
        "--remove",
        "demo/README.md",
    ];
    let report = slim(&fx.root, &out).args(args).report();
    let sp_out = out.join(&fx.sp_rel);
    for p in [
        "demo/tests/test_x.py",
        "demo/tests/conftest.py",
        "demo/tests/helpers.py",
        "demo/static/app.js.map",
        "demo/README.md",
    ] {
        assert_eq!(
            fs::read(sp_out.join(p)).ok(),
            fs::read(fx.sp().join(p)).ok(),
            "{p} should be kept"
        );
        assert!(action(&report, &fx.rel(p)).is_none(), "{p} has an action");
    }
    assert!(
        !exists(&sp_out.join("demo/docs")),
        "--keep of one path keeps nothing else"
    );
}

#[test]
fn remove_glob_removes_files_and_whole_directories() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--remove", "demo/core.py", "--remove", "demo/static"])
        .report();
    let sp_out = out.join(&fx.sp_rel);
    for p in ["demo/core.py", "demo/static/app.js", "demo/static"] {
        assert!(!exists(&sp_out.join(p)), "{p} should be gone");
    }
    for p in ["demo/core.py", "demo/static/app.js"] {
        let a = action(&report, &fx.rel(p)).unwrap_or_else(|| panic!("no action for {p}"));
        assert_eq!(
            (a["rule"].as_str(), a["category"].as_str()),
            (Some("user.remove"), Some("user")),
            "{p}"
        );
    }
    // With demo/core.py gone nothing imports the test helper: the guard no longer keeps it.
    assert!(!exists(&sp_out.join("demo/tests/helpers.py")));
    assert_eq!(
        report["rescues"].as_array().map(|r| r
            .iter()
            .any(|r| r["path"].as_str().unwrap().ends_with("helpers.py"))),
        Some(false)
    );
    let listed = check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert!(!listed.contains("demo/core.py"));
}

#[test]
fn keep_package_with_matching_specifier_leaves_the_distribution_untouched() {
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out)
        .args(["--keep-package", "demo>=1"])
        .report();
    for sub in [fx.sp_rel.join("demo"), fx.sp_rel.join("demo-1.0.dist-info")] {
        let diff = tree_diff(
            &tree(&fx.root.join(&sub), Detail::Content),
            &tree(&out.join(&sub), Detail::Content),
        );
        assert!(
            diff.is_empty(),
            "--keep-package demo>=1 changed {}:\n{}",
            sub.display(),
            diff.join("\n")
        );
    }
    assert_eq!(
        fs::read(out.join("bin/demo")).ok(),
        fs::read(fx.root.join("bin/demo")).ok()
    );
    assert!(
        !actions(&report).iter().any(|a| a["dist"] == "demo"),
        "actions on demo: {:#}",
        report["actions"]
    );
    assert!(
        !exists(&out.join(&fx.sp_rel).join("pip")),
        "other distributions are still slimmed"
    );
}

#[test]
fn keep_package_with_other_versions_does_not_match() {
    let fx = Fixture::new("venvslim-cli-");
    let default = slim(&fx.root, &fx.path("default")).report();
    let report = slim(&fx.root, &fx.path("out"))
        .args(["--keep-package", "demo<1"])
        .report();
    assert_eq!(report["actions"], default["actions"]);
    assert!(!exists(
        &fx.path("out").join(&fx.sp_rel).join("demo/tests/test_x.py")
    ));
}

#[test]
fn config_file_tool_venvslim_is_read_and_flags_win() {
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
    let cwd = fx.path("project");
    fs::create_dir(&cwd).unwrap();
    let (root, out) = (fx.root.to_str().unwrap(), fx.path("out"));
    let args = ["slim", root, "-o", out.to_str().unwrap(), "--json"];
    // A pyproject.toml without [tool.venvslim] is not an error: it is not ours.
    fs::write(cwd.join("pyproject.toml"), "[project]\nname = \"app\"\n").unwrap();
    let output = venvslim().current_dir(&cwd).args(args).run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
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
    let output = venvslim()
        .current_dir(&cwd)
        .args(["slim", root, "-o", out2.to_str().unwrap()])
        .run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert_eq!(
        pyc_flags(&out2.join(&fx.sp_rel).join(&stale)),
        0,
        "./pyproject.toml says keep"
    );
}

#[test]
fn config_file_with_unknown_key_is_a_usage_error_naming_it() {
    let fx = Fixture::new("venvslim-cli-");
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

// ---------------------------------------------------------------------------------------------
// --in-place
// ---------------------------------------------------------------------------------------------

#[test]
fn in_place_gives_the_same_tree_as_out_of_place() {
    let (a, b) = (Fixture::new("venvslim-cli-"), Fixture::new("venvslim-cli-"));
    let out = a.path("out");
    let report_a = slim(&a.root, &out).report();
    let report_b = slim_venv(&b.root).args(["--in-place"]).report();
    assert_eq!(report_a["actions"], report_b["actions"]);
    assert_eq!(
        listing(&out),
        listing(&b.root),
        "in place and out of place leave different files"
    );
    // Same contents too, except bytecode, which embeds the path of its source.
    let diff = tree_diff(&tree(&out, Detail::Shape), &tree(&b.root, Detail::Shape));
    assert!(
        diff.is_empty(),
        "in place and out of place differ:\n{}",
        diff.join("\n")
    );
    let sp = b.root.join(&b.sp_rel);
    let (x, y) = (
        fs::metadata(sp.join("demo/data/a.json")).unwrap(),
        fs::metadata(sp.join("demo/data/b.json")).unwrap(),
    );
    assert_eq!(
        x.ino(),
        y.ino(),
        "in place: the hardlinked pair is still one inode"
    );
    check_record(&b.root, &b.sp_rel, "demo-1.0.dist-info");
    assert_eq!(python_ok(&b.root, &b.py, CHECK_PYCS).lines().count(), 4);
    assert_eq!(python_ok(&b.root, &b.py, IMPORT_DEMO), "hello world\n42\n");
}

// ---------------------------------------------------------------------------------------------
// Usage errors: exit 2, `error:` naming the culprit, a `hint:`, nothing written
// ---------------------------------------------------------------------------------------------

/// Run venvslim with `args`, expect exit 2, an `error:` first line and a `hint:` line, and no
/// change anywhere in the fixture's temp dir. Returns stderr.
fn expect_usage_error(fx: &Fixture, args: &[&str]) -> String {
    let before = tree(fx.tmp.path(), Detail::Strict);
    let output = venvslim().args(args).run();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}:\n{}",
        show(&output)
    );
    assert!(
        output.stdout.is_empty(),
        "{args:?}: printed a report:\n{}",
        show(&output)
    );
    assert!(
        stderr.starts_with("error:"),
        "{args:?}: stderr does not start with `error:`:\n{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("hint:")),
        "{args:?}: no `hint:` line:\n{stderr}"
    );
    let diff = tree_diff(&before, &tree(fx.tmp.path(), Detail::Strict));
    assert!(
        diff.is_empty(),
        "{args:?} wrote something:\n{}",
        diff.join("\n")
    );
    stderr
}

#[test]
fn error_missing_venv() {
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
    let out = fx.path("out");
    fs::create_dir(&out).unwrap();
    slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    assert!(out.join("pyvenv.cfg").is_file());
}

#[test]
fn error_output_inside_venv() {
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
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
    let fx = Fixture::new("venvslim-cli-");
    let stderr = expect_usage_error(&fx, &["slim", fx.root.to_str().unwrap()]);
    assert!(
        stderr.contains("-o") || stderr.contains("--output"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Per-file failures and bare site-packages
// ---------------------------------------------------------------------------------------------

#[test]
/// A FIFO is not copied: a reported skip (issue 11: FIFOs and devices stay what they are), not
/// a failure, since out of place a failure now stops the whole run.
fn fifo_is_a_reported_skip_and_the_rest_is_done() {
    let fx = Fixture::new("venvslim-cli-");
    let fifo = fx.sp().join("demo/data/pipe");
    TestCommand::new("mkfifo").arg(&fifo).ok();
    let before = tree(&fx.root, Detail::Strict);
    let out = fx.path("out");
    let output = slim(&fx.root, &out).args(["--json"]).run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    let failures = report["skipped"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(
        failures[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("site-packages/demo/data/pipe"),
        "{failures:#?}"
    );
    assert!(!failures[0]["error"].as_str().unwrap().is_empty());
    assert!(
        tree_diff(&before, &tree(&fx.root, Detail::Strict)).is_empty(),
        "the input was modified"
    );
    // Everything else was done.
    let sp_out = out.join(&fx.sp_rel);
    assert!(!exists(&sp_out.join("demo/data/pipe")));
    assert!(
        !exists(&sp_out.join("demo/tests/test_x.py"))
            && exists(&sp_out.join("demo/tests/helpers.py"))
    );
    assert!(exists(&sp_out.join("demo/data/a.json")) && !exists(&sp_out.join("pip")));
    assert_eq!(
        pyc_flags(&sp_out.join(format!("demo/__pycache__/core.{}.pyc", fx.cache_tag()))),
        1
    );
    check_record(&out, &fx.sp_rel, "demo-1.0.dist-info");
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
    // The text report lists it too.
    let output = slim(&fx.root, &fx.path("out2"))
        .args(["--bytecode", "keep"])
        .run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("demo/data/pipe"),
        "{}",
        show(&output)
    );
    // OUT is published and no staging directory is left beside it.
    let mut beside: Vec<String> = fs::read_dir(fx.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    beside.sort();
    assert_eq!(beside, ["out", "out2", "venv"]);
}

#[test]
fn bare_site_packages_needs_python_version() {
    let fx = Fixture::new("venvslim-cli-");
    let sp = fx.sp();
    let out = fx.path("out");
    let stderr = expect_usage_error(
        &fx,
        &["slim", sp.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    assert!(stderr.contains("--python-version"), "{stderr}");
    assert!(stderr.contains(sp.to_str().unwrap()), "{stderr}");

    let before = tree(&fx.root, Detail::Strict);
    let report = slim(&sp, &out)
        .args(["--python-version", &fx.py, "--bytecode", "strip"])
        .report();
    assert!(
        tree_diff(&before, &tree(&fx.root, Detail::Strict)).is_empty(),
        "the input was modified"
    );
    assert_eq!(report["python"], fx.py.as_str());
    assert!(
        action(&report, "demo/tests/test_x.py").is_some(),
        "actions are relative to the tree given"
    );
    assert_eq!(
        fs::read(out.join("demo/core.py")).ok(),
        fs::read(sp.join("demo/core.py")).ok()
    );
    assert!(
        exists(&out.join("demo/tests/helpers.py")),
        "the import guard works in a bare tree"
    );
    for p in ["demo/tests/test_x.py", "demo/README.md", "pip"] {
        assert!(!exists(&out.join(p)), "{p} should be gone");
    }
    assert_eq!(pycs(&out), BTreeSet::from(["demo/legacy.pyc".to_string()]));
    check_record(&out, Path::new(""), "demo-1.0.dist-info");
}

// ---------------------------------------------------------------------------------------------
// Paths, hardlinks, totals, the interpreter
// ---------------------------------------------------------------------------------------------

#[test]
fn relative_venv_and_output_paths() {
    let fx = Fixture::new("venvslim-cli-");
    let args = ["slim", "venv", "-o", "out", "--bytecode", "keep", "--json"];
    let output = venvslim().current_dir(fx.tmp.path()).args(args).run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let venv = report["venv"].as_str().unwrap();
    assert!(
        Path::new(venv).is_absolute() && venv.ends_with("/venv"),
        "{venv}"
    );
    assert!(fx.path("out/pyvenv.cfg").is_file());
    assert!(!exists(
        &fx.path("out").join(&fx.sp_rel).join("demo/tests/test_x.py")
    ));
    // Inside the venv however it is spelled.
    let output = venvslim()
        .current_dir(fx.tmp.path())
        .args(["slim", "venv", "-o", "venv/../venv/slim"])
        .run();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(!exists(&fx.root.join("slim")));
}

#[test]
fn in_place_never_edits_through_hardlinks_into_a_package_cache() {
    let fx = Fixture::new("venvslim-cli-");
    // uv installs by hardlinking from its cache: the cache must come out as it went in.
    let cache = fx.path("cache");
    fs::create_dir(&cache).unwrap();
    let linked = [
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/RECORD",
        "demo/core.py",
        "demo/tests/test_x.py",
    ];
    for (i, p) in linked.iter().enumerate() {
        fs::hard_link(fx.sp().join(p), cache.join(i.to_string())).unwrap();
    }
    let before = tree(&cache, Detail::Content);
    slim_venv(&fx.root).args(["--in-place"]).report();
    let diff = tree_diff(&before, &tree(&cache, Detail::Content));
    assert!(
        diff.is_empty(),
        "--in-place wrote through a hardlink:\n{}",
        diff.join("\n")
    );
    let meta = fs::read_to_string(fx.sp().join("demo-1.0.dist-info/METADATA")).unwrap();
    assert!(
        !meta.contains("long description"),
        "METADATA was not rewritten in the venv"
    );
    assert!(!exists(&fx.sp().join("demo/tests/test_x.py")));
    check_record(&fx.root, &fx.sp_rel, "demo-1.0.dist-info");
}

#[test]
fn removing_one_link_of_a_hardlinked_file_saves_no_bytes() {
    let fx = Fixture::new("venvslim-cli-");
    // demo/README.md (removed by docs.files) and demo/static/notes.md (kept) are one inode,
    // and README.md comes first in path order.
    let (readme, notes) = (
        fx.sp().join("demo/README.md"),
        fx.sp().join("demo/static/notes.md"),
    );
    fs::hard_link(&readme, &notes).unwrap();
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    assert!(exists(&out.join(&fx.sp_rel).join("demo/static/notes.md")));
    let a = action(&report, &fx.rel("demo/README.md")).expect("README.md is removed");
    assert_eq!(
        a["bytes"], 0,
        "its inode stays as demo/static/notes.md: nothing is saved"
    );
    assert_eq!(
        report["by_category"]["docs"]["bytes"], 26,
        "only docs/index.rst frees bytes"
    );
}

#[test]
fn dry_run_totals_are_the_real_run_totals_when_nothing_is_compiled() {
    let fx = Fixture::new("venvslim-cli-");
    let dry = slim_venv(&fx.root)
        .args(["--dry-run", "--bytecode", "keep"])
        .report();
    let real = slim(&fx.root, &fx.path("out"))
        .args(["--bytecode", "keep"])
        .report();
    assert_eq!(real["totals"]["after_bytes"], unique_bytes(&fx.path("out")));
    assert_eq!(
        dry["totals"], real["totals"],
        "the dry run's `after` is not what the run leaves"
    );
}

#[test]
fn error_broken_interpreter_needs_bytecode_keep() {
    let fx = Fixture::new("venvslim-cli-");
    let py = fx.root.join(format!("bin/python{}", fx.py));
    fs::remove_file(&py).unwrap();
    fs::write(&py, "#!/bin/sh\necho 'this python is broken' >&2\nexit 3\n").unwrap();
    fs::set_permissions(&py, fs::Permissions::from_mode(0o755)).unwrap();
    let out = fx.path("out");
    let root = fx.root.to_str().unwrap();
    let stderr = expect_usage_error(&fx, &["slim", root, "-o", out.to_str().unwrap()]);
    let name = format!("bin/python{}", fx.py);
    assert!(
        stderr.contains(&name) && stderr.contains("--bytecode keep"),
        "{stderr}"
    );
    let stderr = expect_usage_error(
        &fx,
        &[
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--bytecode",
            "sourceless",
        ],
    );
    assert!(stderr.contains(&name), "{stderr}");
    // keep and strip never run Python.
    slim(&fx.root, &out).args(["--bytecode", "keep"]).report();
    slim(&fx.root, &fx.path("out2"))
        .args(["--bytecode", "strip"])
        .report();
    assert_eq!(fs::read(out.join(&name)).unwrap(), fs::read(&py).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Snapshots: text output is a contract
// ---------------------------------------------------------------------------------------------

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
    let fx = Fixture::new("venvslim-cli-");
    let output = slim(&fx.root, &fx.path("out")).args(["--dry-run"]).run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    insta::assert_snapshot!(
        "dry_run_text",
        redact(&String::from_utf8(output.output.stdout).unwrap(), &fx)
    );
}

#[test]
fn snapshot_dry_run_verbose_text() {
    let fx = Fixture::new("venvslim-cli-");
    let output = slim_venv(&fx.root).args(["-n", "-v"]).run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    insta::assert_snapshot!(
        "dry_run_verbose_text",
        redact(&String::from_utf8(output.output.stdout).unwrap(), &fx)
    );
}

#[test]
fn snapshot_dry_run_json() {
    let fx = Fixture::new("venvslim-cli-");
    let mut report = slim(&fx.root, &fx.path("out")).args(["--dry-run"]).report();
    report["venv"] = "[VENV]".into();
    report["output"] = "[OUT]".into();
    report["elapsed_ms"] = "[ELAPSED]".into();
    insta::assert_json_snapshot!("dry_run_json", report);
}

#[test]
fn snapshot_rules() {
    let output = venvslim().args(["rules"]).run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
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

// ---------------------------------------------------------------------------------------------
// Hand-off keys in [tool.venvslim]
// ---------------------------------------------------------------------------------------------

/// Every mtime below `root` (lstat), as a set.
fn mtimes(root: &Path) -> BTreeSet<i64> {
    WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap().path().symlink_metadata().unwrap().mtime())
        .collect()
}

#[test]
fn config_hand_off_keys_take_effect_flags_win_and_paths_are_relative_to_the_file() {
    let fx = Fixture::new("venvslim-cli-");
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
    let output = venvslim()
        .current_dir(&cwd)
        .args([
            "slim",
            root,
            "-o",
            out.to_str().unwrap(),
            "--config",
            config_arg,
        ])
        .run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
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
    let output = venvslim()
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
        .run();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
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
    let fx = Fixture::new("venvslim-cli-");
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
