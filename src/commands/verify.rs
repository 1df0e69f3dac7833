//! `venvslim verify VENV [--against ORIGINAL]`: probe a tree, compare, report.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use super::Status;
use crate::{cli, report, verify};

/// `venvslim verify VENV [--against ORIGINAL]`.
pub fn run(args: &cli::VerifyArgs) -> Result<Status> {
    let start = Instant::now();
    let opts = verify::Options {
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        read_only: !args.no_read_only,
        deep: args.deep,
    };
    let probe = verify::probe(&args.venv, &opts)?;
    let found = match &args.against {
        Some(original) => verify::regressions(&verify::probe(original, &opts)?, &probe),
        None => verify::problems(&probe),
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let rendered = report::verify::VerifyReport {
        probe: &probe,
        found: &found,
        against: args.against.is_some(),
        wanted_read_only: opts.read_only,
        elapsed: start.elapsed(),
    };
    if args.json {
        rendered.json(&mut lock)?;
    } else {
        rendered.text(&mut lock)?;
    }
    lock.flush()?;
    Ok(if found.is_empty() {
        Status::Ok
    } else {
        Status::Failures
    })
}
