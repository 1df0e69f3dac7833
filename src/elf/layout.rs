//! Where every byte of the stripped file comes from: a pure plan over the parsed tables.
//!
//! Why a plan apart from the writer: the same plan yields the refusal reasons, the predicted
//! size (`--dry-run`), the source ranges that must be zero padding before they are cut, and the
//! byte ranges the writer copies. See `rewrite` for the shape of the output and why.

use std::ops::Range;

use goblin::elf::program_header::PT_LOAD;
use goblin::elf::section_header::{
    SHF_ALLOC, SHT_GROUP, SHT_NOBITS, SHT_NULL, SHT_SYMTAB, SHT_SYMTAB_SHNDX,
};

use super::inspect::Elf;

/// Larger alignments than this in a non-loaded section mean a corrupted header.
const MAX_ALIGN: u64 = 1 << 16;
/// A segment alignment past this is a corrupted header, not a page size.
const MAX_SEGMENT_ALIGN: u64 = 1 << 30;
/// Uncovered bytes that are cut are read to prove they are padding; more than this is data.
const MAX_GAPS: u64 = 1 << 20;

/// A kept section placed at a new offset outside the copied ranges.
#[derive(Debug, Clone)]
pub(crate) struct Move {
    pub index: usize,
    pub from: u64,
    pub to: u64,
    pub len: u64,
}

/// The trailing segments' block: source `[cut, end)` is written at `[cut - delta, end - delta)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shift {
    pub cut: u64,
    pub end: u64,
    pub delta: u64,
}

/// Why a file's layout is not one we rewrite safely: the file is left as it is (a refusal, never
/// an I/O failure: the plan reads nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(pub String);

impl From<&str> for Refusal {
    fn from(why: &str) -> Refusal {
        Refusal(why.to_string())
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The output, as data.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub removed: Vec<bool>,
    /// Source bytes `[0, head_end)` are copied to the same offsets.
    pub head_end: u64,
    pub shift: Option<Shift>,
    /// Output ranges (inside copied ranges) that held removed sections or the old section table.
    pub zero: Vec<Range<u64>>,
    pub moves: Vec<Move>,
    /// New index of each old section: `None` when its entry is dropped.
    pub index: Vec<Option<usize>>,
    pub shoff: u64,
    pub shnum: usize,
    pub out_len: u64,
    /// Source bytes that are cut and covered by no section nor the old table: must be zeros.
    pub gaps: Vec<Range<u64>>,
}

impl Layout {
    /// Where source offset `off` (inside a copied range) lands in the output.
    pub fn out_offset(&self, off: u64) -> u64 {
        match &self.shift {
            Some(s) if off >= s.cut => off - s.delta,
            _ => off,
        }
    }

    /// Bytes overwritten with zeros in the copied ranges.
    pub fn zeroed(&self) -> u64 {
        self.zero.iter().map(|z| z.end - z.start).sum()
    }

