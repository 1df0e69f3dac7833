//! Prove a stripped file loads exactly like its original, before it replaces anything.
//!
//! Why a separate, plan-free check: the rewriter can be wrong in ways its own plan cannot see
//! (an off-by-one in a copy, a file that changed underneath us). So both files are parsed again
//! from disk and compared by the rules alone:
//!
//! - the ELF header differs only in `e_shoff`, `e_shnum`, `e_shstrndx`;
//! - program headers are equal field by field and as stored bytes, except that the trailing
//!   segments may all move down by one distance that is a multiple of each one's `p_align` (so
//!   `p_offset` stays congruent to `p_vaddr`), landing after every segment that stays;
//! - every segment's file bytes (PT_LOAD, PT_DYNAMIC, PT_NOTE, all of them) are equal at its
//!   (possibly new) offset;
//! - each section is either kept (same header, links renumbered consistently, same bytes; an
//!   allocated one moves only with its segments, a non-allocated one anywhere outside them) or was
//!   removable (not allocated, not `.shstrtab`, not a build-id note), and no kept section refers
//!   to a removed one. Indices up to the last allocated section never change (`.dynsym` names
//!   sections by index), nor any index while a static symbol table or group is kept.
//!
//! Comparisons stream in chunks, so a 170 MB library costs two 64 KiB buffers.

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use goblin::elf::program_header::ProgramHeader;
use goblin::elf::section_header::{
    SectionHeader, SHF_ALLOC, SHN_XINDEX, SHT_GROUP, SHT_NOBITS, SHT_NOTE, SHT_NULL, SHT_SYMTAB,
    SHT_SYMTAB_SHNDX,
};

use super::inspect::{self, Elf, Reject};
use super::rewrite::{ehdr_patch_fields, phdr_offset_field};
use super::select::{self, refs};
use crate::error::PathError;

const CHUNK: usize = 64 << 10;

/// The trailing segments moved down: those at or after `from` (in the original) by `delta`.
#[derive(Debug, Clone, Copy)]
struct Moved {
    from: u64,
    delta: u64,
}

/// Why `verify` did not pass. The kinds stay apart because the caller acts on them differently:
/// an unfaithful output is a refusal (the file is left as it is), an I/O failure is an error.
#[derive(Debug)]
pub enum CheckError {
    /// A file could not be opened or read: nothing is known about the strip.
    Io(PathError),
    /// The output is not a faithful strip of the original (or not an ELF file we read): what
    /// differs.
    NotFaithful(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Io(e) => e.fmt(f),
            CheckError::NotFaithful(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckError::Io(e) => Some(e),
            CheckError::NotFaithful(_) => None,
        }
    }
}

fn differs(why: impl Into<String>) -> CheckError {
    CheckError::NotFaithful(why.into())
}

/// Check that `stripped` is a faithful strip of `original`; `Err` says what differs, or which
/// file could not be read.
pub fn verify(original: &Path, stripped: &Path) -> Result<(), CheckError> {
    let open = |p: &Path| File::open(p).map_err(|e| CheckError::Io(PathError::new("open", p, e)));
    let (fa, fb) = (open(original)?, open(stripped)?);
    let a = inspect::read(&fa).map_err(|r| rejected("original", original, r))?;
    let b = inspect::read(&fb).map_err(|r| rejected("output", stripped, r))?;
    same_header(&a, &b)?;
    let moved = segment_move(&a, &b)?;
    let mut mask: Vec<Range<u64>> = ehdr_patch_fields(a.is_64()).to_vec();
    let ent = ProgramHeader::size(a.ctx) as u64;
    let field = phdr_offset_field(a.is_64());
    for (k, (pa, pb)) in a.phdrs.iter().zip(&b.phdrs).enumerate() {
        if pa.p_offset != pb.p_offset {
            let base = a.header.e_phoff + k as u64 * ent;
            mask.push(base + field.start..base + field.end);
        }
    }
    let mut cmp = Bytes::new((&fa, original), (&fb, stripped), mask);
    cmp.same(0..a.ehdr_len(), 0)
        .map_err(|d| d.or(|p| format!("ELF header differs at {p:#x}")))?;
    if !a.phdrs.is_empty() {
        let t = a.phdr_table();
        cmp.same(t.clone(), t.start)
            .map_err(|d| d.or(|p| format!("program header table differs at {p:#x}")))?;
    }
    for (i, r) in a.segments() {
        let to = b.phdrs[i].p_offset;
        cmp.same(r.clone(), to).map_err(|d| {
            d.or(|p| {
                let t = goblin::elf::program_header::pt_to_str(a.phdrs[i].p_type);
                format!("segment {i} ({t}) differs at {p:#x}")
            })
        })?;
    }
    same_sections(&a, &b, &mut cmp, moved)
}

