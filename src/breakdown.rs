//! Where the bytes are after slimming: the kept bytes of a plan by distribution and by kind of
//! file, biggest first. `slim -n` and `slim` print it, `--json` carries it (`breakdown`), the
//! treemap (`--treemap`, `bench --html`) draws it, and `--budget` lists its largest
//! distributions. One count serves them all.
//!
//! A kept file counts once per inode (as the report's `after` does), at its size in the input,
//! a rewritten file (RECORD, METADATA) at its new size. Two parts are not in the plan's `after`:
//! - bytecode the run compiles: in a dry run at the size of the pyc pip left for the same source
//!   (compile mode re-headers exactly that pyc when the source is unchanged; a source without
//!   one counts 0, and their number is given); after a real run at the size written;
//! - ELF files: in a dry run at the size the strip engine plans (`elf::predict`, before the
//!   self-check of a real strip, which may still refuse a file); after a real run at the size
//!   the engine wrote.
//!
//! So `total = files_bytes + bytecode_bytes - elf_saved_bytes`, and in a dry run `files_bytes`
//! is the report's `after_bytes`. After a real run the total is the output's size but for what
//! the plan cannot see: RECORDs count at their size before they list the compiled pycs, files
//! `--zip-pure` moves into the archive at their uncompressed size (their number is given),
//! `--dedupe`'s hardlinks as the separate files they were, and hand-off files (SBOM, licence
//! copies) and files `--verify` restores not at all.
//!
//! The kinds say what the bytes are for, which is what a reader decides on next: Python source
//! and bytecode (the interpreter's), native code (`--elf` shrinks it, a `--keep-package` it
//! needs stays), data (what packages read at run time), dist-info metadata and licences (what
//! `--dist-info` decides), and bin/ scripts. They are told apart by path alone (no file is read),
//! in that order of precedence: bin/, native, licences, dist-info, source, bytecode, data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::apply::Outcome;
use crate::inventory::{Inventory, Kind};
use crate::plan::{ActionKind, Plan};

/// The name of the files no RECORD lists (the interpreter links, pyvenv.cfg).
pub const NO_DIST: &str = "(no distribution)";

/// What a kept file is, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// `.py`, `.pyi`, `.pyw`.
    Source,
    /// `.pyc`: pip's kept, or compiled by the run.
    Bytecode,
    /// ELF files and `*.so`: extension modules and the libraries they load.
    Native,
    /// Everything else a package ships: data, templates, certificates, `.mo`, JavaScript.
    Data,
    /// `*.dist-info` files other than licences.
    Metadata,
    /// Licence and notice files, in a dist-info or beside the code.
    Licences,
    /// Files directly in bin/: console scripts, the activation scripts kept.
    Scripts,
}

impl FileKind {
    /// Every kind, in the order of the legend.
    pub const ALL: [FileKind; 7] = [
        FileKind::Native,
        FileKind::Source,
        FileKind::Bytecode,
        FileKind::Data,
        FileKind::Metadata,
        FileKind::Licences,
        FileKind::Scripts,
    ];

    /// The human name shown in the report and the treemap's legend.
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Source => "Python source",
            FileKind::Bytecode => "bytecode",
            FileKind::Native => "native code",
            FileKind::Data => "data and other files",
            FileKind::Metadata => "dist-info metadata",
            FileKind::Licences => "licences",
            FileKind::Scripts => "bin/ scripts",
        }
    }
}

/// The kept bytes of one run, by distribution and by kind, biggest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Every kept byte: the sum of `dists` (and of `kinds`).
    pub total_bytes: u64,
    /// Kept files.
    pub total_files: u64,
    /// How `total_bytes` was reached.
    pub basis: Basis,
    /// Every distribution with kept bytes, and `(no distribution)`; biggest first, ties by name.
    pub dists: Vec<DistSize>,
    /// Every kind with kept bytes, biggest first.
    pub kinds: Vec<KindSize>,
}

/// The parts of `total_bytes`: `files_bytes + bytecode_bytes - elf_saved_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// Measured after the real run (compiled pycs and stripped ELF files as written), or
    /// estimated from the plan (a dry run).
    pub measured: bool,
    /// The kept files as the plan counts them (the dry run's `after_bytes`).
    pub files_bytes: u64,
    /// The bytecode the run compiles.
    pub bytecode_bytes: u64,
    /// Compiled pycs counted.
    pub bytecode_files: u64,
    /// Sources to compile with no pip pyc to measure (counted as 0; dry run only).
    pub sources_without_pyc: u64,
    /// What stripping takes out of the ELF files.
    pub elf_saved_bytes: u64,
    /// Files `--zip-pure` moves into the archive, counted at their uncompressed size.
    pub zipped_files: u64,
}

