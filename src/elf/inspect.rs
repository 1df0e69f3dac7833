//! Read the parts of an ELF file a strip decision needs, and nothing more.
//!
//! Why positioned reads: wheels ship 150+ MB libraries (polars), and all we need to decide is the
//! ELF header, the program and section header tables and `.shstrtab`: a few kilobytes. goblin
//! parses those bytes (both classes, both byte orders); this file adds what goblin leaves to the
//! caller: extended numbering (`e_shnum == 0`, `e_shstrndx == SHN_XINDEX`, `e_phnum == PN_XNUM`)
//! and bounds against the real file length, so a truncated or corrupted file is refused before
//! anything allocates or copies by its numbers.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use goblin::container::{Container, Ctx};
use goblin::elf::header::{
    Header, EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, ET_DYN,
    ET_EXEC,
};
use goblin::elf::program_header::ProgramHeader;
use goblin::elf::section_header::{SectionHeader, SHN_XINDEX, SHT_NOBITS, SHT_NULL};

/// `e_phnum` value meaning "the real count is in section 0's `sh_info`".
const PN_XNUM: u16 = 0xffff;
/// The largest single table or string table we read into memory (section tables of files with
/// extended numbering are a few MB; anything bigger is a corrupted count).
const MAX_TABLE: u64 = 64 << 20;
/// Bytes needed to tell an ELF shared object or executable: `e_ident` and `e_type`.
pub(crate) const IDENT_AND_TYPE: usize = 18;

/// Why a file goes no further. `Io` is a real read failure, reported as an error by the caller.
#[derive(Debug)]
pub(crate) enum Reject {
    NotElf,
    Refused(String),
    Io(io::Error),
}

impl From<io::Error> for Reject {
    fn from(e: io::Error) -> Self {
        Reject::Io(e)
    }
}

/// The headers and tables of one ELF file, with the extended numbering resolved.
pub(crate) struct Elf {
    pub ctx: Ctx,
    pub header: Header,
    pub file_len: u64,
    pub phdrs: Vec<ProgramHeader>,
    pub sections: Vec<SectionHeader>,
    /// The section header table as stored, `sections.len() * shentsize` bytes.
    pub shdr_raw: Vec<u8>,
    /// Section names from `.shstrtab` (empty when there is none or the offset is out of range).
    pub names: Vec<String>,
    /// Index of `.shstrtab`, resolved through section 0 when it is `SHN_XINDEX`; 0 when none.
    pub shstrndx: usize,
    /// The count lives in section 0's `sh_size` (`e_shnum == 0`).
    pub extended_shnum: bool,
}

/// True when `b` starts with the ELF magic, a known class and byte order, and `e_type` is
/// ET_DYN or ET_EXEC (shared objects, PIEs and executables; not `.o` files or core dumps).
pub(crate) fn ident_ok(b: &[u8]) -> bool {
    if b.len() < IDENT_AND_TYPE || &b[..4] != ELFMAG {
        return false;
    }
    let e_type = match b[EI_DATA] {
        ELFDATA2LSB => u16::from_le_bytes([b[16], b[17]]),
        ELFDATA2MSB => u16::from_be_bytes([b[16], b[17]]),
        _ => return false,
    };
    matches!(b[EI_CLASS], ELFCLASS32 | ELFCLASS64) && matches!(e_type, ET_DYN | ET_EXEC)
}

impl Elf {
    pub fn is_64(&self) -> bool {
        self.ctx.container == Container::Big
    }

    pub fn is_le(&self) -> bool {
        self.ctx.le.is_little()
    }

    pub fn ehdr_len(&self) -> u64 {
        if self.is_64() {
            64
        } else {
            52
        }
    }

