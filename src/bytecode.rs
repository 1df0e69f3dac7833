//! Compile kept sources with the target interpreter.
//!
//! Bytecode must come from the interpreter that will run it (the magic number changes with
//! every minor version), so we run the venv's own Python with a tiny py_compile driver rather
//! than writing pycs ourselves. Pycs are unchecked-hash (PEP 552): valid whatever the files'
//! mtimes become after COPY, and never re-validated against the source at import, so start-up
//! on a read-only filesystem costs what it cost in the builder. The embedded source path is the
//! path where the tree will live, not the temporary one we write to. PYTHONHASHSEED is fixed so
//! set and frozenset constants marshal in the same order every run (reproducible bytes).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

use crate::venv::{PythonVersion, Venv};

#[derive(Debug, Clone)]
pub struct Interpreter {
    pub path: PathBuf,
    pub version: PythonVersion,
    /// `sys.implementation.cache_tag`, e.g. `cpython-311`.
    pub cache_tag: String,
}

/// One source to compile: read `src`, write `cfile`, record `dfile` as co_filename.
#[derive(Debug, Clone)]
pub struct Job {
    pub src: PathBuf,
    pub cfile: PathBuf,
    pub dfile: PathBuf,
}

const DRIVER: &str = r#"
import os, sys, py_compile
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
data = sys.stdin.buffer.read().split(b"\0")
out = sys.stdout
for i in range(0, len(data) - 2, 3):
    src, cfile, dfile = (os.fsdecode(x) for x in data[i:i + 3])
    try:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True, invalidation_mode=mode)
        out.write("ok\n")
    except BaseException as e:
        out.write("err " + (type(e).__name__ + ": " + str(e)).replace("\n", " ")[:300] + "\n")
out.flush()
"#;

fn command(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PYTHON") {
            cmd.env_remove(k);
        }
    }
    cmd.env("PYTHONHASHSEED", "0").arg("-s").arg("-S");
    cmd
}

/// Find and run the venv's interpreter once; its version must be the venv's.
pub fn probe(venv: &Venv) -> Result<Interpreter> {
    let hint = "hint: --bytecode keep or --bytecode strip do not need to run Python";
    let Some(path) = venv.interpreter() else {
        bail!("no Python {} interpreter found for `{}` (looked in its bin/ and on PATH)\n{hint}", venv.python, venv.root.display());
    };
    let out = command(&path)
        .args(["-c", "import sys; print(sys.version_info[0], sys.version_info[1], sys.implementation.cache_tag)"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run the venv's interpreter `{}`\n{hint}", path.display()))?;
    if !out.status.success() {
        bail!(
            "the venv's interpreter `{}` failed: {}\n{hint}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let version = format!("{}.{}", parts.next().unwrap_or(""), parts.next().unwrap_or("")).parse::<PythonVersion>()?;
    let cache_tag = parts.next().unwrap_or("").to_string();
    if version != venv.python || cache_tag.is_empty() {
        bail!(
            "`{}` is Python {version}, but the venv is Python {}\nhint: run venvslim where the venv's own interpreter is, or use --bytecode keep",
            path.display(),
            venv.python
        );
    }
    Ok(Interpreter { path, version, cache_tag })
}

impl Interpreter {
    /// `dir/__pycache__/name.cpython-311.pyc` for `dir/name.py`.
    pub fn cache_path(&self, source: &Path) -> PathBuf {
        let stem = source.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = source.parent().unwrap_or(Path::new(""));
        dir.join("__pycache__").join(format!("{stem}.{}.pyc", self.cache_tag))
    }

    /// Compile all jobs in parallel batches; one result per job, in order.
    pub fn compile(&self, jobs: &[Job]) -> Vec<Result<(), String>> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let workers = rayon::current_num_threads().max(1);
        let chunk = jobs.len().div_ceil(workers).clamp(1, 2000);
        jobs.par_chunks(chunk).flat_map_iter(|batch| self.run_batch(batch)).collect()
    }

    fn run_batch(&self, batch: &[Job]) -> Vec<Result<(), String>> {
        match self.try_batch(batch) {
            Ok(results) => results,
            Err(e) => batch.iter().map(|_| Err(format!("{e:#}"))).collect(),
        }
    }

    fn try_batch(&self, batch: &[Job]) -> Result<Vec<Result<(), String>>> {
        use std::os::unix::ffi::OsStrExt;
        let mut input = Vec::new();
        for j in batch {
            for p in [&j.src, &j.cfile, &j.dfile] {
                input.extend_from_slice(p.as_os_str().as_bytes());
                input.push(0);
            }
        }
        let mut child = command(&self.path)
            .args(["-c", DRIVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run `{}`", self.path.display()))?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let stdout = child.stdout.take().context("no stdout")?;
        let mut results: Vec<Result<(), String>> = BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .map(|l| if l == "ok" { Ok(()) } else { Err(l.trim_start_matches("err ").to_string()) })
            .collect();
        let _ = writer.join();
        let out = child.wait_with_output()?;
        if results.len() != batch.len() {
            let why = format!("the compiler stopped early: {}", String::from_utf8_lossy(&out.stderr).trim());
            results.resize(batch.len(), Err(why));
        }
        Ok(results)
    }
}