/// `which` file (`path`) is not one the check reads; a read error stays an I/O error.
fn rejected(which: &str, path: &Path, r: Reject) -> CheckError {
    match r {
        Reject::NotElf => differs(format!("{which}: not an ELF shared object or executable")),
        Reject::Refused(why) => differs(format!("{which}: {why}")),
        Reject::Io(e) => CheckError::Io(PathError::new("read", path, e)),
    }
}

fn same_header(a: &Elf, b: &Elf) -> Result<(), CheckError> {
    let (ha, hb) = (&a.header, &b.header);
    let xindex = |h: &goblin::elf::Header| h.e_shstrndx == SHN_XINDEX as u16;
    let same = ha.e_ident == hb.e_ident
        && ha.e_type == hb.e_type
        && ha.e_machine == hb.e_machine
        && ha.e_version == hb.e_version
        && ha.e_entry == hb.e_entry
        && ha.e_phoff == hb.e_phoff
        && ha.e_flags == hb.e_flags
        && ha.e_ehsize == hb.e_ehsize
        && ha.e_phentsize == hb.e_phentsize
        && ha.e_phnum == hb.e_phnum
        && ha.e_shentsize == hb.e_shentsize
        && xindex(ha) == xindex(hb);
    if !same {
        return Err(differs("ELF header fields differ"));
    }
    if a.extended_shnum != b.extended_shnum || (a.shstrndx == 0) != (b.shstrndx == 0) {
        return Err(differs("section name table or numbering scheme changed"));
    }
    if b.sections.len() > a.sections.len() || (b.sections.is_empty() && !a.sections.is_empty()) {
        return Err(differs(format!(
            "section count went from {} to {}",
            a.sections.len(),
            b.sections.len()
        )));
    }
    Ok(())
}

/// Program headers are equal but for `p_offset` of the trailing segments, all moved down by one
/// distance that keeps each one's alignment and lands them after every segment that stays.
fn segment_move(a: &Elf, b: &Elf) -> Result<Option<Moved>, CheckError> {
    if a.phdrs.len() != b.phdrs.len() {
        return Err(differs("program headers differ"));
    }
    let mut delta = None;
    for (k, (pa, pb)) in a.phdrs.iter().zip(&b.phdrs).enumerate() {
        let mut expect = pa.clone();
        expect.p_offset = pb.p_offset;
        if *pb != expect {
            return Err(differs(format!("program header {k} differs")));
        }
        if pa.p_offset == pb.p_offset {
            continue;
        }
        let d = pa.p_offset.checked_sub(pb.p_offset).filter(|&d| d > 0);
        let d = d.ok_or_else(|| differs(format!("segment {k} moved up")))?;
        if *delta.get_or_insert(d) != d {
            return Err(differs("segments moved by different distances"));
        }
        if d % pa.p_align.max(1) != 0 {
            return Err(differs(format!(
                "segment {k} moved by {d:#x}, not a multiple of its alignment {:#x}",
                pa.p_align
            )));
        }
    }
    let Some(delta) = delta else { return Ok(None) };
    let moved = |k: usize| a.phdrs[k].p_offset != b.phdrs[k].p_offset;
    let from = (0..a.phdrs.len())
        .filter(|&k| moved(k))
        .map(|k| a.phdrs[k].p_offset)
        .min()
        .unwrap_or(0);
    for (k, p) in a.phdrs.iter().enumerate() {
        let occupies = p.p_filesz > 0;
        if occupies && !moved(k) && (p.p_offset >= from || p.p_offset + p.p_filesz > from - delta) {
            return Err(differs(format!(
                "segment {k} stays but lies among or after the moved segments"
            )));
        }
    }
    if a.phdr_table().end > from - delta {
        return Err(differs(
            "the program header table lies among the moved segments",
        ));
    }
    Ok(Some(Moved { from, delta }))
}

fn is_null_entry(s: &SectionHeader) -> bool {
    *s == SectionHeader::default()
}

/// Headers equal apart from what a strip may change (offset and links).
fn same_identity(x: &SectionHeader, y: &SectionHeader) -> bool {
    (
        x.sh_name,
        x.sh_type,
        x.sh_flags,
        x.sh_addr,
        x.sh_size,
        x.sh_addralign,
        x.sh_entsize,
    ) == (
        y.sh_name,
        y.sh_type,
        y.sh_flags,
        y.sh_addr,
        y.sh_size,
        y.sh_addralign,
        y.sh_entsize,
    )
}

