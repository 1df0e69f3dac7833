//! `--run CMD`: the user's own workload, run on the input and on the slim tree, recorded.
//!
//! Static evidence (the import guard, the zip scan, `verify`'s imports) cannot see a data file
//! read through a module passed as a parameter, or a submodule imported at first request. The
//! user's smoke test can: it is the behaviour they ship. So CMD runs twice, each time under
//! `sh -c` with `$VENV` set to where the tree is, and with a recording hook (`hook.py`, an audit
//! hook installed as `sitecustomize` from a private directory on PYTHONPATH, so it reaches every
//! Python the workload starts and changes nothing in the tree):
//! - on the input, read-only (a private read-only bind mount of the venv onto itself as root;
//!   else `PYTHONDONTWRITEBYTECODE=1` only): it must pass there, or nothing is slimmed;
//! - on the output at the path it will live at (mounted read-only there, as `bench` does).
//!
//! `evidence.rs` turns the two recordings into `verify::Finding`s for the repair loop: what the
//! workload touched that the plan took away, what it missed on the output. See
//! docs/verification.md for what each level of checking proves.

mod evidence;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

pub use evidence::{compare, findings, Layout};

use crate::apply::scratch::Scratch;

/// The hook, written as `sitecustomize.py` into a private directory.
const HOOK_PY: &str = include_str!("hook.py");

/// The workload's own PID namespace (root): every process it starts, a `setsid` daemon too,
/// dies when it ends or when venvslim dies (the death signal reaches `unshare`, `--kill-child`
/// passes it on to the namespace's first process, and the kernel ends the rest). Without it,
/// a test suite went on running, orphaned, after venvslim was stopped. `/proc` is mounted anew
/// so the workload's `os.getpid()` and `/proc/PID` agree.
const PID_NS: [&str; 4] = ["--pid", "--fork", "--kill-child", "--mount-proc"];

/// Output kept from a run (its end): enough for a traceback, not a whole test log.
const OUTPUT_TAIL: usize = 16 * 1024;

/// One run's limit. A workload is a smoke test or a test suite, not a service: one that runs
/// longer is killed and counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What one run of a workload touched under the tree, as the hook recorded it (paths relative
/// to the tree's root, checked to be plain relative paths).
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Files opened, directories listed, libraries loaded: path -> "open" | "list" | "dlopen".
    pub touched: BTreeMap<PathBuf, &'static str>,
    /// Modules loaded from the tree (name -> file), as `sys.modules` held them at exit.
    pub modules: BTreeMap<String, PathBuf>,
    /// Modules an uncaught `ModuleNotFoundError` named.
    pub missing: BTreeSet<String>,
    /// Every module name the import system was asked to load (found or not), as it was asked:
    /// what a process that never reaches its exit handlers (a forked worker, `os._exit`) leaves
    /// of its modules.
    pub imported: BTreeSet<String>,
    /// Files under the tree in an uncaught exception's traceback.
    pub frames: BTreeSet<PathBuf>,
    /// Processes the hook ran in (the workload's Pythons, its subprocesses included).
    pub processes: usize,
}

/// One run of one workload on one tree.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The command, as given (`$VENV` unexpanded).
    pub command: String,
    /// Where the tree was when it ran (`$VENV`).
    #[serde(serialize_with = "crate::jsonpath::lossy_path")]
    pub at: PathBuf,
    /// Its exit code (None: killed by a signal, or timed out).
    pub exit_code: Option<i32>,
    /// "exit code 0", "killed by signal 9", "timed out after 1800 s".
    pub status: String,
    /// Exit code 0.
    pub passed: bool,
    /// Whether the tree was mounted read-only for it.
    pub read_only: bool,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Python processes the recording hook ran in (0: it reached none, see the hint).
    pub processes: usize,
    /// Paths under the tree it opened, listed or loaded, and modules it loaded from there (0: it
    /// never used the venv, e.g. `python3` instead of `$VENV/bin/python`).
    pub touched: usize,
    /// The end of its stdout and stderr, interleaved as written.
    pub output: String,
    /// What it touched.
    #[serde(skip)]
    pub record: Recording,
}

impl Run {
    /// Its output for an error message: the end of it between markers, or that it printed
    /// nothing.
    pub fn output_block(&self) -> String {
        if self.output.trim().is_empty() {
            "(it printed nothing)".to_string()
        } else {
            format!(
                "--- its output (the end) ---\n{}\n--- end ---",
                self.output.trim_end()
            )
        }
    }
}

