//! In place converges after a kill (docs/safety.md): `slim --in-place --zip-pure` killed with
//! SIGKILL at any of its fault points (a debug build with `VENVSLIM_FAULT_AFTER=N`), then run
//! again with the same flags, ends in the tree one uninterrupted run gives, with no module lost.
//!
//! Two venvs: the hand-made fixture plus a pure distribution the archive takes, and a real
//! `python3 -m venv` (pip from ensurepip, removed whole as an installer) plus the same pure
//! distribution. Every run happens at the same path (bytecode names its path).
//!
//! "The same tree" (`tree_state`): the same relative paths and entry types; the same
//! permission bits and owner for every entry; for regular files the same content (SHA-256),
//! link count and mtime, except the mtime of `.pyc` files (the compiler writes them at run
//! time, so two uninterrupted runs differ there too); the same symlink targets. Directory
//! mtimes are not compared: removing an entry sets its directory's mtime to the clock.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::util::{self, copy_tree, python, show, slim_venv, venvslim};

/// The in-place run every test here interrupts and reruns.
const IN_PLACE: [&str; 2] = ["--in-place", "--zip-pure"];

/// Fault points an uninterrupted run passes.
fn count_points(venv: &Path) -> u64 {
    let o = slim_venv(venv)
        .args(IN_PLACE)
        .env("VENVSLIM_FAULT_AFTER", "count")
        .run();
    u64::from(o.fault_points())
}

/// One line per entry under `root`, sorted (see the module doc for what is compared).
fn tree_state(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let e = e.expect("walk");
        let rel = e.path().strip_prefix(root).expect("under root").to_owned();
        let m = e.path().symlink_metadata().expect("stat");
        let owner = format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        let line = if m.file_type().is_symlink() {
            let t = fs::read_link(e.path()).expect("readlink");
            format!("l {} -> {}", rel.display(), t.display())
        } else if m.is_dir() {
            format!("d {owner} {}", rel.display())
        } else {
            let mut h = Sha256::new();
            let mut bytes = Vec::new();
            fs::File::open(e.path())
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .expect("read");
            h.update(&bytes);
            let hash: String = h.finalize()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let pyc = rel.extension().is_some_and(|x| x == "pyc");
            let mtime = if pyc {
                "-".to_string()
            } else {
                format!("{}.{}", m.mtime(), m.mtime_nsec())
            };
            format!("f {owner} n{} {hash} {mtime} {}", m.nlink(), rel.display())
        };
        out.push(line);
    }
    out
}

/// What differs between two states, for a failure message.
fn state_diff(want: &[String], got: &[String]) -> String {
    let (w, g): (BTreeSet<&String>, BTreeSet<&String>) =
        (want.iter().collect(), got.iter().collect());
    let mut s = String::new();
    for l in w.difference(&g).take(10) {
        s.push_str(&format!("  only in the uninterrupted run: {l}\n"));
    }
    for l in g.difference(&w).take(10) {
        s.push_str(&format!("  only after kill + rerun:       {l}\n"));
    }
    s
}

/// A pure distribution the archive takes: a package with a subpackage, data read through
/// importlib.resources, and tests (removed by a rule).
fn add_pure_dist(sp: &Path) {
    let files = [
        ("purepkg/__init__.py", "from importlib.resources import files\n\ndef greeting():\n    return files(__package__).joinpath('data/greeting.txt').read_text().strip()\n"),
        ("purepkg/sub/__init__.py", ""),
        ("purepkg/sub/mod.py", "VALUE = 42\n"),
        ("purepkg/data/greeting.txt", "hello from the zip\n"),
        ("purepkg/tests/test_it.py", "def test():\n    pass\n"),
    ];
    let di = "purepkg-1.0.dist-info";
    let mut record = String::new();
    for (rel, body) in files {
        let p = sp.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, body).expect("write");
        record.push_str(&format!("{rel},,\n"));
    }
    fs::create_dir_all(sp.join(di)).expect("mkdir");
    fs::write(
        sp.join(di).join("METADATA"),
        "Metadata-Version: 2.1\nName: purepkg\nVersion: 1.0\n",
    )
    .expect("write");
    record.push_str(&format!("{di}/METADATA,,\n{di}/RECORD,,\n"));
    fs::write(sp.join(di).join("RECORD"), record).expect("write");
}

