//! Hand-built ELF files for the shapes gcc cannot make on this machine (big-endian, extended
//! section numbering, a patchelf-style segment after the debug sections) and deliberately broken
//! ones, with the tests that use them. Built byte by byte so nothing here trusts the code under test.

use std::collections::HashMap;
use std::path::Path;

use goblin::elf::section_header::*;

use super::{check, strip_to, Mode, Verdict};

pub struct Sec {
    pub name: &'static str,
    pub ty: u32,
    pub flags: u64,
    pub data: Vec<u8>,
    pub link: u32,
    pub info: u32,
    pub align: u64,
    pub entsize: u64,
    /// The PT_LOAD that covers this section (segment 0 also covers the headers).
    pub seg: Option<usize>,
}

pub struct Spec {
    pub is_64: bool,
    pub le: bool,
    pub secs: Vec<Sec>,
    pub extended: bool,
    pub trailing: Vec<u8>,
}

pub const A: u64 = SHF_ALLOC as u64;

pub fn sec(name: &'static str, ty: u32, flags: u64, data: Vec<u8>, seg: Option<usize>) -> Sec {
    Sec {
        name,
        ty,
        flags,
        data,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
        seg,
    }
}

/// A small library: code, dynamic symbols, a build-id note, `.comment`, DWARF with its
/// relocations, a static symbol table. Indices: 1 .text, 2 .dynsym, 3 .dynstr, 4 build-id,
/// 5 .comment, 6 .debug_info, 7 .rela.debug_info, 8 .debug_str, 9 .symtab, 10 .strtab,
/// 11 .shstrtab (added by `build`).
pub fn sample(is_64: bool, le: bool) -> Spec {
    let sym = if is_64 { 24 } else { 16 };
    let rela = if is_64 { 24 } else { 12 };
    let mut dynsym = sec(".dynsym", SHT_DYNSYM, A, vec![0; 2 * sym], Some(0));
    (dynsym.link, dynsym.info, dynsym.entsize, dynsym.align) = (3, 1, sym as u64, 8);
    let mut note = sec(".note.gnu.build-id", SHT_NOTE, A, vec![7; 36], Some(0));
    note.align = 4;
    let mut rel = sec(
        ".rela.debug_info",
        SHT_RELA,
        u64::from(SHF_INFO_LINK),
        vec![1; rela],
        None,
    );
    (rel.link, rel.info, rel.entsize, rel.align) = (9, 6, rela as u64, 8);
    let mut symtab = sec(".symtab", SHT_SYMTAB, 0, vec![0; 3 * sym], None);
    (symtab.link, symtab.info, symtab.entsize, symtab.align) = (10, 2, sym as u64, 8);
    let secs = vec![
        sec(".text", SHT_PROGBITS, A | 4, vec![0xc3; 32], Some(0)),
        dynsym,
        sec(".dynstr", SHT_STRTAB, A, b"\0answer\0".to_vec(), Some(0)),
        note,
        sec(
            ".comment",
            SHT_PROGBITS,
            0x30,
            b"GCC: (test) 1\0".to_vec(),
            None,
        ),
        sec(
            ".debug_info",
            SHT_PROGBITS,
            0,
            (0..300u32).map(|i| i as u8).collect(),
            None,
        ),
        rel,
        sec(
            ".debug_str",
            SHT_PROGBITS,
            0x30,
            b"int\0answer\0".repeat(20),
            None,
        ),
        symtab,
        sec(
            ".strtab",
            SHT_STRTAB,
            0,
            b"\0answer\0table\0".to_vec(),
            None,
        ),
    ];
    Spec {
        is_64,
        le,
        secs,
        extended: false,
        trailing: Vec::new(),
    }
}

