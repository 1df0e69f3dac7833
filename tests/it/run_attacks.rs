//! `slim --run CMD` attacked as a careless user and a sloppy workload would: what the evidence
//! must not count (a directory the workload only listed), what a workload leaves behind (a
//! server still running in the background), and an output too big to read. Hand-made venvs, so
//! each case takes a second.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::run::{restored_paths, slim_run};
use crate::util::{is_root, scratch, skip, venvslim, venvslim_bin, TestCommand};
use crate::verify::Venv;

/// `datapkg` reads `datapkg/data/table.json` when `load()` runs; `datapkg-data/` is a top-level
/// data directory (no package: nothing imports it) that nothing reads.
fn venv(dir: &Path) -> Venv {
    let v = Venv::new(dir);
    v.dist(
        "datapkg",
        "1.0",
        &[
            (
                "datapkg/__init__.py",
                "import json, os\n\ndef load():\n    with open(os.path.join(os.path.dirname(__file__), 'data', 'table.json')) as f:\n        return json.load(f)\n",
            ),
            ("datapkg/data/table.json", "{\"answer\": 42}\n"),
            ("datapkg/data/unused.json", "{\"unused\": true}\n"),
            ("datapkg-data/extra.json", "{\"extra\": true}\n"),
        ],
        "",
    );
    v
}

