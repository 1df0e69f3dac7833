//! Tests on hand-built ELF files: both classes and byte orders, extended numbering, the patchelf
//! layout, refusals, link rules, and damage the self-check must notice.

use goblin::elf::section_header::*;

use super::testelf::{build, names, patchelf_sample, run, sample, sec, A};
use super::{check, Mode, Verdict};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn all_four_classes_and_byte_orders() {
    let d = tmp();
    for (is_64, le) in [(true, true), (true, false), (false, true), (false, false)] {
        let input = build(&sample(is_64, le));
        let tag = format!("{is_64}-{le}");
        let (v, out) = run(d.path(), &format!("u-{tag}"), &input, Mode::Unneeded);
        let Verdict::Stripped { before, after } = v else {
            panic!("{tag}: {v:?}")
        };
        assert_eq!(before, input.len() as u64);
        assert!(after < before, "{tag}: {after} >= {before}");
        // Removed entries after the last allocated section are dropped, not left as placeholders.
        let n = names(&out);
        let expect = [
            "",
            ".text",
            ".dynsym",
            ".dynstr",
            ".note.gnu.build-id",
            ".comment",
        ];
        assert_eq!(n, [&expect[..], &[".shstrtab"]].concat(), "{tag}");
        let (v, out) = run(d.path(), &format!("d-{tag}"), &input, Mode::Debug);
        assert!(matches!(v, Verdict::Stripped { .. }), "{tag}: {v:?}");
        let n = names(&out);
        assert!(
            n.contains(&".symtab".into()) && n.contains(&".strtab".into()),
            "{n:?}"
        );
        assert!(!n.iter().any(|s| s.contains("debug")), "{n:?}");
    }
}

#[test]
fn extended_numbering_small_and_past_0xff00() {
    let d = tmp();
    let mut spec = sample(true, false);
    spec.extended = true;
    let (v, out) = run(d.path(), "ext", &build(&spec), Mode::Unneeded);
    assert!(matches!(v, Verdict::Stripped { .. }), "{v:?}");
    let elf = goblin::elf::Elf::parse(&out).unwrap();
    assert_eq!((elf.header.e_shnum, elf.header.e_shstrndx), (0, 0xffff));
    assert_eq!(elf.section_headers[0].sh_size, 7);
    assert_eq!(elf.section_headers[0].sh_link, 6);
    // Real extended numbering: more sections than e_shnum can hold, debug ones last.
    let mut spec = sample(false, true);
    let debug = spec.secs.split_off(4);
    spec.secs
        .extend((0..0xff00).map(|_| sec(".pad", SHT_PROGBITS, 0, Vec::new(), None)));
    spec.secs.extend(debug.into_iter().map(|mut s| {
        s.link += if s.link >= 5 { 0xff00 } else { 0 };
        s.info += if s.ty == SHT_RELA { 0xff00 } else { 0 };
        s
    }));
    spec.extended = true;
    let input = build(&spec);
    let (v, out) = run(d.path(), "big", &input, Mode::Unneeded);
    let Verdict::Stripped { after, .. } = v else {
        panic!("{v:?}")
    };
    assert!(after < input.len() as u64);
    let elf = goblin::elf::Elf::parse(&out).unwrap();
    assert_eq!(elf.section_headers.len(), 0xff00 + 7);
    assert_eq!(elf.section_headers[0].sh_link as usize, 0xff00 + 6);
}

#[test]
fn patchelf_layout_is_zeroed_not_cut() {
    let d = tmp();
    let mut spec = sample(true, true);
    let mut dynamic = sec(".dynamic", SHT_DYNAMIC, A | 1, vec![9; 64], Some(1));
    dynamic.align = 8;
    spec.secs.push(dynamic);
    let input = build(&spec);
    let (v, out) = run(d.path(), "pe", &input, Mode::Unneeded);
    assert!(matches!(v, Verdict::Stripped { .. }), "{v:?}");
    let src = goblin::elf::Elf::parse(&input).unwrap();
    for i in 6..=10 {
        let s = &src.section_headers[i];
        let r = s.sh_offset as usize..(s.sh_offset + s.sh_size) as usize;
        assert!(out[r].iter().all(|&b| b == 0), "section {i} not zeroed");
    }
    let dst = goblin::elf::Elf::parse(&out).unwrap();
    assert_eq!(src.program_headers, dst.program_headers);
}

