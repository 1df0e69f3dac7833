//! Out of place is all or nothing (docs/safety.md): whatever ends a run early (a full disk, an
//! unreadable file, a signal, a kill at any of its disk operations, a concurrent run), OUT is
//! absent or complete, the input is untouched, and no staging directory outlives the run or the
//! next one. The disk-full and mount-point cases need root (`unshare -m` + tmpfs); without it they
//! print a SKIP note.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

use sha2::{Digest, Sha256};

use crate::util::{
    fixture_venv, is_root, show, skip, slim, staging_left, tree_hash, venvslim, venvslim_bin, Run,
    TestCommand,
};

/// Everything a tree holds but mtimes (which a rerun legitimately changes for new pycs): per entry
/// its path, type, mode, link target and content hash.
fn content(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.expect("walk");
            let rel = e.path().strip_prefix(root).expect("under root").display();
            let md = e.metadata().expect("stat");
            let ft = md.file_type();
            if ft.is_symlink() {
                let t = fs::read_link(e.path()).expect("readlink");
                format!("l {rel} -> {}", t.display())
            } else if ft.is_dir() {
                format!("d {rel} {:o}", md.mode())
            } else {
                let bytes = fs::read(e.path()).expect("read");
                let hash: String = Sha256::digest(&bytes)
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("f {rel} {:o} {hash}", md.mode())
            }
        })
        .collect()
}

/// Run `script` as root in a private mount namespace with `sh -c script sh ARGS...`.
fn in_namespace(script: &str, args: &[&Path]) -> Run {
    TestCommand::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args(args)
        .env_remove("VENVSLIM_FAULT_AFTER")
        .run()
}

/// Issue 11, case 6: a full disk used to publish OUT with half its files and exit 1.
#[test]
fn disk_full_publishes_nothing() {
    if !is_root() {
        return skip("disk_full_publishes_nothing", "needs root for a tmpfs");
    }
    let (tmp, venv, _) = fixture_venv("safety-enospc-");
    let full = tmp.path().join("full");
    let out = slim(&venv, &full).args(["--zip-pure"]).run();
    assert!(out.status.success(), "{}", show(&out));
    // Half the pages the files need (tmpfs gives each file whole pages; directories take none).
    let pages: u64 = walkdir::WalkDir::new(&full)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().expect("stat").len().div_ceil(4096).max(1))
        .sum();
    let size_kb = (pages * 4 / 2).max(8);
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let script = format!(
        r#"mount -t tmpfs -o size={size_kb}k tmpfs "$1" || exit 99
"$2" slim "$3" -o "$1/out" --zip-pure; rc=$?
echo "listing: $(ls -A "$1")"; exit $rc"#
    );
    let bin = venvslim_bin();
    let out = in_namespace(&script, &[&mnt, bin, &venv]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stdout.lines().any(|l| l == "listing: "),
        "the tmpfs must be empty after the failed run: {}",
        show(&out)
    );
    assert!(
        stderr.contains("No space left") && stderr.contains("OUT was not written"),
        "{}",
        show(&out)
    );
    assert!(stderr.contains("hint:"), "{}", show(&out));
}

/// Issue 11, case 7: an unreadable file used to be left out of a published OUT (exit 1).
#[test]
fn unreadable_file_publishes_nothing() {
    let (tmp, venv, py) = fixture_venv("safety-eacces-");
    let secret = venv.join(format!("lib/python{py}/site-packages/demo/core.py"));
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let outdir = tmp.path().join("outdir");
    fs::create_dir(&outdir).unwrap();
    let mut cmd = if is_root() {
        // Root reads anything: run as nobody, with the tree readable and outdir writable.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&outdir, fs::Permissions::from_mode(0o777)).unwrap();
        let mut c = TestCommand::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(venvslim_bin());
        c
    } else {
        venvslim()
    };
    // keep: no interpreter to run (nobody may not reach it); the copy is what is tested.
    let out = cmd
        .arg("slim")
        .arg(&venv)
        .arg("-o")
        .arg(outdir.join("out"))
        .args(["--bytecode", "keep"])
        .env_remove("VENVSLIM_FAULT_AFTER")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("demo/core.py") && stderr.contains("hint:"),
        "{}",
        show(&out)
    );
    let left: Vec<_> = fs::read_dir(&outdir).unwrap().collect();
    assert!(left.is_empty(), "outdir must stay empty: {left:?}");
}