/// `sample` as patchelf leaves it: a segment (`.dynamic`, index 11) appended after the debug
/// sections, which are three pages long, so the segment can move down by whole pages.
pub fn patchelf_sample(is_64: bool, le: bool) -> Spec {
    let mut spec = sample(is_64, le);
    spec.secs[5].data = (0..3 * 4096 + 300u32).map(|i| (i % 251) as u8).collect();
    let mut dynamic = sec(".dynamic", SHT_DYNAMIC, A | 1, vec![9; 64], Some(1));
    dynamic.align = 8;
    spec.secs.push(dynamic);
    spec
}

struct W {
    buf: Vec<u8>,
    le: bool,
}

impl W {
    fn put(&mut self, at: usize, v: u64, width: usize) {
        let b = if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        let src = if self.le {
            &b[..width]
        } else {
            &b[8 - width..]
        };
        if self.buf.len() < at + width {
            self.buf.resize(at + width, 0);
        }
        self.buf[at..at + width].copy_from_slice(src);
    }
}

/// Serialize `spec`: ELF header, one PT_LOAD per segment number, sections in order (each
/// segment after the first starts on a new page), `.shstrtab`, then the section header table.
pub fn build(spec: &Spec) -> Vec<u8> {
    let (ehsize, phent, shent, word) = if spec.is_64 {
        (64, 56, 64, 8)
    } else {
        (52, 32, 40, 4)
    };
    let nsegs = spec
        .secs
        .iter()
        .filter_map(|s| s.seg)
        .max()
        .map_or(1, |m| m + 1);
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut shstr = vec![0u8];
    let mut name_of = |n: &'static str| -> usize {
        *names.entry(n).or_insert_with(|| {
            shstr.extend_from_slice(n.as_bytes());
            shstr.push(0);
            shstr.len() - n.len() - 1
        })
    };
    let name_offs: Vec<usize> = spec.secs.iter().map(|s| name_of(s.name)).collect();
    let shstr_name = name_of(".shstrtab");
    let mut w = W {
        buf: vec![0; ehsize + nsegs * phent],
        le: spec.le,
    };
    let mut offs = Vec::new();
    let mut seg_ranges = vec![(usize::MAX, 0usize); nsegs];
    seg_ranges[0] = (0, ehsize + nsegs * phent);
    let mut last_seg = 0;
    for s in &spec.secs {
        let mut at = w.buf.len().next_multiple_of(s.align.max(1) as usize);
        if let Some(k) = s.seg.filter(|&k| k != last_seg) {
            at = at.next_multiple_of(0x1000);
            last_seg = k;
        }
        w.buf.resize(at, 0);
        w.buf.extend_from_slice(&s.data);
        offs.push(at);
        if let Some(k) = s.seg {
            let r = &mut seg_ranges[k];
            *r = (r.0.min(at), r.1.max(at + s.data.len()));
        }
    }
    let shstr_off = w.buf.len();
    w.buf.extend_from_slice(&shstr);
    let shoff = w.buf.len().next_multiple_of(8);
    let count = spec.secs.len() + 2;
    let shstrndx = count - 1;
    // ELF header.
    w.buf[..4].copy_from_slice(b"\x7fELF");
    w.buf[4] = if spec.is_64 { 2 } else { 1 };
    w.buf[5] = if spec.le { 1 } else { 2 };
    w.buf[6] = 1;
    w.put(16, 3, 2); // ET_DYN
    w.put(18, if spec.is_64 { 62 } else { 3 }, 2);
    w.put(20, 1, 4);
    let f = if spec.is_64 {
        [24, 32, 40, 48]
    } else {
        [24, 28, 32, 36]
    };
    w.put(f[1], ehsize as u64, word); // e_phoff
    w.put(f[2], shoff as u64, word);
    let h = f[3] + 4;
    w.put(h, ehsize as u64, 2);
    w.put(h + 2, phent as u64, 2);
    w.put(h + 4, nsegs as u64, 2);
    w.put(h + 6, shent as u64, 2);
    w.put(h + 8, if spec.extended { 0 } else { count as u64 }, 2);
    w.put(
        h + 10,
        if spec.extended {
            0xffff
        } else {
            shstrndx as u64
        },
        2,
    );
    for (k, &(start, end)) in seg_ranges.iter().enumerate() {
        let p = ehsize + k * phent;
        let (start, end) = (start as u64, end as u64);
        w.put(p, 1, 4); // PT_LOAD
        if spec.is_64 {
            w.put(p + 4, 5, 4);
            for (i, v) in [start, start, start, end - start, end - start, 0x1000]
                .iter()
                .enumerate()
            {
                w.put(p + 8 + i * 8, *v, 8);
            }
        } else {
            for (i, v) in [start, start, start, end - start, end - start, 5, 0x1000]
                .iter()
                .enumerate()
            {
                w.put(p + 4 + i * 4, *v, 4);
            }
        }
    }
    // Section headers: name, type, flags, addr, offset, size, link, info, align, entsize.
    let shdr = |w: &mut W, i: usize, v: [u64; 10]| {
        let base = shoff + i * shent;
        let widths = [4, 4, word, word, word, word, 4, 4, word, word];
        let mut at = base;
        for (val, width) in v.iter().zip(widths) {
            w.put(at, *val, width);
            at += width;
        }
    };
    let sh0_size = if spec.extended { count as u64 } else { 0 };
    let sh0_link = if spec.extended { shstrndx as u64 } else { 0 };
    shdr(&mut w, 0, [0, 0, 0, 0, 0, sh0_size, sh0_link, 0, 0, 0]);
    for (i, s) in spec.secs.iter().enumerate() {
        let off = offs[i] as u64;
        let addr = if s.flags & A != 0 { off } else { 0 };
        let v = [
            name_offs[i] as u64,
            s.ty.into(),
            s.flags,
            addr,
            off,
            s.data.len() as u64,
        ];
        let v = [
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            v[5],
            s.link.into(),
            s.info.into(),
            s.align,
            s.entsize,
        ];
        shdr(&mut w, i + 1, v);
    }
    let v = [
        shstr_name as u64,
        SHT_STRTAB.into(),
        0,
        0,
        shstr_off as u64,
        shstr.len() as u64,
        0,
        0,
        1,
        0,
    ];
    shdr(&mut w, shstrndx, v);
    w.buf.extend_from_slice(&spec.trailing);
    w.buf
}

