//! Criterion benchmarks of slim's stages on their own, to see which one a change made slower:
//! the inventory walk, planning (rules and the import guard) and ELF rewriting.
//!
//! They need a venv: `target/bench-venvs/web` (from `benches/make_venv.sh web`) when it is
//! there, else `VENVSLIM_BENCH_VENV`, else the small fixture venv of
//! `fixtures/make_fixture_venv.py` built into a temp dir. The ELF case strips the largest ELF file
//! of that venv under 64 MiB (or the venv's interpreter when it has none) into a temp file.
//! Run with `cargo bench --bench stages`; `cargo test` never builds them.

use std::path::{Path, PathBuf};

use clap::Parser;
use criterion::{criterion_main, BatchSize, Criterion};
use venvslim::cli::{Cli, Command};
use venvslim::inventory::Inventory;
use venvslim::plan::Plan;
use venvslim::settings::Settings;
use venvslim::venv::Venv;

/// The venv to measure on, and the temp dir holding it when it is the fixture.
fn bench_venv() -> (PathBuf, Option<tempfile::TempDir>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let web = root.join("target/bench-venvs/web");
    if let Some(v) = std::env::var_os("VENVSLIM_BENCH_VENV") {
        return (PathBuf::from(v), None);
    }
    if web.join("pyvenv.cfg").is_file() {
        return (web, None);
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let venv = tmp.path().join("venv");
    let ok = std::process::Command::new("python3")
        .arg(root.join("fixtures/make_fixture_venv.py"))
        .arg(&venv)
        .status()
        .expect("run python3")
        .success();
    assert!(ok, "make_fixture_venv.py failed");
    (venv, Some(tmp))
}

fn settings(venv: &Path) -> Settings {
    let cli = Cli::parse_from([
        "venvslim".as_ref(),
        "slim".as_ref(),
        venv.as_os_str(),
        "-n".as_ref(),
    ]);
    let Command::Slim(args) = cli.command else {
        unreachable!("parsed a slim command")
    };
    Settings::from_args(args).expect("settings")
}

/// The largest ELF file of the venv under 64 MiB, else its interpreter.
fn elf_sample(venv: &Venv, inv: &Inventory) -> PathBuf {
    inv.entries
        .iter()
        .filter(|e| e.is_file() && e.size < 64 << 20)
        .map(|e| venv.root.join(&e.path))
        .filter(|p| venvslim::elf::is_elf(p))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .or_else(|| {
            venv.interpreter()
                .ok()
                .flatten()
                .and_then(|p| std::fs::canonicalize(p).ok())
        })
        .expect("an ELF file to strip")
}

// Criterion reports on stdout; which venv and ELF file were measured goes to stderr beside it.
#[allow(clippy::print_stderr)]
fn stages(c: &mut Criterion) {
    let (path, _tmp) = bench_venv();
    let settings = settings(&path);
    let venv = Venv::discover(&path, None).expect("a venv");
    let scan = || Inventory::scan(&venv.root, &venv.site_packages).expect("inventory");
    let inv = scan();
    eprintln!(
        "venv {}: {} entries",
        venv.root.display(),
        inv.entries.len()
    );

    c.bench_function("inventory walk", |b| b.iter(scan));
    c.bench_function("plan (rules + import guard)", |b| {
        b.iter_batched(
            scan,
            |inv| Plan::build(venv.clone(), &settings, inv),
            BatchSize::LargeInput,
        )
    });

    let elf = elf_sample(&venv, &inv);
    let out = tempfile::tempdir().expect("temp dir");
    let dst = out.path().join("stripped");
    eprintln!(
        "ELF sample: {} ({} bytes)",
        elf.display(),
        std::fs::metadata(&elf).map(|m| m.len()).unwrap_or(0)
    );
    c.bench_function("ELF strip_to (unneeded)", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&dst);
            venvslim::elf::strip_to(&elf, &dst, venvslim::elf::Mode::Unneeded).expect("strip")
        })
    });
}

/// The group criterion runs; in a private module because the function `criterion_group!`
/// generates is `pub` and cannot carry a doc comment.
mod group {
    use criterion::{criterion_group, Criterion};

    criterion_group! {
        name = benches;
        config = Criterion::default().sample_size(10);
        targets = super::stages
    }
}
criterion_main!(group::benches);
