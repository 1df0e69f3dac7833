//! The ELF engine on real wheels: `venvslim slim` (defaults, so `--elf unneeded`) on a venv of
//! binary wheels whose ELF files are the hard cases (numpy's and scipy's patchelf-edited openblas
//! and libgfortran that GNU strip breaks, polars' ~170 MB runtime, uvloop's debug info, pyarrow's
//! versioned `libarrow*.so.N`, vendored `*.libs/` of pillow, opencv and psycopg2) plus PyYAML built
//! from source here (its `_yaml` extension carries DWARF from Python's `-g` CFLAGS).
//!
//! Asserted on the output tree OUT, run with OUT's own `bin/python` at OUT's path:
//! - every ELF file keeps its program headers and every PT_LOAD byte range; files the report does
//!   not call stripped are byte-identical; the report's sizes are the files' sizes;
//! - every extension module that imports in the original imports in OUT, every vendored library
//!   that `ctypes.CDLL` loads in the original loads in OUT, and every site-packages file those
//!   imports map in the original is mapped in OUT too;
//! - a workload per package passes (numpy, scipy, pyarrow, polars, uvloop, psycopg2, pillow, cv2,
//!   yaml with libyaml): the scripts of `benches/elf_workloads/`, which `benches/elf_vs_gnu.py`
//!   runs too;
//! - the debug-heavy files really shrink (uvloop, polars, the from-source yaml).
//!
//! The venv comes from `tests/venvs/elf_wheels.lock` via `util::real_venv` (cached under
//! `target/test-venvs/`, ~800 MB installed, built on the first run). PyYAML is built once into a cached
//! wheel (`# from-source:` line of the lock) and installed into the test's copy; if it cannot be
//! built with its C extension here (no compiler, no Python headers, no libyaml-dev) that part is
//! skipped with a loud note, the rest still runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const SLIM_TIMEOUT: Duration = Duration::from_secs(1800);
const PY_TIMEOUT: Duration = Duration::from_secs(300);
const LOCK: &str = "elf_wheels";

// ---------------------------------------------------------------------------------------------
// Python run in the trees
// ---------------------------------------------------------------------------------------------

/// `TREE/bin/python -I -B ARGS` from `cwd`, with no PYTHON* / VIRTUAL_ENV variables and
/// single-threaded BLAS (two trees' checks must not fight over two cores).
fn py(tree: &Path, args: &[&str], cwd: &Path) -> Run {
    python(tree.join("bin/python"))
        .args(["-I", "-B"])
        .args(args)
        .current_dir(cwd)
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("OMP_NUM_THREADS", "1")
        .env("POLARS_MAX_THREADS", "1")
        .timeout(PY_TIMEOUT)
        .run()
}

/// Loads every ELF file of site-packages in one process and prints JSON. `libs`: `ctypes.CDLL`
/// of each ELF file that is not an extension module; `exts`: import of each extension module by
/// its dotted name, then of each top-level package that holds ELF files (cv2's loader imports
/// `cv2.abi3.so` as `cv2`, not as `cv2.cv2`). Then lists the site-packages files mapped in the
/// process. Progress goes to stderr, so a crash names the file it died on.
const LOAD_CHECK: &str = r#"
import ctypes, importlib, importlib.machinery, json, os, sys
mode, sp = sys.argv[1], sys.argv[2]
result_out, sys.stdout = sys.stdout, sys.stderr  # modules may print (cv2 does): keep stdout for the JSON
assert os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(sp, "..", "..", "..")), (sys.prefix, sp)
suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
elf = []
for root, dirs, files in os.walk(sp):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(root, f)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        with open(p, "rb") as fh:
            if fh.read(4) == b"\x7fELF":
                elf.append(os.path.relpath(p, sp))
def module(rel):
    parts = rel.split("/")
    suf = next((s for s in suffixes if parts[-1].endswith(s)), None)
    if suf is None or not all(x.isidentifier() for x in parts[:-1]):
        return None
    return ".".join(parts[:-1] + [parts[-1][: -len(suf)]])