/// Issue 11, case 10: an OUT that is a mount point used to fail at the final rename (EBUSY),
/// after the whole run, leaving the full tree in the staging directory.
#[test]
fn mount_point_out_is_refused_before_any_work() {
    if !is_root() {
        return skip("mount_point_out_is_refused_before_any_work", "needs root");
    }
    let (tmp, venv, _) = fixture_venv("safety-mnt-");
    let bin = venvslim_bin();
    for mount in ["mount -t tmpfs tmpfs \"$1\"", "mount --bind \"$1\" \"$1\""] {
        let out_dir = tmp.path().join("out");
        fs::create_dir(&out_dir).unwrap();
        let script = format!(
            r#"{mount} || exit 99
"$2" slim "$3" -o "$1"; rc=$?
echo "inside: $(ls -A "$1")"; echo "beside: $(ls -A "$(dirname "$1")" | grep venvslim)"; exit $rc"#
        );
        let out = in_namespace(&script, &[&out_dir, bin, &venv]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{mount}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("mount point"),
            "{mount}: {}",
            show(&out)
        );
        assert!(
            stdout.contains("inside: \n") && stdout.contains("beside: \n"),
            "{mount}: nothing may be written: {}",
            show(&out)
        );
        fs::remove_dir(&out_dir).unwrap();
    }
}

/// Issue 11, case 10 (second half): the loser of two concurrent runs into one OUT used to leave
/// its full tree in its staging directory.
#[test]
fn concurrent_runs_into_one_out_leave_one_tree_and_no_staging() {
    let (tmp, venv, _) = fixture_venv("safety-race-");
    let reference = tmp.path().join("reference");
    let out = slim(&venv, &reference).run();
    assert!(out.status.success(), "{}", show(&out));
    for round in 0..3 {
        let target = tmp.path().join(format!("out{round}"));
        let spawn = || {
            slim(&venv, &target)
                .command()
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn venvslim")
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        assert_eq!(codes, [Some(0), Some(2)], "{}\n{}", show(&a), show(&b));
        let loser = if a.status.success() { &b } else { &a };
        assert!(
            String::from_utf8_lossy(&loser.stderr).contains("hint:"),
            "{}",
            show(loser)
        );
        assert_eq!(content(&target), content(&reference));
        assert_eq!(staging_left(tmp.path()), Vec::<String>::new());
    }
}

/// Start a slim that stops at fault point `n`, wait until it says so, and return it.
fn stopped_at(venv: &Path, out: &Path, n: u32) -> std::process::Child {
    let mut child = slim(venv, out)
        .env("VENVSLIM_FAULT_STOP", n.to_string())
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn venvslim");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let said = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("fault injection: stopped at point"));
    assert!(said, "venvslim never reached fault point {n}");
    child
}

/// Issue 11, case 11: SIGTERM and Ctrl-C used to leave `.OUT.venvslim-PID` behind.
#[test]
fn sigterm_and_sigint_remove_the_staging_directory() {
    let (tmp, venv, _) = fixture_venv("safety-signal-");
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let out = tmp.path().join(format!("out{sig}"));
        let mut child = stopped_at(&venv, &out, 10);
        assert_eq!(staging_left(tmp.path()).len(), 1, "staging exists mid-run");
        // SAFETY: kill(2) on the child we spawned.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(code), "signal {sig}: {status}");
        assert!(!out.exists(), "OUT must not exist after signal {sig}");
        assert_eq!(
            staging_left(tmp.path()),
            Vec::<String>::new(),
            "signal {sig}"
        );
    }
}

