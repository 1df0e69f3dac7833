//! `venvslim verify` and `slim --verify`: does the tree still import and run what it did?
//!
//! Rules delete files by name and the import guard reads imports statically; neither can see an
//! import of a computed name, a package reading its own metadata, or a console script whose
//! target went. So we ask the venv's own interpreter, the way the application will: import every
//! module on disk (`Options::deep`; else every top-level and extension module), look up every
//! distribution through importlib.metadata (`version()`, entry point groups), and resolve every
//! console script's target. `probe` does that for one tree (read-only when it can, as in
//! `docker run --read-only`); `regressions` compares the original's probe with the slim tree's
//! and keeps only what broke; `restore::decide` says what the plan took from the distributions
//! that broke, for apply to put back (this module reads trees and runs Python; writing them back
//! is apply's).
//!
//! Files: `probe.py` (the worker, Python), `worker.rs` (one guarded worker process),
//! `compare.rs` (regressions, problems), `restore.rs` (what to put back), `repair.rs` (the
//! probe-restore-probe loop of `slim --verify`).

mod compare;
mod repair;
mod restore;
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use crate::apply::{Restored, ELF_RULE};
pub use compare::{problems, regressions, Regression};
pub use repair::{
    missing_modules, module_paths, module_paths_in, package_in, package_of, quoted_paths, repair,
    repair_with, Check, Finding, PutBack, Repair, Step, MAX_ROUNDS,
};
pub use restore::{decide, decide_paths, restore, Restore};

use crate::venv::{Venv, VenvKind};
use worker::{Launch, Reply, Worker};

/// How a tree is probed.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per module (and per console script); a module that takes longer is `TimedOut`.
    pub timeout: Duration,
    /// Run the interpreter with the venv bind-mounted read-only (needs root and `unshare -m`;
    /// falls back to a normal run, and `Probe::read_only` says which it was).
    pub read_only: bool,
    /// Import every module on disk (each submodule of each package), not only top-level and
    /// extension modules: catches a removed `pkg/sub.py` that kept code imports
    /// (django.contrib.staticfiles.testing needs django.test). `slim --verify` and
    /// `verify --against` probe deeply; its cost is about the import of those modules in one
    /// process (benches/deep_verify.sh).
    pub deep: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(20),
            read_only: true,
            deep: false,
        }
    }
}

/// What worked in one tree. Sorted maps: the same tree gives the same JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    /// "cpython 3.11.7".
    pub python: String,
    /// Whether every import really ran on a read-only mount.
    pub read_only: bool,
    /// Top-level modules and every extension module on disk, by dotted name.
    pub modules: BTreeMap<String, Outcome>,
    /// By PEP 503 normalized name.
    pub dists: BTreeMap<String, DistProbe>,
    /// `bin/` console scripts (pip's or uv's template), by file name: does the target module
    /// import and does the attribute exist.
    pub scripts: BTreeMap<String, Outcome>,
    /// Module (dotted name, as in `modules`) -> normalized names of the distributions whose
    /// RECORD lists its file (else `packages_distributions()` for its top-level name).
    pub module_dists: BTreeMap<String, Vec<String>>,
    /// Script -> what it runs and who installed it.
    pub script_targets: BTreeMap<String, ScriptTarget>,
    /// The modules in `modules` that are extension modules (compiled `.so`).
    #[serde(default)]
    pub extensions: BTreeSet<String>,
}

/// What importlib.metadata says about one distribution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistProbe {
    /// Its name, as its METADATA spells it (else from the dist-info directory name).
    pub name: String,
    /// `importlib.metadata.version(name)`; None is an error (reported in `error`).
    pub version: Option<String>,
    /// The entry point groups it declares (`console_scripts`, plugin groups).
    pub entry_point_groups: BTreeSet<String>,
    /// The last line of the first error reading its metadata.
    pub error: Option<String>,
}

/// What a console script runs: `from module import attr; attr()`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScriptTarget {
    /// Dotted module name.
    pub module: String,
    /// Attribute chain in the module: `main`, `cli.main`.
    pub attr: String,
    /// Normalized name of the distribution whose RECORD lists the script.
    pub dist: Option<String>,
}

/// How importing one module (or resolving one console script's target) went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// It imported (or the script's target resolved).
    Ok,
    /// It raised.
    Failed {
        /// Last line of the traceback: "ModuleNotFoundError: No module named 'x'".
        error: String,
    },
    /// Killed after `Options::timeout`.
    TimedOut,
    /// The interpreter died.
    Crashed {
        /// "SIGSEGV", "exit code 1".
        signal_or_code: String,
    },
}

impl Outcome {
    /// Whether it worked.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// One line for a report.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok => "ok".to_string(),
            Outcome::Failed { error } => error.clone(),
            Outcome::TimedOut => "timed out (the interpreter was killed)".to_string(),
            Outcome::Crashed { signal_or_code } => {
                format!("the interpreter crashed ({signal_or_code})")
            }
        }
    }
}

/// What the worker's `discover` request returns.
#[derive(Debug, Deserialize)]
struct Discovery {
    modules: Vec<String>,
    #[serde(default)]
    extensions: BTreeSet<String>,
    dists: BTreeMap<String, DistProbe>,
    module_dists: BTreeMap<String, Vec<String>>,
    scripts: BTreeMap<String, ScriptTarget>,
}

