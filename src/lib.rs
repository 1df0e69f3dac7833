//! venvslim: slim a built Python virtualenv for the final stage of a container image.
//!
//! The pipeline, in one pass each: `venv` discovers the layout (pyvenv.cfg, Python version,
//! site-packages); `inventory` walks the tree once, in parallel, into a sorted list; `rules`
//! classify every path (each rule carries its reason and evidence) and the import guard rescues
//! modules kept code imports; `plan` turns verdicts into sorted actions (pure data, which
//! `--dry-run` prints); `apply` is the only code that writes: it copies what is kept (or removes
//! in place), compiles bytecode with the venv's own interpreter, writes the `--zip-pure` archive
//! (`archive`: what goes in is decided in the plan), rewrites RECORD; `report` is the only code
//! that prints. With the hand-off options, `handoff` adds to the plan what the final image needs
//! (relocated scripts, pyvenv.cfg and links, licences, an SBOM), and apply ends with a last pass
//! over the finished tree (dedupe, normalised modes, fixed mtimes).
//!
//! `commands/` holds one file per subcommand (orchestration only); `main.rs` parses the command
//! line and maps a command's `Status` to the exit status. docs/architecture.md draws the layers.
//!
//! `safepath` is where the venv's strings meet paths (checked names, joins and link targets,
//! reads that never follow a link) and where output paths are resolved, once
//! (`settings::output_path`).

pub mod apply;
pub mod archive;
pub mod bench;
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

pub use commands::Status;
