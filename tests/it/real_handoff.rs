//! The hand-off to a distroless image, on real venvs built with pip (`tests/venvs/`).
//!
//! A distroless final stage has the tree at another path, its Python at `/usr/bin/python3.11`
//! (Debian 12's, as in gcr.io/distroless/python3-debian12) where the builder had another
//! interpreter, a read-only filesystem and no shell. The first test reproduces that in a private
//! mount namespace: the builder's interpreter and the original venv are hidden under empty
//! tmpfs mounts, the slimmed tree is bind-mounted read-only at its `--prefix`, and the web app
//! (FastAPI on uvicorn, SQLAlchemy) must run from it and import exactly what the original
//! imports, without compiling a single module. The others check that two runs give the same
//! tree (content, modes, mtimes, link targets, hardlink structure), that the SBOM lists every
//! shipped distribution with its version, and measure `--dedupe` on a JupyterLab venv.
//!
//! Linux and root only (`unshare -m` + `mount`); without root each test prints a SKIP note.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::*;
use serde_json::Value;

/// Debian 12's Python: the interpreter gcr.io/distroless/python3-debian12 ships.
pub(crate) const FINAL_PYTHON: &str = "/usr/bin/python3.11";
const MTIME: &str = "1700000000";
const TIMEOUT: Duration = Duration::from_secs(600);

/// An existing directory to hide under a tmpfs inside the namespace, so the tree can live at
/// `<it>/venv` without creating anything on the host.
pub(crate) fn mount_point() -> Option<&'static str> {
    ["/srv", "/mnt", "/opt"]
        .into_iter()
        .find(|d| Path::new(d).is_dir())
}

/// `sys.base_prefix` of the venv's interpreter: the builder's Python installation.
fn builder_prefix(venv: &Path) -> PathBuf {
    let out = python(venv.join("bin/python"))
        .args(["-I", "-c", "import sys; print(sys.base_prefix)"])
        .ok();
    PathBuf::from(out.stdout().trim())
}

/// Run `argv` where each of `hide` is covered by an empty read-only tmpfs, and `tree` is mounted
/// read-only at `<dir>/venv` over a tmpfs on `dir`: the final image, as far as paths go.
pub(crate) fn distroless_run(tree: &Path, dir: &str, hide: &[&Path], argv: &[&str]) -> Run {
    const SCRIPT: &str = r#"set -e
tree="$1"; dir="$2"; shift 2
while [ "$1" != -- ]; do mount -t tmpfs -o ro tmpfs "$1"; shift; done; shift
mount -t tmpfs tmpfs "$dir" && mkdir "$dir/venv"
mount --bind "$tree" "$dir/venv" && mount -o remount,bind,ro "$dir/venv" && mount -o remount,ro "$dir"
exec "$@""#;
    TestCommand::new("unshare")
        .args(["-m", "sh", "-c", SCRIPT, "sh"])
        .arg(tree)
        .arg(dir)
        .args(hide)
        .arg("--")
        .args(argv)
        .current_dir("/")
        .clean_python_env()
        .timeout(TIMEOUT)
        .run()
}