res = {"elf": elf, "ok": {}, "err": {}}
def attempt(key, fn):
    print("loading", key, file=sys.stderr, flush=True)
    try:
        fn()
        res["ok"][key] = True
    except BaseException as e:
        lines = [l for l in f"{type(e).__name__}: {e}".splitlines() if l.strip()] or [type(e).__name__]
        res["err"][key] = (lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}")[:400]
if mode == "libs":
    for rel in elf:
        if module(rel) is None:
            attempt("cdll " + rel, lambda: ctypes.CDLL(os.path.join(sp, rel)))
else:
    for rel in elf:
        m = module(rel)
        if m:
            attempt("import " + m, lambda: importlib.import_module(m))
    for top in sorted({rel.split("/")[0] for rel in elf if "/" in rel}):
        if os.path.isfile(os.path.join(sp, top, "__init__.py")):
            attempt("import " + top, lambda: importlib.import_module(top))
maps = set()
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].strip().startswith(sp + "/"):
            maps.add(parts[5].strip()[len(sp) + 1 :])
res["mapped"] = sorted(maps)
print(json.dumps(res), file=result_out)
"#;

/// What `LOAD_CHECK` saw in one tree, both modes merged.
#[derive(Debug)]
struct Loads {
    elf: Vec<String>,
    ok: BTreeSet<String>,
    err: BTreeMap<String, String>,
    mapped: BTreeSet<String>,
}

fn load_check(tree: &Path, cwd: &Path) -> Loads {
    let sp = tree.join(site_packages_rel(tree));
    let mut loads = Loads {
        elf: vec![],
        ok: BTreeSet::new(),
        err: BTreeMap::new(),
        mapped: BTreeSet::new(),
    };
    for mode in ["libs", "exts"] {
        let out = py(tree, &["-c", LOAD_CHECK, mode, path_str(&sp)], cwd);
        assert!(
            out.status.success(),
            "load check ({mode}) died in {}; the last `loading` line names the file:\n{}",
            tree.display(),
            show(&out)
        );
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("load check printed no JSON ({e}):\n{}", show(&out)));
        loads.elf = strings(&v["elf"]);
        loads
            .ok
            .extend(v["ok"].as_object().expect("ok").keys().cloned());
        for (k, e) in v["err"].as_object().expect("err") {
            loads
                .err
                .insert(k.clone(), e.as_str().unwrap_or_default().to_string());
        }
        loads.mapped.extend(strings(&v["mapped"]));
    }
    loads
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// One workload per package, shared with `benches/elf_vs_gnu.py`: `(package, code)` of every
/// `benches/elf_workloads/PACKAGE.py`, in name order. Each must exit 0 and print a line starting
/// with `ok`.
fn workloads() -> Vec<(String, String)> {
    let dir = repo_root().join("benches/elf_workloads");
    let mut v: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .map(|p| {
            let name = p
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let code =
                fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            (name, code)
        })
        .collect();
    v.sort();
    assert!(
        v.iter().any(|(name, _)| name == "pyyaml"),
        "no pyyaml workload in {}",
        dir.display()
    );
    v
}

