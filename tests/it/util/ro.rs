//! Running a command the way a container runs the slimmed tree: in a private mount namespace,
//! the tree bind-mounted read-only onto the original venv's path (as
//! `COPY --from=builder /slim /venv` + `docker run --read-only` would), so shebangs and
//! `bin/python` resolve into it and nothing can write a bytecode cache.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use super::{is_root, path_str, scratch, Run, TestCommand};

const RO_SCRIPT: &str =
    r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@""#;

/// Default time limit of a command run by `ro_run`.
pub const RO_TIMEOUT: Duration = Duration::from_secs(600);

/// Run `argv` in a private mount namespace where `slim` is bind-mounted read-only onto `at` (the
/// original venv's path): console-script shebangs and the venv's own `bin/python` then resolve into
/// the slim tree, exactly as in a container, and nothing can write bytecode caches. The mount is
/// private to the child (`unshare -m` makes propagation private), so the host never sees it.
/// `PYTHON*` and `VIRTUAL_ENV` variables are removed from the child's environment.
///
/// Panics if the command outlives `RO_TIMEOUT`. Call `require_ro_namespace()` first.
pub fn ro_run(slim: &Path, at: &Path, argv: &[&str]) -> Run {
    ro_run_timeout(slim, at, argv, RO_TIMEOUT)
}

/// `ro_run` with another time limit.
pub fn ro_run_timeout(slim: &Path, at: &Path, argv: &[&str], timeout: Duration) -> Run {
    let mut cmd = TestCommand::new("unshare");
    cmd.args(["-m", "sh", "-c", RO_SCRIPT, "sh"])
        .arg(slim)
        .arg(at)
        .args(argv)
        .clean_python_env()
        .timeout(timeout);
    cmd.run()
}

/// Whether `ro_run` works here: checked once by mounting a scratch dir read-only onto another and
/// checking that the content shows and a write fails.
fn ro_namespace_works() -> &'static Result<(), String> {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    OK.get_or_init(|| {
        let d = scratch("ro-check-");
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        fs::create_dir_all(&src)
            .and_then(|_| fs::create_dir_all(&dst))
            .map_err(|e| e.to_string())?;
        fs::write(src.join("f"), "visible").map_err(|e| e.to_string())?;
        let script = format!(
            r#"test "$(cat '{0}/f')" = visible && ! touch '{0}/g' 2>/dev/null"#,
            path_str(&dst)
        );
        let out = std::panic::catch_unwind(|| {
            ro_run_timeout(&src, &dst, &["sh", "-c", &script], Duration::from_secs(30))
        })
        .map_err(|_| "unshare timed out".to_string())?;
        if out.status.success() && !src.join("g").exists() {
            Ok(())
        } else {
            Err(format!(
                "`unshare -m` + read-only bind mount failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
}

/// True if read-only mounts work. If they don't: panics when running as root (CI runs as root, so
/// this must work there), otherwise prints a loud SKIP note and returns false: the caller returns.
pub fn require_ro_namespace(test: &str) -> bool {
    match ro_namespace_works() {
        Ok(()) => true,
        Err(why) if is_root() => {
            panic!("{test}: running as root but the read-only mount namespace does not work: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n*** SKIP {test}: needs root for `unshare -m` + read-only bind mounts ({why}) ***\n"
            );
            false
        }
    }
}