/// Probe the tree at `venv_root` with its own interpreter. Never writes into it (`-B`, and a
/// read-only mount when `opts.read_only` and root).
pub fn probe(venv_root: &Path, opts: &Options) -> Result<Probe> {
    let venv = Venv::discover(venv_root, None)?;
    let interpreter = venv.interpreter()?.with_context(|| {
        format!(
            "no Python {} to probe `{}` with: neither in its bin/ nor on PATH\nhint: verify needs the interpreter the venv was built with",
            venv.python,
            venv.root.display()
        )
    })?;
    let launch = Launch {
        interpreter,
        root: venv.root.clone(),
        site_packages: venv.site_packages_abs(),
        bin: venv.bin.as_ref().map(|b| venv.root.join(b)),
        read_only: opts.read_only && is_root(),
        deep: opts.deep,
    };
    let mut sup = Supervisor::start(launch, opts.timeout)?;
    if venv.kind == VenvKind::Venv && sup.hello.prefix != venv.root {
        bail!(
            "`{}` did not start inside the venv `{}` (sys.prefix is `{}`)\nhint: is pyvenv.cfg intact, and bin/python the venv's own interpreter?",
            sup.launch.interpreter.display(),
            venv.root.display(),
            sup.hello.prefix.display()
        );
    }
    let found: Discovery = match sup.ask(&json!({"op": "discover"}), sup.slow) {
        Ok(v) if v.get("discover_error").is_some() => bail!(
            "listing the modules and distributions of `{}` failed:\n{}",
            venv.root.display(),
            v["discover_error"].as_str().unwrap_or_default()
        ),
        Ok(v) => serde_json::from_value(v).context("the probe's discovery is not readable")?,
        Err(outcome) => bail!(
            "listing the modules and distributions of `{}` failed: {}",
            venv.root.display(),
            outcome.describe()
        ),
    };
    let mut modules = BTreeMap::new();
    for name in found.modules {
        let outcome = sup.outcome(&json!({"op": "import", "name": name}))?;
        modules.insert(name, outcome);
    }
    let mut scripts = BTreeMap::new();
    for (name, t) in &found.scripts {
        let req = json!({"op": "script", "module": t.module, "attr": t.attr});
        scripts.insert(name.clone(), sup.outcome(&req)?);
    }
    sup.finish();
    Ok(Probe {
        python: sup.hello.python.clone(),
        read_only: sup.read_only,
        modules,
        dists: found.dists,
        scripts,
        module_dists: found.module_dists,
        script_targets: found.scripts,
        extensions: found.extensions,
    })
}

/// Keeps one worker alive, restarting it after a crash or a timeout.
struct Supervisor {
    launch: Launch,
    worker: Option<Worker>,
    hello: worker::Hello,
    timeout: Duration,
    /// For start-up and discovery (not an import: a cold start of a big venv may be slow).
    slow: Duration,
    /// Every worker so far ran on a read-only mount.
    read_only: bool,
}

impl Supervisor {
    fn start(mut launch: Launch, timeout: Duration) -> Result<Supervisor> {
        let slow = timeout.max(Duration::from_secs(120));
        let started = match Worker::start(&launch, slow) {
            Err(_) if launch.read_only => {
                // unshare or mount refused (a container without CAP_SYS_ADMIN): run normally.
                launch.read_only = false;
                Worker::start(&launch, slow)
            }
            other => other,
        };
        let (worker, hello) = started?;
        Ok(Supervisor {
            read_only: hello.read_only,
            launch,
            worker: Some(worker),
            hello,
            timeout,
            slow,
        })
    }

    /// Ask the current worker (starting one if the last died); Err is how the request failed.
    fn ask(&mut self, req: &Value, timeout: Duration) -> Result<Value, Outcome> {
        let Some(worker) = self.worker.as_mut() else {
            return Err(Outcome::Crashed {
                signal_or_code: "no worker".into(),
            });
        };
        match worker.ask(req, timeout) {
            Reply::Line(v) => Ok(v),
            Reply::TimedOut => {
                self.worker = None;
                Err(Outcome::TimedOut)
            }
            Reply::Died(how) => {
                self.worker = None;
                Err(Outcome::Crashed {
                    signal_or_code: how,
                })
            }
        }
    }

    /// One import or script check, with a fresh worker if the previous one was lost.
    fn outcome(&mut self, req: &Value) -> Result<Outcome> {
        if self.worker.is_none() {
            let (w, hello) = Worker::start(&self.launch, self.slow)
                .context("cannot restart the probe's interpreter after a crash or a timeout")?;
            self.read_only &= hello.read_only;
            self.worker = Some(w);
        }
        Ok(match self.ask(req, self.timeout) {
            Ok(v) if v.get("ok") == Some(&Value::Bool(true)) => Outcome::Ok,
            Ok(v) => Outcome::Failed {
                error: v
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("failed (no message)")
                    .to_string(),
            },
            Err(outcome) => outcome,
        })
    }

    fn finish(&mut self) {
        if let Some(w) = self.worker.take() {
            w.finish();
        }
    }
}

/// Whether we run as root (the owner of /proc/self is the effective uid).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
