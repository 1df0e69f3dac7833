//! Which sections go: decided by type, flags and links, never by the file's name.
//!
//! Why this shape: the loader never reads a section that lacks SHF_ALLOC, so debug info
//! (`.debug_*`, `.zdebug_*`, `.stab*`, `.line`), the static symbol table and what only they use
//! can go without changing how the library runs; so can annobin's non-allocated build notes in
//! the default mode. Everything else stays: SHF_ALLOC sections, NOBITS, other notes (build-id),
//! `.shstrtab`, `.gnu_debuglink`/`.gnu_debugaltlink` (debuggers find the
//! separate debug file through them). Links decide the rest: relocations that apply to a removed
//! section go with it, and a section that any kept section links to (`sh_link`, or `sh_info` when
//! it names a section) is kept, whatever its name.

use goblin::elf::section_header::{
    SHF_ALLOC, SHF_INFO_LINK, SHT_NOBITS, SHT_NOTE, SHT_NULL, SHT_REL, SHT_RELA, SHT_STRTAB,
    SHT_SYMTAB, SHT_SYMTAB_SHNDX,
};

use super::inspect::Elf;
use super::Mode;

/// `removed[i]` is true for each section index that goes.
pub(crate) fn removable(elf: &Elf, mode: Mode) -> Vec<bool> {
    let n = elf.sections.len();
    let mut gone: Vec<bool> = (0..n)
        .map(|i| {
            !protected(elf, i)
                && (is_debug(elf.name(i))
                    || (mode == Mode::Unneeded && (is_symbols(elf, i) || is_build_notes(elf, i))))
        })
        .collect();
    if !gone.iter().any(|&g| g) {
        return gone;
    }
    grow_dependents(elf, &mut gone);
    keep_what_kept_sections_use(elf, &mut gone);
    gone
}

/// Sections never removed, whatever their name.
fn protected(elf: &Elf, i: usize) -> bool {
    let s = &elf.sections[i];
    i == 0
        || i == elf.shstrndx
        || s.sh_flags & u64::from(SHF_ALLOC) != 0
        || matches!(s.sh_type, SHT_NULL | SHT_NOBITS)
        || (s.sh_type == SHT_NOTE && !is_build_notes(elf, i))
        || matches!(elf.name(i), ".gnu_debuglink" | ".gnu_debugaltlink")
}

/// The static symbol table, plain (`.symtab`) or as MiniDebugInfo (`.gnu_debugdata`: an
/// xz-compressed ELF holding a `.symtab`, for symbolizing backtraces; libgfortran in numpy's and
/// scipy's wheels ships one). Neither is read by the loader.
fn is_symbols(elf: &Elf, i: usize) -> bool {
    elf.sections[i].sh_type == SHT_SYMTAB || elf.name(i) == ".gnu_debugdata"
}

/// Annobin build notes (`.gnu.build.attributes`): non-allocated notes recording the compiler
/// flags of each code range, read by `annocheck` on a build machine and by nothing at run time.
/// GNU strip merges them; Fedora/RHEL-built wheels (pillow, numpy) carry 288 bytes each. The
/// build-id note (`.note.gnu.build-id`) is allocated and never matches.
pub(crate) fn is_build_notes(elf: &Elf, i: usize) -> bool {
    let s = &elf.sections[i];
    s.sh_type == SHT_NOTE
        && s.sh_flags & u64::from(SHF_ALLOC) == 0
        && elf.name(i).starts_with(".gnu.build.attributes")
}

/// Debug information by its conventional names (GNU strip uses the same prefixes).
pub(crate) fn is_debug(name: &str) -> bool {
    name == ".debug"
        || name.starts_with(".debug_")
        || name.starts_with(".zdebug_")
        || name.starts_with(".stab")
        || name == ".line"
}

fn valid(elf: &Elf, i: u32) -> Option<usize> {
    let i = i as usize;
    (i != 0 && i < elf.sections.len()).then_some(i)
}

fn is_reloc(t: u32) -> bool {
    t == SHT_REL || t == SHT_RELA
}

/// The section a relocation section applies to (its `sh_info`).
fn reloc_target(elf: &Elf, i: usize) -> Option<usize> {
    let s = &elf.sections[i];
    is_reloc(s.sh_type).then(|| valid(elf, s.sh_info)).flatten()
}

/// The section index fields of section `i`: `sh_link` always (0 means none), `sh_info` for
/// relocations and sections flagged SHF_INFO_LINK.
pub(super) fn refs(elf: &Elf, i: usize) -> impl Iterator<Item = usize> {
    let s = &elf.sections[i];
    let info = info_is_link(elf, i);
    let link = valid(elf, s.sh_link);
    let info = info.then(|| valid(elf, s.sh_info)).flatten();
    link.into_iter().chain(info)
}

/// True when section `i`'s `sh_info` holds a section index.
pub(super) fn info_is_link(elf: &Elf, i: usize) -> bool {
    let s = &elf.sections[i];
    is_reloc(s.sh_type) || s.sh_flags & u64::from(SHF_INFO_LINK) != 0
}

/// Add what only serves removed sections: their relocations, the symbol table's extended index
/// section, and string tables a removed section links to. Only grows, so it ends.
fn grow_dependents(elf: &Elf, gone: &mut [bool]) {
    let n = gone.len();
    loop {
        let mut changed = false;
        let mut linked_by_gone = vec![false; n];
        for (j, s) in elf.sections.iter().enumerate() {
            if let Some(t) = valid(elf, s.sh_link).filter(|_| gone[j]) {
                linked_by_gone[t] = true;
            }
        }
        for i in 0..n {
            if gone[i] || protected(elf, i) {
                continue;
            }
            let s = &elf.sections[i];
            let depends = match s.sh_type {
                t if is_reloc(t) => reloc_target(elf, i).is_some_and(|t| gone[t]),
                SHT_SYMTAB_SHNDX => valid(elf, s.sh_link).is_some_and(|t| gone[t]),
                SHT_STRTAB => linked_by_gone[i],
                _ => false,
            };
            if depends {
                gone[i] = true;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Keep every section a kept section refers to, and the dependents of kept sections. Only
/// shrinks, so it ends; afterwards no kept section refers to a removed one.
fn keep_what_kept_sections_use(elf: &Elf, gone: &mut [bool]) {
    let n = gone.len();
    loop {
        let mut changed = false;
        for i in 0..n {
            if gone[i] {
                let s = &elf.sections[i];
                let master = match s.sh_type {
                    t if is_reloc(t) => reloc_target(elf, i),
                    SHT_SYMTAB_SHNDX => valid(elf, s.sh_link),
                    _ => None,
                };
                if master.is_some_and(|m| !gone[m]) {
                    gone[i] = false;
                    changed = true;
                }
                continue;
            }
            for t in refs(elf, i) {
                if gone[t] {
                    gone[t] = false;
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}