/// One distribution's kept bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistSize {
    /// Its name as its METADATA spells it, or `(no distribution)`.
    pub name: String,
    /// Its version (None for `(no distribution)`).
    pub version: Option<String>,
    /// Kept bytes.
    pub bytes: u64,
    /// Kept files.
    pub files: u64,
    /// Its bytes by kind (kinds with none left out).
    pub kinds: BTreeMap<FileKind, u64>,
}

impl DistSize {
    /// `name version`, or `(no distribution)`.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One kind's kept bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSize {
    /// The kind.
    pub kind: FileKind,
    /// Kept bytes.
    pub bytes: u64,
    /// Kept files.
    pub files: u64,
}

impl Breakdown {
    /// Estimated from the plan, before anything is written: compiled bytecode at the size of
    /// pip's pycs, ELF files at their planned stripped size.
    pub fn plan(plan: &Plan) -> Breakdown {
        let pycs = Pycs::new(plan);
        let mut without = 0;
        let compiled: Vec<(PathBuf, u64)> = plan
            .compile
            .iter()
            .filter_map(|source| {
                let pyc = pycs.find(source);
                without += u64::from(pyc.is_none());
                pyc
            })
            .collect();
        // A file the engine cannot read now is counted whole: the run will say why.
        let elf = elf_savings(plan)
            .into_iter()
            .filter_map(|(i, saved)| Some((i, saved.ok()?)))
            .collect();
        let mut b = tally(plan, &compiled, &elf);
        b.basis.sources_without_pyc = without;
        b
    }

    /// Measured after a real run whose tree is at `tree`: the pycs it wrote, at their size
    /// there, and the ELF files at the size the engine wrote.
    pub fn outcome(plan: &Plan, outcome: &Outcome, tree: &Path) -> Breakdown {
        let compiled: Vec<(PathBuf, u64)> = outcome
            .compiled
            .iter()
            .filter_map(|pyc| {
                let meta = std::fs::symlink_metadata(tree.join(pyc)).ok()?;
                meta.is_file().then(|| (pyc.clone(), meta.len()))
            })
            .collect();
        let elf = outcome
            .elf
            .iter()
            .filter_map(|(path, verdict)| match verdict {
                crate::elf::Verdict::Stripped { before, after } => {
                    Some((plan.inv.index(path)?, before.saturating_sub(*after)))
                }
                _ => None,
            })
            .collect();
        let mut b = tally(plan, &compiled, &elf);
        b.basis.measured = true;
        b
    }

    /// The `n` biggest distributions, and the bytes and count of the others.
    pub fn top(&self, n: usize) -> (&[DistSize], u64, usize) {
        let n = n.min(self.dists.len());
        let rest = &self.dists[n..];
        (
            &self.dists[..n],
            rest.iter().map(|d| d.bytes).sum(),
            rest.len(),
        )
    }
}

#[derive(Default)]
struct Acc {
    bytes: u64,
    files: u64,
    /// Bytes and files by kind.
    kinds: BTreeMap<FileKind, (u64, u64)>,
}

impl Acc {
    fn add(&mut self, kind: FileKind, bytes: u64) {
        self.bytes += bytes;
        self.files += 1;
        let k = self.kinds.entry(kind).or_default();
        k.0 += bytes;
        k.1 += 1;
    }
}

