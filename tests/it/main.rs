//! The integration tests: one test binary, one module per area, all running the real `venvslim`
//! binary through `util::venvslim()` (or, for `verify`, the library on real trees). One binary
//! links once and shares one `util`, so every helper has one copy and every failure prints the
//! same account of what ran (see `util/cmd.rs`).
//!
//! - `slim`: `slim` on the small hand-made fixture venv, a module per area: the default run and
//!   the runs that must agree with it, `--bytecode`, `--dist-info`, `--keep`/`--remove`/
//!   `--keep-package`, `[tool.venvslim]`, usage errors, odd inputs, snapshots of the text output.
//! - `zip`, `handoff`, `elf`, `bench`, `verify`: one feature each, on hand-made trees;
//!   `treemap`: the kept-bytes breakdown adds up, and its SVG renders (rsvg-convert);
//!   `zip_reads`: how `--zip-pure` judges packages that read files, on nbformat and `ziptrap`.
//! - `safety`: the promises of docs/safety.md under attack and under faults.
//! - `real_*`: real venvs built with pip from the locks in `tests/venvs/`, cached in
//!   `target/test-venvs/` (the first run builds them, which needs PyPI); Linux and root for the
//!   read-only mount namespace, else a SKIP note. `real_uv` and `real_poetry_pdm` make venvs of
//!   the web lock with uv, Poetry and PDM instead, tools installed from PyPI into
//!   `target/tools/`.

// A test that cannot run here (no root, no PyPI) says so on stderr, which cargo test shows.
#![allow(clippy::print_stderr)]

mod util;

mod bench;
mod elf;
mod handoff;
mod prune;
mod real_elf;
mod real_handoff;
mod real_poetry_pdm;
mod real_prune;
mod real_run;
mod real_target;
mod real_uv;
mod real_venvs;
mod real_verify;
mod real_zip;
mod recipes;
mod run;
mod run_attacks;
mod safety;
mod slim;
mod treemap;
mod verify;
mod zip;
mod zip_reads;
