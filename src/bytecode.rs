//! Compile kept sources with the target interpreter.
//!
//! Bytecode must come from the interpreter that will run it (the magic number changes with
//! every minor version), so we run the venv's own Python with a tiny py_compile driver rather
//! than writing pycs ourselves. Pycs are unchecked-hash (PEP 552): valid whatever the files'
//! mtimes become after COPY, and never re-validated against the source at import, so start-up
//! on a read-only filesystem costs what it cost in the builder. The embedded source path is the
//! path where the tree will live, not the temporary one we write to. The interpreter runs
//! isolated from the working directory and the environment, with reproducible bytes on every
//! Python version (`python::compiler` says how).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

use crate::venv::{PythonVersion, Venv};

/// The venv's own interpreter, probed once: what compiles the kept sources.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The interpreter's real path (the venv's link resolved), never found on PATH.
    pub path: PathBuf,
    /// Its version, which must be the venv's.
    pub version: PythonVersion,
    /// `sys.implementation.cache_tag`, e.g. `cpython-311`.
    pub cache_tag: String,
    /// `importlib.util.MAGIC_NUMBER`: the first 4 bytes of every pyc this interpreter reads.
    pub magic: [u8; 4],
}

/// One source to compile: read `src`, write `cfile`, record `dfile` as co_filename.
#[derive(Debug, Clone)]
pub struct Job {
    /// The source to read.
    pub src: PathBuf,
    /// Where the pyc goes.
    pub cfile: PathBuf,
    /// The path recorded as co_filename (where the source will be at run time).
    pub dfile: PathBuf,
}

/// Why one source was not compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// py_compile raised for this source: `Type: message`, as Python said it. A
    /// `PyCompileError` is the source's own fault (syntax, encoding, null bytes); anything else
    /// (an `OSError`) is the disk's.
    Raised(String),
    /// The compiler could not be run, or stopped before it reached this source.
    Compiler(String),
}