    /// The new `sh_offset` of every section (meaningful for kept ones).
    pub fn new_sh_offsets(&self, elf: &Elf) -> Vec<u64> {
        let mut v: Vec<u64> = elf
            .sections
            .iter()
            .map(|s| match s.sh_type {
                SHT_NULL => s.sh_offset,
                _ => self.out_offset(s.sh_offset),
            })
            .collect();
        for m in &self.moves {
            v[m.index] = m.to;
        }
        v
    }
}

pub(crate) fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

fn align_up(x: u64, align: u64) -> Option<u64> {
    x.checked_next_multiple_of(align.max(1))
}

fn is_alloc(elf: &Elf, i: usize) -> bool {
    elf.sections[i].sh_flags & u64::from(SHF_ALLOC) != 0
}

/// Ranges that must stay byte-identical, each with a name for a refusal message.
fn fixed_ranges(elf: &Elf) -> Vec<(String, Range<u64>)> {
    let mut v = vec![("the ELF header".to_string(), 0..elf.ehdr_len())];
    if !elf.phdrs.is_empty() {
        v.push(("the program header table".into(), elf.phdr_table()));
    }
    v.extend(elf.segments().map(|(i, r)| (format!("segment {i}"), r)));
    v
}

/// Plan the output, or say why this file is refused. `may_shift`: trailing segments may move.
pub(crate) fn plan(elf: &Elf, removed: Vec<bool>, may_shift: bool) -> Result<Layout, Refusal> {
    let fixed = fixed_ranges(elf);
    let kept: Vec<usize> = (1..elf.sections.len()).filter(|&i| !removed[i]).collect();
    let kept_ranges: Vec<(usize, Range<u64>)> = kept
        .iter()
        .filter_map(|&i| elf.sec_range(i).map(|r| (i, r)))
        .collect();
    refuse_overlaps(elf, &removed, &fixed, &kept_ranges)?;
    let anchors = anchors(elf, &fixed);
    let (head_end, shift, movable) = split(elf, &kept, &anchors, may_shift);
    let copied = |r: &Range<u64>| copied_part(r, head_end, shift.as_ref());
    let mut zero: Vec<Range<u64>> = (1..removed.len())
        .filter(|&i| removed[i])
        .filter_map(|i| elf.sec_range(i))
        .flat_map(|r| copied(&r))
        .collect();
    let old_table = elf.shdr_table();
    let table_dead = !old_table.is_empty()
        && !fixed.iter().any(|(_, f)| overlaps(f, &old_table))
        && !kept_ranges.iter().any(|(_, k)| overlaps(k, &old_table));
    let dead_table_parts = if table_dead {
        copied(&old_table)
    } else {
        Vec::new()
    };
    zero.extend(dead_table_parts.iter().cloned());
    let index = renumber(elf, &removed);
    let shnum = index.iter().flatten().count();
    let table_len = shnum as u64 * elf.shentsize();
    let word = if elf.is_64() { 8 } else { 4 };
    let mut holes = Holes::new(head_end, shift.as_ref());
    // The old table's place, when it is wholly copied and dead, fits the new (never larger) one.
    let reuse = dead_table_parts
        .first()
        .filter(|p| p.end - p.start == old_table.end - old_table.start);
    let table_at = match reuse {
        Some(p) => Some(p.start),
        None => holes.take(table_len, word),
    };
    let mut moves = Vec::new();
    for i in movable {
        let s = &elf.sections[i];
        if s.sh_addralign > MAX_ALIGN {
            return Err(Refusal(format!(
                "section {i} `{}` has an implausible alignment {:#x}",
                elf.name(i),
                s.sh_addralign
            )));
        }
        let to = match holes.take(s.sh_size, s.sh_addralign) {
            Some(to) => to,
            None => holes.append(s.sh_size, s.sh_addralign)?,
        };
        moves.push(Move {
            index: i,
            from: s.sh_offset,
            to,
            len: s.sh_size,
        });
    }
    let shoff = match table_at {
        Some(at) => at,
        None => holes.append(table_len, word)?,
    };
    let out_len = holes.end;
    if !elf.is_64() && out_len > u64::from(u32::MAX) {
        return Err(Refusal::from("a 32-bit ELF file cannot grow past 4 GiB"));
    }
    let gaps = cut_gaps(elf, head_end, shift.as_ref(), &old_table);
    let gap_total: u64 = gaps.iter().map(|g| g.end - g.start).sum();
    if gap_total > MAX_GAPS {
        return Err(Refusal(format!(
            "{gap_total} bytes outside the segments belong to no section: appended data would be cut"
        )));
    }
    Ok(Layout {
        removed,
        head_end,
        shift,
        zero,
        moves,
        index,
        shoff,
        shnum,
        out_len,
        gaps,
    })
}

/// Refuse any removed section that overlaps a segment, the headers or a kept section.
fn refuse_overlaps(
    elf: &Elf,
    removed: &[bool],
    fixed: &[(String, Range<u64>)],
    kept_ranges: &[(usize, Range<u64>)],
) -> Result<(), Refusal> {
    for i in (1..removed.len()).filter(|&i| removed[i]) {
        let Some(r) = elf.sec_range(i) else { continue };
        let name = elf.name(i);
        if let Some((what, _)) = fixed.iter().find(|(_, f)| overlaps(f, &r)) {
            return Err(Refusal(format!(
                "section {i} `{name}` ({:#x}..{:#x}) overlaps {what}: removing it would change loaded bytes",
                r.start, r.end
            )));
        }
        if let Some((k, _)) = kept_ranges.iter().find(|(_, k)| overlaps(k, &r)) {
            return Err(Refusal(format!(
                "section {i} `{name}` overlaps kept section {k} `{}`",
                elf.name(*k)
            )));
        }
    }
    Ok(())
}

/// Byte ranges that only move with the segments: headers, segments, allocated sections.
fn anchors(elf: &Elf, fixed: &[(String, Range<u64>)]) -> Vec<Range<u64>> {
    let mut v: Vec<Range<u64>> = fixed.iter().map(|(_, r)| r.clone()).collect();
    v.extend(
        (1..elf.sections.len())
            .filter(|&i| is_alloc(elf, i))
            .filter_map(|i| elf.sec_range(i)),
    );
    v.sort_by_key(|r| (r.start, r.end));
    v
}

/// The parts of source range `r` that are copied, as output ranges.
fn copied_part(r: &Range<u64>, head_end: u64, shift: Option<&Shift>) -> Vec<Range<u64>> {
    let mut v = Vec::new();
    if r.start < head_end {
        v.push(r.start..r.end.min(head_end));
    }
    if let Some(s) = shift {
        let (a, b) = (r.start.max(s.cut), r.end.min(s.end));
        if a < b {
            v.push(a - s.delta..b - s.delta);
        }
    }
    v
}

/// The copied ranges (head, and the shifted block if any) and the kept non-allocated sections
/// that lie outside them, in file order.
fn split(
    elf: &Elf,
    kept: &[usize],
    anchors: &[Range<u64>],
    may_shift: bool,
) -> (u64, Option<Shift>, Vec<usize>) {
    let mut loose: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| !is_alloc(elf, i) && !matches!(elf.sections[i].sh_type, SHT_NULL | SHT_NOBITS))
        .filter(|&i| elf.sections[i].sh_size > 0)
        .collect();
    loose.sort_by_key(|&i| (elf.sections[i].sh_offset, i));
    if let Some((cut, align)) = best_cut(elf, anchors).filter(|_| may_shift) {
        let head = anchors.iter().filter(|r| r.start < cut);
        let tail = anchors.iter().filter(|r| r.start >= cut);
        let mut head_end = head.map(|r| r.end).max().unwrap_or(0);
        let mut end = tail.map(|r| r.end).max().unwrap_or(cut);
        let mut movable = Vec::new();
        for &i in &loose {
            let s = &elf.sections[i];
            if s.sh_offset < head_end {
                head_end = head_end.max(s.sh_offset + s.sh_size);
            } else if s.sh_offset >= cut && s.sh_offset < end {
                end = end.max(s.sh_offset + s.sh_size);
            } else {
                movable.push(i);
            }
        }
        let delta = cut.saturating_sub(head_end) / align * align;
        if delta > 0 && head_end <= cut {
            let shift = Shift { cut, end, delta };
            return (head_end, Some(shift), movable);
        }
    }
    let mut head_end = anchors.iter().map(|r| r.end).max().unwrap_or(0);
    let mut movable = Vec::new();
    for i in loose {
        let s = &elf.sections[i];
        if s.sh_offset < head_end {
            head_end = head_end.max(s.sh_offset + s.sh_size);
        } else {
            movable.push(i);
        }
    }
    (head_end, None, movable)
}