/// The fixture venv plus the pure distribution, in `dir/pristine`.
fn fixture_pristine(dir: &Path) -> PathBuf {
    let (_tmp, root, _) = util::fixture_venv("venvslim-inplace-");
    let pristine = dir.join("pristine");
    copy_tree(&root, &pristine);
    add_pure_dist(&pristine.join(util::site_packages_rel(&pristine)));
    pristine
}

/// `python3 -m venv` (real pip; setuptools uninstalled) plus the pure distribution, in `dir/pristine`.
fn pip_pristine(dir: &Path) -> PathBuf {
    let pristine = dir.join("pristine");
    python("python3").args(["-m", "venv"]).arg(&pristine).ok();
    // Half the files and the same code paths: pip alone is enough.
    python(pristine.join("bin/python"))
        .args(["-m", "pip", "uninstall", "-q", "-y", "setuptools"])
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .ok();
    add_pure_dist(&pristine.join(util::site_packages_rel(&pristine)));
    pristine
}

/// Where every run happens: a fresh copy of `pristine` at `dir/run`.
fn fresh(pristine: &Path, dir: &Path) -> PathBuf {
    let run = dir.join("run");
    if run.exists() {
        fs::remove_dir_all(&run).expect("remove the last run");
    }
    copy_tree(pristine, &run);
    run
}

/// Every `*.dist-info` directory in site-packages still has its METADATA: importlib.metadata
/// never sees a distribution without a name, even before the rerun.
fn assert_no_nameless_dist_info(venv: &Path, n: u64) {
    let sp = venv.join(util::site_packages_rel(venv));
    for e in fs::read_dir(&sp).expect("read site-packages") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".dist-info") && !name.starts_with('.') {
            assert!(
                e.path().join("METADATA").is_file(),
                "killed at point {n}: {name} is left without METADATA"
            );
        }
    }
}

/// N to kill at: the first and last six points, and evenly spread over 1..=K; all when few.
fn spread(k: u64, m: u64) -> Vec<u64> {
    if k <= m {
        return (1..=k).collect();
    }
    let mut picks: BTreeSet<u64> = (1..=6).chain(k - 5..=k).collect();
    picks.extend((0..m).map(|i| 1 + i * (k - 1) / (m - 1)));
    picks.into_iter().collect()
}

/// Kill at each picked point, rerun, compare with the uninterrupted run, verify.
fn converges(pristine: &Path, dir: &Path) {
    let run = fresh(pristine, dir);
    let k = count_points(&run);
    let reference = tree_state(&run);
    let o = venvslim()
        .arg("verify")
        .arg(&run)
        .arg("--against")
        .arg(pristine)
        .run();
    assert!(o.status.success(), "uninterrupted run: {}", show(&o));
    // Past the last point the run is over: running again changes nothing.
    let o = slim_venv(&run).args(IN_PLACE).run();
    assert_eq!(o.status.code(), Some(0), "second run: {}", show(&o));
    let got = tree_state(&run);
    assert!(
        got == reference,
        "a second run on the finished tree changed it\n{}",
        state_diff(&reference, &got)
    );
    let picks = spread(k, 10);
    assert!(picks.len() >= 20, "only {k} fault points");
    for n in picks {
        let run = fresh(pristine, dir);
        let o = slim_venv(&run)
            .args(IN_PLACE)
            .env("VENVSLIM_FAULT_AFTER", n.to_string())
            .run();
        assert_eq!(
            o.status.signal(),
            Some(9),
            "not killed at point {n} of {k}: {}",
            show(&o)
        );
        assert_no_nameless_dist_info(&run, n);
        let o = slim_venv(&run).args(IN_PLACE).run();
        assert_eq!(
            o.status.code(),
            Some(0),
            "rerun after a kill at point {n}: {}",
            show(&o)
        );
        let got = tree_state(&run);
        assert!(
            got == reference,
            "killed at point {n} of {k}, then rerun: not the uninterrupted run's tree\n{}",
            state_diff(&reference, &got)
        );
        let o = venvslim()
            .arg("verify")
            .arg(&run)
            .arg("--against")
            .arg(pristine)
            .run();
        assert!(
            o.status.success(),
            "killed at point {n}, rerun, verify: {}",
            show(&o)
        );
    }
}