/// Files below `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| fs::read(e.path()).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn web_runs_from_a_distroless_layout_with_another_python() {
    if !require_ro_namespace("web_runs_from_a_distroless_layout_with_another_python") {
        return;
    }
    let (Some(dir), true) = (mount_point(), Path::new(FINAL_PYTHON).exists()) else {
        eprintln!("\n*** SKIP: needs {FINAL_PYTHON} and an existing /srv, /mnt or /opt ***\n");
        return;
    };
    let venv = real_venv("web");
    let canonical = fs::canonicalize(&venv).expect("canonical venv path");
    let builder = builder_prefix(&venv);
    let prefix = format!("{dir}/venv");
    let tmp = scratch("handoff-web-");
    let out = tmp.path().join("slim");
    let report = slim(&venv, &out)
        .args([
            "--prefix",
            &prefix,
            "--python",
            FINAL_PYTHON,
            "--mtime",
            MTIME,
        ])
        .report();

    // Every rewrite is reported: each console script, pyvenv.cfg, the python links.
    let h = &report["handoff"];
    let rewritten: BTreeSet<&str> = h["rewrites"]
        .as_array()
        .expect("rewrites")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    for script in ["bin/uvicorn", "bin/fastapi", "pyvenv.cfg"] {
        assert!(rewritten.contains(script), "{script} not reported: {h:#}");
    }
    for link in ["bin/python", "bin/python3", "bin/python3.11"] {
        let target = fs::read_link(out.join(link)).expect("python link");
        assert_eq!(target, Path::new(FINAL_PYTHON), "{link}");
    }
    let uvicorn = fs::read_to_string(out.join("bin/uvicorn")).expect("bin/uvicorn");
    assert!(
        uvicorn.starts_with(&format!("#!{prefix}/bin/python\n")),
        "{uvicorn}"
    );
    let cfg = fs::read_to_string(out.join("pyvenv.cfg")).expect("pyvenv.cfg");
    assert!(cfg.contains("home = /usr/bin\n"), "{cfg}");
    // Nothing in the tree names the builder's venv any more (scripts, pyvenv.cfg, bytecode).
    for old in [&venv, &canonical] {
        let hits = files_containing(&out, old.as_os_str().as_encoded_bytes());
        assert!(hits.is_empty(), "still naming {}: {hits:?}", old.display());
    }

    // The final image, as far as paths go: no builder Python, no original venv, a read-only tree.
    let hide = [builder.as_path(), canonical.as_path()];
    let probe_py = probe_py();
    let python = format!("{prefix}/bin/python");
    let shown = distroless_run(
        &out,
        dir,
        &hide,
        &["sh", "-c", &format!("test ! -e '{}' && test ! -e '{}/pyvenv.cfg' && {python} -I -c 'import sys; print(sys.version.split()[0], sys.prefix, sys.base_prefix)'", builder.join("bin").display(), canonical.display())],
    );
    assert!(shown.status.success(), "{}", show(&shown));
    let line = String::from_utf8_lossy(&shown.stdout).trim().to_string();
    eprintln!("final-image interpreter: {line}");
    assert!(line.ends_with(&format!("{prefix} /usr")), "{line}");

    // The app: a FastAPI service on uvicorn + uvloop + SQLAlchemy, one request at a time.
    let check = repo_root().join("tests/it/util/checks/web.py");
    let app_tmp = tmp.path().join("app-tmp");
    fs::create_dir_all(&app_tmp).expect("app tmp");
    let app = distroless_run(
        &out,
        dir,
        &hide,
        &[&python, "-I", "-B", path_str(&check), path_str(&app_tmp)],
    );
    assert!(
        app.status.success(),
        "web app in the distroless layout:\n{}",
        show(&app)
    );
    let before = ro_run(
        &venv,
        &venv,
        &[
            path_str(&venv.join("bin/python")),
            "-I",
            "-B",
            path_str(&check),
            path_str(&app_tmp),
        ],
    );
    assert!(
        before.status.success(),
        "web app on the original:\n{}",
        show(&before)
    );
    assert_eq!(
        String::from_utf8_lossy(&app.stdout),
        String::from_utf8_lossy(&before.stdout)
    );
    // A console script through its rewritten shebang.
    let cli = distroless_run(
        &out,
        dir,
        &hide,
        &[&format!("{prefix}/bin/uvicorn"), "--version"],
    );
    assert!(cli.status.success(), "{}", show(&cli));
    eprintln!("{}", String::from_utf8_lossy(&cli.stdout).trim());

    // Every module that imported before imports now, with no compile and the new co_filename.
    let after = distroless_run(
        &out,
        dir,
        &hide,
        &[&python, "-I", "-B", path_str(&probe_py), &prefix, "--deep"],
    );
    assert!(after.status.success(), "probe:\n{}", show(&after));
    let after: Value = serde_json::from_slice(&after.stdout).expect("probe JSON");
    let before = probe(&venv, &venv);
    let removed = removed_paths(&report);
    let dropped: BTreeSet<String> = ["pip", "setuptools", "wheel"].map(String::from).into();
    let problems = compare_probes(
        &before,
        &after,
        &|p| is_removed(&removed, p),
        &dropped,
        true,
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!(
        "distroless layout: {} top-level modules, {} compile events",
        after["top_level"].as_object().map_or(0, |m| m.len()),
        after["compile_events"]
    );
}

/// Everything that decides a layer's digest: path, type, mode, owner, mtime, content or link
/// target, and which paths share an inode.
fn layer_fingerprint(root: &Path) -> (String, Vec<(String, usize)>) {
    let mut first_path: HashMap<(u64, u64), usize> = HashMap::new();
    let mut links = Vec::new();
    for (n, e) in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .enumerate()
    {
        let m = e.path().symlink_metadata().expect("stat");
        if m.is_file() {
            let id = *first_path.entry((m.dev(), m.ino())).or_insert(n);
            let rel = e.path().strip_prefix(root).expect("under root");
            links.push((rel.display().to_string(), id));
        }
    }
    (tree_hash(root), links)
}

