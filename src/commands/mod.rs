//! One file per subcommand: each takes its validated arguments, calls the modules that do the
//! work in order, hands the result to its renderer in `report/`, and says how the run ended.
//! Nothing here decides, writes or formats on its own.

pub mod bench;
pub mod dockerfile;
pub mod rules;
pub mod slim;
pub mod strip;
pub mod verify;

/// What a run ended with, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, nothing failed (exit 0).
    Ok,
    /// Finished, but some paths failed or a check found breakage (listed in the report; exit 1).
    Failures,
}