/// Runs workloads with the hook: owns the private directory the hook lives in.
pub struct Runner {
    hook: Scratch,
    scratch: Scratch,
    runs: std::cell::Cell<usize>,
    /// Whether runs may use a read-only mount (root with `unshare -m`, checked once).
    pub can_mount: bool,
    /// Whether, under that mount, the workload can have a PID namespace of its own (`PID_NS`).
    own_pids: bool,
    /// The working directory of each run: the caller's, so `--run 'pytest tests/'` means what
    /// it says.
    pub cwd: PathBuf,
}

impl Runner {
    /// Write the hook into a new private temp directory and check whether mounts work (with
    /// `probe_root`, the input, mounted read-only onto itself).
    pub fn new(probe_root: &Path) -> Result<Runner> {
        let scratch = Scratch::temp("run")?;
        let hook = Scratch::inside(&scratch.dir, "hook")?;
        hook.put("sitecustomize.py", HOOK_PY.as_bytes())?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let can_mount = crate::python::read_only_works(probe_root, probe_root);
        let own_pids = can_mount
            && crate::python::read_only(probe_root, probe_root, "unshare")
                .args(PID_NS)
                .arg("true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        Ok(Runner {
            can_mount,
            own_pids,
            hook,
            scratch,
            runs: std::cell::Cell::new(0),
            cwd,
        })
    }

    /// Run `command` on the tree it is held to (`root`, where it is: the input, or verify's
    /// original), which it must pass: else an error that names `what`, says `then` and carries
    /// the end of the workload's output.
    pub fn run_reference(&self, command: &str, root: &Path, what: &str, then: &str) -> Result<Run> {
        let run = self.run(command, root, root)?;
        if !run.passed {
            bail!(
                "--run `{command}` fails on {what} `{}` ({}), {then}\n{}\nhint: make the workload pass there first (it runs with `sh -c`, $VENV={}, from the current directory{})",
                root.display(),
                run.status,
                run.output_block(),
                run.at.display(),
                if run.read_only { ", on a read-only mount" } else { "" }
            );
        }
        Ok(run)
    }

    /// Run `command` on `tree`, seen by the workload at `at` (mounted there read-only when the
    /// runner can; else run where it is, `at` ignored).
    pub fn run(&self, command: &str, tree: &Path, at: &Path) -> Result<Run> {
        let n = self.runs.get();
        self.runs.set(n + 1);
        let log = Scratch::inside(&self.scratch.dir, &format!("log{n}"))?;
        let output_file = log.create("output")?;
        // Read back through this handle, opened before the workload starts: the file at that
        // path afterwards may be anything the workload put there (a link to a huge file).
        let output_reader = std::fs::File::open(log.file("output")?)
            .context("cannot read back the workload's output file")?;
        let logs = Scratch::inside(&log.dir, "events")?;
        let seen_at = if self.can_mount { at } else { tree };
        let mut cmd = match (self.can_mount, self.own_pids) {
            (true, true) => {
                let mut cmd = crate::python::read_only(tree, at, "unshare");
                cmd.args(PID_NS).arg("sh");
                cmd
            }
            (true, false) => crate::python::read_only(tree, at, "sh"),
            _ => crate::python::child("sh"),
        };
        cmd.arg("-c")
            .arg(command)
            .current_dir(&self.cwd)
            .env("VENV", seen_at)
            .env("PYTHONPATH", &self.hook.dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("VENVSLIM_RUN_TREE", seen_at)
            .env("VENVSLIM_RUN_LOG", &logs.dir)
            .stdin(Stdio::null())
            .stdout(
                output_file
                    .try_clone()
                    .context("cannot share the output file")?,
            )
            .stderr(output_file)
            .process_group(0);
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run `sh -c {command}`"))?;
        let status = loop {
            if let Some(status) = child.try_wait().context("cannot wait for the workload")? {
                // What it left running in its process group (a server started with `&` and
                // never stopped) goes with it: it would hold the input's port or files when
                // the same workload runs on the output, and outlive venvslim.
                // SAFETY: kill(2) on the child's own process group, which we created; the
                // group's id stays reserved while any member of it is alive.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                break Some(status);
            }
            if start.elapsed() > TIMEOUT {
                // SAFETY: kill(2) on the child's own process group, which we created.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let seconds = start.elapsed().as_secs_f64();
        let (exit_code, status_text) = match status {
            None => (None, format!("timed out after {} s", TIMEOUT.as_secs())),
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => (Some(c), format!("exit code {c}")),
                (None, Some(sig)) => (None, format!("killed by signal {sig}")),
                (None, None) => (None, s.to_string()),
            },
        };
        let output = tail(&output_reader);
        let record = read_events(&logs.dir);
        Ok(Run {
            command: command.to_string(),
            at: seen_at.to_path_buf(),
            passed: exit_code == Some(0),
            exit_code,
            status: status_text,
            read_only: self.can_mount,
            seconds,
            processes: record.processes,
            touched: record.touched.len() + record.modules.len(),
            output,
            record,
        })
    }
}

/// The last `OUTPUT_TAIL` bytes of a file, from a line start, lossily decoded. Only those bytes
/// are read: a workload may print gigabytes.
fn tail(file: &std::fs::File) -> String {
    let len = file.metadata().map_or(0, |m| m.len());
    let from = len.saturating_sub(OUTPUT_TAIL as u64);
    let mut buf = Vec::new();
    let mut f = file;
    if f.seek(SeekFrom::Start(from)).is_ok() {
        // What was read is kept: it only explains a result.
        let _ = f.take(OUTPUT_TAIL as u64).read_to_end(&mut buf);
    }
    let mut start = 0;
    if from > 0 {
        start = buf.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    }
    String::from_utf8_lossy(&buf[start..]).into_owned()
}

/// Read every `PID.log` the hook wrote: a kind, then hex-encoded values, tab-separated. A line
/// that is not a fact (the workload may write anything there, it runs as us) is skipped; a path
/// that is not plain and relative is dropped.
fn read_events(dir: &Path) -> Recording {
    let mut rec = Recording::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return rec;
    };
    for e in entries.flatten() {
        let Ok(bytes) = crate::safepath::read_nofollow(&e.path()) else {
            continue;
        };
        for line in bytes.split(|&b| b == b'\n') {
            let mut fields = line.split(|&b| b == b'\t');
            let kind = fields.next().unwrap_or_default();
            let values: Option<Vec<String>> = fields.map(unhex).collect();
            let Some(values) = values else {
                continue;
            };
            let path = |i: usize| {
                values
                    .get(i)
                    .and_then(|v| crate::safepath::plain_relative(Path::new(v)))
            };
            let name = |i: usize| values.get(i).filter(|v| is_dotted(v)).cloned();
            match kind {
                b"hello" => rec.processes += 1,
                b"open" | b"list" | b"dlopen" => {
                    if let Some(p) = path(0) {
                        let kind = match kind {
                            b"open" => "open",
                            b"list" => "list",
                            _ => "dlopen",
                        };
                        rec.touched.entry(p).or_insert(kind);
                    }
                }
                b"module" => {
                    if let (Some(n), Some(p)) = (name(0), path(1)) {
                        rec.modules.insert(n, p);
                    }
                }
                b"missing" => {
                    if let Some(n) = name(0) {
                        rec.missing.insert(n);
                    }
                }
                b"import" => {
                    if let Some(n) = name(0) {
                        rec.imported.insert(n);
                    }
                }
                b"frame" => {
                    if let Some(p) = path(0) {
                        rec.frames.insert(p);
                    }
                }
                _ => {}
            }
        }
    }
    rec
}

