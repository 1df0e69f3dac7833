//! venvslim: slim a built Python virtualenv for the final stage of a container image.
//!
//! The pipeline, in one pass each: `settings` checks the command line and `[tool.venvslim]`
//! into one `Settings` before any work; `venv` discovers the layout (pyvenv.cfg, Python version,
//! site-packages); `inventory` walks the tree once, in parallel, into a sorted list; `rules`
//! classify every path (each rule carries its reason and evidence) and the import guard keeps
//! modules kept code imports; `plan` runs the planning passes (the zip selection in `archive`,
//! the hand-off in `handoff`) into sorted actions, pure data, which `--dry-run` prints; `apply`
//! is the only code that writes: it copies what is kept (or removes in place, through a
//! journal), compiles bytecode with the venv's own interpreter, writes the `--zip-pure` archive,
//! the hand-off files and RECORD, and ends with a last pass over the finished tree (dedupe,
//! modes, mtimes); `verify` probes the result and decides what to give back, which apply puts
//! back; `workload` runs the user's `--run` command on the input and the output with a
//! recording hook and turns what it touched into findings for the same repair loop; `report`
//! is the only code that prints.
//!
//! `commands/` holds one file per subcommand (orchestration only); `main.rs` parses the command
//! line and maps a command's `Status` to the exit status. `safepath` is where the venv's strings
//! meet paths. docs/architecture.md draws the layers and says where new code goes.

pub mod apply;
pub mod archive;
pub mod bench;
pub mod breakdown;
pub mod budget;
pub mod bytecode;
pub mod cli;
pub mod commands;
pub mod dists;
pub mod elf;
pub mod error;
pub mod fault;
pub mod handoff;
pub mod imports;
pub mod inventory;
pub mod jsonpath;
pub mod plan;
pub mod progress;
pub mod python;
pub mod record;
pub mod report;
pub mod rules;
pub mod safepath;
pub mod settings;
pub mod venv;
pub mod verify;
pub mod workload;

pub use commands::Status;