/// Old index -> new index (None: removed). Up to the last allocated section indices are
/// unchanged; after it `b`'s entries must be `a`'s kept ones in order, removed ones either left
/// as null placeholders or dropped.
fn map_sections(a: &Elf, b: &Elf) -> Result<Vec<Option<usize>>, CheckError> {
    let n = a.sections.len();
    let fixed = (0..n)
        .rev()
        .find(|&i| a.sections[i].sh_flags & u64::from(SHF_ALLOC) != 0)
        .map_or(1, |i| i + 1);
    let mut map = vec![None; n];
    let mut j = 0;
    for (i, old) in a.sections.iter().enumerate() {
        let Some(new) = b.sections.get(j) else {
            continue;
        };
        if is_null_entry(new) && !is_null_entry(old) {
            j += 1; // a placeholder
        } else if i < fixed || same_identity(old, new) {
            map[i] = Some(j);
            j += 1;
        }
    }
    if j != b.sections.len() {
        return Err(differs(format!(
            "output section {j} matches no section of the original"
        )));
    }
    Ok(map)
}

fn same_sections(
    a: &Elf,
    b: &Elf,
    cmp: &mut Bytes,
    moved: Option<Moved>,
) -> Result<(), CheckError> {
    let in_segment = |e: &Elf, r: Range<u64>| {
        e.segments()
            .any(|(_, s)| s.start < r.end && r.start < s.end)
    };
    let map = map_sections(a, b)?;
    let renumbered = map
        .iter()
        .enumerate()
        .any(|(i, m)| m.is_some_and(|m| m != i));
    for (i, old) in a.sections.iter().enumerate() {
        let Some(j) = map[i] else {
            removable(a, i)?;
            continue;
        };
        let new = &b.sections[j];
        if renumbered && matches!(old.sh_type, SHT_SYMTAB | SHT_SYMTAB_SHNDX | SHT_GROUP) {
            return Err(differs(format!(
                "sections were renumbered while `{}` (which names sections by index) is kept",
                a.name(i)
            )));
        }
        let mut expect = old.clone();
        expect.sh_offset = new.sh_offset;
        if i == 0 {
            if a.extended_shnum {
                expect.sh_size = b.sections.len() as u64;
            }
            if a.header.e_shstrndx == SHN_XINDEX as u16 {
                expect.sh_link = map[a.shstrndx].unwrap_or(0) as u32;
            }
        } else {
            let linked: Vec<usize> = refs(a, i).collect();
            if let Some(&t) = linked.iter().find(|&&t| map[t].is_none()) {
                return Err(differs(format!(
                    "kept section {i} `{}` refers to removed section {t} `{}`",
                    a.name(i),
                    a.name(t)
                )));
            }
            if linked.contains(&(old.sh_link as usize)) {
                expect.sh_link = map[old.sh_link as usize].unwrap_or(0) as u32;
            }
            if select::info_is_link(a, i) && linked.contains(&(old.sh_info as usize)) {
                expect.sh_info = map[old.sh_info as usize].unwrap_or(0) as u32;
            }
        }
        if *new != expect {
            return Err(differs(format!(
                "section {i} `{}`: header changed",
                a.name(i)
            )));
        }
        let shifted =
            moved.and_then(|m| (old.sh_offset >= m.from).then(|| old.sh_offset - m.delta));
        let occupies = !matches!(old.sh_type, SHT_NULL | SHT_NOBITS) && old.sh_size > 0;
        let (ra, rb) = (
            old.sh_offset..old.sh_offset + old.sh_size,
            new.sh_offset..new.sh_offset + new.sh_size,
        );
        let alloc = old.sh_flags & u64::from(SHF_ALLOC) != 0;
        if alloc || (occupies && in_segment(a, ra.clone())) {
            // Loaded bytes move only with their segments.
            if new.sh_offset != shifted.unwrap_or(old.sh_offset) {
                return Err(differs(format!(
                    "section {i} `{}` moved but is loaded",
                    a.name(i)
                )));
            }
        } else if occupies && new.sh_offset != old.sh_offset && in_segment(b, rb) {
            return Err(differs(format!(
                "section {i} `{}` was moved into a segment",
                a.name(i)
            )));
        }
        if occupies {
            cmp.same(ra, new.sh_offset)
                .map_err(|d| d.or(|p| format!("section {i} `{}` differs at {p:#x}", a.name(i))))?;
        }
    }
    if a.shstrndx != 0 && map[a.shstrndx] != Some(b.shstrndx) {
        return Err(differs(
            "the section name table index does not follow the renumbering",
        ));
    }
    if b.header.e_shoff != a.header.e_shoff && in_segment(b, b.shdr_table()) {
        return Err(differs("the new section header table overlaps a segment"));
    }
    Ok(())
}

