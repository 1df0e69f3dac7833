//! `venvslim bench VENV`: what each slimming strategy buys (bytes, disk, files, tar.gz) and
//! what it costs (cold start, and what stops working), measured on real copies of one venv in
//! one run, so people can pick a strategy by looking rather than by folklore.
//!
//! Each strategy writes its tree into a scratch directory beside the venv (same filesystem, so
//! copies and block counts behave as in a build), then: sizes (`measure`), a verify probe of the
//! tree against the original's (`verify::regressions`: the hand-made recipes show their
//! breakage), and cold starts interleaved across strategies (`startup`). `slim` strategies run
//! as a child process of this same binary, so a crash in one strategy does not end the bench.
//! The input venv is never written to.

pub mod measure;
pub mod startup;
pub mod strategy;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::apply::scratch::Scratch;
use crate::cli::BenchArgs;
use crate::progress::Progress;
use crate::verify;
use measure::Sizes;
use startup::{Run, Starter};
use strategy::{Recipe, Strategy};

/// Modules of the installers: venvslim removes them by default, so importing them measures
/// nothing an application does.
const INSTALLER_MODULES: &[&str] = &[
    "pip",
    "setuptools",
    "pkg_resources",
    "_distutils_hack",
    "distutils",
    "wheel",
];

/// One bench run: what was measured, how, and each strategy's outcome.
#[derive(Debug, Serialize)]
pub struct Bench {
    /// The venv's canonical path.
    pub venv: String,
    /// Its Python version, when the original could be probed.
    pub python: Option<String>,
    /// Starts ran with the tree mounted read-only at the venv's path.
    pub read_only: bool,
    /// The timed command (`$VENV` is the venv's path).
    pub run: String,
    /// Timed rounds per strategy (`--rounds`).
    pub rounds: usize,
    /// Each tree was verified against the original (no `--no-verify`).
    pub verified: bool,
    /// Caveats about the whole run (no read-only mount, no probe), one sentence each.
    pub notes: Vec<String>,
    /// One outcome per strategy, in the order run.
    pub strategies: Vec<Outcome>,
}

/// What one strategy's tree cost and bought.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The strategy's name (`none`, `default`, `max`, or the user's).
    pub name: String,
    /// What it is, in one line.
    pub description: String,
    /// How its tree is made (`cp -a`, `venvslim slim --bytecode keep`).
    pub how: String,
    /// Why the tree could not be made (then nothing else is measured).
    pub error: Option<String>,
    /// Wall time to make the tree (s).
    pub build_s: Option<f64>,
    /// The tree's sizes (None: could not be measured).
    pub sizes: Option<Sizes>,
    /// Its cold-start timings (None: no successful run).
    pub start: Option<Start>,
    /// Why the timed command failed on this tree.
    pub start_error: Option<String>,
    /// Regressions against the original found by verify (None: not verified).
    pub regressions: Option<usize>,
    /// Regressions by kind (import, script, metadata, entry-points).
    pub regressions_by_kind: std::collections::BTreeMap<&'static str, usize>,
    /// The first few, imports and scripts first, one line each.
    pub regression_examples: Vec<String>,
    /// Caveats about this strategy (a step that failed, slim's exit 1), one sentence each.
    pub notes: Vec<String>,
    /// Where the tree's bytes are, by distribution and kind (`slim` strategies: from its
    /// report; None for the copies).
    pub breakdown: Option<crate::breakdown::Breakdown>,
}

/// Cold-start wall times of one tree, in seconds.
#[derive(Debug, Serialize)]
pub struct Start {
    /// Median over the timed rounds.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// Median over `none`'s median.
    pub ratio_to_none: Option<f64>,
    /// Every timed run, in round order (the warm-up excluded).
    pub runs_s: Vec<f64>,
}

/// Run the bench; the caller renders the result (`report::bench`).
pub fn run(args: &BenchArgs, progress: &Progress) -> Result<Bench> {
    let user = args
        .strategy
        .iter()
        .map(|s| strategy::parse_user(s))
        .collect::<Result<Vec<_>>>()?;
    let strategies = strategy::select(&args.strategies, user, args.run.as_deref())?;
    if args.rounds == 0 {
        bail!("--rounds 0 times nothing\nhint: give at least 1 (default 10)");
    }
    let venv = crate::venv::Venv::discover(&args.venv, None)?;
    let root = std::fs::canonicalize(&venv.root)
        .with_context(|| format!("cannot resolve `{}`", venv.root.display()))?;
    let work = Scratch::beside(&root, args.keep.as_deref())?;
    let result = bench_in(args, &root, &venv, &strategies, &work.dir, progress);
    drop(work);
    result
}