/// Issue 11, case 11: after a SIGKILL nothing can clean up; the next run into the same OUT
/// removes what the dead run left and says so.
#[test]
fn a_rerun_removes_staging_left_by_a_killed_run_and_says_so() {
    let (tmp, venv, _) = fixture_venv("safety-stale-");
    let out = tmp.path().join("out");
    let killed = slim(&venv, &out).env("VENVSLIM_FAULT_AFTER", "15").run();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(libc::SIGKILL),
        "{}",
        show(&killed)
    );
    let left = staging_left(tmp.path());
    assert_eq!(left.len(), 1, "the killed run's staging: {left:?}");
    let rerun = slim(&venv, &out).args(["--json"]).run();
    assert!(rerun.status.success(), "{}", show(&rerun));
    let report: serde_json::Value = serde_json::from_slice(&rerun.stdout).unwrap();
    let removed = report["stale_staging_removed"].as_array().expect("listed");
    assert_eq!(removed.len(), 1, "{report}");
    assert!(removed[0].as_str().unwrap().ends_with(&left[0]));
    assert_eq!(staging_left(tmp.path()), Vec::<String>::new());
}

/// How many fault points a run passes (debug builds count them on request).
fn count_points(venv: &Path, out: &Path, extra: &[&str]) -> u32 {
    slim(venv, out)
        .args(extra)
        .env("VENVSLIM_FAULT_AFTER", "count")
        .run()
        .fault_points()
}

/// At least `want` distinct points spread evenly over 1..=k (all of them when k is small).
fn spread(k: u32, want: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (0..want)
        .map(|i| 1 + i * k.saturating_sub(1) / (want - 1).max(1))
        .collect();
    v.dedup();
    v
}

/// The fault-injection sweep: kill the real binary at points spread over the whole run; each
/// time the input is byte- and mtime-identical, OUT is absent or complete, and a rerun ends in
/// the uninterrupted run's tree with nothing left behind.
#[test]
fn killed_at_any_point_out_is_absent_or_complete_and_a_rerun_converges() {
    let (tmp, venv, _) = fixture_venv("safety-faults-");
    let before = tree_hash(&venv);
    let flags = ["--zip-pure", "--dist-info", "minimal"];
    let reference = tmp.path().join("reference");
    let k = count_points(&venv, &reference, &flags);
    let want = content(&reference);
    let points = spread(k, 24);
    assert!(points.len() >= 20, "only {k} fault points: {points:?}");
    let mut killed = 0;
    for &n in &points {
        let dir = tmp.path().join(format!("at{n}"));
        fs::create_dir(&dir).unwrap();
        let out = dir.join("out");
        let run = slim(&venv, &out)
            .args(flags)
            .env("VENVSLIM_FAULT_AFTER", n.to_string())
            .run();
        let by_kill =
            std::os::unix::process::ExitStatusExt::signal(&run.status) == Some(libc::SIGKILL);
        assert!(by_kill || run.status.success(), "point {n}: {}", show(&run));
        killed += by_kill as u32;
        assert_eq!(tree_hash(&venv), before, "point {n}: the input changed");
        if out.exists() {
            assert_eq!(content(&out), want, "point {n}: OUT published incomplete");
            fs::remove_dir_all(&out).unwrap();
        }
        let rerun = slim(&venv, &out).args(flags).run();
        assert!(rerun.status.success(), "point {n}: {}", show(&rerun));
        assert_eq!(content(&out), want, "point {n}: the rerun differs");
        assert_eq!(staging_left(&dir), Vec::<String>::new(), "point {n}");
    }
    assert!(
        killed >= 20,
        "only {killed} of {} runs were killed",
        points.len()
    );
    eprintln!(
        "out of place: {k} fault points, {} kill points tried, {killed} killed",
        points.len()
    );
}