/// `pkgutil.iter_modules()` lists every directory in site-packages and `os.walk` every directory
/// of the tree; a workload that does either and passes on the output has shown no need for
/// what the plan removed. Before, each directory it had listed on the input came back (on a
/// venv with pip: 1,469 files of pip and setuptools, then their scripts and metadata).
#[test]
fn a_directory_the_workload_only_listed_on_the_input_comes_not_back() {
    let t = scratch("run-listed");
    let v = venv(t.path());
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c \"import os, pkgutil, sys; print(len(list(pkgutil.iter_modules())), sum(len(f) for _, _, f in os.walk(sys.prefix)))\"";
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &[
            "--remove",
            "datapkg-data/**",
            "--remove",
            "datapkg/data/unused.json",
            "--run",
            workload,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    assert_eq!(restored_paths(&report), Vec::<String>::new(), "{report:#}");
    let sp = v.sp.strip_prefix(&v.root).unwrap();
    assert!(!out.join(sp).join("datapkg-data").exists());
}

/// The other side: a directory the output's run tried to list and did not find is evidence,
/// even when the workload copes (`except OSError`) and passes.
#[test]
fn a_directory_the_output_run_lists_and_misses_comes_back() {
    let t = scratch("run-listed-out");
    let v = venv(t.path());
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c \"import os, datapkg\nd = os.path.join(os.path.dirname(datapkg.__file__), 'data')\ntry:\n    print(len(os.listdir(d)))\nexcept OSError:\n    print(0)\"";
    let (code, report, stderr) = slim_run(
        &v,
        &out,
        &["--remove", "datapkg/data/**", "--run", workload],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    let mut back = restored_paths(&report);
    back.sort();
    assert_eq!(back.len(), 2, "{report:#}");
    assert!(back[0].ends_with("datapkg/data/table.json"), "{back:?}");
    assert!(back[1].ends_with("datapkg/data/unused.json"), "{back:?}");
}

/// A smoke test that starts a server in the background and forgets to stop it: what it leaves
/// running is killed when it ends. Else the input's server still holds the port (here: a lock)
/// when the same workload runs on the output, which then fails for no fault of the output and
/// leaves venvslim's children running after it exits.
#[test]
fn what_a_workload_leaves_running_is_killed_when_it_ends() {
    let t = scratch("run-leftover");
    let v = venv(t.path());
    let out = t.path().join("out");
    let lock = t.path().join("port.lock");
    let workload = format!(
        "flock -w 20 '{lock}' true || {{ echo the port is still taken >&2; exit 7; }}; flock '{lock}' sleep 600 >/dev/null 2>&1 &",
        lock = lock.display()
    );
    let (code, report, stderr) = slim_run(&v, &out, &["--run", &workload]);
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    // The output's run left one too: gone as well once venvslim is done.
    assert_lock_free(&lock);
}

/// A workload whose output is huge (here a sparse 4 GiB, a test log or a server printing for
/// half an hour): the report keeps its end, and venvslim reads only that end. Under a 512 MB
/// address-space limit, reading it whole fails and the end was lost.
#[test]
fn the_end_of_a_huge_output_is_kept_without_reading_it_all() {
    if TestCommand::new("prlimit")
        .arg("--version")
        .run()
        .status
        .code()
        != Some(0)
    {
        skip(
            "the_end_of_a_huge_output_is_kept_without_reading_it_all",
            "no prlimit",
        );
        return;
    }
    let t = scratch("run-huge-output");
    let v = venv(t.path());
    let out = t.path().join("out");
    let workload = "$VENV/bin/python -c \"import os; os.lseek(1, 4 << 30, 0); os.write(1, b'\\nLAST-LINE-MARKER\\n')\"";
    let o = TestCommand::new("prlimit")
        .arg("--as=536870912")
        .arg(venvslim_bin())
        .arg("slim")
        .arg(&v.root)
        .arg("-o")
        .arg(&out)
        .args(["--json", "--run", workload])
        .env_remove("SOURCE_DATE_EPOCH")
        .run();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    let kept = report["run"][0]["input"]["output"].as_str().unwrap_or("");
    assert!(kept.contains("LAST-LINE-MARKER"), "{report:#}");
    assert!(kept.len() <= 16 * 1024, "{}", kept.len());
}

/// Without root the output's run cannot be mounted at `--prefix` and runs where OUT was written
/// (the report says so), so a `--prefix` that does not exist on the build machine (`/app` of
/// the final image) is no reason to refuse. It was: exit 2, "create the directory", which a
/// user who is not root usually cannot. As root this runs as nobody, with an interpreter
/// nobody can reach (`/usr/bin/python3`), else it is skipped.
/// A venv and a `venvslim` command that runs without root: as root, as nobody (setpriv) on a
/// venv made by `/usr/bin/python3` in a directory nobody may read, owned by nobody when
/// `writable`; else the plain binary. None (skipped): root without `/usr/bin/python3`.
fn without_root(test: &str, dir: &Path, writable: bool) -> Option<(Venv, TestCommand, PathBuf)> {
    let system_python = Path::new("/usr/bin/python3");
    if is_root() && !system_python.exists() {
        skip(test, "no /usr/bin/python3 that nobody can run");
        return None;
    }
    let v = if is_root() {
        let root = dir.join("venv");
        TestCommand::new(system_python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&root)
            .ok();
        let lib = std::fs::read_dir(root.join("lib"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let sp = lib.path().join("site-packages");
        Venv { root, sp }
    } else {
        Venv::new(dir)
    };
    v.dist("datapkg", "1.0", &[("datapkg/__init__.py", "X = 1\n")], "");
    let outdir = dir.join("outdir");
    std::fs::create_dir(&outdir).unwrap();
    let cmd = if is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&outdir, std::fs::Permissions::from_mode(0o777)).unwrap();
        if writable {
            TestCommand::new("chown")
                .args(["-R", "65534:65534"])
                .arg(&v.root)
                .ok();
        }
        let mut c = TestCommand::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(venvslim_bin());
        c
    } else {
        venvslim()
    };
    Some((v, cmd, outdir))
}

#[test]
fn without_root_a_prefix_missing_here_does_not_stop_run() {
    let test = "without_root_a_prefix_missing_here_does_not_stop_run";
    let t = scratch("run-prefix-nonroot");
    let dir = t.path();
    let Some((v, mut cmd, outdir)) = without_root(test, dir, false) else {
        return;
    };
    let prefix = dir.join("app-not-here");
    let o = cmd
        .arg("slim")
        .arg(&v.root)
        .arg("-o")
        .arg(outdir.join("out"))
        .arg("--prefix")
        .arg(&prefix)
        .args(["--json", "--run", "$VENV/bin/python -c 'import datapkg'"])
        .env_remove("SOURCE_DATE_EPOCH")
        .env("TMPDIR", &outdir)
        .run();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert_eq!(report["run"][0]["passes"], true, "{report:#}");
    assert_eq!(report["run"][0]["input"]["read_only"], false, "{report:#}");
}

/// Without root nothing keeps the workload from writing into the input venv. venvslim cannot
/// prevent it there, but it must not slim a tree that moved under it, and must say so: exit 2,
/// the path, nothing written.
#[test]
fn without_root_a_workload_that_writes_into_the_input_stops_the_run() {
    let test = "without_root_a_workload_that_writes_into_the_input_stops_the_run";
    let t = scratch("run-writes-input");
    let dir = t.path();
    let Some((v, mut cmd, outdir)) = without_root(test, dir, true) else {
        return;
    };
    let out = outdir.join("out");
    let o = cmd
        .arg("slim")
        .arg(&v.root)
        .arg("-o")
        .arg(&out)
        .args(["--run", "touch \"$VENV/planted\""])
        .env_remove("SOURCE_DATE_EPOCH")
        .env("TMPDIR", &outdir)
        .run();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("changed the input venv") && stderr.contains("planted"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing may be written");
}

/// venvslim stopped while a workload runs (Ctrl-C, `docker build` cancelled, SIGTERM): the
/// workload's children go with it. Before, only its `sh` did (the death signal reaches one
/// child): a test suite it had started ran on, orphaned, as root. Root only: the workload then
/// runs in a PID namespace of its own, which ends with it.
#[test]
fn a_workload_dies_with_venvslim() {
    if !is_root() {
        skip("a_workload_dies_with_venvslim", "needs root");
        return;
    }
    let t = scratch("run-dies-with-us");
    let v = venv(t.path());
    let lock = t.path().join("held.lock");
    let ready = t.path().join("ready");
    let workload = format!(
        "flock '{lock}' sleep 600 >/dev/null 2>&1 & sleep 0.2; touch '{ready}'; wait",
        lock = lock.display(),
        ready = ready.display()
    );
    let mut cmd = venvslim();
    let mut child = cmd
        .command()
        .arg("slim")
        .arg(&v.root)
        .arg("-o")
        .arg(t.path().join("out"))
        .args(["--run", &workload])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("venvslim starts");
    let mut waited = 0;
    while !ready.exists() && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    assert!(ready.exists(), "the workload never started");
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert_lock_free(&lock);
}

/// `--run 'python3 smoke.py'` runs the machine's Python, not the venv's: it passes on any
/// output and proves nothing about it, and the report said "recorded in 1 Python process(es)"
/// as if it had. It now counts what the workload touched under the tree, and says so when
/// that is nothing.
#[test]
fn a_workload_that_touches_nothing_in_the_venv_is_called_out() {
    let t = scratch("run-touches-nothing");
    let v = venv(t.path());
    let (code, report, stderr) = slim_run(
        &v,
        &t.path().join("out"),
        &["--run", "python3 -c 'import json'"],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert_eq!(report["run"][0]["input"]["touched"], 0, "{report:#}");
    let text = venvslim()
        .arg("slim")
        .arg(&v.root)
        .arg("-o")
        .arg(t.path().join("out2"))
        .args(["--run", "python3 -c 'import json'"])
        .run();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("touched nothing under the venv"),
        "{stdout}"
    );
    // A workload that uses the venv touches it.
    let (code, report, stderr) = slim_run(
        &v,
        &t.path().join("out3"),
        &[
            "--run",
            "$VENV/bin/python -c 'import datapkg; datapkg.load()'",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report:#}");
    assert!(
        report["run"][0]["input"]["touched"].as_u64().unwrap_or(0) >= 2,
        "{report:#}"
    );
}

/// The workload's background child held `lock` (flock) while alive: it must be free now.
fn assert_lock_free(lock: &Path) {
    let free = TestCommand::new("flock")
        .args(["-w", "20"])
        .arg(lock)
        .arg("true")
        .run();
    assert!(
        free.status.success(),
        "a workload's child outlived venvslim"
    );
}
