//! The guarded interpreter: one `probe.py` worker at a time, asked one question at a time.
//!
//! Why Rust owns this and not a Python supervisor: the timeout must hold even when the import
//! blocks the interpreter in C code (a GIL-holding loop, a deadlock in a library's init), and a
//! segfault must not take the bookkeeping down with it. So each answer is awaited with a deadline
//! on a channel fed by a reader thread; when the worker dies (signal, `os._exit`) or misses the
//! deadline, its process group is killed, the request gets `Crashed`/`TimedOut`, and the next
//! request starts a fresh worker. The worker runs in its own process group so a hanging import's
//! children die with it.
//!
//! Read-only: as root, the worker can be started under `unshare -m` with the venv bind-mounted
//! read-only onto itself (a private mount namespace: nothing outside sees it). That is how the
//! tree runs in `docker run --read-only`; a package that writes into itself at import fails here
//! as it would there. The worker checks the mount itself (statvfs ST_RDONLY) in its hello line.
//! Either way the interpreter runs isolated (`python::isolated`: `-I`, from `/`, killed if we
//! die); it keeps `site`, which is what puts the venv's site-packages on `sys.path`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// `probe.py`, passed with `-c` so nothing is written anywhere.
const PROBE_PY: &str = include_str!("probe.py");

/// How a worker is started.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    pub interpreter: PathBuf,
    /// The venv root (canonical): what the read-only mount covers.
    pub root: PathBuf,
    pub site_packages: PathBuf,
    pub bin: Option<PathBuf>,
    /// Start under `unshare -m` with `root` mounted read-only.
    pub read_only: bool,
    /// Probe every module on disk, not only top-level and extension modules.
    pub deep: bool,
}

/// The worker's first line.
#[derive(Debug, Clone, serde::Deserialize)]
pub(super) struct Hello {
    pub python: String,
    pub prefix: PathBuf,
    #[allow(dead_code)] // kept for debugging output
    pub site_on_path: bool,
    pub read_only: bool,
}

/// What came back for one request.
pub(super) enum Reply {
    Line(Value),
    TimedOut,
    /// The worker died; how ("SIGSEGV", "exit code 3").
    Died(String),
}

pub(super) struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Worker {
    /// Start a worker and read its hello line (waiting at most `startup`).
    pub fn start(launch: &Launch, startup: Duration) -> Result<(Worker, Hello)> {
        let mount = launch
            .read_only
            .then_some((launch.root.as_path(), launch.root.as_path()));
        let mut cmd = crate::python::isolated(&launch.interpreter, mount);
        let bin = launch.bin.as_deref().unwrap_or(Path::new(""));
        cmd.args(["-B", "-c", PROBE_PY])
            .arg(&launch.site_packages)
            .arg(bin)
            .arg(if launch.deep { "deep" } else { "" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("VENVSLIM_VERIFY_DEBUG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .process_group(0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run `{}`", launch.interpreter.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("worker has no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            lines,
        };
        let hello = match worker.wait_line(startup) {
            Reply::Line(v) => serde_json::from_value::<Hello>(v)
                .context("the probe's first line is not a hello")?,
            Reply::TimedOut => {
                worker.kill();
                bail!(
                    "`{}` did not start within {}s",
                    launch.interpreter.display(),
                    startup.as_secs()
                )
            }
            Reply::Died(how) => bail!(
                "`{}` exited before it could probe anything ({how})",
                launch.interpreter.display()
            ),
        };
        Ok((worker, hello))
    }

    /// Send one request and wait for its answer at most `timeout`. After `TimedOut` or `Died`
    /// the worker is finished (killed and reaped).
    pub fn ask(&mut self, request: &Value, timeout: Duration) -> Reply {
        let line = request.to_string() + "\n";
        let sent = self.stdin.as_mut().is_some_and(|s| {
            s.write_all(line.as_bytes())
                .and_then(|()| s.flush())
                .is_ok()
        });
        if !sent {
            return Reply::Died(self.reap());
        }
        self.wait_line(timeout)
    }

    fn wait_line(&mut self, timeout: Duration) -> Reply {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => match serde_json::from_str(&line) {
                Ok(v) => Reply::Line(v),
                // Our own protocol broke: treat like a crash, with the evidence.
                Err(e) => {
                    self.kill();
                    Reply::Died(format!("unreadable answer ({e}): {line:.200}"))
                }
            },
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Reply::TimedOut
            }
            Err(RecvTimeoutError::Disconnected) => Reply::Died(self.reap()),
        }
    }

    /// Wait for the dead worker and say how it ended.
    fn reap(&mut self) -> String {
        self.stdin = None;
        // Its stdout closed; if it is somehow still running (a module closed fd 1's duplicate),
        // it is of no use any more.
        if !self.exited_within(Duration::from_secs(2)) {
            // Fails only when it has exited meanwhile; wait() below says how it ended.
            let _ = self.child.kill();
        }
        match self.child.wait() {
            Ok(status) => match (status.signal(), status.code()) {
                (Some(sig), _) => signal_name(sig),
                (None, Some(code)) => format!("exit code {code}"),
                (None, None) => "ended".to_string(),
            },
            Err(e) => format!("cannot wait for it: {e}"),
        }
    }

    /// Kill the worker's process group (the import may have started children), then reap it.
    pub fn kill(&mut self) {
        let pgid = self.child.id();
        // Best effort, all three: the group or the child may be gone already, and a worker that
        // is killed is not used again whatever happens here.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn exited_within(&mut self, limit: Duration) -> bool {
        let step = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        loop {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return true;
            }
            if waited >= limit {
                return false;
            }
            std::thread::sleep(step);
            waited += step;
        }
    }

    /// Close its stdin (it then exits), give it a moment, then make sure it is gone.
    pub fn finish(mut self) {
        self.stdin = None;
        self.exited_within(Duration::from_secs(1));
        // Drop kills it if it is still there.
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}
