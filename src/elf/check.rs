//! Prove a stripped file loads exactly like its original, before it replaces anything.
//!
//! Why a separate, plan-free check: the rewriter can be wrong in ways its own plan cannot see
//! (an off-by-one in a copy, a file that changed underneath us). So both files are parsed again
//! from disk and compared by the rules alone: the ELF header differs only in `e_shoff`,
//! `e_shnum`, `e_shstrndx`; program headers are equal field by field and as stored bytes; every
//! segment's file bytes (PT_LOAD, PT_DYNAMIC, PT_NOTE, PT_INTERP, all of them) are equal; each
//! section is either kept (same header, only a non-allocated one may move, same bytes) or was
//! removable (not allocated, not a note, not `.shstrtab`), and no kept section refers to a removed
//! one. Comparisons stream in chunks, so a 170 MB library costs two 64 KiB buffers.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use goblin::elf::section_header::{SectionHeader, SHF_ALLOC, SHT_NOBITS, SHT_NOTE, SHT_NULL};

use super::inspect::{self, Elf, Reject};
use super::rewrite::ehdr_patch_fields;
use super::select::refs;

const CHUNK: usize = 64 << 10;

/// Check that `stripped` is a faithful strip of `original`; `Err` says what differs.
pub fn verify(original: &Path, stripped: &Path) -> Result<(), String> {
    let open = |p: &Path| File::open(p).map_err(|e| format!("cannot open {}: {e}", p.display()));
    let (fa, fb) = (open(original)?, open(stripped)?);
    let a = inspect::read(&fa).map_err(|r| format!("original: {}", describe(r)))?;
    let b = inspect::read(&fb).map_err(|r| format!("output: {}", describe(r)))?;
    same_header(&a, &b)?;
    let mut cmp = Bytes::new(&fa, &fb, ehdr_patch_fields(a.is_64()));
    cmp.same(0..a.ehdr_len(), 0)
        .map_err(|p| format!("ELF header differs at {p:#x}"))?;
    if a.phdrs != b.phdrs {
        return Err("program headers differ".into());
    }
    if !a.phdrs.is_empty() {
        let t = a.phdr_table();
        cmp.same(t.clone(), t.start)
            .map_err(|p| format!("program header table differs at {p:#x}"))?;
    }
    for (i, r) in a.segments() {
        cmp.same(r.clone(), r.start).map_err(|p| {
            let t = goblin::elf::program_header::pt_to_str(a.phdrs[i].p_type);
            format!("segment {i} ({t}) differs at {p:#x}")
        })?;
    }
    same_sections(&a, &b, &mut cmp)
}

fn describe(r: Reject) -> String {
    match r {
        Reject::NotElf => "not an ELF shared object or executable".into(),
        Reject::Refused(why) => why,
        Reject::Io(e) => format!("read error: {e}"),
    }
}

fn same_header(a: &Elf, b: &Elf) -> Result<(), String> {
    let (ha, hb) = (&a.header, &b.header);
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
        && ha.e_shstrndx == hb.e_shstrndx;
    if !same {
        return Err("ELF header fields differ".into());
    }
    if a.shstrndx != b.shstrndx || a.extended_shnum != b.extended_shnum {
        return Err("section name table index or numbering scheme changed".into());
    }
    if b.sections.len() > a.sections.len() || (b.sections.is_empty() && !a.sections.is_empty()) {
        return Err(format!(
            "section count went from {} to {}",
            a.sections.len(),
            b.sections.len()
        ));
    }
    Ok(())
}

fn is_null_entry(s: &SectionHeader) -> bool {
    *s == SectionHeader::default()
}