#[test]
fn fixture_venv_converges_after_a_kill_at_any_point() {
    let dir = util::scratch("inplace-fixture-");
    let pristine = fixture_pristine(dir.path());
    converges(&pristine, dir.path());
}

#[test]
fn real_pip_venv_converges_after_a_kill_at_any_point() {
    let dir = util::scratch("inplace-pip-");
    let pristine = pip_pristine(dir.path());
    converges(&pristine, dir.path());
}

/// Case 5: killed while the zipped files are removed, a rerun used to rebuild the archive from
/// what was left on disk and replace the good one: modules lost for good, exit 0.
#[test]
fn zip_pure_killed_while_removing_zipped_files_loses_no_module() {
    let dir = util::scratch("inplace-zip-kill-");
    let pristine = fixture_pristine(dir.path());
    let sp = util::site_packages_rel(&pristine);
    let run = fresh(&pristine, dir.path());
    let k = count_points(&run);
    let want = tree_state(&run);
    let code = "import purepkg, purepkg.sub.mod; print(purepkg.sub.mod.VALUE, purepkg.greeting())";
    // The last point where the archive is there and some, not all, of its members are gone
    // (their removal comes late: search from the end).
    let mut hit = None;
    for n in (1..=k).rev() {
        let run = fresh(&pristine, dir.path());
        let o = slim_venv(&run)
            .args(IN_PLACE)
            .env("VENVSLIM_FAULT_AFTER", n.to_string())
            .run();
        assert_eq!(o.status.signal(), Some(9), "{}", show(&o));
        let pkg = run.join(&sp).join("purepkg");
        if run.join(&sp).join("_venvslim_pure.zip").is_file()
            && !pkg.join("__init__.py").exists()
            && pkg.join("sub/mod.py").exists()
        {
            hit = Some(n);
            break;
        }
    }
    let n = hit.expect("no kill point falls between removing two zipped files");
    let o = slim_venv(&run).args(IN_PLACE).run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "rerun after point {n}: {}",
        show(&o)
    );
    let o = python(run.join("bin/python"))
        .args(["-I", "-c", code])
        .run();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout) == "42 hello from the zip\n",
        "after a kill at point {n} and a rerun, the zipped package is broken: {}",
        show(&o)
    );
    let got = tree_state(&run);
    assert!(got == want, "{}", state_diff(&want, &got));
}

/// Case 8: killed while pip was removed, a rerun used to leave an empty `pip-*.dist-info`
/// (importlib.metadata lists a distribution named None) and ~100 empty directories.
#[test]
fn killed_while_pip_is_removed_leaves_no_nameless_distribution_or_empty_directory() {
    let dir = util::scratch("inplace-pip-kill-");
    let pristine = pip_pristine(dir.path());
    let run = fresh(&pristine, dir.path());
    let k = count_points(&run);
    let want = tree_state(&run);
    for i in 1..=3 {
        let n = k * i / 4;
        let run = fresh(&pristine, dir.path());
        let o = slim_venv(&run)
            .args(IN_PLACE)
            .env("VENVSLIM_FAULT_AFTER", n.to_string())
            .run();
        assert_eq!(o.status.signal(), Some(9), "{}", show(&o));
        assert_no_nameless_dist_info(&run, n);
        let o = slim_venv(&run).args(IN_PLACE).run();
        assert_eq!(
            o.status.code(),
            Some(0),
            "rerun after point {n}: {}",
            show(&o)
        );
        let o = python(run.join("bin/python")).args(["-I", "-c", "import importlib.metadata as m; print(sorted(str(d.metadata['Name']) for d in m.distributions()))"]).run();
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout) == "['purepkg']\n",
            "after a kill at point {n} and a rerun: {}",
            show(&o)
        );
        let got = tree_state(&run);
        assert!(
            got == want,
            "killed at point {n}, rerun:\n{}",
            state_diff(&want, &got)
        );
    }
}