/// The SBOM lists exactly the distributions whose dist-info the output has, with their versions.
fn check_sbom(out: &Path, sbom: &Path) -> usize {
    let doc: Value = serde_json::from_slice(&fs::read(sbom).expect("SBOM")).expect("SBOM JSON");
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.5");
    let listed: BTreeMap<String, String> = doc["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| {
            assert_eq!(c["type"], "library");
            let (n, v) = (
                c["name"].as_str().expect("name"),
                c["version"].as_str().expect("version"),
            );
            assert_eq!(
                c["purl"].as_str(),
                Some(format!("pkg:pypi/{}@{v}", normalize_dist(n)).as_str())
            );
            (normalize_dist(n), v.to_string())
        })
        .collect();
    let sp = out.join(site_packages_rel(out));
    let mut shipped = BTreeMap::new();
    for e in fs::read_dir(&sp).expect("site-packages") {
        let p = e.expect("entry").path();
        if !p.to_string_lossy().ends_with(".dist-info") {
            continue;
        }
        let meta = fs::read_to_string(p.join("METADATA")).expect("METADATA");
        let field = |k: &str| {
            meta.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .expect("header")
        };
        shipped.insert(normalize_dist(&field("Name:")), field("Version:"));
    }
    assert_eq!(
        listed, shipped,
        "SBOM components vs dist-info in the output"
    );
    listed.len()
}

#[test]
fn jupyter_twice_identical_sbom_complete_and_dedupe_measured() {
    let venv = real_venv("jupyter");
    let tmp = scratch("handoff-jupyter-");
    let common = [
        "--prefix",
        "/venv",
        "--python",
        FINAL_PYTHON,
        "--mtime",
        MTIME,
    ];
    let run = |name: &str, extra: &[&str]| -> (PathBuf, Value) {
        let out = tmp.path().join(name);
        let sbom = out.join("sbom.cdx.json");
        let lic = out.join("licenses");
        let mut args: Vec<&str> = common.to_vec();
        args.extend(extra);
        args.extend(["--sbom", path_str(&sbom), "--licenses-dir", path_str(&lic)]);
        let report = slim(&venv, &out).args(&args).report();
        (out, report)
    };
    let (a, ra) = run("a", &["--dedupe"]);
    let (b, _) = run("b", &["--dedupe"]);
    let (plain, _) = run("plain", &[]);

    let (fa, fb) = (layer_fingerprint(&a), layer_fingerprint(&b));
    eprintln!("tree hash of run 1: {}\ntree hash of run 2: {}", fa.0, fb.0);
    assert_eq!(fa.0, fb.0, "two runs on the same venv differ");
    assert_eq!(fa.1, fb.1, "hardlink structure differs");
    let times: BTreeSet<i64> = walkdir::WalkDir::new(&a)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().symlink_metadata().expect("stat").mtime())
        .collect();
    assert_eq!(
        times,
        BTreeSet::from([MTIME.parse::<i64>().expect("mtime")])
    );

    let n = check_sbom(&a, &a.join("sbom.cdx.json"));
    eprintln!("SBOM: {n} distributions, each with its METADATA version");
    let lic = fs::read_dir(a.join("licenses"))
        .expect("licenses dir")
        .count();
    assert!(
        lic > 0 && lic <= n,
        "{lic} licence directories for {n} distributions"
    );

    let (with, without) = (unique_bytes(&a), unique_bytes(&plain));
    let d = &ra["handoff"]["dedupe"];
    eprintln!(
        "dedupe on jupyter: {} -> {} bytes ({:.1} MiB saved, {:.1}%), {} files hardlinked in {} groups; original venv {} bytes",
        without,
        with,
        (without - with) as f64 / 1048576.0,
        100.0 * (without - with) as f64 / without as f64,
        d["linked"],
        d["groups"],
        unique_bytes(&venv)
    );
    assert!(with < without, "dedupe saved nothing");
    assert_eq!(d["saved_bytes"].as_u64(), Some(without - with), "{d}");

    // The deduplicated tree still imports, read-only at the original path (the shebangs now
    // name /venv, so this goes through bin/python, which is Debian's when it exists).
    if require_ro_namespace("jupyter dedupe import") && Path::new(FINAL_PYTHON).exists() {
        let py = venv.join("bin/python");
        let code =
            "import jupyterlab, jupyter_server, notebook_shim, nbformat, IPython; print('ok')";
        let r = ro_run(&a, &venv, &[path_str(&py), "-I", "-c", code]);
        assert!(r.status.success(), "{}", show(&r));
    }
}