    pub fn shentsize(&self) -> u64 {
        SectionHeader::size(self.ctx) as u64
    }

    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("", String::as_str)
    }

    /// File bytes of section `i`, if it occupies any.
    pub fn sec_range(&self, i: usize) -> Option<Range<u64>> {
        let s = &self.sections[i];
        if s.sh_type == SHT_NULL || s.sh_type == SHT_NOBITS || s.sh_size == 0 {
            return None;
        }
        Some(s.sh_offset..s.sh_offset + s.sh_size)
    }

    /// File ranges of all segments that occupy bytes, with their index.
    pub fn segments(&self) -> impl Iterator<Item = (usize, Range<u64>)> + '_ {
        self.phdrs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.p_filesz > 0)
            .map(|(i, p)| (i, p.p_offset..p.p_offset + p.p_filesz))
    }

    pub fn phdr_table(&self) -> Range<u64> {
        let start = self.header.e_phoff;
        start..start + self.phdrs.len() as u64 * ProgramHeader::size(self.ctx) as u64
    }

    pub fn shdr_table(&self) -> Range<u64> {
        let start = self.header.e_shoff;
        start..start + self.sections.len() as u64 * self.shentsize()
    }
}

/// Read and check the headers and tables of `file`.
pub(crate) fn read(file: &File) -> Result<Elf, Reject> {
    let file_len = file.metadata()?.len();
    let mut head = [0u8; 64];
    let got = read_up_to(file, &mut head)?;
    let head = &head[..got];
    if !ident_ok(head) {
        return Err(Reject::NotElf);
    }
    let (container, ehdr_len) = match head[EI_CLASS] {
        ELFCLASS64 => (Container::Big, 64),
        _ => (Container::Little, 52),
    };
    if got < ehdr_len {
        // The magic is there but not even the ELF header: a truncated copy, nothing to strip.
        return Err(Reject::NotElf);
    }
    let le = if head[EI_DATA] == ELFDATA2LSB {
        goblin::container::Endian::Little
    } else {
        goblin::container::Endian::Big
    };
    let ctx = Ctx::new(container, le);
    let header = goblin::elf::Elf::parse_header(head)
        .map_err(|e| Reject::Refused(format!("unreadable ELF header: {e}")))?;

    let (sections, shdr_raw, sh0) = read_sections(file, file_len, &header, ctx)?;
    let extended_shnum = header.e_shnum == 0 && !sections.is_empty();
    let shstrndx = match (&sh0, u32::from(header.e_shstrndx)) {
        (Some(sh0), SHN_XINDEX) => sh0.sh_link as usize,
        (_, i) => i as usize,
    };
    if !sections.is_empty() && shstrndx >= sections.len() {
        return Err(Reject::Refused(format!(
            "section name table index {shstrndx} is outside the {} sections",
            sections.len()
        )));
    }
    let phnum = match &sh0 {
        Some(sh0) if header.e_phnum == PN_XNUM => sh0.sh_info as u64,
        _ => u64::from(header.e_phnum),
    };
    let phdrs = read_phdrs(file, file_len, &header, phnum, ctx)?;
    let elf_has_sections = !sections.is_empty();
    let mut elf = Elf {
        ctx,
        header,
        file_len,
        phdrs,
        sections,
        shdr_raw,
        names: Vec::new(),
        shstrndx: if elf_has_sections { shstrndx } else { 0 },
        extended_shnum,
    };
    check_bounds(&elf)?;
    elf.names = read_names(file, &elf)?;
    Ok(elf)
}

/// Fill `buf` from offset 0 as far as the file goes.
fn read_up_to(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read `len` bytes at `off`, refusing (not failing) when they are not all in the file.
pub(crate) fn read_at(
    file: &File,
    file_len: u64,
    off: u64,
    len: u64,
    what: &str,
) -> Result<Vec<u8>, Reject> {
    let end = off.checked_add(len).filter(|&e| e <= file_len);
    if end.is_none() {
        return Err(Reject::Refused(format!(
            "{what} at {off:#x} (+{len:#x}) lies past the end of the file ({file_len} bytes): truncated or corrupted"
        )));
    }
    if len > MAX_TABLE {
        return Err(Reject::Refused(format!(
            "{what} is implausibly large ({len} bytes)"
        )));
    }
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, off)?;
    Ok(buf)
}

type Sections = (Vec<SectionHeader>, Vec<u8>, Option<SectionHeader>);