/// A fresh copy of the fixture in `dir`, its in-place slim killed three fault points before the
/// end: a half-slimmed tree with a journal.
fn interrupted(dir: &Path) -> PathBuf {
    let pristine = fixture_pristine(dir);
    let run = fresh(&pristine, dir);
    let k = count_points(&run);
    let run = fresh(&pristine, dir);
    let o = slim_venv(&run)
        .args(IN_PLACE)
        .env("VENVSLIM_FAULT_AFTER", (k - 3).to_string())
        .run();
    assert_eq!(o.status.signal(), Some(9), "{}", show(&o));
    run
}

/// A half-slimmed tree cannot be planned: `--dry-run` says so (exit 2) and changes nothing.
#[test]
fn a_dry_run_of_an_interrupted_tree_exits_2_and_changes_nothing() {
    let dir = util::scratch("inplace-dry-");
    let run = interrupted(dir.path());
    let before = util::tree_hash(&run);
    let o = venvslim()
        .args([
            "slim".as_ref(),
            run.as_os_str(),
            "--in-place".as_ref(),
            "--dry-run".as_ref(),
        ])
        .run();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err.contains("interrupted") && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(util::tree_hash(&run), before, "a dry run changed the tree");
    // A copy of a half-slimmed venv would be half-slimmed too: refused, nothing written.
    let out = dir.path().join("copy");
    let o = venvslim()
        .args([
            "slim".as_ref(),
            run.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .run();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--in-place"),
        "{}",
        show(&o)
    );
    assert!(!out.exists());
    assert_eq!(util::tree_hash(&run), before, "the copy changed the tree");
}

/// The venv is untrusted and a wheel can ship a file named like the journal: its steps stay
/// inside the venv (no `..`, no absolute path, no symlinked directory on the way).
#[test]
fn a_forged_journal_cannot_reach_outside_the_venv() {
    let dir = util::scratch("inplace-forged-");
    let pristine = fixture_pristine(dir.path());
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    fs::write(outside.join("victim"), "keep me").expect("write");
    let header = "venvslim in-place journal 1";
    for bad in ["remove ../outside/victim", "remove /etc/hostname"] {
        let run = fresh(&pristine, dir.path());
        fs::write(
            run.join(".venvslim-journal"),
            format!("{header}\n{bad}\nend\n"),
        )
        .expect("write");
        let before = util::tree_hash(&run);
        let o = slim_venv(&run).args(IN_PLACE).run();
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", show(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("hint:"));
        assert_eq!(util::tree_hash(&run), before, "{bad}: the tree changed");
    }
    let run = fresh(&pristine, dir.path());
    std::os::unix::fs::symlink(&outside, run.join("link")).expect("symlink");
    fs::create_dir(outside.join("tree")).expect("mkdir");
    fs::write(outside.join("tree/taken"), "mine").expect("write");
    std::os::unix::fs::symlink(&outside, run.join(".venvslim-staging")).expect("symlink");
    std::os::unix::fs::symlink(outside.join("victim"), run.join("secret")).expect("symlink");
    let licenses = dir.path().join("licenses");
    fs::write(
        run.join(".venvslim-journal"),
        format!(
            "{header}\nreplace taken\nremove link/victim\nremove-dir link\nlicense secret x\nend\n"
        ),
    )
    .expect("write");
    let o = venvslim()
        .args([
            "slim".as_ref(),
            run.as_os_str(),
            "--in-place".as_ref(),
            "--licenses-dir".as_ref(),
            licenses.as_os_str(),
        ])
        .run();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(
        fs::read_to_string(outside.join("victim")).ok().as_deref(),
        Some("keep me"),
        "a forged journal removed a file outside the venv through a symlink"
    );
    assert!(
        outside.join("tree/taken").is_file() && !run.join("taken").exists(),
        "a forged journal took a file from outside through a symlinked staging directory"
    );
    assert!(
        !licenses.join("x").exists(),
        "a forged journal copied a link's target into the licence directory"
    );
}

/// A forged journal's licence steps write outside the venv (into `--licenses-dir`): never through
/// a link there, never over a file that is not that licence. Found by an adversarial pass: a
/// link in the licence directory made the rerun overwrite its target with a venv file.
#[test]
fn a_forged_journal_never_writes_through_or_over_a_licence_path() {
    let dir = util::scratch("inplace-forged-licence-");
    let pristine = fixture_pristine(dir.path());
    let victim = dir.path().join("victim");
    fs::write(&victim, "VICTIM").expect("write");
    let header = "venvslim in-place journal 1";
    for (i, planted_link) in [true, false].into_iter().enumerate() {
        let run = fresh(&pristine, dir.path());
        let licenses = dir.path().join(format!("licenses{i}"));
        fs::create_dir_all(licenses.join("demo-1.0")).expect("mkdir");
        let target = licenses.join("demo-1.0/LICENSE");
        if planted_link {
            std::os::unix::fs::symlink(&victim, &target).expect("symlink");
        } else {
            fs::write(&target, "ORIGINAL").expect("write");
        }
        fs::write(
            run.join(".venvslim-journal"),
            format!("{header}\nlicense pyvenv.cfg demo-1.0/LICENSE\nend\n"),
        )
        .expect("write");
        let o = venvslim()
            .args([
                "slim".as_ref(),
                run.as_os_str(),
                "--in-place".as_ref(),
                "--licenses-dir".as_ref(),
                licenses.as_os_str(),
            ])
            .run();
        assert_ne!(o.status.code(), Some(0), "{}", show(&o));
        assert_eq!(
            fs::read_to_string(&victim).expect("read"),
            "VICTIM",
            "{}",
            show(&o)
        );
        if !planted_link {
            assert_eq!(fs::read_to_string(&target).expect("read"), "ORIGINAL");
        }
    }
}

/// Two in-place runs of one venv at once would take each other's staging for a killed run's
/// leftovers (an adversarial pass lost 879 of 1,500 modules that way): the second is refused.
#[test]
fn a_second_in_place_run_of_the_same_venv_is_refused() {
    use std::os::fd::AsRawFd;
    let dir = util::scratch("inplace-lock-");
    let pristine = fixture_pristine(dir.path());
    let run = fresh(&pristine, dir.path());
    let held = fs::File::open(&run).expect("open the venv root");
    // SAFETY: flock(2) on a descriptor this test owns; a stand-in for a running venvslim.
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let before = util::tree_hash(&run);
    let o = slim_venv(&run).args(IN_PLACE).run();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("another venvslim"),
        "{}",
        show(&o)
    );
    assert_eq!(
        util::tree_hash(&run),
        before,
        "the refused run changed the tree"
    );
    drop(held);
    let o = slim_venv(&run).args(IN_PLACE).run();
    assert!(o.status.success(), "{}", show(&o));
}

