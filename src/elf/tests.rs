//! Tests on real libraries built by `fixtures/elf/build.sh` (gcc, objcopy, patchelf), loaded
//! afterwards with Python's ctypes; plus a mutation test that flips and cuts bytes of real and
//! hand-built files and demands no panic and a passing self-check for every `Stripped`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{check, is_elf, strip_in_place, strip_to, Mode, Verdict};

/// Build the named fixtures into a fresh temp dir; `None` (with a loud message) without gcc.
// A skipped test says so on stderr, loudly, instead of passing in silence.
#[allow(clippy::print_stderr)]
pub(super) fn fixtures(names: &[&str]) -> Option<tempfile::TempDir> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("\n*** SKIPPED: gcc not found, ELF fixture tests did not run ***\n");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/elf/build.sh");
    let st = Command::new("bash")
        .arg(script)
        .arg(dir.path())
        .args(names)
        .status()
        .unwrap();
    assert!(st.success(), "fixtures/elf/build.sh failed");
    Some(dir)
}

// A skipped test says so on stderr, loudly, instead of passing in silence.
#[allow(clippy::print_stderr)]
fn present(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = dir.join(name);
    if !p.exists() {
        eprintln!("\n*** SKIPPED: fixture {name} was not built (see build.sh's message) ***\n");
    }
    p.exists().then_some(p)
}