/// Write `bytes` to `dir/name`, strip it to `dir/name.out` (checking that `predict` agrees),
/// and on `Stripped` re-run the independent check and parse the output fully with goblin.
pub fn run(dir: &Path, name: &str, bytes: &[u8], mode: Mode) -> (Verdict, Vec<u8>) {
    let src = dir.join(name);
    let dst = dir.join(format!("{name}.out"));
    std::fs::write(&src, bytes).unwrap();
    let predicted = super::predict(&src, mode).unwrap();
    let v = strip_to(&src, &dst, mode).unwrap();
    // `predict` (for --budget) is the strip without the write: the same verdict, but for the
    // self-check, which only a written file can fail.
    let self_check = matches!(&v, Verdict::Refused { why } if why.starts_with("self-check"));
    if !self_check {
        assert_eq!(predicted, v, "predict and strip_to disagree");
    }
    assert_eq!(
        std::fs::read(&src).unwrap(),
        bytes,
        "strip_to modified its input"
    );
    if !matches!(v, Verdict::Stripped { .. }) {
        assert!(!dst.exists(), "{v:?} left an output behind");
        return (v, Vec::new());
    }
    check::verify(&src, &dst).unwrap();
    let out = std::fs::read(&dst).unwrap();
    goblin::elf::Elf::parse(&out).unwrap();
    (v, out)
}

pub fn names(bytes: &[u8]) -> Vec<String> {
    let elf = goblin::elf::Elf::parse(bytes).unwrap();
    elf.section_headers
        .iter()
        .map(|s| elf.shdr_strtab.get_at(s.sh_name).unwrap_or("").to_string())
        .collect()
}