/// A removed section must have been one the loader never reads.
fn removable(a: &Elf, i: usize) -> Result<(), CheckError> {
    let s = &a.sections[i];
    let never = i == 0
        || i == a.shstrndx
        || s.sh_flags & u64::from(SHF_ALLOC) != 0
        || (s.sh_type == SHT_NOTE && !select::is_build_notes(a, i))
        || s.sh_type == SHT_NOBITS
        || matches!(a.name(i), ".gnu_debuglink" | ".gnu_debugaltlink");
    if never {
        return Err(differs(format!(
            "section {i} `{}` was removed but must stay",
            a.name(i)
        )));
    }
    Ok(())
}

/// Where two byte ranges first differ, or why they could not be read.
enum Diff {
    /// The first differing offset in the original (a range past the end of a file differs).
    At(u64),
    Io(PathError),
}

impl Diff {
    /// A difference described by `at`, or the read error as it is.
    fn or(self, at: impl FnOnce(u64) -> String) -> CheckError {
        match self {
            Diff::At(p) => differs(at(p)),
            Diff::Io(e) => CheckError::Io(e),
        }
    }
}

/// Streams byte ranges of the original (`a`) and the output (`b`) through two reused buffers.
struct Bytes<'f> {
    a: (&'f File, &'f Path),
    b: (&'f File, &'f Path),
    x: Vec<u8>,
    y: Vec<u8>,
    /// Header fields allowed to differ (compared by value elsewhere).
    mask: Vec<Range<u64>>,
}

impl<'f> Bytes<'f> {
    fn new(a: (&'f File, &'f Path), b: (&'f File, &'f Path), mask: Vec<Range<u64>>) -> Self {
        let (x, y) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
        Bytes { a, b, x, y, mask }
    }

    /// Compare `ra` in `a` with the same length at `b_start` in `b`. When the offsets are the
    /// same, differences inside the mask are ignored.
    fn same(&mut self, ra: Range<u64>, b_start: u64) -> Result<(), Diff> {
        let mut at = ra.start;
        while at < ra.end {
            let n = (ra.end - at).min(CHUNK as u64) as usize;
            let (x, y) = (&mut self.x[..n], &mut self.y[..n]);
            let b_at = b_start + (at - ra.start);
            read_at(self.a, x, at).map_err(|e| e.map_or(Diff::At(at), Diff::Io))?;
            read_at(self.b, y, b_at).map_err(|e| e.map_or(Diff::At(at), Diff::Io))?;
            if x != y {
                let mask = &self.mask;
                let masked = |p: u64| b_start == ra.start && mask.iter().any(|m| m.contains(&p));
                if let Some(k) = (0..n).find(|&k| x[k] != y[k] && !masked(at + k as u64)) {
                    return Err(Diff::At(at + k as u64));
                }
            }
            at += n as u64;
        }
        Ok(())
    }
}

/// Fill `buf` from `file` at `at`: `Err(None)` when the file ends first (a difference, not a
/// failure), `Err(Some(_))` for a real read error.
fn read_at((file, path): (&File, &Path), buf: &mut [u8], at: u64) -> Result<(), Option<PathError>> {
    file.read_exact_at(buf, at).map_err(|e| {
        (e.kind() != io::ErrorKind::UnexpectedEof).then(|| PathError::new("read", path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_is_an_io_error_not_a_difference() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("missing"));
        std::fs::write(&a, b"\x7fELF").unwrap();
        let e = verify(&a, &b).unwrap_err();
        assert!(matches!(&e, CheckError::Io(p) if p.path() == b), "{e:?}");
        assert!(e.to_string().starts_with("cannot open `"), "{e}");
        // A file that is not ELF is a difference, said as before.
        let e = verify(&a, &a).unwrap_err();
        assert!(matches!(&e, CheckError::NotFaithful(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "original: not an ELF shared object or executable"
        );
    }

    #[test]
    fn a_short_file_differs_where_it_ends() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::write(&a, [1u8; 100]).unwrap();
        std::fs::write(&b, [1u8; 60]).unwrap();
        let (fa, fb) = (File::open(&a).unwrap(), File::open(&b).unwrap());
        let mut cmp = Bytes::new((&fa, &a), (&fb, &b), Vec::new());
        assert!(cmp.same(0..50, 0).is_ok());
        assert!(matches!(cmp.same(0..100, 0), Err(Diff::At(0))));
    }
}
