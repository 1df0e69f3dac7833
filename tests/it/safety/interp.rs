//! The interpreter runs isolated, and a venv venvslim reads or writes is one it can run.
//!
//! Every Python venvslim starts (the bytecode compiler, the zip's compiler, verify's worker)
//! must ignore the working directory: a `py_compile.py` or an `importlib/` package planted
//! where venvslim is started must never run. A venv whose `bin/python` link dangles must stop
//! the run (exit 2, nothing written) instead of quietly compiling with whatever `pythonX.Y` is on
//! PATH. A venv left with nothing in site-packages (only pip and setuptools, both dropped) must
//! still come out as a venv: with its `lib/pythonX.Y/site-packages`, accepted by venvslim again.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{self, python, show, venvslim};

/// A directory full of modules that, if imported, append their name to `marker`: the stdlib
/// names venvslim's Python children import (the compile driver, the version probe, verify's
/// worker).
fn plant(dir: &Path, marker: &Path) {
    let code = |name: &str| {
        format!(
            "open({:?}, 'a').write({name:?} + '\\n')\n",
            marker.to_str().expect("UTF-8 marker path")
        )
    };
    fs::create_dir_all(dir.join("importlib")).expect("mkdir importlib");
    fs::write(dir.join("importlib/__init__.py"), code("importlib")).expect("plant importlib");
    for name in ["py_compile", "json", "zipfile", "marshal", "os", "sys"] {
        fs::write(dir.join(format!("{name}.py")), code(name)).expect("plant module");
    }
}

fn planted_ran(marker: &Path) -> String {
    fs::read_to_string(marker).unwrap_or_default()
}

#[test]
fn code_in_the_working_directory_never_runs() {
    let (tmp, venv, _) = util::fixture_venv("venvslim-interp-cwd-");
    let cwd = tmp.path().join("cwd");
    let marker = tmp.path().join("marker");
    plant(&cwd, &marker);
    let out_dir = tmp.path().join("out");
    let runs: Vec<(&str, Vec<&std::ffi::OsStr>)> = vec![
        (
            "slim -n",
            vec!["slim".as_ref(), venv.as_os_str(), "-n".as_ref()],
        ),
        (
            "slim --zip-pure --verify",
            vec![
                "slim".as_ref(),
                venv.as_os_str(),
                "-o".as_ref(),
                out_dir.as_os_str(),
                "--zip-pure".as_ref(),
                "--verify".as_ref(),
            ],
        ),
        ("verify", vec!["verify".as_ref(), venv.as_os_str()]),
    ];
    for (what, args) in runs {
        let out = venvslim()
            .current_dir(&cwd)
            .env("CI", "1")
            .args(&args)
            .run();
        assert_eq!(
            planted_ran(&marker),
            "",
            "`venvslim {what}` ran code planted in its working directory:\n{}",
            show(&out)
        );
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(1),
            "`venvslim {what}` failed:\n{}",
            show(&out)
        );
    }
    assert!(out_dir.join("pyvenv.cfg").is_file());
}

/// The fixture with `bin/python3.11` replaced by a link to nowhere (`bin/python3` and
/// `bin/python` link to it, so they dangle too). PATH still has a working `python3.11`.
fn dangling_interpreter(prefix: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, venv, py) = util::fixture_venv(prefix);
    let link = venv.join(format!("bin/python{py}"));
    fs::remove_file(&link).expect("remove bin/pythonX.Y");
    let target = tmp.path().join("gone/python");
    symlink(&target, &link).expect("dangling link");
    (tmp, venv, target)
}

