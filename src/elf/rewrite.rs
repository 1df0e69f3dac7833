//! Lay out and write the stripped file without moving a single loaded byte.
//!
//! Why not GNU strip: it rebuilds the segment layout, and libraries edited by patchelf
//! (auditwheel's openblas, libgfortran) then fail to load with "ELF load command address/offset
//! not page-aligned". Here the file is cut in two. The *prefix* (ELF header, program headers,
//! every segment, every SHF_ALLOC section and any kept section that starts among them) is copied
//! byte for byte; removed sections inside it are overwritten with zeros (they cannot be cut
//! without moving segments, and zeros compress to nothing in an image layer). After the prefix
//! come the kept non-allocated sections (`.comment`, `.shstrtab`, `.gnu_debuglink`, ...) packed
//! in their original order (only their `sh_offset` changes; nothing loads them), then the new
//! section header table. Removed sections keep their index as SHT_NULL placeholders when a kept
//! section follows them, so `sh_link`, `sh_info` and every symbol's `st_shndx` stay valid; only
//! trailing removed entries are dropped.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;

use goblin::elf::section_header::{SHF_ALLOC, SHT_NOBITS, SHT_NULL};

use super::inspect::Elf;

/// Larger alignments than this in a non-loaded section mean a corrupted header.
const MAX_ALIGN: u64 = 1 << 16;
/// Uncovered bytes after the prefix are read to prove they are padding; more than this is data.
const MAX_GAPS: u64 = 1 << 20;
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// A kept section placed at a new offset after the prefix.
#[derive(Debug, Clone)]
pub(crate) struct Move {
    pub index: usize,
    pub from: u64,
    pub to: u64,
    pub len: u64,
}

/// Where every byte of the output comes from.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub removed: Vec<bool>,
    /// Bytes `[0, prefix_end)` are copied as they are.
    pub prefix_end: u64,
    /// Ranges in the prefix that held removed sections or the old section table.
    pub zero: Vec<Range<u64>>,
    pub moves: Vec<Move>,
    pub shoff: u64,
    pub shnum: usize,
    pub out_len: u64,
    /// Bytes after the prefix covered by no section nor the old table: must be zero padding.
    pub gaps: Vec<Range<u64>>,
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
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

/// Plan the output, or say why this file is refused.
pub(crate) fn plan(elf: &Elf, removed: Vec<bool>) -> Result<Layout, String> {
    let fixed = fixed_ranges(elf);
    let kept: Vec<usize> = (1..elf.sections.len()).filter(|&i| !removed[i]).collect();
    let (prefix_end, movable) = split_prefix(elf, &kept, &fixed);
    let kept_ranges: Vec<(usize, Range<u64>)> = kept
        .iter()
        .filter_map(|&i| elf.sec_range(i).map(|r| (i, r)))
        .collect();
    let mut zero = zero_removed(elf, &removed, &fixed, &kept_ranges, prefix_end)?;
    // The old section table sits between segments (patchelf puts it there): reuse its place.
    let old_table = elf.shdr_table();
    let table_free = old_table.start < prefix_end
        && !fixed.iter().any(|(_, f)| overlaps(f, &old_table))
        && !kept_ranges.iter().any(|(_, k)| overlaps(k, &old_table));
    if table_free {
        zero.push(old_table.clone());
    }
    let shnum = kept.last().map_or(1, |&i| i + 1);
    let (moves, mut cursor) = place(elf, movable, prefix_end)?;
    let shoff = if table_free {
        old_table.start
    } else {
        let at = align_up(cursor, if elf.is_64() { 8 } else { 4 }).ok_or("offset overflow")?;
        cursor = at + shnum as u64 * elf.shentsize();
        at
    };
    if !elf.is_64() && cursor > u64::from(u32::MAX) {
        return Err("a 32-bit ELF file cannot grow past 4 GiB".into());
    }
    let gaps = tail_gaps(elf, prefix_end, &old_table);
    let gap_total: u64 = gaps.iter().map(|g| g.end - g.start).sum();
    if gap_total > MAX_GAPS {
        return Err(format!(
            "{gap_total} bytes after the last segment belong to no section: appended data would be cut"
        ));
    }
    Ok(Layout {
        removed,
        prefix_end,
        zero,
        moves,
        shoff,
        shnum,
        out_len: cursor,
        gaps,
    })
}