/// The start of the trailing block worth moving down, and the alignment every move must keep:
/// the widest gap between anchored ranges that is at least one alignment of the segments after
/// it. None when no segment follows a gap that large, or the block would carry the headers.
fn best_cut(elf: &Elf, anchors: &[Range<u64>]) -> Option<(u64, u64)> {
    let mut best: Option<(u64, u64, u64)> = None;
    let mut end = 0;
    for (k, r) in anchors.iter().enumerate() {
        if k > 0 && r.start > end {
            if let Some(align) = tail_align(elf, r.start) {
                let delta = (r.start - end) / align * align;
                if delta > 0 && best.is_none_or(|(_, _, d)| delta > d) {
                    best = Some((r.start, align, delta));
                }
            }
        }
        end = end.max(r.end);
    }
    best.map(|(cut, align, _)| (cut, align))
}

/// The alignment a move of every segment at or after `cut` must keep (the largest `p_align`,
/// all powers of two), if the first of them starts exactly at `cut` and includes a PT_LOAD.
fn tail_align(elf: &Elf, cut: u64) -> Option<u64> {
    let moved: Vec<_> = elf.phdrs.iter().filter(|p| p.p_offset >= cut).collect();
    let first = moved
        .iter()
        .filter(|p| p.p_filesz > 0)
        .map(|p| p.p_offset)
        .min()?;
    if first != cut || !moved.iter().any(|p| p.p_type == PT_LOAD) {
        return None;
    }
    if !elf.phdrs.is_empty() && elf.phdr_table().start >= cut {
        return None;
    }
    let mut align = 1;
    for p in moved {
        let a = p.p_align.max(1);
        if !a.is_power_of_two() || a > MAX_SEGMENT_ALIGN {
            return None;
        }
        align = align.max(a);
    }
    Some(align)
}

