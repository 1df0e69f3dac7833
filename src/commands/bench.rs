//! `venvslim bench VENV`: compare strategies, print the table (or JSON), write the charts.

use std::io::Write;

use anyhow::Result;

use super::Status;
use crate::{bench, cli, progress, report, settings};

/// `venvslim bench VENV`: compare strategies; print the table (or JSON), write the chart.
pub fn run(args: &cli::BenchArgs) -> Result<Status> {
    // The charts are outputs too: resolved and checked before the bench runs.
    let chart = |flag: &str, p: &Option<std::path::PathBuf>| {
        p.as_deref()
            .map(|p| settings::report_file(flag, p, &args.venv))
            .transpose()
    };
    let (svg, html) = (chart("--svg", &args.svg)?, chart("--html", &args.html)?);
    let progress = progress::Progress::for_terminal(args.json);
    let result = bench::run(args, &progress);
    progress.finish();
    let result = result?;
    let write = crate::apply::scratch::write_report_file;
    if let Some(p) = &svg {
        write(p, &|f| report::bench::svg(f, &result))?;
    }
    if let Some(p) = &html {
        write(p, &|f| report::bench::html(f, &result))?;
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if args.json {
        report::bench::json(&mut lock, &result)?
    } else {
        report::bench::text(&mut lock, &result)?
    }
    lock.flush()?;
    Ok(if result.strategies.iter().any(|s| s.error.is_some()) {
        Status::Failures
    } else {
        Status::Ok
    })
}