/// The end of the prefix (headers, segments, allocated sections, and kept sections that start
/// among them), and the kept non-allocated sections after it, in file order.
fn split_prefix(elf: &Elf, kept: &[usize], fixed: &[(String, Range<u64>)]) -> (u64, Vec<usize>) {
    let mut end = fixed.iter().map(|(_, r)| r.end).max().unwrap_or(0);
    for &i in kept.iter().filter(|&&i| is_alloc(elf, i)) {
        end = end.max(elf.sec_range(i).map_or(0, |r| r.end));
    }
    let mut loose: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| !is_alloc(elf, i) && !matches!(elf.sections[i].sh_type, SHT_NULL | SHT_NOBITS))
        .collect();
    loose.sort_by_key(|&i| (elf.sections[i].sh_offset, i));
    let mut movable = Vec::new();
    for i in loose {
        let s = &elf.sections[i];
        if s.sh_offset < end {
            end = end.max(s.sh_offset + s.sh_size);
        } else {
            movable.push(i);
        }
    }
    (end, movable)
}

/// The ranges of removed sections inside the prefix, after refusing any removed section that
/// overlaps a segment, the headers or a kept section.
fn zero_removed(
    elf: &Elf,
    removed: &[bool],
    fixed: &[(String, Range<u64>)],
    kept_ranges: &[(usize, Range<u64>)],
    prefix_end: u64,
) -> Result<Vec<Range<u64>>, String> {
    let mut zero = Vec::new();
    for i in (1..removed.len()).filter(|&i| removed[i]) {
        let Some(r) = elf.sec_range(i) else { continue };
        let name = elf.name(i);
        if let Some((what, _)) = fixed.iter().find(|(_, f)| overlaps(f, &r)) {
            return Err(format!(
                "section {i} `{name}` ({:#x}..{:#x}) overlaps {what}: removing it would change loaded bytes",
                r.start, r.end
            ));
        }
        if let Some((k, _)) = kept_ranges.iter().find(|(_, k)| overlaps(k, &r)) {
            return Err(format!(
                "section {i} `{name}` overlaps kept section {k} `{}`",
                elf.name(*k)
            ));
        }
        if r.start < prefix_end {
            zero.push(r.start..r.end.min(prefix_end));
        }
    }
    Ok(zero)
}

/// New offsets for the kept sections after the prefix, packed in file order with their
/// alignment; returns them and the end of the last one.
fn place(elf: &Elf, movable: Vec<usize>, prefix_end: u64) -> Result<(Vec<Move>, u64), String> {
    let mut cursor = prefix_end;
    let mut moves = Vec::new();
    for i in movable {
        let s = &elf.sections[i];
        if s.sh_addralign > MAX_ALIGN {
            return Err(format!(
                "section {i} `{}` has an implausible alignment {:#x}",
                elf.name(i),
                s.sh_addralign
            ));
        }
        let to = align_up(cursor, s.sh_addralign).ok_or("offset overflow")?;
        moves.push(Move {
            index: i,
            from: s.sh_offset,
            to,
            len: s.sh_size,
        });
        cursor = to + s.sh_size;
    }
    Ok((moves, cursor))
}

/// Bytes after the prefix that no section (kept or removed) nor the old section table covers.
fn tail_gaps(elf: &Elf, prefix_end: u64, old_table: &Range<u64>) -> Vec<Range<u64>> {
    let mut covered: Vec<Range<u64>> = (1..elf.sections.len())
        .filter_map(|i| elf.sec_range(i))
        .chain((!old_table.is_empty()).then(|| old_table.clone()))
        .filter(|r| r.end > prefix_end)
        .collect();
    covered.sort_by_key(|r| r.start);
    let mut gaps = Vec::new();
    let mut at = prefix_end;
    for r in covered {
        if r.start > at {
            gaps.push(at..r.start);
        }
        at = at.max(r.end);
    }
    if elf.file_len > at {
        gaps.push(at..elf.file_len);
    }
    gaps
}

/// The first non-zero byte in the layout's gaps: unknown data (an appended signature, a
/// payload) that the cut would lose.
pub(crate) fn unknown_bytes(src: &File, layout: &Layout) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; ZEROS.len()];
    for g in &layout.gaps {
        let mut at = g.start;
        while at < g.end {
            let len = (g.end - at).min(buf.len() as u64) as usize;
            src.read_exact_at(&mut buf[..len], at)?;
            if let Some(p) = buf[..len].iter().position(|&b| b != 0) {
                return Ok(Some(at + p as u64));
            }
            at += len as u64;
        }
    }
    Ok(None)
}