/// Count every kept file of `plan`, the `compiled` pycs (path, size) and the ELF savings (by
/// inventory index) into a breakdown.
fn tally(plan: &Plan, compiled: &[(PathBuf, u64)], elf: &HashMap<usize, u64>) -> Breakdown {
    let mut basis = Basis::default();
    let mut by_dist: BTreeMap<Option<usize>, Acc> = BTreeMap::new();
    let mut seen = HashSet::new();
    let elf_files: HashSet<usize> = plan
        .elf
        .iter()
        .chain(plan.elf_skipped.iter().map(|(i, _)| i))
        .copied()
        .collect();
    for (i, e) in plan.inv.entries.iter().enumerate() {
        if e.kind != Kind::File {
            continue;
        }
        let action = plan.fate[i].map(|a| &plan.actions[a]);
        let size = match action.map(|a| (&a.kind, a.bytes)) {
            Some((ActionKind::Remove | ActionKind::RemoveAfterCompile, _)) => continue,
            Some((ActionKind::Rewrite(..), saved)) => e.size.saturating_sub(saved),
            Some((ActionKind::Move(_), _)) | None => e.size,
        };
        // Each inode once, by its first kept path.
        if e.nlink > 1 && !seen.insert((e.dev, e.ino)) {
            continue;
        }
        basis.files_bytes += size;
        basis.zipped_files += u64::from(plan.zipped.get(i).copied().unwrap_or(false));
        let saved = elf.get(&i).copied().unwrap_or(0).min(size);
        basis.elf_saved_bytes += saved;
        let kind = kind_of(plan, &e.path, elf_files.contains(&i));
        by_dist
            .entry(plan.own.owner(&e.path))
            .or_default()
            .add(kind, size - saved);
    }
    for (pyc, size) in compiled {
        basis.bytecode_bytes += size;
        basis.bytecode_files += 1;
        by_dist
            .entry(plan.own.owner(pyc))
            .or_default()
            .add(FileKind::Bytecode, *size);
    }
    let mut kinds: BTreeMap<FileKind, KindSize> = BTreeMap::new();
    let mut dists: Vec<DistSize> = by_dist
        .into_iter()
        .map(|(d, acc)| {
            for (&kind, &(bytes, files)) in &acc.kinds {
                let k = kinds.entry(kind).or_insert(KindSize {
                    kind,
                    bytes: 0,
                    files: 0,
                });
                k.bytes += bytes;
                k.files += files;
            }
            let (name, version) = match d {
                Some(d) => (
                    plan.dists[d].name.clone(),
                    Some(plan.dists[d].version.clone()),
                ),
                None => (NO_DIST.to_string(), None),
            };
            DistSize {
                name,
                version,
                bytes: acc.bytes,
                files: acc.files,
                kinds: acc.kinds.into_iter().map(|(k, (b, _))| (k, b)).collect(),
            }
        })
        .collect();
    dists.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.version.cmp(&b.version))
    });
    let mut kinds: Vec<KindSize> = kinds.into_values().collect();
    kinds.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.kind.cmp(&b.kind)));
    Breakdown {
        total_bytes: dists.iter().map(|d| d.bytes).sum(),
        total_files: dists.iter().map(|d| d.files).sum(),
        basis,
        dists,
        kinds,
    }
}

/// The kind of the kept file at `path` (relative to the root); `elf`: the plan found it is ELF.
pub fn kind_of(plan: &Plan, path: &Path, elf: bool) -> FileKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if plan.venv.in_bin(path) {
        return FileKind::Scripts;
    }
    if elf || crate::elf::shared_object_name(&name) {
        return FileKind::Native;
    }
    let in_dist_info = path
        .strip_prefix(&plan.venv.site_packages)
        .ok()
        .and_then(crate::rules::distinfo::split);
    match in_dist_info {
        Some((_, rest)) if crate::rules::distinfo::is_license_path(rest) => {
            return FileKind::Licences
        }
        Some(_) => return FileKind::Metadata,
        None => {}
    }
    if crate::rules::is_license_name(&name) {
        return FileKind::Licences;
    }
    match Path::new(&name).extension().and_then(|e| e.to_str()) {
        Some("py" | "pyi" | "pyw") => FileKind::Source,
        Some("pyc" | "pyo") => FileKind::Bytecode,
        _ => FileKind::Data,
    }
}

/// Where pip's bytecode for a source is, and its size.
pub(crate) struct Pycs<'a> {
    inv: &'a Inventory,
    tag: String,
}

impl<'a> Pycs<'a> {
    pub(crate) fn new(plan: &'a Plan) -> Pycs<'a> {
        let py = plan.venv.python;
        Pycs {
            inv: &plan.inv,
            tag: format!("cpython-{}{}", py.major, py.minor),
        }
    }

    /// `dir/__pycache__/name.cpython-XY.pyc` for `dir/name.py` and its size, if the input has
    /// it as a file.
    pub(crate) fn find(&self, source: &Path) -> Option<(PathBuf, u64)> {
        let stem = source.file_stem()?.to_str()?;
        let pyc = source
            .parent()?
            .join("__pycache__")
            .join(format!("{stem}.{}.pyc", self.tag));
        let size = self.inv.find(&pyc).filter(|e| e.kind == Kind::File)?.size;
        Some((pyc, size))
    }

    /// The pyc's path (`find`).
    pub(crate) fn path(&self, source: &Path) -> Option<PathBuf> {
        self.find(source).map(|(p, _)| p)
    }

    /// The pyc's size (`find`).
    pub(crate) fn size(&self, source: &Path) -> Option<u64> {
        self.find(source).map(|(_, n)| n)
    }
}

/// For each ELF file the plan strips (inventory index), the bytes the engine plans to take out.
pub(crate) fn elf_savings(plan: &Plan) -> Vec<(usize, Result<u64>)> {
    use rayon::prelude::*;
    let Some(mode) = plan.elf_mode else {
        return Vec::new();
    };
    plan.elf
        .par_iter()
        .map(|&i| {
            let path = plan.venv.root.join(&plan.inv.entries[i].path);
            let saved = crate::elf::predict(&path, mode).map(|v| match v {
                crate::elf::Verdict::Stripped { before, after } => before.saturating_sub(after),
                _ => 0,
            });
            (i, saved)
        })
        .collect()
}