/// Free space in the output: the hole between the head and the shifted block, then the end.
struct Holes {
    hole: Range<u64>,
    end: u64,
}

impl Holes {
    fn new(head_end: u64, shift: Option<&Shift>) -> Holes {
        match shift {
            Some(s) => Holes {
                hole: head_end..s.cut - s.delta,
                end: head_end.max(s.end - s.delta),
            },
            None => Holes {
                hole: head_end..head_end,
                end: head_end,
            },
        }
    }

    /// Take `len` bytes aligned to `align` from the front of the hole, if they fit.
    fn take(&mut self, len: u64, align: u64) -> Option<u64> {
        let at = align_up(self.hole.start, align)?;
        let end = at.checked_add(len)?;
        (end <= self.hole.end).then(|| {
            self.hole.start = end;
            at
        })
    }

    fn append(&mut self, len: u64, align: u64) -> Result<u64, Refusal> {
        let at = align_up(self.end, align).ok_or("offset overflow")?;
        self.end = at.checked_add(len).ok_or("offset overflow")?;
        Ok(at)
    }
}

/// Old index -> new index. Entries up to the last allocated section keep their index (removed
/// ones as placeholders: `.dynsym` names sections by index). After it, removed entries are
/// dropped and kept ones close up, unless a kept symbol table, its index extension or a group
/// could name one of them; then only trailing removed entries go.
fn renumber(elf: &Elf, removed: &[bool]) -> Vec<Option<usize>> {
    let n = removed.len();
    let last_alloc = (0..n).rev().find(|&i| is_alloc(elf, i)).unwrap_or(0);
    let names_sections = (0..n).any(|i| {
        !removed[i]
            && matches!(
                elf.sections[i].sh_type,
                SHT_SYMTAB | SHT_SYMTAB_SHNDX | SHT_GROUP
            )
    });
    let last_kept = (0..n).rev().find(|&i| !removed[i]).unwrap_or(0);
    let mut next = 0;
    (0..n)
        .map(|i| {
            let keep = if names_sections {
                i <= last_kept
            } else {
                i <= last_alloc || !removed[i]
            };
            keep.then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// Source bytes that are cut and that no section (kept or removed) nor the old table covers.
fn cut_gaps(
    elf: &Elf,
    head_end: u64,
    shift: Option<&Shift>,
    old_table: &Range<u64>,
) -> Vec<Range<u64>> {
    let cut = match shift {
        Some(s) => [head_end..s.cut, s.end..elf.file_len],
        None => [head_end..elf.file_len, 0..0],
    };
    let mut covered: Vec<Range<u64>> = (1..elf.sections.len())
        .filter_map(|i| elf.sec_range(i))
        .chain((!old_table.is_empty()).then(|| old_table.clone()))
        .collect();
    covered.sort_by_key(|r| r.start);
    let mut gaps = Vec::new();
    for c in cut.into_iter().filter(|c| c.start < c.end) {
        let mut at = c.start;
        for r in covered
            .iter()
            .filter(|r| r.end > c.start && r.start < c.end)
        {
            if r.start > at {
                gaps.push(at..r.start);
            }
            at = at.max(r.end);
        }
        if c.end > at {
            gaps.push(at..c.end);
        }
    }
    gaps
}