fn same_sections(a: &Elf, b: &Elf, cmp: &mut Bytes) -> Result<(), String> {
    let in_segment = |e: &Elf, r: Range<u64>| {
        e.segments()
            .any(|(_, s)| s.start < r.end && r.start < s.end)
    };
    let mut removed = vec![false; a.sections.len()];
    for (i, old) in a.sections.iter().enumerate() {
        let new = match b.sections.get(i) {
            Some(new) if !is_null_entry(new) || is_null_entry(old) => new,
            _ => {
                removable(a, i)?;
                removed[i] = true;
                continue;
            }
        };
        let mut expect = old.clone();
        if i == 0 && a.extended_shnum {
            expect.sh_size = b.sections.len() as u64;
        }
        expect.sh_offset = new.sh_offset;
        if *new != expect {
            return Err(format!("section {i} `{}`: header changed", a.name(i)));
        }
        let moved = new.sh_offset != old.sh_offset;
        // Same notion as `Elf::sec_range`: SHT_NULL and NOBITS entries own no file bytes.
        let occupies = !matches!(old.sh_type, SHT_NULL | SHT_NOBITS) && old.sh_size > 0;
        if moved {
            let alloc = old.sh_flags & u64::from(SHF_ALLOC) != 0;
            let (ra, rb) = (
                old.sh_offset..old.sh_offset + old.sh_size,
                new.sh_offset..new.sh_offset + new.sh_size,
            );
            if alloc || (occupies && (in_segment(a, ra) || in_segment(b, rb))) {
                return Err(format!("section {i} `{}` moved but is loaded", a.name(i)));
            }
        }
        if occupies {
            cmp.same(old.sh_offset..old.sh_offset + old.sh_size, new.sh_offset)
                .map_err(|p| format!("section {i} `{}` differs at {p:#x}", a.name(i)))?;
        }
    }
    for i in (0..a.sections.len()).filter(|&i| !removed[i]) {
        if let Some(t) = refs(a, i).find(|&t| removed[t]) {
            return Err(format!(
                "kept section {i} `{}` refers to removed section {t} `{}`",
                a.name(i),
                a.name(t)
            ));
        }
    }
    if b.header.e_shoff != a.header.e_shoff && in_segment(b, b.shdr_table()) {
        return Err("the new section header table overlaps a segment".into());
    }
    Ok(())
}

/// A removed section must have been one the loader never reads.
fn removable(a: &Elf, i: usize) -> Result<(), String> {
    let s = &a.sections[i];
    let never = i == 0
        || i == a.shstrndx
        || s.sh_flags & u64::from(SHF_ALLOC) != 0
        || s.sh_type == SHT_NOTE
        || s.sh_type == SHT_NOBITS
        || matches!(a.name(i), ".gnu_debuglink" | ".gnu_debugaltlink");
    if never {
        return Err(format!(
            "section {i} `{}` was removed but must stay",
            a.name(i)
        ));
    }
    Ok(())
}

/// Streams byte ranges of the original (`a`) and the output (`b`) through two reused buffers.
struct Bytes<'f> {
    a: &'f File,
    b: &'f File,
    x: Vec<u8>,
    y: Vec<u8>,
    /// Header fields allowed to differ (compared by value elsewhere).
    mask: [Range<u64>; 3],
}

impl<'f> Bytes<'f> {
    fn new(a: &'f File, b: &'f File, mask: [Range<u64>; 3]) -> Self {
        let (x, y) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
        Bytes { a, b, x, y, mask }
    }

    /// Compare `ra` in `a` with the same length at `b_start` in `b`. When the offsets are the
    /// same, differences inside the mask are ignored. `Err` is the first differing offset in `a`.
    fn same(&mut self, ra: Range<u64>, b_start: u64) -> Result<(), u64> {
        let mut at = ra.start;
        while at < ra.end {
            let n = (ra.end - at).min(CHUNK as u64) as usize;
            let (x, y) = (&mut self.x[..n], &mut self.y[..n]);
            let b_at = b_start + (at - ra.start);
            if self.a.read_exact_at(x, at).is_err() || self.b.read_exact_at(y, b_at).is_err() {
                return Err(at);
            }
            if x != y {
                let mask = &self.mask;
                let masked = |p: u64| b_start == ra.start && mask.iter().any(|m| m.contains(&p));
                if let Some(k) = (0..n).find(|&k| x[k] != y[k] && !masked(at + k as u64)) {
                    return Err(at + k as u64);
                }
            }
            at += n as u64;
        }
        Ok(())
    }
}