/// Hex (two digits per byte) to a UTF-8 string; None for anything else (a path that is not
/// UTF-8 cannot be one of the inventory's either way: it is dropped).
fn unhex(hex: &[u8]) -> Option<String> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    let bytes: Option<Vec<u8>> = hex
        .chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// A dotted module name: identifiers separated by dots.
fn is_dotted(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            let mut c = p.chars();
            c.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && c.all(|c| c == '_' || c.is_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_read_back_and_forged_ones_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let log = format!(
            "hello\nhello\nopen\t{}\nlist\t{}\nopen\t{}\nopen\t{}\nopen\tzz\nmodule\t{}\t{}\nmissing\t{}\nmissing\t{}\nframe\t{}\n{{\"json\": 1}}\n",
            hex("lib/site-packages/a/data.json"),
            hex("lib/site-packages/a"),
            hex("../etc/passwd"),
            hex("/etc/passwd"),
            hex("a.b"),
            hex("lib/site-packages/a/b.py"),
            hex("django.test"),
            hex("not a module"),
            hex("lib/site-packages/a/__init__.py"),
        );
        std::fs::write(dir.path().join("1.log"), log).unwrap();
        let rec = read_events(dir.path());
        assert_eq!(rec.processes, 2);
        let touched: Vec<(String, &str)> = rec
            .touched
            .iter()
            .map(|(p, k)| (p.display().to_string(), *k))
            .collect();
        assert_eq!(
            touched,
            [
                ("lib/site-packages/a".to_string(), "list"),
                ("lib/site-packages/a/data.json".to_string(), "open")
            ]
        );
        assert_eq!(rec.modules.len(), 1);
        assert_eq!(rec.missing.iter().collect::<Vec<_>>(), ["django.test"]);
        assert_eq!(rec.frames.len(), 1);
    }
}
