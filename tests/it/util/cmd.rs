//! One way to run a program under test: the venvslim binary, a venv's Python, or a helper
//! (`unshare`, `python3`). Every run goes through `TestCommand`, so every failed expectation
//! prints the same thing: the command line, the directory it ran in, its exit status, and the
//! tail of stdout and stderr. A test that has to guess what the binary saw is a test nobody can
//! debug from a CI log.
//!
//! venvslim runs from a fresh empty directory unless told otherwise (so no `./pyproject.toml`
//! with a `[tool.venvslim]` table is read by accident), without `SOURCE_DATE_EPOCH` or fault
//! injection leaking in from the caller's environment. A Python runs without `PYTHON*` and
//! `VIRTUAL_ENV` variables. Stdin is closed; a run that outlives its time limit is killed and
//! fails the test (a guard against hangs, not a timing assertion).

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a run may take before it is killed: generous enough for slimming the largest real
/// venv on a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(1800);

/// The venvslim binary Cargo built for these tests.
pub fn venvslim_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_venvslim"))
}

/// `venvslim`, with no `SOURCE_DATE_EPOCH` or fault injection from the environment.
pub fn venvslim() -> TestCommand {
    let mut c = TestCommand::new(venvslim_bin());
    c.env_remove("SOURCE_DATE_EPOCH")
        .env_remove("VENVSLIM_FAULT_AFTER")
        .env_remove("VENVSLIM_FAULT_STOP");
    c
}

/// `venvslim slim VENV -o OUT`: add the test's options with `.args(..)`.
pub fn slim(venv: &Path, out: &Path) -> TestCommand {
    let mut c = venvslim();
    c.arg("slim").arg(venv).arg("-o").arg(out);
    c
}

/// `venvslim slim VENV` with no `-o` (`--in-place`, `--dry-run`).
pub fn slim_venv(venv: &Path) -> TestCommand {
    let mut c = venvslim();
    c.arg("slim").arg(venv);
    c
}

/// A Python interpreter (`python3`, or a venv's `bin/python`), without `PYTHON*` or
/// `VIRTUAL_ENV` variables from the environment.
pub fn python(interpreter: impl AsRef<OsStr>) -> TestCommand {
    let mut c = TestCommand::new(interpreter);
    c.clean_python_env();
    c
}

/// A command to run, and where.
pub struct TestCommand {
    cmd: Command,
    /// None: a fresh empty directory, made for the run.
    cwd: Option<PathBuf>,
    timeout: Duration,
}

impl TestCommand {
    /// `program`, run from a fresh empty directory.
    pub fn new(program: impl AsRef<OsStr>) -> TestCommand {
        TestCommand {
            cmd: Command::new(program),
            cwd: None,
            timeout: TIMEOUT,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.env_remove(key);
        self
    }

    /// Remove `PYTHON*` and `VIRTUAL_ENV` from the child's environment.
    pub fn clean_python_env(&mut self) -> &mut TestCommand {
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("PYTHON") || k == "VIRTUAL_ENV" {
                self.cmd.env_remove(k);
            }
        }
        self
    }

    /// Run in `dir` instead of a fresh empty directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut TestCommand {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn timeout(&mut self, timeout: Duration) -> &mut TestCommand {
        self.timeout = timeout;
        self
    }

    /// The command, to spawn by hand (a test that signals the child or reads it as it runs); it
    /// runs in the directory set with `current_dir`, else in the test's.
    pub fn command(&mut self) -> &mut Command {
        if let Some(d) = &self.cwd {
            self.cmd.current_dir(d);
        }
        &mut self.cmd
    }

    /// Run to the end, whatever the exit status.
    pub fn run(&mut self) -> Run {
        let empty;
        let cwd = match &self.cwd {
            Some(d) => d.clone(),
            None => {
                empty = super::scratch("cwd-");
                empty.path().to_path_buf()
            }
        };
        self.cmd.current_dir(&cwd);
        let line = format!("{:?}", self.cmd);
        let output = run_with_timeout(&mut self.cmd, self.timeout);
        Run { output, line, cwd }
    }

    /// Run, and fail the test unless it exits 0.
    pub fn ok(&mut self) -> Run {
        let r = self.run();
        r.assert_code(0);
        r
    }

    /// Run, fail the test unless it exits 0, and return stdout as JSON.
    pub fn json(&mut self) -> Value {
        self.ok().json()
    }

    /// Add `--json`, run, and return the report of a run that exited 0 with no failures.
    pub fn report(&mut self) -> Value {
        let r = self.arg("--json").ok();
        let report = r.json();
        assert_eq!(
            report["failures"],
            Value::Array(vec![]),
            "failures in the report:\n{r}"
        );
        report
    }
}

/// A finished run: its output, and what it was, for failure messages.
pub struct Run {
    pub output: Output,
    line: String,
    cwd: PathBuf,
}

impl Deref for Run {
    type Target = Output;
    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Run {
    /// Fail the test, showing the run, unless it exited `code`.
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit {code}:\n{self}"
        );
        self
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// How many fault points a debug build passed, run with `VENVSLIM_FAULT_AFTER=count`: it must
    /// exit 0 and say so on stderr.
    pub fn fault_points(&self) -> u32 {
        self.assert_code(0);
        self.stderr()
            .lines()
            .find_map(|l| l.strip_prefix("venvslim: fault points passed: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no fault point count on stderr:\n{self}"))
    }

    /// Stdout as JSON (a failed parse shows the run).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\ncwd: {}\n{}",
            self.line,
            self.cwd.display(),
            show_output(&self.output)
        )
    }
}

/// Text of a run (or of a bare `Output`) for failure messages.
pub fn show(out: &impl Shown) -> String {
    out.shown()
}

/// What `show` can describe.
pub trait Shown {
    fn shown(&self) -> String;
}

impl Shown for Run {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for Output {
    fn shown(&self) -> String {
        show_output(self)
    }
}

fn show_output(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stdout), 3000),
        tail(&String::from_utf8_lossy(&out.stderr), 3000)
    )
}

/// The last `max` bytes of `s` (on a char boundary).
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Spawn with piped stdout/stderr and null stdin; kill and panic after `timeout`.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = t_err.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}