#[test]
fn a_dangling_bin_python_stops_the_run_with_nothing_written() {
    let (tmp, venv, target) = dangling_interpreter("venvslim-interp-dangling-");
    let out_dir = tmp.path().join("out");
    for (what, args) in [
        (
            "slim -o",
            vec![
                "slim".as_ref(),
                venv.as_os_str(),
                "-o".as_ref(),
                out_dir.as_os_str(),
            ],
        ),
        (
            "slim -n",
            vec!["slim".as_ref(), venv.as_os_str(), "-n".as_ref()],
        ),
        ("verify", vec!["verify".as_ref(), venv.as_os_str()]),
    ] {
        let out = venvslim()
            .current_dir(tmp.path())
            .env("CI", "1")
            .args(&args)
            .run();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}:\n{}", show(&out));
        assert!(
            err.contains("bin/python") && err.contains(target.to_str().expect("UTF-8")),
            "{what}: the error names neither the link nor its target:\n{}",
            show(&out)
        );
        assert!(err.contains("hint:"), "{what}: no hint:\n{}", show(&out));
        assert!(!out_dir.exists(), "{what} wrote {}", out_dir.display());
    }
    // Keep and strip need no interpreter: they still work.
    let out = venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "-n".as_ref(),
            "--bytecode".as_ref(),
            "keep".as_ref(),
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn a_venv_without_any_bin_python_does_not_borrow_one_from_path() {
    let (tmp, venv, _) = util::fixture_venv("venvslim-interp-nopython-");
    for e in fs::read_dir(venv.join("bin")).expect("read bin") {
        let e = e.expect("bin entry");
        if e.file_name().to_string_lossy().starts_with("python") {
            fs::remove_file(e.path()).expect("remove python link");
        }
    }
    let out = venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args(["slim".as_ref(), venv.as_os_str(), "-n".as_ref()])
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let bin = venv.join("bin");
    assert!(
        err.contains(bin.to_str().expect("UTF-8")) && err.contains("hint:"),
        "the error does not name {} or has no hint:\n{}",
        bin.display(),
        show(&out)
    );
}

/// `python3 -m venv`: a venv holding only pip (and setuptools before 3.12), built once.
fn installers_only_venv() -> &'static Path {
    static VENV: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, venv) = VENV.get_or_init(|| {
        let tmp = util::scratch("interp-installers-");
        let venv = tmp.path().join("venv");
        python("python3").args(["-m", "venv"]).arg(&venv).ok();
        (tmp, venv)
    });
    venv
}

#[test]
fn a_venv_with_nothing_left_stays_a_venv() {
    let venv = installers_only_venv();
    let sp = util::site_packages_rel(venv);
    let tmp = util::scratch("interp-empty-");
    let out = tmp.path().join("out");
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .ok();
    assert!(out.join(&sp).is_dir(), "the output has no {}", sp.display());
    let names: Vec<_> = fs::read_dir(out.join(&sp))
        .expect("read site-packages")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        names.is_empty(),
        "pip and setuptools were expected to go: {names:?}"
    );
    if let Ok(lib64) = fs::symlink_metadata(out.join("lib64")) {
        assert!(
            lib64.is_symlink() && out.join("lib64").is_dir(),
            "lib64 dangles"
        );
    }
    // Its own output is a venv venvslim accepts, slims and verifies.
    let again = tmp.path().join("again");
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args([
            "slim".as_ref(),
            out.as_os_str(),
            "-o".as_ref(),
            again.as_os_str(),
        ])
        .ok();
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args(["verify".as_ref(), out.as_os_str()])
        .ok();
    // --verify on the way: exit 0, not 2 after writing the output.
    let verified = tmp.path().join("verified");
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args([
            "slim".as_ref(),
            venv.as_os_str(),
            "-o".as_ref(),
            verified.as_os_str(),
            "--verify".as_ref(),
        ])
        .ok();
    assert!(verified.join(&sp).is_dir());
}

#[test]
fn a_venv_emptied_in_place_stays_a_venv() {
    let venv = installers_only_venv();
    let sp = util::site_packages_rel(venv);
    let tmp = util::scratch("interp-empty-inplace-");
    let copy = tmp.path().join("venv");
    util::copy_tree(venv, &copy);
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args(["slim".as_ref(), copy.as_os_str(), "--in-place".as_ref()])
        .ok();
    assert!(copy.join(&sp).is_dir(), "in place removed {}", sp.display());
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args(["slim".as_ref(), copy.as_os_str(), "--in-place".as_ref()])
        .ok();
    venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args(["verify".as_ref(), copy.as_os_str()])
        .ok();
}

