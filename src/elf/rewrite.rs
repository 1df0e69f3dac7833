//! Lay out and write the stripped file without changing a single loaded byte.
//!
//! Why not GNU strip: it rebuilds the segment layout, and libraries edited by patchelf
//! (auditwheel's openblas, libgfortran) then fail to load with "ELF load command address/offset
//! not page-aligned". Here the output is assembled from byte ranges of the original:
//!
//! - the *head* (ELF header, program headers, the segments and SHF_ALLOC sections before the cut,
//!   and any kept section that starts among them) is copied byte for byte; removed sections
//!   inside it are overwritten with zeros (they cannot be cut without moving segments, and zeros
//!   compress to nothing in an image layer);
//! - patchelf appends segments after the debug sections. When the removed bytes between the head
//!   and those trailing segments span at least one segment alignment, the trailing block is
//!   copied whole to an offset lower by a multiple of every moved segment's `p_align`, so
//!   `p_offset` stays congruent to `p_vaddr` and only `p_offset` changes in their program
//!   headers. Nothing inside the block moves relative to anything else in it;
//! - kept non-allocated sections (`.comment`, `.shstrtab`, `.gnu_debuglink`, ...) that were cut
//!   out go to a free hole or after the last copied byte (only their `sh_offset` changes;
//!   nothing loads them), and so does the new section header table.
//!
//! Section indices: removed sections at or before the last SHF_ALLOC one become SHT_NULL
//! placeholders, so `.dynsym`'s `st_shndx` values and every link stay valid. Removed entries
//! after it are dropped and the kept ones after it renumbered (their `sh_link`/`sh_info` and
//! `e_shstrndx` follow), unless a kept symbol table or group section could name them.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use goblin::elf::section_header::SHN_XINDEX;

use super::inspect::Elf;
use super::select::{self, refs};

pub(crate) use super::layout::{plan, Layout, Refusal};

static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// The first non-zero byte in the layout's gaps: unknown data (an appended signature, a
/// payload) that the cut would lose. A stale copy of the section header table that patchelf
/// left between the segments is not data (see `stale_table`). Gaps total at most 1 MiB.
pub(crate) fn unknown_bytes(src: &File, elf: &Elf, layout: &Layout) -> io::Result<Option<u64>> {
    for g in &layout.gaps {
        let mut buf = vec![0u8; (g.end - g.start) as usize];
        src.read_exact_at(&mut buf, g.start)?;
        let Some(first) = buf.iter().position(|&b| b != 0) else {
            continue;
        };
        if g.end < elf.file_len && stale_table(elf, &buf, g.start) {
            continue;
        }
        return Ok(Some(g.start + first as u64));
    }
    Ok(None)
}

