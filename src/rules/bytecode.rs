//! Bytecode: which existing `.pyc`/`.pyo` files go.
//!
//! pip compiles timestamp pycs at install time, for the builder's Python; they are a quarter of
//! a venv's bytes and go stale as soon as a source's mtime changes (COPY, layer rebuilds).
//! Dropping them without replacement makes every start on a read-only filesystem recompile
//! everything (measured 2-3x slower start-up), so the default drops them and `bytecode.rs`
//! (the top-level module) recompiles every kept source as unchecked-hash pycs (PEP 552) with the
//! target interpreter. A `.pyc` with no `.py` beside it is a sourceless module: the only copy
//! of that code, never removed.

use std::collections::HashMap;
use std::path::Path;

use super::{Category, Ctx, Guard, Item, Rule, Verdict};
use crate::cli::BytecodeMode;
use crate::inventory::Kind;

/// pip's timestamp pycs in `__pycache__`, replaced by recompiled ones.
pub static STALE: Rule = Rule {
    id: "bytecode.stale",
    category: Category::Bytecode,
    guard: Guard::None,
    reason: "pip's timestamp pycs for the builder; every kept source is recompiled as unchecked-hash pycs by the target interpreter",
    evidence: "PEP 552: unchecked-hash pycs do not depend on file mtimes, so they stay valid after COPY and on read-only filesystems",
};

/// Every pyc under `--bytecode strip`.
pub static STRIP: Rule = Rule {
    id: "bytecode.strip",
    category: Category::Bytecode,
    guard: Guard::None,
    reason: "--bytecode strip: no bytecode shipped",
    evidence: "on a read-only filesystem Python then recompiles every module at every start (measured 2-3x slower start-up)",
};

/// A legacy `name.pyc` beside its `name.py`.
pub static SHADOWED: Rule = Rule {
    id: "bytecode.shadowed",
    category: Category::Bytecode,
    guard: Guard::None,
    reason:
        "a legacy name.pyc beside name.py: Python 3 always prefers the source and its __pycache__",
    evidence: "PEP 3147: name.pyc beside the source is used only when the source is absent",
};

/// Python 2 `.pyo` files.
pub static PYO: Rule = Rule {
    id: "bytecode.pyo",
    category: Category::Bytecode,
    guard: Guard::None,
    reason: "Python 2 optimised bytecode; Python 3 never reads .pyo",
    evidence: "PEP 488 removed .pyo files",
};

/// A `.py` source replaced by its pyc under `--bytecode sourceless`.
pub static SOURCELESS: Rule = Rule {
    id: "bytecode.sourceless",
    category: Category::Bytecode,
    guard: Guard::None,
    reason: "--bytecode sourceless: the source is replaced by name.pyc beside it (removed only once that pyc is written)",
    evidence: "breaks packages that read their own sources: opencv's cv2 loader looks for config.py by name; inspect.getsource users degrade",
};

/// Bytecode of scripts in bin/ (pip compiles `bin/jp.py` into `bin/__pycache__`).
pub static SCRIPT_CACHE: Rule = Rule {
    id: "bytecode.scripts",
    category: Category::Bytecode,
    guard: Guard::None,
    reason: "bytecode of a script in bin/: a script runs as __main__, which Python always compiles from its source and never caches",
    evidence: "pip compiles every .py it installs, jmespath's bin/jp.py included; a module in bin/ that another script imports is compiled in memory without it, once per start",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&STALE, &STRIP, &SHADOWED, &PYO, &SOURCELESS, &SCRIPT_CACHE];

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let mode = ctx.bytecode();
    if mode == BytecodeMode::Keep {
        return None;
    }
    let Some(sp_rel) = item.sp_rel else {
        let cache = ctx.venv.bin.as_ref().map(|b| b.join("__pycache__"));
        let in_bin_cache = cache.is_some_and(|c| item.entry.path.parent() == Some(c.as_path()));
        return (in_bin_cache && item.name().ends_with(".pyc"))
            .then_some(Verdict::Remove(&SCRIPT_CACHE));
    };
    let name = item.name();
    if name.ends_with(".pyo") {
        return Some(Verdict::Remove(&PYO));
    }
    if !name.ends_with(".pyc") {
        return None;
    }
    let in_cache = sp_rel
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "__pycache__");
    if in_cache {
        return Some(Verdict::Remove(if mode == BytecodeMode::Strip {
            &STRIP
        } else {
            &STALE
        }));
    }
    let source = crate::dists::source_of_pyc(&item.entry.path)?;
    ctx.py_files
        .contains(&source)
        .then_some(Verdict::Remove(&SHADOWED))
}

/// A pyc in `__pycache__` shares its source's fate when no bytecode rule decided it (keep mode,
/// or a protected source): a removed source takes its pyc along (no orphan
/// `conftest.cpython-311.pyc`), a kept source keeps it (an allowlisted test helper must not
/// lose its bytecode, or a read-only start-up recompiles it).
pub fn follow_sources(ctx: &Ctx, verdicts: &mut [Verdict]) {
    let entries = &ctx.inv.entries;
    let index: HashMap<&Path, usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == Kind::File)
        .map(|(i, e)| (e.path.as_path(), i))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        let in_cache = e
            .path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "__pycache__");
        let decided =
            matches!(&verdicts[i], Verdict::Remove(r) if r.category == Category::Bytecode);
        if !in_cache || e.kind != Kind::File || decided {
            continue;
        }
        let Some(&src) = crate::dists::source_of_pyc(&e.path)
            .as_deref()
            .and_then(|s| index.get(s))
        else {
            continue;
        };
        match (&verdicts[src], &verdicts[i]) {
            (Verdict::Remove(rule), v) if v.is_kept() => verdicts[i] = Verdict::Remove(rule),
            (v, Verdict::Remove(_)) if v.is_kept() => verdicts[i] = Verdict::Keep,
            _ => {}
        }
    }
}
