//! `venvslim dockerfile`: print a multi-stage Dockerfile for the options given.

use anyhow::Result;

use super::Status;
use crate::{cli, handoff, report, settings};

/// `venvslim dockerfile`: print the multi-stage Dockerfile for these options.
pub fn run(args: &cli::DockerfileArgs) -> Result<Status> {
    settings::check_dockerfile_options(&args.options)?;
    let stdout = std::io::stdout();
    report::dockerfile::text(stdout.lock(), &handoff::dockerfile::render(args))?;
    Ok(Status::Ok)
}
