//! Cold start of each strategy's tree, the way a container starts it: the tree bind-mounted
//! read-only at the original venv's path in a private mount namespace (`unshare -m`, as root),
//! so shebangs, `pyvenv.cfg` and the compiled pycs' paths are those of `COPY --from=builder`,
//! and Python cannot write the bytecode it misses: a tree without usable pycs pays for
//! compiling at every start, as it does under `docker run --read-only`.
//!
//! Without root the command runs on the tree where it is, with `-B` for the default command
//! (so nothing is written); the report says so. Each timed run is one process start to exit,
//! the mount included: the same few milliseconds for every strategy.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What is run.
#[derive(Debug, Clone)]
pub enum Run {
    /// `VENV/bin/python -I -c 'import m1, m2, ...'`.
    Imports {
        /// The interpreter's path relative to the venv root (`bin/python3.11`).
        python: PathBuf,
        /// The top-level modules imported.
        modules: Vec<String>,
    },
    /// `sh -c COMMAND`, with `$VENV` set to where the tree is.
    Shell(String),
}

impl Run {
    /// The command as the report shows it (`$VENV` for the venv's path).
    pub fn describe(&self) -> String {
        match self {
            Run::Imports { python, modules } => format!(
                "$VENV/{} -I -c 'import {}'",
                python.display(),
                modules.join(", ")
            ),
            Run::Shell(cmd) => cmd.clone(),
        }
    }
}

/// How runs are started.
#[derive(Debug, Clone)]
pub struct Starter {
    /// The command timed.
    pub run: Run,
    /// The original venv's path: where trees are mounted.
    pub at: PathBuf,
    /// Mount read-only at `at` (root); else run in place.
    pub read_only: bool,
    /// One run's limit; a run that takes longer is killed and counted as failed.
    pub timeout: Duration,
}

/// One run: its wall time, or why it failed (last line of stderr).
pub type Timing = Result<Duration, String>;

impl Starter {
    fn command(&self, tree: &Path) -> Command {
        let venv = if self.read_only { &self.at } else { tree };
        let mount = self.read_only.then_some((tree, self.at.as_path()));
        let mut c = match &self.run {
            Run::Imports { python, modules } => {
                let mut c = crate::python::isolated(&venv.join(python), mount);
                if !self.read_only {
                    c.arg("-B");
                }
                c.arg("-c").arg(format!("import {}", modules.join(", ")));
                c
            }
            Run::Shell(cmd) => {
                let mut c = match mount {
                    Some((tree, at)) => crate::python::read_only(tree, at, "sh"),
                    None => crate::python::child("sh"),
                };
                c.arg("-c").arg(cmd);
                c
            }
        };
        c.env("VENV", venv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Run once on `tree` and time it.
    pub fn time(&self, tree: &Path) -> Timing {
        let mut cmd = self.command(tree);
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
        let mut stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                // Whatever was read is kept: stderr only explains a failure already seen.
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > self.timeout => {
                    // Best effort: the timeout is the result, whatever the cleanup says.
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = reader.join();
                    return Err(format!("timed out after {} s", self.timeout.as_secs()));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(format!("cannot wait: {e}")),
            }
        };
        let elapsed = start.elapsed();
        let err = reader.join().unwrap_or_default();
        if status.success() {
            Ok(elapsed)
        } else {
            let text = String::from_utf8_lossy(&err);
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!("{status}: {}", last.trim()))
        }
    }
}

/// Median of the samples (the mean of the middle two for an even count).
pub fn median(xs: &[Duration]) -> Option<Duration> {
    let mut v = xs.to_vec();
    v.sort();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), Some(ms(2)));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Some(Duration::from_micros(2500))
        );
    }
}