fn bench_in(
    args: &BenchArgs,
    root: &Path,
    venv: &crate::venv::Venv,
    strategies: &[Strategy],
    work: &Path,
    progress: &Progress,
) -> Result<Bench> {
    let mut notes = Vec::new();
    let steps = strategies.len() as u64 * 3 + args.rounds as u64 + 2;
    progress.phase("probing the original", steps);
    // Deep, as `verify --against` and `slim --verify`: a strategy that loses a submodule kept
    // code imports is broken, and the top-level probe would not see it.
    let opts = verify::Options {
        deep: true,
        ..verify::Options::default()
    };
    let need_probe = !args.no_verify || args.run.is_none();
    let original = if need_probe {
        Some(verify::probe(root, &opts)?)
    } else {
        None
    };
    progress.inc(1);
    let run = match (&args.run, &original) {
        (Some(cmd), _) => Run::Shell(cmd.clone()),
        (None, Some(p)) => default_run(venv, p)?,
        (None, None) => bail!("nothing to time"),
    };
    let mut outcomes = Vec::new();
    for s in strategies {
        outcomes.push(build_one(
            s,
            root,
            work,
            original.as_ref(),
            args.no_verify,
            &opts,
            progress,
        ));
    }
    let empty = Scratch::inside(work, "read-only-check")?;
    let read_only = crate::python::read_only_works(&empty.dir, root);
    drop(empty);
    if !read_only {
        notes.push("not root (or no `unshare -m`): starts ran on each tree in place, with -B for the default command, not on a read-only mount; a tree without pycs is not penalised as it is in a read-only container".to_string());
    }
    let starter = Starter {
        run: run.clone(),
        at: root.to_path_buf(),
        read_only,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    time_starts(
        &starter,
        strategies,
        work,
        &mut outcomes,
        args.rounds,
        progress,
    );
    progress.finish();
    Ok(Bench {
        venv: root.display().to_string(),
        python: original.as_ref().map(|p| p.python.clone()),
        read_only,
        run: run.describe(),
        rounds: args.rounds,
        verified: !args.no_verify,
        notes,
        strategies: outcomes,
    })
}

/// Import every top-level module that imports in the original, except the installers'.
fn default_run(venv: &crate::venv::Venv, original: &verify::Probe) -> Result<Run> {
    let python = venv
        .interpreter()?
        .and_then(|p| p.strip_prefix(&venv.root).ok().map(Path::to_path_buf))
        .with_context(|| {
            format!(
                "`{}` has no bin/python to time\nhint: give the command to time with --run",
                venv.root.display()
            )
        })?;
    let modules: Vec<String> = original
        .modules
        .iter()
        .filter(|(name, o)| {
            o.is_ok() && !name.contains('.') && !INSTALLER_MODULES.contains(&name.as_str())
        })
        .map(|(name, _)| name.clone())
        .collect();
    if modules.is_empty() {
        bail!(
            "no top-level module imports in `{}`\nhint: give the command to time with --run",
            venv.root.display()
        );
    }
    Ok(Run::Imports { python, modules })
}

/// Make one strategy's tree, measure it, verify it.
fn build_one(
    s: &Strategy,
    root: &Path,
    work: &Path,
    original: Option<&verify::Probe>,
    no_verify: bool,
    opts: &verify::Options,
    progress: &Progress,
) -> Outcome {
    let mut o = Outcome {
        name: s.name.clone(),
        description: s.description.clone(),
        how: s.how(),
        error: None,
        build_s: None,
        sizes: None,
        start: None,
        start_error: None,
        regressions: None,
        regressions_by_kind: Default::default(),
        regression_examples: Vec::new(),
        notes: Vec::new(),
        breakdown: None,
    };
    let tree = work.join(&s.name);
    progress.set_message(&format!("{}: making the tree", s.name));
    let t0 = Instant::now();
    match make_tree(s, root, &tree, &mut o.notes) {
        Ok(breakdown) => o.breakdown = breakdown,
        Err(e) => {
            o.error = Some(format!("{e:#}"));
            progress.inc(3);
            return o;
        }
    }
    o.build_s = Some(t0.elapsed().as_secs_f64());
    progress.inc(1);
    progress.set_message(&format!("{}: measuring", s.name));
    match measure::measure(&tree) {
        Ok(sizes) => o.sizes = Some(sizes),
        Err(e) => o.notes.push(format!("sizes: {e:#}")),
    }
    progress.inc(1);
    if let (Some(original), false) = (original, no_verify) {
        progress.set_message(&format!("{}: verifying", s.name));
        match verify::probe(&tree, opts) {
            Ok(p) => {
                let mut found = verify::regressions(original, &p);
                o.regressions = Some(found.len());
                for r in &found {
                    *o.regressions_by_kind.entry(r.kind).or_default() += 1;
                }
                let rank = |k: &str| {
                    ["import", "script", "metadata"]
                        .iter()
                        .position(|x| *x == k)
                        .unwrap_or(3)
                };
                found.sort_by_key(|r| rank(r.kind));
                o.regression_examples = found
                    .iter()
                    .take(3)
                    .map(|r| {
                        let error = r.error.split_whitespace().collect::<Vec<_>>().join(" ");
                        format!("{} {}: {error}", r.kind, r.name)
                    })
                    .collect();
            }
            Err(e) => o.notes.push(format!("verify could not run: {e:#}")),
        }
    }
    progress.inc(1);
    o
}

/// Make the tree; a `slim` strategy also gives the breakdown its report measured.
fn make_tree(
    s: &Strategy,
    root: &Path,
    tree: &Path,
    notes: &mut Vec<String>,
) -> Result<Option<crate::breakdown::Breakdown>> {
    match &s.recipe {
        Recipe::Copy(recipe) => {
            let done = crate::apply::recipe::copy(root, tree, *recipe)?;
            if done.stripped > 0 {
                notes.push(format!(
                    "GNU strip ran on {} *.so file(s), refused {}",
                    done.stripped,
                    done.strip_errors.len()
                ));
            }
            Ok(None)
        }
        Recipe::Slim(flags) => {
            let exe = std::env::current_exe().context("cannot find this venvslim binary")?;
            let mut cmd = std::process::Command::new(&exe);
            let out = crate::python::die_with_us(&mut cmd)
                .arg("slim")
                .arg(root)
                .arg("-o")
                .arg(tree)
                .args(flags)
                .arg("--json")
                .env("CI", "1") // no progress bar from the child
                .stdin(std::process::Stdio::null())
                .output()
                .with_context(|| format!("cannot run `{}`", exe.display()))?;
            match out.status.code() {
                Some(0) => Ok(breakdown(&out.stdout, notes)),
                Some(1) => {
                    notes.push("venvslim slim finished with failures (exit 1)".to_string());
                    Ok(breakdown(&out.stdout, notes))
                }
                _ => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    let msg: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
                    bail!(
                        "venvslim slim {} failed ({}): {}",
                        flags.join(" "),
                        out.status,
                        msg.join(" / ")
                    )
                }
            }
        }
    }
}