#[test]
fn patchelf_segment_moves_down_by_whole_pages() {
    let d = tmp();
    for (is_64, le) in [(true, true), (true, false), (false, true), (false, false)] {
        let tag = format!("{is_64}-{le}");
        let input = build(&patchelf_sample(is_64, le));
        let (v, out) = run(d.path(), &format!("s-{tag}"), &input, Mode::Unneeded);
        let Verdict::Stripped { before, after } = v else {
            panic!("{tag}: {v:?}")
        };
        assert!(after + 3 * 4096 <= before, "{tag}: {before} -> {after}");
        let (src, dst) = (
            goblin::elf::Elf::parse(&input).unwrap(),
            goblin::elf::Elf::parse(&out).unwrap(),
        );
        let (a, b) = (&src.program_headers[1], &dst.program_headers[1]);
        assert_eq!(a.p_offset - b.p_offset, 3 * 4096, "{tag}");
        assert_eq!(
            (a.p_vaddr, a.p_filesz, a.p_memsz),
            (b.p_vaddr, b.p_filesz, b.p_memsz)
        );
        assert_eq!(src.program_headers[0], dst.program_headers[0], "{tag}");
        let seg = |bytes: &[u8], p: &goblin::elf::ProgramHeader| {
            bytes[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize].to_vec()
        };
        assert_eq!(seg(&input, a), seg(&out, b), "{tag}");
        // Removed sections before the last allocated one (.dynamic) keep their index.
        let n = names(&out);
        assert_eq!(
            (n.len(), n[6].as_str(), n[11].as_str()),
            (13, "", ".dynamic"),
            "{tag}"
        );
        // A moved segment whose offset no longer keeps its alignment is caught.
        let mut bad = out.clone();
        let (at, width) = if is_64 {
            (dst.header.e_phoff as usize + 56 + 8, 8)
        } else {
            (dst.header.e_phoff as usize + 32 + 4, 4)
        };
        let moved = b.p_offset - 8;
        let bytes = if le {
            moved.to_le_bytes()
        } else {
            moved.to_be_bytes()
        };
        let field = if le {
            &bytes[..width]
        } else {
            &bytes[8 - width..]
        };
        bad[at..at + width].copy_from_slice(field);
        let bad_path = d.path().join(format!("bad-{tag}"));
        std::fs::write(&bad_path, &bad).unwrap();
        let err = check::verify(&d.path().join(format!("s-{tag}")), &bad_path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("alignment") || err.contains("differs"),
            "{tag}: {err}"
        );
    }
}

#[test]
fn refusals() {
    let d = tmp();
    let mut spec = sample(true, true);
    spec.trailing = b"SIGNATURE-BLOCK".to_vec();
    let (v, _) = run(d.path(), "trail", &build(&spec), Mode::Unneeded);
    assert!(
        matches!(&v, Verdict::Refused { why } if why.contains("unknown data")),
        "{v:?}"
    );
    spec.trailing = vec![0; 16];
    let (v, _) = run(d.path(), "zeros", &build(&spec), Mode::Unneeded);
    assert!(
        matches!(v, Verdict::Stripped { .. }),
        "zero padding is not data: {v:?}"
    );
    let mut spec = sample(true, true);
    spec.secs[5].seg = Some(0); // .debug_info inside the loaded segment
    let (v, _) = run(d.path(), "overlap", &build(&spec), Mode::Unneeded);
    assert!(
        matches!(&v, Verdict::Refused { why } if why.contains("segment 0")),
        "{v:?}"
    );
}

#[test]
fn nothing_to_strip_and_not_elf() {
    let d = tmp();
    let mut spec = sample(true, true);
    spec.secs.truncate(5);
    let input = build(&spec);
    assert_eq!(
        run(d.path(), "clean", &input, Mode::Unneeded).0,
        Verdict::NothingToStrip
    );
    let mut rel = input.clone();
    rel[16] = 1; // ET_REL: an object file
    assert_eq!(
        run(d.path(), "obj", &rel, Mode::Unneeded).0,
        Verdict::NotElf
    );
    assert_eq!(
        run(d.path(), "short", &input[..40], Mode::Unneeded).0,
        Verdict::NotElf
    );
    let (v, _) = run(d.path(), "half", &input[..input.len() / 2], Mode::Unneeded);
    assert!(matches!(v, Verdict::Refused { .. }), "{v:?}");
    assert_eq!(
        run(d.path(), "empty", b"", Mode::Unneeded).0,
        Verdict::NotElf
    );
}

