//! Thin binary: parse, validate into Settings, run, map the outcome to an exit status
//! (0 ok, 1 finished with failures, 2 usage or fatal error).

// The CLI's own error message (`error: ...` and its `hint:` lines) is printed here, beside the
// exit status it goes with; every other output is a report/ renderer's.
#![allow(clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use venvslim::cli::{Cli, Command};
use venvslim::settings::Settings;
use venvslim::{commands, Status};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Slim(args) => Settings::from_args(args).and_then(|s| commands::slim::run(&s)),
        Command::Strip(args) => commands::strip::run(&args),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Dockerfile(args) => commands::dockerfile::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Rules => commands::rules::run(),
    };
    venvslim::fault::report();
    match result {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::Failures) => ExitCode::from(1),
        // `venvslim ... | head`: the reader left; the work is done, nothing to report.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            print_error(&err);
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `error: outer: inner: cause`, then the other lines of the messages as they are (a
/// workload's output, a traceback), then every `hint:` line from anywhere in the chain.
fn print_error(err: &anyhow::Error) {
    let mut parts = Vec::new();
    let mut details = Vec::new();
    let mut hints = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let mut lines = text.lines();
        if let Some(first) = lines.next() {
            parts.push(first.to_string());
        }
        for l in lines {
            if l.starts_with("hint:") {
                hints.push(l.to_string())
            } else {
                details.push(l.to_string())
            }
        }
    }
    eprintln!("error: {}", parts.join(": "));
    for l in details.iter().chain(&hints) {
        eprintln!("{l}");
    }
}