fn run_workloads(tree: &Path, cwd: &Path, with_yaml: bool) -> Vec<String> {
    let mut failed = Vec::new();
    for (name, code) in workloads() {
        if name == "pyyaml" && !with_yaml {
            continue;
        }
        let out = py(tree, &["-c", &code], cwd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.starts_with("ok") {
            eprintln!("  {}: {}", tree.display(), stdout.trim());
        } else {
            failed.push(format!("workload {name}:\n{}", show(&out)));
        }
    }
    failed
}

// ---------------------------------------------------------------------------------------------
// PyYAML from source, built once
// ---------------------------------------------------------------------------------------------

/// The `# from-source: NAME==VERSION` pin of the lock.
fn from_source_pin() -> String {
    let lock = repo_root().join("tests/venvs").join(format!("{LOCK}.lock"));
    let text = fs::read_to_string(&lock).unwrap_or_else(|e| panic!("read {}: {e}", lock.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("# from-source:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("{} has no `# from-source:` line", lock.display()))
}

/// A wheel of the pinned PyYAML compiled here with its C extension, cached under
/// `target/test-venvs/elf_wheels-pyyaml-KEY/` (KEY: the pin and the interpreter). `Err(why)` when
/// it cannot be built with the extension on this machine; failures are not cached.
fn pyyaml_source_wheel() -> Result<PathBuf, String> {
    let pin = from_source_pin();
    let ident = python("python3")
        .args([
            "-c",
            "import sys; print(sys.version); print(sys.base_prefix)",
        ])
        .run();
    let mut h = Sha256::new();
    h.update(pin.as_bytes());
    h.update(&ident.stdout);
    let key: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = target_dir().join("test-venvs");
    fs::create_dir_all(&root).expect("mkdir target/test-venvs");
    let dir = root.join(format!("{LOCK}-pyyaml-{key}"));
    let marker = root.join(format!("{LOCK}-pyyaml-{key}.complete"));
    let find = |dir: &Path| -> Option<PathBuf> {
        fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
    };
    if marker.exists() {
        return find(&dir).ok_or_else(|| format!("{} has no wheel", dir.display()));
    }
    let _lock = FileLock::acquire(&root.join(format!("{LOCK}-pyyaml-{key}.lock")));
    if marker.exists() {
        return find(&dir).ok_or_else(|| format!("{} has no wheel", dir.display()));
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir pyyaml wheel dir");
    let start = Instant::now();
    eprintln!(
        "real_elf: building {pin} from source into {}",
        dir.display()
    );
    let mut cmd = python("python3");
    // `--no-binary NAME`, not `:all:`: the build requirements (setuptools, Cython) stay wheels.
    let name = pin
        .split(['=', '<', '>', '~', '!'])
        .next()
        .unwrap_or(&pin)
        .trim()
        .to_string();
    cmd.args([
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-binary",
        &name,
        "--no-cache-dir",
    ])
    .args(["--disable-pip-version-check", "--no-input", "-q", "-w"])
    .arg(&dir)
    .arg(&pin)
    .timeout(Duration::from_secs(900));
    let out = cmd.run();
    let fail = |why: String| {
        let _ = fs::remove_dir_all(&dir);
        Err(why)
    };
    if !out.status.success() {
        return fail(format!(
            "`pip wheel --no-binary {name} {pin}` failed:\n{}",
            show(&out)
        ));
    }
    let Some(whl) = find(&dir) else {
        return fail(format!("`pip wheel` wrote no wheel into {}", dir.display()));
    };
    // A pure-Python wheel (py3-none-any) means setup.py could not compile against libyaml.
    let names = python("python3")
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(&whl)
        .run()
        .stdout();
    if !names
        .lines()
        .any(|n| n.starts_with("yaml/_yaml.") && n.ends_with(".so"))
    {
        return fail(format!(
            "{pin} built without its C extension ({}): install gcc, the Python headers and \
             libyaml-dev (`apt-get install -y libyaml-dev`)",
            whl.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    let mut m = File::create(&marker).expect("create marker");
    writeln!(m, "built {pin} in {:.1}s", start.elapsed().as_secs_f64()).expect("write marker");
    eprintln!(
        "real_elf: built {} in {:.1}s",
        whl.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(whl)
}

// ---------------------------------------------------------------------------------------------
// ELF: program headers and loaded bytes
// ---------------------------------------------------------------------------------------------

/// ELF header less the section-table fields, program header table, each PT_LOAD's offset and bytes.
type LoadedImage = (Vec<u8>, Vec<u8>, Vec<((u64, u64, u64), Vec<u8>)>);

/// The ELF header less e_shoff/e_shnum/e_shstrndx, the program header table, and each PT_LOAD's
/// file bytes, read from `path` (ELF64 little-endian, as every file of these x86_64 wheels).
fn loaded_image(path: &Path) -> LoadedImage {
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        &eh[..4] == b"\x7fELF" && eh[4] == 2 && eh[5] == 1,
        "{} is not ELF64 little-endian",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([eh[o], eh[o + 1]]) as u64;
    let phoff = u64::from_le_bytes(eh[32..40].try_into().expect("8 bytes"));
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    let mut header = eh[..40].to_vec();
    header.extend_from_slice(&eh[48..60]);
    let mut ph = vec![0u8; (phentsize * phnum) as usize];
    f.seek(SeekFrom::Start(phoff)).expect("seek phdrs");
    f.read_exact(&mut ph).expect("read phdrs");
    let mut loads = Vec::new();
    let mut masked = ph.clone();
    for i in 0..phnum as usize {
        let at = i * phentsize as usize;
        // p_offset may change (trailing patchelf segments move down by whole alignments);
        // it is checked against p_vaddr and p_align below instead.
        masked[at + 8..at + 16].fill(0);
        let p = &ph[at..];
        if u32::from_le_bytes(p[0..4].try_into().expect("4")) != 1 {
            continue;
        }
        let word = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().expect("8"));
        let (off, vaddr, filesz, align) = (word(8), word(16), word(32), word(48).max(1));
        let mut bytes = vec![0u8; filesz as usize];
        f.seek(SeekFrom::Start(off)).expect("seek segment");
        f.read_exact(&mut bytes)
            .unwrap_or_else(|e| panic!("{}: PT_LOAD at {off}+{filesz}: {e}", path.display()));
        // The segment that maps the ELF header holds e_shoff (40..48) and e_shnum/e_shstrndx
        // (60..64), the only header fields allowed to change, and the program headers' p_offset:
        // compare it without them.
        let p_offsets = (0..phnum).flat_map(|k| {
            let at = phoff + k * phentsize + 8;
            at..at + 8
        });
        for i in (40u64..48).chain(60..64).chain(p_offsets) {
            if let Some(b) = i.checked_sub(off).and_then(|j| bytes.get_mut(j as usize)) {
                *b = 0;
            }
        }
        loads.push(((off, vaddr, align), bytes));
    }
    (header, masked, loads)
}

fn same_content(a: &Path, b: &Path) -> bool {
    let (ma, mb) = (
        fs::metadata(a).expect("stat"),
        fs::metadata(b).expect("stat"),
    );
    ma.len() == mb.len() && fs::read(a).expect("read") == fs::read(b).expect("read")
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn default_slim_keeps_every_real_wheel_elf_loading_and_working() {
    let t0 = Instant::now();
    let venv = real_venv(LOCK);
    let work = scratch("elf-wheels-");
    let (src, out, cwd) = (
        work.path().join("venv"),
        work.path().join("out"),
        work.path().join("cwd"),
    );
    fs::create_dir_all(&cwd).expect("mkdir cwd");
    copy_tree(&venv, &src);
    let sp_rel = site_packages_rel(&src);

    // PyYAML from source into the copy, or a loud skip of that part.
    let with_yaml = match pyyaml_source_wheel() {
        Ok(whl) => {
            let o = py(
                &src,
                &[
                    "-m",
                    "pip",
                    "install",
                    "--no-deps",
                    "--no-index",
                    "--disable-pip-version-check",
                    "-q",
                    path_str(&whl),
                ],
                &cwd,
            );
            assert!(
                o.status.success(),
                "install {}:\n{}",
                whl.display(),
                show(&o)
            );
            true
        }
        Err(why) => {
            eprintln!(
                "\n*** SKIP the PyYAML-from-source part of real_elf: {why}\n*** \
                 (numpy, scipy, pyarrow, polars, uvloop, psycopg2, pillow, opencv are still checked) ***\n"
            );
            false
        }
    };
    let yaml_so: Option<String> = with_yaml.then(|| {
        let dir = src.join(&sp_rel).join("yaml");
        let so = fs::read_dir(&dir)
            .expect("read yaml/")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("_yaml.") && n.ends_with(".so"))
            .unwrap_or_else(|| {
                panic!(
                    "no yaml/_yaml*.so in {} after installing the wheel",
                    dir.display()
                )
            });
        format!("yaml/{so}")
    });
    eprintln!("real_elf: venv ready in {:.1}s", t0.elapsed().as_secs_f64());

    // Baseline: what loads and works in the unstripped copy. Failures here are test bugs.
    let before = load_check(&src, &cwd);
    let failed = run_workloads(&src, &cwd, with_yaml);
    assert!(
        failed.is_empty(),
        "workloads fail on the ORIGINAL venv (test bug):\n{}",
        failed.join("\n")
    );
    let imported = before
        .ok
        .iter()
        .filter(|k| k.starts_with("import "))
        .count();
    let cdlled = before.ok.iter().filter(|k| k.starts_with("cdll ")).count();
    assert!(
        before.elf.len() >= 200 && imported >= 150 && cdlled >= 50,
        "the baseline checks too little to mean anything: {} ELF files, {imported} imports, {cdlled} CDLLs ok; errors: {:#?}",
        before.elf.len(),
        before.err
    );
    for must in [
        "cv2/cv2.abi3.so",
        "_polars_runtime_32/_polars_runtime.abi3.so",
    ] {
        assert!(
            before.mapped.contains(must),
            "{must} is not mapped by the baseline imports"
        );
    }
    assert!(
        before
            .mapped
            .iter()
            .any(|m| m.starts_with("numpy.libs/libscipy_openblas")),
        "numpy's openblas is not mapped by the baseline imports: {:?}",
        before.mapped
    );

    // Slim with defaults.
    let t_slim = Instant::now();
    let report = slim(&src, &out)
        .current_dir(&cwd)
        .timeout(SLIM_TIMEOUT)
        .report();
    let slim_secs = t_slim.elapsed().as_secs_f64();
    let elf = &report["elf"];
    assert_eq!(
        elf["skipped"],
        Value::Array(vec![]),
        "no file of these wheels is integrity-checked"
    );

    // The report's ELF results, by path relative to the venv root.
    let mut results: BTreeMap<String, Value> = BTreeMap::new();
    for r in elf["results"].as_array().expect("elf.results") {
        let p = Path::new(r["path"].as_str().expect("path"));
        let rel = p
            .strip_prefix(&src)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        results.insert(rel, r.clone());
    }
    let bad: Vec<_> = results
        .iter()
        .filter(|(_, r)| !matches!(r["verdict"].as_str(), Some("stripped" | "nothing_to_strip")))
        .collect();
    assert!(bad.is_empty(), "files the engine did not handle: {bad:#?}");

    // Every ELF file: removed on purpose by slim, or present with identical loaded bytes.
    let removed: BTreeSet<String> = report["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["action"] == "remove")
        .filter_map(|a| {
            a["path"]
                .as_str()
                .map(|s| s.trim_end_matches('/').to_string())
        })
        .collect();
    let is_removed = |rel: &str| {
        let mut p = Some(Path::new(rel));
        while let Some(c) = p {
            if removed.contains(c.to_str().unwrap_or_default()) {
                return true;
            }
            p = c.parent();
        }
        false
    };
    let (mut bytes_in, mut bytes_out, mut saved_reported, mut stripped) =
        (0u64, 0u64, 0u64, 0usize);
    let mut gone = Vec::new();
    for f in &before.elf {
        let rel = sp_rel.join(f).to_string_lossy().into_owned();
        let (a, b) = (src.join(&rel), out.join(&rel));
        if !b.exists() {
            assert!(
                is_removed(&rel),
                "{rel} is missing from OUT but the report does not remove it"
            );
            gone.push(f.clone());
            continue;
        }
        let (la, lb) = (
            fs::metadata(&a).expect("stat").len(),
            fs::metadata(&b).expect("stat").len(),
        );
        bytes_in += la;
        bytes_out += lb;
        match results.get(&rel).and_then(|r| r["verdict"].as_str()) {
            Some("stripped") => {
                let r = &results[&rel];
                assert_eq!(
                    r["before"].as_u64(),
                    Some(la),
                    "{rel}: report.before vs the file in the venv"
                );
                assert_eq!(
                    r["after"].as_u64(),
                    Some(lb),
                    "{rel}: report.after vs the file in OUT"
                );
                saved_reported += la.saturating_sub(lb);
                stripped += 1;
                let (ia, ib) = (loaded_image(&a), loaded_image(&b));
                assert!(
                    ia.0 == ib.0,
                    "{rel}: ELF header changed beyond e_shoff/e_shnum/e_shstrndx"
                );
                assert!(ia.1 == ib.1, "{rel}: program headers changed");
                for (((off, vaddr, align), x), ((new_off, _, _), y)) in ia.2.iter().zip(&ib.2) {
                    assert!(
                        off.checked_sub(*new_off).is_some_and(|d| d % align == 0)
                            && new_off % align == vaddr % align,
                        "{rel}: PT_LOAD moved from {off:#x} to {new_off:#x}, off its alignment {align:#x}"
                    );
                    assert!(
                        x == y,
                        "{rel}: PT_LOAD at offset {off} ({} bytes) changed",
                        x.len()
                    );
                }
            }
            _ => assert!(
                same_content(&a, &b),
                "{rel}: not reported stripped, yet its bytes changed"
            ),
        }
    }
    assert_eq!(
        elf["saved_bytes"].as_u64(),
        Some(saved_reported),
        "report.elf.saved_bytes"
    );
    assert!(stripped >= 150, "only {stripped} ELF files stripped");
    assert!(
        bytes_out * 100 < bytes_in * 90,
        "ELF bytes {bytes_in} -> {bytes_out}: expected > 10% off (polars' symbols, uvloop's DWARF)"
    );
    let size = |t: &Path, f: &str| fs::metadata(t.join(&sp_rel).join(f)).expect("stat").len();
    let uvloop = before
        .elf
        .iter()
        .find(|f| f.starts_with("uvloop/loop."))
        .expect("uvloop/loop.*.so");
    assert!(
        size(&out, uvloop) * 4 < size(&src, uvloop),
        "{uvloop}: {} -> {}: its debug info should go (docs/facts.md: 13.6 MB -> 1.6 MB)",
        size(&src, uvloop),
        size(&out, uvloop)
    );
    let polars = "_polars_runtime_32/_polars_runtime.abi3.so";
    assert!(
        size(&out, polars) + (20 << 20) < size(&src, polars),
        "{polars}: {} -> {}: its .symtab (> 20 MiB) should go",
        size(&src, polars),
        size(&out, polars)
    );
    if let Some(so) = &yaml_so {
        assert!(
            size(&out, so) * 2 < size(&src, so),
            "{so} built from source: {} -> {}: its DWARF should go",
            size(&src, so),
            size(&out, so)
        );
    }

    // Everything that loaded before loads in OUT, with OUT's python at OUT's path.
    let after = load_check(&out, &cwd);
    let mut lost = Vec::new();
    for k in &before.ok {
        let file = k.split_once(' ').map(|x| x.1).unwrap_or_default();
        let excused = k.starts_with("cdll ") && gone.iter().any(|g| g == file);
        if !after.ok.contains(k) && !excused {
            lost.push(format!(
                "{k}: {}",
                after.err.get(k).map_or("not tried", String::as_str)
            ));
        }
    }
    for m in &before.mapped {
        if !after.mapped.contains(m) && !gone.contains(m) {
            lost.push(format!(
                "{m}: mapped by the imports in the original, not in OUT"
            ));
        }
    }
    // Imports of modules whose files slim removed on purpose (test modules) may fail; nothing else.
    let gone_modules: Vec<String> = gone
        .iter()
        .map(|g| {
            let (dir, name) = g.rsplit_once('/').unwrap_or(("", g));
            let stem = name.split('.').next().unwrap_or(name);
            if dir.is_empty() {
                stem.to_string()
            } else {
                format!("{}.{stem}", dir.replace('/', "."))
            }
        })
        .collect();
    lost.retain(|l| {
        !gone_modules
            .iter()
            .any(|m| l.starts_with(&format!("import {m}:")))
    });
    assert!(
        lost.is_empty(),
        "{} things load in the original and not in OUT:\n{}",
        lost.len(),
        lost.join("\n")
    );

    let failed = run_workloads(&out, &cwd, with_yaml);
    assert!(
        failed.is_empty(),
        "workloads fail on OUT:\n{}",
        failed.join("\n")
    );

    eprintln!(
        "real_elf: {} ELF files, {stripped} stripped, {bytes_in} -> {bytes_out} bytes; {} imports and {} CDLLs \
         checked; slim {slim_secs:.1}s; test {:.1}s{}",
        before.elf.len(),
        imported,
        cdlled,
        t0.elapsed().as_secs_f64(),
        if with_yaml { "" } else { " (PyYAML part SKIPPED)" }
    );
}
