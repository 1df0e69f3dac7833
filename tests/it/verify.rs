//! The verify engine on small hand-made venvs: `python3 -m venv --without-pip` (no network, a
//! fraction of a second) with tiny distributions written into site-packages the way pip writes
//! them (dist-info with METADATA, RECORD, entry_points.txt, top_level.txt; a bin/ script in pip's
//! console-script template). Each test breaks one thing in a copy and checks that verify names it,
//! and only it. Library calls, not the binary: the CLI is wired elsewhere.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use venvslim::progress::Progress;

use crate::util::{is_root, python, scratch, target_dir, TestCommand};
use venvslim::verify::{self, Options, Outcome};

fn no_ro() -> Options {
    Options {
        read_only: false,
        ..Options::default()
    }
}

/// A hand-made venv (`python3 -m venv --without-pip`), for tests here and in run.rs.
pub(crate) struct Venv {
    pub root: PathBuf,
    pub sp: PathBuf,
}

impl Venv {
    pub fn new(dir: &Path) -> Venv {
        let root = dir.join("venv");
        python("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&root)
            .ok();
        let lib = fs::read_dir(root.join("lib"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let sp = lib.path().join("site-packages");
        assert!(sp.is_dir(), "{}", sp.display());
        Venv { root, sp }
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.sp.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// A distribution as pip installs it.
    pub fn dist(&self, name: &str, version: &str, files: &[(&str, &str)], entry_points: &str) {
        for (rel, text) in files {
            self.write(rel, text);
        }
        let di = format!("{name}-{version}.dist-info");
        self.write(
            &format!("{di}/METADATA"),
            &format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n{name} README\n"),
        );
        let tops: BTreeSet<&str> = files
            .iter()
            .map(|(rel, _)| rel.split('/').next().unwrap().trim_end_matches(".py"))
            .collect();
        let tops: Vec<&str> = tops.into_iter().collect();
        self.write(&format!("{di}/top_level.txt"), &(tops.join("\n") + "\n"));
        let mut record: Vec<String> = files.iter().map(|(rel, _)| format!("{rel},,")).collect();
        if !entry_points.is_empty() {
            self.write(&format!("{di}/entry_points.txt"), entry_points);
            record.push(format!("{di}/entry_points.txt,,"));
        }
        for line in entry_points
            .lines()
            .skip_while(|l| l.trim() != "[console_scripts]")
            .skip(1)
        {
            let Some((script, target)) = line.split_once('=') else {
                break;
            };
            let (module, func) = target.trim().split_once(':').unwrap();
            self.script(script.trim(), module, func);
            record.push(format!("../../../bin/{},,", script.trim()));
        }
        record.extend(["METADATA", "top_level.txt", "RECORD"].map(|f| format!("{di}/{f},,")));
        self.write(&format!("{di}/RECORD"), &(record.join("\n") + "\n"));
    }

    /// pip's console-script template.
    fn script(&self, name: &str, module: &str, func: &str) {
        let p = self.root.join("bin").join(name);
        let text = format!(
            "#!{}/bin/python\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {func}\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({func}())\n",
            self.root.display()
        );
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A copy (`cp -a`: symlinks stay links) beside the original.
    fn copy(&self, to: &Path) -> Venv {
        TestCommand::new("cp")
            .arg("-a")
            .arg(&self.root)
            .arg(to)
            .ok();
        let rel = self.sp.strip_prefix(&self.root).unwrap();
        Venv {
            root: to.to_path_buf(),
            sp: to.join(rel),
        }
    }
}

/// alpha imports beta.helper; alpha has a console script and a plugin group; beta carries an
/// extension module; gamma prints, writes to stderr and reads stdin at import.
fn basic(dir: &Path) -> Venv {
    let v = Venv::new(dir);
    v.dist(
        "alpha",
        "1.0",
        &[
            (
                "alpha/__init__.py",
                "from beta import helper\nthing = helper.VALUE\n",
            ),
            ("alpha/cli.py", "def main():\n    return 0\n"),
        ],
        "[console_scripts]\nalpha = alpha.cli:main\n\n[alpha.plugins]\nx = alpha:thing\n",
    );
    v.dist(
        "beta",
        "2.0",
        &[("beta/__init__.py", ""), ("beta/helper.py", "VALUE = 1\n")],
        "",
    );
    // A real extension module, borrowed from the interpreter's own lib-dynload.
    let out = python("python3")
        .args(["-c", "import _csv; print(_csv.__file__)"])
        .ok();
    let ext = PathBuf::from(out.stdout().trim());
    fs::copy(&ext, v.sp.join("beta").join(ext.file_name().unwrap())).unwrap();
    v.dist(
        "gamma",
        "0.1",
        &[(
            "gamma.py",
            "import sys\nprint('noise' * 1000)\nsys.stderr.write('more noise\\n')\nsys.stdin.read()\n",
        )],
        "",
    );
    v
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(root);
    out.sort();
    out
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.is_dir() && !p.is_symlink() {
        for e in fs::read_dir(p).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

#[test]
fn untouched_copy_has_no_regressions_and_probing_writes_nothing() {
    let t = scratch("verify-same");
    let v = basic(t.path());
    let before = files_under(&v.root);
    let original = verify::probe(&v.root, &no_ro()).unwrap();
    assert_eq!(files_under(&v.root), before, "probing wrote into the venv");
    for m in ["alpha", "beta", "gamma"] {
        assert_eq!(
            original.modules[m],
            Outcome::Ok,
            "{m}: {:?}",
            original.modules
        );
    }
    let ext = original
        .modules
        .keys()
        .find(|k| k.starts_with("beta._csv"))
        .cloned();
    let ext = ext.unwrap_or_else(|| panic!("extension module not found: {:?}", original.modules));
    assert_eq!(original.modules[&ext], Outcome::Ok);
    assert_eq!(original.module_dists[&ext], vec!["beta".to_string()]);
    assert_eq!(original.dists["alpha"].version.as_deref(), Some("1.0"));
    assert!(original.dists["alpha"]
        .entry_point_groups
        .contains("alpha.plugins"));
    assert_eq!(original.scripts["alpha"], Outcome::Ok);
    assert_eq!(
        original.script_targets["alpha"].dist.as_deref(),
        Some("alpha")
    );
    assert!(!original.read_only);

    let copy = v.copy(&t.path().join("copy"));
    let same = verify::probe(&copy.root, &no_ro()).unwrap();
    assert!(verify::regressions(&original, &same).is_empty());
    assert!(
        verify::problems(&same).is_empty(),
        "{:?}",
        verify::problems(&same)
    );
}

#[test]
fn a_removed_module_that_another_package_imports_names_both_distributions() {
    let t = scratch("verify-import");
    let v = basic(t.path());
    let original = verify::probe(&v.root, &no_ro()).unwrap();
    let copy = v.copy(&t.path().join("copy"));
    fs::remove_file(copy.sp.join("beta/helper.py")).unwrap();
    let slim = verify::probe(&copy.root, &no_ro()).unwrap();
    let r = verify::regressions(&original, &slim);
    let import = r
        .iter()
        .find(|r| r.kind == "import")
        .expect("an import regression");
    assert_eq!(import.name, "alpha");
    assert_eq!(import.dist.as_deref(), Some("alpha"));
    assert!(import.error.contains("helper"), "{}", import.error);
    let want: BTreeSet<String> = ["alpha".into(), "beta".into()].into();
    assert_eq!(import.suspects, want);
    // The script imports alpha.cli, so it goes down with alpha; nothing else does.
    let kinds: Vec<(&str, &str)> = r.iter().map(|r| (r.kind, r.name.as_str())).collect();
    assert_eq!(
        kinds,
        vec![("import", "alpha"), ("script", "alpha")],
        "{r:?}"
    );
}

#[test]
fn metadata_entry_points_and_script_targets() {
    let t = scratch("verify-meta");
    let v = basic(t.path());
    let original = verify::probe(&v.root, &no_ro()).unwrap();
    let copy = v.copy(&t.path().join("copy"));
    // METADATA gone, dist-info left: version() is None.
    fs::remove_file(copy.sp.join("beta-2.0.dist-info/METADATA")).unwrap();
    // A plugin group dropped from entry_points.txt.
    fs::write(
        copy.sp.join("alpha-1.0.dist-info/entry_points.txt"),
        "[console_scripts]\nalpha = alpha.cli:main\n",
    )
    .unwrap();
    // The console script's target module removed.
    fs::remove_file(copy.sp.join("alpha/cli.py")).unwrap();
    let slim = verify::probe(&copy.root, &no_ro()).unwrap();
    assert_eq!(slim.dists["beta"].version, None);
    let r = verify::regressions(&original, &slim);
    let got: Vec<(&str, &str, Option<&str>)> = r
        .iter()
        .map(|r| (r.kind, r.name.as_str(), r.dist.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("entry-points", "alpha.plugins", Some("alpha")),
            ("metadata", "beta", Some("beta")),
            ("script", "alpha", Some("alpha")),
        ],
        "{r:?}"
    );
    assert!(r[1].error.contains("None"), "{}", r[1].error);
    assert!(r[2].error.contains("alpha.cli"), "{}", r[2].error);
}

#[test]
fn a_crash_and_a_hang_are_contained_and_the_rest_is_probed() {
    let t = scratch("verify-crash");
    let v = basic(t.path());
    v.dist(
        "crashy",
        "1",
        &[("crashy.py", "import ctypes\nctypes.string_at(0)\n")],
        "",
    );
    v.dist(
        "sleepy",
        "1",
        &[("sleepy.py", "import time\ntime.sleep(3600)\n")],
        "",
    );
    v.dist("zeta", "1", &[("zeta.py", "import alpha\n")], "");
    let opts = Options {
        timeout: Duration::from_secs(3),
        read_only: false,
        ..Options::default()
    };
    let start = Instant::now();
    let p = verify::probe(&v.root, &opts).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        p.modules["crashy"],
        Outcome::Crashed {
            signal_or_code: "SIGSEGV".into()
        }
    );
    assert_eq!(p.modules["sleepy"], Outcome::TimedOut);
    for m in ["alpha", "beta", "gamma", "zeta"] {
        assert_eq!(p.modules[m], Outcome::Ok, "{m}");
    }
    assert_eq!(p.scripts["alpha"], Outcome::Ok);
    let problems = verify::problems(&p);
    let got: Vec<(&str, &str, Option<&str>)> = problems
        .iter()
        .map(|r| (r.kind, r.name.as_str(), r.dist.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("import", "crashy", Some("crashy")),
            ("import", "sleepy", Some("sleepy"))
        ]
    );
    assert!(
        problems[0].error.contains("SIGSEGV"),
        "{}",
        problems[0].error
    );
}

#[test]
fn read_only_mount_when_root() {
    let t = scratch("verify-ro");
    let v = basic(t.path());
    // Writes into its own package directory at import, as some caches do.
    v.dist(
        "writer",
        "1",
        &[(
            "writer.py",
            "import os\nopen(os.path.join(os.path.dirname(__file__), 'cache.txt'), 'w').close()\n",
        )],
        "",
    );
    let p = verify::probe(&v.root, &Options::default()).unwrap();
    if !is_root() {
        eprintln!("SKIP read-only part: not root");
        assert!(!p.read_only);
        return;
    }
    assert!(
        p.read_only,
        "unshare -m with a read-only bind mount should work as root"
    );
    match &p.modules["writer"] {
        Outcome::Failed { error } => assert!(error.contains("Read-only file system"), "{error}"),
        other => panic!("writer should fail on a read-only mount: {other:?}"),
    }
    assert!(!v.sp.join("cache.txt").exists());
    assert_eq!(p.modules["alpha"], Outcome::Ok);
}

#[test]
fn restore_puts_back_what_the_plan_removed_and_repair_fixes_the_regression() {
    use clap::Parser;
    use venvslim::cli::{Cli, Command as Cmd};
    use venvslim::{apply, inventory::Inventory, plan::Plan, settings::Settings, venv};

    let t = scratch("verify-restore");
    let v = basic(t.path());
    let out = t.path().join("out");
    let config = t.path().join("empty.toml");
    fs::write(&config, "[tool.venvslim]\n").unwrap();
    let cli = Cli::try_parse_from([
        "venvslim".as_ref(),
        "slim".as_ref(),
        v.root.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--remove".as_ref(),
        "beta/helper.py".as_ref(),
        "--bytecode".as_ref(),
        "keep".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ] as [&std::ffi::OsStr; 11])
    .unwrap();
    let Cmd::Slim(args) = cli.command else {
        panic!("not slim")
    };
    let settings = Settings::from_args(args).unwrap();
    let venv = venv::Venv::discover(&settings.venv, None).unwrap();
    let inv = Inventory::scan(&venv.root, &venv.site_packages).unwrap();
    let plan = Plan::build(venv, &settings, inv);
    apply::apply(&plan, &settings.target, None, &Progress::hidden()).unwrap();
    let rel = v.sp.strip_prefix(&v.root).unwrap().join("beta/helper.py");
    assert!(!out.join(&rel).exists());

    let original = verify::probe(&v.root, &no_ro()).unwrap();
    let repair = verify::repair(&plan, &out, &original, &no_ro()).unwrap();
    assert_eq!(repair.found.len(), 2, "{:?}", repair.found);
    assert!(repair.remaining.is_empty(), "{:?}", repair.remaining);
    assert_eq!(repair.rounds, 2);
    assert!(repair.restored_dists.contains("beta"));
    let back: Vec<(&Path, &str, &str)> = repair
        .restored
        .iter()
        .map(|r| (r.path.as_path(), r.rule, r.dist.as_str()))
        .collect();
    // The smallest set first: alpha's error names the module beta.helper, so its file comes
    // back, and nothing else (the METADATA bodies and the stripped extension module stay slim).
    assert_eq!(back, vec![(rel.as_path(), "user.remove", "beta")]);
    assert_eq!(
        repair
            .steps
            .iter()
            .map(|s| (s.round, s.level, s.files))
            .collect::<Vec<_>>(),
        vec![(1, "path", 1)],
        "{:?}",
        repair.steps
    );
    // Whole distributions (the last level) get back everything the plan changed: the METADATA
    // bodies and the stripped extension module too, byte for byte.
    let sp = v.sp.strip_prefix(&v.root).unwrap();
    let ext = fs::read_dir(v.sp.join("beta"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "so"))
        .unwrap();
    let ext = ext.strip_prefix(&v.root).unwrap().to_path_buf();
    let (meta_a, meta_b) = (
        sp.join("alpha-1.0.dist-info/METADATA"),
        sp.join("beta-2.0.dist-info/METADATA"),
    );
    let both: BTreeSet<String> = ["alpha".to_string(), "beta".to_string()].into();
    let whole: Vec<(PathBuf, &str, String)> = verify::restore(&plan, &out, &both)
        .unwrap()
        .into_iter()
        .map(|r| (r.path, r.rule, r.dist))
        .collect();
    assert_eq!(
        whole,
        vec![
            (
                meta_a.clone(),
                "dist-info.metadata-body",
                "alpha".to_string()
            ),
            (ext.clone(), verify::ELF_RULE, "beta".to_string()),
            (
                meta_b.clone(),
                "dist-info.metadata-body",
                "beta".to_string()
            ),
        ]
    );
    for p in [&rel, &ext, &meta_a, &meta_b] {
        assert_eq!(
            fs::read(out.join(p)).unwrap(),
            fs::read(v.root.join(p)).unwrap(),
            "{}",
            p.display()
        );
    }
    let (a, b) = (
        fs::metadata(out.join(&rel)).unwrap(),
        fs::metadata(v.root.join(&rel)).unwrap(),
    );
    assert_eq!(a.modified().unwrap(), b.modified().unwrap());
    assert_eq!(a.permissions().mode(), b.permissions().mode());

    // Restoring again changes nothing; restoring into the input venv is refused.
    assert!(verify::restore(&plan, &out, &both).unwrap().is_empty());
    let err = verify::restore(&plan, &v.root, &both)
        .unwrap_err()
        .to_string();
    assert!(err.contains("hint:"), "{err}");
}

/// Wall time of `probe` on the biggest real venv here (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn time_probe_on_real_venvs() {
    let target = target_dir();
    let mut venvs = vec![target.join("bench-venvs/datasci")];
    if let Ok(rd) = fs::read_dir(target.join("test-venvs")) {
        venvs.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for root in venvs.iter().filter(|p| p.join("pyvenv.cfg").is_file()) {
        let start = Instant::now();
        let p = verify::probe(root, &Options::default()).unwrap();
        let failed: Vec<_> = p.modules.iter().filter(|(_, o)| !o.is_ok()).collect();
        eprintln!(
            "{}: {:.1}s, {} modules ({} not ok), {} dists, {} scripts, read_only={}",
            root.display(),
            start.elapsed().as_secs_f64(),
            p.modules.len(),
            failed.len(),
            p.dists.len(),
            p.scripts.len(),
            p.read_only
        );
        for (name, o) in failed.iter().take(15) {
            eprintln!("  {name}: {}", o.describe());
        }
        for r in verify::problems(&p).iter().filter(|r| r.kind != "import") {
            eprintln!("  {} {}: {}", r.kind, r.name, r.error);
        }
    }
}

/// Cached real venvs (built by the `real_*` tests and benches/make_venv.sh), if any.
fn real_venvs() -> Vec<PathBuf> {
    let target = target_dir();
    let mut venvs = vec![target.join("bench-venvs/datasci")];
    if let Ok(rd) = fs::read_dir(target.join("test-venvs")) {
        venvs.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    venvs.retain(|p| p.join("pyvenv.cfg").is_file());
    venvs
}

/// `venvslim slim ROOT -o OUT EXTRA...` through the library, as main.rs runs it.
fn slim_real(root: &Path, out: &Path, extra: &[&str]) -> venvslim::plan::Plan {
    use clap::Parser;
    use venvslim::cli::{Cli, Command as Cmd};
    use venvslim::{apply, bytecode, inventory::Inventory, plan::Plan, settings::Settings};

    let cfg = out.with_extension("toml");
    fs::write(&cfg, "[tool.venvslim]\n").unwrap();
    let mut argv: Vec<std::ffi::OsString> = vec!["venvslim".into(), "slim".into(), root.into()];
    argv.extend(["-o".into(), out.into(), "--config".into(), cfg.into()]);
    argv.extend(extra.iter().map(|a| a.into()));
    let Cmd::Slim(args) = Cli::try_parse_from(argv).unwrap().command else {
        panic!()
    };
    let settings = Settings::from_args(args).unwrap();
    let venv = venvslim::venv::Venv::discover(&settings.venv, None).unwrap();
    let interp = bytecode::probe(&venv).unwrap();
    let inv = Inventory::scan(&venv.root, &venv.site_packages).unwrap();
    let plan = Plan::build(venv, &settings, inv);
    apply::apply(&plan, &settings.target, Some(&interp), &Progress::hidden()).unwrap();
    plan
}

/// The real venvs slimmed with the defaults: verify must find nothing (no false alarms), and
/// say how long the probes took (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn real_venvs_slimmed_with_defaults_have_no_regressions() {
    for root in real_venvs() {
        let t = scratch("verify-real");
        let out = t.path().join("out");
        slim_real(&root, &out, &[]);
        let start = Instant::now();
        let original = verify::probe(&root, &Options::default()).unwrap();
        let t1 = start.elapsed();
        let slim = verify::probe(&out, &Options::default()).unwrap();
        let t2 = start.elapsed() - t1;
        let r = verify::regressions(&original, &slim);
        eprintln!(
            "{}: original {:.1}s, slim {:.1}s, {} modules / {} in slim, regressions: {}",
            root.file_name().unwrap().to_string_lossy(),
            t1.as_secs_f64(),
            t2.as_secs_f64(),
            original.modules.len(),
            slim.modules.len(),
            r.len()
        );
        for x in &r {
            eprintln!("  {} {} ({:?}): {}", x.kind, x.name, x.dist, x.error);
        }
        assert!(r.is_empty());
    }
}

/// docs/facts.md (dist-info): without dist-info, jupyter_events fails to import. Verify must say so, and the
/// repair must fix it by restoring the distributions involved.
#[test]
#[ignore]
fn real_jupyter_events_without_dist_info_is_caught_and_repaired() {
    let Some(root) = real_venvs().into_iter().find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("jupyter_events"))
    }) else {
        eprintln!("SKIP: no cached jupyter_events venv (run the real-venv tests first)");
        return;
    };
    let t = scratch("verify-jupyter");
    let out = t.path().join("out");
    let plan = slim_real(&root, &out, &["--dist-info", "strip"]);
    let original = verify::probe(&root, &Options::default()).unwrap();
    let start = Instant::now();
    let repair = verify::repair(&plan, &out, &original, &Options::default()).unwrap();
    eprintln!(
        "found {}, restored {} files of {:?} in {} rounds ({:.1}s), remaining {}",
        repair.found.len(),
        repair.restored.len(),
        repair.restored_dists,
        repair.rounds,
        start.elapsed().as_secs_f64(),
        repair.remaining.len()
    );
    for x in repair.found.iter().filter(|r| r.kind != "metadata") {
        eprintln!(
            "  {} {} ({:?}): {} -> {:?}",
            x.kind, x.name, x.dist, x.error, x.suspects
        );
    }
    for x in &repair.remaining {
        eprintln!("  still: {} {} ({:?}): {}", x.kind, x.name, x.dist, x.error);
    }
    assert!(repair
        .found
        .iter()
        .any(|r| r.kind == "import" && r.name == "jupyter_events"));
    assert!(
        repair.remaining.iter().all(|r| r.kind != "import"),
        "{:?}",
        repair.remaining
    );
}

/// Issue 13: a package that looks for a missing system library at import (Django's gdal) is
/// imported again for each of its submodules in a deep probe, and `ctypes.util.find_library`
/// runs subprocesses for every name it is asked (here a `gcc` on PATH that logs its calls). The
/// worker asks once per name; each import still fails with the package's own error.
#[test]
fn a_failing_package_asks_find_library_once_per_worker() {
    let t = scratch("verify-findlib");
    let v = Venv::new(t.path());
    let tools = t.path().join("tools");
    let log = t.path().join("gcc.log");
    fs::create_dir_all(&tools).unwrap();
    let gcc = tools.join("gcc");
    fs::write(
        &gcc,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\nexit 1\n", log.display()),
    )
    .unwrap();
    fs::set_permissions(&gcc, fs::Permissions::from_mode(0o755)).unwrap();
    let init = format!(
        "import ctypes.util, os\nos.environ['PATH'] = {:?} + ':' + os.environ.get('PATH', '')\n\
         if ctypes.util.find_library('venvslim_no_such_lib') is None:\n    \
         raise ImportError('no venvslim_no_such_lib')\n",
        tools.display().to_string()
    );
    let subs = ["geo/a.py", "geo/b.py", "geo/c.py"].map(|f| (f, "X = 1\n"));
    let mut files = vec![("geo/__init__.py", init.as_str())];
    files.extend(subs);
    v.dist("geo", "1", &files, "");
    let opts = Options {
        deep: true,
        ..no_ro()
    };
    let p = verify::probe(&v.root, &opts).unwrap();
    for m in ["geo", "geo.a", "geo.b", "geo.c"] {
        assert_eq!(
            p.modules[m],
            Outcome::Failed {
                error: "ImportError: no venvslim_no_such_lib".into()
            },
            "{m}"
        );
    }
    let calls = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        calls.lines().count(),
        1,
        "find_library ran gcc more than once for one name:\n{calls}"
    );
}