/// Byte ranges of `e_shoff`, `e_shnum`, `e_shstrndx` in the ELF header: the only header bytes
/// that may change.
pub(crate) fn ehdr_patch_fields(is_64: bool) -> [Range<u64>; 3] {
    if is_64 {
        [40..48, 60..62, 62..64]
    } else {
        [32..36, 48..50, 50..52]
    }
}

fn put(buf: &mut [u8], field: Range<u64>, value: u64, le: bool) {
    let width = (field.end - field.start) as usize;
    let bytes = if le {
        value.to_le_bytes()
    } else {
        value.to_be_bytes()
    };
    let src = if le {
        &bytes[..width]
    } else {
        &bytes[8 - width..]
    };
    buf[field.start as usize..field.end as usize].copy_from_slice(src);
}

/// The new section header table: stored entries as they were, removed ones zeroed (SHT_NULL),
/// moved ones with their new `sh_offset`, section 0 with the new count under extended numbering.
fn new_table(elf: &Elf, layout: &Layout) -> Vec<u8> {
    let ent = elf.shentsize() as usize;
    let (off_field, size_field) = if elf.is_64() {
        (24..32, 32..40)
    } else {
        (16..20, 20..24)
    };
    let mut table = vec![0u8; layout.shnum * ent];
    for i in (0..layout.shnum).filter(|&i| !layout.removed[i]) {
        table[i * ent..(i + 1) * ent].copy_from_slice(&elf.shdr_raw[i * ent..(i + 1) * ent]);
    }
    let le = elf.is_le();
    for m in &layout.moves {
        let base = (m.index * ent) as u64;
        put(
            &mut table,
            base + off_field.start..base + off_field.end,
            m.to,
            le,
        );
    }
    if elf.extended_shnum {
        put(&mut table, size_field, layout.shnum as u64, le);
    }
    table
}

/// Copy `len` bytes at `from` in `src` to the current end of `out`.
fn copy_range(src: &File, from: u64, len: u64, out: &mut File) -> io::Result<()> {
    let mut r = src;
    r.seek(SeekFrom::Start(from))?;
    let copied = io::copy(&mut r.take(len), out)?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was being stripped",
        ));
    }
    Ok(())
}

fn pad(out: &mut File, pos: &mut u64, to: u64) -> io::Result<()> {
    while *pos < to {
        let n = (to - *pos).min(ZEROS.len() as u64) as usize;
        out.write_all(&ZEROS[..n])?;
        *pos += n as u64;
    }
    Ok(())
}

fn zero_at(out: &File, r: &Range<u64>) -> io::Result<()> {
    let mut at = r.start;
    while at < r.end {
        let n = (r.end - at).min(ZEROS.len() as u64) as usize;
        out.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Write the planned output to `out` (empty, opened for writing).
pub(crate) fn write(src: &File, elf: &Elf, layout: &Layout, out: &mut File) -> io::Result<()> {
    copy_range(src, 0, layout.prefix_end, out)?;
    let mut pos = layout.prefix_end;
    for m in &layout.moves {
        pad(out, &mut pos, m.to)?;
        copy_range(src, m.from, m.len, out)?;
        pos += m.len;
    }
    let table = new_table(elf, layout);
    if layout.shoff >= layout.prefix_end {
        pad(out, &mut pos, layout.shoff)?;
        out.write_all(&table)?;
        pos += table.len() as u64;
    }
    for z in &layout.zero {
        zero_at(out, z)?;
    }
    if layout.shoff < layout.prefix_end {
        out.write_all_at(&table, layout.shoff)?;
    }
    let mut ehdr = vec![0u8; elf.ehdr_len() as usize];
    src.read_exact_at(&mut ehdr, 0)?;
    let [shoff, shnum, _] = ehdr_patch_fields(elf.is_64());
    put(&mut ehdr, shoff, layout.shoff, elf.is_le());
    let count = if elf.extended_shnum {
        0
    } else {
        layout.shnum as u64
    };
    put(&mut ehdr, shnum, count, elf.is_le());
    out.write_all_at(&ehdr, 0)?;
    if pos != layout.out_len || out.metadata()?.len() != layout.out_len {
        return Err(io::Error::other(format!(
            "wrote {pos} bytes, planned {}",
            layout.out_len
        )));
    }
    Ok(())
}