fn read_sections(file: &File, file_len: u64, h: &Header, ctx: Ctx) -> Result<Sections, Reject> {
    if h.e_shoff == 0 {
        return Ok((Vec::new(), Vec::new(), None));
    }
    let ent = SectionHeader::size(ctx) as u64;
    if u64::from(h.e_shentsize) != ent {
        return Err(Reject::Refused(format!(
            "unusual section header size {} (expected {ent})",
            h.e_shentsize
        )));
    }
    let raw0 = read_at(file, file_len, h.e_shoff, ent, "section header 0")?;
    let sh0 = parse_shdrs(&raw0, 1, ctx)?.remove(0);
    let count = if h.e_shnum == 0 {
        sh0.sh_size
    } else {
        u64::from(h.e_shnum)
    };
    if count == 0 {
        return Ok((Vec::new(), Vec::new(), Some(sh0)));
    }
    let len = count.saturating_mul(ent);
    let raw = read_at(file, file_len, h.e_shoff, len, "section header table")?;
    let sections = parse_shdrs(&raw, count as usize, ctx)?;
    Ok((sections, raw, Some(sh0)))
}

fn parse_shdrs(raw: &[u8], count: usize, ctx: Ctx) -> Result<Vec<SectionHeader>, Reject> {
    SectionHeader::parse_from(raw, 0, count, ctx)
        .map_err(|e| Reject::Refused(format!("unreadable section header table: {e}")))
}

fn read_phdrs(
    file: &File,
    file_len: u64,
    h: &Header,
    count: u64,
    ctx: Ctx,
) -> Result<Vec<ProgramHeader>, Reject> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let ent = ProgramHeader::size(ctx) as u64;
    if u64::from(h.e_phentsize) != ent {
        return Err(Reject::Refused(format!(
            "unusual program header size {} (expected {ent})",
            h.e_phentsize
        )));
    }
    let ehdr_len = if ctx.is_big() { 64 } else { 52 };
    if h.e_phoff < ehdr_len {
        // We rewrite e_shoff; program headers read from the same bytes would change with it.
        return Err(Reject::Refused(format!(
            "the program header table (at {:#x}) overlaps the ELF header",
            h.e_phoff
        )));
    }
    let len = count.saturating_mul(ent);
    let raw = read_at(file, file_len, h.e_phoff, len, "program header table")?;
    ProgramHeader::parse(&raw, 0, count as usize, ctx)
        .map_err(|e| Reject::Refused(format!("unreadable program header table: {e}")))
}

/// Every segment and every section that claims file bytes must have them.
fn check_bounds(elf: &Elf) -> Result<(), Reject> {
    let past_end = |off: u64, size: u64| off.checked_add(size).is_none_or(|e| e > elf.file_len);
    for (i, p) in elf.phdrs.iter().enumerate() {
        if p.p_filesz > 0 && past_end(p.p_offset, p.p_filesz) {
            return Err(Reject::Refused(format!(
                "segment {i} ({:#x} +{:#x}) lies past the end of the file ({} bytes): truncated or corrupted",
                p.p_offset, p.p_filesz, elf.file_len
            )));
        }
    }
    for (i, s) in elf.sections.iter().enumerate() {
        let occupies = s.sh_type != SHT_NULL && s.sh_type != SHT_NOBITS && s.sh_size > 0;
        if occupies && past_end(s.sh_offset, s.sh_size) {
            return Err(Reject::Refused(format!(
                "section {i} ({:#x} +{:#x}) lies past the end of the file ({} bytes): truncated or corrupted",
                s.sh_offset, s.sh_size, elf.file_len
            )));
        }
    }
    Ok(())
}

fn read_names(file: &File, elf: &Elf) -> Result<Vec<String>, Reject> {
    let Some(range) = (elf.shstrndx != 0)
        .then(|| elf.sec_range(elf.shstrndx))
        .flatten()
    else {
        return Ok(vec![String::new(); elf.sections.len()]);
    };
    let table = read_at(
        file,
        elf.file_len,
        range.start,
        range.end - range.start,
        "section name table",
    )?;
    let name = |off: usize| -> String {
        let Some(rest) = table.get(off..) else {
            return String::new();
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).into_owned()
    };
    Ok(elf.sections.iter().map(|s| name(s.sh_name)).collect())
}