/// In place, `--dist-info strip` moves a licence out of its dist-info and `--licenses-dir`
/// copies it: the copy is made from where the move put it (it failed with exit 1 before).
#[test]
fn in_place_strip_with_a_licence_dir_copies_the_moved_licence() {
    let dir = util::scratch("inplace-strip-licences-");
    let pristine = fixture_pristine(dir.path());
    let run = fresh(&pristine, dir.path());
    let licenses = dir.path().join("lic");
    let o = venvslim()
        .args([
            "slim".as_ref(),
            run.as_os_str(),
            "--in-place".as_ref(),
            "--dist-info".as_ref(),
            "strip".as_ref(),
            "--licenses-dir".as_ref(),
            licenses.as_os_str(),
        ])
        .run();
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        licenses.join("demo-1.0/licenses/LICENSE").is_file(),
        "{}",
        show(&o)
    );
}

/// `--dist-info strip` moves the licence out of a dist-info and removes the rest: killed at any
/// point, no dist-info is left without METADATA (it was emptied file by file, METADATA first,
/// before: found by a second adversarial pass), and the rerun gives the uninterrupted tree.
#[test]
fn dist_info_strip_never_leaves_a_dist_info_without_metadata() {
    let dir = util::scratch("inplace-strip-kill-");
    let pristine = fixture_pristine(dir.path());
    let strip = |venv: &Path, fault: Option<&str>| {
        let mut c = slim_venv(venv);
        c.args([
            "--in-place",
            "--dist-info",
            "strip",
            "--bytecode",
            "sourceless",
        ]);
        if let Some(f) = fault {
            c.env("VENVSLIM_FAULT_AFTER", f);
        }
        c.run()
    };
    let run = fresh(&pristine, dir.path());
    let k = u64::from(strip(&run, Some("count")).fault_points());
    let want = tree_state(&run);
    for n in 1..=k {
        let run = fresh(&pristine, dir.path());
        let o = strip(&run, Some(&n.to_string()));
        assert_eq!(o.status.signal(), Some(9), "point {n}: {}", show(&o));
        assert_no_nameless_dist_info(&run, n);
        let o = strip(&run, None);
        assert!(o.status.success(), "rerun after point {n}: {}", show(&o));
        let got = tree_state(&run);
        assert!(got == want, "point {n}:\n{}", state_diff(&want, &got));
    }
}

