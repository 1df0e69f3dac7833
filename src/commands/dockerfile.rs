//! `venvslim dockerfile`: print a multi-stage Dockerfile for the options given.

use anyhow::Result;

use super::Status;
use crate::settings::file::Combine;
use crate::{cli, handoff, report, settings};

/// `venvslim dockerfile`: print the multi-stage Dockerfile for these options.
pub fn run(given: &cli::DockerfileArgs) -> Result<Status> {
    // `[tool.venvslim]` goes into the printed slim line, where the reader of the file sees it.
    let file = settings::file::load(given.config.as_deref())?;
    let args = &cli::DockerfileArgs {
        config: None,
        options: given.options.clone().combine(file),
        ..given.clone()
    };
    settings::check_dockerfile_options(&args.options)?;
    handoff::dockerfile::check(args)?;
    let stdout = std::io::stdout();
    report::dockerfile::text(stdout.lock(), &handoff::dockerfile::render(args))?;
    Ok(Status::Ok)
}