/// A kept section that links to a debug section keeps it (and a kept relocation's target).
#[test]
fn links_from_kept_sections_win_over_names() {
    let d = tmp();
    let mut spec = sample(true, true);
    spec.secs[4].link = 6; // .comment -> .debug_info
    let (v, out) = run(d.path(), "link", &build(&spec), Mode::Unneeded);
    assert!(matches!(v, Verdict::Stripped { .. }), "{v:?}");
    let n = names(&out);
    assert_eq!(n[6], ".debug_info");
    assert_eq!(
        n[7], ".rela.debug_info",
        "the relocation of a kept section stays"
    );
    assert_eq!(n[9], ".symtab", "the relocation's symbol table stays");
    assert_eq!(n[8], "");
}

/// The self-check is only worth something if it fails on damage the planner did not make.
#[test]
fn verify_catches_damage() {
    let d = tmp();
    let (_, out) = run(d.path(), "v", &build(&sample(true, true)), Mode::Unneeded);
    let (src, bad) = (d.path().join("v"), d.path().join("bad"));
    let elf = goblin::elf::Elf::parse(&out).unwrap();
    let off = |i: usize| elf.section_headers[i].sh_offset as usize;
    let entry = |i: usize| elf.header.e_shoff as usize + i * 64;
    let cases = [
        ("a byte of .text", off(1), 1),
        ("p_flags of segment 0", elf.header.e_phoff as usize + 4, 1),
        ("e_entry", 24, 1),
        ("a byte of .comment (moved, not loaded)", off(5), 1),
        (".text's header nulled", entry(1), 64),
        ("the build-id note's header nulled", entry(4), 64),
        ("the .shstrtab header nulled", entry(6), 64),
        ("the .shstrtab index", 62, 1),
    ];
    for (what, at, len) in cases {
        let mut b = out.clone();
        if len == 1 {
            b[at] ^= 0x40;
        } else {
            b[at..at + len].fill(0);
        }
        std::fs::write(&bad, &b).unwrap();
        assert!(check::verify(&src, &bad).is_err(), "{what} went unnoticed");
    }
}

#[test]
fn verdicts_serialize_as_tagged_records() {
    let json = |v: &Verdict| serde_json::to_string(v).unwrap();
    assert_eq!(json(&Verdict::NotElf), r#"{"verdict":"not_elf"}"#);
    let v = Verdict::Stripped {
        before: 10,
        after: 4,
    };
    assert_eq!(json(&v), r#"{"verdict":"stripped","before":10,"after":4}"#);
    let v = Verdict::Refused { why: "x".into() };
    assert_eq!(json(&v), r#"{"verdict":"refused","why":"x"}"#);
}

/// MiniDebugInfo (`.gnu_debugdata`, an xz-compressed symbol table) goes with `.symtab` in the
/// default mode and stays in `debug` mode, like `.symtab` (numpy's libgfortran ships one).
#[test]
fn minidebuginfo_goes_with_the_symbol_table() {
    let d = tmp();
    let mut spec = sample(true, true);
    spec.secs
        .push(sec(".gnu_debugdata", SHT_PROGBITS, 0, vec![0xfd; 64], None));
    let input = build(&spec);
    let (v, out) = run(d.path(), "u", &input, Mode::Unneeded);
    assert!(matches!(v, Verdict::Stripped { .. }), "{v:?}");
    assert!(
        !names(&out).contains(&".gnu_debugdata".into()),
        "{:?}",
        names(&out)
    );
    let (v, out) = run(d.path(), "d", &input, Mode::Debug);
    assert!(matches!(v, Verdict::Stripped { .. }), "{v:?}");
    assert!(
        names(&out).contains(&".gnu_debugdata".into()),
        "{:?}",
        names(&out)
    );
}
