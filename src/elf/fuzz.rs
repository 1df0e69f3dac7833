//! Robustness: mutated real and hand-built files (a deterministic xorshift, no new dependency)
//! must never panic, and every `Stripped` must pass the self-check again; and a manual run over
//! a real corpus of ELF files.

use std::fs;
use std::process::Command;

use super::testelf::{build, patchelf_sample, sample};
use super::tests::fixtures;
use super::{check, is_elf, strip_to, Mode, Verdict};

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(base: &[u8], shoff: usize, rng: &mut Rng) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = match rng.below(10) {
            0..=3 => rng.below(0x200.min(b.len())),
            4..=7 => shoff + rng.below(b.len().saturating_sub(shoff)),
            _ => rng.below(b.len()),
        }
        .min(b.len().saturating_sub(1));
        match rng.below(10) {
            0..=4 => b[at] ^= 1 << rng.below(8),
            5..=6 => b[at] = rng.next() as u8,
            7 => {
                let end = (at + 4).min(b.len());
                b[at..end].fill(0xff)
            }
            8 => b.truncate(at),
            _ => b.extend((0..1 + rng.below(64)).map(|_| rng.next() as u8)),
        }
        if b.is_empty() {
            break;
        }
    }
    b
}

#[test]
#[allow(clippy::print_stdout)] // the verdict counts and self-check refusals, for --nocapture
fn mutations_never_panic_and_every_strip_checks_out() {
    let mut bases = vec![
        build(&sample(true, true)),
        build(&sample(false, false)),
        build(&patchelf_sample(true, true)),
        build(&patchelf_sample(false, false)),
    ];
    let d = fixtures(&["libdbg.so"]);
    if let Some(d) = &d {
        bases.push(fs::read(d.path().join("libdbg.so")).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("m.so"), dir.path().join("m.out"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::BTreeMap::new();
    // More with VENVSLIM_FUZZ_ITERS=100000 (and VENVSLIM_FUZZ_SEED) when changing the rewriter.
    let iters = std::env::var("VENVSLIM_FUZZ_ITERS").map_or(600, |v| v.parse().unwrap());
    if let Ok(seed) = std::env::var("VENVSLIM_FUZZ_SEED") {
        rng = Rng(seed.parse().unwrap());
    }
    for i in 0..iters {
        let base = &bases[i % bases.len()];
        let e = goblin::elf::Elf::parse_header(base).unwrap();
        let input = mutate(base, e.e_shoff as usize, &mut rng);
        fs::write(&src, &input).unwrap();
        let mode = if i % 3 == 2 {
            Mode::Debug
        } else {
            Mode::Unneeded
        };
        let v = strip_to(&src, &dst, mode).unwrap_or_else(|e| panic!("iteration {i}: error {e:#}"));
        assert_eq!(
            fs::read(&src).unwrap(),
            input,
            "iteration {i}: input modified"
        );
        let kind = match &v {
            Verdict::Refused { why } => {
                if why.contains("self-check") {
                    println!("iteration {i} (base {}): {why}", i % bases.len());
                }
                let why: String = why.chars().filter(|c| !c.is_ascii_digit()).collect();
                format!("Refused: {}", why.split([':', '(']).next().unwrap().trim())
            }
            v => format!("{v:?}")
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_string(),
        };
        *seen.entry(kind).or_insert(0) += 1;
        if matches!(v, Verdict::Stripped { .. }) {
            check::verify(&src, &dst).unwrap_or_else(|e| panic!("iteration {i}: {e}"));
            fs::remove_file(&dst).unwrap();
        } else {
            assert!(!dst.exists(), "iteration {i}: {v:?} left output");
        }
    }
    println!("mutation verdicts: {seen:#?}");
    assert!(seen.get("Stripped").copied().unwrap_or(0) > 50, "{seen:?}");
    assert!(
        !seen.keys().any(|k| k.contains("self-check")),
        "the planner let a bad output through to the check: {seen:#?}"
    );
}

/// Every ELF file under `$VENVSLIM_ELF_CORPUS` stripped (Unneeded), checked and loaded; prints
/// totals next to GNU strip. Writes a temporary file beside each one. With `VENVSLIM_ELF_CORPUS_REPLACE=1` the files are then stripped in
/// place (to import the package afterwards). Manual:
/// `VENVSLIM_ELF_CORPUS=/path cargo test --lib elf::fuzz::corpus -- --ignored --nocapture`.
#[test]
#[ignore = "needs VENVSLIM_ELF_CORPUS"]
#[allow(clippy::print_stdout)] // a manual run: its totals and refusals are the result
fn corpus() {
    let Some(root) = std::env::var_os("VENVSLIM_ELF_CORPUS") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (mut files, mut before, mut ours, mut gnu) = (0, 0u64, 0u64, 0u64);
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    for e in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !e.file_type().is_file() || !is_elf(e.path()) {
            continue;
        }
        files += 1;
        let size = e.metadata().unwrap().len();
        before += size;
        // Beside the original, so `$ORIGIN` run paths resolve when it is loaded.
        let name = e.file_name().to_string_lossy();
        let dst = e.path().with_file_name(format!(".{name}.venvslim-corpus"));
        let v = strip_to(e.path(), &dst, Mode::Unneeded).unwrap();
        let kind = match &v {
            Verdict::Stripped { after, .. } => {
                check::verify(e.path(), &dst).unwrap();
                let ok = Command::new("python3")
                    .args(["-c", "import ctypes,sys; ctypes.CDLL(sys.argv[1])"])
                    .arg(&dst)
                    .output()
                    .unwrap();
                let orig = Command::new("python3")
                    .args(["-c", "import ctypes,sys; ctypes.CDLL(sys.argv[1])"])
                    .arg(e.path())
                    .output()
                    .unwrap();
                assert!(
                    ok.status.success() || !orig.status.success(),
                    "{} no longer loads: {}",
                    e.path().display(),
                    String::from_utf8_lossy(&ok.stderr)
                );
                fs::remove_file(&dst).unwrap();
                ours += after;
                "stripped".to_string()
            }
            Verdict::Refused { why } => {
                println!("refused {}: {why}", e.path().display());
                ours += size;
                "refused".into()
            }
            v => {
                ours += size;
                format!("{v:?}")
            }
        };
        *seen.entry(kind).or_default() += 1;
        let g = tmp.path().join("gnu");
        let st = Command::new("/usr/bin/strip")
            .arg("--strip-unneeded")
            .arg("-o")
            .arg(&g)
            .arg(e.path())
            .status();
        gnu += if st.is_ok_and(|s| s.success()) {
            fs::metadata(&g).unwrap().len()
        } else {
            size
        };
        if matches!(v, Verdict::Stripped { .. })
            && std::env::var_os("VENVSLIM_ELF_CORPUS_REPLACE").is_some()
        {
            assert_eq!(super::strip_in_place(e.path(), Mode::Unneeded).unwrap(), v);
        }
    }
    println!("{files} ELF files: {before} bytes -> ours {ours}, GNU strip --strip-unneeded {gnu}; {seen:?}");
}
