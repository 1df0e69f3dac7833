//! Every child process venvslim starts (the venv's Python above all) is built here, once.
//!
//! The venv is untrusted input and so is the directory venvslim is started from (a build
//! context full of someone's files). A Python started with `-c` or `-m` puts its working
//! directory first on `sys.path`, so a `py_compile.py` or an `importlib/` package there would run
//! as root inside venvslim's compile step. So every Python child gets:
//! - `-I` (isolated: no `PYTHON*` variables, no user site, and since 3.11 no working directory
//!   on `sys.path`), and the compile driver also `-S` (no `site`: the venv's `.pth` files run
//!   nothing) and `-B` (importing the stdlib writes no `__pycache__` outside the output);
//! - `/` as its working directory: a directory no venv can plant files in;
//! - an environment without `PYTHON*` and `VIRTUAL_ENV`, so neither it nor anything it starts
//!   inherits a `PYTHONPATH` or `PYTHONSTARTUP` from venvslim's caller;
//! - `PR_SET_PDEATHSIG(SIGKILL)`: when venvslim dies (killed, crashed) its children die with it,
//!   instead of an orphaned compile worker writing into the staging directory for seconds after.
//!   The signal follows the thread that spawned the child; venvslim spawns from the main thread
//!   or rayon's pool, which live as long as the process.
//!
//! One exception, for reproducible bytes: before 3.11, marshal writes a frozenset constant
//! (`x in {"a", "b"}`) in hash order, so the compile driver needs `PYTHONHASHSEED=0`, which
//! `-I` (through `-E`) ignores. Since 3.11 marshal sorts frozensets and the seed changes no byte
//! (checked on 3.6 to 3.13: two seeds, different bytes up to 3.10, the same bytes from 3.11). So
//! the compile driver runs with `-I -S -B` on 3.11+, and with `-s -S -B` plus `PYTHONHASHSEED=0`
//! before: `-E` would only drop variables the scrubbed environment no longer holds, and the driver
//! deletes the working directory's `''` from `sys.path` before its first import (there is no `-P`
//! before 3.11), while `/` stays its working directory.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::venv::PythonVersion;

/// The working directory of every child.
pub const CWD: &str = "/";

/// The first statement of code run without `-I`: drop the working directory (`''`) from
/// `sys.path` before anything is imported.
const DROP_CWD: &str = "import sys\nsys.path[:] = [p for p in sys.path if p]\n";

/// `mount --bind TREE AT`, read-only, then exec the rest of the command line. Run by `sh` under
/// `unshare -m`, so the mount is private to the child and gone when it exits.
const READ_ONLY_MOUNT: &str =
    r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@""#;

/// A child process of venvslim: working directory `/`, no `PYTHON*` or `VIRTUAL_ENV` in its
/// environment, killed (SIGKILL) when venvslim dies.
pub fn child(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if name.starts_with("PYTHON") || name == "VIRTUAL_ENV" {
            cmd.env_remove(&k);
        }
    }
    cmd.current_dir(CWD);
    die_with_us(&mut cmd);
    cmd
}

/// Have `cmd`'s process killed (SIGKILL) when venvslim dies: `PR_SET_PDEATHSIG` set between
/// fork and exec. For children that are not Python too (venvslim running itself in `bench`).
pub fn die_with_us(cmd: &mut Command) -> &mut Command {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls only prctl(2) and
    // getppid(2), both async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // venvslim died between fork and prctl: the signal was missed, so do not run.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        })
    }
}

/// `unshare -m sh -c 'mount TREE read-only at AT; exec PROGRAM ...'`, as a `child`: arguments
/// added to the returned command go to `program`. Needs root (CAP_SYS_ADMIN).
pub fn read_only(tree: &Path, at: &Path, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = child("unshare");
    cmd.args(["-m", "sh", "-c", READ_ONLY_MOUNT, "sh"])
        .arg(tree)
        .arg(at)
        .arg(program);
    cmd
}

/// Whether the read-only mount works here (root with `unshare -m`): mount `tree` (an empty
/// directory will do) at `at` and check a write there fails.
pub fn read_only_works(tree: &Path, at: &Path) -> bool {
    read_only(tree, at, "sh")
        .args(["-c", r#"! touch "$0/.venvslim-rw-probe" 2>/dev/null"#])
        .arg(at)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `interpreter -I` as a `child`, under a read-only mount of `tree` at `at` when `mount` is
/// given. Arguments added to the returned command go to the interpreter.
pub fn isolated(interpreter: &Path, mount: Option<(&Path, &Path)>) -> Command {
    let mut cmd = match mount {
        Some((tree, at)) => read_only(tree, at, interpreter),
        None => child(interpreter),
    };
    cmd.arg("-I");
    cmd
}

/// `interpreter ... -c code` for the compile driver and the version probe: isolated, without
/// `site` and `-B`, with reproducible bytes on every version (see the module comment for why
/// Python < 3.11 gets `-s -S` and `PYTHONHASHSEED=0` instead of `-I`).
pub fn compiler(interpreter: &Path, version: PythonVersion, code: &str) -> Command {
    let mut cmd = child(interpreter);
    if (version.major, version.minor) >= (3, 11) {
        cmd.args(["-I", "-S", "-B", "-c", code]);
    } else {
        cmd.env("PYTHONHASHSEED", "0")
            .args(["-s", "-S", "-B", "-c"])
            .arg(format!("{DROP_CWD}{code}"));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn children_start_in_root_without_python_variables() {
        let out = child("sh")
            .args(["-c", "pwd; env | grep -E '^(PYTHON|VIRTUAL_ENV)' || true"])
            .env("PYTHONPATH_IS_SET_LATER", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // Variables set on purpose after `child` stay (PYTHONHASHSEED for old compilers).
        assert_eq!(text, "/\nPYTHONPATH_IS_SET_LATER=1\n");
    }

    #[test]
    fn children_die_with_the_thread_that_started_them() {
        use std::os::unix::process::ExitStatusExt;
        // PR_SET_PDEATHSIG fires when the spawning thread ends: a thread that starts a long
        // sleep and returns stands in for venvslim dying. Without the hook the sleep would end
        // normally (exit 0) after 60 s.
        let mut sleeper = std::thread::spawn(|| {
            child("sleep")
                .arg("60")
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .join()
        .unwrap();
        let status = sleeper.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    }
}