/// A wheel can ship a journal and a staging directory with a forged SBOM in it: the rerun must
/// not copy the venv's bytes to `--sbom` (found by a second adversarial pass). The journal names
/// the inode of the staging directory its run made, which a shipped one cannot match.
#[test]
fn a_forged_staging_directory_cannot_dictate_the_sbom() {
    let dir = util::scratch("inplace-forged-sbom-");
    let pristine = fixture_pristine(dir.path());
    let run = fresh(&pristine, dir.path());
    fs::create_dir_all(run.join(".venvslim-staging/tree")).expect("mkdir");
    fs::write(run.join(".venvslim-staging/sbom"), "{\"forged\":1}\n").expect("write");
    for journal in [
        "venvslim in-place journal 1\nsbom 1\nend\n",
        "venvslim in-place journal 1\nstaging 1 2\nsbom 1\nend\n",
    ] {
        fs::write(run.join(".venvslim-journal"), journal).expect("write");
        let sbom = dir.path().join("sbom.json");
        let _ = fs::remove_file(&sbom);
        let o = venvslim()
            .args([
                "slim".as_ref(),
                run.as_os_str(),
                "--in-place".as_ref(),
                "--sbom".as_ref(),
                sbom.as_os_str(),
            ])
            .run();
        let written = fs::read_to_string(&sbom).unwrap_or_default();
        assert!(!written.contains("forged"), "{journal:?}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("not the staging directory"),
            "{journal:?}: {}",
            show(&o)
        );
        if run.join(".venvslim-journal").exists() {
            break; // the first run refused to finish it
        }
        fs::create_dir_all(run.join(".venvslim-staging/tree")).expect("mkdir");
        fs::write(run.join(".venvslim-staging/sbom"), "{\"forged\":1}\n").expect("write");
    }
}

/// Finishing an interrupted run has no plan to draw a treemap from: `--treemap` says so and how
/// to get it, the run still finishes, and the same command again draws it.
#[test]
fn a_resumed_run_says_why_it_drew_no_treemap_and_the_next_run_draws_it() {
    let dir = util::scratch("inplace-treemap-");
    let run = interrupted(dir.path());
    let svg = dir.path().join("map.svg");
    let again = || {
        slim_venv(&run)
            .args(IN_PLACE)
            .arg("--treemap")
            .arg(&svg)
            .run()
    };
    let o = again();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let said = String::from_utf8_lossy(&o.output.stdout);
    assert!(
        said.contains("--treemap") && said.contains("not drawn") && said.contains("hint:"),
        "{said}"
    );
    assert!(!svg.exists(), "a treemap from no plan");
    let o = again();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        std::fs::read_to_string(&svg).is_ok_and(|s| s.starts_with("<svg")),
        "the next run drew it"
    );
}