impl CompileError {
    /// The source itself does not compile (it stays as it is); otherwise the machine failed.
    pub fn is_the_sources(&self) -> bool {
        matches!(self, CompileError::Raised(e) if e.starts_with("PyCompileError"))
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Raised(e) | CompileError::Compiler(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for CompileError {}

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

/// co_filename is marshalled once as a plain string and referenced after that, so a pyc
/// compiled for `dfile` holds its bytes verbatim.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Find and run the venv's interpreter once; its version must be the venv's.
pub fn probe(venv: &Venv) -> Result<Interpreter> {
    let hint = "hint: --bytecode keep or --bytecode strip do not need to run Python";
    let found = venv.interpreter().with_context(|| {
        format!(
            "cannot compile bytecode for `{}`\n{hint}",
            venv.root.display()
        )
    })?;
    let Some(path) = found else {
        bail!(
            "no Python {} interpreter found for `{}` (looked in its bin/ and on PATH)\n{hint}",
            venv.python,
            venv.root.display()
        );
    };
    let path = compile_interpreter(venv, &path)?;
    let out = crate::python::compiler(&path, venv.python, "import sys, importlib.util as u; print(sys.version_info[0], sys.version_info[1], sys.implementation.cache_tag, u.MAGIC_NUMBER.hex())")
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
    let version = format!(
        "{}.{}",
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("")
    )
    .parse::<PythonVersion>()?;
    let cache_tag = parts.next().unwrap_or("").to_string();
    let magic = parts.next().and_then(parse_magic);
    let (Some(magic), false) = (magic, cache_tag.is_empty()) else {
        bail!(
            "`{}` did not say its bytecode format (got `{}`)\n{hint}",
            path.display(),
            text.trim()
        );
    };
    if version != venv.python {
        bail!(
            "`{}` is Python {version}, but the venv is Python {}\nhint: run venvslim where the venv's own interpreter is, or use --bytecode keep",
            path.display(),
            venv.python
        );
    }
    Ok(Interpreter {
        path,
        version,
        cache_tag,
        magic,
    })
}

/// The file to run for compiling: what the venv's `bin/python*` link resolves to. Started through
/// the venv's `bin/`, Python reads the venv's pyvenv.cfg, whose `home` any wheel can rewrite (a
/// plain wheel's `*.data/data/pyvenv.cfg` is installed at the venv's root) to make the real
/// interpreter load an `encodings` or `os` planted in the venv, as root, before `-I` helps.
/// Started by its own path, the base interpreter never reads the venv's pyvenv.cfg, and
/// compiling needs nothing of the venv (`-S`). A venv made with `--copies` has its interpreter
/// inside: there a `home` that points back into the venv is refused. See docs/safety.md.
fn compile_interpreter(venv: &Venv, link: &Path) -> Result<PathBuf> {
    let hint =
        "hint: re-create the venv with `python -m venv`; --bytecode keep or strip run no Python";
    let real = std::fs::canonicalize(link)
        .with_context(|| format!("cannot resolve the venv's interpreter `{}`", link.display()))?;
    let root = std::fs::canonicalize(&venv.root)
        .with_context(|| format!("cannot resolve `{}`", venv.root.display()))?;
    if !real.starts_with(&root) {
        return Ok(real);
    }
    if let Some(home) = venv.cfg.get("home") {
        let home =
            std::fs::canonicalize(venv.root.join(home)).unwrap_or_else(|_| venv.root.join(home));
        if home.starts_with(&root) {
            bail!(
                "`{}` says `home = {}`, inside the venv: its interpreter would load a standard library the venv planted\n{hint}",
                venv.root.join("pyvenv.cfg").display(),
                home.display()
            );
        }
    }
    let mut magic = [0u8; 4];
    let elf = std::fs::File::open(&real)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"\x7fELF";
    if !elf {
        bail!(
            "the venv's interpreter `{}` is `{}`, a file inside the venv that is not an executable binary\n{hint}",
            link.display(),
            real.display()
        );
    }
    Ok(real)
}

fn parse_magic(hex: &str) -> Option<[u8; 4]> {
    let mut m = [0u8; 4];
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(m)
}

impl Interpreter {
    /// `dir/__pycache__/name.cpython-311.pyc` for `dir/name.py`.
    pub fn cache_path(&self, source: &Path) -> PathBuf {
        let stem = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = source.parent().unwrap_or(Path::new(""));
        dir.join("__pycache__")
            .join(format!("{stem}.{}.pyc", self.cache_tag))
    }

    /// `importlib.util.source_hash(source)`: SipHash-1-3 keyed with the magic number, as
    /// CPython's `_Py_KeyedHash` computes it for hash-based pycs (PEP 552).
    pub fn source_hash(&self, source: &[u8]) -> [u8; 8] {
        use std::hash::Hasher;
        let key = u64::from(u32::from_le_bytes(self.magic));
        let mut h = siphasher::sip::SipHasher13::new_with_keys(key, 0);
        h.write(source);
        h.finish().to_le_bytes()
    }

    /// Reuse the bytecode pip already compiled for this very source, when Python itself would
    /// trust it (same magic number; timestamp pyc whose recorded mtime and size are the
    /// source's, or a hash pyc whose hash is the source's): write it as an unchecked-hash pyc
    /// to `cfile` with only the 16-byte header changed. The code object must also name `dfile`
    /// as its file (a venv copied elsewhere after install carries its old path). The code
    /// object is the one this interpreter compiled, so the result is what compiling again would
    /// give, for the cost of a copy: the new pyc's bytes and the source's mode, for apply to write.
    /// None when it cannot be reused.
    pub fn reuse(
        &self,
        src: &Path,
        old_pyc: &Path,
        dfile: &Path,
    ) -> std::io::Result<Option<(Vec<u8>, u32)>> {
        use std::os::unix::fs::MetadataExt;
        let Ok(old) = std::fs::read(old_pyc) else {
            return Ok(None);
        };
        if old.len() < 16 || old[..4] != self.magic {
            return Ok(None);
        }
        let meta = std::fs::metadata(src)?;
        let source = std::fs::read(src)?;
        let hash = self.source_hash(&source);
        let flags = u32::from_le_bytes([old[4], old[5], old[6], old[7]]);
        let valid = match flags {
            0 => {
                old[8..12] == (meta.mtime() as u32).to_le_bytes()
                    && old[12..16] == (meta.len() as u32).to_le_bytes()
            }
            1 | 3 => old[8..16] == hash,
            _ => false,
        };
        if !valid || !contains(&old[16..], dfile.as_os_str().as_encoded_bytes()) {
            return Ok(None);
        }
        let mut pyc = Vec::with_capacity(old.len());
        pyc.extend_from_slice(&self.magic);
        pyc.extend_from_slice(&1u32.to_le_bytes());
        pyc.extend_from_slice(&hash);
        pyc.extend_from_slice(&old[16..]);
        Ok(Some((pyc, meta.mode())))
    }

    /// Compile all jobs in parallel batches; one result per job, in order.
    pub fn compile(&self, jobs: &[Job]) -> Vec<Result<(), CompileError>> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let workers = rayon::current_num_threads().max(1);
        let chunk = jobs.len().div_ceil(workers).clamp(1, 2000);
        jobs.par_chunks(chunk)
            .flat_map_iter(|batch| self.run_batch(batch))
            .collect()
    }

    fn run_batch(&self, batch: &[Job]) -> Vec<Result<(), CompileError>> {
        match self.try_batch(batch) {
            Ok(results) => results,
            Err(e) => batch
                .iter()
                .map(|_| Err(CompileError::Compiler(format!("{e:#}"))))
                .collect(),
        }
    }

    fn try_batch(&self, batch: &[Job]) -> Result<Vec<Result<(), CompileError>>> {
        use std::os::unix::ffi::OsStrExt;
        let mut input = Vec::new();
        for j in batch {
            for p in [&j.src, &j.cfile, &j.dfile] {
                input.extend_from_slice(p.as_os_str().as_bytes());
                input.push(0);
            }
        }
        let mut child = crate::python::compiler(&self.path, self.version, DRIVER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run `{}`", self.path.display()))?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let stdout = child.stdout.take().context("no stdout")?;
        let mut results: Vec<Result<(), CompileError>> = BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .map(|l| {
                if l == "ok" {
                    Ok(())
                } else {
                    Err(CompileError::Raised(
                        l.trim_start_matches("err ").to_string(),
                    ))
                }
            })
            .collect();
        // A compiler that stopped reading its input shows as missing results below.
        let fed = writer.join();
        let out = child.wait_with_output()?;
        if results.len() != batch.len() {
            let mut why = format!(
                "the compiler stopped early: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            if let Ok(Err(e)) = fed {
                why.push_str(&format!(" (its input could not be written: {e})"));
            }
            results.resize(batch.len(), Err(CompileError::Compiler(why)));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp() -> Interpreter {
        Interpreter {
            path: PathBuf::new(),
            version: PythonVersion {
                major: 3,
                minor: 11,
            },
            cache_tag: "cpython-311".into(),
            magic: parse_magic("a70d0d0a").unwrap(),
        }
    }

    #[test]
    fn compile_errors_say_whose_fault_in_the_words_python_used() {
        let syntax = CompileError::Raised("PyCompileError: bad input".into());
        let disk = CompileError::Raised("OSError: [Errno 28] No space left on device".into());
        let died = CompileError::Compiler("the compiler stopped early: killed".into());
        assert!(syntax.is_the_sources());
        assert!(!disk.is_the_sources() && !died.is_the_sources());
        assert_eq!(syntax.to_string(), "PyCompileError: bad input");
        assert_eq!(died.to_string(), "the compiler stopped early: killed");
    }

    #[test]
    fn source_hash_matches_cpython() {
        // importlib.util.source_hash(b"hello").hex() on CPython 3.11
        assert_eq!(
            interp().source_hash(b"hello"),
            [0x7c, 0x36, 0x0b, 0xe5, 0x8b, 0xb7, 0xa2, 0xaa]
        );
        assert_eq!(
            interp().source_hash(b""),
            [0x73, 0x8d, 0x9c, 0xd5, 0xd5, 0xe8, 0x7f, 0x73]
        );
    }

    #[test]
    fn reuses_only_matching_timestamp_pycs() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("m.py");
        std::fs::write(&src, "x = 1\n").unwrap();
        let m = std::fs::metadata(&src).unwrap();
        let mut old = parse_magic("a70d0d0a").unwrap().to_vec();
        old.extend_from_slice(&0u32.to_le_bytes());
        old.extend_from_slice(&(m.mtime() as u32).to_le_bytes());
        old.extend_from_slice(&(m.len() as u32).to_le_bytes());
        old.extend_from_slice(b"CODE\x00/venv/lib/m.py\x00");
        let old_pyc = t.path().join("old.pyc");
        std::fs::write(&old_pyc, &old).unwrap();
        let dfile = Path::new("/venv/lib/m.py");
        assert!(
            interp()
                .reuse(&src, &old_pyc, Path::new("/elsewhere/m.py"))
                .unwrap()
                .is_none(),
            "compiled for another path"
        );
        let (new, mode) = interp().reuse(&src, &old_pyc, dfile).unwrap().unwrap();
        assert_eq!(mode, m.mode(), "the source's mode");
        assert_eq!(&new[4..8], &1u32.to_le_bytes(), "unchecked-hash flags");
        assert_eq!(&new[8..16], &interp().source_hash(b"x = 1\n"));
        assert_eq!(&new[16..], b"CODE\x00/venv/lib/m.py\x00");
        // Another interpreter's magic is not reused.
        let mut foreign = old.clone();
        foreign[0] ^= 1;
        std::fs::write(&old_pyc, &foreign).unwrap();
        assert!(interp().reuse(&src, &old_pyc, dfile).unwrap().is_none());
        // A different size (the source changed since) is not reused.
        std::fs::write(&old_pyc, &old).unwrap();
        std::fs::write(&src, "x = 12\n").unwrap();
        assert!(interp().reuse(&src, &old_pyc, dfile).unwrap().is_none());
    }
}