/// True when the non-zero bytes of `gap` (at file offset `at`, between segments) are exactly an
/// old section header table: a null entry 0, then entries whose names and types are those of
/// the current sections. patchelf writes a new table when it moves sections and leaves the old
/// one behind; nothing refers to it, and GNU strip drops it too.
fn stale_table(elf: &Elf, gap: &[u8], at: u64) -> bool {
    let ent = elf.shentsize() as usize;
    let word = if elf.is_64() { 8 } else { 4 };
    let (Some(first), Some(last)) = (
        gap.iter().position(|&b| b != 0),
        gap.iter().rposition(|&b| b != 0),
    ) else {
        return false;
    };
    let names: std::collections::HashSet<(usize, u32)> = elf
        .sections
        .iter()
        .skip(1)
        .map(|s| (s.sh_name, s.sh_type))
        .collect();
    (first.saturating_sub(ent)..=first)
        .filter(|x| (at + *x as u64) % word == 0)
        .any(|x| {
            let count = (last + 1 - x).div_ceil(ent);
            if count < 2 || x + count * ent > gap.len() {
                return false;
            }
            let Ok(entries) = goblin::elf::SectionHeader::parse_from(&gap[x..], 0, count, elf.ctx)
            else {
                return false;
            };
            gap[x..x + ent].iter().all(|&b| b == 0)
                && entries[1..]
                    .iter()
                    .all(|s| names.contains(&(s.sh_name, s.sh_type)))
        })
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

/// Field ranges in one section header: (`sh_offset`, `sh_size`, `sh_link`, `sh_info`).
fn shdr_fields(is_64: bool) -> [Range<u64>; 4] {
    if is_64 {
        [24..32, 32..40, 40..44, 44..48]
    } else {
        [16..20, 20..24, 24..28, 28..32]
    }
}

/// The `p_offset` field in one program header.
pub(crate) fn phdr_offset_field(is_64: bool) -> Range<u64> {
    if is_64 {
        8..16
    } else {
        4..8
    }
}

/// The new section header table: kept entries as they were with their new `sh_offset` and
/// renumbered links, removed ones that keep an index zeroed (SHT_NULL), section 0 with the new
/// count and name-table index under extended numbering.
fn new_table(elf: &Elf, layout: &Layout) -> Vec<u8> {
    let ent = elf.shentsize() as usize;
    let [off_f, size_f, link_f, info_f] = shdr_fields(elf.is_64());
    let le = elf.is_le();
    let mut table = vec![0u8; layout.shnum * ent];
    let renumbered = |old: usize| layout.index.get(old).copied().flatten();
    let offsets = layout.new_sh_offsets(elf);
    for (i, new) in layout.index.iter().enumerate() {
        let Some(n) = *new else { continue };
        if layout.removed[i] {
            continue;
        }
        let base = (n * ent) as u64;
        let entry = &mut table[n * ent..(n + 1) * ent];
        entry.copy_from_slice(&elf.shdr_raw[i * ent..(i + 1) * ent]);
        let at = |f: &Range<u64>| base + f.start..base + f.end;
        if i > 0 {
            put(&mut table, at(&off_f), offsets[i], le);
            let s = &elf.sections[i];
            let linked: Vec<usize> = refs(elf, i).collect();
            if linked.contains(&(s.sh_link as usize)) {
                if let Some(m) = renumbered(s.sh_link as usize) {
                    put(&mut table, at(&link_f), m as u64, le);
                }
            }
            if linked.contains(&(s.sh_info as usize)) && select::info_is_link(elf, i) {
                if let Some(m) = renumbered(s.sh_info as usize) {
                    put(&mut table, at(&info_f), m as u64, le);
                }
            }
        }
    }
    if elf.extended_shnum {
        put(&mut table, size_f, layout.shnum as u64, le);
    }
    if elf.header.e_shstrndx == SHN_XINDEX as u16 {
        let n = renumbered(elf.shstrndx).unwrap_or(0);
        put(&mut table, link_f, n as u64, le);
    }
    table
}

/// Copy `len` bytes at `from` in `src` to `to` in `out`.
fn copy_range(src: &File, from: u64, len: u64, out: &File, to: u64) -> io::Result<()> {
    let mut buf = vec![0u8; ZEROS.len().min(len as usize)];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..n], from + done)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    io::Error::new(e.kind(), "the file shrank while it was being stripped")
                }
                _ => e,
            })?;
        out.write_all_at(&buf[..n], to + done)?;
        done += n as u64;
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
    out.set_len(layout.out_len)?;
    copy_range(src, 0, layout.head_end, out, 0)?;
    if let Some(s) = &layout.shift {
        copy_range(src, s.cut, s.end - s.cut, out, s.cut - s.delta)?;
    }
    for m in &layout.moves {
        copy_range(src, m.from, m.len, out, m.to)?;
    }
    for z in &layout.zero {
        zero_at(out, z)?;
    }
    out.write_all_at(&new_table(elf, layout), layout.shoff)?;
    if let Some(s) = &layout.shift {
        let ent = goblin::elf::ProgramHeader::size(elf.ctx) as u64;
        let field = phdr_offset_field(elf.is_64());
        for (k, p) in elf.phdrs.iter().enumerate() {
            if p.p_offset >= s.cut {
                let mut b = [0u8; 8];
                let at = field.start..field.end;
                put(
                    &mut b,
                    0..at.end - at.start,
                    p.p_offset - s.delta,
                    elf.is_le(),
                );
                let width = (at.end - at.start) as usize;
                out.write_all_at(&b[..width], elf.header.e_phoff + k as u64 * ent + at.start)?;
            }
        }
    }
    let mut ehdr = vec![0u8; elf.ehdr_len() as usize];
    src.read_exact_at(&mut ehdr, 0)?;
    let [shoff, shnum, shstrndx] = ehdr_patch_fields(elf.is_64());
    let le = elf.is_le();
    put(&mut ehdr, shoff, layout.shoff, le);
    let count = if elf.extended_shnum {
        0
    } else {
        layout.shnum as u64
    };
    put(&mut ehdr, shnum, count, le);
    if elf.header.e_shstrndx != SHN_XINDEX as u16 && elf.shstrndx != 0 {
        let n = layout
            .index
            .get(elf.shstrndx)
            .copied()
            .flatten()
            .unwrap_or(0);
        put(&mut ehdr, shstrndx, n as u64, le);
    }
    out.write_all_at(&ehdr, 0)?;
    let len = out.metadata()?.len();
    if len != layout.out_len {
        return Err(io::Error::other(format!(
            "wrote {len} bytes, planned {}",
            layout.out_len
        )));
    }
    Ok(())
}