/// Whether process `pid` is gone or a zombie (dead, not yet reaped by its new parent).
fn dead(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn python_children_die_when_venvslim_is_killed() {
    let (tmp, venv, py) = util::fixture_venv("venvslim-interp-orphan-");
    let pidfile = tmp.path().join("worker.pid");
    // A module whose import says who imports it, then hangs (verify's timeout is an hour).
    fs::write(
        venv.join(format!("lib/python{py}/site-packages/hang_forever.py")),
        format!(
            "import os, time\nopen({:?}, 'w').write(str(os.getpid()))\ntime.sleep(3600)\n",
            pidfile.to_str().expect("UTF-8")
        ),
    )
    .expect("write hang_forever.py");
    let mut slim = venvslim()
        .arg("verify")
        .arg(&venv)
        .args(["--timeout", "3600"])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start venvslim verify");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let pid = loop {
        match fs::read_to_string(&pidfile) {
            Ok(pid) if !pid.is_empty() => break pid,
            _ if std::time::Instant::now() > deadline => {
                let _ = slim.kill();
                panic!("the verify worker never imported hang_forever");
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    };
    slim.kill().expect("SIGKILL venvslim");
    slim.wait().expect("reap venvslim");
    // The kernel sends the worker SIGKILL as venvslim exits; give it time to act on it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !dead(&pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let orphaned = !dead(&pid);
    if orphaned {
        let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
    }
    assert!(!orphaned, "the worker (pid {pid}) outlived venvslim");
}

/// A stdlib module planted inside the venv, with `home` in pyvenv.cfg pointing at it. A plain
/// wheel can do this: `*.data/data/pyvenv.cfg` installs at the venv's root. Found by an
/// adversarial pass: the real interpreter, started through the venv's `bin/`, loaded the planted
/// `encodings` as root even with `-I -S`.
fn plant_home(venv: &Path, py: &str, marker: &Path) {
    let home = venv.join("evilhome/bin");
    let lib = venv.join(format!("evilhome/lib/python{py}"));
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(lib.join("encodings")).unwrap();
    let code = format!(
        "open({:?}, 'a').write('planted\\n')\n",
        marker.to_str().unwrap()
    );
    fs::write(lib.join("encodings/__init__.py"), &code).unwrap();
    fs::write(lib.join("os.py"), &code).unwrap();
    let cfg = fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    let cfg: String = cfg
        .lines()
        .map(|l| {
            if l.starts_with("home") {
                format!("home = {}\n", home.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    fs::write(venv.join("pyvenv.cfg"), cfg).unwrap();
}

#[test]
fn a_pyvenv_cfg_home_inside_the_venv_runs_nothing() {
    let (tmp, venv, py) = util::fixture_venv("safety-home-");
    let marker = tmp.path().join("marker");
    plant_home(&venv, &py, &marker);
    let out = tmp.path().join("out");
    for args in [
        vec![OsStr::new("slim"), venv.as_os_str(), OsStr::new("-n")],
        vec![
            OsStr::new("slim"),
            venv.as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
        ],
    ] {
        let r = venvslim()
            .current_dir(tmp.path())
            .env("CI", "1")
            .args(&args)
            .run();
        assert!(r.status.success(), "{args:?}: {}", show(&r));
        assert!(!marker.exists(), "{args:?}: planted code ran: {}", show(&r));
    }
    // A venv made with --copies has its interpreter inside: its pyvenv.cfg is read, so a `home`
    // inside the venv is refused.
    let copies = tmp.path().join("copies");
    python("python3")
        .args(["-m", "venv", "--copies", "--without-pip"])
        .arg(&copies)
        .ok();
    plant_home(&copies, &py, &marker);
    let r = venvslim()
        .current_dir(tmp.path())
        .env("CI", "1")
        .args([OsStr::new("slim"), copies.as_os_str(), OsStr::new("-n")])
        .run();
    assert_eq!(r.status.code(), Some(2), "{}", show(&r));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("inside the venv"),
        "{}",
        show(&r)
    );
    assert!(!marker.exists(), "planted code ran: {}", show(&r));
}

/// The working directory is a build context full of others' files: a `pyproject.toml` there that
/// is a link is not followed (its target was read, and a TOML error echoed a line of it).
#[test]
fn a_pyproject_link_in_the_working_directory_is_not_read() {
    let (tmp, venv, _) = util::fixture_venv("safety-pyproject-link-");
    let secret = tmp.path().join("shadow");
    fs::write(&secret, "root:$6$SECRETHASH:19000:0:99999:7:::\n").unwrap();
    let cwd = tmp.path().join("context");
    fs::create_dir(&cwd).unwrap();
    symlink(&secret, cwd.join("pyproject.toml")).unwrap();
    let r = venvslim()
        .current_dir(&cwd)
        .env("CI", "1")
        .args([OsStr::new("slim"), venv.as_os_str(), OsStr::new("-n")])
        .run();
    assert_eq!(r.status.code(), Some(2), "{}", show(&r));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!all.contains("SECRETHASH"), "{}", show(&r));
    assert!(all.contains("--config"), "{}", show(&r));
}