/// The `breakdown` of a `slim --json` report (a note when it has none).
fn breakdown(report: &[u8], notes: &mut Vec<String>) -> Option<crate::breakdown::Breakdown> {
    #[derive(serde::Deserialize)]
    struct Report {
        breakdown: crate::breakdown::Breakdown,
    }
    match serde_json::from_slice::<Report>(report) {
        Ok(r) => Some(r.breakdown),
        Err(e) => {
            notes.push(format!(
                "the size breakdown could not be read from slim's report: {e}"
            ));
            None
        }
    }
}

/// One untimed warm-up round, then `rounds` interleaved rounds (A B C, B C A, C A B ...), so
/// load on the machine hits every strategy alike.
fn time_starts(
    starter: &Starter,
    strategies: &[Strategy],
    work: &Path,
    outcomes: &mut [Outcome],
    rounds: usize,
    progress: &Progress,
) {
    progress.set_message("timing: warm-up");
    let mut live = Vec::new();
    for (i, s) in strategies.iter().enumerate() {
        if outcomes[i].error.is_some() {
            continue;
        }
        match starter.time(&work.join(&s.name)) {
            Ok(_) => live.push(i),
            Err(e) => outcomes[i].start_error = Some(e),
        }
    }
    progress.inc(1);
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); strategies.len()];
    for r in 0..rounds {
        progress.set_message(&format!("timing: round {}/{rounds}", r + 1));
        // Each round starts one strategy later, so no strategy always follows the same one
        // (a strategy that recompiles everything heats the machine for whoever runs next).
        let n = live.len().max(1);
        for &i in live.iter().cycle().skip(r % n).take(live.len()) {
            match starter.time(&work.join(&strategies[i].name)) {
                Ok(d) => samples[i].push(d),
                Err(e) => {
                    outcomes[i].start_error.get_or_insert(e);
                }
            }
        }
        progress.inc(1);
    }
    let base = strategies
        .iter()
        .position(|s| s.name == "none")
        .and_then(|i| startup::median(&samples[i]));
    for (i, xs) in samples.iter().enumerate() {
        let Some(med) = startup::median(xs) else {
            continue;
        };
        let secs = |d: &Duration| d.as_secs_f64();
        outcomes[i].start = Some(Start {
            median_s: secs(&med),
            min_s: xs.iter().min().map(secs).unwrap_or_default(),
            max_s: xs.iter().max().map(secs).unwrap_or_default(),
            ratio_to_none: base.map(|b| med.as_secs_f64() / b.as_secs_f64()),
            runs_s: xs.iter().map(secs).collect(),
        });
    }
}