fn tool(cmd: &str, args: &[&str], path: &Path) -> Option<String> {
    let out = Command::new(cmd).args(args).arg(path).output().ok()?;
    assert!(
        out.status.success(),
        "{cmd} {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `answer()` and `sum_table()` through ctypes, as Python imports an extension.
fn load(path: &Path) -> Option<String> {
    let code = "import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); print(l.answer(), l.sum_table())";
    tool("python3", &["-c", code], path).map(|s| s.trim().to_string())
}

/// The loaded library answers correctly (skipped loudly without python3).
// A skipped test says so on stderr, loudly, instead of passing in silence.
#[allow(clippy::print_stderr)]
fn assert_loads(path: &Path) {
    match load(path) {
        Some(got) => assert_eq!(got, "42 10", "{}", path.display()),
        None => eprintln!(
            "\n*** SKIPPED: python3 not found, {} not loaded ***\n",
            path.display()
        ),
    }
}

fn names(path: &Path) -> Vec<String> {
    let bytes = fs::read(path).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    elf.section_headers
        .iter()
        .map(|s| elf.shdr_strtab.get_at(s.sh_name).unwrap_or("").to_string())
        .collect()
}

/// `readelf -lW` output with the Offset column of each program header blanked.
fn without_offsets(listing: &str) -> String {
    listing
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 2 && f[1].starts_with("0x") {
                f[1] = "-";
            }
            f.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Strip `name` to `name.out` and check what every stripped file must satisfy.
fn strip_ok(dir: &Path, name: &str, mode: Mode) -> (PathBuf, u64, u64) {
    let src = dir.join(name);
    let dst = dir.join(format!("{name}.{mode:?}.out"));
    let before = fs::read(&src).unwrap();
    let v = strip_to(&src, &dst, mode).unwrap();
    let Verdict::Stripped {
        before: b,
        after: a,
    } = v
    else {
        panic!("{name} {mode:?}: {v:?}")
    };
    assert_eq!(fs::read(&src).unwrap(), before, "strip_to modified {name}");
    assert_eq!(
        (b, a),
        (before.len() as u64, fs::metadata(&dst).unwrap().len())
    );
    check::verify(&src, &dst).unwrap();
    // binutils' own view: the same segments, flags, addresses and sizes, and the same sections
    // in each (only the file offsets of trailing patchelf segments may move down).
    if let (Some(x), Some(y)) = (
        tool("readelf", &["-lW"], &src),
        tool("readelf", &["-lW"], &dst),
    ) {
        assert_eq!(
            without_offsets(&x),
            without_offsets(&y),
            "{name}: readelf -lW differs"
        );
    }
    let n = names(&dst);
    assert!(!n.iter().any(|s| s.starts_with(".debug")), "{name}: {n:?}");
    let has_symtab = n.iter().any(|s| s == ".symtab");
    assert_eq!(
        has_symtab,
        mode == Mode::Debug && names(&src).contains(&".symtab".into()),
        "{n:?}"
    );
    for keep in [".dynsym", ".dynstr", ".shstrtab", ".note.gnu.build-id"] {
        assert_eq!(
            n.contains(&keep.into()),
            names(&src).contains(&keep.into()),
            "{name}: {keep}"
        );
    }
    (dst, b, a)
}

#[test]
fn debug_library_both_modes_still_loads() {
    let Some(d) = fixtures(&["libdbg.so"]) else {
        return;
    };
    assert_loads(&d.path().join("libdbg.so"));
    for mode in [Mode::Unneeded, Mode::Debug] {
        let (dst, before, after) = strip_ok(d.path(), "libdbg.so", mode);
        // Most of this tiny library is page padding; the DWARF is ~1.5 KB, the symtab ~1 KB.
        let want_saved = if mode == Mode::Unneeded { 2000 } else { 1000 };
        assert!(
            before - after >= want_saved,
            "{mode:?}: {before} -> {after}"
        );
        assert_loads(&dst);
    }
}

#[test]
fn symtab_only_and_already_stripped() {
    let Some(d) = fixtures(&["libplain.so", "libstripped.so"]) else {
        return;
    };
    let plain = d.path().join("libplain.so");
    assert_eq!(
        strip_to(&plain, &d.path().join("x"), Mode::Debug).unwrap(),
        Verdict::NothingToStrip
    );
    let (dst, ..) = strip_ok(d.path(), "libplain.so", Mode::Unneeded);
    assert_loads(&dst);
    for mode in [Mode::Unneeded, Mode::Debug] {
        let v = strip_to(&d.path().join("libstripped.so"), &d.path().join("y"), mode).unwrap();
        assert_eq!(v, Verdict::NothingToStrip);
    }
    assert!(!d.path().join("x").exists() && !d.path().join("y").exists());
}

#[test]
fn debuglink_and_build_id_survive() {
    let Some(d) = fixtures(&["libdebuglink.so"]) else {
        return;
    };
    let (dst, ..) = strip_ok(d.path(), "libdebuglink.so", Mode::Unneeded);
    assert!(names(&dst).contains(&".gnu_debuglink".into()));
    let id = |p: &Path| {
        tool("readelf", &["-n"], p).map(|s| {
            s.lines()
                .find(|l| l.contains("Build ID"))
                .map(str::to_string)
        })
    };
    assert_eq!(id(&dst), id(&d.path().join("libdebuglink.so")));
    let link = |p: &Path| tool("readelf", &["-p", ".gnu_debuglink"], p);
    assert_eq!(link(&dst), link(&d.path().join("libdebuglink.so")));
    assert_loads(&dst);
}

#[test]
fn thirty_two_bit() {
    let Some(d) = fixtures(&["lib32.so"]) else {
        return;
    };
    if present(d.path(), "lib32.so").is_none() {
        return;
    }
    let (_, before, after) = strip_ok(d.path(), "lib32.so", Mode::Unneeded);
    assert!(after < before);
}

#[test]
fn patchelf_layout_still_loads() {
    let Some(d) = fixtures(&["libpatchelf.so"]) else {
        return;
    };
    let Some(src) = present(d.path(), "libpatchelf.so") else {
        return;
    };
    let (dst, before, after) = strip_ok(d.path(), "libpatchelf.so", Mode::Unneeded);
    // patchelf's segment sits after the debug sections: it moves down by whole pages.
    assert!(after + 4096 <= before, "{before} -> {after}");
    assert_loads(&dst);
    assert_loads(&src);
}

#[test]
fn executable_still_runs() {
    let Some(d) = fixtures(&["prog"]) else { return };
    let (dst, ..) = strip_ok(d.path(), "prog", Mode::Unneeded);
    let out = Command::new(&dst).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
}

#[test]
fn not_elf_object_text_truncated_and_trailing_data() {
    let Some(d) = fixtures(&["libdbg.so", "answer.o"]) else {
        return;
    };
    let p = |n: &str| d.path().join(n);
    let lib = fs::read(p("libdbg.so")).unwrap();
    fs::write(p("notes.so.txt"), "not an ELF file\n").unwrap();
    fs::write(p("short.so"), &lib[..30]).unwrap();
    for n in ["answer.o", "notes.so.txt", "short.so"] {
        assert_eq!(
            strip_to(&p(n), &p("out"), Mode::Unneeded).unwrap(),
            Verdict::NotElf,
            "{n}"
        );
    }
    assert!(!is_elf(&p("answer.o")) && !is_elf(&p("notes.so.txt")));
    assert!(
        is_elf(&p("short.so")),
        "is_elf reads only the magic and e_type"
    );
    assert!(is_elf(&p("libdbg.so")) && !is_elf(&p("missing")) && !is_elf(d.path()));
    fs::write(p("half.so"), &lib[..lib.len() / 2]).unwrap();
    let v = strip_to(&p("half.so"), &p("out"), Mode::Unneeded).unwrap();
    assert!(matches!(v, Verdict::Refused { .. }), "{v:?}");
    let mut signed = lib.clone();
    signed.extend_from_slice(b"-----BEGIN SIGNATURE-----");
    fs::write(p("signed.so"), &signed).unwrap();
    let v = strip_to(&p("signed.so"), &p("out"), Mode::Unneeded).unwrap();
    assert!(
        matches!(&v, Verdict::Refused { why } if why.contains("unknown data")),
        "{v:?}"
    );
    assert!(!p("out").exists());
    assert!(
        strip_to(&p("libdbg.so"), &p("libdbg.so"), Mode::Unneeded).is_err(),
        "dst == src"
    );
    assert_eq!(fs::read(p("libdbg.so")).unwrap(), lib);
}

#[test]
fn in_place_refuses_fips_and_symlinks() {
    let Some(d) = fixtures(&["libdbg.so"]) else {
        return;
    };
    let lib = d.path().join("libdbg.so");
    let bytes = fs::read(&lib).unwrap();
    for sig in [".libdbg.so.hmac", "libdbg.so.hmac", "libdbg.chk"] {
        let s = d.path().join(sig);
        fs::write(&s, "x").unwrap();
        let v = strip_in_place(&lib, Mode::Unneeded).unwrap();
        assert!(
            matches!(&v, Verdict::Refused { why } if why.contains("FIPS")),
            "{sig}: {v:?}"
        );
        fs::remove_file(s).unwrap();
    }
    let link = d.path().join("link.so");
    std::os::unix::fs::symlink(&lib, &link).unwrap();
    assert!(matches!(
        strip_in_place(&link, Mode::Unneeded).unwrap(),
        Verdict::Refused { .. }
    ));
    assert_eq!(fs::read(&lib).unwrap(), bytes);
}

#[test]
fn in_place_keeps_metadata_and_breaks_hardlinks() {
    let Some(d) = fixtures(&["libdbg.so"]) else {
        return;
    };
    let (a, b) = (d.path().join("libdbg.so"), d.path().join("cache-copy.so"));
    fs::hard_link(&a, &b).unwrap();
    let bytes = fs::read(&a).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&a, fs::Permissions::from_mode(0o751)).unwrap();
    let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    filetime::set_file_mtime(&a, old).unwrap();
    let before = fs::metadata(&a).unwrap();
    let v = strip_in_place(&a, Mode::Unneeded).unwrap();
    assert!(matches!(v, Verdict::Stripped { .. }), "{v:?}");
    let after = fs::metadata(&a).unwrap();
    assert_ne!(after.ino(), before.ino());
    assert_eq!(
        (after.mode(), after.uid(), after.gid()),
        (before.mode(), before.uid(), before.gid())
    );
    assert_eq!(after.mtime(), 1_500_000_000);
    assert_eq!(fs::metadata(&b).unwrap().ino(), before.ino());
    assert_eq!(
        fs::read(&b).unwrap(),
        bytes,
        "the other link keeps the old bytes"
    );
    assert!(!d.path().join(".libdbg.so.venvslim-tmp").exists());
    assert_loads(&a);
    assert_eq!(
        strip_in_place(&a, Mode::Unneeded).unwrap(),
        Verdict::NothingToStrip
    );
}

fn gzip_len(path: &Path) -> u64 {
    let out = Command::new("gzip").args(["-9", "-c"]).arg(path).output();
    out.map_or(0, |o| o.stdout.len() as u64)
}

/// Not an assertion on sizes: prints ours next to GNU strip (`cargo test --lib elf sizes -- --nocapture`).
#[test]
#[allow(clippy::print_stdout)] // the printed table is what this test is for
fn sizes_next_to_gnu_strip() {
    let Some(d) = fixtures(&[]) else { return };
    let gnu = Path::new("/usr/bin/strip").exists();
    println!(
        "\n{:<16} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}  gnu-loads",
        "fixture", "before", "unneeded", "debug", "gnu-unn", "gnu-dbg", "gz-ours", "gz-gnu"
    );
    for name in [
        "libdbg.so",
        "libplain.so",
        "libdebuglink.so",
        "lib32.so",
        "libpatchelf.so",
        "prog",
    ] {
        let src = d.path().join(name);
        if !src.exists() {
            continue;
        }
        let ours = |mode| {
            let dst = d.path().join(format!("{name}.{mode:?}"));
            match strip_to(&src, &dst, mode).unwrap() {
                Verdict::Stripped { after, .. } => (after, dst),
                Verdict::NothingToStrip => (fs::metadata(&src).unwrap().len(), src.clone()),
                v => panic!("{name}: {v:?}"),
            }
        };
        let ((unn, unn_path), (dbg, _)) = (ours(Mode::Unneeded), ours(Mode::Debug));
        let gnu_run = |flag: &str| {
            let dst = d.path().join(format!("{name}.gnu{flag}"));
            let ok = gnu
                && Command::new("/usr/bin/strip")
                    .arg(flag)
                    .arg("-o")
                    .arg(&dst)
                    .arg(&src)
                    .status()
                    .is_ok_and(|s| s.success());
            ok.then(|| (fs::metadata(&dst).unwrap().len(), dst))
        };
        let (gu, gd) = (gnu_run("--strip-unneeded"), gnu_run("--strip-debug"));
        let size =
            |g: &Option<(u64, PathBuf)>| g.as_ref().map_or("-".into(), |(s, _)| s.to_string());
        let loads = match (&gu, name.starts_with("lib") && name != "lib32.so") {
            (Some((_, p)), true) => Command::new("python3")
                .args(["-c", "import ctypes,sys; ctypes.CDLL(sys.argv[1])"])
                .arg(p)
                .output()
                .map_or("?".into(), |o| {
                    if o.status.success() {
                        "yes".to_string()
                    } else {
                        format!(
                            "NO: {}",
                            String::from_utf8_lossy(&o.stderr)
                                .lines()
                                .last()
                                .unwrap_or("")
                        )
                    }
                }),
            _ => "-".into(),
        };
        let gz_gnu = gu.as_ref().map_or(0, |(_, p)| gzip_len(p));
        println!(
            "{name:<16} {:>7} {unn:>9} {dbg:>9} {:>9} {:>9} {:>8} {gz_gnu:>8}  {loads}",
            fs::metadata(&src).unwrap().len(),
            size(&gu),
            size(&gd),
            gzip_len(&unn_path)
        );
    }
}
